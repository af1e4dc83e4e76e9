// The control API through a real HttpServer on port 0, with a real client and
// real in-memory ports (virtual traffic control, memory store, controller).
#include "api/control_api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "api/internal/list_query.h"
#include "controller/controller.h"
#include "core/clock.h"
#include "core/testing/full_disk_store.h"
#include "core/testing/memory_deployment_store.h"
#include "core/testing/virtual_traffic_control.h"
#include "http/http_server.h"
#include "http/testing/test_client.h"

namespace mlcanary::api {
namespace {

namespace json = boost::json;
using http::testing::ClientResponse;
using http::testing::TestClient;
using namespace std::chrono_literals;

constexpr std::string_view kAdminToken = "admin-secret-0123456789";
constexpr std::string_view kReaderToken = "reader-secret-987654321";

// Metrics of a healthy canary next to production.
class TestMetricsSource final : public core::MetricsSource {
 public:
  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view,
                                                                    core::Timestamp,
                                                                    core::Timestamp) override {
    core::WindowMetrics production{.invocations = 900, .p50_ms = 10, .p90_ms = 20, .p99_ms = 40};
    core::WindowMetrics canary{.invocations = 150, .errors_5xx = 1, .p99_ms = 45};
    return std::map<std::string, core::WindowMetrics>{{"production", production},
                                                      {"canary-v2", canary}};
  }
};

class CountingNotifier final : public core::Notifier {
 public:
  void Notify(const core::Deployment&, const core::DeploymentEvent&) override { ++count; }
  std::atomic<int> count{0};
};

using core::testing::FullDiskStore;

core::Endpoint MakeEndpoint(std::string name) {
  core::Endpoint e;
  e.name = std::move(name);
  e.variants.push_back({.name = "production",
                        .weight = 1.0,
                        .instances = 2,
                        .model = {.kind = core::ModelKind::kXgboost, .path = "models/v1.json"}});
  return e;
}

std::string CreateBody(std::string_view endpoint, std::string_view extra = "") {
  std::string body =
      R"({"endpoint":")" + std::string(endpoint) +
      R"(","model":{"kind":"xgboost","path":"models/v2.json"},"variant":"canary-v2")";
  if (!extra.empty()) body += "," + std::string(extra);
  return body + "}";
}

json::value Json(const ClientResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  return v;
}

std::string ErrorCode(const ClientResponse& r) {
  json::value v = Json(r);
  if (!v.is_object() || !v.get_object().contains("error")) return "<no error object>";
  return json::value_to<std::string>(v.at("error").at("code"));
}

std::string ErrorMessage(const ClientResponse& r) {
  return json::value_to<std::string>(Json(r).at("error").at("message"));
}

