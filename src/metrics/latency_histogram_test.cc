// Tests of LatencyHistogram: the bucket layout, merging, refusals, and
// quantile accuracy (<= 1 %) against exact sorted quantiles on 10^6 samples.
#include "metrics/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace mlcanary::metrics {
namespace {

using std::chrono::nanoseconds;

TEST(LatencyHistogramLayoutTest, BucketsAreContiguousAndMapBack) {
  for (int i = 0; i < layout::kNumBuckets; ++i) {
    const std::int64_t lo = layout::BucketLowerBound(i);
    const std::int64_t hi = layout::BucketUpperBound(i);
    ASSERT_LE(lo, hi) << i;
    ASSERT_EQ(layout::BucketIndex(static_cast<std::uint64_t>(lo)), i);
    ASSERT_EQ(layout::BucketIndex(static_cast<std::uint64_t>(hi)), i);
    if (i + 1 < layout::kNumBuckets) {
      ASSERT_EQ(layout::BucketLowerBound(i + 1), hi + 1) << i;
    }
  }
}

TEST(LatencyHistogramLayoutTest, BucketIsNeverWiderThanOneSixtyFourthOfItsLowerBound) {
  for (int i = 1; i < layout::kNumBuckets; ++i) {
    const std::int64_t lower = layout::BucketLowerBound(i);
    const std::int64_t width = layout::BucketUpperBound(i) - lower + 1;
    if (lower < 64) {
      // Below 64 ns every value has a bucket of its own (exact, see SmallValuesAreExact).
      ASSERT_EQ(width, 1) << i;
      continue;
    }
    ASSERT_LE(width * 64, lower) << i;
  }
}

TEST(LatencyHistogramTest, EmptyHistogramAnswersZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.ValueAtQuantile(0.99), nanoseconds(0));
  EXPECT_EQ(h.Percentiles(), LatencyPercentiles{});
  EXPECT_EQ(h.max(), nanoseconds(0));
}

TEST(LatencyHistogramTest, RefusesNegativeAndAbsurdLatencies) {
  LatencyHistogram h;
  EXPECT_FALSE(h.Record(nanoseconds(-1)));
  EXPECT_FALSE(h.Record(std::chrono::hours(1) + nanoseconds(1)));
  EXPECT_FALSE(h.Record(nanoseconds(INT64_MIN)));
  EXPECT_FALSE(h.Record(nanoseconds(INT64_MAX)));
  EXPECT_TRUE(h.Record(std::chrono::hours(1)));
  EXPECT_TRUE(h.Record(nanoseconds(0)));
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.max(), std::chrono::hours(1));
  EXPECT_EQ(h.min(), nanoseconds(0));
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 0; v < 128; ++v) h.Record(nanoseconds(v));
  EXPECT_EQ(h.ValueAtQuantile(0.5), nanoseconds(63));
  EXPECT_EQ(h.ValueAtQuantile(1.0), nanoseconds(127));
}

