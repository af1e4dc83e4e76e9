// Shared booster (in-place prediction from many threads) versus one booster per
// thread, one row per call as the gateway predicts.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "models/testing/xgboost_trainer.h"
#include "models/xgboost_backend.h"

namespace mlcanary::models {
namespace {

const std::string& ModelPath() {
  static const std::string path = [] {
    auto p = std::filesystem::temp_directory_path() /
             ("xgb_bench_" + std::to_string(::getpid()) + ".json");
    (void)testing::TrainSyntheticModel(p.string(), {.rows = 500, .trees = 100, .max_depth = 4});
    return p.string();
  }();
  return path;
}

std::unique_ptr<XgboostBackend> Load() { return std::move(*XgboostBackend::Load(ModelPath())); }

// Shared between a benchmark's threads; never destroyed (XGBoost's own statics
// may be gone by the time static destructors run).
XgboostBackend*& Shared() {
  static XgboostBackend* shared = nullptr;
  return shared;
}

void BM_SharedBooster(benchmark::State& state) {
  if (state.thread_index() == 0) {
    delete Shared();
    Shared() = Load().release();
  }
  XgboostBackend* shared = nullptr;
  std::vector<float> row(8, 0.4f);
  // Threads start together after the setup barrier of the first iteration.
  for (auto _ : state) {
    if (shared == nullptr) shared = Shared();
    auto out = shared->Predict({row, 1, 8});
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SharedBooster)->ThreadRange(1, 16)->UseRealTime();

void BM_BoosterPerThread(benchmark::State& state) {
  auto own = Load();
  std::vector<float> row(8, 0.4f);
  for (auto _ : state) {
    auto out = own->Predict({row, 1, 8});
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BoosterPerThread)->ThreadRange(1, 16)->UseRealTime();

void BM_SharedBoosterBatch32(benchmark::State& state) {
  if (state.thread_index() == 0) {
    delete Shared();
    Shared() = Load().release();
  }
  XgboostBackend* shared = nullptr;
  std::vector<float> rows(32 * 8, 0.4f);
  for (auto _ : state) {
    if (shared == nullptr) shared = Shared();
    auto out = shared->Predict({rows, 32, 8});
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_SharedBoosterBatch32)->ThreadRange(1, 16)->UseRealTime();

}  // namespace
}  // namespace mlcanary::models

BENCHMARK_MAIN();
