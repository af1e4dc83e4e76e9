// The health evaluator: one check's canary and production window metrics in,
// a verdict out, with every value and threshold that decided it. The rules are
// API.md "Policy" semantics, word for word.
#ifndef MLCANARY_CORE_HEALTH_H_
#define MLCANARY_CORE_HEALTH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "core/stats.h"

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
  // Model latency as histogram buckets (bucket middle in ms, count), sorted:
  // what the mann_whitney latency judge ranks. Empty where the source has none.
  std::vector<ValueCount> latency_buckets;
  // Predictions (the first output of each answered row) as a fixed-layout
  // histogram: `value` is the bucket's index, in the order of the values it
  // holds (metrics/prediction_layout.h). What the divergence check compares.
  std::vector<ValueCount> prediction_buckets;
  std::int64_t predictions = 0;      // rows counted in prediction_buckets
  std::int64_t outputs_per_row = 0;  // the most outputs a row had (0: none seen)
  // Paired answers (shadow): requests the canary answered as a copy of
  // production's, compared on one output. The canary's window holds them.
  std::int64_t pairs = 0;
  std::int64_t pair_disagreements = 0;  // pairs with |canary - production| > the tolerance
  double pair_abs_diff_sum = 0;         // the sum of |canary - production| over the pairs

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
  // Only the prediction divergence check breached (with a latency or error
  // breach the verdict is theirs, and divergence_breached says the rest).
  kDivergenceBreached,
  // Only the analysis hooks breached (issue 15; with a metric breach the
  // verdict is the metric's, and analysis_breached says the rest).
  kAnalysisBreached,
};

// What an analysis hook answered (issue 15): {"verdict": "healthy|breached|inconclusive"}.
enum class AnalysisVerdict { kHealthy, kBreached, kInconclusive };
std::string_view AnalysisVerdictName(AnalysisVerdict v);  // "healthy", "breached", "inconclusive"
std::optional<AnalysisVerdict> ParseAnalysisVerdict(std::string_view name);

// One analysis hook's vote in a check. An unreachable hook, a non-2xx answer
// or a body that is no verdict counts as inconclusive (`reason` says why).
struct AnalysisResult {
  std::string url;  // without credentials or query (RedactHookUrl)
  AnalysisVerdict verdict = AnalysisVerdict::kInconclusive;
  std::string reason;
  int status = 0;  // HTTP status; 0: no answer
  bool operator==(const AnalysisResult&) const = default;
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
  // The latency judge and the divergence check (issue 14).
  LatencyJudge latency_judge = LatencyJudge::kThreshold;
  double latency_alpha = 0;
  double latency_min_effect = 0;
  double divergence_psi_max = 0;  // 0: the divergence check is off
  std::int64_t divergence_min_predictions = 0;
  // The paired check (shadow).
  double divergence_tolerance = 0;
  double divergence_max_disagreement = 0;  // 0: the paired check is off
  std::int64_t divergence_output = -1;
  bool operator==(const Thresholds&) const = default;
};

// The mann_whitney judge's numbers: U test of "canary slower" and the effect.
struct LatencyTest {
  MannWhitneyResult test;
  double effect = 0;  // canary p50 / production p50
  bool operator==(const LatencyTest&) const = default;
};

// The paired divergence check's numbers over the window's pairs.
struct PairedDivergence {
  std::int64_t pairs = 0;
  double disagreement = 0;  // share of pairs with |canary - production| > divergence_tolerance
  double mean_abs_diff = 0;
  bool operator==(const PairedDivergence&) const = default;
};

struct HealthReport {
  Verdict verdict = Verdict::kInconclusive;
  bool latency_breached = false;
  bool error_breached = false;
  bool divergence_breached = false;
  WindowMetrics canary;
  WindowMetrics production;
  double canary_error_rate = 0;
  double production_error_rate = 0;
  // canary p99 / production p99, only when production has data.
  std::optional<double> latency_ratio;
  double error_rate_diff = 0;  // canary - production error rate
  // latency_judge mann_whitney, when both variants have latency buckets.
  std::optional<LatencyTest> latency_test;
  // Population stability index of canary predictions against production's,
  // when the divergence check is on and both have predictions.
  std::optional<double> psi;
  // The paired check, when it is on and the canary has at least
  // divergence_min_predictions pairs.
  std::optional<PairedDivergence> paired;
  Thresholds thresholds;
  std::string reason;  // one line a person can read: what decided the verdict
  // The analysis hooks' votes (issue 15), in policy order; empty without any.
  std::vector<AnalysisResult> analysis;
  bool analysis_breached = false;  // an analysis hook voted breached

  bool breached() const {
    return latency_breached || error_breached || divergence_breached || analysis_breached;
  }
  bool operator==(const HealthReport&) const = default;
};

// Rules (API.md):
//  - fewer than min_invocations canary invocations: inconclusive;
//  - latency-breached: canary p99 >= max_p99_ms, or (latency_judge threshold)
//    production has data and canary p99 / production p99 >= max_latency_ratio
//    (judged only when canary p99 >= latency_ratio_min_p99_ms), or
//    (latency_judge mann_whitney) the one-sided Mann-Whitney U test of "canary
//    slower" over both latency histograms gives p < latency_alpha and canary
//    p50 / production p50 >= latency_min_effect;
//  - error-breached: canary error rate >= max_error_rate, or canary error rate -
//    production error rate >= max_error_rate_diff (production without
//    invocations counts as error rate 0);
//  - divergence-breached (divergence_psi_max > 0, both variants with at least
//    divergence_min_predictions predictions): PSI >= divergence_psi_max; with
//    the check on, a variant whose rows have several outputs makes the check
//    inconclusive, naming divergence_psi_max (only single-output models);
//  - also divergence-breached (divergence_max_disagreement > 0, the canary
//    with at least divergence_min_predictions pairs): the share of pairs that
//    disagree >= divergence_max_disagreement; a multi-output model without
//    divergence_output (or one with fewer outputs than it names) makes the
//    check inconclusive, naming divergence_output;
//  - healthy: none.
HealthReport EvaluateHealth(const WindowMetrics& canary, const WindowMetrics& production,
                            const Policy& policy);

// Folds the analysis hooks' votes into a report (issue 15): any breached vote
// sets analysis_breached and, where the metrics found no breach (healthy or
// inconclusive), makes the verdict kAnalysisBreached; otherwise an
// inconclusive vote makes a healthy verdict inconclusive. The reason names the
// hooks that decided.
void ApplyAnalysis(HealthReport& report, std::vector<AnalysisResult> results);

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_HEALTH_H_