class ControlApiTest : public ::testing::Test {
 protected:
  ControlApiTest()
      : clock_(core::Timestamp(std::chrono::seconds(1'700'000'000))),
        controller_(controller::Ports{traffic_, metrics_, store_, notifier_, clock_}) {
    for (const char* name : {"recs", "search"}) {
      traffic_.AddEndpoint(MakeEndpoint(name));
      EXPECT_TRUE(store_.SaveEndpoint(MakeEndpoint(name)));
    }
  }

  ~ControlApiTest() override {
    if (server_) server_->Shutdown();
  }

  ApiOptions DefaultOptions() {
    ApiOptions options;
    options.admin_token = kAdminToken;
    options.admin_name = "alice";
    options.reader_token = kReaderToken;
    core::Policy recs_policy;
    recs_policy.bake = 2s;
    recs_policy.interval = 1s;
    options.endpoint_policies["recs"] = recs_policy;
    return options;
  }

  void Start(ApiOptions options, std::size_t max_body_bytes = 64 * 1024) {
    ApiDependencies deps{
        .controller = controller_,
        .store = store_,
        .traffic = traffic_,
        .new_deployment_id = [this] { return "dep-" + std::to_string(++next_id_); },
        .metrics_text = [] { return std::string("# TYPE up gauge\nup 1\n"); },
    };
    auto api = ControlApi::Create(std::move(options), deps);
    ASSERT_TRUE(api) << api.error().ToString();
    api_ = std::move(*api);
    http::ServerOptions server_options;
    server_options.threads = 4;
    server_options.max_body_bytes = max_body_bytes;
    server_options.name = "control-api";
    server_options.log = [this](http::LogLevel, std::string_view line) {
      std::lock_guard lock(log_mu_);
      log_ += std::string(line) + "\n";
    };
    server_ = std::make_unique<http::HttpServer>(server_options, api_->handler());
    ASSERT_TRUE(server_->Start());
    client_ = std::make_unique<TestClient>(server_->port());
  }

  void SetUp() override { Start(DefaultOptions()); }

  ClientResponse Call(std::string_view method, std::string_view target, std::string_view body = {},
                      std::string_view token = kAdminToken,
                      std::string_view content_type = "application/json") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + std::string(token));
    if (!body.empty()) headers.emplace_back("Content-Type", std::string(content_type));
    return client_->Send(method, target, body, headers);
  }

  // Creates a deployment on `endpoint` and returns its id.
  std::string Deploy(std::string_view endpoint = "recs") {
    auto r = Call("POST", "/v1/deployments", CreateBody(endpoint));
    EXPECT_EQ(r.status, 201) << r.body;
    return json::value_to<std::string>(Json(r).at("id"));
  }

  // The concrete target of a route pattern, with real names filled in.
  static std::string Concrete(std::string pattern, const std::string& id) {
    for (auto [param, value] : {std::pair<std::string, std::string>{"{id}", id},
                                std::pair<std::string, std::string>{"{name}", "recs"},
                                std::pair<std::string, std::string>{"{file}", "app.js"}}) {
      if (auto at = pattern.find(param); at != std::string::npos) {
        pattern.replace(at, param.size(), value);
      }
    }
    return pattern;
  }

  // Routes anyone may call: health checks and the dashboard's page and files.
  static bool IsPublic(const RouteInfo& route) {
    return route.pattern == "/healthz" || route.pattern == "/" ||
           route.pattern.starts_with("/assets/");
  }

  core::ManualClock clock_;
  core::testing::VirtualTrafficControl traffic_;
  FullDiskStore store_;
  TestMetricsSource metrics_;
  CountingNotifier notifier_;
  controller::Controller controller_;
  std::atomic<int> next_id_{0};
  std::unique_ptr<ControlApi> api_;
  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<TestClient> client_;
  std::mutex log_mu_;
  std::string log_;
};

// --- Auth -------------------------------------------------------------------

TEST_F(ControlApiTest, EveryRouteWithoutAValidTokenIs401) {
  const std::string id = Deploy();
  int checked = 0;
  int public_routes = 0;
  for (const RouteInfo& route : ControlApi::Routes()) {
    if (IsPublic(route)) {
      ++public_routes;
      continue;
    }
    const std::string target = Concrete(route.pattern, id);
    for (std::string_view token : {std::string_view(), std::string_view("wrong-token")}) {
      auto r = Call(route.method, target, {}, token);
      EXPECT_EQ(r.status, 401) << route.method << " " << target;
      EXPECT_TRUE(r.Header("WWW-Authenticate").starts_with("Bearer")) << target;
      EXPECT_EQ(ErrorCode(r), "Unauthenticated");
      EXPECT_EQ(r.body.find("wrong-token"), std::string::npos);
    }
    ++checked;
  }
  EXPECT_EQ(public_routes, 3);
  EXPECT_EQ(checked, static_cast<int>(ControlApi::Routes().size()) - public_routes);
  // Other schemes and a bare "Bearer" are refused too.
  for (std::string_view header : {"Basic YWRtaW46eA==", "Bearer", "Bearer ", "admin-secret"}) {
    auto r = client_->Send("GET", "/v1/deployments", {}, {{"Authorization", std::string(header)}});
    EXPECT_EQ(r.status, 401) << header;
  }
  // A token that is a prefix or an extension of the real one is wrong.
  EXPECT_EQ(Call("GET", "/v1/deployments", {}, kAdminToken.substr(0, 10)).status, 401);
  EXPECT_EQ(Call("GET", "/v1/deployments", {}, std::string(kAdminToken) + "x").status, 401);
  // Nothing was changed by the refused requests.
  EXPECT_EQ(json::value_to<std::string>(Json(Call("GET", "/v1/deployments/" + id)).at("state")),
            "IN_PROGRESS");
}

TEST_F(ControlApiTest, ReaderTokenOnEveryMutatingRouteIs403AndReadsEverything) {
  const std::string id = Deploy();
  int mutating = 0;
  for (const RouteInfo& route : ControlApi::Routes()) {
    const std::string target = Concrete(route.pattern, id);
    std::string body = route.pattern == "/v1/deployments" ? CreateBody("search") : "";
    auto r = Call(route.method, target, body, kReaderToken);
    if (route.method == "GET") {
      EXPECT_EQ(r.status, 200) << target << " " << r.body;
    } else {
      ++mutating;
      EXPECT_EQ(r.status, 403) << route.method << " " << target;
      EXPECT_EQ(ErrorCode(r), "PermissionDenied");
    }
  }
  EXPECT_EQ(mutating, 7);  // create + six actions
  // None of the refused requests changed anything.
  auto list = Json(Call("GET", "/v1/deployments"));
  ASSERT_EQ(list.at("deployments").as_array().size(), 1u);
  EXPECT_EQ(json::value_to<std::string>(list.at("deployments").at(0).at("state")), "IN_PROGRESS");
  EXPECT_FALSE(list.at("deployments").at(0).at("paused").as_bool());
}

TEST_F(ControlApiTest, TokensNeverReachTheLog) {
  Deploy();
  Call("GET", "/v1/deployments", {}, "not-the-token");
  Call("POST", "/v1/deployments/dep-1/pause", {}, kReaderToken);
  std::lock_guard lock(log_mu_);
  EXPECT_EQ(log_.find(kAdminToken), std::string::npos);
  EXPECT_EQ(log_.find(kReaderToken), std::string::npos);
  EXPECT_EQ(log_.find("not-the-token"), std::string::npos);
}

TEST_F(ControlApiTest, HealthzNeedsNoToken) {
  auto r = Call("GET", "/healthz", {}, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
}

TEST_F(ControlApiTest, DashboardPageAndFilesNeedNoToken) {
  Deploy();
  auto page = Call("GET", "/", {}, "");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_TRUE(page.body.starts_with("<!doctype html>"));
  EXPECT_NE(page.body.find("assets/app.js"), std::string::npos);
  EXPECT_NE(page.Header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(page.Header("Cache-Control"), "no-cache");
  // The page holds no data: the deployment is only in what the API answers.
  EXPECT_EQ(page.body.find("dep-1"), std::string::npos);
  // A token does not change the page.
  EXPECT_EQ(Call("GET", "/", {}, kReaderToken).body, page.body);
  EXPECT_EQ(Call("GET", "/", {}, "wrong-token").status, 200);

  const std::pair<std::string_view, std::string_view> files[] = {
      {"/assets/app.js", "text/javascript; charset=utf-8"},
      {"/assets/style.css", "text/css; charset=utf-8"},
      {"/assets/favicon.svg", "image/svg+xml"},
  };
  for (const auto& [target, type] : files) {
    auto r = Call("GET", target, {}, "");
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.Header("Content-Type"), type) << target;
    EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff") << target;
    EXPECT_FALSE(r.body.empty()) << target;
  }
  for (std::string_view target : {"/assets/nope.js", "/assets/..%2Fapi%2Fcontrol_api.cc",
                                  "/assets/", "/index.html", "/assets/app.js/x"}) {
    auto r = Call("GET", target, {}, "");
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(ErrorCode(r), "NotFound") << target;
  }
  auto post = Call("POST", "/", "{}", "");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.Header("Allow"), "GET");
}

TEST_F(ControlApiTest, MetricsServePrometheusTextWithAToken) {
  auto r = Call("GET", "/metrics", {}, kReaderToken);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_EQ(r.body, "# TYPE up gauge\nup 1\n");
  EXPECT_EQ(Call("GET", "/metrics", {}, "").status, 401);
}

TEST_F(ControlApiTest, PublicMetricsOpensMetricsAndOpenApiOnly) {
  server_->Shutdown();
  ApiOptions options = DefaultOptions();
  options.public_metrics = true;
  Start(options);
  EXPECT_EQ(Call("GET", "/metrics", {}, "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/openapi.json", {}, "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/deployments", {}, "").status, 401);
}

TEST_F(ControlApiTest, RefusesToConstructWithoutAnAdminToken) {
  ApiDependencies deps{.controller = controller_,
                       .store = store_,
                       .traffic = traffic_,
                       .new_deployment_id = [] { return std::string("x"); },
                       .metrics_text = [] { return std::string(); }};
  ApiOptions options;
  auto api = ControlApi::Create(options, deps);
  ASSERT_FALSE(api);
  EXPECT_EQ(api.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(api.error().message().find("no admin token"), std::string::npos);

  options.admin_token = "same";
  options.reader_token = "same";
  EXPECT_FALSE(ControlApi::Create(options, deps));

  ApiOptions no_id;
  no_id.admin_token = "t";
  ApiDependencies deps_without_ids = deps;
  deps_without_ids.new_deployment_id = nullptr;
  EXPECT_FALSE(ControlApi::Create(no_id, deps_without_ids));
}

TEST_F(ControlApiTest, AllowNoAuthServesEveryoneAsAdmin) {
  server_->Shutdown();
  ApiOptions options;
  options.allow_no_auth = true;
  Start(options);
  auto r = Call("POST", "/v1/deployments", CreateBody("recs"), "");
  ASSERT_EQ(r.status, 201) << r.body;
  auto events = Json(Call("GET", "/v1/deployments/dep-1/events", {}, ""));
  EXPECT_EQ(json::value_to<std::string>(events.at("events").at(0).at("actor")), "admin");
}

// --- Create -----------------------------------------------------------------

TEST_F(ControlApiTest, CreateAnswers201WithTheDeploymentAndItsLocation) {
  auto r = Call("POST", "/v1/deployments",
                CreateBody("recs", R"("policy":{"initial_weight":0.2},"instances":3)"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.Header("Location"), "/v1/deployments/dep-1");
  auto d = Json(r);
  EXPECT_EQ(json::value_to<std::string>(d.at("id")), "dep-1");
  EXPECT_EQ(json::value_to<std::string>(d.at("endpoint")), "recs");
  EXPECT_EQ(json::value_to<std::string>(d.at("production_variant")), "production");
  EXPECT_EQ(json::value_to<std::string>(d.at("canary_variant")), "canary-v2");
  EXPECT_EQ(json::value_to<std::string>(d.at("state")), "IN_PROGRESS");
  EXPECT_DOUBLE_EQ(d.at("canary_weight").to_number<double>(), 0.2);
  EXPECT_EQ(d.at("instances").as_int64(), 3);
  EXPECT_FALSE(d.at("paused").as_bool());
  for (const char* key : {"policy", "created_at", "updated_at"}) {
    EXPECT_TRUE(d.as_object().contains(key)) << key;
  }
  // The body's policy applies on top of the endpoint's configured one.
  EXPECT_DOUBLE_EQ(d.at("policy").at("initial_weight").to_number<double>(), 0.2);
  EXPECT_EQ(json::value_to<std::string>(d.at("policy").at("bake")), "2s");
  EXPECT_EQ(json::value_to<std::string>(d.at("policy").at("interval")), "1s");
  // Numbers are written in their short form.
  EXPECT_NE(r.body.find(R"("canary_weight":0.2)"), std::string::npos) << r.body;
  // The traffic moved and the actor is the token's name.
  auto endpoint = traffic_.DescribeEndpoint("recs");
  ASSERT_TRUE(endpoint);
  ASSERT_NE(endpoint->FindVariant("canary-v2"), nullptr);
  EXPECT_DOUBLE_EQ(endpoint->FindVariant("canary-v2")->weight, 0.2);
  auto events = store_.ListEvents("dep-1", 0);
  ASSERT_TRUE(events);
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->front().actor, "alice");
}

TEST_F(ControlApiTest, CreateWithoutPolicyUsesTheEndpointsOrTheDefaultPolicy) {
  auto recs = Json(Call("POST", "/v1/deployments", CreateBody("recs")));
  EXPECT_EQ(json::value_to<std::string>(recs.at("policy").at("bake")), "2s");
  auto search = Json(Call("POST", "/v1/deployments", CreateBody("search")));
  EXPECT_EQ(json::value_to<std::string>(search.at("policy").at("bake")), "10m");
}

TEST_F(ControlApiTest, CreateOnAnUnknownEndpointIs404) {
  auto r = Call("POST", "/v1/deployments", CreateBody("nope"));
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(ErrorCode(r), "NotFound");
}

TEST_F(ControlApiTest, CreateWhileADeploymentIsActiveIs409) {
  Deploy();
  auto r = Call("POST", "/v1/deployments",
                R"({"endpoint":"recs","model":{"path":"v3.json"},"variant":"canary-v3"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ErrorCode(r), "Conflict");
}

TEST_F(ControlApiTest, InvalidCreateBodiesAre400NamingTheKeyPath) {
  struct Case {
    std::string body;
    std::string message_prefix;
  };
  const std::vector<Case> cases = {
      {R"({"endpoint":"recs","model":{"path":"m.json"},"colour":"red"})",
       "body.colour: unknown key"},
      {R"({"endpoint":7,"model":{"path":"m.json"}})", "body.endpoint: expected"},
      {R"({"model":{"path":"m.json"}})", "body.endpoint: missing"},
      {R"({"endpoint":"recs"})", "body.model: missing"},
      {R"({"endpoint":"recs","model":"m.json"})", "body.model: expected an object"},
      {R"({"endpoint":"recs","model":{"kind":"onnx","path":"m"}})", "body.model.kind"},
      {R"({"endpoint":"recs","model":{"kind":"http"}})", "body.model.url"},
      {R"({"endpoint":"recs","model":{"path":"m"},"policy":{"steps":[0.5,0.2]}})",
       "body.policy.steps[1]"},
      {R"({"endpoint":"recs","model":{"path":"m"},"policy":{"bake":5}})", "body.policy.bake"},
      {R"({"endpoint":"recs","model":{"path":"m"},"policy":{"nope":1}})",
       "body.policy.nope: unknown key"},
      {R"({"endpoint":"recs","model":{"path":"m"},"policy":{"initial_weight":1.5}})",
       "body.policy.initial_weight"},
      {R"({"endpoint":"recs","model":{"path":"m"},"policy":{"initial_weight":1e-7}})",
       "body.policy.initial_weight: weight 1e-07 must be at least 1e-06"},
      {R"({"endpoint":"recs","model":{"path":"m"},"policy":{"steps":[0.0000001,1]}})",
       "body.policy.steps[0]: weight 1e-07 must be at least 1e-06"},
      {R"({"endpoint":"recs","model":{"path":"m"},"policy":[1]})", "body.policy: expected"},
      {R"({"endpoint":"recs","model":{"path":"m"},"instances":0})", "body.instances"},
      {R"({"endpoint":"recs","model":{"path":"m"},"instances":"2"})", "body.instances"},
      {R"({"endpoint":"recs","model":{"path":"m"},"instances":1.5})", "body.instances"},
      {R"({"endpoint":"recs","model":{"path":"m"},"variant":"a b"})", "body.variant"},
      {R"({"endpoint":"recs","model":{"path":"m"},"variant":""})", "body.variant"},
      {R"({"endpoint":"recs","model":{"path":"m"},"keep_previous":"yes"})", "body.keep_previous"},
      {R"([1,2])", "body: expected a JSON object"},
      {R"("recs")", "body: expected a JSON object"},
  };
  for (const Case& c : cases) {
    auto r = Call("POST", "/v1/deployments", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    EXPECT_EQ(ErrorCode(r), "ValidationError") << c.body;
    EXPECT_TRUE(ErrorMessage(r).starts_with(c.message_prefix))
        << c.body << " -> " << ErrorMessage(r);
  }
  // Nothing was created.
  EXPECT_EQ(Json(Call("GET", "/v1/deployments")).at("deployments").as_array().size(), 0u);
}

TEST_F(ControlApiTest, ADivergenceCheckTheModelCannotTakeIs400NamingTheField) {
  traffic_.SetModelOutputs("models/v2.json", 3);  // a 3-class in-process model
  auto r = Call("POST", "/v1/deployments",
                CreateBody("recs", R"("policy":{"divergence_max_disagreement":0.05})"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(ErrorCode(r), "ValidationError");
  EXPECT_TRUE(ErrorMessage(r).starts_with("policy.divergence_output: the canary model"))
      << ErrorMessage(r);
  auto psi =
      Call("POST", "/v1/deployments", CreateBody("recs", R"("policy":{"divergence_psi_max":0.2})"));
  EXPECT_EQ(psi.status, 400) << psi.body;
  EXPECT_TRUE(ErrorMessage(psi).starts_with("policy.divergence_psi_max:")) << ErrorMessage(psi);
  EXPECT_EQ(Json(Call("GET", "/v1/deployments")).at("deployments").as_array().size(), 0u);
  // Saying which output: created.
  auto ok = Call("POST", "/v1/deployments",
                 CreateBody("recs", R"("policy":{"divergence_max_disagreement":0.05,)"
                                    R"("divergence_output":1})"));
  EXPECT_EQ(ok.status, 201) << ok.body;
}

TEST_F(ControlApiTest, MalformedJsonIs400) {
  for (std::string_view body : {"{", "{\"endpoint\": }", "nul", "{\"a\":1}}"}) {
    auto r = Call("POST", "/v1/deployments", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(ErrorCode(r), "ValidationError");
    EXPECT_TRUE(ErrorMessage(r).starts_with("body: invalid JSON")) << ErrorMessage(r);
  }
  auto empty = Call("POST", "/v1/deployments", {});
  EXPECT_EQ(empty.status, 415);  // no body, no Content-Type
}

TEST_F(ControlApiTest, KeepPreviousIsRecorded) {
  auto d = Json(Call("POST", "/v1/deployments", CreateBody("recs", R"("keep_previous":true)")));
  EXPECT_TRUE(d.at("keep_previous").as_bool());
}

TEST_F(ControlApiTest, TwoConcurrentCreatesForOneEndpointGiveOne201AndOne409) {
  // Several rounds, each on a fresh endpoint, to give the race a chance.
  for (int round = 0; round < 8; ++round) {
    const std::string endpoint = "race-" + std::to_string(round);
    traffic_.AddEndpoint(MakeEndpoint(endpoint));
    std::latch go(2);
    std::vector<int> statuses(2);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        TestClient client(server_->port());
        const std::string body = R"({"endpoint":")" + endpoint +
                                 R"(","model":{"path":"m.json"},"variant":"canary-)" +
                                 std::to_string(i) + R"("})";
        go.arrive_and_wait();
        statuses[i] = client
                          .Send("POST", "/v1/deployments", body,
                                {{"Authorization", "Bearer " + std::string(kAdminToken)},
                                 {"Content-Type", "application/json"}})
                          .status;
      });
    }
    for (auto& t : threads) t.join();
    std::multiset<int> got(statuses.begin(), statuses.end());
    EXPECT_EQ(got, (std::multiset<int>{201, 409})) << endpoint;
    core::DeploymentFilter filter;
    filter.endpoint = endpoint;
    filter.active_only = true;
    EXPECT_EQ(store_.List(filter)->size(), 1u) << endpoint;
  }
}

// --- Reads ------------------------------------------------------------------

TEST_F(ControlApiTest, GetDeploymentAnswersTheRecordOr404) {
  const std::string id = Deploy();
  auto r = Call("GET", "/v1/deployments/" + id);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::value_to<std::string>(Json(r).at("id")), id);
  auto missing = Call("GET", "/v1/deployments/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "NotFound");
}

TEST_F(ControlApiTest, ListFiltersByEndpointAndState) {
  const std::string recs = Deploy("recs");
  const std::string search = Deploy("search");
  ASSERT_EQ(Call("POST", "/v1/deployments/" + search + "/cancel").status, 200);

  auto ids = [&](std::string_view target) {
    std::vector<std::string> out;
    auto r = Call("GET", target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    const json::value doc = Json(r);
    for (const auto& d : doc.at("deployments").as_array()) {
      out.push_back(json::value_to<std::string>(d.at("id")));
    }
    return out;
  };
  EXPECT_EQ(ids("/v1/deployments"), (std::vector<std::string>{search, recs}));  // newest first
  EXPECT_EQ(ids("/v1/deployments?endpoint=recs"), (std::vector<std::string>{recs}));
  EXPECT_EQ(ids("/v1/deployments?state=CANCELLED"), (std::vector<std::string>{search}));
  EXPECT_EQ(ids("/v1/deployments?state=IN_PROGRESS&endpoint=recs"),
            (std::vector<std::string>{recs}));
  EXPECT_TRUE(ids("/v1/deployments?state=IN_PROGRESS&endpoint=search").empty());
  EXPECT_TRUE(ids("/v1/deployments?endpoint=nope").empty());

  auto bad_state = Call("GET", "/v1/deployments?state=RUNNING");
  EXPECT_EQ(bad_state.status, 400);
  EXPECT_TRUE(ErrorMessage(bad_state).starts_with("query.state")) << bad_state.body;
  auto unknown = Call("GET", "/v1/deployments?status=FAILED");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_TRUE(ErrorMessage(unknown).starts_with("query.status: unknown parameter"));
}

// --- History: since, until, limit, page_token --------------------------------

class ListHistoryTest : public ControlApiTest {
 protected:
  // Cancelled deployments on "recs" created at kStart + `seconds`; their ids,
  // in creation order.
  std::vector<std::string> DeployAt(const std::vector<int>& seconds) {
    std::vector<std::string> ids;
    for (int s : seconds) {
      clock_.Set(kStart + std::chrono::seconds(s));
      ids.push_back(Deploy("recs"));
      EXPECT_EQ(Call("POST", "/v1/deployments/" + ids.back() + "/cancel").status, 200);
    }
    return ids;
  }
  // The ids of one page and its next_page_token ("" when none).
  std::pair<std::vector<std::string>, std::string> Page(const std::string& target) {
    std::pair<std::vector<std::string>, std::string> out;
    auto r = Call("GET", target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    if (r.status != 200) return out;
    const json::value doc = Json(r);
    for (const auto& d : doc.at("deployments").as_array()) {
      out.first.push_back(json::value_to<std::string>(d.at("id")));
    }
    if (const json::value* next = doc.as_object().if_contains("next_page_token")) {
      out.second = json::value_to<std::string>(*next);
      EXPECT_FALSE(out.second.empty());
    }
    return out;
  }
  static std::string Rfc3339(int seconds) {
    return core::FormatRfc3339(kStart + std::chrono::seconds(seconds));
  }
  static constexpr core::Timestamp kStart{std::chrono::seconds(1'700'000'000)};
};

TEST_F(ListHistoryTest, SinceIsInclusiveAndUntilExclusiveOnCreatedAt) {
  const auto ids = DeployAt({0, 60, 120, 180});
  using V = std::vector<std::string>;
  EXPECT_EQ(Page("/v1/deployments?since=" + Rfc3339(60)).first, (V{ids[3], ids[2], ids[1]}));
  EXPECT_EQ(Page("/v1/deployments?until=" + Rfc3339(120)).first, (V{ids[1], ids[0]}));
  EXPECT_EQ(Page("/v1/deployments?since=" + Rfc3339(60) + "&until=" + Rfc3339(180)).first,
            (V{ids[2], ids[1]}));
  EXPECT_EQ(Page("/v1/deployments?state=CANCELLED&endpoint=recs&since=" + Rfc3339(150)).first,
            (V{ids[3]}));
  EXPECT_TRUE(Page("/v1/deployments?endpoint=search&since=" + Rfc3339(0)).first.empty());
}

TEST_F(ListHistoryTest, PageTokensWalkEveryDeploymentOnceNewestFirst) {
  // Ties on created_at included: the order breaks them by id.
  const auto ids = DeployAt({0, 10, 10, 10, 20, 30, 30});
  const auto [all, none] = Page("/v1/deployments");
  ASSERT_EQ(all.size(), ids.size());
  EXPECT_TRUE(none.empty()) << "no limit, no next page";
  std::vector<std::string> walked;
  std::string token;
  int pages = 0;
  do {
    auto [page, next] =
        Page("/v1/deployments?limit=2" + (token.empty() ? "" : "&page_token=" + token));
    EXPECT_LE(page.size(), 2u);
    walked.insert(walked.end(), page.begin(), page.end());
    token = next;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(walked, all);
  EXPECT_EQ(pages, 4);
  // A page that ends exactly at the last match carries no token.
  auto [exact, after_exact] = Page("/v1/deployments?limit=7");
  EXPECT_EQ(exact, all);
  EXPECT_TRUE(after_exact.empty());
  // The token keeps working with the window it was cut from.
  auto [first, next] = Page("/v1/deployments?limit=1&until=" + Rfc3339(20));
  ASSERT_FALSE(next.empty());
  EXPECT_EQ(first, std::vector<std::string>{all[3]});
  auto [rest, end] = Page("/v1/deployments?until=" + Rfc3339(20) + "&page_token=" + next);
  EXPECT_EQ(rest, (std::vector<std::string>{all[4], all[5], all[6]}));
  EXPECT_TRUE(end.empty());
}

TEST_F(ListHistoryTest, BadHistoryParametersAre400NamingTheParameter) {
  DeployAt({0, 10});
  const auto [page, token] = Page("/v1/deployments?limit=1");
  ASSERT_FALSE(token.empty());
  std::string tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  for (const auto& [query, parameter] : std::vector<std::pair<std::string, std::string>>{
           {"since=yesterday", "query.since"},
           {"since=2026-11-28", "query.since"},
           {"until=2026-11-28T17:39:58%2B02:00", "query.until"},
           {"since=" + Rfc3339(10) + "&until=" + Rfc3339(10), "query.since"},
           {"since=" + Rfc3339(20) + "&until=" + Rfc3339(10), "query.since"},
           {"limit=0", "query.limit"},
           {"limit=1001", "query.limit"},
           {"limit=-1", "query.limit"},
           {"limit=2x", "query.limit"},
           {"limit=", "query.limit"},
           {"page_token=garbage!", "query.page_token"},
           {"page_token=" + token.substr(0, token.size() - 3), "query.page_token"},
           {"page_token=" + tampered, "query.page_token"},
           {"page_token=", "query.page_token"}}) {
    auto r = Call("GET", "/v1/deployments?" + query);
    EXPECT_EQ(r.status, 400) << query << " " << r.body;
    if (r.status != 400) continue;
    EXPECT_EQ(ErrorCode(r), "ValidationError") << query;
    EXPECT_TRUE(ErrorMessage(r).starts_with(parameter + ":")) << query << " " << r.body;
  }
  EXPECT_EQ(Call("GET", "/v1/deployments?limit=1000").status, 200);
}

TEST(PageTokenTest, RoundTripsAnyIdAndRefusesEveryEditedToken) {
  for (const std::string& id : {std::string("dep-1"), std::string("a.b.c"),
                                std::string("ü/?&=\x01"), std::string(300, 'x')}) {
    const core::DeploymentCursor cursor{
        .created_at = core::Timestamp(std::chrono::milliseconds(1'700'000'000'123)), .id = id};
    const std::string token = internal::EncodePageToken(cursor);
    for (char c : token) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << token;
    }
    auto back = internal::DecodePageToken(token);
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(back->id, id);
    EXPECT_EQ(back->created_at, cursor.created_at);
    for (std::size_t i = 0; i < token.size(); ++i) {
      std::string edited = token;
      edited[i] = edited[i] == 'x' ? 'y' : 'x';
      EXPECT_FALSE(internal::DecodePageToken(edited)) << "edited at " << i;
    }
    EXPECT_FALSE(internal::DecodePageToken(token + "A"));
    EXPECT_FALSE(internal::DecodePageToken(token.substr(1)));
  }
}

TEST_F(ControlApiTest, EventsListEveryEventWithItsCheckValues) {
  const std::string id = Deploy();
  clock_.Advance(1s);
  auto check = controller_.RunCheck(id);
  ASSERT_TRUE(check) << check.error().ToString();
  ASSERT_EQ(Call("POST", "/v1/deployments/" + id + "/pause").status, 200);

  auto r = Call("GET", "/v1/deployments/" + id + "/events");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = Json(r);
  EXPECT_EQ(json::value_to<std::string>(doc.at("deployment_id")), id);
  const auto& events = doc.at("events").as_array();
  auto stored = store_.ListEvents(id, 0);
  ASSERT_TRUE(stored);
  ASSERT_EQ(events.size(), stored->size());
  std::int64_t last_seq = 0;
  bool saw_check = false;
  bool saw_pause = false;
  for (const auto& e : events) {
    const std::int64_t seq = e.at("seq").as_int64();
    EXPECT_GT(seq, last_seq);
    last_seq = seq;
    const std::string kind = json::value_to<std::string>(e.at("kind"));
    if (kind == "check") {
      saw_check = true;
      const auto& c = e.at("check");
      EXPECT_EQ(c.at("canary").at("invocations").as_int64(), 150);
      EXPECT_DOUBLE_EQ(c.at("canary").at("p99_ms").to_number<double>(), 45);
      EXPECT_DOUBLE_EQ(c.at("thresholds").at("max_p99_ms").to_number<double>(), 100);
      EXPECT_TRUE(c.as_object().contains("verdict"));
    }
    if (kind == "paused") {
      saw_pause = true;
      EXPECT_EQ(json::value_to<std::string>(e.at("actor")), "alice");
    }
  }
  EXPECT_TRUE(saw_check) << r.body;
  EXPECT_TRUE(saw_pause) << r.body;

  auto after = Json(Call("GET", "/v1/deployments/" + id + "/events?after=2"));
  ASSERT_EQ(after.at("events").as_array().size(), events.size() - 2);
  EXPECT_EQ(after.at("events").at(0).at("seq").as_int64(), 3);
  EXPECT_TRUE(
      Json(Call("GET", "/v1/deployments/" + id + "/events?after=" + std::to_string(last_seq)))
          .at("events")
          .as_array()
          .empty());
  for (std::string_view bad : {"x", "-1", "", "1.5"}) {
    EXPECT_EQ(Call("GET", "/v1/deployments/" + id + "/events?after=" + std::string(bad)).status,
              400)
        << bad;
  }
  EXPECT_EQ(Call("GET", "/v1/deployments/nope/events").status, 404);
}

TEST_F(ControlApiTest, EndpointsShowLiveVariantsAndTheActiveDeployment) {
  auto list = Call("GET", "/v1/endpoints");
  ASSERT_EQ(list.status, 200) << list.body;
  auto endpoints = Json(list).at("endpoints").as_array();
  ASSERT_EQ(endpoints.size(), 2u);
  EXPECT_EQ(json::value_to<std::string>(endpoints.at(0).at("name")), "recs");
  EXPECT_TRUE(endpoints.at(0).at("active_deployment").is_null());

  const std::string id = Deploy();
  auto r = Call("GET", "/v1/endpoints/recs");
  ASSERT_EQ(r.status, 200) << r.body;
  auto e = Json(r);
  EXPECT_EQ(json::value_to<std::string>(e.at("status")), "InService");
  EXPECT_EQ(json::value_to<std::string>(e.at("active_deployment")), id);
  std::map<std::string, double> weights;
  for (const auto& v : e.at("variants").as_array()) {
    weights[json::value_to<std::string>(v.at("name"))] = v.at("weight").to_number<double>();
    EXPECT_TRUE(v.as_object().contains("instances"));
    EXPECT_TRUE(v.as_object().contains("model"));
  }
  EXPECT_DOUBLE_EQ(weights.at("production"), 0.9);
  EXPECT_DOUBLE_EQ(weights.at("canary-v2"), 0.1);

  auto listed = Json(Call("GET", "/v1/endpoints")).at("endpoints").as_array();
  EXPECT_EQ(json::value_to<std::string>(listed.at(0).at("active_deployment")), id);
  EXPECT_TRUE(listed.at(1).at("active_deployment").is_null());

  EXPECT_EQ(Call("GET", "/v1/endpoints/nope").status, 404);
}

// --- Actions ----------------------------------------------------------------

std::string State(const ClientResponse& r) {
  return json::value_to<std::string>(Json(r).at("state"));
}

TEST_F(ControlApiTest, CompleteAnswers200ThenRefusesWith409) {
  const std::string id = Deploy();
  auto r = Call("POST", "/v1/deployments/" + id + "/complete");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(State(r), "COMPLETED");
  EXPECT_DOUBLE_EQ(Json(r).at("canary_weight").to_number<double>(), 1.0);
  for (const char* action : {"complete", "cancel", "rollback", "pause", "resume", "approve"}) {
    auto again = Call("POST", "/v1/deployments/" + id + "/" + action);
    EXPECT_EQ(again.status, 409) << action << " " << again.body;
    EXPECT_EQ(ErrorCode(again), "FailedPrecondition");
  }
}

TEST_F(ControlApiTest, CancelAnswers200ThenRefusesWith409) {
  const std::string id = Deploy();
  auto r = Call("POST", "/v1/deployments/" + id + "/cancel");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(State(r), "CANCELLED");
  EXPECT_EQ(Call("POST", "/v1/deployments/" + id + "/cancel").status, 409);
  EXPECT_EQ(traffic_.DescribeEndpoint("recs")->FindVariant("canary-v2"), nullptr);
}

TEST_F(ControlApiTest, RollbackAnswers200ThenRefusesWith409) {
  const std::string id = Deploy();
  auto r = Call("POST", "/v1/deployments/" + id + "/rollback");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(State(r), "ROLLED_BACK");
  EXPECT_EQ(Call("POST", "/v1/deployments/" + id + "/rollback").status, 409);
}

// Issue 15: a manual gate in the steps holds the rollout until an approval.
TEST_F(ControlApiTest, ApproveAnswers200AtAGateAnd409OtherwiseNamingWhy) {
  auto created = Call("POST", "/v1/deployments",
                      CreateBody("recs", R"("policy":{"steps":[0.1,{"weight":0.5,"gate":"manual"},)"
                                         R"(1.0]})"));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = json::value_to<std::string>(Json(created).at("id"));
  // Written back as given: the plain entries as numbers, the gated one as an object.
  const json::value body = Json(created);
  const json::array& steps = body.at("policy").at("steps").as_array();
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_TRUE(steps[0].is_number());
  EXPECT_EQ(json::value_to<std::string>(steps[1].at("gate")), "manual");
  EXPECT_FALSE(steps[1].as_object().contains("bake"));
  EXPECT_TRUE(steps[2].is_number());
  EXPECT_FALSE(Json(created).as_object().contains("waiting_for"));

  auto early = Call("POST", "/v1/deployments/" + id + "/approve");
  EXPECT_EQ(early.status, 409) << early.body;
  EXPECT_EQ(ErrorCode(early), "FailedPrecondition");
  EXPECT_EQ(ErrorMessage(early), "deployment '" + id + "' is not waiting at a gate");

  for (int i = 0; i < 4; ++i) {  // bake 2s at 10%, then 2s at 50%: the gate
    clock_.Advance(1s);
    ASSERT_TRUE(controller_.Tick());
  }
  auto waiting = Call("GET", "/v1/deployments/" + id);
  ASSERT_EQ(json::value_to<std::string>(Json(waiting).at("waiting_for")), "approval")
      << waiting.body;
  EXPECT_DOUBLE_EQ(Json(waiting).at("canary_weight").to_number<double>(), 0.5);

  auto approved = Call("POST", "/v1/deployments/" + id + "/approve");
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(State(approved), "COMPLETED");
  EXPECT_FALSE(Json(approved).as_object().contains("waiting_for"));
  auto twice = Call("POST", "/v1/deployments/" + id + "/approve");
  EXPECT_EQ(twice.status, 409) << twice.body;
  EXPECT_EQ(ErrorMessage(twice), "cannot approve deployment '" + id + "' in state COMPLETED");

  std::vector<std::string> kinds;
  const json::value events = Json(Call("GET", "/v1/deployments/" + id + "/events"));
  for (const auto& e : events.at("events").as_array()) {
    const std::string kind = json::value_to<std::string>(e.at("kind"));
    if (kind == "gate" || kind == "approved") {
      kinds.push_back(kind + " by " + json::value_to<std::string>(e.at("actor")));
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"gate by controller", "approved by alice"}));
}

TEST_F(ControlApiTest, BadStepObjectsAre400NamingTheKeyPath) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"steps":[{"weight":0.1,"gate":"manual"},1.0]})",
       "body.policy.steps[0].gate: a gate on the first step (the initial weight) is refused"},
      {R"({"steps":[0.1,{"weight":0.5,"gate":"ci"}]})",
       "body.policy.steps[1].gate: unknown gate 'ci': the only gate kind is manual"},
      {R"({"steps":[0.1,{"bake":"5m"}]})", "body.policy.steps[1].weight: missing"},
      {R"({"steps":[0.1,{"weight":0.5,"pause":"5m"}]})", "body.policy.steps[1].pause: unknown key"},
      {R"({"steps":[0.1,{"weight":0.5,"bake":"-5m"}]})", "body.policy.steps[1].bake: "},
      {R"({"steps":[0.1,"0.5"]})", "body.policy.steps[1]: expected a number or an object"},
      {R"({"progress_deadline":"-1h"})", "body.policy.progress_deadline: "},
      {R"({"on_progress_deadline":"pause"})",
       "body.policy.on_progress_deadline: must be one of rollback, fail"},
  };
  for (const auto& [policy, message] : cases) {
    auto r =
        Call("POST", "/v1/deployments", CreateBody("recs", std::string("\"policy\":") + policy));
    EXPECT_EQ(r.status, 400) << policy << " " << r.body;
    EXPECT_NE(ErrorMessage(r).find(message), std::string::npos) << policy << " " << r.body;
  }
}

