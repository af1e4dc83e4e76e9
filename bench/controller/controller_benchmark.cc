// How long one controller tick takes over many active deployments, with the
// in-memory ports (the cost of the engine itself, not of any adapter).
#include <benchmark/benchmark.h>

#include <string>

#include "controller/controller.h"
#include "core/testing/memory_deployment_store.h"
#include "core/testing/port_fakes.h"
#include "core/testing/virtual_traffic_control.h"

namespace mlcanary::controller {
namespace {

using core::testing::NullNotifier;
using core::testing::ScriptedMetrics;

void BM_TickOverActiveDeployments(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  core::ManualClock clock(core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1)));
  core::testing::VirtualTrafficControl traffic;
  ScriptedMetrics metrics;  // steady: healthy on every check
  metrics.production = {
      .invocations = 9000, .errors_5xx = 9, .p50_ms = 20, .p90_ms = 30, .p99_ms = 40};
  metrics.canary = {.invocations = 1000, .errors_5xx = 2, .p50_ms = 21, .p90_ms = 31, .p99_ms = 45};
  core::testing::MemoryDeploymentStore store;
  NullNotifier notifier;
  Controller controller({.traffic = traffic,
                         .metrics = metrics,
                         .store = store,
                         .notifier = notifier,
                         .clock = clock});
  core::Policy policy;
  policy.bake = std::chrono::hours(1000);  // hold: every tick checks every deployment
  for (int i = 0; i < n; ++i) {
    core::Endpoint e;
    e.name = "endpoint-" + std::to_string(i);
    e.variants.push_back({.name = "production", .weight = 1.0, .instances = 1, .model = {}});
    traffic.AddEndpoint(e);
    StartRequest r;
    r.id = "dep-" + std::to_string(i);
    r.endpoint = e.name;
    r.policy = policy;
    if (!controller.StartDeployment(r)) state.SkipWithError("start failed");
  }
  std::size_t checks = 0;
  for (auto _ : state) {
    clock.Advance(policy.interval);
    auto outcomes = controller.Tick();
    if (!outcomes || static_cast<int>(outcomes->size()) != n) state.SkipWithError("tick failed");
    checks += outcomes->size();
  }
  state.counters["checks_per_s"] =
      benchmark::Counter(static_cast<double>(checks), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TickOverActiveDeployments)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

}  // namespace
}  // namespace mlcanary::controller

BENCHMARK_MAIN();
