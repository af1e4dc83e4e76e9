// The simulator: runs the real controller in virtual time against in-memory
// ports driven by a scenario, and reports the rollout as JSON or a timeline.
#ifndef MLCANARY_SIM_SIMULATOR_H_
#define MLCANARY_SIM_SIMULATOR_H_

#include <string>
#include <vector>

#include "core/health.h"
#include "core/state_machine.h"
#include "core/types.h"
#include "sim/scenario.h"

namespace mlcanary::sim {

// One state change or weight change (or pause), as API.md's JSON lists them.
struct SimulationEvent {
  double minute = 0;
  core::DeploymentState state = core::DeploymentState::kPending;
  double canary_weight = 0;
  std::string reason;
  core::EventKind kind = core::EventKind::kTransition;
  bool paused = false;
};

// One check, for the timeline.
struct SimulationCheck {
  double minute = 0;
  double canary_weight = 0;                  // weight in force during the window
  std::optional<core::HealthReport> report;  // absent when the check failed
  std::string reason;
};

struct SimulationResult {
  core::DeploymentState final_state = core::DeploymentState::kPending;
  double final_canary_weight = 0;
  bool paused = false;
  double end_minute = 0;
  std::vector<SimulationEvent> events;
  std::vector<SimulationCheck> checks;
  int notifications = 0;
};

// Most checks one simulation may run (duration / interval); beyond it the
// scenario is refused.
inline constexpr std::int64_t kMaxSimulatedChecks = 1'000'000;

core::Result<SimulationResult> Simulate(const Scenario& scenario);

// {"final_state": ..., "final_canary_weight": w, "events": [{minute, state,
// canary_weight, reason}, ...]} plus a few extra keys.
std::string FormatJson(const SimulationResult& result);

// A readable timeline: minute, weight bars, p99 and error rates, verdict.
std::string FormatTimeline(const SimulationResult& result, const Scenario& scenario, bool color);

}  // namespace mlcanary::sim

#endif  // MLCANARY_SIM_SIMULATOR_H_
