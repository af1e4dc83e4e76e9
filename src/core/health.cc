// The health rules of a check.
#include "core/health.h"

#include <cstdio>
#include <optional>
#include <string>
#include <utility>

namespace mlcanary::core {
namespace {

// Rates like 0.06 - 0.01 are not exact in binary; a value within kTolerance of
// its threshold counts as reaching it, so "exactly at" always breaches.
constexpr double kTolerance = 1e-9;
bool Reaches(double value, double threshold) { return value >= threshold - kTolerance; }

std::string Fmt(const char* format, double a, double b) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), format, a, b);
  return buf;
}

std::string Fmt(const char* format, double a) { return Fmt(format, a, 0); }

// Why the paired check cannot compare the models' answers (one output per
// pair): a multi-output model without divergence_output, or one with fewer
// outputs than it names; nullopt when it can (or is off).
std::optional<std::string> PairedOutputProblem(const WindowMetrics& canary,
                                               const WindowMetrics& production,
                                               const Policy& policy) {
  if (!PairedDivergenceOn(policy)) return std::nullopt;
  for (const auto* w : {&canary, &production}) {
    const char* who = w == &canary ? "the canary" : "the production";
    if (policy.divergence_output < 0 && w->outputs_per_row > 1) {
      return std::string(who) + " model returns " + std::to_string(w->outputs_per_row) +
             " outputs per row; set divergence_output to the one the paired check compares";
    }
    if (policy.divergence_output >= 0 && w->outputs_per_row > 0 &&
        policy.divergence_output >= w->outputs_per_row) {
      return std::string(who) + " model returns " + std::to_string(w->outputs_per_row) +
             " outputs per row; output " + std::to_string(policy.divergence_output) +
             " does not exist";
    }
  }
  return std::nullopt;
}

void Append(std::string& reason, const std::string& part) {
  if (!reason.empty()) reason += "; ";
  reason += part;
}

// The report's thresholds: the policy's, as the check saw them.
Thresholds ThresholdsOf(const Policy& policy) {
  return {.max_p99_ms = policy.max_p99_ms,
          .max_error_rate = policy.max_error_rate,
          .max_latency_ratio = policy.max_latency_ratio,
          .max_error_rate_diff = policy.max_error_rate_diff,
          .min_invocations = policy.min_invocations,
          .latency_ratio_min_p99_ms = policy.latency_ratio_min_p99_ms,
          .latency_judge = policy.latency_judge,
          .latency_alpha = policy.latency_alpha,
          .latency_min_effect = policy.latency_min_effect,
          .divergence_psi_max = policy.divergence_psi_max,
          .divergence_min_predictions = policy.divergence_min_predictions,
          .divergence_tolerance = policy.divergence_tolerance,
          .divergence_max_disagreement = policy.divergence_max_disagreement,
          .divergence_output = policy.divergence_output};
}

// The report's values, before any verdict: windows, thresholds, error rates,
// the latency ratio, the rank test (mann_whitney) and the prediction PSI.
HealthReport Measure(const WindowMetrics& canary, const WindowMetrics& production,
                     const Policy& policy) {
  HealthReport r;
  r.canary = canary;
  r.production = production;
  r.thresholds = ThresholdsOf(policy);
  r.canary_error_rate = canary.error_rate();
  r.production_error_rate = production.error_rate();
  r.error_rate_diff = r.canary_error_rate - r.production_error_rate;
  const bool production_has_latency = production.has_data() && production.p99_ms > 0;
  if (production_has_latency) r.latency_ratio = canary.p99_ms / production.p99_ms;
  if (policy.latency_judge == LatencyJudge::kMannWhitney && production.p50_ms > 0) {
    if (auto test = MannWhitneyGreater(canary.latency_buckets, production.latency_buckets)) {
      r.latency_test = LatencyTest{.test = *test, .effect = canary.p50_ms / production.p50_ms};
    }
  }
  const bool enough_predictions = canary.predictions >= policy.divergence_min_predictions &&
                                  production.predictions >= policy.divergence_min_predictions;
  if (policy.divergence_psi_max > 0 && enough_predictions) {
    r.psi = PopulationStability(canary.prediction_buckets, production.prediction_buckets);
  }
  return r;
}

