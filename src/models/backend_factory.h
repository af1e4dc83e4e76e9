// The production ModelBackendFactory: xgboost specs load in-process, http specs
// connect to a SageMaker-contract model server.
#ifndef MLCANARY_MODELS_BACKEND_FACTORY_H_
#define MLCANARY_MODELS_BACKEND_FACTORY_H_

#include "models/model_backend.h"

namespace mlcanary::models {

struct BackendFactoryOptions {
  int xgboost_nthread = 1;  // XGBoost threads per prediction
  int http_io_threads = 1;  // event-loop threads per http backend
  // Whether http backends run calls from a thread with a declared event loop on
  // that loop (event_loop.h); false: always on their own loop (A/B benchmarks).
  bool http_use_caller_loop = true;
  bool xgboost_native_trees = true;  // XgboostBackend::Options::native_trees
};

ModelBackendFactory MakeModelBackendFactory(BackendFactoryOptions options = {});

}  // namespace mlcanary::models

#endif  // MLCANARY_MODELS_BACKEND_FACTORY_H_
