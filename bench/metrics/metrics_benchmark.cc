// Microbenchmarks of the metrics hot path (one request recorded, from 1 and 2
// threads into the same variant), an endpoint window snapshot, and the rest.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "core/clock.h"
#include "metrics/latency_histogram.h"
#include "metrics/prometheus.h"
#include "metrics/registry.h"

namespace mlcanary::metrics {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

const core::Timestamp kT0{std::chrono::milliseconds(1'767'225'600'000)};

// 4096 model latencies, log-normal around 20 ms, so records spread over many
// buckets as real traffic does.
const std::array<std::int64_t, 4096>& Latencies() {
  static const auto values = [] {
    std::array<std::int64_t, 4096> v{};
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> dist(std::log(20e6), 0.7);
    for (auto& x : v) x = static_cast<std::int64_t>(dist(rng));
    return v;
  }();
  return values;
}

void BM_HistogramRecord(benchmark::State& state) {
  LatencyHistogram h;
  const auto& lat = Latencies();
  std::size_t i = 0;
  for (auto _ : state) {
    h.Record(nanoseconds(lat[i++ & 4095]));
  }
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_HistogramRecord);

// Counter + histogram + overhead for one request, into one shared variant.
void BM_RecordOneRequest(benchmark::State& state) {
  static core::ManualClock clock(kT0);
  static MetricsRegistry registry(clock);
  auto v = registry.Variant("recs", "canary");
  const auto& lat = Latencies();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 977;
  for (auto _ : state) {
    const std::int64_t model = lat[i++ & 4095];
    v->Record((i & 255) == 0 ? 503 : 200, nanoseconds(model), nanoseconds(model + 35'000));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordOneRequest)->Threads(1)->Threads(2)->UseRealTime();

// 4096 predictions (one output each), a probability-like spread over (0, 1).
const std::array<float, 4096>& Predictions() {
  static const auto values = [] {
    std::array<float, 4096> v{};
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> dist(0.0f, 1.0f);
    for (auto& x : v) x = dist(rng) * dist(rng);
    return v;
  }();
  return values;
}

// BM_RecordOneRequest plus the answer's prediction (issue 14's divergence
// bookkeeping): the difference of the two is what the prediction costs.
void BM_RecordOneRequestWithPrediction(benchmark::State& state) {
  static core::ManualClock clock(kT0);
  static MetricsRegistry registry(clock);
  auto v = registry.Variant("recs", "canary");
  const auto& lat = Latencies();
  const auto& pred = Predictions();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 977;
  for (auto _ : state) {
    const std::int64_t model = lat[i & 4095];
    const float* p = &pred[i++ & 4095];
    v->Record((i & 255) == 0 ? 503 : 200, nanoseconds(model), nanoseconds(model + 35'000),
              {.values = p, .rows = 1, .per_row = 1});
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordOneRequestWithPrediction)->Threads(1)->Threads(2)->UseRealTime();

// The same while the interval turns every `range(0)` records (a fold each time).
void BM_RecordRequestWithIntervalTurns(benchmark::State& state) {
  core::ManualClock clock(kT0);
  MetricsRegistry registry(clock);
  auto v = registry.Variant("recs", "canary");
  const auto& lat = Latencies();
  const std::int64_t every = state.range(0);
  std::int64_t n = 0;
  for (auto _ : state) {
    const std::int64_t model = lat[static_cast<std::size_t>(n) & 4095];
    v->Record(200, nanoseconds(model), nanoseconds(model + 35'000));
    if (++n % every == 0) {
      clock.Advance(seconds(1));
      registry.Tick();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordRequestWithIntervalTurns)->Arg(100'000);

void BM_VariantLookup(benchmark::State& state) {
  core::ManualClock clock(kT0);
  MetricsRegistry registry(clock);
  registry.Variant("recs", "production");
  registry.Variant("recs", "canary");
  for (auto _ : state) {
    benchmark::DoNotOptimize(registry.Variant("recs", "canary"));
  }
}
BENCHMARK(BM_VariantLookup);

// Heap in use (glibc): chunks of the main arena plus mmapped ones.
std::int64_t HeapBytes() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<std::int64_t>(m.uordblks + m.hblkhd);
}

// One rollout's canary under a name of its own (canary-1, canary-2, ...): made,
// 100 requests recorded into it, removed. Reports the heap each rollout leaves
// behind once its recorder is no longer used (single-threaded: one arena), and
// the recorders still in memory at the end (production's: 1).
void BM_AddRemoveUniqueVariant(benchmark::State& state) {
  core::ManualClock clock(kT0);
  MetricsRegistry registry(clock);
  registry.Variant("recs", "production");
  const auto& lat = Latencies();
  const std::int64_t heap_before = HeapBytes();
  std::int64_t n = 0;
  for (auto _ : state) {
    const std::string name = "canary-" + std::to_string(++n);
    {
      auto v = registry.Variant("recs", name);
      for (std::size_t i = 0; i < 100; ++i) {
        v->Record(200, nanoseconds(lat[i]), nanoseconds(lat[i] + 35'000));
      }
    }
    registry.RemoveVariant("recs", name);
  }
  state.counters["heap_kb_per_rollout"] =
      static_cast<double>(HeapBytes() - heap_before) / 1024.0 / static_cast<double>(n);
  state.counters["live_recorders"] = static_cast<double>(registry.live_recorders());
}
BENCHMARK(BM_AddRemoveUniqueVariant)->Iterations(200)->Unit(benchmark::kMicrosecond);

// A registry whose two variants of "recs" hold `intervals` seconds of traffic
// (2000 requests per second each, written by two threads' shards).
std::unique_ptr<MetricsRegistry> FilledRegistry(core::ManualClock& clock, int intervals) {
  RegistryOptions options;
  options.slots = 600;
  auto registry = std::make_unique<MetricsRegistry>(clock, options);
  const std::shared_ptr<VariantMetrics> variants[] = {registry->Variant("recs", "production"),
                                                      registry->Variant("recs", "canary")};
  const auto& lat = Latencies();
  std::size_t k = 0;
  for (int s = 0; s < intervals; ++s) {
    for (const auto& v : variants) {
      for (int r = 0; r < 2000; ++r) {
        const std::int64_t model = lat[k++ & 4095];
        v->Record(200, nanoseconds(model), nanoseconds(model + 35'000));
      }
    }
    clock.Advance(seconds(1));
    registry->Tick();
  }
  return registry;
}

// Snapshot of one endpoint (2 variants) over a window of range(0) intervals.
void BM_SnapshotEndpointWindow(benchmark::State& state) {
  core::ManualClock clock(kT0);
  const int intervals = static_cast<int>(state.range(0));
  auto registry = FilledRegistry(clock, 600);
  const core::Timestamp end = clock.Now();
  const core::Timestamp start = end - seconds(intervals);
  for (auto _ : state) {
    auto snap = registry->Snapshot("recs", start, end);
    benchmark::DoNotOptimize(snap);
  }
}
BENCHMARK(BM_SnapshotEndpointWindow)->Arg(1)->Arg(60)->Arg(600)->Unit(benchmark::kMicrosecond);

void BM_RenderPrometheus(benchmark::State& state) {
  core::ManualClock clock(kT0);
  auto registry = FilledRegistry(clock, 5);
  ControllerStatus status;
  status.SetDeployment("recs", "d-1", core::DeploymentState::kInProgress, 0.2, false);
  status.RecordCheck("recs", core::Verdict::kHealthy);
  for (auto _ : state) {
    benchmark::DoNotOptimize(RenderPrometheus(*registry, &status));
  }
}
BENCHMARK(BM_RenderPrometheus)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mlcanary::metrics

BENCHMARK_MAIN();
