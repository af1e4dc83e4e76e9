// What the fleet's PostgreSQL tests share: the endpoint record they move
// around and a model factory for the replicas' routers (fake backends named
// by their path: no model files needed).
#ifndef MLCANARY_FLEET_TESTING_RECS_ENDPOINT_H_
#define MLCANARY_FLEET_TESTING_RECS_ENDPOINT_H_

#include <memory>

#include "core/types.h"
#include "models/model_backend.h"
#include "models/testing/fake_backend.h"

namespace mlcanary::fleet::testing {

// Endpoint "recs": production (v1.json) and canary (v2.json) at `canary_weight`.
inline core::Endpoint Recs(double canary_weight) {
  core::Endpoint e{.name = "recs"};
  e.variants.push_back(
      {.name = "production", .weight = 1 - canary_weight, .model = {.path = "v1.json"}});
  e.variants.push_back({.name = "canary", .weight = canary_weight, .model = {.path = "v2.json"}});
  return e;
}

inline models::ModelBackendFactory FakeModels() {
  return [](const core::ModelSpec& spec) -> core::Result<std::unique_ptr<models::ModelBackend>> {
    return std::make_unique<models::testing::FakeBackend>(spec.path);
  };
}

}  // namespace mlcanary::fleet::testing

#endif  // MLCANARY_FLEET_TESTING_RECS_ENDPOINT_H_
