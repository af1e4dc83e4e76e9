// Tests of Policy: the API.md defaults, validation (the error names the field)
// and the traffic schedule (InitialWeight, NextWeight).
#include "core/policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace mlcanary::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Expects `policy` to be refused as a ValidationError whose message starts with
// "policy.<field>".
void ExpectRefusedNaming(const Policy& policy, const std::string& field) {
  const Status s = ValidatePolicy(policy);
  ASSERT_FALSE(s.has_value()) << "expected policy." << field << " to be refused";
  EXPECT_EQ(s.error().code(), ErrorCode::kValidation);
  EXPECT_FALSE(s.error().retryable());
  EXPECT_EQ(s.error().message().rfind("policy." + field + ":", 0), 0u) << s.error().message();
}

// ---- Defaults (API.md "Policy") ----

TEST(PolicyTest, DefaultsAreTheApiDefaults) {
  const Policy p;
  EXPECT_DOUBLE_EQ(p.initial_weight, 0.10);
  EXPECT_DOUBLE_EQ(p.step, 0.10);
  EXPECT_TRUE(p.steps.empty());
  EXPECT_EQ(p.bake, minutes(10));
  EXPECT_EQ(p.interval, minutes(1));
  EXPECT_EQ(p.final_bake, milliseconds(0));
  EXPECT_DOUBLE_EQ(p.max_p99_ms, 100);
  EXPECT_DOUBLE_EQ(p.max_error_rate, 0.01);
  EXPECT_DOUBLE_EQ(p.max_latency_ratio, 2.0);
  EXPECT_DOUBLE_EQ(p.max_error_rate_diff, 0.05);
  EXPECT_EQ(p.latency_breaches_to_rollback, 3);
  EXPECT_EQ(p.error_breaches_to_rollback, 2);
  EXPECT_EQ(p.min_invocations, 100);
  EXPECT_TRUE(p.auto_rollback);
}

TEST(PolicyTest, DefaultPolicyIsValid) {
  const Status s = ValidatePolicy(Policy{});
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
}

TEST(PolicyTest, DesignDocumentStepListIsValid) {
  Policy p;
  p.steps = {0.01, 0.05, 0.10, 0.25, 0.50, 1.0};
  const Status s = ValidatePolicy(p);
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
}

TEST(PolicyTest, PoliciesCompareByValue) {
  Policy a;
  Policy b;
  EXPECT_EQ(a, b);
  b.final_bake = minutes(5);
  EXPECT_NE(a, b);
}

// ---- ValidatePolicy: weights ----

TEST(ValidatePolicyTest, InitialWeightOfOneIsValid) {
  Policy p;
  p.initial_weight = 1.0;
  EXPECT_TRUE(ValidatePolicy(p).has_value());
}

TEST(ValidatePolicyTest, InitialWeightOutsideZeroOneNamesTheField) {
  for (double w : {0.0, -0.1, 1.0000001, 1.5, kNaN, kInf, -kInf}) {
    SCOPED_TRACE(w);
    Policy p;
    p.initial_weight = w;
    ExpectRefusedNaming(p, "initial_weight");
  }
}

TEST(ValidatePolicyTest, StepOutsideZeroOneNamesTheField) {
  for (double w : {0.0, -0.1, 1.1, kNaN, kInf}) {
    SCOPED_TRACE(w);
    Policy p;
    p.step = w;
    ExpectRefusedNaming(p, "step");
  }
}

TEST(ValidatePolicyTest, WeightErrorSaysTheRange) {
  Policy p;
  p.initial_weight = 1.5;
  const Status s = ValidatePolicy(p);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("(0, 1]"), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("1.5"), std::string::npos) << s.error().message();
}

TEST(ValidatePolicyTest, StepsEntryOutsideZeroOneNamesItsIndex) {
  for (double w : {0.0, -0.5, 1.5, kNaN}) {
    SCOPED_TRACE(w);
    Policy p;
    p.steps = {0.1, 0.5, w};
    ExpectRefusedNaming(p, "steps[2]");
  }
  Policy first;
  first.steps = {0.0, 0.5, 1.0};
  ExpectRefusedNaming(first, "steps[0]");
}

// Weights are rounded to 1e-6: a smaller one would round to 0 and the canary
// would sit at "0%" forever.
TEST(ValidatePolicyTest, WeightsBelowTheResolutionAreRefusedNamingTheField) {
  for (double w : {1e-7, 4.9e-7, 5e-7, 9.99e-7}) {
    SCOPED_TRACE(w);
    Policy initial;
    initial.initial_weight = w;
    ExpectRefusedNaming(initial, "initial_weight");
    Policy step;
    step.step = w;
    ExpectRefusedNaming(step, "step");
    Policy first;
    first.steps = {w, 0.5, 1.0};
    ExpectRefusedNaming(first, "steps[0]");
  }
}

