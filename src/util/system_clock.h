// Transitional: SystemClock lives in core/system_clock.h. This forwarder only
// keeps util::SystemClock for the two files other branches of issue 17 rewrite
// in parallel (notify/webhook_notifier.cc, apps/mlcanary/service.cc); delete it
// once they name core::SystemClock.
#ifndef MLCANARY_UTIL_SYSTEM_CLOCK_H_
#define MLCANARY_UTIL_SYSTEM_CLOCK_H_

#include "core/system_clock.h"

namespace mlcanary::util {

using core::SystemClock;

}  // namespace mlcanary::util

#endif  // MLCANARY_UTIL_SYSTEM_CLOCK_H_
