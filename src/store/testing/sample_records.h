// Sample records for the stores' tests and benchmarks: a deployment at a 10 %
// canary and the weight change that moves it to 20 %, with fixed times.
#ifndef MLCANARY_STORE_TESTING_SAMPLE_RECORDS_H_
#define MLCANARY_STORE_TESTING_SAMPLE_RECORDS_H_

#include <cstdint>
#include <string>
#include <utility>

#include "core/time.h"
#include "core/types.h"

namespace mlcanary::store::testing {

inline core::Timestamp At(std::int64_t ms) { return core::Timestamp(core::Duration(ms)); }

inline core::Deployment InProgressDeployment(std::string id, std::string endpoint) {
  core::Deployment d;
  d.id = std::move(id);
  d.endpoint = std::move(endpoint);
  d.production_variant = "production";
  d.canary_variant = "canary";
  d.canary_model.path = "models/v2.json";
  d.state = core::DeploymentState::kInProgress;
  d.canary_weight = 0.1;
  d.created_at = At(1'700'000'000'000);
  d.updated_at = d.created_at;
  return d;
}

inline core::DeploymentEvent WeightChangeEvent(std::string reason) {
  core::DeploymentEvent e;
  e.time = At(1'700'000'000'500);
  e.kind = core::EventKind::kWeightChange;
  e.from_state = core::DeploymentState::kInProgress;
  e.to_state = core::DeploymentState::kInProgress;
  e.weight_before = 0.1;
  e.weight_after = 0.2;
  e.reason = std::move(reason);
  e.actor = "controller";
  return e;
}

}  // namespace mlcanary::store::testing

#endif  // MLCANARY_STORE_TESTING_SAMPLE_RECORDS_H_
