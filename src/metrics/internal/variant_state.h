// The storage behind VariantMetrics: per-thread shards written without locks,
// and a ring of per-interval slots that shards fold into once per interval.
#ifndef MLCANARY_METRICS_INTERNAL_VARIANT_STATE_H_
#define MLCANARY_METRICS_INTERNAL_VARIANT_STATE_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "metrics/internal/utilization_ring.h"
#include "metrics/latency_histogram.h"
#include "metrics/prediction_layout.h"
#include "metrics/variant_metrics.h"

namespace mlcanary::metrics::internal {

using Counter = std::atomic<std::uint64_t>;

// Increment for a counter with a single writer: a relaxed load and store (no
// lock prefix), which readers on other threads still see whole.
inline void Bump(Counter& c, std::uint64_t delta = 1) {
  c.store(c.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}
inline std::uint64_t Load(const Counter& c) { return c.load(std::memory_order_relaxed); }
// A double kept in a Counter as its bits (single writer, as Bump).
inline double LoadDouble(const Counter& c) { return std::bit_cast<double>(Load(c)); }
inline void AddDouble(Counter& c, double delta) {
  c.store(std::bit_cast<std::uint64_t>(LoadDouble(c) + delta), std::memory_order_relaxed);
}

// How many threads get a shard of their own; more threads than that share
// one overflow shard behind a mutex.
inline constexpr int kMaxThreadSlots = 256;
inline constexpr std::int64_t kNoInterval = INT64_MIN;

// What one interval holds for the controller's windows.
struct WindowCounters {
  Counter invocations{0};
  Counter errors_4xx{0};
  Counter errors_5xx{0};
  Counter invalid{0};
  Counter overhead_sum_ns{0};
  Counter overhead_count{0};
  Counter max_model_ns{0};
  Counter predictions{0};  // rows whose first output went into the prediction histogram
  Counter max_outputs{0};  // the most outputs a row had
  // Shadow pairs (issue 14): compared, disagreeing, and the sum of |diff| (a double's bits).
  Counter pairs{0};
  Counter pair_disagreements{0};
  Counter pair_abs_diff_bits{0};
};

// One thread's recorder for one variant. Only its owner thread writes it
// (the overflow shard: whoever holds VariantState::overflow_mu).
struct alignas(64) Shard {
  // The interval the window part below belongs to.
  std::atomic<std::int64_t> interval{kNoInterval};
  // Bit b set: block b of `hist` may have counts (saves readers a full scan).
  Counter blocks_used{0};
  WindowCounters window;
  // Since the shard was made, never reset: what Prometheus scrapes.
  Counter invocations{0};
  Counter errors_4xx{0};
  Counter errors_5xx{0};
  Counter model_sum_ns{0};
  Counter overhead_sum_ns{0};
  std::array<Counter, kNumExportBuckets> model_buckets{};
  std::array<Counter, kNumExportBuckets> overhead_buckets{};
  std::array<Counter, kNumInvalidSampleKinds> invalid{};
  Counter shadow_dropped{0};  // shadow copies dropped, the queue full
  // Model latency of the current interval, log-linear layout.
  std::array<std::atomic<std::uint32_t>, layout::kNumBuckets> hist{};
  // Predictions (first output per row) of the current interval, prediction_layout.
  Counter prediction_blocks_used{0};
  std::array<std::atomic<std::uint32_t>,
             prediction_layout::kNumBlocks * prediction_layout::kBlockSize>
      prediction_hist{};
};

struct Block {
  std::array<std::atomic<std::uint32_t>, layout::kBlockSize> counts{};
};
static_assert(prediction_layout::kBlockSize == layout::kBlockSize, "blocks serve both");

// One interval (or group of intervals) of the ring. Written only under
// VariantState::fold_mu.
struct Slot {
  std::atomic<std::int64_t> tag{kNoInterval};  // the interval or group held
  WindowCounters counters;
  std::array<std::atomic<Block*>, layout::kNumBlocks> blocks{};
  std::array<std::atomic<Block*>, prediction_layout::kNumBlocks> prediction_blocks{};
};

// Everything a window read sums up. Latency counts go to a plain array (the
// read loop is then a run of adds); a LatencyHistogram is built once at the end.
struct WindowAccumulator {
  std::uint64_t invocations = 0;
  std::uint64_t errors_4xx = 0;
  std::uint64_t errors_5xx = 0;
  std::uint64_t invalid = 0;
  std::uint64_t overhead_sum_ns = 0;
  std::uint64_t overhead_count = 0;
  std::int64_t max_model_ns = -1;
  std::uint64_t blocks = 0;  // bit b: block b of counts may be non-zero
  std::array<std::uint64_t, layout::kNumBuckets> counts{};
  std::uint64_t predictions = 0;
  std::uint64_t max_outputs = 0;
  std::uint64_t pairs = 0;
  std::uint64_t pair_disagreements = 0;
  double pair_abs_diff_sum = 0;
  std::uint64_t prediction_blocks = 0;  // bit b: block b of prediction_counts may be non-zero
  std::array<std::uint64_t, prediction_layout::kNumBlocks * prediction_layout::kBlockSize>
      prediction_counts{};

  void Clear() {
    for (std::uint64_t bits = prediction_blocks; bits != 0; bits &= bits - 1) {
      const auto b = static_cast<std::size_t>(std::countr_zero(bits));
      std::fill_n(prediction_counts.begin() + b * prediction_layout::kBlockSize,
                  prediction_layout::kBlockSize, 0);
    }
    prediction_blocks = predictions = max_outputs = 0;
    pairs = pair_disagreements = 0;
    pair_abs_diff_sum = 0;
    for (std::uint64_t bits = blocks; bits != 0; bits &= bits - 1) {
      const auto b = static_cast<std::size_t>(std::countr_zero(bits));
      std::fill_n(counts.begin() + b * layout::kBlockSize, layout::kBlockSize, 0);
    }
    invocations = errors_4xx = errors_5xx = invalid = overhead_sum_ns = overhead_count = 0;
    max_model_ns = -1;
    blocks = 0;
  }
};

// The ring also keeps sums of aligned groups of 10 and of 100 intervals, so a
// long window reads whole groups and only its edges by interval.
inline constexpr std::array<int, 2> kGroupSizes = {10, 100};

class VariantState {
 public:
  VariantState(const std::atomic<std::int64_t>& current_interval, int ring_slots);
  ~VariantState();

  // Folds the shard's window into the ring and moves it to `interval`.
  // Takes fold_mu; called by the shard's writer.
  void Rotate(Shard& shard, std::int64_t interval);
  // Makes this thread's shard for `slot`. Takes fold_mu.
  Shard* CreateShard(int slot);

  void Accumulate(std::int64_t first, std::int64_t last, std::int64_t current,
                  WindowAccumulator& out) const;

  const std::atomic<std::int64_t>& current_interval;
  std::array<std::atomic<Shard*>, kMaxThreadSlots> shards{};

  std::mutex overflow_mu;
  Shard* overflow_shard = nullptr;  // writes GUARDED_BY(overflow_mu)

  // Serializes folds (ring writes, shard window resets) and shard creation.
  mutable std::mutex fold_mu;
  // Odd while a fold runs; readers retry a read that a fold overlapped.
  std::atomic<std::uint64_t> fold_generation{0};

  UtilizationRing utilization;

 private:
  std::size_t SlotIndex(std::int64_t interval) const;
  void FoldLocked(Shard& shard);
  void FoldIntoLocked(const Shard& shard, Slot& slot, std::int64_t tag);
  static void AddSlot(const Slot& slot, WindowAccumulator& out);
  void ClearSlotLocked(Slot& slot);
  Block* NewBlockLocked();
  static void AddShard(const Shard& shard, WindowAccumulator& out);

  const int ring_size_;
  std::unique_ptr<Slot[]> ring_;
  // Group g of level l sums intervals [g * size, (g + 1) * size), size =
  // kGroupSizes[l]; its tag is g.
  struct GroupLevel {
    std::int64_t size = 0;
    std::int64_t slots = 0;
    std::unique_ptr<Slot[]> ring;
  };
  std::array<GroupLevel, kGroupSizes.size()> levels_;
  std::vector<std::unique_ptr<Shard>> owned_shards_;  // GUARDED_BY(fold_mu)
  // Blocks are recycled, never freed before the variant: a reader holding a
  // stale pointer reads counts of another interval (and retries), never freed
  // memory.
  std::vector<std::unique_ptr<Block>> owned_blocks_;  // GUARDED_BY(fold_mu)
  std::vector<Block*> free_blocks_;                   // GUARDED_BY(fold_mu)
};

}  // namespace mlcanary::metrics::internal

#endif  // MLCANARY_METRICS_INTERNAL_VARIANT_STATE_H_
