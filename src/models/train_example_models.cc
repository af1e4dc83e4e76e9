// Writes the example models: mlcanary_train_example_models OUT_DIR [--only FILE]
// -> OUT_DIR/recs-v1.json, recs-v2.ubj (8 features, 100 trees), recs-v3.json
// (12 features: a feature-schema change), recs-v4.json (8 features, a slow model) and
// recs-v5.ubj (v2 trained with features 0 and 1 swapped),
// then prints each model's size and single-row prediction latency.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "models/testing/xgboost_trainer.h"
#include "models/xgboost_backend.h"

namespace {

using mlcanary::models::XgboostBackend;
using mlcanary::models::testing::TrainOptions;
using mlcanary::models::testing::TrainSyntheticModel;

struct Spec {
  std::string file;
  TrainOptions options;
};

// Median and p99 of single-row predictions through XgboostBackend (the gateway's path).
void ReportLatency(const std::string& path) {
  auto backend = XgboostBackend::Load(path);
  if (!backend) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), backend.error().ToString().c_str());
    return;
  }
  const std::size_t cols = *(*backend)->num_features();
  std::vector<float> row(cols, 0.5f);
  std::vector<double> micros;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (micros.size() < 20000 && std::chrono::steady_clock::now() < deadline) {
    row[0] = static_cast<float>(micros.size() % 100) / 100.0f;
    const auto start = std::chrono::steady_clock::now();
    auto out = (*backend)->Predict({row, 1, cols});
    const auto end = std::chrono::steady_clock::now();
    if (!out) return;
    micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(micros.begin(), micros.end());
  std::printf(
      "  %s: %zu features, %.1f MB, single-row predict p50 %.1f us, p99 %.1f us (%zu calls)\n",
      path.c_str(), cols, std::filesystem::file_size(path) / 1e6, micros[micros.size() / 2],
      micros[micros.size() * 99 / 100], micros.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && std::string(argv[2]) == "--only")) {
    std::fprintf(stderr, "usage: %s OUT_DIR [--only FILE]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string only = argc == 4 ? argv[3] : "";
  const Spec specs[] = {
      {"recs-v1.json", {.rows = 500, .features = 8, .trees = 100, .max_depth = 3, .seed = 1}},
      {"recs-v2.ubj", {.rows = 500, .features = 8, .trees = 100, .max_depth = 4, .seed = 2}},
      // v2 with four more features: serving 8-feature requests to it is a 400.
      {"recs-v3.json", {.rows = 500, .features = 12, .trees = 100, .max_depth = 4, .seed = 3}},
      // Slow: many deep trees in a DART booster, which XGBoost predicts one tree at
      // a time (about 4 us a tree; a gbtree of 1500 depth-10 trees took 0.17 ms a
      // row at 18 MB, so reaching 1 ms that way would need > 100 MB on disk). A
      // small eta and min_child_weight 0 keep the trees growing deep. Training a
      // DART model is quadratic in the tree count (about 4 min here).
      {"recs-v4.json",
       {.rows = 2000,
        .features = 8,
        .trees = 1500,
        .max_depth = 10,
        .seed = 4,
        .eta = 0.02,
        .min_child_weight = 0.0,
        .booster = "dart"}},
      // v2 trained with features 0 and 1 swapped (a feature-order bug): as fast
      // and error-free as v2, with the same spread of predictions over random
      // requests, but a different answer for most users -- what the paired
      // divergence check finds.
      {"recs-v5.ubj",
       {.rows = 500,
        .features = 8,
        .trees = 100,
        .max_depth = 4,
        .seed = 2,
        .swap_a = 0,
        .swap_b = 1}},
  };
  for (const auto& spec : specs) {
    if (!only.empty() && spec.file != only) continue;
    const std::string path = dir + "/" + spec.file;
    if (auto status = TrainSyntheticModel(path, spec.options); !status) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), status.error().ToString().c_str());
      return 1;
    }
    std::printf("wrote %s\n", path.c_str());
    ReportLatency(path);
  }
  return 0;
}
