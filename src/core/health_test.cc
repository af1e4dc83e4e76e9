// Tests of the health evaluator against API.md "Policy" semantics, rule by rule:
// latency-breached, error-breached, healthy, inconclusive, and the report.
#include "core/health.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>

namespace mlcanary::core {

// Readable failure messages (found by argument-dependent lookup).
static void PrintTo(Verdict verdict, std::ostream* os) { *os << VerdictName(verdict); }

namespace {

// A window with `invocations` calls, `errors` of them 5XX, and the given p99.
WindowMetrics Window(std::int64_t invocations, std::int64_t errors, double p99_ms) {
  WindowMetrics w;
  w.invocations = invocations;
  w.errors_5xx = errors;
  w.p50_ms = p99_ms / 2;
  w.p90_ms = p99_ms * 0.8;
  w.p99_ms = p99_ms;
  return w;
}

// A healthy production: 1000 calls, no errors, p99 40 ms.
WindowMetrics Production() { return Window(1000, 0, 40); }

// A production without traffic in the window.
WindowMetrics NoProduction() { return WindowMetrics{}; }

// A policy where only the absolute rules can fire (relative rules out of reach).
Policy AbsoluteOnly() {
  Policy p;
  p.max_latency_ratio = 1e9;
  p.max_error_rate_diff = 1e9;
  return p;
}

// A policy where only the relative rules can fire.
Policy RelativeOnly() {
  Policy p;
  p.max_p99_ms = 1e9;
  p.max_error_rate = 1e9;
  return p;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---- WindowMetrics ----

TEST(WindowMetricsTest, ErrorRateCountsFourAndFiveHundreds) {
  WindowMetrics w;
  w.invocations = 200;
  w.errors_4xx = 3;
  w.errors_5xx = 1;
  EXPECT_DOUBLE_EQ(w.error_rate(), 0.02);
  EXPECT_TRUE(w.has_data());
}

TEST(WindowMetricsTest, ErrorRateIsZeroWithoutInvocations) {
  WindowMetrics w;
  EXPECT_EQ(w.error_rate(), 0.0);
  EXPECT_FALSE(w.has_data());
}

// ---- Healthy ----

TEST(HealthTest, CanaryWithinEveryThresholdIsHealthy) {
  const HealthReport r = EvaluateHealth(Window(1000, 2, 45), Production(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kHealthy);
  EXPECT_FALSE(r.latency_breached);
  EXPECT_FALSE(r.error_breached);
  EXPECT_FALSE(r.breached());
}

TEST(HealthTest, JustBelowEveryThresholdIsHealthy) {
  // p99 99.9 < 100, ratio 99.9/50 = 1.998 < 2.0, error rate 0.009 < 0.01,
  // diff 0.009 < 0.05.
  const HealthReport r = EvaluateHealth(Window(1000, 9, 99.9), Window(1000, 0, 50), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kHealthy) << r.reason;
}

TEST(HealthTest, HealthyReasonSaysHealthy) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 45), Production(), Policy{});
  EXPECT_TRUE(Contains(r.reason, "healthy")) << r.reason;
}

// ---- Latency: canary P99 >= max_p99_ms ----

TEST(HealthTest, P99AboveMaxIsLatencyBreached) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 130), Production(), AbsoluteOnly());
  EXPECT_EQ(r.verdict, Verdict::kLatencyBreached);
  EXPECT_TRUE(r.latency_breached);
  EXPECT_FALSE(r.error_breached);
  EXPECT_TRUE(r.breached());
}

TEST(HealthTest, P99ExactlyAtMaxIsLatencyBreached) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 100), Production(), AbsoluteOnly());
  EXPECT_EQ(r.verdict, Verdict::kLatencyBreached) << r.reason;
}

TEST(HealthTest, P99JustBelowMaxIsNotLatencyBreached) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 99.99), Production(), AbsoluteOnly());
  EXPECT_FALSE(r.latency_breached) << r.reason;
}

TEST(HealthTest, P99AboveMaxBreachesEvenWithoutProductionData) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 150), NoProduction(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kLatencyBreached);
}

TEST(HealthTest, LatencyBreachReasonNamesP99AndThreshold) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 130), Production(), AbsoluteOnly());
  EXPECT_TRUE(Contains(r.reason, "max_p99_ms")) << r.reason;
  EXPECT_TRUE(Contains(r.reason, "130")) << r.reason;
  EXPECT_TRUE(Contains(r.reason, "100")) << r.reason;
}

// ---- Latency: canary P99 / production P99 >= max_latency_ratio ----

