// A sample deployment and event, for the tests of the notification payload and
// of the notifiers that send it: a canary being rolled back after an error-rate
// breach, at a fixed time.
#ifndef MLCANARY_CODEC_TESTING_SAMPLE_EVENT_H_
#define MLCANARY_CODEC_TESTING_SAMPLE_EVENT_H_

#include <chrono>
#include <cstdint>

#include "core/health.h"
#include "core/types.h"

namespace mlcanary::codec::testing {

inline core::Deployment SampleDeployment() {
  core::Deployment d;
  d.id = "dep-42";
  d.endpoint = "recs";
  d.production_variant = "production";
  d.canary_variant = "canary";
  d.state = core::DeploymentState::kRollingBack;
  return d;
}

// A transition IN_PROGRESS -> ROLLING_BACK, with the breaching check if asked.
inline core::DeploymentEvent SampleEvent(bool with_check, std::int64_t seq = 7) {
  core::DeploymentEvent e;
  e.seq = seq;
  e.deployment_id = "dep-42";
  e.time = core::Timestamp(std::chrono::milliseconds(1'700'000'000'000));
  e.kind = core::EventKind::kTransition;
  e.from_state = core::DeploymentState::kInProgress;
  e.to_state = core::DeploymentState::kRollingBack;
  e.weight_before = 0.3;
  e.weight_after = 0;
  e.reason = "rollback: error rate breached on 2 consecutive checks";
  e.actor = "controller";
  if (with_check) {
    e.check = core::EvaluateHealth({.invocations = 600, .errors_5xx = 30, .p99_ms = 45},
                                   {.invocations = 5400, .p99_ms = 40}, core::Policy{});
  }
  return e;
}

}  // namespace mlcanary::codec::testing

#endif  // MLCANARY_CODEC_TESTING_SAMPLE_EVENT_H_
