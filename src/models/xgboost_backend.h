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

// One booster shared by every thread: XGBoost's in-place prediction
// (XGBoosterPredictFromDense) is thread-safe and keeps its output buffer per
// thread, and a shared booster measured as fast as one booster per thread
// (xgboost_backend_benchmark.cc) at a fraction of the memory. Each prediction
// runs on the calling thread (XGBoost's own thread pool is limited to
// `nthread`, 1 by default, so that the gateway's threads are not oversubscribed).
// Thread-safe.
class XgboostBackend final : public ModelBackend {
 public:
  struct Options {
    int nthread = 1;  // XGBoost threads per prediction
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

 private:
  XgboostBackend(void* booster, std::size_t num_features, std::string name)
      : booster_(booster), num_features_(num_features), name_(std::move(name)) {}

  void* booster_;  // BoosterHandle, owned
  std::size_t num_features_;
  std::string name_;
};

}  // namespace mlcanary::models

#endif  // MLCANARY_MODELS_XGBOOST_BACKEND_H_
