// XgboostBackend: loading with XGBoosterLoadModel, prediction with in-place
// dense prediction (no DMatrix per request).
#include "models/xgboost_backend.h"

#include <xgboost/c_api.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <utility>

#include "models/internal/tree_ensemble.h"

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
  if (auto warm = backend->PredictWithXgboost({zeros, 1, backend->num_features_}); !warm) {
    return core::ValidationError("cannot load model '" + path + "': " + warm.error().message());
  }
  if (options.native_trees) {
    backend->TryNativeTrees();
  } else {
    backend->native_status_ = "disabled";
  }
  return backend;
}

XgboostBackend::XgboostBackend(void* booster, std::size_t num_features, std::string name)
    : booster_(booster), num_features_(num_features), name_(std::move(name)) {}

XgboostBackend::~XgboostBackend() { XGBoosterFree(booster_); }

void XgboostBackend::TryNativeTrees() {
  bst_ulong length = 0;
  const char* buffer = nullptr;
  if (XGBoosterSaveModelToBuffer(booster_, R"({"format": "json"})", &length, &buffer) != 0) {
    native_status_ = "cannot export the model as JSON: " + LastXgbError();
    return;
  }
  auto ensemble = internal::TreeEnsemble::Parse(std::string_view(buffer, length));
  if (!ensemble) {
    native_status_ = ensemble.error().message();
    return;
  }
  if (ensemble->num_features() != num_features_) {
    native_status_ = "native trees: feature count differs from XGBoost's";
    return;
  }
  // Validation rows: uniform values over a range wider than typical features,
  // exact zeros and ones, and some missing values.
  constexpr std::size_t kRows = 512;
  const std::size_t cols = num_features_;
  std::vector<float> values(kRows * cols);
  std::mt19937 rng(20240601);
  std::uniform_real_distribution<float> uniform(-2.0f, 3.0f);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t kind = rng() % 16;
    values[i] = kind == 0 ? 0.0f : kind == 1 ? 1.0f : kind == 2 ? NAN : uniform(rng);
  }
  auto expected = PredictWithXgboost({values, kRows, cols});
  if (!expected || expected->per_row != 1 || expected->values.size() != kRows) {
    native_status_ = "native trees: XGBoost gave no single-output reference";
    return;
  }
  std::vector<float> got(kRows);
  ensemble->Predict(values, kRows, got);
  for (std::size_t r = 0; r < kRows; ++r) {
    const float want = expected->values[r];
    if (!(std::fabs(got[r] - want) <= 1e-5f + 1e-5f * std::fabs(want))) {
      native_status_ = "native trees: differ from XGBoost on validation row " + std::to_string(r);
      return;
    }
  }
  native_ = std::make_unique<const internal::TreeEnsemble>(std::move(*ensemble));
  native_status_ = "native trees: " + std::to_string(native_->num_trees()) + " trees validated";
}

core::Result<Predictions> XgboostBackend::Predict(const FeatureRows& rows) const {
  if (native_ == nullptr) return PredictWithXgboost(rows);
  if (rows.cols != num_features_) {
    return core::ValidationError("model '" + name_ + "' expects " + std::to_string(num_features_) +
                                 " features, got " + std::to_string(rows.cols));
  }
  if (rows.values.size() != rows.rows * rows.cols) {
    return core::InternalError("feature buffer size does not match rows * cols");
  }
  Predictions out;
  out.rows = rows.rows;
  out.values.resize(rows.rows);
  native_->Predict(rows.values, rows.rows, out.values);
  return out;
}

core::Result<Predictions> XgboostBackend::PredictWithXgboost(const FeatureRows& rows) const {
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
