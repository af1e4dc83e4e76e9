#include "core/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mlcanary::core {
namespace {

using V = std::vector<ValueCount>;

// Hand-computed: x = {3, 4, 5}, y = {1, 2, 3}. Ranks of the pooled sample
// 1 2 3 3 4 5 are 1 2 3.5 3.5 5 6, so R_x = 14.5 and U_x = 14.5 - 3 * 4 / 2 =
// 8.5 (pairs x > y: 2 + 3 + 3, and the tie 3 = 3 counts half). Mean 4.5;
// variance 3 * 3 / 12 * (7 - (2^3 - 2) / (6 * 5)) = 0.75 * 6.8 = 5.1;
// z = (8.5 - 4.5 - 0.5) / sqrt(5.1) = 1.5498; p = P(Z > z) = 0.060592.
TEST(MannWhitneyTest, HandComputedWithATie) {
  auto r = MannWhitneyGreater(V{{3, 1}, {4, 1}, {5, 1}}, V{{1, 1}, {2, 1}, {3, 1}});
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->u, 8.5);
  EXPECT_NEAR(r->z, 1.5498260497, 1e-9);
  EXPECT_NEAR(r->p, 0.0605916364, 1e-9);
}

// The textbook case of complete separation: x = {4, 5, 6} above y = {1, 2, 3}.
// U = n1 * n2 = 9; the exact one-sided p is 1 / C(6, 3) = 0.05, and the
// normal approximation (variance 3 * 3 * 7 / 12 = 5.25) gives z = 4 /
// sqrt(5.25) = 1.7457, p = 0.040428.
TEST(MannWhitneyTest, CompleteSeparation) {
  auto r = MannWhitneyGreater(V{{4, 1}, {5, 1}, {6, 1}}, V{{1, 1}, {2, 1}, {3, 1}});
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->u, 9);
  EXPECT_NEAR(r->p, 0.0404277992, 1e-9);
  // The other direction: U = 0, p near 1.
  auto back = MannWhitneyGreater(V{{1, 1}, {2, 1}, {3, 1}}, V{{4, 1}, {5, 1}, {6, 1}});
  ASSERT_TRUE(back);
  EXPECT_DOUBLE_EQ(back->u, 0);
  EXPECT_GT(back->p, 0.97);
}

// A bucket of count c is c tied samples: the same answer as listing them.
TEST(MannWhitneyTest, BucketsAreTiedSamples) {
  auto bucketed = MannWhitneyGreater(V{{2, 3}, {5, 2}}, V{{1, 2}, {2, 2}});
  auto listed = MannWhitneyGreater(V{{2, 1}, {2, 1}, {2, 1}, {5, 1}, {5, 1}},
                                   V{{1, 1}, {1, 1}, {2, 1}, {2, 1}});
  ASSERT_TRUE(bucketed && listed);
  EXPECT_DOUBLE_EQ(bucketed->u, listed->u);
  EXPECT_DOUBLE_EQ(bucketed->p, listed->p);
  // x: three 2s, two 5s; y: two 1s, two 2s. Pairs x > y: 2s beat 2 of y each
  // and tie 2 (3 * (2 + 1) = 9), 5s beat all 4 (8): U = 17.
  EXPECT_DOUBLE_EQ(bucketed->u, 17);
}

TEST(MannWhitneyTest, SameDistributionIsNotSignificant) {
  // Two identical histograms of 1000 samples each: U = n1 n2 / 2, p ~ 0.5.
  V h{{0.1, 400}, {0.2, 500}, {0.9, 100}};
  auto r = MannWhitneyGreater(h, h);
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->u, 1000.0 * 1000.0 / 2);
  EXPECT_NEAR(r->p, 0.5, 0.01);
}

TEST(MannWhitneyTest, EmptyOrAllTied) {
  EXPECT_FALSE(MannWhitneyGreater(V{}, V{{1, 1}}));
  EXPECT_FALSE(MannWhitneyGreater(V{{1, 1}}, V{{1, 0}}));
  auto tied = MannWhitneyGreater(V{{1, 5}}, V{{1, 7}});
  ASSERT_TRUE(tied);
  EXPECT_DOUBLE_EQ(tied->p, 1);
}

TEST(NormalUpperTailTest, KnownValues) {
  EXPECT_DOUBLE_EQ(NormalUpperTail(0), 0.5);
  EXPECT_NEAR(NormalUpperTail(1.6448536270), 0.05, 1e-9);
  EXPECT_NEAR(NormalUpperTail(-1.9599639845), 0.975, 1e-9);
}

TEST(PopulationStabilityTest, IdenticalIsZero) {
  V h;
  for (int i = 0; i < 50; ++i) h.push_back({static_cast<double>(i), 7 + i % 3});
  EXPECT_DOUBLE_EQ(*PopulationStability(h, h), 0);
}

// Production: values 1..10, 10 each, so the deciles cut after each value and
// every bin holds 10 %. Canary: all 100 at 10, the last bin. PSI = 9 * (1e-4
// - 0.1) * ln(1e-4 / 0.1) + (1 - 0.1) * ln(1 / 0.1) = 8.283089.
TEST(PopulationStabilityTest, HandComputedShiftToOneBin) {
  V production;
  for (int v = 1; v <= 10; ++v) production.push_back({static_cast<double>(v), 10});
  EXPECT_NEAR(*PopulationStability(V{{10, 100}}, production), 8.2830893550, 1e-9);
  // Canary values past production's range land in the end bins.
  EXPECT_NEAR(*PopulationStability(V{{99, 100}}, production), 8.2830893550, 1e-9);
}

// Half of the canary moved from the first five bins to the last five:
// shares 0.05 x5 and 0.15 x5 against 0.1 x10:
// 5 * (-0.05) ln(0.5) + 5 * 0.05 ln(1.5) = 0.25 * ln 3 = 0.274653.
TEST(PopulationStabilityTest, HandComputedPartialShift) {
  V production, canary;
  for (int v = 1; v <= 10; ++v) {
    production.push_back({static_cast<double>(v), 10});
    canary.push_back({static_cast<double>(v), v <= 5 ? 5 : 15});
  }
  EXPECT_NEAR(*PopulationStability(canary, production), 0.25 * std::log(3.0), 1e-12);
}

// A binary classifier: production's deciles fall in two buckets, which make
// two bins. 70/30 against 50/50: 0.2 ln(0.7/0.5) + 0.2 ln(0.5/0.3).
TEST(PopulationStabilityTest, TwoValuedOutputsMakeTwoBins) {
  V production{{0, 500}, {1, 500}};
  V canary{{0, 700}, {1, 300}};
  EXPECT_NEAR(*PopulationStability(canary, production),
              0.2 * std::log(0.7 / 0.5) + 0.2 * std::log(0.5 / 0.3), 1e-12);
  // All production in one bucket: one bin, nothing to tell apart.
  EXPECT_DOUBLE_EQ(*PopulationStability(V{{3, 10}}, V{{5, 100}}), 0);
}

TEST(PopulationStabilityTest, EmptyIsNoAnswer) {
  EXPECT_FALSE(PopulationStability(V{}, V{{1, 1}}));
  EXPECT_FALSE(PopulationStability(V{{1, 1}}, V{}));
}

}  // namespace
}  // namespace mlcanary::core
