// CPU and memory use of a process, read from /proc behind a small interface
// (tests feed their own), and the sampler that turns two reads into
// utilization percentages.
#ifndef MLCANARY_METRICS_PROCESS_STATS_H_
#define MLCANARY_METRICS_PROCESS_STATS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/time.h"

namespace mlcanary::metrics {

// One reading of a process.
struct ProcessStats {
  double cpu_seconds = 0;               // user + system CPU time used so far
  std::int64_t resident_bytes = 0;      // resident set size
  std::int64_t memory_total_bytes = 0;  // the machine's memory (0: unknown)
  bool operator==(const ProcessStats&) const = default;
};

// Reads a process's stats. Implementations need not be thread-safe.
class ProcessStatsReader {
 public:
  virtual ~ProcessStatsReader() = default;
  virtual core::Result<ProcessStats> Read() = 0;
};

// Reads <proc_root>/<pid>/stat and <proc_root>/meminfo. Tests point proc_root
// at a directory of their own; ticks_per_second and page_size default (0) to
// sysconf's.
class ProcfsStatsReader final : public ProcessStatsReader {
 public:
  explicit ProcfsStatsReader(std::string proc_root = "/proc", std::string pid = "self",
                             long ticks_per_second = 0, long page_size = 0);
  core::Result<ProcessStats> Read() override;

 private:
  std::string proc_root_;
  std::string pid_;
  long ticks_per_second_;
  long page_size_;
};

struct ProcessUtilization {
  ProcessStats stats;
  std::optional<double> cpu_percent;     // since the previous sample; 100 = one core
  std::optional<double> memory_percent;  // resident / machine memory
};

// Turns successive reads into utilization. The first sample has no CPU
// figure (it needs a previous one). Not thread-safe.
class ProcessSampler {
 public:
  explicit ProcessSampler(ProcessStatsReader& reader) : reader_(reader) {}
  core::Result<ProcessUtilization> Sample(core::Timestamp now);

 private:
  ProcessStatsReader& reader_;
  std::optional<core::Timestamp> previous_at_;
  double previous_cpu_seconds_ = 0;
};

}  // namespace mlcanary::metrics

#endif  // MLCANARY_METRICS_PROCESS_STATS_H_