// Fleet mode: the action is recorded for the leader, whose tick carries it out.
TEST_F(ControlApiTest, InFleetModeAnActionWaitsForTheLeaderOrAnswers202) {
  const std::string id = Deploy();
  server_->Shutdown();
  ApiOptions options = DefaultOptions();
  options.leader_action_wait = 300ms;
  Start(std::move(options));

  // No leader ticks: 202, the request waits on the record, nothing moved.
  auto waiting = Call("POST", "/v1/deployments/" + id + "/rollback");
  ASSERT_EQ(waiting.status, 202) << waiting.body;
  EXPECT_EQ(State(waiting), "IN_PROGRESS");
  EXPECT_EQ(json::value_to<std::string>(Json(waiting).at("requested").at("action")), "rollback");
  EXPECT_EQ(json::value_to<std::string>(Json(waiting).at("requested").at("actor")), "alice");
  EXPECT_GT(traffic_.DescribeEndpoint("recs")->FindVariant("canary-v2")->weight, 0);
  // Asked again: the same request. Another action meanwhile: 409.
  EXPECT_EQ(Call("POST", "/v1/deployments/" + id + "/rollback").status, 202);
  EXPECT_EQ(Call("POST", "/v1/deployments/" + id + "/complete").status, 409);

  // The leader ticks: carried out, and the record shows it.
  ASSERT_TRUE(controller_.Tick());
  auto done = Call("GET", "/v1/deployments/" + id);
  EXPECT_EQ(State(done), "ROLLED_BACK");
  EXPECT_FALSE(Json(done).as_object().contains("requested")) << done.body;

  // With a leader ticking while the answer waits: 200 with the result.
  const std::string second = Deploy();
  std::atomic<bool> stop{false};
  std::thread leader([&] {
    while (!stop) {
      (void)controller_.Tick();
      std::this_thread::sleep_for(5ms);
    }
  });
  auto r = Call("POST", "/v1/deployments/" + second + "/cancel");
  stop = true;
  leader.join();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(State(r), "CANCELLED");
}

