// VariantMetrics: the lock-free request path, the once-per-interval fold into
// the ring, and the reads that merge shards and ring slots.
#include "metrics/variant_metrics.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "metrics/internal/variant_state.h"

namespace mlcanary::metrics {
namespace {

using internal::Block;
using internal::Bump;
using internal::Counter;
using internal::Load;
using internal::Shard;
using internal::Slot;
using internal::VariantState;
using internal::WindowAccumulator;
using internal::WindowCounters;

constexpr auto kRelaxed = std::memory_order_relaxed;

// ---- Export buckets: which Prometheus bucket a value falls in, exactly. ----

// kBounds[kNumExportBuckets - 1] is a sentinel for +Inf.
constexpr std::array<std::int64_t, kNumExportBuckets> kBounds = [] {
  std::array<std::int64_t, kNumExportBuckets> b{};
  for (std::size_t i = 0; i < kExportBucketBoundsNs.size(); ++i) b[i] = kExportBucketBoundsNs[i];
  b[kExportBucketBoundsNs.size()] = std::numeric_limits<std::int64_t>::max();
  return b;
}();

// For each histogram bucket: the first export bound >= its lower bound. A
// value v in that bucket then belongs to export bucket j, or j + 1 when
// v > kBounds[j]: no histogram bucket holds two bounds (checked below).
constexpr std::array<std::uint8_t, layout::kNumBuckets> kExportOf = [] {
  std::array<std::uint8_t, layout::kNumBuckets> t{};
  for (int i = 0; i < layout::kNumBuckets; ++i) {
    std::uint8_t j = 0;
    while (kBounds[j] < layout::BucketLowerBound(i)) ++j;
    t[i] = j;
  }
  return t;
}();

constexpr bool NoBucketHoldsTwoBounds() {
  for (int i = 0; i < layout::kNumBuckets; ++i) {
    const int j = kExportOf[i];
    if (j + 1 < kNumExportBuckets && kBounds[j + 1] < layout::BucketUpperBound(i)) return false;
  }
  return true;
}
static_assert(NoBucketHoldsTwoBounds());

inline int ExportBucket(int histogram_bucket, std::int64_t ns) {
  const int j = kExportOf[histogram_bucket];
  return j + (ns > kBounds[j] ? 1 : 0);
}

// ---- Thread slots: a small dense id per live thread, shared by all variants. ----

constexpr int kNoSlot = -1;    // this thread has not asked yet
constexpr int kOverflow = -2;  // all slots taken, or the thread is exiting

constinit thread_local int t_slot = kNoSlot;

class ThreadSlots {
 public:
  static ThreadSlots& Get() {
    static auto* slots = new ThreadSlots;  // never destroyed: threads outlive statics
    return *slots;
  }
  int Claim() {
    std::lock_guard lock(mu_);
    for (int i = 0; i < internal::kMaxThreadSlots; ++i) {
      if (!used_[i]) {
        used_[i] = true;
        return i;
      }
    }
    return kOverflow;
  }
  // The mutex orders the old owner's last writes before the next owner's first.
  void Release(int slot) {
    std::lock_guard lock(mu_);
    used_[slot] = false;
  }

