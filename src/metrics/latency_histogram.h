// A log-linear latency histogram (the HdrHistogram idea, written for mlcanary):
// fixed memory, mergeable, and quantiles within 0.8 % of the true sample over
// 1 ns .. 1 h. Also the bucket layout every histogram of this component shares.
#ifndef MLCANARY_METRICS_LATENCY_HISTOGRAM_H_
#define MLCANARY_METRICS_LATENCY_HISTOGRAM_H_

#include <bit>
#include <chrono>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace mlcanary::metrics {

// The bucket layout. Values are nanoseconds. Below 2^(kSubBucketBits + 1) ns
// every value has its own bucket; above, each power of two [2^p, 2^(p+1)) is
// cut into 2^kSubBucketBits equal buckets. A bucket is thus never wider than
// 1/64 of its lower bound, and its midpoint is within 1/128 (0.78 %) of any
// value it holds. Buckets come in blocks of kBlockSize (one block per power of
// two), which lets readers skip empty ranges.
namespace layout {

inline constexpr int kSubBucketBits = 6;
inline constexpr int kBlockSize = 1 << kSubBucketBits;  // 64
// The largest latency accepted: one hour. Anything above is absurd and refused.
inline constexpr std::int64_t kMaxValueNs = std::int64_t{3'600'000'000'000};
// Enough blocks to hold every value below 2^42 ns (73 min) > kMaxValueNs.
inline constexpr int kNumBlocks = 37;
inline constexpr int kNumBuckets = kNumBlocks * kBlockSize;  // 2368

// REQUIRES: 0 <= ns < 2^42.
constexpr int BucketIndex(std::uint64_t ns) {
  const int width = std::bit_width(ns);
  const int shift = width > kSubBucketBits + 1 ? width - kSubBucketBits - 1 : 0;
  return (shift << kSubBucketBits) + static_cast<int>(ns >> shift);
}

// Smallest value that maps to bucket `index`.
constexpr std::int64_t BucketLowerBound(int index) {
  const int block = index >> kSubBucketBits;
  if (block <= 1) return index;
  const int shift = block - 1;
  return static_cast<std::int64_t>(index - (shift << kSubBucketBits)) << shift;
}

// Largest value that maps to bucket `index`.
constexpr std::int64_t BucketUpperBound(int index) {
  const int block = index >> kSubBucketBits;
  const int shift = block <= 1 ? 0 : block - 1;
  return BucketLowerBound(index) + (std::int64_t{1} << shift) - 1;
}

// The value reported for a quantile that falls in bucket `index`: the middle.
constexpr std::int64_t BucketValue(int index) {
  return BucketLowerBound(index) + (BucketUpperBound(index) - BucketLowerBound(index)) / 2;
}

static_assert(BucketIndex(0) == 0);
static_assert(BucketIndex(127) == 127);
static_assert(BucketIndex(128) == 128);
static_assert(BucketLowerBound(BucketIndex(1'000'000)) <= 1'000'000);
static_assert(BucketUpperBound(BucketIndex(1'000'000)) >= 1'000'000);
static_assert(BucketIndex(kMaxValueNs) < kNumBuckets);
static_assert(BucketIndex((std::uint64_t{1} << 42) - 1) == kNumBuckets - 1);

}  // namespace layout

// The 1-based rank of quantile q (0 < q <= 1) among n sorted samples:
// ceil(q * n), at least 1 and at most n. Quantile q is the sample of that rank.
std::uint64_t QuantileRank(double q, std::uint64_t n);

struct LatencyPercentiles {
  std::chrono::nanoseconds p50{0};
  std::chrono::nanoseconds p90{0};
  std::chrono::nanoseconds p99{0};
  std::chrono::nanoseconds p999{0};
  std::chrono::nanoseconds max{0};
  bool operator==(const LatencyPercentiles&) const = default;
};

// A plain (single-threaded) histogram: a value to fill, merge and query. The
// concurrent recorders of VariantMetrics merge into one of these on read.
// Memory: kNumBuckets counters (19 KB), whatever is recorded.
class LatencyHistogram {
 public:
  LatencyHistogram();

  // Records `count` samples of `latency`. Refuses (returns false, records
  // nothing) a negative latency or one above layout::kMaxValueNs.
  bool Record(std::chrono::nanoseconds latency, std::uint64_t count = 1);
  // Adds `count` samples to bucket `index` (0 <= index < kNumBuckets) without
  // knowing their exact values: min and max widen to the bucket's bounds.
  void AddToBucket(int index, std::uint64_t count);
  // Adds counts[i] samples to bucket i for every i (counts.size() <= kNumBuckets)
  // in the blocks whose bit is set in `blocks` (others are known to be zero).
  void AddCounts(std::span<const std::uint64_t> counts, std::uint64_t blocks = ~std::uint64_t{0});
  // Narrows max() to `max` when the exact largest sample is known.
  void SetExactMax(std::chrono::nanoseconds max);
  void Merge(const LatencyHistogram& other);
  void Clear();

  std::uint64_t count() const { return total_; }
  bool empty() const { return total_ == 0; }
  // 0 when empty.
  std::chrono::nanoseconds min() const;
  std::chrono::nanoseconds max() const;
  std::span<const std::uint64_t> buckets() const { return counts_; }

  // The sample of rank QuantileRank(q, count()), reported as its bucket's
  // middle (kept within [min(), max()]); q >= 1 gives max(). 0 when empty.
  std::chrono::nanoseconds ValueAtQuantile(double q) const;
  // p50, p90, p99, p99.9 and max in one pass.
  LatencyPercentiles Percentiles() const;

 private:
  std::int64_t Clamp(std::int64_t value) const;

  std::vector<std::uint64_t> counts_;
  std::uint64_t used_blocks_ = 0;  // bit b: block b may hold counts (scans skip the rest)
  std::uint64_t total_ = 0;
  std::int64_t min_ns_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_ns_ = -1;
};

}  // namespace mlcanary::metrics

#endif  // MLCANARY_METRICS_LATENCY_HISTOGRAM_H_
