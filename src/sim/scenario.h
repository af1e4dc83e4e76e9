// A rollout scenario (API.md "Scenario files"): a policy, a traffic rate and
// how production and canary behave over time, piecewise by minute.
#ifndef MLCANARY_SIM_SCENARIO_H_
#define MLCANARY_SIM_SCENARIO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/policy.h"

namespace mlcanary::sim {

// How a variant behaves from `from_minute` on (until the next phase).
struct Phase {
  double from_minute = 0;
  double p99_ms = 0;
  double error_rate = 0;
  std::optional<double> p50_ms;  // defaults: p99 / 2
  std::optional<double> p90_ms;  // defaults: p99 * 0.8
  // The variant's predictions (issue 14): a normal distribution of this mean
  // and standard deviation (>= 0). Without them the variant records none.
  std::optional<double> prediction_mean;
  std::optional<double> prediction_sd;  // defaults: 0.1 when prediction_mean is given
  // Canary only (issue 14): the share of its answers to shadow copies that
  // differ from production's by more than the policy's divergence_tolerance.
  std::optional<double> paired_disagreement;
};

struct Scenario {
  std::string source;  // file name, for messages
  core::Policy policy;
  double traffic_per_minute = 0;
  std::vector<Phase> production;  // sorted by from_minute, first at 0
  std::vector<Phase> canary;
  double duration_minutes = 0;
  // The simulated operator (issue 15): from this minute on, a deployment
  // waiting at a manual gate is approved at the first check that finds it
  // waiting. Empty: nobody approves.
  std::optional<double> approve_at_minute;
};

// The phase in force at `minute`: the last one whose from_minute <= minute.
const Phase& PhaseAt(const std::vector<Phase>& phases, double minute);

// Parses and validates a scenario; errors name the file and the key path
// ("bad.yaml: canary[1].error_rate (line 7): must be in [0, 1]").
core::Result<Scenario> ParseScenario(const std::string& yaml_text, const std::string& source);
core::Result<Scenario> LoadScenarioFile(const std::string& path);

}  // namespace mlcanary::sim

#endif  // MLCANARY_SIM_SCENARIO_H_