TEST(HealthTest, RatioAboveMaxIsLatencyBreached) {
  // 90 ms is under max_p99_ms, but 2.25x production's 40 ms.
  const HealthReport r = EvaluateHealth(Window(1000, 0, 90), Production(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kLatencyBreached);
  ASSERT_TRUE(r.latency_ratio.has_value());
  EXPECT_DOUBLE_EQ(*r.latency_ratio, 2.25);
}

TEST(HealthTest, RatioExactlyAtMaxIsLatencyBreached) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 80), Production(), RelativeOnly());
  ASSERT_TRUE(r.latency_ratio.has_value());
  EXPECT_EQ(*r.latency_ratio, 2.0);
  EXPECT_EQ(r.verdict, Verdict::kLatencyBreached) << r.reason;
}

TEST(HealthTest, RatioBelowTheP99FloorIsNotJudged) {
  // Two healthy microsecond models: 0.029 ms vs 0.008 ms is 3.6x, and noise.
  Policy p = RelativeOnly();
  p.latency_ratio_min_p99_ms = 1;
  const HealthReport r = EvaluateHealth(Window(1000, 0, 0.029), Window(1000, 0, 0.008), p);
  ASSERT_TRUE(r.latency_ratio.has_value());
  EXPECT_GT(*r.latency_ratio, 3.5);  // reported, not judged
  EXPECT_FALSE(r.latency_breached) << r.reason;
  EXPECT_EQ(r.thresholds.latency_ratio_min_p99_ms, 1);
}

TEST(HealthTest, RatioAtOrAboveTheP99FloorIsJudged) {
  Policy p = RelativeOnly();
  p.latency_ratio_min_p99_ms = 80;
  EXPECT_TRUE(EvaluateHealth(Window(1000, 0, 80), Production(), p).latency_breached);
  EXPECT_FALSE(EvaluateHealth(Window(1000, 0, 79.9), Window(1000, 0, 10), p).latency_breached);
}

TEST(HealthTest, RatioJustBelowMaxIsNotLatencyBreached) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 79.9), Production(), RelativeOnly());
  EXPECT_FALSE(r.latency_breached) << r.reason;
}

TEST(HealthTest, RatioBreachReasonNamesRatioAndThreshold) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 90), Production(), Policy{});
  EXPECT_TRUE(Contains(r.reason, "max_latency_ratio")) << r.reason;
  EXPECT_TRUE(Contains(r.reason, "2.25")) << r.reason;
}

TEST(HealthTest, RatioIsNotJudgedWhenProductionHasNoInvocations) {
  // Production's window is empty (but carries a stale tiny p99): no ratio.
  WindowMetrics production = Window(0, 0, 1);
  const HealthReport r = EvaluateHealth(Window(1000, 0, 90), production, Policy{});
  EXPECT_FALSE(r.latency_ratio.has_value());
  EXPECT_EQ(r.verdict, Verdict::kHealthy) << r.reason;
}

TEST(HealthTest, RatioIsNotJudgedWhenProductionIsEmpty) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 90), NoProduction(), Policy{});
  EXPECT_FALSE(r.latency_ratio.has_value());
  EXPECT_EQ(r.verdict, Verdict::kHealthy) << r.reason;
}

TEST(HealthTest, RatioIsNotJudgedWhenProductionP99IsZero) {
  // Invocations but no latency figure: dividing by zero would breach every check.
  const HealthReport r = EvaluateHealth(Window(1000, 0, 50), Window(1000, 0, 0), Policy{});
  EXPECT_FALSE(r.latency_ratio.has_value());
  EXPECT_EQ(r.verdict, Verdict::kHealthy) << r.reason;
}

TEST(HealthTest, RatioIsReportedWhenProductionHasData) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 60), Production(), Policy{});
  ASSERT_TRUE(r.latency_ratio.has_value());
  EXPECT_DOUBLE_EQ(*r.latency_ratio, 1.5);
  EXPECT_EQ(r.verdict, Verdict::kHealthy);
}

TEST(HealthTest, CustomLatencyRatioIsHonoured) {
  Policy p;
  p.max_latency_ratio = 1.2;
  const HealthReport r = EvaluateHealth(Window(1000, 0, 50), Production(), p);  // 1.25x
  EXPECT_EQ(r.verdict, Verdict::kLatencyBreached);
}

// ---- Errors: canary error rate >= max_error_rate ----

