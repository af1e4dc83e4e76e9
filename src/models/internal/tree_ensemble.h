// TreeEnsemble: a native walker over a gbtree XGBoost model's trees, built from
// the model's JSON. Private to models (XgboostBackend uses it when it answers as
// XGBoost does, checked at load).
#ifndef MLCANARY_MODELS_INTERNAL_TREE_ENSEMBLE_H_
#define MLCANARY_MODELS_INTERNAL_TREE_ENSEMBLE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mlcanary::models::internal {

// The trees of a single-output gbtree model with numeric splits, flattened into
// one node array. Immutable after Parse; safe for concurrent use.
class TreeEnsemble {
 public:
  // kValidation for anything it does not handle (dart, multi-class or
  // multi-target models, categorical splits, objectives other than
  // binary:logistic, reg:logistic and reg:squarederror): the caller then keeps
  // using XGBoost.
  static core::Result<TreeEnsemble> Parse(std::string_view model_json);

  // One prediction (after the objective's transform) per row of `values`
  // (rows * num_features() floats, row-major) into `out` (rows floats).
  void Predict(std::span<const float> values, std::size_t rows, std::span<float> out) const;

  std::size_t num_features() const { return num_features_; }
  std::size_t num_trees() const { return roots_.size(); }

 private:
  struct Node {
    float value;           // split threshold (x < value goes left), or the leaf value
    std::int32_t feature;  // -1 for a leaf
    std::int32_t left;     // index into nodes_; right = right_[i]
    std::int32_t right;
    std::uint8_t default_left;  // missing (NaN) goes left
  };

  float PredictRow(const float* row) const;
  friend class TreeEnsembleReader;  // Parse's steps (tree_ensemble.cc)

  std::vector<Node> nodes_;
  std::vector<std::int32_t> roots_;
  std::size_t num_features_ = 0;
  float base_margin_ = 0;
  bool sigmoid_ = false;
};

}  // namespace mlcanary::models::internal

#endif  // MLCANARY_MODELS_INTERNAL_TREE_ENSEMBLE_H_
