// LatencyHistogram: recording, merging and quantile queries.
#include "metrics/latency_histogram.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace mlcanary::metrics {

std::uint64_t QuantileRank(double q, std::uint64_t n) {
  if (n == 0) return 0;
  if (!(q > 0)) return 1;  // also NaN
  if (q >= 1) return n;
  const double x = q * static_cast<double>(n);
  // q * n is computed in binary floating point: 0.999 * 1e6 may come out a hair
  // above 999000. Shave a relative 1e-12 so that exact products stay exact.
  const double rank = std::ceil(x - x * 1e-12);
  if (rank < 1) return 1;
  if (rank >= static_cast<double>(n)) return n;
  return static_cast<std::uint64_t>(rank);
}

LatencyHistogram::LatencyHistogram() : counts_(layout::kNumBuckets, 0) {}

namespace {
constexpr std::uint64_t kAllBlocks = (std::uint64_t{1} << layout::kNumBlocks) - 1;
constexpr std::uint64_t BlockBit(int index) {
  return std::uint64_t{1} << (index >> layout::kSubBucketBits);
}
}  // namespace

bool LatencyHistogram::Record(std::chrono::nanoseconds latency, std::uint64_t count) {
  const std::int64_t ns = latency.count();
  if (ns < 0 || ns > layout::kMaxValueNs) return false;
  if (count == 0) return true;
  const int index = layout::BucketIndex(static_cast<std::uint64_t>(ns));
  counts_[index] += count;
  used_blocks_ |= BlockBit(index);
  total_ += count;
  min_ns_ = std::min(min_ns_, ns);
  max_ns_ = std::max(max_ns_, ns);
  return true;
}

void LatencyHistogram::AddToBucket(int index, std::uint64_t count) {
  if (count == 0 || index < 0 || index >= layout::kNumBuckets) return;
  counts_[index] += count;
  used_blocks_ |= BlockBit(index);
  total_ += count;
  min_ns_ = std::min(min_ns_, layout::BucketLowerBound(index));
  max_ns_ = std::max(max_ns_, layout::BucketUpperBound(index));
}

void LatencyHistogram::AddCounts(std::span<const std::uint64_t> counts, std::uint64_t blocks) {
  const int n = std::min(static_cast<int>(counts.size()), layout::kNumBuckets);
  int lowest = -1, highest = -1;
  for (std::uint64_t bits = blocks & kAllBlocks; bits != 0; bits &= bits - 1) {
    const int b = std::countr_zero(bits);
    const int end = std::min(n, (b + 1) * layout::kBlockSize);
    for (int i = b * layout::kBlockSize; i < end; ++i) {
      if (counts[i] == 0) continue;
      counts_[i] += counts[i];
      total_ += counts[i];
      used_blocks_ |= BlockBit(i);
      if (lowest < 0) lowest = i;
      highest = i;
    }
  }
  if (lowest < 0) return;
  min_ns_ = std::min(min_ns_, layout::BucketLowerBound(lowest));
  max_ns_ = std::max(max_ns_, layout::BucketUpperBound(highest));
}

void LatencyHistogram::SetExactMax(std::chrono::nanoseconds max) {
  if (total_ == 0) return;
  // Never below the lower bound of the highest non-empty bucket: a max that
  // contradicts the counts is ignored rather than trusted.
  const int top_block = 63 - std::countl_zero(used_blocks_);
  for (int i = (top_block + 1) * layout::kBlockSize - 1; i >= 0; --i) {
    if (counts_[i] == 0) continue;
    const std::int64_t ns = max.count();
    if (ns >= layout::BucketLowerBound(i) && ns <= layout::BucketUpperBound(i)) max_ns_ = ns;
    return;
  }
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.total_ == 0) return;
  for (std::uint64_t bits = other.used_blocks_; bits != 0; bits &= bits - 1) {
    const int b = std::countr_zero(bits);
    for (int i = b * layout::kBlockSize; i < (b + 1) * layout::kBlockSize; ++i) {
      counts_[i] += other.counts_[i];
    }
  }
  used_blocks_ |= other.used_blocks_;
  total_ += other.total_;
  min_ns_ = std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
}

void LatencyHistogram::Clear() {
  for (std::uint64_t bits = used_blocks_; bits != 0; bits &= bits - 1) {
    const int b = std::countr_zero(bits);
    std::fill_n(counts_.begin() + b * layout::kBlockSize, layout::kBlockSize, 0);
  }
  used_blocks_ = 0;
  total_ = 0;
  min_ns_ = std::numeric_limits<std::int64_t>::max();
  max_ns_ = -1;
}

std::chrono::nanoseconds LatencyHistogram::min() const {
  return std::chrono::nanoseconds(total_ == 0 ? 0 : min_ns_);
}

std::chrono::nanoseconds LatencyHistogram::max() const {
  return std::chrono::nanoseconds(total_ == 0 ? 0 : max_ns_);
}

std::int64_t LatencyHistogram::Clamp(std::int64_t value) const {
  return std::clamp(value, min_ns_, max_ns_);
}

std::chrono::nanoseconds LatencyHistogram::ValueAtQuantile(double q) const {
  if (total_ == 0) return std::chrono::nanoseconds(0);
  const std::uint64_t rank = QuantileRank(q, total_);
  if (rank >= total_) return max();
  std::uint64_t seen = 0;
  for (std::uint64_t bits = used_blocks_; bits != 0; bits &= bits - 1) {
    const int b = std::countr_zero(bits);
    for (int i = b * layout::kBlockSize; i < (b + 1) * layout::kBlockSize; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::chrono::nanoseconds(Clamp(layout::BucketValue(i)));
    }
  }
  return max();
}

LatencyPercentiles LatencyHistogram::Percentiles() const {
  LatencyPercentiles out;
  if (total_ == 0) return out;
  constexpr std::array<double, 4> kQuantiles = {0.5, 0.9, 0.99, 0.999};
  std::array<std::chrono::nanoseconds*, 4> targets = {&out.p50, &out.p90, &out.p99, &out.p999};
  std::array<std::uint64_t, 4> ranks{};
  for (std::size_t k = 0; k < kQuantiles.size(); ++k) {
    ranks[k] = QuantileRank(kQuantiles[k], total_);
  }
  std::size_t next = 0;
  std::uint64_t seen = 0;
  for (std::uint64_t bits = used_blocks_; bits != 0 && next < ranks.size(); bits &= bits - 1) {
    const int b = std::countr_zero(bits);
    for (int i = b * layout::kBlockSize; i < (b + 1) * layout::kBlockSize; ++i) {
      seen += counts_[i];
      while (next < ranks.size() && seen >= ranks[next]) {
        *targets[next] =
            ranks[next] >= total_ ? max() : std::chrono::nanoseconds(Clamp(layout::BucketValue(i)));
        ++next;
      }
    }
  }
  out.max = max();
  return out;
}

}  // namespace mlcanary::metrics