 private:
  std::mutex mu_;
  std::array<bool, internal::kMaxThreadSlots> used_{};
};

struct SlotReleaser {
  int slot = kNoSlot;
  ~SlotReleaser() {
    if (slot >= 0) ThreadSlots::Get().Release(slot);
    t_slot = kOverflow;
  }
};
thread_local SlotReleaser t_releaser;  // touched only when a slot is claimed

int ClaimThreadSlot() {
  const int slot = ThreadSlots::Get().Claim();
  if (slot >= 0) t_releaser.slot = slot;
  t_slot = slot;
  return slot;
}

// ---- Recording into a shard (its single writer). ----

// Latencies are int64 nanoseconds; kNanNs stands for NaN (RecordSeconds), and
// a duration of that value (not a real one) is counted as NaN too.
constexpr std::int64_t kNanNs = std::numeric_limits<std::int64_t>::min();

void CountInvalid(Shard& s, InvalidSample kind) {
  Bump(s.invalid[static_cast<int>(kind)]);
  Bump(s.window.invalid);
}

// Statuses outside 100..399: errors, and invalid ones counted as 5XX.
[[gnu::noinline]] void CountErrorStatus(Shard& s, int status) {
  if (status >= 400 && status < 500) {
    Bump(s.window.errors_4xx);
    Bump(s.errors_4xx);
    return;
  }
  if (status < 100 || status > 599) CountInvalid(s, InvalidSample::kInvalidStatus);
  Bump(s.window.errors_5xx);
  Bump(s.errors_5xx);
}

[[gnu::noinline]] void CountBadLatencies(Shard& s, std::int64_t model_ns, std::int64_t total_ns) {
  for (const std::int64_t ns : {model_ns, total_ns}) {
    if (ns == kNanNs) {
      CountInvalid(s, InvalidSample::kNanLatency);
    } else if (ns < 0) {
      CountInvalid(s, InvalidSample::kNegativeLatency);
    } else if (ns > layout::kMaxValueNs) {
      CountInvalid(s, InvalidSample::kAbsurdLatency);
    }
  }
}

// The first output of each row into the prediction histogram.
[[gnu::always_inline]] inline void RecordPredictionsInto(Shard& s, const PredictionOutputs& p) {
  if (p.per_row > Load(s.window.max_outputs)) [[unlikely]] {
    s.window.max_outputs.store(p.per_row, kRelaxed);
  }
  std::uint64_t used = Load(s.prediction_blocks_used);
  std::uint64_t recorded = 0;
  for (std::size_t r = 0; r < p.rows; ++r) {
    const int bucket = prediction_layout::BucketIndex(p.values[r * p.per_row]);
    if (bucket < 0) [[unlikely]] {
      continue;  // NaN
    }
    std::atomic<std::uint32_t>& cell = s.prediction_hist[static_cast<std::size_t>(bucket)];
    cell.store(cell.load(kRelaxed) + 1, kRelaxed);
    used |= std::uint64_t{1} << (bucket / prediction_layout::kBlockSize);
    ++recorded;
  }
  if (used != Load(s.prediction_blocks_used)) [[unlikely]] {
    s.prediction_blocks_used.store(used, kRelaxed);
  }
  Bump(s.window.predictions, recorded);
}

// The request path, inlined into its one caller.
[[gnu::always_inline]] inline void RecordInto(VariantState& st, Shard& s, int status,
                                              std::int64_t model_ns, std::int64_t total_ns,
                                              const PredictionOutputs& predictions) {
  const std::int64_t now = st.current_interval.load(kRelaxed);
  if (s.interval.load(kRelaxed) != now) [[unlikely]] {
    st.Rotate(s, now);
  }
  if (predictions.rows > 0 && predictions.per_row > 0) RecordPredictionsInto(s, predictions);
  Bump(s.window.invocations);
  Bump(s.invocations);
  if (static_cast<unsigned>(status) - 100u >= 300u) [[unlikely]] {
    CountErrorStatus(s, status);
  }
  // One unsigned comparison refuses negative, NaN (kNanNs) and absurd values.
  const bool model_ok = static_cast<std::uint64_t>(model_ns) <= layout::kMaxValueNs;
  const bool total_ok = static_cast<std::uint64_t>(total_ns) <= layout::kMaxValueNs;
  if (!(model_ok && total_ok)) [[unlikely]] {
    CountBadLatencies(s, model_ns, total_ns);
    if (!model_ok) return;
  }
  const int bucket = layout::BucketIndex(static_cast<std::uint64_t>(model_ns));
  std::atomic<std::uint32_t>& cell = s.hist[bucket];
  cell.store(cell.load(kRelaxed) + 1, kRelaxed);
  const std::uint64_t block_bit = std::uint64_t{1} << (bucket >> layout::kSubBucketBits);
  const std::uint64_t used = s.blocks_used.load(kRelaxed);
  if ((used & block_bit) == 0) [[unlikely]] {
    s.blocks_used.store(used | block_bit, kRelaxed);
  }
  if (static_cast<std::uint64_t>(model_ns) > s.window.max_model_ns.load(kRelaxed)) [[unlikely]] {
    s.window.max_model_ns.store(static_cast<std::uint64_t>(model_ns), kRelaxed);
  }
  Bump(s.model_buckets[ExportBucket(bucket, model_ns)]);
  Bump(s.model_sum_ns, static_cast<std::uint64_t>(model_ns));
  if (!total_ok) [[unlikely]] {
    return;
  }
  std::int64_t overhead = total_ns - model_ns;
  if (overhead < 0) [[unlikely]] {
    CountInvalid(s, InvalidSample::kNegativeOverhead);
    overhead = 0;
  }
  Bump(s.window.overhead_sum_ns, static_cast<std::uint64_t>(overhead));
  Bump(s.window.overhead_count);
  const int obucket = layout::BucketIndex(static_cast<std::uint64_t>(overhead));
  Bump(s.overhead_buckets[ExportBucket(obucket, overhead)]);
  Bump(s.overhead_sum_ns, static_cast<std::uint64_t>(overhead));
}

// Shadow pairs, or (pairs 0) one dropped shadow copy.
[[gnu::always_inline]] inline void RecordPairInto(VariantState& st, Shard& s, std::uint64_t pairs,
                                                  std::uint64_t disagreements,
                                                  double abs_diff_sum) {
  if (pairs == 0) {
    Bump(s.shadow_dropped);
    return;
  }
  const std::int64_t now = st.current_interval.load(kRelaxed);
  if (s.interval.load(kRelaxed) != now) [[unlikely]] {
    st.Rotate(s, now);
  }
  Bump(s.window.pairs, pairs);
  if (disagreements > 0) Bump(s.window.pair_disagreements, disagreements);
  internal::AddDouble(s.window.pair_abs_diff_bits, abs_diff_sum);
}

[[gnu::noinline]] void RecordPairOverflow(VariantState& st, std::uint64_t pairs,
                                          std::uint64_t disagreements, double abs_diff_sum) {
  std::lock_guard lock(st.overflow_mu);
  RecordPairInto(st, *st.overflow_shard, pairs, disagreements, abs_diff_sum);
}

[[gnu::noinline]] void RecordOverflow(VariantState& st, int status, std::int64_t model_ns,
                                      std::int64_t total_ns, const PredictionOutputs& predictions) {
  std::lock_guard lock(st.overflow_mu);
  RecordInto(st, *st.overflow_shard, status, model_ns, total_ns, predictions);
}

void ZeroCounters(WindowCounters& c) {
  for (Counter* x : {&c.invocations, &c.errors_4xx, &c.errors_5xx, &c.invalid, &c.overhead_sum_ns,
                     &c.overhead_count, &c.max_model_ns, &c.predictions, &c.max_outputs, &c.pairs,
                     &c.pair_disagreements, &c.pair_abs_diff_bits}) {
    x->store(0, kRelaxed);
  }
}

void AddCounters(const WindowCounters& from, WindowAccumulator& to) {
  to.invocations += Load(from.invocations);
  to.errors_4xx += Load(from.errors_4xx);
  to.errors_5xx += Load(from.errors_5xx);
  to.invalid += Load(from.invalid);
  to.overhead_sum_ns += Load(from.overhead_sum_ns);
  to.overhead_count += Load(from.overhead_count);
  to.predictions += Load(from.predictions);
  to.max_outputs = std::max(to.max_outputs, Load(from.max_outputs));
  to.pairs += Load(from.pairs);
  to.pair_disagreements += Load(from.pair_disagreements);
  to.pair_abs_diff_sum += internal::LoadDouble(from.pair_abs_diff_bits);
  const std::uint64_t max = Load(from.max_model_ns);
  if (Load(from.invocations) > 0 && static_cast<std::int64_t>(max) > to.max_model_ns) {
    to.max_model_ns = static_cast<std::int64_t>(max);
  }
}

}  // namespace

// ---- VariantState ----

namespace internal {

VariantState::VariantState(const std::atomic<std::int64_t>& current, int ring_slots)
    : current_interval(current),
      utilization(ring_slots),
      ring_size_(ring_slots),
      ring_(std::make_unique<Slot[]>(static_cast<std::size_t>(ring_slots))) {
  for (std::size_t l = 0; l < kGroupSizes.size(); ++l) {
    levels_[l].size = kGroupSizes[l];
    // Two spare groups: a group still (partly) inside the ring's intervals is
    // never reused for a newer one.
    levels_[l].slots = ring_slots / kGroupSizes[l] + 2;
    levels_[l].ring = std::make_unique<Slot[]>(static_cast<std::size_t>(levels_[l].slots));
  }
  owned_shards_.push_back(std::make_unique<Shard>());
  overflow_shard = owned_shards_.back().get();
  overflow_shard->interval.store(current.load(kRelaxed), kRelaxed);
}

VariantState::~VariantState() = default;

namespace {
std::int64_t FloorMod(std::int64_t a, std::int64_t n) { return ((a % n) + n) % n; }
std::int64_t FloorDiv(std::int64_t a, std::int64_t n) { return (a - FloorMod(a, n)) / n; }
}  // namespace

std::size_t VariantState::SlotIndex(std::int64_t interval) const {
  return static_cast<std::size_t>(FloorMod(interval, ring_size_));
}

Shard* VariantState::CreateShard(int slot) {
  std::lock_guard lock(fold_mu);
  owned_shards_.push_back(std::make_unique<Shard>());
  Shard* shard = owned_shards_.back().get();
  shard->interval.store(current_interval.load(kRelaxed), kRelaxed);
  shards[slot].store(shard, std::memory_order_release);
  return shard;
}

Block* VariantState::NewBlockLocked() {
  if (free_blocks_.empty()) {
    owned_blocks_.push_back(std::make_unique<Block>());
    return owned_blocks_.back().get();
  }
  Block* block = free_blocks_.back();
  free_blocks_.pop_back();
  for (auto& c : block->counts) c.store(0, kRelaxed);
  return block;
}

void VariantState::ClearSlotLocked(Slot& slot) {
  ZeroCounters(slot.counters);
  for (auto& b : slot.prediction_blocks) {
    if (Block* block = b.load(kRelaxed)) {
      free_blocks_.push_back(block);
      b.store(nullptr, kRelaxed);
    }
  }
  for (auto& b : slot.blocks) {
    if (Block* block = b.load(kRelaxed)) {
      free_blocks_.push_back(block);
      b.store(nullptr, kRelaxed);
    }
  }
}

void VariantState::FoldIntoLocked(const Shard& s, Slot& slot, std::int64_t tag) {
  const std::int64_t have_tag = slot.tag.load(kRelaxed);
  if (have_tag > tag) return;  // the ring has moved past it: too old to keep
  if (have_tag < tag) {
    ClearSlotLocked(slot);
    slot.tag.store(tag, kRelaxed);
  }
  WindowCounters& to = slot.counters;
  const WindowCounters& from = s.window;
  Bump(to.invocations, Load(from.invocations));
  Bump(to.errors_4xx, Load(from.errors_4xx));
  Bump(to.errors_5xx, Load(from.errors_5xx));
  Bump(to.invalid, Load(from.invalid));
  Bump(to.overhead_sum_ns, Load(from.overhead_sum_ns));
  Bump(to.overhead_count, Load(from.overhead_count));
  if (Load(from.max_model_ns) > Load(to.max_model_ns)) {
    to.max_model_ns.store(Load(from.max_model_ns), kRelaxed);
  }
  Bump(to.predictions, Load(from.predictions));
  Bump(to.pairs, Load(from.pairs));
  Bump(to.pair_disagreements, Load(from.pair_disagreements));
  internal::AddDouble(to.pair_abs_diff_bits, internal::LoadDouble(from.pair_abs_diff_bits));
  if (Load(from.max_outputs) > Load(to.max_outputs)) {
    to.max_outputs.store(Load(from.max_outputs), kRelaxed);
  }
  auto fold = [&](std::uint64_t used, const std::atomic<std::uint32_t>* hist,
                  std::atomic<Block*>* blocks) {
    for (std::uint64_t bits = used; bits != 0; bits &= bits - 1) {
      const int b = std::countr_zero(bits);
      Block* block = blocks[b].load(kRelaxed);
      if (block == nullptr) {
        block = NewBlockLocked();
        blocks[b].store(block, std::memory_order_release);
      }
      for (int i = 0; i < layout::kBlockSize; ++i) {
        const std::uint32_t add = hist[b * layout::kBlockSize + i].load(kRelaxed);
        if (add == 0) continue;
        const std::uint32_t have = block->counts[i].load(kRelaxed);
        const std::uint32_t room = std::numeric_limits<std::uint32_t>::max() - have;
        block->counts[i].store(have + std::min(add, room), kRelaxed);
      }
    }
  };
  fold(Load(s.blocks_used), s.hist.data(), slot.blocks.data());
  fold(Load(s.prediction_blocks_used), s.prediction_hist.data(), slot.prediction_blocks.data());
}

void VariantState::FoldLocked(Shard& s) {
  const std::int64_t interval = s.interval.load(kRelaxed);
  if (interval == kNoInterval ||
      (Load(s.window.invocations) == 0 && Load(s.window.invalid) == 0 && Load(s.blocks_used) == 0 &&
       Load(s.prediction_blocks_used) == 0)) {
    return;
  }
  FoldIntoLocked(s, ring_[SlotIndex(interval)], interval);
  for (GroupLevel& level : levels_) {
    const std::int64_t group = FloorDiv(interval, level.size);
    FoldIntoLocked(s, level.ring[static_cast<std::size_t>(FloorMod(group, level.slots))], group);
  }
}

void VariantState::Rotate(Shard& s, std::int64_t interval) {
  std::lock_guard lock(fold_mu);
  const std::uint64_t generation = fold_generation.load(kRelaxed);
  fold_generation.store(generation + 1, kRelaxed);
  std::atomic_thread_fence(std::memory_order_release);
  FoldLocked(s);
  ZeroCounters(s.window);
  for (std::uint64_t bits = Load(s.blocks_used); bits != 0; bits &= bits - 1) {
    const int b = std::countr_zero(bits);
    for (int i = 0; i < layout::kBlockSize; ++i)
      s.hist[b * layout::kBlockSize + i].store(0, kRelaxed);
  }
  s.blocks_used.store(0, kRelaxed);
  for (std::uint64_t bits = Load(s.prediction_blocks_used); bits != 0; bits &= bits - 1) {
    const int b = std::countr_zero(bits);
    for (int i = 0; i < prediction_layout::kBlockSize; ++i)
      s.prediction_hist[b * prediction_layout::kBlockSize + i].store(0, kRelaxed);
  }
  s.prediction_blocks_used.store(0, kRelaxed);
  s.interval.store(interval, kRelaxed);
  fold_generation.store(generation + 2, std::memory_order_release);
}

void VariantState::AddShard(const Shard& s, WindowAccumulator& out) {
  AddCounters(s.window, out);
  for (std::uint64_t bits = Load(s.blocks_used); bits != 0; bits &= bits - 1) {
    const int b = std::countr_zero(bits);
    if (b >= layout::kNumBlocks) break;
    out.blocks |= std::uint64_t{1} << b;
    std::uint64_t* to = &out.counts[static_cast<std::size_t>(b) * layout::kBlockSize];
    const std::atomic<std::uint32_t>* from =
        &s.hist[static_cast<std::size_t>(b) * layout::kBlockSize];
    for (int i = 0; i < layout::kBlockSize; ++i) to[i] += from[i].load(kRelaxed);
  }
  for (std::uint64_t bits = Load(s.prediction_blocks_used); bits != 0; bits &= bits - 1) {
    const int b = std::countr_zero(bits);
    out.prediction_blocks |= std::uint64_t{1} << b;
    std::uint64_t* to =
        &out.prediction_counts[static_cast<std::size_t>(b) * prediction_layout::kBlockSize];
    const std::atomic<std::uint32_t>* from =
        &s.prediction_hist[static_cast<std::size_t>(b) * prediction_layout::kBlockSize];
    for (int i = 0; i < prediction_layout::kBlockSize; ++i) to[i] += from[i].load(kRelaxed);
  }
}

void VariantState::AddSlot(const Slot& slot, WindowAccumulator& out) {
  AddCounters(slot.counters, out);
  for (int b = 0; b < layout::kNumBlocks; ++b) {
    const Block* block = slot.blocks[b].load(std::memory_order_acquire);
    if (block == nullptr) continue;
    out.blocks |= std::uint64_t{1} << b;
    std::uint64_t* to = &out.counts[static_cast<std::size_t>(b) * layout::kBlockSize];
    for (int i = 0; i < layout::kBlockSize; ++i) to[i] += block->counts[i].load(kRelaxed);
  }
  for (int b = 0; b < prediction_layout::kNumBlocks; ++b) {
    const Block* block = slot.prediction_blocks[b].load(std::memory_order_acquire);
    if (block == nullptr) continue;
    out.prediction_blocks |= std::uint64_t{1} << b;
    std::uint64_t* to =
        &out.prediction_counts[static_cast<std::size_t>(b) * prediction_layout::kBlockSize];
    for (int i = 0; i < prediction_layout::kBlockSize; ++i) {
      to[i] += block->counts[i].load(kRelaxed);
    }
  }
}

void VariantState::Accumulate(std::int64_t first, std::int64_t last, std::int64_t current,
                              WindowAccumulator& out) const {
  // Only what the ring keeps, even where an idle shard still holds older data.
  first = std::max(first, current - ring_size_ + 1);
  last = std::min(last, current);
  if (first > last) return;
  for (std::int64_t e = first; e <= last;) {
    // The largest aligned group that starts here and fits; else one interval.
    const GroupLevel* use = nullptr;
    for (auto level = levels_.rbegin(); level != levels_.rend() && use == nullptr; ++level) {
      if (FloorMod(e, level->size) == 0 && e + level->size - 1 <= last) use = &*level;
    }
    if (use != nullptr) {
      const std::int64_t group = FloorDiv(e, use->size);
      const Slot& slot = use->ring[static_cast<std::size_t>(FloorMod(group, use->slots))];
      if (slot.tag.load(kRelaxed) == group) AddSlot(slot, out);
      e += use->size;
    } else {
      const Slot& slot = ring_[SlotIndex(e)];
      if (slot.tag.load(kRelaxed) == e) AddSlot(slot, out);
      ++e;
    }
  }
  auto add = [&](const Shard* s) {
    if (s == nullptr) return;
    const std::int64_t e = s->interval.load(kRelaxed);
    if (e >= first && e <= last) AddShard(*s, out);
  };
  for (const auto& p : shards) add(p.load(std::memory_order_acquire));
  add(overflow_shard);
}

}  // namespace internal

// ---- VariantWindow ----

std::chrono::nanoseconds VariantWindow::overhead_mean() const {
  if (overhead_count <= 0) return std::chrono::nanoseconds(0);
  return overhead_sum / overhead_count;
}

core::WindowMetrics VariantWindow::ToWindowMetrics() const {
  core::WindowMetrics w;
  w.invocations = invocations;
  w.errors_4xx = errors_4xx;
  w.errors_5xx = errors_5xx;
  const LatencyPercentiles p = model_latency.Percentiles();
  auto ms = [](std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; };
  w.p50_ms = ms(p.p50);
  w.p90_ms = ms(p.p90);
  w.p99_ms = ms(p.p99);
  w.overhead_ms = overhead_count > 0 ? static_cast<double>(overhead_sum.count()) /
                                           static_cast<double>(overhead_count) / 1e6
                                     : 0.0;
  w.cpu_utilization = cpu_utilization;
  w.memory_utilization = memory_utilization;
  // The latency buckets for the mann_whitney judge (bucket middles, in ms).
  const auto buckets = model_latency.buckets();
  for (int i = 0; i < layout::kNumBuckets; ++i) {
    if (buckets[static_cast<std::size_t>(i)] == 0) continue;
    w.latency_buckets.push_back(
        {.value = ms(std::chrono::nanoseconds(layout::BucketValue(i))),
         .count = static_cast<std::int64_t>(buckets[static_cast<std::size_t>(i)])});
  }
  w.prediction_buckets = prediction_buckets;
  w.predictions = predictions;
  w.outputs_per_row = outputs_per_row;
  w.pairs = pairs;
  w.pair_disagreements = pair_disagreements;
  w.pair_abs_diff_sum = pair_abs_diff_sum;
  return w;
}

std::string_view InvalidSampleName(InvalidSample kind) {
  switch (kind) {
    case InvalidSample::kNegativeLatency:
      return "negative_latency";
    case InvalidSample::kAbsurdLatency:
      return "absurd_latency";
    case InvalidSample::kNanLatency:
      return "nan_latency";
    case InvalidSample::kNegativeOverhead:
      return "negative_overhead";
    case InvalidSample::kInvalidStatus:
      return "invalid_status";
  }
  return "invalid_status";
}

// ---- VariantMetrics ----

VariantMetrics::VariantMetrics(std::string endpoint, std::string variant,
                               const std::atomic<std::int64_t>& current_interval, int ring_slots,
                               std::atomic<std::int64_t>& live)
    : endpoint_(std::move(endpoint)),
      variant_(std::move(variant)),
      state_(std::make_unique<VariantState>(current_interval, ring_slots)),
      live_(live) {
  live_.fetch_add(1, kRelaxed);
}

VariantMetrics::~VariantMetrics() { live_.fetch_sub(1, kRelaxed); }

void VariantMetrics::Record(int http_status, std::chrono::nanoseconds model_latency,
                            std::chrono::nanoseconds total_latency,
                            const PredictionOutputs& predictions) {
  VariantState& st = *state_;
  const int slot = t_slot;
  if (slot < 0) [[unlikely]] {
    RecordSlow(http_status, model_latency.count(), total_latency.count(), predictions);
    return;
  }
  Shard* shard = st.shards[slot].load(kRelaxed);
  if (shard == nullptr) [[unlikely]] {
    shard = st.CreateShard(slot);
  }
  RecordInto(st, *shard, http_status, model_latency.count(), total_latency.count(), predictions);
}

void VariantMetrics::RecordPairs(std::int64_t pairs, std::int64_t disagreements,
                                 double abs_diff_sum) {
  if (pairs <= 0) return;
  RecordShadow(static_cast<std::uint64_t>(pairs),
               static_cast<std::uint64_t>(std::max<std::int64_t>(disagreements, 0)), abs_diff_sum);
}

void VariantMetrics::RecordShadowDropped() { RecordShadow(0, 0, 0); }

void VariantMetrics::RecordShadow(std::uint64_t pairs, std::uint64_t disagreements,
                                  double abs_diff_sum) {
  VariantState& st = *state_;
  int slot = t_slot;
  if (slot == kNoSlot) slot = ClaimThreadSlot();
  if (slot < 0) {
    RecordPairOverflow(st, pairs, disagreements, abs_diff_sum);
    return;
  }
  Shard* shard = st.shards[slot].load(kRelaxed);
  if (shard == nullptr) [[unlikely]] {
    shard = st.CreateShard(slot);
  }
  RecordPairInto(st, *shard, pairs, disagreements, abs_diff_sum);
}

void VariantMetrics::RecordSlow(int http_status, std::int64_t model_ns, std::int64_t total_ns,
                                const PredictionOutputs& predictions) {
  if (t_slot == kNoSlot && ClaimThreadSlot() >= 0) {
    Record(http_status, std::chrono::nanoseconds(model_ns), std::chrono::nanoseconds(total_ns),
           predictions);
    return;
  }
  RecordOverflow(*state_, http_status, model_ns, total_ns, predictions);
}

namespace {
// Seconds to nanoseconds without undefined conversions; NaN becomes kNanNs and
// values out of range one the recorder refuses for the right reason.
std::int64_t SecondsToNs(double s) {
  if (std::isnan(s)) return kNanNs;
  if (s < 0) return -1;
  if (s > 1e7) return std::numeric_limits<std::int64_t>::max();  // also +inf
  return static_cast<std::int64_t>(std::llround(s * 1e9));
}
}  // namespace

void VariantMetrics::RecordSeconds(int http_status, double model_latency_s,
                                   double total_latency_s) {
  Record(http_status, std::chrono::nanoseconds(SecondsToNs(model_latency_s)),
         std::chrono::nanoseconds(SecondsToNs(total_latency_s)));
}

void VariantMetrics::RecordUtilization(double cpu_percent, double memory_percent) {
  state_->utilization.Add(state_->current_interval.load(kRelaxed), cpu_percent, memory_percent);
}

std::uint64_t VariantMetrics::BeginRead() const {
  return state_->fold_generation.load(std::memory_order_acquire);
}

bool VariantMetrics::ValidateRead(std::uint64_t generation) const {
  std::atomic_thread_fence(std::memory_order_acquire);
  return (generation & 1) == 0 && state_->fold_generation.load(kRelaxed) == generation;
}

void VariantMetrics::LockFolds() const { state_->fold_mu.lock(); }
void VariantMetrics::UnlockFolds() const { state_->fold_mu.unlock(); }

void VariantMetrics::AccumulateWindow(std::int64_t first_interval, std::int64_t last_interval,
                                      std::int64_t current_interval,
                                      internal::WindowAccumulator& out) const {
  state_->Accumulate(first_interval, last_interval, current_interval, out);
}

internal::UtilizationAverage VariantMetrics::UtilizationIn(std::int64_t first_interval,
                                                           std::int64_t last_interval) const {
  return state_->utilization.Average(first_interval, last_interval);
}

VariantTotals VariantMetrics::Totals() const {
  VariantTotals t;
  t.endpoint = endpoint_;
  t.variant = variant_;
  std::uint64_t model_sum = 0, overhead_sum = 0;
  auto add = [&](const Shard* s) {
    if (s == nullptr) return;
    t.invocations += Load(s->invocations);
    t.errors_4xx += Load(s->errors_4xx);
    t.errors_5xx += Load(s->errors_5xx);
    for (int i = 0; i < kNumInvalidSampleKinds; ++i) t.invalid[i] += Load(s->invalid[i]);
    for (int i = 0; i < kNumExportBuckets; ++i) {
      t.model_buckets[i] += Load(s->model_buckets[i]);
      t.overhead_buckets[i] += Load(s->overhead_buckets[i]);
    }
    model_sum += Load(s->model_sum_ns);
    overhead_sum += Load(s->overhead_sum_ns);
    t.shadow_dropped += Load(s->shadow_dropped);
  };
  for (const auto& p : state_->shards) add(p.load(std::memory_order_acquire));
  add(state_->overflow_shard);
  t.model_sum = std::chrono::nanoseconds(static_cast<std::int64_t>(model_sum));
  t.overhead_sum = std::chrono::nanoseconds(static_cast<std::int64_t>(overhead_sum));
  const internal::UtilizationAverage last = state_->utilization.Last();
  t.cpu_utilization = last.cpu_percent;
  t.memory_utilization = last.memory_percent;
  return t;
}

}  // namespace mlcanary::metrics