TEST(ValidatePolicyTest, WeightsAtTheResolutionAreValid) {
  Policy p;
  p.initial_weight = kWeightResolution;
  p.step = 1e-6;
  EXPECT_TRUE(ValidatePolicy(p).has_value());
  Policy steps;
  steps.steps = {1e-6, 2e-6, 1.0};
  EXPECT_TRUE(ValidatePolicy(steps).has_value());
}

TEST(ValidatePolicyTest, BelowResolutionErrorPrintsTheWeightAndTheResolution) {
  Policy p;
  p.initial_weight = 1e-7;
  const Status s = ValidatePolicy(p);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message(),
            "policy.initial_weight: weight 1e-07 must be at least 1e-06 (the weight resolution: "
            "a smaller weight rounds to 0)");
}

TEST(ValidatePolicyTest, StepsEqualAtTheResolutionAreRefused) {
  Policy p;
  p.steps = {0.1, 0.1000004, 1.0};  // both round to 0.1
  ExpectRefusedNaming(p, "steps[1]");
  const Status s = ValidatePolicy(p);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("resolution"), std::string::npos) << s.error().message();
}

// A stored record may come from a version without the resolution rules: it
// is read with kStored; CheckWeightResolution then names what cannot be followed.
TEST(ValidatePolicyTest, StoredRulesAcceptWhatOlderVersionsAcceptedAndNothingElse) {
  Policy tiny;
  tiny.initial_weight = 1e-7;
  tiny.step = 5e-7;
  EXPECT_TRUE(ValidatePolicy(tiny, PolicyRules::kStored).has_value());
  EXPECT_FALSE(ValidatePolicy(tiny).has_value());
  const Status below = CheckWeightResolution(tiny);
  ASSERT_FALSE(below.has_value());
  EXPECT_EQ(below.error().message(),
            "policy.initial_weight: weight 1e-07 must be at least 1e-06 (the weight resolution: "
            "a smaller weight rounds to 0)");
  Policy step_only;
  step_only.step = 5e-7;
  ASSERT_FALSE(CheckWeightResolution(step_only).has_value());
  EXPECT_NE(CheckWeightResolution(step_only).error().message().find("policy.step:"),
            std::string::npos);

  Policy equal_once_rounded;
  equal_once_rounded.steps = {0.1, 0.1000004, 1.0};
  EXPECT_TRUE(ValidatePolicy(equal_once_rounded, PolicyRules::kStored).has_value());
  EXPECT_TRUE(CheckWeightResolution(equal_once_rounded).has_value());  // it can be followed
  Policy first_step;
  first_step.steps = {1e-7, 0.5};
  EXPECT_TRUE(ValidatePolicy(first_step, PolicyRules::kStored).has_value());
  ASSERT_FALSE(CheckWeightResolution(first_step).has_value());
  EXPECT_NE(CheckWeightResolution(first_step).error().message().find("policy.steps[0]"),
            std::string::npos);
  EXPECT_TRUE(CheckWeightResolution(Policy{}).has_value());

  // The other rules hold for stored policies too.
  for (auto broken : {+[](Policy& p) { p.step = 0; }, +[](Policy& p) { p.initial_weight = 2; },
                      +[](Policy& p) {
                        p.steps = {0.5, 0.2};
                      },
                      +[](Policy& p) { p.interval = Duration(0); }}) {
    Policy p;
    broken(p);
    EXPECT_FALSE(ValidatePolicy(p, PolicyRules::kStored).has_value());
  }
}

TEST(ValidatePolicyTest, NonIncreasingStepsNameTheOffendingIndex) {
  Policy equal;
  equal.steps = {0.1, 0.5, 0.5, 1.0};
  ExpectRefusedNaming(equal, "steps[2]");

  Policy decreasing;
  decreasing.steps = {0.1, 0.5, 0.25, 1.0};
  ExpectRefusedNaming(decreasing, "steps[2]");

  Policy second;
  second.steps = {0.5, 0.1};
  ExpectRefusedNaming(second, "steps[1]");
}

TEST(ValidatePolicyTest, NonIncreasingStepsErrorSaysStrictlyIncreasing) {
  Policy p;
  p.steps = {0.1, 0.5, 0.25};
  const Status s = ValidatePolicy(p);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("strictly increasing"), std::string::npos)
      << s.error().message();
}

