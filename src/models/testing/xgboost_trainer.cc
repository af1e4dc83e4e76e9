// Synthetic training through the XGBoost C API.
#include "models/testing/xgboost_trainer.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace mlcanary::models::testing {

core::Status TrainSyntheticModel(const std::string& path, const TrainOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  const auto rows = static_cast<bst_ulong>(options.rows);
  const auto cols = static_cast<bst_ulong>(options.features);
  std::vector<float> data(rows * cols);
  std::vector<float> labels(rows);
  for (bst_ulong r = 0; r < rows; ++r) {
    for (bst_ulong c = 0; c < cols; ++c) data[r * cols + c] = uniform(rng);
    const float* x = &data[r * cols];
    float signal = 2 * x[0] + noise(rng);
    if (cols > 1) signal -= x[1];
    if (cols > 2) signal += 0.5f * x[2];
    if (options.num_class > 1) {
      // signal spans about [-1.3, 2.8]: equal bands over [-1, 2.5].
      const int k = options.num_class;
      const auto band =
          static_cast<int>(std::floor((signal + 1.0f) / 3.5f * static_cast<float>(k)));
      labels[r] = static_cast<float>(std::clamp(band, 0, k - 1));
    } else {
      labels[r] = signal > 0.75f ? 1.0f : 0.0f;
    }
  }
  if (options.swap_a >= 0 && options.swap_b >= 0 && options.swap_a < options.features &&
      options.swap_b < options.features) {
    for (bst_ulong r = 0; r < rows; ++r) {
      std::swap(data[r * cols + static_cast<bst_ulong>(options.swap_a)],
                data[r * cols + static_cast<bst_ulong>(options.swap_b)]);
    }
  }
  auto xgb_error = [](std::string what) {
    return core::InternalError(what + ": " + XGBGetLastError());
  };
  DMatrixHandle dmat = nullptr;
  if (XGDMatrixCreateFromMat(data.data(), rows, cols, NAN, &dmat) != 0) {
    return xgb_error("XGDMatrixCreateFromMat");
  }
  BoosterHandle booster = nullptr;
  core::Status status = core::Ok();
  if (XGDMatrixSetFloatInfo(dmat, "label", labels.data(), rows) != 0) {
    status = xgb_error("XGDMatrixSetFloatInfo");
  } else if (XGBoosterCreate(&dmat, 1, &booster) != 0) {
    status = xgb_error("XGBoosterCreate");
  } else {
    const std::string depth = std::to_string(options.max_depth);
    const std::string seed = std::to_string(options.seed % 1000000);
    const std::string eta = std::to_string(options.eta);
    const std::string min_child_weight = std::to_string(options.min_child_weight);
    const bool multi = options.num_class > 1;
    const std::string num_class = std::to_string(multi ? options.num_class : 1);
    std::vector<std::pair<const char*, const char*>> params = {
        {"objective", multi ? "multi:softprob" : "binary:logistic"},
        {"booster", options.booster.c_str()},
        {"max_depth", depth.c_str()},
        {"eta", eta.c_str()},
        {"min_child_weight", min_child_weight.c_str()},
        {"seed", seed.c_str()},
        {"nthread", "1"},
        {"tree_method", "exact"},
    };
    if (multi) params.emplace_back("num_class", num_class.c_str());
    for (const auto& [key, value] : params) {
      if (status && XGBoosterSetParam(booster, key, value) != 0) {
        status = xgb_error("XGBoosterSetParam");
      }
    }
    for (int i = 0; status && i < options.trees; ++i) {
      if (XGBoosterUpdateOneIter(booster, i, dmat) != 0) {
        status = xgb_error("XGBoosterUpdateOneIter");
      }
    }
    if (status && XGBoosterSaveModel(booster, path.c_str()) != 0) {
      status = xgb_error("XGBoosterSaveModel");
    }
  }
  if (booster != nullptr) XGBoosterFree(booster);
  XGDMatrixFree(dmat);
  return status;
}

}  // namespace mlcanary::models::testing
