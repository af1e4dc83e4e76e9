#include "core/traffic_weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace mlcanary::core {
namespace {

using ::testing::HasSubstr;

const std::vector<VariantWeight> kCurrent = {{"production", 0.9}, {"canary", 0.1}};

Error Refusal(const std::vector<VariantWeight>& requested) {
  auto s = ValidateWeights("recs", kCurrent, requested);
  EXPECT_FALSE(s) << "accepted";
  return s ? Error(ErrorCode::kInternal, "accepted") : s.error();
}

TEST(ValidateWeightsTest, AcceptsAFullSetAndASubsetThatKeepsTheSumAtOne) {
  EXPECT_TRUE(ValidateWeights("recs", kCurrent, {{"production", 0.7}, {"canary", 0.3}}));
  EXPECT_TRUE(ValidateWeights("recs", kCurrent, {{"canary", 0.1}}));  // production keeps 0.9
  EXPECT_TRUE(ValidateWeights("recs", kCurrent, {{"production", 1}, {"canary", 0}}));
}

TEST(ValidateWeightsTest, NoWeights) {
  const Error e = Refusal({});
  EXPECT_EQ(e.code(), ErrorCode::kValidation);
  EXPECT_EQ(e.message(), "no weights given for endpoint 'recs'");
}

TEST(ValidateWeightsTest, VariantNamedTwice) {
  // Last-one-wins would sum to 1 (canary 0.5, production 0.5): still refused.
  const Error e = Refusal({{"canary", 0.5}, {"production", 0.5}, {"canary", 0.5}});
  EXPECT_EQ(e.code(), ErrorCode::kValidation);
  EXPECT_EQ(e.message(), "variant 'canary' of endpoint 'recs' is named twice");
}

TEST(ValidateWeightsTest, UnknownVariantIsNotFound) {
  const Error e = Refusal({{"production", 0.5}, {"ghost", 0.5}});
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.message(), "variant 'ghost' does not exist on endpoint 'recs'");
}

TEST(ValidateWeightsTest, WeightOutsideZeroToOne) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double w : {-0.1, -1e-9, 1.0000001, 1.5, nan, inf, -inf}) {
    const Error e = Refusal({{"canary", w}, {"production", 1 - w}});
    EXPECT_EQ(e.code(), ErrorCode::kValidation) << w;
    EXPECT_THAT(e.message(), HasSubstr("weight of variant 'canary' of endpoint 'recs' "
                                       "must be in [0, 1], got "))
        << w;
  }
  EXPECT_EQ(Refusal({{"canary", -0.5}, {"production", 1.5}}).message(),
            "weight of variant 'canary' of endpoint 'recs' must be in [0, 1], got -0.5");
}

TEST(ValidateWeightsTest, SumMustBeOneWithinTheTolerance) {
  const Error e = Refusal({{"production", 0.6}, {"canary", 0.5}});
  EXPECT_EQ(e.code(), ErrorCode::kValidation);
  EXPECT_EQ(
      e.message(),
      "weights of endpoint 'recs' must sum to 1, they sum to 1.1 (production 0.6, canary 0.5)");
  // Variants not named keep their weight in the sum.
  EXPECT_EQ(
      Refusal({{"canary", 0.3}}).message(),
      "weights of endpoint 'recs' must sum to 1, they sum to 1.2 (production 0.9, canary 0.3)");
  EXPECT_TRUE(ValidateWeights("recs", kCurrent, {{"production", 0.5000009}, {"canary", 0.5}}));
  EXPECT_TRUE(ValidateWeights("recs", kCurrent, {{"production", 0.4999991}, {"canary", 0.5}}));
  EXPECT_THAT(Refusal({{"production", 0.500002}, {"canary", 0.5}}).message(),
              HasSubstr("they sum to 1.000002 "));
  EXPECT_THAT(Refusal({{"production", 0.499998}, {"canary", 0.5}}).message(),
              HasSubstr("they sum to 0.999998 "));
}

TEST(ValidateWeightsTest, TheFirstRefusalInOrderWins) {
  // Named twice before range, range before unknown, unknown before sum.
  EXPECT_THAT(Refusal({{"canary", 2}, {"canary", 2}}).message(), HasSubstr("named twice"));
  EXPECT_THAT(Refusal({{"ghost", 0.5}, {"canary", 2}}).message(), HasSubstr("must be in [0, 1]"));
  EXPECT_EQ(Refusal({{"ghost", 0.5}}).code(), ErrorCode::kNotFound);
}

TEST(ValidateWeightRequestTest, RefusesWhatNeedsNothingOfTheEndpoint) {
  EXPECT_TRUE(ValidateWeightRequest("recs", {{"ghost", 0.3}}));  // unknown and sum: not its job
  EXPECT_FALSE(ValidateWeightRequest("recs", {}));
  EXPECT_FALSE(ValidateWeightRequest("recs", {{"canary", 0.5}, {"canary", 0.5}}));
  auto s = ValidateWeightRequest("recs", {{"canary", -1}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(),
            "weight of variant 'canary' of endpoint 'recs' must be in [0, 1], got -1");
}

TEST(ApplyWeightsTest, ReplacesTheNamedWeightsInTheCurrentOrder) {
  auto next = ApplyWeights("recs", {{"production", 0.9}, {"blue", 0}, {"canary", 0.1}},
                           {{"canary", 0.4}, {"production", 0.6}});
  ASSERT_TRUE(next) << next.error().ToString();
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[0].variant, "production");
  EXPECT_DOUBLE_EQ((*next)[0].weight, 0.6);
  EXPECT_EQ((*next)[1].variant, "blue");
  EXPECT_DOUBLE_EQ((*next)[1].weight, 0);
  EXPECT_EQ((*next)[2].variant, "canary");
  EXPECT_DOUBLE_EQ((*next)[2].weight, 0.4);
}

TEST(ApplyWeightsTest, RefusesWhatValidateWeightsRefuses) {
  auto next = ApplyWeights("recs", kCurrent, {{"canary", 0.3}});
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code(), ErrorCode::kValidation);
  EXPECT_THAT(next.error().message(), HasSubstr("must sum to 1"));
}

}  // namespace
}  // namespace mlcanary::core