TEST(ValidatePolicyTest, StepListMakesInitialWeightAndStepUnused) {
  Policy p;
  p.steps = {0.2, 1.0};
  p.initial_weight = 0;  // invalid on its own, but not used with a step list
  p.step = 5;
  const Status s = ValidatePolicy(p);
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
}

TEST(ValidatePolicyTest, SingleEntryStepListIsValid) {
  Policy p;
  p.steps = {1.0};
  EXPECT_TRUE(ValidatePolicy(p).has_value());
}

// ---- ValidatePolicy: durations ----

TEST(ValidatePolicyTest, NegativeBakeNamesTheField) {
  Policy p;
  p.bake = milliseconds(-1);
  ExpectRefusedNaming(p, "bake");
}

TEST(ValidatePolicyTest, ZeroBakeIsValid) {
  Policy p;
  p.bake = milliseconds(0);
  EXPECT_TRUE(ValidatePolicy(p).has_value());
}

TEST(ValidatePolicyTest, ZeroIntervalNamesTheField) {
  Policy p;
  p.interval = milliseconds(0);
  ExpectRefusedNaming(p, "interval");
}

TEST(ValidatePolicyTest, NegativeIntervalNamesTheField) {
  Policy p;
  p.interval = -minutes(1);
  ExpectRefusedNaming(p, "interval");
}

TEST(ValidatePolicyTest, NegativeFinalBakeNamesTheField) {
  Policy p;
  p.final_bake = -minutes(1);
  ExpectRefusedNaming(p, "final_bake");
}

TEST(ValidatePolicyTest, PositiveFinalBakeIsValid) {
  Policy p;
  p.final_bake = minutes(30);
  EXPECT_TRUE(ValidatePolicy(p).has_value());
}

// ---- ValidatePolicy: thresholds ----

TEST(ValidatePolicyTest, NonPositiveOrNonFiniteMaxP99NamesTheField) {
  for (double v : {0.0, -1.0, kNaN, kInf}) {
    SCOPED_TRACE(v);
    Policy p;
    p.max_p99_ms = v;
    ExpectRefusedNaming(p, "max_p99_ms");
  }
}

TEST(ValidatePolicyTest, NonPositiveOrNonFiniteMaxErrorRateNamesTheField) {
  for (double v : {0.0, -0.01, kNaN, kInf}) {
    SCOPED_TRACE(v);
    Policy p;
    p.max_error_rate = v;
    ExpectRefusedNaming(p, "max_error_rate");
  }
}

TEST(ValidatePolicyTest, NonPositiveOrNonFiniteMaxLatencyRatioNamesTheField) {
  for (double v : {0.0, -2.0, kNaN, kInf}) {
    SCOPED_TRACE(v);
    Policy p;
    p.max_latency_ratio = v;
    ExpectRefusedNaming(p, "max_latency_ratio");
  }
}

TEST(ValidatePolicyTest, NonPositiveOrNonFiniteMaxErrorRateDiffNamesTheField) {
  for (double v : {0.0, -0.05, kNaN, kInf}) {
    SCOPED_TRACE(v);
    Policy p;
    p.max_error_rate_diff = v;
    ExpectRefusedNaming(p, "max_error_rate_diff");
  }
}

TEST(ValidatePolicyTest, NegativeOrNonFiniteLatencyRatioFloorNamesTheField) {
  for (double v : {-1.0, kNaN, kInf}) {
    SCOPED_TRACE(v);
    Policy p;
    p.latency_ratio_min_p99_ms = v;
    ExpectRefusedNaming(p, "latency_ratio_min_p99_ms");
  }
  Policy zero;  // the default: the ratio rule judges every canary
  EXPECT_EQ(zero.latency_ratio_min_p99_ms, 0);
  EXPECT_TRUE(ValidatePolicy(zero));
}

// ---- ValidatePolicy: counts ----

TEST(ValidatePolicyTest, LatencyBreachesBelowOneNamesTheField) {
  for (int n : {0, -1}) {
    SCOPED_TRACE(n);
    Policy p;
    p.latency_breaches_to_rollback = n;
    ExpectRefusedNaming(p, "latency_breaches_to_rollback");
  }
}

TEST(ValidatePolicyTest, ErrorBreachesBelowOneNamesTheField) {
  for (int n : {0, -1}) {
    SCOPED_TRACE(n);
    Policy p;
    p.error_breaches_to_rollback = n;
    ExpectRefusedNaming(p, "error_breaches_to_rollback");
  }
}