TEST_F(ControlApiTest, AFullStoreAnswers503AndARollbackStillMovesTrafficToProduction) {
  const std::string id = Deploy();
  auto canary_weight = [&] {
    return traffic_.DescribeEndpoint("recs")->FindVariant("canary-v2")->weight;
  };
  ASSERT_DOUBLE_EQ(canary_weight(), 0.1);
  store_.full = true;
  auto paused = Call("POST", "/v1/deployments/" + id + "/pause");
  EXPECT_EQ(paused.status, 503) << paused.body;
  EXPECT_EQ(ErrorCode(paused), "ServiceUnavailable");
  EXPECT_NE(ErrorMessage(paused).find("store unavailable"), std::string::npos) << paused.body;
  EXPECT_NE(ErrorMessage(paused).find("database or disk is full"), std::string::npos);

  auto rolled = Call("POST", "/v1/deployments/" + id + "/rollback");
  EXPECT_EQ(rolled.status, 503) << rolled.body;
  EXPECT_EQ(ErrorCode(rolled), "ServiceUnavailable");
  EXPECT_NE(ErrorMessage(rolled).find("traffic is on production; the record will follow"),
            std::string::npos)
      << rolled.body;
  EXPECT_DOUBLE_EQ(canary_weight(), 0);

  // The deployment as stored, with what the store has not taken yet.
  auto got = Call("GET", "/v1/deployments/" + id);
  ASSERT_EQ(got.status, 200);
  json::value d = Json(got);
  EXPECT_EQ(json::value_to<std::string>(d.at("state")), "IN_PROGRESS");
  EXPECT_EQ(json::value_to<std::string>(d.at("unrecorded").at("rollback").at("traffic")),
            "production");
  EXPECT_EQ(json::value_to<std::string>(d.at("unrecorded").at("rollback").at("state")),
            "ROLLED_BACK");
  EXPECT_NE(
      json::value_to<std::string>(d.at("unrecorded").at("rollback").at("reason")).find("alice"),
      std::string::npos);
  auto listed = Json(Call("GET", "/v1/deployments"));
  EXPECT_TRUE(listed.at("deployments").at(0).at("unrecorded").is_object());

  store_.full = false;
  auto recorded = Call("POST", "/v1/deployments/" + id + "/rollback");
  ASSERT_EQ(recorded.status, 200) << recorded.body;
  EXPECT_EQ(State(recorded), "ROLLED_BACK");
  EXPECT_TRUE(Json(recorded).at("unrecorded").is_null());
}

