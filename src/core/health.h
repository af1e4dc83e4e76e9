// The health evaluator: one check's canary and production window metrics in,
// a verdict out, with every value and threshold that decided it. The rules are
// API.md "Policy" semantics, word for word.
#ifndef MLCANARY_CORE_HEALTH_H_
#define MLCANARY_CORE_HEALTH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/policy.h"

namespace mlcanary::core {

// What one variant did during one check window (the design document's
// "metrics collected"). Latencies in milliseconds; utilizations in percent.
struct WindowMetrics {
  std::int64_t invocations = 0;
  std::int64_t errors_4xx = 0;
  std::int64_t errors_5xx = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double overhead_ms = 0;  // average gateway time beyond the model
  std::optional<double> cpu_utilization;
  std::optional<double> memory_utilization;

  bool has_data() const { return invocations > 0; }
  // (4XX + 5XX) / invocations; 0 without invocations.
  double error_rate() const {
    return invocations > 0
               ? static_cast<double>(errors_4xx + errors_5xx) / static_cast<double>(invocations)
               : 0.0;
  }
  bool operator==(const WindowMetrics&) const = default;
};

enum class Verdict {
  kHealthy,
  kInconclusive,  // too few canary invocations: neither healthy nor breached
  kLatencyBreached,
  kErrorBreached,
  kLatencyAndErrorBreached,
};

std::string_view VerdictName(Verdict v);  // "healthy", "latency_breached", ...
std::optional<Verdict> ParseVerdict(std::string_view name);

// The thresholds a check was judged against (copied from the policy so that a
// recorded check stands on its own).
struct Thresholds {
  double max_p99_ms = 0;
  double max_error_rate = 0;
  double max_latency_ratio = 0;
  double max_error_rate_diff = 0;
  std::int64_t min_invocations = 0;
  double latency_ratio_min_p99_ms = 0;
  bool operator==(const Thresholds&) const = default;
};

struct HealthReport {
  Verdict verdict = Verdict::kInconclusive;
  bool latency_breached = false;
  bool error_breached = false;
  WindowMetrics canary;
  WindowMetrics production;
  double canary_error_rate = 0;
  double production_error_rate = 0;
  // canary p99 / production p99, only when production has data.
  std::optional<double> latency_ratio;
  double error_rate_diff = 0;  // canary - production error rate
  Thresholds thresholds;
  std::string reason;  // one line a person can read: what decided the verdict

  bool breached() const { return latency_breached || error_breached; }
  bool operator==(const HealthReport&) const = default;
};

// Rules (API.md):
//  - fewer than min_invocations canary invocations: inconclusive;
//  - latency-breached: canary p99 >= max_p99_ms, or production has data and
//    canary p99 / production p99 >= max_latency_ratio (judged only when
//    canary p99 >= latency_ratio_min_p99_ms);
//  - error-breached: canary error rate >= max_error_rate, or canary error rate -
//    production error rate >= max_error_rate_diff (production without
//    invocations counts as error rate 0);
//  - healthy: neither.
HealthReport EvaluateHealth(const WindowMetrics& canary, const WindowMetrics& production,
                            const Policy& policy);

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_HEALTH_H_