TEST(ValidatePolicyTest, OneBreachToRollbackIsValid) {
  Policy p;
  p.latency_breaches_to_rollback = 1;
  p.error_breaches_to_rollback = 1;
  EXPECT_TRUE(ValidatePolicy(p).has_value());
}

TEST(ValidatePolicyTest, NegativeMinInvocationsNamesTheField) {
  Policy p;
  p.min_invocations = -1;
  ExpectRefusedNaming(p, "min_invocations");
}

TEST(ValidatePolicyTest, ZeroMinInvocationsIsValid) {
  Policy p;
  p.min_invocations = 0;
  EXPECT_TRUE(ValidatePolicy(p).has_value());
}

// ---- InitialWeight ----

TEST(InitialWeightTest, StepModeStartsAtInitialWeight) {
  Policy p;
  EXPECT_DOUBLE_EQ(InitialWeight(p), 0.10);
  p.initial_weight = 0.25;
  EXPECT_DOUBLE_EQ(InitialWeight(p), 0.25);
}

TEST(InitialWeightTest, StepListStartsAtItsFirstEntry) {
  Policy p;
  p.initial_weight = 0.5;
  p.steps = {0.01, 0.05, 1.0};
  EXPECT_DOUBLE_EQ(InitialWeight(p), 0.01);
}

TEST(InitialWeightTest, IsRoundedToTheWeightGrid) {
  Policy p;
  p.initial_weight = 0.1234567;
  EXPECT_EQ(InitialWeight(p), RoundWeight(0.1234567));
  EXPECT_DOUBLE_EQ(InitialWeight(p), 0.123457);
}

// ---- NextWeight: step mode ----

TEST(NextWeightTest, AddsTheStep) {
  Policy p;
  EXPECT_DOUBLE_EQ(NextWeight(p, 0.10), 0.20);
  p.step = 0.25;
  EXPECT_DOUBLE_EQ(NextWeight(p, 0.10), 0.35);
}

TEST(NextWeightTest, TenStepsOfOneTenthLandExactlyOnOne) {
  Policy p;
  double w = InitialWeight(p);
  for (int i = 1; i < 10; ++i) {
    w = NextWeight(p, w);
    EXPECT_DOUBLE_EQ(w, (i + 1) / 10.0) << "after step " << i;
  }
  EXPECT_EQ(w, 1.0);  // exactly, not 0.9999999999999999
}

TEST(NextWeightTest, EveryIntermediateStepEqualsTheDecimalWeight) {
  Policy p;
  double w = InitialWeight(p);
  for (int i = 2; i <= 10; ++i) {
    w = NextWeight(p, w);
    EXPECT_EQ(w, RoundWeight(i / 10.0)) << "step to " << i * 10 << "%";
    EXPECT_TRUE(SameWeight(w, i / 10.0));
  }
}

TEST(NextWeightTest, ClampsAtOne) {
  Policy p;
  p.step = 0.3;
  EXPECT_EQ(NextWeight(p, 0.9), 1.0);
  EXPECT_EQ(NextWeight(p, 1.0), 1.0);
  p.step = 1.0;
  EXPECT_EQ(NextWeight(p, 0.5), 1.0);
}

TEST(NextWeightTest, StepOfThreeTenthsGoesPointOneFourSevenThenOne) {
  Policy p;
  p.step = 0.3;
  std::vector<double> weights = {InitialWeight(p)};
  while (weights.back() < 1.0 && weights.size() < 20) {
    weights.push_back(NextWeight(p, weights.back()));
  }
  ASSERT_EQ(weights.size(), 4u);
  EXPECT_DOUBLE_EQ(weights[0], 0.1);
  EXPECT_DOUBLE_EQ(weights[1], 0.4);
  EXPECT_DOUBLE_EQ(weights[2], 0.7);
  EXPECT_EQ(weights[3], 1.0);
}

// ---- NextWeight: step list ----

TEST(NextWeightTest, StepListWalksItsEntriesInOrder) {
  Policy p;
  p.steps = {0.01, 0.05, 0.10, 0.25, 0.50, 1.0};
  std::vector<double> weights = {InitialWeight(p)};
  while (weights.back() < 1.0 && weights.size() < 20) {
    weights.push_back(NextWeight(p, weights.back()));
  }
  ASSERT_EQ(weights.size(), 6u);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    EXPECT_DOUBLE_EQ(weights[i], p.steps[i].weight) << "index " << i;
  }
  EXPECT_EQ(weights.back(), 1.0);
}

TEST(NextWeightTest, StepListIgnoresStep) {
  Policy p;
  p.step = 0.5;
  p.steps = {0.01, 0.02, 1.0};
  EXPECT_DOUBLE_EQ(NextWeight(p, 0.01), 0.02);
}

