// From the check that confirms a breach to rollback weights applied in the
// gateway's router: the controller reads the (breached) window, decides,
// persists ROLLING_BACK to SQLite (synchronous=FULL), and swaps the router's
// weights. Real adapters: gateway::Router with XGBoost models, the SQLite store.
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>

#include "controller/controller.h"
#include "core/system_clock.h"
#include "core/testing/port_fakes.h"
#include "gateway/router.h"
#include "models/backend_factory.h"
#include "store/sqlite_deployment_store.h"

namespace mlcanary {
namespace {

namespace fs = std::filesystem;

// Canary failing 5% of its requests: error-breached on every check.
class BreachedMetrics final : public core::MetricsSource {
 public:
  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view,
                                                                    core::Timestamp,
                                                                    core::Timestamp) override {
    return std::map<std::string, core::WindowMetrics>{
        {"production", {.invocations = 9000, .errors_5xx = 9, .p99_ms = 40}},
        {"canary", {.invocations = 1000, .errors_5xx = 50, .p99_ms = 45}}};
  }
};

// Notes when the router took the rollback weights (canary at 0).
class TimedTraffic final : public core::testing::ForwardingTrafficControl {
 public:
  using ForwardingTrafficControl::ForwardingTrafficControl;
  std::chrono::steady_clock::time_point applied_at;

  core::Status SetWeights(std::string_view e, const std::vector<core::VariantWeight>& w) override {
    auto s = ForwardingTrafficControl::SetWeights(e, w);
    for (const auto& vw : w) {
      if (vw.variant == "canary" && vw.weight == 0) applied_at = std::chrono::steady_clock::now();
    }
    return s;
  }
};

using core::testing::NullNotifier;

void BM_BreachToRollbackWeightsApplied(benchmark::State& state) {
  const fs::path models = fs::path(MLCANARY_SOURCE_DIR) / "examples" / "models";
  const fs::path dir = fs::temp_directory_path() / ("mlcanary-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto store = store::SqliteDeploymentStore::Open((dir / "bench.db").string());
  if (!store) {
    state.SkipWithError(store.error().ToString().c_str());
    return;
  }
  gateway::Router router({}, models::MakeModelBackendFactory(), nullptr);
  core::Endpoint recs{.name = "recs", .status = core::EndpointStatus::kInService, .variants = {}};
  recs.variants.push_back(
      {.name = "production",
       .weight = 1.0,
       .instances = 1,
       .model = {.kind = core::ModelKind::kXgboost, .path = (models / "recs-v1.json").string()}});
  if (!router.AddEndpoint(recs)) {
    state.SkipWithError("model v1 did not load");
    return;
  }
  TimedTraffic traffic(router);
  BreachedMetrics metrics;
  NullNotifier notifier;
  core::SystemClock clock;
  controller::Controller controller({.traffic = traffic,
                                     .metrics = metrics,
                                     .store = **store,
                                     .notifier = notifier,
                                     .clock = clock});
  core::Policy policy;
  policy.error_breaches_to_rollback = 1;  // this check confirms the breach
  int n = 0;
  double total_ms = 0;
  for (auto _ : state) {
    state.PauseTiming();
    controller::StartRequest r;
    r.id = "dep-" + std::to_string(n++);
    r.endpoint = "recs";
    r.canary_variant = "canary";
    r.model = {.kind = core::ModelKind::kXgboost, .path = (models / "recs-v2.ubj").string()};
    r.policy = policy;
    if (!controller.StartDeployment(r)) {
      state.SkipWithError("start failed");
      break;
    }
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    auto outcome = controller.RunCheck(r.id);
    state.PauseTiming();
    if (!outcome || outcome->deployment.state != core::DeploymentState::kRolledBack) {
      state.SkipWithError("no rollback");
      break;
    }
    total_ms += std::chrono::duration<double, std::milli>(traffic.applied_at - start).count();
    state.ResumeTiming();
  }
  state.counters["to_weights_applied_ms"] = total_ms / std::max(1, n);
  fs::remove_all(dir);
}
BENCHMARK(BM_BreachToRollbackWeightsApplied)->Unit(benchmark::kMillisecond)->Iterations(50);

}  // namespace
}  // namespace mlcanary

BENCHMARK_MAIN();
