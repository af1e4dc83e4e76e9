// XgboostBackend: an XGBoost model (.json or .ubj) served in-process through the
// XGBoost C API.
#ifndef MLCANARY_MODELS_XGBOOST_BACKEND_H_
#define MLCANARY_MODELS_XGBOOST_BACKEND_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/error.h"
#include "models/model_backend.h"

namespace mlcanary::models {

namespace internal {
class TreeEnsemble;
}  // namespace internal

// One booster shared by every thread: XGBoost's in-place prediction
// (XGBoosterPredictFromDense) is thread-safe and keeps its output buffer per
// thread, and a shared booster measured as fast as one booster per thread
// (xgboost_backend_benchmark.cc) at a fraction of the memory. Each prediction
// runs on the calling thread (XGBoost's own thread pool is limited to
// `nthread`, 1 by default, so that the gateway's threads are not oversubscribed).
//
// Native trees: XGBoost's per-call overhead (~10 us) dwarfs walking 100 small
// trees (< 1 us), so a gbtree model with numeric splits and a binary:logistic,
// reg:logistic or reg:squarederror objective is also loaded into a native tree
// walker (internal/tree_ensemble.h), which answers instead of XGBoost only if it
// matched XGBoost's predictions on a validation set at load (within 1e-5).
// Anything else (dart, multi-class, categorical splits, a mismatch) stays on
// XGBoost. Thread-safe.
class XgboostBackend final : public ModelBackend {
 public:
  struct Options {
    int nthread = 1;           // XGBoost threads per prediction
    bool native_trees = true;  // use the native walker when it validates
  };

  // Loads `path` (.json or .ubj). kValidation when the file is missing or not a
  // model XGBoost can load.
  static core::Result<std::unique_ptr<XgboostBackend>> Load(const std::string& path,
                                                            Options options);
  static core::Result<std::unique_ptr<XgboostBackend>> Load(const std::string& path) {
    return Load(path, Options{});
  }

  ~XgboostBackend() override;
  XgboostBackend(const XgboostBackend&) = delete;
  XgboostBackend& operator=(const XgboostBackend&) = delete;

  // Synchronous prediction on the calling thread. kValidation when rows.cols is
  // not the model's feature count; kModelError when XGBoost fails.
  core::Result<Predictions> Predict(const FeatureRows& rows) const;

  void PredictAsync(const FeatureRows& rows, PredictCallback done) override { done(Predict(rows)); }
  std::optional<std::size_t> num_features() const override { return num_features_; }
  bool ready() const override { return true; }
  const std::string& name() const override { return name_; }

  // Whether predictions come from the native walker, and why not when they don't.
  bool uses_native_trees() const { return native_ != nullptr; }
  const std::string& native_trees_status() const { return native_status_; }

  // Through XGBoost, whatever uses_native_trees() says.
  core::Result<Predictions> PredictWithXgboost(const FeatureRows& rows) const;

 private:
  XgboostBackend(void* booster, std::size_t num_features, std::string name);
  void TryNativeTrees();

  void* booster_;                                         // BoosterHandle, owned
  std::unique_ptr<const internal::TreeEnsemble> native_;  // null: XGBoost answers
  std::string native_status_;
  std::size_t num_features_;
  std::string name_;
};

}  // namespace mlcanary::models

#endif  // MLCANARY_MODELS_XGBOOST_BACKEND_H_
