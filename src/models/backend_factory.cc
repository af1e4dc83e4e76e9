// Chooses the backend for a ModelSpec's kind.
#include "models/backend_factory.h"

#include "models/http_backend.h"
#include "models/xgboost_backend.h"

namespace mlcanary::models {

ModelBackendFactory MakeModelBackendFactory(BackendFactoryOptions options) {
  return [options](const core::ModelSpec& spec) -> core::Result<std::unique_ptr<ModelBackend>> {
    switch (spec.kind) {
      case core::ModelKind::kXgboost: {
        if (spec.path.empty()) return core::ValidationError("xgboost model needs a path");
        auto backend = XgboostBackend::Load(
            spec.path,
            {.nthread = options.xgboost_nthread, .native_trees = options.xgboost_native_trees});
        if (!backend) return std::unexpected(backend.error());
        return std::unique_ptr<ModelBackend>(std::move(*backend));
      }
      case core::ModelKind::kHttp: {
        if (spec.url.empty()) return core::ValidationError("http model needs a url");
        auto backend = HttpBackend::Create({.url = spec.url,
                                            .timeout = spec.timeout,
                                            .io_threads = options.http_io_threads,
                                            .use_caller_loop = options.http_use_caller_loop});
        if (!backend) return std::unexpected(backend.error());
        return std::unique_ptr<ModelBackend>(std::move(*backend));
      }
      case core::ModelKind::kSagemaker:
        return core::ValidationError(
            "a sagemaker model is served by SageMaker, not by the gateway (backend: sagemaker)");
    }
    return core::ValidationError("unknown model kind");
  };
}

}  // namespace mlcanary::models
