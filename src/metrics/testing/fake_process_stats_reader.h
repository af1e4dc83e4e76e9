// FakeProcessStatsReader: a ProcessStatsReader that returns what the test
// sets, or an error.
#ifndef MLCANARY_METRICS_TESTING_FAKE_PROCESS_STATS_READER_H_
#define MLCANARY_METRICS_TESTING_FAKE_PROCESS_STATS_READER_H_

#include "metrics/process_stats.h"

namespace mlcanary::metrics::testing {

// Not thread-safe: set values between reads from the same thread.
class FakeProcessStatsReader final : public ProcessStatsReader {
 public:
  core::Result<ProcessStats> Read() override {
    ++reads;
    if (fail) return core::MakeError(core::ErrorCode::kUnavailable, "fake read failure");
    return stats;
  }

  ProcessStats stats;
  bool fail = false;
  int reads = 0;
};

}  // namespace mlcanary::metrics::testing

#endif  // MLCANARY_METRICS_TESTING_FAKE_PROCESS_STATS_READER_H_
