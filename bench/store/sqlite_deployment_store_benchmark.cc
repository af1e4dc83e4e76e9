// Microbenchmarks of the SQLite store. Each Update is one durable transaction
// (synchronous=FULL), so the figure is dominated by the file system's fsync.
#include <benchmark/benchmark.h>

#include <vector>

#include "store/sqlite_deployment_store.h"
#include "store/testing/temp_dir.h"

namespace mlcanary::store {
namespace {

core::DeploymentEvent MakeEvent(const char* reason) {
  core::DeploymentEvent e;
  e.kind = core::EventKind::kCheck;
  e.from_state = core::DeploymentState::kInProgress;
  e.to_state = core::DeploymentState::kInProgress;
  e.weight_before = 0.1;
  e.weight_after = 0.1;
  e.reason = reason;
  e.actor = "controller";
  e.check = core::HealthReport{};
  e.check->canary = {.invocations = 600, .errors_5xx = 1, .p50_ms = 12, .p99_ms = 45};
  e.check->production = {.invocations = 5400, .p50_ms = 10, .p99_ms = 40};
  e.check->reason = "healthy";
  return e;
}

// One controller step as the store sees it: the record (weight, progress) and
// two events (the check and the weight change) in one transaction.
void BM_SqliteUpdateWithEvent(benchmark::State& state) {
  testing::TempDir dir;
  auto store = SqliteDeploymentStore::Open(dir.File("bench.db"));
  if (!store) {
    state.SkipWithError(store.error().ToString().c_str());
    return;
  }
  core::Deployment d;
  d.id = "bench";
  d.endpoint = "recs";
  d.production_variant = "production";
  d.canary_variant = "canary";
  d.canary_model.path = "models/v2.json";
  d.state = core::DeploymentState::kInProgress;
  auto current = (*store)->Create(d, {});
  if (!current) {
    state.SkipWithError(current.error().ToString().c_str());
    return;
  }
  const std::vector<core::DeploymentEvent> events = {MakeEvent("check"), MakeEvent("step")};
  for (auto _ : state) {
    current->progress.checks += 1;
    auto updated = (*store)->Update(*current, events);
    if (!updated) {
      state.SkipWithError(updated.error().ToString().c_str());
      return;
    }
    current = std::move(updated);
  }
  state.SetItemsProcessed(state.iterations());
}
// Wall time: the cost is the fsync, which CPU time does not see.
BENCHMARK(BM_SqliteUpdateWithEvent)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_SqliteGet(benchmark::State& state) {
  testing::TempDir dir;
  auto store = SqliteDeploymentStore::Open(dir.File("bench.db"));
  if (!store) {
    state.SkipWithError(store.error().ToString().c_str());
    return;
  }
  core::Deployment d;
  d.id = "bench";
  d.endpoint = "recs";
  d.canary_model.path = "models/v2.json";
  (void)(*store)->Create(d, {});
  for (auto _ : state) benchmark::DoNotOptimize((*store)->Get("bench"));
}
BENCHMARK(BM_SqliteGet)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mlcanary::store

BENCHMARK_MAIN();
