// The control API (api/control_api.h) on real in-memory ports: the create
// request's reader (endpoint, model, variant, instances, keep_previous, policy
// on top of the endpoint's), the actions, the listings and their queries, auth.
//
// Input: up to 8 requests separated by NUL bytes, each
//   METHOD SP TARGET [SP AUTHORIZATION] LF BODY
// (tokens: "Bearer admin-token", "Bearer reader-token"), run against a fresh
// controller, then three controller ticks a minute apart. Invariants:
//  - no request throws, none is answered 500 (the ports here do not fail);
//  - every JSON answer is JSON;
//  - a created deployment (201) reads back as a deployment with a weight in
//    [0, 1] and a policy that passes ValidatePolicy;
//  - after the ticks every deployment's weight is in [0, 1] and the endpoint's
//    weights sum to 1.
#include <boost/json/value.hpp>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "api/control_api.h"
#include "codec/domain_json.h"
#include "controller/controller.h"
#include "core/clock.h"
#include "core/policy.h"
#include "core/testing/memory_deployment_store.h"
#include "core/testing/virtual_traffic_control.h"
#include "fuzz_check.h"
#include "http/message.h"

namespace {

namespace core = mlcanary::core;
namespace http = mlcanary::http;
using namespace std::chrono_literals;

// A healthy canary next to production, whatever the window.
class SteadyMetrics final : public core::MetricsSource {
 public:
  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view endpoint,
                                                                    core::Timestamp,
                                                                    core::Timestamp) override {
    std::map<std::string, core::WindowMetrics> out;
    // Every variant the endpoint has gets the same healthy numbers.
    auto e = traffic->DescribeEndpoint(endpoint);
    if (!e) return std::unexpected(e.error());
    for (const core::Variant& v : e->variants) {
      out[v.name] =
          core::WindowMetrics{.invocations = 1000, .p50_ms = 5, .p90_ms = 8, .p99_ms = 10};
    }
    return out;
  }
  core::TrafficControl* traffic = nullptr;
};

class NoNotifier final : public core::Notifier {
 public:
  void Notify(const core::Deployment&, const core::DeploymentEvent&) override {}
};

core::Endpoint MakeEndpoint(std::string name) {
  core::Endpoint e;
  e.name = std::move(name);
  e.variants.push_back({.name = "production",
                        .weight = 1.0,
                        .instances = 2,
                        .model = {.kind = core::ModelKind::kXgboost, .path = "models/v1.ubj"}});
  return e;
}

bool IsJsonAnswer(const http::Response& r) {
  return r.content_type.starts_with("application/json");
}

void CheckWeights(core::TrafficControl& traffic, core::DeploymentStore& store) {
  auto list = store.List(core::DeploymentFilter{});
  FUZZ_CHECK(list.has_value(), "List: %s", list.error().ToString().c_str());
  for (const core::Deployment& d : *list) {
    FUZZ_CHECK(d.canary_weight >= 0 && d.canary_weight <= 1, "deployment %s at weight %g",
               d.id.c_str(), d.canary_weight);
  }
  for (const char* name : {"recs", "search"}) {
    auto e = traffic.DescribeEndpoint(name);
    FUZZ_CHECK(e.has_value(), "DescribeEndpoint: %s", e.error().ToString().c_str());
    double sum = 0;
    for (const core::Variant& v : e->variants) {
      FUZZ_CHECK(v.weight >= 0 && v.weight <= 1, "%s variant %s at weight %g", name, v.name.c_str(),
                 v.weight);
      sum += v.weight;
    }
    FUZZ_CHECK(std::fabs(sum - 1) < 1e-6, "%s weights sum to %g", name, sum);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  core::ManualClock clock(core::Timestamp(std::chrono::seconds(1'700'000'000)));
  mlcanary::core::testing::VirtualTrafficControl traffic;
  mlcanary::core::testing::MemoryDeploymentStore store;
  SteadyMetrics metrics;
  metrics.traffic = &traffic;
  NoNotifier notifier;
  mlcanary::controller::Controller controller(
      mlcanary::controller::Ports{traffic, metrics, store, notifier, clock});
  for (const char* name : {"recs", "search"}) {
    traffic.AddEndpoint(MakeEndpoint(name));
    FUZZ_CHECK(store.SaveEndpoint(MakeEndpoint(name)).has_value(), "SaveEndpoint");
  }
  mlcanary::api::ApiOptions options;
  options.admin_token = "admin-token";
  options.reader_token = "reader-token";
  core::Policy recs_policy;
  recs_policy.bake = 2min;
  recs_policy.steps = {0.2, 0.5, 1.0};
  options.endpoint_policies["recs"] = recs_policy;
  int next_id = 0;
  auto api = mlcanary::api::ControlApi::Create(
      options, mlcanary::api::ApiDependencies{
                   .controller = controller,
                   .store = store,
                   .traffic = traffic,
                   .new_deployment_id = [&next_id] { return "dep-" + std::to_string(++next_id); },
                   .metrics_text = [] { return std::string("up 1\n"); },
               });
  FUZZ_CHECK(api.has_value(), "ControlApi::Create: %s", api.error().ToString().c_str());

  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < 8 && !input.empty(); ++n) {
    const std::size_t nul = input.find('\0');
    std::string_view one = input.substr(0, nul);
    input = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

    const std::size_t lf = one.find('\n');
    const std::string_view line = one.substr(0, lf);
    http::Request request;
    request.body = lf == std::string_view::npos ? std::string() : std::string(one.substr(lf + 1));
    const std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) continue;
    const std::size_t sp2 = line.find(' ', sp1 + 1);
    request.method = std::string(line.substr(0, sp1));
    request.target = std::string(line.substr(
        sp1 + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1));
    if (sp2 != std::string_view::npos) request.headers["Authorization"] = line.substr(sp2 + 1);
    request.headers["Content-Type"] = "application/json";
    // The server answers a bad target itself (400) before the API sees it.
    if (!http::ParseTarget(request.target, request.path, request.query)) continue;

    const http::Response r = (*api)->Handle(request);
    FUZZ_CHECK(r.status != 500, "500 for %s %s: %s", request.method.c_str(), request.target.c_str(),
               r.body.c_str());
    FUZZ_CHECK(r.status >= 200 && r.status < 500, "status %d", r.status);
    if (IsJsonAnswer(r)) {
      const auto parsed = mlcanary::codec::ParseJson(r.body, "answer");
      FUZZ_CHECK(parsed.has_value(), "answer is not JSON: %s", r.body.c_str());
      if (r.status == 201) {
        const auto d = mlcanary::codec::ParseDeployment(*parsed, "answer");
        FUZZ_CHECK(d.has_value(), "201 answer is not a deployment: %s",
                   d.error().ToString().c_str());
        FUZZ_CHECK(d->canary_weight >= 0 && d->canary_weight <= 1, "created at weight %g",
                   d->canary_weight);
        FUZZ_CHECK(core::ValidatePolicy(d->policy).has_value(), "created with an invalid policy");
      }
    }
  }

  for (int tick = 0; tick < 3; ++tick) {
    clock.Advance(1min);
    (void)controller.Tick();
  }
  CheckWeights(traffic, store);
  return 0;
}
