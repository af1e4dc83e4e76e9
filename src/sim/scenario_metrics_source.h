// ScenarioMetricsSource: the metrics a scenario implies for a check window,
// per API.md: invocations = round(traffic x weight x window minutes), errors =
// round(error_rate x invocations), latencies of the phase in force at the
// window's start, for the weights the traffic control holds during the window.
// In a shadow (TrafficControl::DescribeShadow) the canary answers copies of
// production's sampled share instead, and its answers pair with production's:
// the phase's paired_disagreement of them disagree.
#ifndef MLCANARY_SIM_SCENARIO_METRICS_SOURCE_H_
#define MLCANARY_SIM_SCENARIO_METRICS_SOURCE_H_

#include <string>

#include "core/ports.h"
#include "sim/scenario.h"

namespace mlcanary::sim {

class ScenarioMetricsSource final : public core::MetricsSource {
 public:
  // `traffic` and `scenario` are borrowed. Minute 0 of the scenario is `start`.
  ScenarioMetricsSource(const Scenario& scenario, core::TrafficControl& traffic,
                        core::Timestamp start, std::string production_variant,
                        std::string canary_variant);

  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view endpoint,
                                                                    core::Timestamp start,
                                                                    core::Timestamp end) override;

 private:
  const Scenario& scenario_;
  core::TrafficControl& traffic_;
  core::Timestamp start_;
  std::string production_variant_;
  std::string canary_variant_;
};

}  // namespace mlcanary::sim

#endif  // MLCANARY_SIM_SCENARIO_METRICS_SOURCE_H_
