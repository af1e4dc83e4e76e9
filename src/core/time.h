// Time as the domain sees it: millisecond durations and UTC timestamps, with
// parsing and formatting of durations ("500ms", "10m", "1h30m") and RFC 3339.
#ifndef MLCANARY_CORE_TIME_H_
#define MLCANARY_CORE_TIME_H_

#include <chrono>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mlcanary::core {

using Duration = std::chrono::milliseconds;
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// Parses a duration: one or more <number><unit> groups, unit one of ms, s, m, h
// ("500ms", "1s", "10m", "1h30m", "1.5s"). Negative values are refused.
Result<Duration> ParseDuration(std::string_view text);

// Shortest exact form: "0s", "500ms", "10m", "1h30m", "1m0.5s" is written "90500ms".
std::string FormatDuration(Duration d);

// "2026-11-28T17:39:58Z" (milliseconds shown only when not zero: ".250Z").
std::string FormatRfc3339(Timestamp t);
Result<Timestamp> ParseRfc3339(std::string_view text);

// Minutes as a double, for reports.
inline double ToMinutes(Duration d) { return static_cast<double>(d.count()) / 60000.0; }

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_TIME_H_
