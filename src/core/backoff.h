// Exponential backoff with full jitter (the AWS Architecture Blog's "full
// jitter"): the delay before retry `attempt` (1, 2, ...) is uniform in
// [0, min(cap, base * 2^(attempt-1))]. Randomness is passed in.
#ifndef MLCANARY_CORE_BACKOFF_H_
#define MLCANARY_CORE_BACKOFF_H_

#include <algorithm>
#include <cstdint>

#include "core/time.h"

namespace mlcanary::core {

constexpr Duration BackoffDelay(int attempt, Duration base, Duration cap,
                                std::uint64_t random_bits) {
  if (attempt < 1 || base.count() <= 0 || cap.count() <= 0) return Duration(0);
  Duration ceiling = base;
  for (int i = 1; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  const auto span = static_cast<std::uint64_t>(ceiling.count()) + 1;
  return Duration(static_cast<Duration::rep>(random_bits % span));
}

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_BACKOFF_H_
