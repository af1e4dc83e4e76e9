// The production ModelBackendFactory: xgboost specs load in-process, http specs
// connect to a SageMaker-contract model server.
#ifndef MLCANARY_MODELS_BACKEND_FACTORY_H_
#define MLCANARY_MODELS_BACKEND_FACTORY_H_

#include "models/model_backend.h"

namespace mlcanary::models {

struct BackendFactoryOptions {
  int xgboost_nthread = 1;  // XGBoost threads per prediction
  int http_io_threads = 1;  // event-loop threads per http backend
};

ModelBackendFactory MakeModelBackendFactory(BackendFactoryOptions options = {});

}  // namespace mlcanary::models

#endif  // MLCANARY_MODELS_BACKEND_FACTORY_H_