// The inconclusive reason when the divergence checks cannot compare the
// models' outputs: they compare one output per row, and a rollout that cannot
// be judged must not advance. nullopt when they can (or are off).
std::optional<std::string> WhyOutputsCannotBeJudged(const WindowMetrics& canary,
                                                    const WindowMetrics& production,
                                                    const Policy& policy) {
  if (policy.divergence_psi_max > 0) {
    for (const auto* w : {&canary, &production}) {
      if (w->outputs_per_row > 1) {
        return "inconclusive: divergence_psi_max: the " +
               std::string(w == &canary ? "canary" : "production") + " model returns " +
               std::to_string(w->outputs_per_row) +
               " outputs per row; the divergence check compares single-output models only "
               "(set divergence_psi_max: 0 to judge this model without it)";
      }
    }
  }
  if (auto why = PairedOutputProblem(canary, production, policy)) {
    return "inconclusive: divergence_output: " + *why;
  }
  return std::nullopt;
}

// The paired check's figures, when it is on and has enough pairs.
std::optional<PairedDivergence> PairedOf(const WindowMetrics& canary, const Policy& policy) {
  if (!PairedDivergenceOn(policy) || canary.pairs <= 0 ||
      canary.pairs < policy.divergence_min_predictions) {
    return std::nullopt;
  }
  const auto pairs = static_cast<double>(canary.pairs);
  return PairedDivergence{.pairs = canary.pairs,
                          .disagreement = static_cast<double>(canary.pair_disagreements) / pairs,
                          .mean_abs_diff = canary.pair_abs_diff_sum / pairs};
}

// Sets the report's breached flags from its values; the reason, one part per
// threshold reached (empty: none).
std::string Breaches(HealthReport& r, const Policy& policy) {
  const WindowMetrics& canary = r.canary;
  std::string reason;
  if (Reaches(canary.p99_ms, policy.max_p99_ms)) {
    r.latency_breached = true;
    Append(reason, Fmt("canary p99 %.1fms >= max_p99_ms %g", canary.p99_ms, policy.max_p99_ms));
  }
  if (policy.latency_judge == LatencyJudge::kMannWhitney) {
    // The ratio rule is replaced: slower only when the rank test says so
    // with confidence AND the median moved by at least the minimum effect.
    if (r.latency_test && r.latency_test->test.p < policy.latency_alpha &&
        Reaches(r.latency_test->effect, policy.latency_min_effect)) {
      r.latency_breached = true;
      Append(reason, Fmt("canary slower: Mann-Whitney p %.3g < latency_alpha %g",
                         r.latency_test->test.p, policy.latency_alpha) +
                         Fmt(", p50 ratio %.2f >= latency_min_effect %g", r.latency_test->effect,
                             policy.latency_min_effect));
    }
  } else if (r.latency_ratio && Reaches(*r.latency_ratio, policy.max_latency_ratio) &&
             Reaches(canary.p99_ms, policy.latency_ratio_min_p99_ms)) {
    r.latency_breached = true;
    Append(reason, Fmt("latency ratio %.2f >= max_latency_ratio %g", *r.latency_ratio,
                       policy.max_latency_ratio));
  }
  if (Reaches(r.canary_error_rate, policy.max_error_rate)) {
    r.error_breached = true;
    Append(reason, Fmt("canary error rate %.4f >= max_error_rate %g", r.canary_error_rate,
                       policy.max_error_rate));
  }
  if (Reaches(r.error_rate_diff, policy.max_error_rate_diff)) {
    r.error_breached = true;
    Append(reason, Fmt("error rate diff %+.4f >= max_error_rate_diff %g", r.error_rate_diff,
                       policy.max_error_rate_diff));
  }
  if (r.psi && Reaches(*r.psi, policy.divergence_psi_max)) {
    r.divergence_breached = true;
    Append(reason,
           Fmt("prediction PSI %.3f >= divergence_psi_max %g", *r.psi, policy.divergence_psi_max));
  }
  if (r.paired && Reaches(r.paired->disagreement, policy.divergence_max_disagreement)) {
    r.divergence_breached = true;
    Append(reason,
           Fmt("paired disagreement %.4f", r.paired->disagreement) +
               Fmt(" >= divergence_max_disagreement %g", policy.divergence_max_disagreement) +
               Fmt(" (mean |diff| %.4g over ", r.paired->mean_abs_diff) +
               std::to_string(r.paired->pairs) + " pairs)");
  }
  return reason;
}

