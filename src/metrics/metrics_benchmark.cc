// The gateway's per-request cost of measurement, and the controller's cost of
// reading one endpoint's window.
#include <benchmark/benchmark.h>

#include <chrono>

#include "core/clock.h"
#include "metrics/registry.h"

namespace mlcanary::metrics {
namespace {

using std::chrono::microseconds;

core::ManualClock& Clock() {
  static core::ManualClock clock(
      core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 11 / 28)));
  return clock;
}

MetricsRegistry& SharedRegistry() {
  static MetricsRegistry registry(Clock());
  return registry;
}

// Counter + histogram of one request; with ->Threads(2) both threads record
// into the same variant.
void BM_RecordOneRequest(benchmark::State& state) {
  VariantMetrics* v = SharedRegistry().Variant("recs", "canary");
  std::int64_t i = state.thread_index() * 7919;
  for (auto _ : state) {
    v->Record(200, microseconds(500 + (i & 1023)), microseconds(600 + (i & 1023)));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordOneRequest)->Threads(1)->Threads(2)->UseRealTime();

// Snapshot of one endpoint (2 variants) over a window of 60 intervals with traffic.
void BM_SnapshotEndpointWindow(benchmark::State& state) {
  core::ManualClock clock(core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1)));
  RegistryOptions options;
  options.interval = std::chrono::seconds(1);
  MetricsRegistry registry(clock, options);
  VariantMetrics* production = registry.Variant("recs", "production");
  VariantMetrics* canary = registry.Variant("recs", "canary");
  const core::Timestamp start = clock.Now();
  for (int s = 0; s < 60; ++s) {
    registry.Tick();
    for (int i = 0; i < 900; ++i)
      production->Record(200, microseconds(800 + i), microseconds(900 + i));
    for (int i = 0; i < 100; ++i)
      canary->Record(i % 50 ? 200 : 500, microseconds(900 + i * 3), microseconds(1000 + i * 3));
    clock.Advance(std::chrono::seconds(1));
  }
  registry.Tick();
  const core::Timestamp end = clock.Now();
  for (auto _ : state) {
    auto snap = registry.Snapshot("recs", start, end);
    benchmark::DoNotOptimize(snap);
  }
}
BENCHMARK(BM_SnapshotEndpointWindow)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mlcanary::metrics

BENCHMARK_MAIN();
