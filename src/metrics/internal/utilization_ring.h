// UtilizationRing: CPU and memory utilization samples kept per interval, in a
// ring, so a window can be averaged. Written a few times a second at most.
#ifndef MLCANARY_METRICS_INTERNAL_UTILIZATION_RING_H_
#define MLCANARY_METRICS_INTERNAL_UTILIZATION_RING_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace mlcanary::metrics::internal {

struct UtilizationAverage {
  std::optional<double> cpu_percent;
  std::optional<double> memory_percent;
};

// Thread-safe (one mutex; never on the request path).
class UtilizationRing {
 public:
  explicit UtilizationRing(int slots) : slots_(static_cast<std::size_t>(slots)) {}

  // Adds one sample to `interval`. Absent, NaN or negative values are skipped.
  void Add(std::int64_t interval, std::optional<double> cpu, std::optional<double> memory) {
    std::lock_guard lock(mu_);
    Slot& slot = slots_[Index(interval)];
    if (slot.interval != interval) {
      if (slot.interval > interval) return;  // older than the ring keeps
      slot = Slot{.interval = interval};
    }
    if (Usable(cpu)) {
      slot.cpu_sum += *cpu;
      ++slot.cpu_n;
      last_cpu_ = cpu;
    }
    if (Usable(memory)) {
      slot.memory_sum += *memory;
      ++slot.memory_n;
      last_memory_ = memory;
    }
  }

  // Mean of the samples of intervals [first, last]; absent where none.
  UtilizationAverage Average(std::int64_t first, std::int64_t last) const {
    std::lock_guard lock(mu_);
    double cpu_sum = 0, memory_sum = 0;
    std::int64_t cpu_n = 0, memory_n = 0;
    const auto n = static_cast<std::int64_t>(slots_.size());
    for (std::int64_t i = std::max(first, last - n + 1); i <= last; ++i) {
      const Slot& slot = slots_[Index(i)];
      if (slot.interval != i) continue;
      cpu_sum += slot.cpu_sum;
      cpu_n += slot.cpu_n;
      memory_sum += slot.memory_sum;
      memory_n += slot.memory_n;
    }
    UtilizationAverage out;
    if (cpu_n > 0) out.cpu_percent = cpu_sum / static_cast<double>(cpu_n);
    if (memory_n > 0) out.memory_percent = memory_sum / static_cast<double>(memory_n);
    return out;
  }

  // The most recent samples.
  UtilizationAverage Last() const {
    std::lock_guard lock(mu_);
    return {last_cpu_, last_memory_};
  }

 private:
  struct Slot {
    std::int64_t interval = INT64_MIN;
    double cpu_sum = 0;
    std::int64_t cpu_n = 0;
    double memory_sum = 0;
    std::int64_t memory_n = 0;
  };

  static bool Usable(std::optional<double> v) { return v && std::isfinite(*v) && *v >= 0; }
  std::size_t Index(std::int64_t interval) const {
    const auto n = static_cast<std::int64_t>(slots_.size());
    return static_cast<std::size_t>(((interval % n) + n) % n);
  }

  mutable std::mutex mu_;
  std::vector<Slot> slots_;            // GUARDED_BY(mu_)
  std::optional<double> last_cpu_;     // GUARDED_BY(mu_)
  std::optional<double> last_memory_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::metrics::internal

#endif  // MLCANARY_METRICS_INTERNAL_UTILIZATION_RING_H_
