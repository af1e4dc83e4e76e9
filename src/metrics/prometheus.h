// Prometheus text exposition (format 0.0.4) of the gateway's metrics and the
// controller's state.
#ifndef MLCANARY_METRICS_PROMETHEUS_H_
#define MLCANARY_METRICS_PROMETHEUS_H_

#include <span>
#include <string>
#include <string_view>

#include "core/hooks.h"
#include "metrics/controller_status.h"
#include "metrics/registry.h"

namespace mlcanary::metrics {

// The Content-Type of the exposition, for the /metrics handler.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Per variant {endpoint, variant}: mlcanary_invocations_total,
// mlcanary_invocation_4xx_errors_total, mlcanary_invocation_5xx_errors_total,
// mlcanary_invalid_samples_total{reason}, the histograms
// mlcanary_model_latency_seconds and mlcanary_overhead_latency_seconds,
// mlcanary_variant_{cpu,memory}_utilization_ratio (variants with their own
// process); for the process: process_cpu_seconds_total,
// process_resident_memory_bytes, mlcanary_process_{cpu,memory}_utilization_ratio.
void AppendRegistryMetrics(const MetricsRegistry& registry, std::string& out);

// Per endpoint {endpoint}: mlcanary_deployment_state{deployment, state} (1 for
// the current state, 0 for the others), mlcanary_canary_weight_ratio,
// mlcanary_deployment_paused, mlcanary_last_check_verdict{verdict},
// mlcanary_checks_total{verdict}, mlcanary_check_errors_total,
// mlcanary_transitions_total{state}.
void AppendControllerMetrics(const ControllerStatus& status, std::string& out);

// mlcanary_hook_calls_total{endpoint, hook, outcome} and
// mlcanary_hook_call_seconds_total{endpoint, hook, outcome} (issue 15's hooks).
void AppendHookMetrics(std::span<const core::HookCallCount> counts, std::string& out);

// Both (the controller part when `controller` is set).
std::string RenderPrometheus(const MetricsRegistry& registry,
                             const ControllerStatus* controller = nullptr);

}  // namespace mlcanary::metrics

#endif  // MLCANARY_METRICS_PROMETHEUS_H_