TEST(LatencyHistogramTest, MaxIsExactAndQuantilesStayWithinMinMax) {
  LatencyHistogram h;
  h.Record(std::chrono::milliseconds(10), 1000);
  h.Record(nanoseconds(123'456'789));
  EXPECT_EQ(h.max(), nanoseconds(123'456'789));
  EXPECT_EQ(h.ValueAtQuantile(1.0), nanoseconds(123'456'789));
  // All samples but one equal 10 ms: p50 is within the 1 % bucket resolution of
  // 10 ms, and never outside [min, max].
  const auto p50 = h.ValueAtQuantile(0.5);
  EXPECT_GE(p50, std::chrono::milliseconds(10));
  EXPECT_LE(p50, std::chrono::microseconds(10'100));
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(5e6), 1.0);
  LatencyHistogram all, a, b;
  for (int i = 0; i < 100'000; ++i) {
    const auto v = nanoseconds(static_cast<std::int64_t>(dist(rng)));
    all.Record(v);
    (i % 3 == 0 ? a : b).Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.Percentiles(), all.Percentiles());
  EXPECT_TRUE(std::equal(a.buckets().begin(), a.buckets().end(), all.buckets().begin()));
}

TEST(LatencyHistogramTest, AddToBucketWidensAndSetExactMaxNarrows) {
  LatencyHistogram h;
  const int bucket = layout::BucketIndex(1'000'000);
  h.AddToBucket(bucket, 5);
  EXPECT_EQ(h.max(), nanoseconds(layout::BucketUpperBound(bucket)));
  h.SetExactMax(nanoseconds(1'000'000));
  EXPECT_EQ(h.max(), nanoseconds(1'000'000));
  h.SetExactMax(nanoseconds(5));  // contradicts the counts: ignored
  EXPECT_EQ(h.max(), nanoseconds(1'000'000));
}

TEST(QuantileRankTest, IsCeilingOfQTimesN) {
  EXPECT_EQ(QuantileRank(0.5, 10), 5u);
  EXPECT_EQ(QuantileRank(0.999, 1'000'000), 999'000u);
  EXPECT_EQ(QuantileRank(0.99, 1'000'000), 990'000u);
  EXPECT_EQ(QuantileRank(0.9, 1'000'000), 900'000u);
  EXPECT_EQ(QuantileRank(0.99, 150), 149u);
  EXPECT_EQ(QuantileRank(0.0, 10), 1u);
  EXPECT_EQ(QuantileRank(1.0, 10), 10u);
  EXPECT_EQ(QuantileRank(std::nan(""), 10), 1u);
}

// 10^6 samples from `draw`, clamped to [1 µs, 60 s]; checks p50, p90, p99,
// p99.9 and max against the exact sorted quantiles, returns the worst error.
double WorstRelativeError(const std::string& name, std::uint64_t seed,
                          const std::function<double(std::mt19937_64&)>& draw) {
  constexpr int kSamples = 1'000'000;
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> values;
  values.reserve(kSamples);
  LatencyHistogram h;
  for (int i = 0; i < kSamples; ++i) {
    const double ns = std::clamp(draw(rng), 1e3, 60e9);
    values.push_back(static_cast<std::int64_t>(ns));
    h.Record(nanoseconds(values.back()));
  }
  std::sort(values.begin(), values.end());
  const LatencyPercentiles p = h.Percentiles();
  const std::vector<std::pair<double, nanoseconds>> checks = {
      {0.5, p.p50}, {0.9, p.p90}, {0.99, p.p99}, {0.999, p.p999}, {1.0, p.max}};
  double worst = 0;
  for (const auto& [q, got] : checks) {
    const double exact = static_cast<double>(values[QuantileRank(q, values.size()) - 1]);
    const double err = std::abs(static_cast<double>(got.count()) - exact) / exact;
    EXPECT_LE(err, 0.01) << name << " q=" << q << " exact=" << exact << " got=" << got.count();
    EXPECT_EQ(h.ValueAtQuantile(q), got) << name << " q=" << q;
    worst = std::max(worst, err);
  }
  std::cout << "[ accuracy ] " << name << ": worst relative error " << worst * 100 << " %\n";
  return worst;
}

TEST(LatencyHistogramAccuracyTest, UniformWithinOnePercent) {
  EXPECT_LE(WorstRelativeError("uniform 1 ms..200 ms", 1,
                               [](std::mt19937_64& rng) {
                                 return std::uniform_real_distribution<double>(1e6, 200e6)(rng);
                               }),
            0.01);
}

TEST(LatencyHistogramAccuracyTest, UniformOverWholeRangeWithinOnePercent) {
  EXPECT_LE(WorstRelativeError("uniform 1 us..60 s", 2,
                               [](std::mt19937_64& rng) {
                                 return std::uniform_real_distribution<double>(1e3, 60e9)(rng);
                               }),
            0.01);
}

TEST(LatencyHistogramAccuracyTest, LogUniformOverWholeRangeWithinOnePercent) {
  EXPECT_LE(WorstRelativeError("log-uniform 1 us..60 s", 3,
                               [](std::mt19937_64& rng) {
                                 return std::exp(std::uniform_real_distribution<double>(
                                     std::log(1e3), std::log(60e9))(rng));
                               }),
            0.01);
}

TEST(LatencyHistogramAccuracyTest, LogNormalWithinOnePercent) {
  EXPECT_LE(WorstRelativeError("log-normal median 20 ms sigma 1", 4,
                               [](std::mt19937_64& rng) {
                                 return std::lognormal_distribution<double>(std::log(20e6),
                                                                            1.0)(rng);
                               }),
            0.01);
}

TEST(LatencyHistogramAccuracyTest, BimodalWithinOnePercent) {
  EXPECT_LE(WorstRelativeError("bimodal 80% ~5 ms + 20% ~250 ms", 5,
                               [](std::mt19937_64& rng) {
                                 if (std::bernoulli_distribution(0.8)(rng)) {
                                   return std::normal_distribution<double>(5e6, 0.5e6)(rng);
                                 }
                                 return std::normal_distribution<double>(250e6, 30e6)(rng);
                               }),
            0.01);
}

}  // namespace
}  // namespace mlcanary::metrics