TEST(HealthTest, ErrorRateAboveMaxIsErrorBreached) {
  const HealthReport r = EvaluateHealth(Window(1000, 20, 45), Production(), AbsoluteOnly());
  EXPECT_EQ(r.verdict, Verdict::kErrorBreached);
  EXPECT_TRUE(r.error_breached);
  EXPECT_FALSE(r.latency_breached);
  EXPECT_DOUBLE_EQ(r.canary_error_rate, 0.02);
}

TEST(HealthTest, ErrorRateExactlyAtMaxIsErrorBreached) {
  // 10 / 1000 = 0.01 = max_error_rate.
  const HealthReport r = EvaluateHealth(Window(1000, 10, 45), Production(), AbsoluteOnly());
  EXPECT_EQ(r.verdict, Verdict::kErrorBreached) << r.reason;
}

TEST(HealthTest, ErrorRateExactlyAtMaxAtMinInvocationsIsErrorBreached) {
  // 1 / 100 = 0.01, with exactly min_invocations canary calls.
  const HealthReport r = EvaluateHealth(Window(100, 1, 45), Production(), AbsoluteOnly());
  EXPECT_EQ(r.verdict, Verdict::kErrorBreached) << r.reason;
}

TEST(HealthTest, ErrorRateJustBelowMaxIsNotErrorBreached) {
  const HealthReport r = EvaluateHealth(Window(1000, 9, 45), Production(), AbsoluteOnly());
  EXPECT_FALSE(r.error_breached) << r.reason;
}

