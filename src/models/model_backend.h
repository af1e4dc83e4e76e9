// The ModelBackend interface: what the gateway calls to turn feature rows into
// predictions, whatever runs the model (in-process XGBoost, an HTTP model server).
#ifndef MLCANARY_MODELS_MODEL_BACKEND_H_
#define MLCANARY_MODELS_MODEL_BACKEND_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/types.h"

namespace mlcanary::models {

// Dense row-major feature rows: rows * cols finite values.
struct FeatureRows {
  std::span<const float> values;
  std::size_t rows = 0;
  std::size_t cols = 0;
};

// A model's answer: rows * per_row values, row-major (per_row is 1 for
// regression and binary classification, the class count for multi-class).
struct Predictions {
  std::vector<float> values;
  std::size_t rows = 0;
  std::size_t per_row = 1;
};

// Called exactly once with the predictions or the error. Backends may call it
// before PredictAsync returns (in-process models) or later from one of their own
// threads (network models); it must not block.
using PredictCallback = std::move_only_function<void(core::Result<Predictions>)>;

// One loaded model. Thread-safe: PredictAsync may be called from many threads at
// once. Errors: kValidation (input the model cannot take, e.g. a wrong feature
// count: a 400 of this variant), kModelError (the model or its server failed:
// 502), kUnavailable (cannot reach the model: 503), kTimeout (504).
class ModelBackend {
 public:
  virtual ~ModelBackend() = default;

  // `rows` need only stay valid until PredictAsync returns.
  virtual void PredictAsync(const FeatureRows& rows, PredictCallback done) = 0;

  // The feature count the model expects; nullopt when the backend cannot know
  // it (a remote model server validates on its own).
  virtual std::optional<std::size_t> num_features() const = 0;

  // Outputs per row the model answers (1 for regression and binary
  // classification, the class count for multi-class); nullopt when the backend
  // cannot know it before it answers (a remote model server).
  virtual std::optional<std::size_t> num_outputs() const { return std::nullopt; }

  // Cheap: whether the model can serve now (as last observed, never blocks).
  virtual bool ready() const = 0;

  // A short name of the model for responses and logs ("recs-v2").
  virtual const std::string& name() const = 0;
};

// Builds a loaded, ready backend for a variant's model, or the reason it cannot.
// The gateway calls it from CreateVariant before the variant gets traffic.
using ModelBackendFactory =
    std::function<core::Result<std::unique_ptr<ModelBackend>>(const core::ModelSpec&)>;

}  // namespace mlcanary::models

#endif  // MLCANARY_MODELS_MODEL_BACKEND_H_
