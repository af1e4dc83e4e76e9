// Window metrics implied by a scenario.
#include "sim/scenario_metrics_source.h"

#include <cmath>

namespace mlcanary::sim {

ScenarioMetricsSource::ScenarioMetricsSource(const Scenario& scenario,
                                             core::TrafficControl& traffic, core::Timestamp start,
                                             std::string production_variant,
                                             std::string canary_variant)
    : scenario_(scenario),
      traffic_(traffic),
      start_(start),
      production_variant_(std::move(production_variant)),
      canary_variant_(std::move(canary_variant)) {}

core::Result<std::map<std::string, core::WindowMetrics>> ScenarioMetricsSource::Snapshot(
    std::string_view endpoint, core::Timestamp start, core::Timestamp end) {
  auto described = traffic_.DescribeEndpoint(endpoint);
  if (!described) return std::unexpected(described.error());
  const double window_minutes = core::ToMinutes(end - start);
  const double start_minute = core::ToMinutes(start - start_);
  std::map<std::string, core::WindowMetrics> out;
  for (const core::Variant& v : described->variants) {
    const std::vector<Phase>* phases = nullptr;
    if (v.name == canary_variant_) phases = &scenario_.canary;
    if (v.name == production_variant_) phases = &scenario_.production;
    if (phases == nullptr) continue;
    const Phase& phase = PhaseAt(*phases, start_minute);
    core::WindowMetrics m;
    m.invocations = std::llround(scenario_.traffic_per_minute * v.weight * window_minutes);
    m.errors_5xx = std::llround(phase.error_rate * static_cast<double>(m.invocations));
    if (m.invocations > 0) {
      m.p99_ms = phase.p99_ms;
      m.p90_ms = phase.p90_ms.value_or(phase.p99_ms * 0.8);
      m.p50_ms = phase.p50_ms.value_or(phase.p99_ms * 0.5);
    }
    out[v.name] = m;
  }
  return out;
}

}  // namespace mlcanary::sim