TEST(NextWeightTest, StepListNotEndingAtOneEndsWithTheFullShift) {
  Policy p;
  p.steps = {0.05, 0.25, 0.5};
  EXPECT_DOUBLE_EQ(NextWeight(p, 0.05), 0.25);
  EXPECT_DOUBLE_EQ(NextWeight(p, 0.25), 0.5);
  EXPECT_EQ(NextWeight(p, 0.5), 1.0);
  EXPECT_EQ(NextWeight(p, 1.0), 1.0);
}

TEST(NextWeightTest, StepListFromAWeightBetweenEntriesGoesToTheNextEntryAbove) {
  Policy p;
  p.steps = {0.1, 0.3, 0.6, 1.0};
  EXPECT_DOUBLE_EQ(NextWeight(p, 0.2), 0.3);
  EXPECT_DOUBLE_EQ(NextWeight(p, 0.0), 0.1);
  EXPECT_DOUBLE_EQ(NextWeight(p, 0.59), 0.6);
}

TEST(NextWeightTest, StepListToleratesRoundingNoiseInTheCurrentWeight) {
  Policy p;
  p.steps = {0.1, 0.3, 1.0};
  // 0.1 + 0.2 is 0.30000000000000004: still "at" 0.3, so the next entry is 1.0.
  EXPECT_EQ(NextWeight(p, 0.1 + 0.2), 1.0);
}

// ---- RoundWeight / SameWeight ----

TEST(RoundWeightTest, RoundsToMillionths) {
  EXPECT_EQ(RoundWeight(0.1 + 0.2), RoundWeight(0.3));
  EXPECT_DOUBLE_EQ(RoundWeight(0.1234564), 0.123456);
  EXPECT_DOUBLE_EQ(RoundWeight(0.1234566), 0.123457);
  EXPECT_EQ(RoundWeight(0.9999999), 1.0);
  EXPECT_EQ(RoundWeight(0.0), 0.0);
}

TEST(SameWeightTest, EqualWithinHalfAMillionth) {
  EXPECT_TRUE(SameWeight(0.1 + 0.2, 0.3));
  EXPECT_TRUE(SameWeight(1.0, 0.9999999));
  EXPECT_FALSE(SameWeight(0.3, 0.300001));
  EXPECT_FALSE(SameWeight(0.0, 0.01));
}

TEST(CheckDivergenceOutputsTest, RefusesAMultiOutputModelTheChecksCannotJudgeNamingTheField) {
  Policy p;
  // No divergence check: any model.
  EXPECT_TRUE(CheckDivergenceOutputs(p, "the canary model", 3));
  p.divergence_max_disagreement = 0.05;
  EXPECT_TRUE(CheckDivergenceOutputs(p, "the canary model", 1));
  EXPECT_TRUE(CheckDivergenceOutputs(p, "the canary model", std::nullopt));  // http: unknown
  auto no_output = CheckDivergenceOutputs(p, "the canary model", 3);
  ASSERT_FALSE(no_output);
  EXPECT_EQ(no_output.error().code(), ErrorCode::kValidation);
  EXPECT_TRUE(no_output.error().message().starts_with("policy.divergence_output: "))
      << no_output.error().message();
  EXPECT_NE(no_output.error().message().find("3 outputs per row"), std::string::npos);
  p.divergence_output = 2;
  EXPECT_TRUE(CheckDivergenceOutputs(p, "the canary model", 3));
  auto missing = CheckDivergenceOutputs(p, "the canary model", 2);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().message().starts_with("policy.divergence_output: "));
  EXPECT_NE(missing.error().message().find("output 2 does not exist"), std::string::npos)
      << missing.error().message();
  p.divergence_output = 1;
  EXPECT_FALSE(CheckDivergenceOutputs(p, "the canary model", 1));
  p.divergence_output = 0;
  EXPECT_TRUE(CheckDivergenceOutputs(p, "the canary model", 1));
  // PSI reads each row's first output: a multi-output model is refused for it.
  Policy psi;
  psi.divergence_psi_max = 0.2;
  EXPECT_TRUE(CheckDivergenceOutputs(psi, "the canary model", 1));
  auto psi_multi = CheckDivergenceOutputs(psi, "the canary model", 4);
  ASSERT_FALSE(psi_multi);
  EXPECT_TRUE(psi_multi.error().message().starts_with("policy.divergence_psi_max: "))
      << psi_multi.error().message();
}

}  // namespace
}  // namespace mlcanary::core