TEST_F(ControlApiTest, ADeploymentShowsItsLastCheckError) {
  const std::string id = Deploy();
  EXPECT_TRUE(Json(Call("GET", "/v1/deployments/" + id)).at("last_check_error").is_null());
  store_.full = true;
  clock_.Advance(2s);
  auto check = controller_.RunCheck(id);
  ASSERT_FALSE(check);
  json::value d = Json(Call("GET", "/v1/deployments/" + id));
  const json::value& error = d.at("last_check_error");
  ASSERT_TRUE(error.is_object()) << d;
  EXPECT_EQ(json::value_to<std::string>(error.at("time")), core::FormatRfc3339(clock_.Now()));
  EXPECT_NE(json::value_to<std::string>(error.at("message")).find("database or disk is full"),
            std::string::npos);
  EXPECT_EQ(d.at("unrecorded").at("checks").to_number<int>(), 1);
  EXPECT_TRUE(d.at("unrecorded").at("rollback").is_null());
}

TEST_F(ControlApiTest, PauseAndResumeAnswer200ThenRefuseWith409) {
  const std::string id = Deploy();
  EXPECT_EQ(Call("POST", "/v1/deployments/" + id + "/resume").status, 409);  // not paused
  auto paused = Call("POST", "/v1/deployments/" + id + "/pause");
  ASSERT_EQ(paused.status, 200) << paused.body;
  EXPECT_TRUE(Json(paused).at("paused").as_bool());
  EXPECT_EQ(Call("POST", "/v1/deployments/" + id + "/pause").status, 409);
  auto resumed = Call("POST", "/v1/deployments/" + id + "/resume", "{}");
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_FALSE(Json(resumed).at("paused").as_bool());
  EXPECT_EQ(Call("POST", "/v1/deployments/" + id + "/resume").status, 409);
}

