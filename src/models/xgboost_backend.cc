// XgboostBackend: loading with XGBoosterLoadModel, prediction with in-place
// dense prediction (no DMatrix per request).
#include "models/xgboost_backend.h"

#include <xgboost/c_api.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>

namespace mlcanary::models {
namespace {

std::string LastXgbError() {
  const char* message = XGBGetLastError();
  return message != nullptr ? std::string(message) : std::string("unknown XGBoost error");
}

// Prediction config (cache_id is required by XGBoost 1.7): normal output, all trees, strict_shape
// off (1-D for one output per row). Missing values cannot occur (the gateway refuses non-finite
// features), NaN keeps XGBoost's default anyway.
constexpr char kPredictConfig[] =
    R"({"type": 0, "training": false, "cache_id": 0, "iteration_begin": 0, "iteration_end": 0,)"
    R"( "strict_shape": true, "missing": NaN})";

// XGBoost builds a proxy DMatrix for every in-place prediction when none is
// given, and its construction reads cgroup files (about 30 us of system calls
// per prediction in 1.7). A proxy only carries the data of the call at hand,
// so one per thread serves every booster.
DMatrixHandle ThreadProxy() {
  struct Proxy {
    DMatrixHandle handle = nullptr;
    Proxy() {
      if (XGProxyDMatrixCreate(&handle) != 0) handle = nullptr;
    }
    ~Proxy() {
      if (handle != nullptr) XGDMatrixFree(handle);
    }
  };
  thread_local Proxy proxy;
  return proxy.handle;
}

}  // namespace

core::Result<std::unique_ptr<XgboostBackend>> XgboostBackend::Load(const std::string& path,
                                                                   Options options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return core::ValidationError("model file '" + path + "' does not exist");
  }
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) {
    return core::InternalError("XGBoosterCreate: " + LastXgbError());
  }
  auto fail = [&](std::string message) {
    XGBoosterFree(booster);
    return core::ValidationError("cannot load model '" + path + "': " + std::move(message));
  };
  if (XGBoosterLoadModel(booster, path.c_str()) != 0) return fail(LastXgbError());
  const std::string nthread = std::to_string(options.nthread < 1 ? 1 : options.nthread);
  if (XGBoosterSetParam(booster, "nthread", nthread.c_str()) != 0) return fail(LastXgbError());
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(booster, &features) != 0) return fail(LastXgbError());
  if (features == 0) return fail("the model has no features");
  std::string name = std::filesystem::path(path).stem().string();
  auto backend = std::unique_ptr<XgboostBackend>(
      new XgboostBackend(booster, static_cast<std::size_t>(features), std::move(name)));
  // A first prediction configures the learner once, here, rather than under the
  // first live request.
  std::vector<float> zeros(backend->num_features_, 0.0f);
  if (auto warm = backend->Predict({zeros, 1, backend->num_features_}); !warm) {
    return core::ValidationError("cannot load model '" + path + "': " + warm.error().message());
  }
  return backend;
}

XgboostBackend::~XgboostBackend() { XGBoosterFree(booster_); }

core::Result<Predictions> XgboostBackend::Predict(const FeatureRows& rows) const {
  if (rows.cols != num_features_) {
    return core::ValidationError("model '" + name_ + "' expects " + std::to_string(num_features_) +
                                 " features, got " + std::to_string(rows.cols));
  }
  if (rows.rows == 0) return Predictions{{}, 0, 1};
  if (rows.values.size() != rows.rows * rows.cols) {
    return core::InternalError("feature buffer size does not match rows * cols");
  }
  // __array_interface__ of the caller's buffer: no copy.
  char array_interface[192];
  std::snprintf(array_interface, sizeof(array_interface),
                R"({"data": [%)" PRIuPTR
                R"(, true], "shape": [%zu, %zu], "typestr": "<f4", "version": 3})",
                reinterpret_cast<std::uintptr_t>(rows.values.data()), rows.rows, rows.cols);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(booster_, array_interface, kPredictConfig, ThreadProxy(), &shape,
                                &dim, &result) != 0) {
    return core::MakeError(core::ErrorCode::kModelError,
                           "model '" + name_ + "' failed: " + LastXgbError());
  }
  // strict_shape: (rows, groups) for tree models.
  std::size_t total = 1;
  for (bst_ulong i = 0; i < dim; ++i) total *= static_cast<std::size_t>(shape[i]);
  if (dim < 1 || shape[0] != rows.rows || total % rows.rows != 0) {
    return core::MakeError(core::ErrorCode::kModelError,
                           "model '" + name_ + "' returned an unexpected shape");
  }
  Predictions out;
  out.rows = rows.rows;
  out.per_row = total / rows.rows;
  out.values.assign(result, result + total);
  return out;
}

}  // namespace mlcanary::models
