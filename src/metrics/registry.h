// MetricsRegistry: every variant's recorder, the interval clock they share,
// and consistent window snapshots of one endpoint's variants.
#ifndef MLCANARY_METRICS_REGISTRY_H_
#define MLCANARY_METRICS_REGISTRY_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/health.h"
#include "core/time.h"
#include "metrics/process_stats.h"
#include "metrics/variant_metrics.h"

namespace mlcanary::metrics {

namespace internal {
class UtilizationRing;
}  // namespace internal

struct RegistryOptions {
  // Length of one interval of the ring, aligned on the Unix epoch. Windows are
  // exact to one interval. At least 1 ms.
  core::Duration interval = std::chrono::seconds(1);
  // Intervals kept (at least 60), the open one included: a snapshot sees at
  // most the last slots - 1 closed intervals. Memory per variant: about 400 B
  // per slot, plus 256 B per block of 64 histogram buckets in use.
  int slots = 600;
  // When > 0, a background thread calls Tick() this often. Leave 0 with a
  // ManualClock and call Tick() (Snapshot also ticks) after moving the clock.
  core::Duration tick_period{0};
  // Sampled by Tick() every sample_period when set; not owned.
  ProcessStatsReader* process_stats = nullptr;
  core::Duration sample_period = std::chrono::seconds(1);
};

// The gateway's metrics: one VariantMetrics per (endpoint, variant).
//
// Thread-safe. Recording goes straight to a VariantMetrics (keep the pointer:
// Variant() takes a shared lock). Time comes only from the clock given at
// construction, read by Tick(): requests are counted in the interval of the
// latest tick, so the record path never reads a clock.
//
// Ownership: the registry holds each variant's recorder until RemoveVariant;
// whoever records into one (the router's tables, and through them requests in
// flight) holds it too, so a removed variant's recorder is freed once nothing
// can record into it any more. The registry must outlive every recorder it
// made (they read its interval clock).
class MetricsRegistry {
 public:
  explicit MetricsRegistry(const core::Clock& clock);
  MetricsRegistry(const core::Clock& clock, RegistryOptions options);
  ~MetricsRegistry();  // stops the tick thread
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // The recorder of a variant, made on first use; the same one every time
  // until RemoveVariant. Hold the shared_ptr for as long as you record into it
  // (recording itself never touches the reference count).
  std::shared_ptr<VariantMetrics> Variant(std::string_view endpoint, std::string_view variant);
  // Drops the variant at once from snapshots, totals and exposition, and the
  // registry's reference to its recorder: the recorder is freed when its last
  // holder lets go. Records into it meanwhile are safe and not reported. A
  // variant made again under the same name starts from zero (to Prometheus, a
  // counter reset).
  void RemoveVariant(std::string_view endpoint, std::string_view variant);
  // Recorders in memory: the registry's own plus removed ones still held.
  std::int64_t live_recorders() const { return live_recorders_.load(std::memory_order_relaxed); }

  // Reads the clock and moves the current interval forward (never back);
  // samples process stats when due.
  void Tick();

  // Ticks, then reads every (not removed) variant of `endpoint` over the
  // intervals that end in (start, end] — consecutive windows [a, b), [b, c)
  // count every interval exactly once, the still-open one only after it
  // closes. All variants are read as of one moment. An unknown endpoint gives
  // an empty map; end < start is a Validation error. Never blocks recorders.
  core::Result<std::map<std::string, VariantWindow>> SnapshotWindows(std::string_view endpoint,
                                                                     core::Timestamp start,
                                                                     core::Timestamp end);
  // The same, as the controller's WindowMetrics (core::MetricsSource shape).
  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view endpoint,
                                                                    core::Timestamp start,
                                                                    core::Timestamp end);

  // Totals since start of every (not removed) variant, by endpoint then variant.
  std::vector<VariantTotals> Totals() const;
  // The latest process sample and the utilization derived from it, if any.
  std::optional<ProcessUtilization> LastProcessUtilization() const;

  const RegistryOptions& options() const { return options_; }
  // The interval requests are being counted in now.
  std::int64_t current_interval() const { return current_.load(std::memory_order_relaxed); }
  // The interval holding `t`.
  std::int64_t IntervalOf(core::Timestamp t) const;

 private:
  std::vector<std::shared_ptr<VariantMetrics>> VariantsOf(std::string_view endpoint) const;
  void SampleProcess(core::Timestamp now, std::int64_t interval);
  void TickLoop(std::stop_token stop);

  const core::Clock& clock_;
  const RegistryOptions options_;
  // Own cache line: read by every record, written once per interval.
  alignas(64) std::atomic<std::int64_t> current_{0};

  // Made and not yet destroyed (each VariantMetrics counts itself). Before
  // endpoints_: outlives the recorders the registry still holds at its end.
  alignas(64) std::atomic<std::int64_t> live_recorders_{0};

  mutable std::shared_mutex mu_;
  std::map<std::string, std::map<std::string, std::shared_ptr<VariantMetrics>, std::less<>>,
           std::less<>>
      endpoints_;  // GUARDED_BY(mu_)

  mutable std::mutex sample_mu_;
  std::optional<ProcessSampler> sampler_;               // GUARDED_BY(sample_mu_)
  std::optional<core::Timestamp> last_sample_at_;       // GUARDED_BY(sample_mu_)
  std::optional<ProcessUtilization> last_utilization_;  // GUARDED_BY(sample_mu_)
  std::unique_ptr<internal::UtilizationRing> process_utilization_;

  std::mutex tick_mu_;
  std::condition_variable_any tick_cv_;
  std::jthread ticker_;  // last: stopped and joined first
};

}  // namespace mlcanary::metrics

#endif  // MLCANARY_METRICS_REGISTRY_H_