TEST_F(ControlApiTest, ActionsOnAnUnknownDeploymentAre404) {
  for (const char* action : {"complete", "cancel", "rollback", "pause", "resume", "approve"}) {
    auto r = Call("POST", std::string("/v1/deployments/nope/") + action);
    EXPECT_EQ(r.status, 404) << action;
  }
}

// An id is one percent-encoded path segment: decoded, it is looked up as it is
// (quotes, spaces, '/', '?' included) and an unknown one is a 404 naming it.
TEST_F(ControlApiTest, EncodedIdsAreDecodedPerSegmentAndUnknownOnesAre404) {
  struct Case {
    std::string encoded;
    std::string id;
  };
  for (const Case& c :
       {Case{"%27%20OR%201%3D1%20--", "' OR 1=1 --"}, Case{"a%2Fcomplete", "a/complete"},
        Case{"x%2Fy%2Fz", "x/y/z"}, Case{"what%3Fstate%3DFAILED", "what?state=FAILED"},
        Case{"100%25", "100%"}}) {
    for (const std::string& target :
         {"/v1/deployments/" + c.encoded, "/v1/deployments/" + c.encoded + "/events"}) {
      auto r = Call("GET", target);
      EXPECT_EQ(r.status, 404) << target << " -> " << r.body;
      EXPECT_EQ(ErrorCode(r), "NotFound") << target;
      EXPECT_NE(ErrorMessage(r).find("'" + c.id + "'"), std::string::npos)
          << target << " -> " << ErrorMessage(r);
    }
    auto action = Call("POST", "/v1/deployments/" + c.encoded + "/cancel");
    EXPECT_EQ(action.status, 404) << c.encoded << " -> " << action.body;
    EXPECT_NE(ErrorMessage(action).find("'" + c.id + "'"), std::string::npos)
        << ErrorMessage(action);
  }
}

