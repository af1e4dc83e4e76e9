// XgboostBackend: loading with XGBoosterLoadModel, prediction with in-place
// dense prediction (no DMatrix per request).
#include "models/xgboost_backend.h"

#include <spdlog/spdlog.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "models/internal/tree_ensemble.h"
#include "models/internal/xgboost_thread.h"

namespace mlcanary::models {
namespace {

// XGBoost's last error on this thread, for a message: its first line without the
// "[hh:mm:ss] file.cc:123: " prefix, printable ASCII only (a parse error quotes the
// file's bytes). Logged at `log_level`; the rest -- XGBoost adds a stack trace
// with library addresses -- is logged at debug level only.
std::string LastXgbError(std::string_view call, spdlog::level::level_enum log_level) {
  const char* raw = XGBGetLastError();
  const std::string_view full =
      raw != nullptr && *raw != '\0' ? std::string_view(raw) : "unknown XGBoost error";
  const std::size_t eol = full.find('\n');
  std::string_view line = full.substr(0, eol);
  spdlog::log(log_level, "xgboost: {} failed: {}", call, line);
  if (eol != std::string_view::npos) {
    spdlog::debug("xgboost: {} failed, the rest of XGBoost's message: {}", call,
                  full.substr(eol + 1));
  }
  // "[08:34:59] ./src/c_api/c_api.cc:1073: Check failed: ..."
  if (line.size() > 11 && line[0] == '[' && line[9] == ']' && line[10] == ' ') {
    const std::size_t colon = line.find(": ", 11);
    if (colon != std::string_view::npos) line.remove_prefix(colon + 2);
  }
  std::string out;
  for (char c : line.substr(0, 300)) {
    out += c >= 0x20 && c < 0x7f ? c : '?';
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ':')) out.pop_back();
  return out.empty() ? "unknown XGBoost error" : out;
}

// Whether XGBoost's error came from a C++ exception of its own reading (std::bad_alloc,
// basic_string::_M_replace_aux, ...) rather than from one of its checks, which
// start with "[hh:mm:ss]".
bool IsBareException(const char* message) { return message == nullptr || message[0] != '['; }

// Runs `job` on the XGBoost thread (internal/xgboost_thread.h), or here once that
// has stopped at exit. Throws what starting the thread throws.
void RunOnXgboostThread(const std::function<void()>& job) {
  if (internal::XgboostThread* thread = internal::XgboostThread::Get()) {
    thread->Run(job);
  } else {
    job();
  }
}

// Gives the free pages of every malloc arena back to the system: after a model's
// booster is freed, tens of MB of it would otherwise stay in the process.
void TrimMalloc() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

// A .json or .ubj model is a JSON or UBJSON object: its first byte is '{', and
// XGBoost checks exactly that. Saying so ourselves gives a clear message.
core::Status CheckModelFileStart(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext != ".json" && ext != ".ubj") return core::Ok();
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return core::ValidationError("model file '" + path + "' cannot be read");
  char head[3] = {};
  in.read(head, sizeof(head));
  if (in.gcount() == 0) {
    return core::ValidationError("model file '" + path + "' is not an XGBoost model: it is empty");
  }
  if (in.gcount() < 3 || head[0] != '{') {
    return core::ValidationError("model file '" + path + "' is not an XGBoost model: a " + ext +
                                 " model starts with '{'");
  }
  return core::Ok();
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
  try {
    if (auto start = CheckModelFileStart(path); !start) return std::unexpected(start.error());
    core::Result<std::unique_ptr<XgboostBackend>> result =
        core::InternalError("cannot load model '" + path + "': not run");
    RunOnXgboostThread([&] { result = LoadHere(path, options); });
    return result;
  } catch (const std::exception& e) {
    return core::InternalError("cannot load model '" + path + "': " + e.what());
  } catch (...) {
    return core::InternalError("cannot load model '" + path + "': unknown exception");
  }
}

