// Microbenchmarks of the shadow phase's bookkeeping (issue 14): the paired
// divergence of one copied request (compare the two answers, record the pair),
// and the production thread's cost of a request with and without a shadow copy.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "core/clock.h"
#include "gateway/invocation_handler.h"
#include "gateway/router.h"
#include "gateway/shadow.h"
#include "metrics/registry.h"
#include "models/testing/fake_backend.h"

namespace mlcanary::gateway {
namespace {

const core::Timestamp kT0{std::chrono::milliseconds(1'767'225'600'000)};

// 4096 one-row answers of each variant, the canary off by up to 0.02.
struct Answers {
  std::array<models::Predictions, 4096> production;
  std::array<models::Predictions, 4096> canary;
};
const Answers& SomeAnswers() {
  static const auto answers = [] {
    auto a = std::make_unique<Answers>();
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<float> p(0.0f, 1.0f);
    std::uniform_real_distribution<float> d(-0.02f, 0.02f);
    for (std::size_t i = 0; i < 4096; ++i) {
      const float v = p(rng);
      a->production[i] = models::Predictions{{v}, 1, 1};
      a->canary[i] = models::Predictions{{v + d(rng)}, 1, 1};
    }
    return a;
  }();
  return *answers;
}

// The divergence bookkeeping of one shadowed request: compare both one-row
// answers and record the pair into the canary's window (what a request adds
// beyond the canary's own Record, which BM_RecordOneRequestWithPrediction in
// bench/metrics measures).
void BM_PairBookkeeping(benchmark::State& state) {
  static core::ManualClock clock(kT0);
  static metrics::MetricsRegistry registry(clock);
  auto canary = registry.Variant("recs", "canary");
  const Answers& a = SomeAnswers();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 977;
  for (auto _ : state) {
    const std::size_t k = i++ & 4095;
    const PairComparison c = ComparePredictions(a.production[k], a.canary[k], -1, 0.01);
    canary->RecordPairs(c.pairs, c.disagreements, c.abs_diff_sum);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PairBookkeeping)->Threads(1)->Threads(2)->UseRealTime();

// One request through the handler (parse, route, in-process model, record,
// answer) on the calling thread: range(0) 0 without a shadow, 1 with a shadow
// copy of every request (taken before the model, posted after the answer; the
// canary runs on the shadow thread, whose copies beyond the queue's capacity
// are dropped and counted), 2 with split-phase mirroring of every request
// (divergence_mirror_sample 1.0: the same copy, its answer only compared).
void BM_HandleRequest(benchmark::State& state) {
  core::ManualClock clock(kT0);
  metrics::MetricsRegistry registry(clock);
  Router router(RouterOptions{}, nullptr, &registry);
  core::Endpoint endpoint{.name = "recs", .variants = {{.name = "production", .weight = 1.0}}};
  auto production = std::make_shared<models::testing::FakeBackend>("v1", 0.5f);
  auto canary = std::make_shared<models::testing::FakeBackend>("v2", 0.52f);
  if (!router.AddEndpointWithBackends(endpoint, {production}) ||
      !router.AddVariantWithBackend("recs", {.name = "canary", .weight = 0}, canary)) {
    state.SkipWithError("router setup failed");
    return;
  }
  core::ShadowSpec spec{.variant = "canary", .sample = 1.0};
  if (state.range(0) == 2) spec.mirror_to = "production";
  if (state.range(0) >= 1 && !router.SetShadow("recs", spec)) {
    state.SkipWithError("shadow setup failed");
    return;
  }
  auto queue = std::make_shared<ShadowQueue>(ShadowQueueOptions{.capacity = 1024, .threads = 1});
  InvocationHandler handler(
      router, [] { return std::uint64_t{0}; }, queue);
  const std::string body = R"({"user_id": "u1", "features": [0.9, 0.1, 0.5, 0.5]})";
  int status = 0;
  for (auto _ : state) {
    handler.Handle({.method = "POST", .target = "/v1/endpoints/recs/invocations", .body = body},
                   [&](InferenceResponse r) { status = r.status; });
  }
  benchmark::DoNotOptimize(status);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HandleRequest)->Arg(0)->Arg(1)->Arg(2);

}  // namespace
}  // namespace mlcanary::gateway

BENCHMARK_MAIN();
