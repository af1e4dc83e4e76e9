// Fixed deployments and events for the views' tests.
#ifndef MLCANARY_CONSOLE_TESTING_SAMPLES_H_
#define MLCANARY_CONSOLE_TESTING_SAMPLES_H_

#include <chrono>

#include "core/health.h"
#include "core/types.h"

namespace mlcanary::console::testing {

inline core::Timestamp At(int seconds) {
  return core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 11 / 28)) +
         std::chrono::seconds(seconds);
}

inline core::Deployment SampleDeployment() {
  core::Deployment d;
  d.id = "dep-00000000000000ab";
  d.endpoint = "recs";
  d.production_variant = "recs-v1";
  d.canary_variant = "recs-v2";
  d.state = core::DeploymentState::kInProgress;
  d.canary_weight = 0.3;
  d.paused = true;
  d.created_at = At(0);
  d.updated_at = At(75);
  return d;
}

// A latency-breached check at 30 %: canary p99 130 ms, 3 errors in 600.
inline core::DeploymentEvent SampleCheck() {
  core::DeploymentEvent e;
  e.seq = 12;
  e.deployment_id = "dep-00000000000000ab";
  e.time = At(90);
  e.kind = core::EventKind::kCheck;
  e.from_state = e.to_state = core::DeploymentState::kInProgress;
  e.weight_before = e.weight_after = 0.3;
  e.reason = "latency breach 1/3";
  e.actor = "controller";
  core::HealthReport r;
  r.verdict = core::Verdict::kLatencyBreached;
  r.latency_breached = true;
  r.canary = {.invocations = 600, .errors_4xx = 1, .errors_5xx = 2, .p99_ms = 130};
  r.production = {.invocations = 1400, .p99_ms = 40.25};
  r.reason = "canary p99 130.0ms >= max_p99_ms 100";
  e.check = r;
  return e;
}

inline core::DeploymentEvent SampleTransition() {
  core::DeploymentEvent e;
  e.seq = 13;
  e.deployment_id = "dep-00000000000000ab";
  e.time = At(91);
  e.kind = core::EventKind::kTransition;
  e.from_state = core::DeploymentState::kInProgress;
  e.to_state = core::DeploymentState::kRollingBack;
  e.weight_before = 0.3;
  e.weight_after = 0;
  e.reason = "rollback: latency breached on 3 consecutive checks";
  e.actor = "controller";
  return e;
}

}  // namespace mlcanary::console::testing

#endif  // MLCANARY_CONSOLE_TESTING_SAMPLES_H_
