// VariantMetrics: what the gateway records for one variant of one endpoint, on
// every request, from many threads at once; and the two read views of it: a
// time window (for the controller) and totals since start (for Prometheus).
#ifndef MLCANARY_METRICS_VARIANT_METRICS_H_
#define MLCANARY_METRICS_VARIANT_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/health.h"
#include "metrics/latency_histogram.h"

namespace mlcanary::metrics {

namespace internal {
class VariantState;
struct WindowAccumulator;
struct UtilizationAverage;
}  // namespace internal

// Why a recorded value was refused or corrected. Counted, never fatal.
enum class InvalidSample {
  kNegativeLatency,   // refused
  kAbsurdLatency,     // above one hour (or +inf): refused
  kNanLatency,        // refused
  kNegativeOverhead,  // total < model latency: overhead clamped to 0
  kInvalidStatus,     // HTTP status outside 100..599: counted as a 5XX
};
inline constexpr int kNumInvalidSampleKinds = 5;
// "negative_latency", "absurd_latency", "nan_latency", "negative_overhead", "invalid_status".
std::string_view InvalidSampleName(InvalidSample kind);

// Upper bounds (le) of the Prometheus histogram buckets, in nanoseconds
// (10 µs .. 60 s, then +Inf). Counting into them is exact, not interpolated.
inline constexpr std::array<std::int64_t, 21> kExportBucketBoundsNs = {
    10'000,         25'000,         50'000,        100'000,       250'000,       500'000,
    1'000'000,      2'500'000,      5'000'000,     10'000'000,    25'000'000,    50'000'000,
    100'000'000,    250'000'000,    500'000'000,   1'000'000'000, 2'500'000'000, 5'000'000'000,
    10'000'000'000, 30'000'000'000, 60'000'000'000};
inline constexpr int kNumExportBuckets = static_cast<int>(kExportBucketBoundsNs.size()) + 1;

// The outputs of one answer, for the prediction histogram: `rows` rows of
// `per_row` values each, row-major. The first output of each row is recorded
// (prediction_layout.h); NaN is skipped.
struct PredictionOutputs {
  const float* values = nullptr;
  std::size_t rows = 0;
  std::size_t per_row = 0;
};

// One variant over a window of intervals.
struct VariantWindow {
  std::int64_t invocations = 0;
  std::int64_t errors_4xx = 0;
  std::int64_t errors_5xx = 0;
  std::int64_t invalid_samples = 0;  // any InvalidSample kind
  LatencyHistogram model_latency;    // its max() is exact
  std::chrono::nanoseconds overhead_sum{0};
  std::int64_t overhead_count = 0;
  std::optional<double> cpu_utilization;     // percent; 100 = one core busy
  std::optional<double> memory_utilization;  // percent of the machine's memory
  // Predictions: (bucket index, count) in index order, prediction_layout.h.
  std::vector<core::ValueCount> prediction_buckets;
  std::int64_t predictions = 0;
  std::int64_t outputs_per_row = 0;
  // Shadow pairs (issue 14), core::WindowMetrics' fields of the same names.
  std::int64_t pairs = 0;
  std::int64_t pair_disagreements = 0;
  double pair_abs_diff_sum = 0;

  // Average gateway time beyond the model; 0 without samples.
  std::chrono::nanoseconds overhead_mean() const;
  // The controller's view: counts, p50/p90/p99 and overhead in ms.
  core::WindowMetrics ToWindowMetrics() const;
};

// One variant since it was first used: monotonic counters.
struct VariantTotals {
  std::string endpoint;
  std::string variant;
  std::uint64_t invocations = 0;
  std::uint64_t errors_4xx = 0;
  std::uint64_t errors_5xx = 0;
  std::array<std::uint64_t, kNumInvalidSampleKinds> invalid{};
  // Per export bucket (not cumulative); the last one is (60 s, +Inf).
  std::array<std::uint64_t, kNumExportBuckets> model_buckets{};
  std::array<std::uint64_t, kNumExportBuckets> overhead_buckets{};
  std::chrono::nanoseconds model_sum{0};
  std::chrono::nanoseconds overhead_sum{0};
  // The latest utilization recorded for this variant itself (RecordUtilization).
  std::optional<double> cpu_utilization;
  std::optional<double> memory_utilization;
  std::uint64_t shadow_dropped = 0;  // shadow copies to this variant dropped, the queue full
};

// The recorder of one variant. Made by MetricsRegistry and shared (a
// shared_ptr) by the registry and whoever records into it; freed when the
// variant has been removed and its last holder lets go.
//
// Thread safety: Record* may be called from any number of threads at once.
// Each thread writes its own shard (relaxed single-writer stores, no lock, no
// read-modify-write instruction); readers merge the shards and never block a
// writer. A thread takes a short per-variant lock once per interval, to fold
// its shard into the interval ring.
class VariantMetrics {
 public:
  ~VariantMetrics();
  VariantMetrics(const VariantMetrics&) = delete;
  VariantMetrics& operator=(const VariantMetrics&) = delete;

  // The hot path: one request. 4XX and 5XX statuses count as errors (a status
  // outside 100..599 counts as 5XX and as invalid). Latencies that are negative
  // or above one hour are refused and counted, never put in the histograms
  // (nanoseconds::min() counts as NaN); total < model clamps the overhead to 0
  // (and is counted).
  // `predictions`, when given, go into the window's prediction histogram.
  void Record(int http_status, std::chrono::nanoseconds model_latency,
              std::chrono::nanoseconds total_latency, const PredictionOutputs& predictions = {});
  // The same with latencies in seconds; NaN and infinities are refused.
  void RecordSeconds(int http_status, double model_latency_s, double total_latency_s);

  // Shadow pairs (issue 14): `pairs` rows this variant answered as a copy of
  // production's request, compared on one output; how many differ by more
  // than the tolerance, and the sum of |canary - production|. Lock-free as Record.
  void RecordPairs(std::int64_t pairs, std::int64_t disagreements, double abs_diff_sum);
  // A shadow copy to this variant dropped because the shadow queue was full.
  void RecordShadowDropped();

  // Utilization of this variant's own process (an HTTP model server), when it
  // has one; percent. Not for the hot path (takes a lock). NaN or negative
  // values are ignored.
  void RecordUtilization(double cpu_percent, double memory_percent);

  const std::string& endpoint() const { return endpoint_; }
  const std::string& variant() const { return variant_; }

 private:
  friend class MetricsRegistry;
  // Counts itself in `live` (the registry's live recorders) for its lifetime.
  VariantMetrics(std::string endpoint, std::string variant,
                 const std::atomic<std::int64_t>& current_interval, int ring_slots,
                 std::atomic<std::int64_t>& live);

  // First record of a thread, or a thread without a shard slot of its own.
  void RecordSlow(int http_status, std::int64_t model_ns, std::int64_t total_ns,
                  const PredictionOutputs& predictions);

  void RecordShadow(std::uint64_t pairs, std::uint64_t disagreements, double abs_diff_sum);

  // Window reads (see MetricsRegistry::SnapshotWindows).
  std::uint64_t BeginRead() const;
  bool ValidateRead(std::uint64_t generation) const;
  void LockFolds() const;
  void UnlockFolds() const;
  void AccumulateWindow(std::int64_t first_interval, std::int64_t last_interval,
                        std::int64_t current_interval, internal::WindowAccumulator& out) const;
  internal::UtilizationAverage UtilizationIn(std::int64_t first_interval,
                                             std::int64_t last_interval) const;
  VariantTotals Totals() const;

  std::string endpoint_;
  std::string variant_;
  std::unique_ptr<internal::VariantState> state_;
  std::atomic<std::int64_t>& live_;
};

}  // namespace mlcanary::metrics

#endif  // MLCANARY_METRICS_VARIANT_METRICS_H_