// The verdict from the breached flags (latency and errors first); a healthy
// check's reason says what it measured.
void Decide(HealthReport& r, std::string& reason, const Policy& policy) {
  if (r.latency_breached && r.error_breached) {
    r.verdict = Verdict::kLatencyAndErrorBreached;
  } else if (r.latency_breached) {
    r.verdict = Verdict::kLatencyBreached;
  } else if (r.error_breached) {
    r.verdict = Verdict::kErrorBreached;
  } else if (r.divergence_breached) {
    r.verdict = Verdict::kDivergenceBreached;
  } else {
    r.verdict = Verdict::kHealthy;
    reason =
        Fmt("healthy: canary p99 %.1fms, error rate %.4f", r.canary.p99_ms, r.canary_error_rate);
    if (r.latency_test) {
      reason += Fmt(", Mann-Whitney p %.3g, p50 ratio %.2f", r.latency_test->test.p,
                    r.latency_test->effect);
    }
    if (r.psi) reason += Fmt(", prediction PSI %.3f (max %g)", *r.psi, policy.divergence_psi_max);
    if (r.paired) {
      reason += Fmt(", paired disagreement %.4f", r.paired->disagreement) +
                Fmt(" (max %g)", policy.divergence_max_disagreement);
    }
  }
}

}  // namespace

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kHealthy:
      return "healthy";
    case Verdict::kInconclusive:
      return "inconclusive";
    case Verdict::kLatencyBreached:
      return "latency_breached";
    case Verdict::kErrorBreached:
      return "error_breached";
    case Verdict::kLatencyAndErrorBreached:
      return "latency_and_error_breached";
    case Verdict::kDivergenceBreached:
      return "divergence_breached";
    case Verdict::kAnalysisBreached:
      return "analysis_breached";
  }
  return "inconclusive";
}

std::optional<Verdict> ParseVerdict(std::string_view name) {
  for (auto v : {Verdict::kHealthy, Verdict::kInconclusive, Verdict::kLatencyBreached,
                 Verdict::kErrorBreached, Verdict::kLatencyAndErrorBreached,
                 Verdict::kDivergenceBreached, Verdict::kAnalysisBreached}) {
    if (VerdictName(v) == name) return v;
  }
  return std::nullopt;
}

HealthReport EvaluateHealth(const WindowMetrics& canary, const WindowMetrics& production,
                            const Policy& policy) {
  HealthReport r = Measure(canary, production, policy);
  if (auto why = WhyOutputsCannotBeJudged(canary, production, policy)) {
    r.verdict = Verdict::kInconclusive;
    r.reason = *std::move(why);
    return r;
  }
  r.paired = PairedOf(canary, policy);
  if (canary.invocations < policy.min_invocations) {
    r.verdict = Verdict::kInconclusive;
    r.reason = "inconclusive: " + std::to_string(canary.invocations) +
               " canary invocations < min_invocations " + std::to_string(policy.min_invocations);
    return r;
  }
  std::string reason = Breaches(r, policy);
  Decide(r, reason, policy);
  r.reason = std::move(reason);
  return r;
}

std::string_view AnalysisVerdictName(AnalysisVerdict v) {
  switch (v) {
    case AnalysisVerdict::kHealthy:
      return "healthy";
    case AnalysisVerdict::kBreached:
      return "breached";
    case AnalysisVerdict::kInconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

std::optional<AnalysisVerdict> ParseAnalysisVerdict(std::string_view name) {
  for (auto v :
       {AnalysisVerdict::kHealthy, AnalysisVerdict::kBreached, AnalysisVerdict::kInconclusive}) {
    if (AnalysisVerdictName(v) == name) return v;
  }
  return std::nullopt;
}

void ApplyAnalysis(HealthReport& report, std::vector<AnalysisResult> results) {
  std::string breached;
  std::string inconclusive;
  for (const AnalysisResult& r : results) {
    if (r.verdict == AnalysisVerdict::kHealthy) continue;
    std::string& list = r.verdict == AnalysisVerdict::kBreached ? breached : inconclusive;
    if (!list.empty()) list += "; ";
    list += r.url + (r.reason.empty() ? std::string() : ": " + r.reason);
  }
  report.analysis = std::move(results);
  if (!breached.empty()) {
    report.analysis_breached = true;
    if (report.verdict == Verdict::kHealthy || report.verdict == Verdict::kInconclusive) {
      report.verdict = Verdict::kAnalysisBreached;
      report.reason = "analysis breached (" + breached + ")";
    } else {
      report.reason += "; analysis breached (" + breached + ")";
    }
    return;
  }
  if (!inconclusive.empty() && report.verdict == Verdict::kHealthy) {
    report.verdict = Verdict::kInconclusive;
    report.reason = "analysis inconclusive (" + inconclusive + ")";
  }
}

}  // namespace mlcanary::core
