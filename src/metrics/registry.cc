// MetricsRegistry: variant lookup, ticking, window snapshots and totals.
#include "metrics/registry.h"

#include <algorithm>
#include <bit>

#include "metrics/internal/utilization_ring.h"
#include "metrics/internal/variant_state.h"

namespace mlcanary::metrics {
namespace {

constexpr int kMinSlots = 60;
constexpr int kMaxSlots = 1'000'000;
// Optimistic reads retried this often before taking the fold locks.
constexpr int kOptimisticReads = 8;

RegistryOptions Sanitize(RegistryOptions o) {
  o.interval = std::max(o.interval, core::Duration(1));
  o.slots = std::clamp(o.slots, kMinSlots, kMaxSlots);
  o.tick_period = std::max(o.tick_period, core::Duration(0));
  o.sample_period = std::max(o.sample_period, core::Duration(0));
  return o;
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

MetricsRegistry::MetricsRegistry(const core::Clock& clock)
    : MetricsRegistry(clock, RegistryOptions{}) {}

MetricsRegistry::MetricsRegistry(const core::Clock& clock, RegistryOptions options)
    : clock_(clock),
      options_(Sanitize(options)),
      process_utilization_(std::make_unique<internal::UtilizationRing>(options_.slots)) {
  current_.store(IntervalOf(clock_.Now()), std::memory_order_relaxed);
  if (options_.process_stats != nullptr) sampler_.emplace(*options_.process_stats);
  if (options_.tick_period > core::Duration(0)) {
    ticker_ = std::jthread([this](std::stop_token stop) { TickLoop(std::move(stop)); });
  }
}

MetricsRegistry::~MetricsRegistry() {
  if (ticker_.joinable()) {
    ticker_.request_stop();
    tick_cv_.notify_all();
    ticker_.join();
  }
}

void MetricsRegistry::TickLoop(std::stop_token stop) {
  std::unique_lock lock(tick_mu_);
  while (!stop.stop_requested()) {
    lock.unlock();
    Tick();
    lock.lock();
    tick_cv_.wait_for(lock, stop, options_.tick_period, [] { return false; });
  }
}

std::int64_t MetricsRegistry::IntervalOf(core::Timestamp t) const {
  return FloorDiv(t.time_since_epoch().count(), options_.interval.count());
}

void MetricsRegistry::Tick() {
  const core::Timestamp now = clock_.Now();
  const std::int64_t interval = IntervalOf(now);
  std::int64_t seen = current_.load(std::memory_order_relaxed);
  while (seen < interval &&
         !current_.compare_exchange_weak(seen, interval, std::memory_order_relaxed)) {
  }
  if (sampler_) SampleProcess(now, std::max(seen, interval));
}

void MetricsRegistry::SampleProcess(core::Timestamp now, std::int64_t interval) {
  std::unique_lock lock(sample_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is sampling right now
  if (last_sample_at_ && now - *last_sample_at_ < options_.sample_period) return;
  last_sample_at_ = now;
  auto sample = sampler_->Sample(now);
  if (!sample) return;  // a transient /proc read failure leaves a gap, nothing else
  last_utilization_ = *sample;
  process_utilization_->Add(interval, sample->cpu_percent, sample->memory_percent);
}

std::optional<ProcessUtilization> MetricsRegistry::LastProcessUtilization() const {
  std::lock_guard lock(sample_mu_);
  return last_utilization_;
}

std::shared_ptr<VariantMetrics> MetricsRegistry::Variant(std::string_view endpoint,
                                                         std::string_view variant) {
  {
    std::shared_lock lock(mu_);
    if (auto e = endpoints_.find(endpoint); e != endpoints_.end()) {
      if (auto v = e->second.find(variant); v != e->second.end()) return v->second;
    }
  }
  std::unique_lock lock(mu_);
  auto e = endpoints_.find(endpoint);
  if (e == endpoints_.end()) e = endpoints_.try_emplace(std::string(endpoint)).first;
  auto v = e->second.find(variant);
  if (v == e->second.end()) {
    std::shared_ptr<VariantMetrics> made(new VariantMetrics(
        std::string(endpoint), std::string(variant), current_, options_.slots, live_recorders_));
    v = e->second.emplace(std::string(variant), std::move(made)).first;
  }
  return v->second;
}

void MetricsRegistry::RemoveVariant(std::string_view endpoint, std::string_view variant) {
  std::shared_ptr<VariantMetrics> dropped;  // freed (if last) after the lock is released
  std::unique_lock lock(mu_);
  auto e = endpoints_.find(endpoint);
  if (e == endpoints_.end()) return;
  if (auto v = e->second.find(variant); v != e->second.end()) {
    dropped = std::move(v->second);
    e->second.erase(v);
  }
  if (e->second.empty()) endpoints_.erase(e);
}

std::vector<std::shared_ptr<VariantMetrics>> MetricsRegistry::VariantsOf(
    std::string_view endpoint) const {
  std::vector<std::shared_ptr<VariantMetrics>> out;
  std::shared_lock lock(mu_);
  if (auto e = endpoints_.find(endpoint); e != endpoints_.end()) {
    for (const auto& [name, v] : e->second) out.push_back(v);
  }
  return out;
}

core::Result<std::map<std::string, VariantWindow>> MetricsRegistry::SnapshotWindows(
    std::string_view endpoint, core::Timestamp start, core::Timestamp end) {
  if (end < start) {
    return core::ValidationError("snapshot window ends (" + core::FormatRfc3339(end) +
                                 ") before it starts (" + core::FormatRfc3339(start) + ")");
  }
  Tick();
  // Held for the read: a variant removed meanwhile is not freed under it.
  const std::vector<std::shared_ptr<VariantMetrics>> variants = VariantsOf(endpoint);
  // Intervals that end in (start, end]: interval i spans [i*L, (i+1)*L).
  const std::int64_t first = IntervalOf(start);
  const std::int64_t last = IntervalOf(end) - 1;
  const std::int64_t current = current_interval();

  std::vector<internal::WindowAccumulator> acc(variants.size());
  std::vector<std::uint64_t> generations(variants.size());
  auto read_all = [&] {
    for (std::size_t i = 0; i < variants.size(); ++i) {
      acc[i].Clear();
      variants[i]->AccumulateWindow(first, last, current, acc[i]);
    }
  };
  bool consistent = false;
  for (int attempt = 0; attempt < kOptimisticReads && !consistent; ++attempt) {
    for (std::size_t i = 0; i < variants.size(); ++i) generations[i] = variants[i]->BeginRead();
    read_all();
    consistent = true;
    for (std::size_t i = 0; i < variants.size(); ++i) {
      consistent = consistent && variants[i]->ValidateRead(generations[i]);
    }
  }
  if (!consistent) {
    // Folds kept overlapping the read: hold them off (recorders between folds
    // are not affected). Locks in address order, as any reader takes them.
    std::vector<VariantMetrics*> ordered;
    for (const auto& v : variants) ordered.push_back(v.get());
    std::sort(ordered.begin(), ordered.end());
    for (VariantMetrics* v : ordered) v->LockFolds();
    read_all();
    for (auto it = ordered.rbegin(); it != ordered.rend(); ++it) (*it)->UnlockFolds();
  }

  const internal::UtilizationAverage process =
      process_utilization_->Average(first, std::min(last, current));
  std::map<std::string, VariantWindow> out;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    internal::WindowAccumulator& a = acc[i];
    VariantWindow w;
    w.invocations = static_cast<std::int64_t>(a.invocations);
    w.errors_4xx = static_cast<std::int64_t>(a.errors_4xx);
    w.errors_5xx = static_cast<std::int64_t>(a.errors_5xx);
    w.invalid_samples = static_cast<std::int64_t>(a.invalid);
    w.overhead_sum = std::chrono::nanoseconds(static_cast<std::int64_t>(a.overhead_sum_ns));
    w.overhead_count = static_cast<std::int64_t>(a.overhead_count);
    w.model_latency.AddCounts(a.counts, a.blocks);
    if (a.max_model_ns >= 0) w.model_latency.SetExactMax(std::chrono::nanoseconds(a.max_model_ns));
    w.predictions = static_cast<std::int64_t>(a.predictions);
    w.outputs_per_row = static_cast<std::int64_t>(a.max_outputs);
    w.pairs = static_cast<std::int64_t>(a.pairs);
    w.pair_disagreements = static_cast<std::int64_t>(a.pair_disagreements);
    w.pair_abs_diff_sum = a.pair_abs_diff_sum;
    for (std::uint64_t bits = a.prediction_blocks; bits != 0; bits &= bits - 1) {
      const int b = std::countr_zero(bits);
      for (int k = 0; k < prediction_layout::kBlockSize; ++k) {
        const int bucket = b * prediction_layout::kBlockSize + k;
        const std::uint64_t n = a.prediction_counts[static_cast<std::size_t>(bucket)];
        if (n > 0) {
          w.prediction_buckets.push_back(
              {.value = static_cast<double>(bucket), .count = static_cast<std::int64_t>(n)});
        }
      }
    }
    const internal::UtilizationAverage own =
        variants[i]->UtilizationIn(first, std::min(last, current));
    w.cpu_utilization = own.cpu_percent ? own.cpu_percent : process.cpu_percent;
    w.memory_utilization = own.memory_percent ? own.memory_percent : process.memory_percent;
    out.emplace(variants[i]->variant(), std::move(w));
  }
  return out;
}

core::Result<std::map<std::string, core::WindowMetrics>> MetricsRegistry::Snapshot(
    std::string_view endpoint, core::Timestamp start, core::Timestamp end) {
  auto windows = SnapshotWindows(endpoint, start, end);
  if (!windows) return std::unexpected(windows.error());
  std::map<std::string, core::WindowMetrics> out;
  for (const auto& [name, w] : *windows) out.emplace(name, w.ToWindowMetrics());
  return out;
}

std::vector<VariantTotals> MetricsRegistry::Totals() const {
  std::vector<std::shared_ptr<VariantMetrics>> variants;  // held for the read
  {
    std::shared_lock lock(mu_);
    for (const auto& [endpoint, by_name] : endpoints_) {
      for (const auto& [name, v] : by_name) variants.push_back(v);
    }
  }
  std::vector<VariantTotals> out;
  out.reserve(variants.size());
  for (const auto& v : variants) out.push_back(v->Totals());
  return out;
}

}  // namespace mlcanary::metrics
