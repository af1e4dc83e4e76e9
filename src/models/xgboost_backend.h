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
// (bench/models/xgboost_backend_benchmark.cc) at a fraction of the memory. Each prediction
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
//
// Memory: every XGBoost call other than a prediction -- load, export, the
// load-time predictions, free -- runs on one thread of the process
// (internal/xgboost_thread.h), since XGBoost gives back what a call returned only
// when the booster is freed on the thread that made the call. The destructor
// queues the free there and returns; malloc's free pages are then given back to
// the system. A thread that predicted through XGBoost (models the native walker
// does not answer) may keep XGBoost's small entry for a freed booster (a few
// hundred bytes plus its largest answer) until a later booster reuses the
// address or the thread ends.
class XgboostBackend final : public ModelBackend {
 public:
  struct Options {
    int nthread = 1;           // XGBoost threads per prediction
    bool native_trees = true;  // use the native walker when it validates
  };

  // Loads `path` (.json or .ubj) on the XGBoost thread. kValidation when the file
  // is missing or not a model XGBoost can load ("model file '<path>' is not an
  // XGBoost model: <XGBoost's first line>"; the rest of XGBoost's message, a stack
  // trace, goes to the log). Never throws.
  static core::Result<std::unique_ptr<XgboostBackend>> Load(const std::string& path,
                                                            Options options);
  static core::Result<std::unique_ptr<XgboostBackend>> Load(const std::string& path) {
    return Load(path, Options{});
  }

  // Queues the booster's free on the XGBoost thread (FinishReleases waits for it).
  ~XgboostBackend() override;
  XgboostBackend(const XgboostBackend&) = delete;
  XgboostBackend& operator=(const XgboostBackend&) = delete;

  // Synchronous prediction on the calling thread. kValidation when rows.cols is
  // not the model's feature count; kModelError when XGBoost fails.
  core::Result<Predictions> Predict(const FeatureRows& rows) const;

  void PredictAsync(const FeatureRows& rows, PredictCallback done) override { done(Predict(rows)); }
  std::optional<std::size_t> num_features() const override { return num_features_; }
  // From the prediction made at load (per_row of its answer).
  std::optional<std::size_t> num_outputs() const override { return num_outputs_; }
  bool ready() const override { return true; }
  const std::string& name() const override { return name_; }

  // Whether predictions come from the native walker, and why not when they don't.
  bool uses_native_trees() const { return native_ != nullptr; }
  const std::string& native_trees_status() const { return native_status_; }

  // Through XGBoost, whatever uses_native_trees() says.
  core::Result<Predictions> PredictWithXgboost(const FeatureRows& rows) const;

  // Waits until the boosters of every backend destroyed so far are freed (for
  // tests and benchmarks that measure memory).
  static void FinishReleases();

 private:
  XgboostBackend(void* booster, std::size_t num_features, std::string name);
  // Load's XGBoost part, on the XGBoost thread.
  static core::Result<std::unique_ptr<XgboostBackend>> LoadHere(const std::string& path,
                                                                Options options);
  void TryNativeTrees();
  core::Result<Predictions> PredictNative(const FeatureRows& rows) const;
  core::Result<Predictions> PredictXgboost(const FeatureRows& rows) const;

  void* booster_;                                         // BoosterHandle, owned
  std::unique_ptr<const internal::TreeEnsemble> native_;  // null: XGBoost answers
  std::string native_status_;
  std::size_t num_features_;
  std::size_t num_outputs_ = 1;
  std::string name_;
};

}  // namespace mlcanary::models

#endif  // MLCANARY_MODELS_XGBOOST_BACKEND_H_
