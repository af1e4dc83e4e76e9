// SystemClock: the wall clock (UTC, millisecond resolution) behind the
// core::Clock port. Only apps/ and adapters create one; rollout code gets a
// Clock passed in.
#ifndef MLCANARY_CORE_SYSTEM_CLOCK_H_
#define MLCANARY_CORE_SYSTEM_CLOCK_H_

#include <chrono>

#include "core/clock.h"

namespace mlcanary::core {

class SystemClock final : public core::Clock {
 public:
  core::Timestamp Now() const override {
    return std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now());
  }
};

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_SYSTEM_CLOCK_H_
