// The fixed bucket layout of recorded predictions (issue 14): a float maps to
// a bucket whose index orders buckets as their values are ordered, so the
// divergence check (core/stats.h PopulationStability) can cut production's
// quantiles and compare the canary on bucket indices alone. One layout for
// every variant: equal predictions land in the same bucket everywhere.
#ifndef MLCANARY_METRICS_PREDICTION_LAYOUT_H_
#define MLCANARY_METRICS_PREDICTION_LAYOUT_H_

#include <bit>
#include <cstdint>

namespace mlcanary::metrics::prediction_layout {

// Each power of two [2^e, 2^(e+1)) for e in [kMinExponent, kMaxExponent) is
// cut into kSubBuckets equal buckets (a bucket is at most 1/32 = 3.1 % of its
// lower bound wide), for both signs. |x| < 2^kMinExponent (4.7e-10, zero
// included) shares one middle bucket; |x| >= 2^kMaxExponent (2.1e9, infinities
// included) one bucket at each end.
inline constexpr int kSubBits = 5;
inline constexpr int kSubBuckets = 1 << kSubBits;
inline constexpr int kMinExponent = -31;
inline constexpr int kMaxExponent = 31;
inline constexpr int kMagnitudes = (kMaxExponent - kMinExponent) * kSubBuckets;  // 1984
inline constexpr int kZeroBucket = kMagnitudes + 1;                              // 1985
inline constexpr int kNumBuckets = 2 * kMagnitudes + 3;                          // 3971
// Storage comes in blocks of 64 (one bit each in a 64-bit "used" mask).
inline constexpr int kBlockSize = 64;
inline constexpr int kNumBlocks = (kNumBuckets + kBlockSize - 1) / kBlockSize;  // 63
inline constexpr int kNoBucket = -1;                                            // NaN: not recorded

constexpr int BucketIndex(float x) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127;
  const bool negative = (bits >> 31) != 0;
  if (exponent == 128 && (bits & 0x7fffff) != 0) return kNoBucket;
  if (exponent < kMinExponent) return kZeroBucket;
  if (exponent >= kMaxExponent) return negative ? 0 : kNumBuckets - 1;
  const int magnitude = (exponent - kMinExponent) * kSubBuckets +
                        static_cast<int>((bits >> (23 - kSubBits)) & (kSubBuckets - 1));
  return negative ? kZeroBucket - 1 - magnitude : kZeroBucket + 1 + magnitude;
}

static_assert(BucketIndex(0.0f) == kZeroBucket);
static_assert(BucketIndex(-0.0f) == kZeroBucket);
static_assert(BucketIndex(1.0f) > kZeroBucket && BucketIndex(-1.0f) < kZeroBucket);
static_assert(BucketIndex(1.0f) < BucketIndex(1.04f));
static_assert(BucketIndex(-1.04f) < BucketIndex(-1.0f));
static_assert(BucketIndex(1e30f) == kNumBuckets - 1 && BucketIndex(-1e30f) == 0);
static_assert(kNumBlocks <= 64);

}  // namespace mlcanary::metrics::prediction_layout

#endif  // MLCANARY_METRICS_PREDICTION_LAYOUT_H_