TEST(HealthTest, FourHundredsCountAsErrors) {
  WindowMetrics canary = Window(1000, 0, 45);
  canary.errors_4xx = 15;
  const HealthReport r = EvaluateHealth(canary, Production(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kErrorBreached);
  EXPECT_DOUBLE_EQ(r.canary_error_rate, 0.015);
}

TEST(HealthTest, FourAndFiveHundredsAddUp) {
  WindowMetrics canary = Window(1000, 5, 45);  // 0.005 alone is fine
  canary.errors_4xx = 5;                       // together 0.01: breached
  const HealthReport r = EvaluateHealth(canary, Production(), AbsoluteOnly());
  EXPECT_EQ(r.verdict, Verdict::kErrorBreached) << r.reason;
}

TEST(HealthTest, ErrorRateBreachReasonNamesRateAndThreshold) {
  const HealthReport r = EvaluateHealth(Window(1000, 20, 45), Production(), AbsoluteOnly());
  EXPECT_TRUE(Contains(r.reason, "max_error_rate")) << r.reason;
  EXPECT_TRUE(Contains(r.reason, "0.02")) << r.reason;
}

// ---- Errors: canary - production error rate >= max_error_rate_diff ----

TEST(HealthTest, ErrorRateDiffAboveMaxIsErrorBreached) {
  // canary 0.10, production 0.02: diff 0.08.
  const HealthReport r =
      EvaluateHealth(Window(1000, 100, 45), Window(1000, 20, 40), RelativeOnly());
  EXPECT_EQ(r.verdict, Verdict::kErrorBreached);
  EXPECT_DOUBLE_EQ(r.error_rate_diff, 0.08);
  EXPECT_TRUE(Contains(r.reason, "max_error_rate_diff")) << r.reason;
}

TEST(HealthTest, ErrorRateDiffExactlyAtMaxIsErrorBreached) {
  // canary 0.10, production 0.05: diff exactly 0.05.
  const HealthReport r =
      EvaluateHealth(Window(1000, 100, 45), Window(1000, 50, 40), RelativeOnly());
  EXPECT_EQ(r.verdict, Verdict::kErrorBreached) << r.reason;
}

// Regression: 0.06 - 0.01 is 0.049999999999999996 in binary; exactly 5 points must
// still breach (API.md: reaching the threshold is a breach).
TEST(HealthTest, ErrorRateDiffOfExactlyFivePointsFromDecimalRatesIsErrorBreached) {
  // canary 6/100 = 6%, production 10/1000 = 1%: 5 points.
  const HealthReport r = EvaluateHealth(Window(100, 6, 45), Window(1000, 10, 40), RelativeOnly());
  EXPECT_EQ(r.verdict, Verdict::kErrorBreached)
      << r.reason << " (diff " << r.error_rate_diff << ")";
}

TEST(HealthTest, ErrorRateDiffJustBelowMaxIsNotErrorBreached) {
  // canary 0.099, production 0.05: diff 0.049.
  const HealthReport r = EvaluateHealth(Window(1000, 99, 45), Window(1000, 50, 40), RelativeOnly());
  EXPECT_FALSE(r.error_breached) << r.reason;
}

TEST(HealthTest, CanaryBetterThanProductionHasNegativeDiff) {
  const HealthReport r = EvaluateHealth(Window(1000, 0, 45), Window(1000, 5, 40), Policy{});
  EXPECT_DOUBLE_EQ(r.error_rate_diff, -0.005);
  EXPECT_EQ(r.verdict, Verdict::kHealthy);
}

TEST(HealthTest, ProductionWithoutInvocationsCountsAsErrorRateZero) {
  // canary 0.06 against an empty production window: diff 0.06 >= 0.05.
  const HealthReport r = EvaluateHealth(Window(1000, 60, 45), NoProduction(), RelativeOnly());
  EXPECT_DOUBLE_EQ(r.production_error_rate, 0.0);
  EXPECT_DOUBLE_EQ(r.error_rate_diff, 0.06);
  EXPECT_EQ(r.verdict, Verdict::kErrorBreached);
}

TEST(HealthTest, ProductionWithoutInvocationsIgnoresStaleErrorCounts) {
  // No invocations means no error rate, whatever the error counters say.
  WindowMetrics production = NoProduction();
  production.errors_5xx = 7;
  const HealthReport r = EvaluateHealth(Window(1000, 2, 45), production, Policy{});
  EXPECT_DOUBLE_EQ(r.production_error_rate, 0.0);
  EXPECT_EQ(r.verdict, Verdict::kHealthy) << r.reason;
}

TEST(HealthTest, ProductionWithoutInvocationsStillJudgesAbsoluteRules) {
  const HealthReport healthy = EvaluateHealth(Window(1000, 1, 45), NoProduction(), Policy{});
  EXPECT_EQ(healthy.verdict, Verdict::kHealthy) << healthy.reason;
  const HealthReport errors = EvaluateHealth(Window(1000, 10, 45), NoProduction(), Policy{});
  EXPECT_EQ(errors.verdict, Verdict::kErrorBreached) << errors.reason;
}

// ---- Both ----

TEST(HealthTest, LatencyAndErrorBreachedTogether) {
  const HealthReport r = EvaluateHealth(Window(1000, 50, 150), Production(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kLatencyAndErrorBreached);
  EXPECT_TRUE(r.latency_breached);
  EXPECT_TRUE(r.error_breached);
  EXPECT_TRUE(r.breached());
}

TEST(HealthTest, BothBreachedReasonNamesEveryRuleThatFired) {
  // p99 150 >= 100, ratio 3.75 >= 2, rate 0.1 >= 0.01, diff 0.1 >= 0.05.
  const HealthReport r = EvaluateHealth(Window(1000, 100, 150), Production(), Policy{});
  EXPECT_TRUE(Contains(r.reason, "max_p99_ms")) << r.reason;
  EXPECT_TRUE(Contains(r.reason, "max_latency_ratio")) << r.reason;
  EXPECT_TRUE(Contains(r.reason, "max_error_rate ")) << r.reason;
  EXPECT_TRUE(Contains(r.reason, "max_error_rate_diff")) << r.reason;
}

// ---- Inconclusive ----

TEST(HealthTest, FewerThanMinInvocationsIsInconclusive) {
  const HealthReport r = EvaluateHealth(Window(99, 0, 45), Production(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_FALSE(r.breached());
}

TEST(HealthTest, ExactlyMinInvocationsGetsAVerdict) {
  const HealthReport r = EvaluateHealth(Window(100, 0, 45), Production(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kHealthy);
}

TEST(HealthTest, InconclusiveEvenWhenEveryValueIsBreached) {
  const HealthReport r = EvaluateHealth(Window(50, 50, 500), Production(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_FALSE(r.latency_breached);
  EXPECT_FALSE(r.error_breached);
  EXPECT_FALSE(r.breached());
}

TEST(HealthTest, CanaryWithoutInvocationsIsInconclusive) {
  const HealthReport r = EvaluateHealth(WindowMetrics{}, Production(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
}

TEST(HealthTest, InconclusiveReasonGivesCountAndMinimum) {
  const HealthReport r = EvaluateHealth(Window(42, 0, 45), Production(), Policy{});
  EXPECT_TRUE(Contains(r.reason, "inconclusive")) << r.reason;
  EXPECT_TRUE(Contains(r.reason, "42")) << r.reason;
  EXPECT_TRUE(Contains(r.reason, "min_invocations 100")) << r.reason;
}

TEST(HealthTest, InconclusiveReportStillCarriesTheValues) {
  const HealthReport r = EvaluateHealth(Window(50, 5, 90), Production(), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_EQ(r.canary.invocations, 50);
  EXPECT_DOUBLE_EQ(r.canary_error_rate, 0.1);
  ASSERT_TRUE(r.latency_ratio.has_value());
  EXPECT_DOUBLE_EQ(*r.latency_ratio, 2.25);
  EXPECT_EQ(r.thresholds.min_invocations, 100);
}

TEST(HealthTest, CustomMinInvocationsIsHonoured) {
  Policy p;
  p.min_invocations = 10;
  EXPECT_EQ(EvaluateHealth(Window(9, 0, 45), Production(), p).verdict, Verdict::kInconclusive);
  EXPECT_EQ(EvaluateHealth(Window(10, 0, 45), Production(), p).verdict, Verdict::kHealthy);
}

TEST(HealthTest, ProductionInvocationsDoNotCountTowardsMinimum) {
  const HealthReport r = EvaluateHealth(Window(10, 0, 45), Window(100000, 0, 40), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
}

// ---- The report ----

TEST(HealthTest, ReportCarriesTheWindowsAndDerivedValues) {
  WindowMetrics canary = Window(2000, 30, 70);
  canary.errors_4xx = 10;
  canary.cpu_utilization = 55.5;
  const WindowMetrics production = Window(8000, 40, 35);
  const HealthReport r = EvaluateHealth(canary, production, Policy{});
  EXPECT_EQ(r.canary, canary);
  EXPECT_EQ(r.production, production);
  EXPECT_DOUBLE_EQ(r.canary_error_rate, 0.02);
  EXPECT_DOUBLE_EQ(r.production_error_rate, 0.005);
  EXPECT_DOUBLE_EQ(r.error_rate_diff, 0.015);
  ASSERT_TRUE(r.latency_ratio.has_value());
  EXPECT_DOUBLE_EQ(*r.latency_ratio, 2.0);
}

TEST(HealthTest, ReportCarriesThePolicyThresholds) {
  Policy p;
  p.max_p99_ms = 250;
  p.max_error_rate = 0.03;
  p.max_latency_ratio = 1.5;
  p.max_error_rate_diff = 0.02;
  p.min_invocations = 500;
  const HealthReport r = EvaluateHealth(Window(1000, 0, 45), Production(), p);
  EXPECT_EQ(r.thresholds.max_p99_ms, 250);
  EXPECT_EQ(r.thresholds.max_error_rate, 0.03);
  EXPECT_EQ(r.thresholds.max_latency_ratio, 1.5);
  EXPECT_EQ(r.thresholds.max_error_rate_diff, 0.02);
  EXPECT_EQ(r.thresholds.min_invocations, 500);
}

TEST(HealthTest, EveryVerdictHasANonEmptyReason) {
  const WindowMetrics prod = Production();
  for (const HealthReport& r : {EvaluateHealth(Window(1000, 0, 45), prod, Policy{}),
                                EvaluateHealth(Window(10, 0, 45), prod, Policy{}),
                                EvaluateHealth(Window(1000, 0, 150), prod, Policy{}),
                                EvaluateHealth(Window(1000, 50, 45), prod, Policy{}),
                                EvaluateHealth(Window(1000, 50, 150), prod, Policy{})}) {
    SCOPED_TRACE(VerdictName(r.verdict));
    EXPECT_FALSE(r.reason.empty());
    EXPECT_EQ(r.reason.find('\n'), std::string::npos);
  }
}

TEST(HealthTest, EvaluationIsDeterministic) {
  const HealthReport a = EvaluateHealth(Window(1000, 20, 130), Production(), Policy{});
  const HealthReport b = EvaluateHealth(Window(1000, 20, 130), Production(), Policy{});
  EXPECT_EQ(a, b);
}

// ---- Verdict names ----

TEST(VerdictTest, NamesRoundTrip) {
  for (Verdict v : {Verdict::kHealthy, Verdict::kInconclusive, Verdict::kLatencyBreached,
                    Verdict::kErrorBreached, Verdict::kLatencyAndErrorBreached}) {
    SCOPED_TRACE(VerdictName(v));
    EXPECT_EQ(ParseVerdict(VerdictName(v)), v);
  }
}

TEST(VerdictTest, NamesAreSnakeCase) {
  EXPECT_EQ(VerdictName(Verdict::kHealthy), "healthy");
  EXPECT_EQ(VerdictName(Verdict::kInconclusive), "inconclusive");
  EXPECT_EQ(VerdictName(Verdict::kLatencyBreached), "latency_breached");
  EXPECT_EQ(VerdictName(Verdict::kErrorBreached), "error_breached");
  EXPECT_EQ(VerdictName(Verdict::kLatencyAndErrorBreached), "latency_and_error_breached");
}

TEST(VerdictTest, UnknownNameDoesNotParse) {
  EXPECT_FALSE(ParseVerdict("").has_value());
  EXPECT_FALSE(ParseVerdict("HEALTHY").has_value());
  EXPECT_FALSE(ParseVerdict("breached").has_value());
}

}  // namespace
}  // namespace mlcanary::core

namespace mlcanary::core {
namespace {

// ---- The mann_whitney latency judge (issue 14) ----

// Sub-millisecond latencies as histogram buckets: `n` samples spread over
// the given (ms, share) points.
WindowMetrics Noisy(std::int64_t n, std::vector<std::pair<double, double>> shape, double p50,
                    double p99) {
  WindowMetrics w;
  w.invocations = n;
  w.p50_ms = p50;
  w.p90_ms = p99 * 0.8;
  w.p99_ms = p99;
  for (auto [ms, share] : shape) {
    w.latency_buckets.push_back({ms, static_cast<std::int64_t>(share * static_cast<double>(n))});
  }
  return w;
}

Policy MannWhitney() {
  Policy p;
  p.latency_judge = LatencyJudge::kMannWhitney;
  p.latency_alpha = 0.05;
  p.latency_min_effect = 1.1;
  return p;
}

// Two healthy sub-ms models: same median, the canary's tail 4x production's
// from noise. The ratio rule breaches; the rank test does not.
TEST(HealthMannWhitneyTest, NoisyTailWithTheSameMedianIsNotSlower) {
  const WindowMetrics production =
      Noisy(2000, {{0.10, 0.5}, {0.12, 0.49}, {0.20, 0.01}}, 0.10, 0.20);
  const WindowMetrics canary = Noisy(2000, {{0.10, 0.5}, {0.12, 0.48}, {0.80, 0.02}}, 0.10, 0.80);
  const HealthReport threshold = EvaluateHealth(canary, production, Policy{});
  EXPECT_EQ(threshold.verdict, Verdict::kLatencyBreached) << threshold.reason;
  const HealthReport mw = EvaluateHealth(canary, production, MannWhitney());
  EXPECT_EQ(mw.verdict, Verdict::kHealthy) << mw.reason;
  ASSERT_TRUE(mw.latency_test);
  EXPECT_GT(mw.latency_test->test.p, 0.05);
  EXPECT_DOUBLE_EQ(mw.latency_test->effect, 1.0);
  EXPECT_NE(mw.reason.find("Mann-Whitney p"), std::string::npos) << mw.reason;
  EXPECT_EQ(mw.thresholds.latency_judge, LatencyJudge::kMannWhitney);
  EXPECT_DOUBLE_EQ(mw.thresholds.latency_alpha, 0.05);
}

// A real slowdown: the canary's median doubled. Significant and large.
TEST(HealthMannWhitneyTest, ShiftedMedianIsSlower) {
  const WindowMetrics production = Noisy(1000, {{0.10, 0.6}, {0.12, 0.4}}, 0.10, 0.12);
  const WindowMetrics canary = Noisy(1000, {{0.20, 0.6}, {0.24, 0.4}}, 0.20, 0.24);
  const HealthReport r = EvaluateHealth(canary, production, MannWhitney());
  EXPECT_EQ(r.verdict, Verdict::kLatencyBreached) << r.reason;
  ASSERT_TRUE(r.latency_test);
  EXPECT_DOUBLE_EQ(r.latency_test->test.u, 1000.0 * 1000.0);
  EXPECT_LT(r.latency_test->test.p, 1e-6);
  EXPECT_DOUBLE_EQ(r.latency_test->effect, 2.0);
  EXPECT_NE(r.reason.find("p50 ratio 2.00 >= latency_min_effect 1.1"), std::string::npos)
      << r.reason;
}

// Significant but smaller than the minimum effect: not a breach.
TEST(HealthMannWhitneyTest, SignificantButSmallEffectIsNotABreach) {
  const WindowMetrics production = Noisy(5000, {{0.100, 0.6}, {0.120, 0.4}}, 0.100, 0.12);
  const WindowMetrics canary = Noisy(5000, {{0.105, 0.6}, {0.125, 0.4}}, 0.105, 0.125);
  const HealthReport r = EvaluateHealth(canary, production, MannWhitney());
  ASSERT_TRUE(r.latency_test);
  EXPECT_LT(r.latency_test->test.p, 0.05);
  EXPECT_EQ(r.verdict, Verdict::kHealthy) << r.reason;
  Policy any_effect = MannWhitney();
  any_effect.latency_min_effect = 1.01;
  EXPECT_EQ(EvaluateHealth(canary, production, any_effect).verdict, Verdict::kLatencyBreached);
}

// The absolute p99 rule still applies under mann_whitney.
TEST(HealthMannWhitneyTest, AbsoluteP99StillBreaches) {
  const WindowMetrics production = Noisy(1000, {{50, 1.0}}, 50, 50);
  const WindowMetrics canary = Noisy(1000, {{50, 0.98}, {150, 0.02}}, 50, 150);
  const HealthReport r = EvaluateHealth(canary, production, MannWhitney());
  EXPECT_EQ(r.verdict, Verdict::kLatencyBreached) << r.reason;
  EXPECT_NE(r.reason.find("max_p99_ms"), std::string::npos) << r.reason;
}

// ---- Prediction divergence (issue 14) ----

WindowMetrics WithPredictions(WindowMetrics w, std::vector<ValueCount> buckets) {
  w.prediction_buckets = std::move(buckets);
  w.predictions = 0;
  for (const ValueCount& b : w.prediction_buckets) w.predictions += b.count;
  w.outputs_per_row = 1;
  return w;
}

std::vector<ValueCount> Uniform(int first, int last, std::int64_t each) {
  std::vector<ValueCount> out;
  for (int v = first; v <= last; ++v) out.push_back({static_cast<double>(v), each});
  return out;
}

Policy Divergence(double psi_max) {
  Policy p;
  p.divergence_psi_max = psi_max;
  p.divergence_min_predictions = 500;
  return p;
}

TEST(HealthDivergenceTest, OffByDefault) {
  const auto production = WithPredictions(Production(), Uniform(1, 10, 100));
  const auto canary = WithPredictions(Window(1000, 0, 40), Uniform(20, 29, 100));
  const HealthReport r = EvaluateHealth(canary, production, Policy{});
  EXPECT_EQ(r.verdict, Verdict::kHealthy);
  EXPECT_FALSE(r.psi);
}

TEST(HealthDivergenceTest, ShiftedPredictionsBreach) {
  const auto production = WithPredictions(Production(), Uniform(1, 10, 100));
  const auto canary = WithPredictions(Window(1000, 0, 40), Uniform(20, 29, 100));
  const HealthReport r = EvaluateHealth(canary, production, Divergence(0.2));
  EXPECT_EQ(r.verdict, Verdict::kDivergenceBreached) << r.reason;
  EXPECT_TRUE(r.divergence_breached);
  EXPECT_TRUE(r.breached());
  ASSERT_TRUE(r.psi);
  EXPECT_NEAR(*r.psi, 8.283089355, 1e-6);
  EXPECT_NE(r.reason.find("prediction PSI 8.283 >= divergence_psi_max 0.2"), std::string::npos)
      << r.reason;
  EXPECT_DOUBLE_EQ(r.thresholds.divergence_psi_max, 0.2);
}

TEST(HealthDivergenceTest, SameDistributionIsHealthyWithItsPsi) {
  const auto production = WithPredictions(Production(), Uniform(1, 10, 100));
  const auto canary = WithPredictions(Window(1000, 0, 40), Uniform(1, 10, 90));
  const HealthReport r = EvaluateHealth(canary, production, Divergence(0.2));
  EXPECT_EQ(r.verdict, Verdict::kHealthy) << r.reason;
  ASSERT_TRUE(r.psi);
  EXPECT_NEAR(*r.psi, 0, 1e-12);
  EXPECT_NE(r.reason.find("prediction PSI 0.000"), std::string::npos) << r.reason;
}

TEST(HealthDivergenceTest, TooFewPredictionsAreNotJudged) {
  const auto production = WithPredictions(Production(), Uniform(1, 10, 100));
  const auto canary = WithPredictions(Window(1000, 0, 40), Uniform(20, 29, 40));  // 400
  const HealthReport r = EvaluateHealth(canary, production, Divergence(0.2));
  EXPECT_EQ(r.verdict, Verdict::kHealthy) << r.reason;
  EXPECT_FALSE(r.psi);
}

// A multi-output model cannot be compared on one output: the check refuses a
// verdict, naming the field, so the rollout does not advance unjudged.
TEST(HealthDivergenceTest, MultiOutputModelIsInconclusiveNamingTheField) {
  const auto production = WithPredictions(Production(), Uniform(1, 10, 100));
  auto canary = WithPredictions(Window(1000, 0, 40), Uniform(1, 10, 100));
  canary.outputs_per_row = 3;
  const HealthReport r = EvaluateHealth(canary, production, Divergence(0.2));
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_EQ(r.reason,
            "inconclusive: divergence_psi_max: the canary model returns 3 outputs per row; the "
            "divergence check compares single-output models only (set divergence_psi_max: 0 to "
            "judge this model without it)");
  // With the check off, the same windows are judged as always.
  EXPECT_EQ(EvaluateHealth(canary, production, Policy{}).verdict, Verdict::kHealthy);
}

// With a latency breach too, the verdict is latency's and the flag says the rest.
TEST(HealthDivergenceTest, LatencyAndDivergence) {
  const auto production = WithPredictions(Production(), Uniform(1, 10, 100));
  const auto canary = WithPredictions(Window(1000, 0, 150), Uniform(20, 29, 100));
  const HealthReport r = EvaluateHealth(canary, production, Divergence(0.2));
  EXPECT_EQ(r.verdict, Verdict::kLatencyBreached);
  EXPECT_TRUE(r.divergence_breached);
  EXPECT_EQ(ParseVerdict("divergence_breached"), Verdict::kDivergenceBreached);
}

// The paired check (shadow): the canary's answers to copies of production's
// requests, compared pair by pair.
WindowMetrics Paired(std::int64_t pairs, std::int64_t disagreements, std::int64_t outputs = 1) {
  WindowMetrics w{.invocations = 1000, .p50_ms = 5, .p90_ms = 8, .p99_ms = 10};
  w.pairs = pairs;
  w.pair_disagreements = disagreements;
  w.pair_abs_diff_sum = 0.5 * static_cast<double>(disagreements);
  w.outputs_per_row = outputs;
  return w;
}

Policy PairedPolicy() {
  Policy p;
  p.divergence_max_disagreement = 0.05;
  p.divergence_min_predictions = 500;
  return p;
}

TEST(HealthPairedTest, OffByDefault) {
  const HealthReport r = EvaluateHealth(Paired(1000, 900), Paired(0, 0), Policy{});
  EXPECT_EQ(r.verdict, Verdict::kHealthy);
  EXPECT_FALSE(r.paired);
}

TEST(HealthPairedTest, DisagreementAtTheShareBreachesWithItsValues) {
  const HealthReport r = EvaluateHealth(Paired(1000, 50), Paired(0, 0), PairedPolicy());
  EXPECT_EQ(r.verdict, Verdict::kDivergenceBreached);
  ASSERT_TRUE(r.paired);
  EXPECT_EQ(r.paired->pairs, 1000);
  EXPECT_DOUBLE_EQ(r.paired->disagreement, 0.05);
  EXPECT_DOUBLE_EQ(r.paired->mean_abs_diff, 0.025);
  EXPECT_DOUBLE_EQ(r.thresholds.divergence_max_disagreement, 0.05);
  EXPECT_NE(r.reason.find("paired disagreement 0.0500 >= divergence_max_disagreement 0.05"),
            std::string::npos)
      << r.reason;
  const HealthReport ok = EvaluateHealth(Paired(1000, 49), Paired(0, 0), PairedPolicy());
  EXPECT_EQ(ok.verdict, Verdict::kHealthy);
  EXPECT_NE(ok.reason.find("paired disagreement 0.0490 (max 0.05)"), std::string::npos)
      << ok.reason;
}

TEST(HealthPairedTest, TooFewPairsAreNotJudged) {
  const HealthReport r = EvaluateHealth(Paired(499, 499), Paired(0, 0), PairedPolicy());
  EXPECT_EQ(r.verdict, Verdict::kHealthy);
  EXPECT_FALSE(r.paired);
}

TEST(HealthPairedTest, MultiOutputModelWithoutAnOutputIsInconclusiveNamingTheField) {
  const HealthReport r = EvaluateHealth(Paired(1000, 0, 3), Paired(0, 0, 3), PairedPolicy());
  EXPECT_EQ(r.verdict, Verdict::kInconclusive);
  EXPECT_EQ(r.reason,
            "inconclusive: divergence_output: the canary model returns 3 outputs per row; set "
            "divergence_output to the one the paired check compares");
  Policy named = PairedPolicy();
  named.divergence_output = 2;
  EXPECT_EQ(EvaluateHealth(Paired(1000, 0, 3), Paired(0, 0, 3), named).verdict, Verdict::kHealthy);
  named.divergence_output = 3;
  const HealthReport missing = EvaluateHealth(Paired(1000, 0, 3), Paired(0, 0, 3), named);
  EXPECT_EQ(missing.verdict, Verdict::kInconclusive);
  EXPECT_NE(missing.reason.find("output 3 does not exist"), std::string::npos) << missing.reason;
}

}  // namespace
}  // namespace mlcanary::core
