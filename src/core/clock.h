// The Clock port, and ManualClock: time that moves only when told to (virtual
// time for the simulator and tests). Rollout code never reads the wall clock.
#ifndef MLCANARY_CORE_CLOCK_H_
#define MLCANARY_CORE_CLOCK_H_

#include "core/time.h"

namespace mlcanary::core {

// Thread safety: implementations must be safe to call from several threads.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
};

// Not thread-safe: one owner advances it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) : now_(start) {}
  Timestamp Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }
  void Set(Timestamp t) { now_ = t; }

 private:
  Timestamp now_;
};

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_CLOCK_H_