TEST_F(ControlApiTest, ActionBodiesMustBeEmptyOrAnEmptyJsonObject) {
  const std::string id = Deploy();
  auto text = Call("POST", "/v1/deployments/" + id + "/pause", "now", kAdminToken, "text/plain");
  EXPECT_EQ(text.status, 415);
  auto keys = Call("POST", "/v1/deployments/" + id + "/pause", R"({"force":true})");
  EXPECT_EQ(keys.status, 400);
  EXPECT_TRUE(ErrorMessage(keys).starts_with("body.force: unknown key"));
  EXPECT_EQ(Call("POST", "/v1/deployments/" + id + "/pause", "{}").status, 200);
}

// --- HTTP-level errors ------------------------------------------------------

TEST_F(ControlApiTest, UnknownRoutesAre404) {
  for (std::string_view target : {"/v1", "/v1/nope", "/v2/", "/dashboard", "/v1/deployments/x/y/z",
                                  "/v1/deployments/x/explode", "/v1/endpoints/recs/variants"}) {
    auto r = Call("GET", target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(ErrorCode(r), "NotFound") << target;
  }
}

TEST_F(ControlApiTest, WrongMethodsAre405WithAllow) {
  auto r = Call("DELETE", "/v1/deployments");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "GET, POST");
  EXPECT_EQ(ErrorCode(r), "MethodNotAllowed");
  auto action = Call("GET", "/v1/deployments/x/complete");
  EXPECT_EQ(action.status, 405);
  EXPECT_EQ(action.Header("Allow"), "POST");
  auto put = Call("PUT", "/v1/deployments/x");
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.Header("Allow"), "GET");
  EXPECT_EQ(Call("POST", "/healthz", "{}").status, 405);
}

TEST_F(ControlApiTest, TooLargeBodiesAre413) {
  std::string big = CreateBody("recs", R"("pad":")" + std::string(100 * 1024, 'x') + "\"");
  auto r = Call("POST", "/v1/deployments", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorCode(r), "PayloadTooLarge");
}