core::Result<std::unique_ptr<XgboostBackend>> XgboostBackend::LoadHere(const std::string& path,
                                                                       Options options) {
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) {
    return core::InternalError("XGBoosterCreate: " +
                               LastXgbError("XGBoosterCreate", spdlog::level::warn));
  }
  auto fail = [&](std::string message) {
    XGBoosterFree(booster);
    return core::ValidationError("cannot load model '" + path + "': " + std::move(message));
  };
  if (XGBoosterLoadModel(booster, path.c_str()) != 0) {
    const bool bare = IsBareException(XGBGetLastError());
    std::string reason = LastXgbError("XGBoosterLoadModel of '" + path + "'", spdlog::level::warn);
    if (bare) reason = "XGBoost could not read it (" + reason + ")";
    XGBoosterFree(booster);
    return core::ValidationError("model file '" + path + "' is not an XGBoost model: " + reason);
  }
  const std::string nthread = std::to_string(options.nthread < 1 ? 1 : options.nthread);
  if (XGBoosterSetParam(booster, "nthread", nthread.c_str()) != 0) {
    return fail(LastXgbError("XGBoosterSetParam", spdlog::level::warn));
  }
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(booster, &features) != 0) {
    return fail(LastXgbError("XGBoosterGetNumFeature", spdlog::level::warn));
  }
  if (features == 0) return fail("the model has no features");
  std::string name = std::filesystem::path(path).stem().string();
  auto backend = std::unique_ptr<XgboostBackend>(
      new XgboostBackend(booster, static_cast<std::size_t>(features), std::move(name)));
  // A first prediction configures the learner once, here, rather than under the
  // first live request.
  std::vector<float> zeros(backend->num_features_, 0.0f);
  auto warm = backend->PredictWithXgboost({zeros, 1, backend->num_features_});
  if (!warm) {
    return core::ValidationError("cannot load model '" + path + "': " + warm.error().message());
  }
  backend->num_outputs_ = warm->per_row;
  if (options.native_trees) {
    backend->TryNativeTrees();
  } else {
    backend->native_status_ = "disabled";
  }
  return backend;
}

XgboostBackend::XgboostBackend(void* booster, std::size_t num_features, std::string name)
    : booster_(booster), num_features_(num_features), name_(std::move(name)) {}

XgboostBackend::~XgboostBackend() {
  // Freed on the XGBoost thread, where the booster was loaded, without waiting:
  // the last owner may be a gateway I/O thread, and freeing a large model takes
  // a while.
  BoosterHandle booster = booster_;
  try {
    internal::XgboostThread* thread = internal::XgboostThread::Get();
    if (thread != nullptr && !thread->OnThread()) {
      thread->Post([booster] {
        XGBoosterFree(booster);
        TrimMalloc();
      });
      return;
    }
  } catch (const std::exception& e) {
    spdlog::warn("xgboost: freeing a booster off the XGBoost thread: {}", e.what());
  }
  XGBoosterFree(booster);
}

void XgboostBackend::FinishReleases() {
  try {
    if (internal::XgboostThread* thread = internal::XgboostThread::Get()) thread->Run([] {});
  } catch (const std::exception& e) {
    spdlog::warn("xgboost: cannot wait for the XGBoost thread: {}", e.what());
  }
}

void XgboostBackend::TryNativeTrees() {
  // The booster's name from its (small) configuration first: exporting a large
  // DART model as JSON only to find it is not a gbtree cost ~0.4 s and a parse of
  // the whole export.
  bst_ulong length = 0;
  const char* buffer = nullptr;
  if (XGBoosterSaveJsonConfig(booster_, &length, &buffer) != 0) {
    native_status_ = "cannot read the model's configuration: " +
                     LastXgbError("XGBoosterSaveJsonConfig", spdlog::level::debug);
    return;
  }
  {
    boost::system::error_code ec;
    const boost::json::value config = boost::json::parse(std::string_view(buffer, length), ec);
    const boost::json::value* booster_name =
        ec ? nullptr : config.find_pointer("/learner/gradient_booster/name", ec);
    if (booster_name != nullptr && booster_name->is_string() &&
        booster_name->get_string() != "gbtree") {
      native_status_ =
          "native trees: booster is not gbtree (" + std::string(booster_name->get_string()) + ")";
      return;
    }
  }
  if (XGBoosterSaveModelToBuffer(booster_, R"({"format": "json"})", &length, &buffer) != 0) {
    native_status_ = "cannot export the model as JSON: " +
                     LastXgbError("XGBoosterSaveModelToBuffer", spdlog::level::debug);
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
  try {
    return PredictNative(rows);
  } catch (const std::exception& e) {
    return core::InternalError("model '" + name_ + "': " + e.what());
  }
}

core::Result<Predictions> XgboostBackend::PredictNative(const FeatureRows& rows) const {
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
  try {
    return PredictXgboost(rows);
  } catch (const std::exception& e) {
    return core::InternalError("model '" + name_ + "': " + e.what());
  }
}

core::Result<Predictions> XgboostBackend::PredictXgboost(const FeatureRows& rows) const {
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
                           "model '" + name_ + "' failed: " +
                               LastXgbError("XGBoosterPredictFromDense", spdlog::level::debug));
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