TEST_F(ControlApiTest, NonJsonContentTypesAre415) {
  for (std::string_view type : {"text/plain", "application/x-www-form-urlencoded", "json"}) {
    auto r = Call("POST", "/v1/deployments", CreateBody("recs"), kAdminToken, type);
    EXPECT_EQ(r.status, 415) << type;
    EXPECT_EQ(ErrorCode(r), "UnsupportedMediaType");
  }
  auto with_charset = Call("POST", "/v1/deployments", CreateBody("recs"), kAdminToken,
                           "Application/JSON; charset=utf-8");
  EXPECT_EQ(with_charset.status, 201) << with_charset.body;
}

// --- OpenAPI ----------------------------------------------------------------

TEST_F(ControlApiTest, OpenApiDescribesAPendingActionRequest) {
  auto doc = Json(Call("GET", "/v1/openapi.json", {}, kReaderToken));
  const auto& schemas = doc.at("components").at("schemas").as_object();
  const auto& props = schemas.at("Deployment").at("properties").as_object();
  ASSERT_TRUE(props.contains("requested"));
  const auto& request = schemas.at("ActionRequest").at("properties").as_object();
  std::vector<std::string> actions;
  for (const auto& a : request.at("action").at("enum").as_array()) {
    actions.push_back(json::value_to<std::string>(a));
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"complete", "cancel", "rollback", "pause", "resume",
                                               "approve"}));
  EXPECT_TRUE(request.contains("actor"));
  EXPECT_TRUE(request.contains("at"));
}

TEST_F(ControlApiTest, OpenApiDescribesEveryRouteTheRouterServes) {
  auto r = Call("GET", "/v1/openapi.json", {}, kReaderToken);
  ASSERT_EQ(r.status, 200);
  auto doc = Json(r);
  EXPECT_TRUE(json::value_to<std::string>(doc.at("openapi")).starts_with("3.0"));
  const auto& scheme = doc.at("components").at("securitySchemes").at("bearerAuth");
  EXPECT_EQ(json::value_to<std::string>(scheme.at("type")), "http");
  EXPECT_EQ(json::value_to<std::string>(scheme.at("scheme")), "bearer");
  const auto& paths = doc.at("paths").as_object();
  const auto& schemas = doc.at("components").at("schemas").as_object();

  // API.md's routes, written out here so that a route dropped from the table
  // (and so from the document) fails this test too.
  const std::vector<std::pair<std::string, std::string>> api_md = {
      {"GET", "/v1/endpoints"},
      {"GET", "/v1/endpoints/{name}"},
      {"POST", "/v1/deployments"},
      {"GET", "/v1/deployments"},
      {"GET", "/v1/deployments/{id}"},
      {"GET", "/v1/deployments/{id}/events"},
      {"POST", "/v1/deployments/{id}/complete"},
      {"POST", "/v1/deployments/{id}/cancel"},
      {"POST", "/v1/deployments/{id}/rollback"},
      {"POST", "/v1/deployments/{id}/pause"},
      {"POST", "/v1/deployments/{id}/resume"},
      {"POST", "/v1/deployments/{id}/approve"},  // issue 15, an extension of API.md
      {"GET", "/metrics"},
      {"GET", "/v1/openapi.json"},
      {"GET", "/healthz"},
      {"GET", "/"},
      {"GET", "/assets/{file}"},
  };
  std::set<std::pair<std::string, std::string>> routed;
  for (const RouteInfo& route : ControlApi::Routes()) routed.emplace(route.method, route.pattern);
  const std::set<std::pair<std::string, std::string>> expected(api_md.begin(), api_md.end());
  EXPECT_EQ(routed, expected);

  const std::string id = Deploy("search");
  for (const RouteInfo& route : ControlApi::Routes()) {
    // The router serves it (neither 404 for the route nor 405)...
    auto served = Call(route.method, Concrete(route.pattern, id), {}, "");
    EXPECT_TRUE(served.status == 200 || served.status == 401) << route.pattern;
    // ...and the document describes it.
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(paths.contains(route.pattern)) << route.pattern;
    ASSERT_TRUE(paths.at(route.pattern).as_object().contains(method))
        << route.method << " " << route.pattern;
    const auto& op = paths.at(route.pattern).at(method).as_object();
    EXPECT_TRUE(op.contains("operationId"));
    EXPECT_TRUE(op.contains("summary"));
    const auto& responses = op.at("responses").as_object();
    EXPECT_TRUE(responses.contains("200") || responses.contains("201")) << route.pattern;
    EXPECT_TRUE(responses.contains("500")) << route.pattern;
    if (!IsPublic(route)) {
      EXPECT_TRUE(responses.contains("401")) << route.pattern;
    }
    if (route.method == "POST") {
      EXPECT_TRUE(responses.contains("403")) << route.pattern;
      EXPECT_TRUE(op.contains("requestBody")) << route.pattern;
    }
    // A user action may be answered 202 in fleet mode (recorded for the leader).
    if (route.method == "POST" && route.pattern != "/v1/deployments") {
      ASSERT_TRUE(responses.contains("202")) << route.pattern;
      EXPECT_EQ(
          json::value_to<std::string>(
              responses.at("202").at("content").at("application/json").at("schema").at("$ref")),
          "#/components/schemas/Deployment")
          << route.pattern;
    }
    // Every path parameter is declared.
    for (std::string_view param : {"id", "name"}) {
      if (route.pattern.find("{" + std::string(param) + "}") == std::string::npos) continue;
      bool declared = false;
      for (const auto& p : op.at("parameters").as_array()) {
        declared = declared || (json::value_to<std::string>(p.at("name")) == param &&
                                json::value_to<std::string>(p.at("in")) == "path");
      }
      EXPECT_TRUE(declared) << route.pattern << " {" << param << "}";
    }
  }
  // Query parameters of the list routes.
  auto query_names = [&](const char* pattern) {
    std::set<std::string> out;
    for (const auto& p : paths.at(pattern).at("get").at("parameters").as_array()) {
      if (json::value_to<std::string>(p.at("in")) == "query") {
        out.insert(json::value_to<std::string>(p.at("name")));
      }
    }
    return out;
  };
  EXPECT_EQ(query_names("/v1/deployments"),
            (std::set<std::string>{"endpoint", "state", "since", "until", "limit", "page_token"}));
  for (const auto& p : paths.at("/v1/deployments").at("get").at("parameters").as_array()) {
    const std::string name = json::value_to<std::string>(p.at("name"));
    if (name == "since" || name == "until") {
      EXPECT_EQ(p.at("schema").at("format"), "date-time") << name;
    }
    if (name == "limit") {
      EXPECT_EQ(p.at("schema").at("minimum"), 1);
      EXPECT_EQ(p.at("schema").at("maximum"), 1000);
    }
  }
  EXPECT_TRUE(
      schemas.at("DeploymentList").at("properties").as_object().contains("next_page_token"));
  EXPECT_EQ(query_names("/v1/deployments/{id}/events"), (std::set<std::string>{"after"}));
  // Every referenced schema exists.
  const std::string text = r.body;
  for (std::size_t at = text.find("#/components/schemas/"); at != std::string::npos;
       at = text.find("#/components/schemas/", at + 1)) {
    const auto start = at + std::string_view("#/components/schemas/").size();
    const std::string name = text.substr(start, text.find('"', start) - start);
    EXPECT_TRUE(schemas.contains(name)) << name;
  }
  // No number in Boost.JSON's exponent form.
  EXPECT_EQ(text.find("E-"), std::string::npos);
}

}  // namespace
}  // namespace mlcanary::api
