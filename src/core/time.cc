// Duration and timestamp text forms.
#include "core/time.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace mlcanary::core {

Result<Duration> ParseDuration(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  if (text.empty()) return ValidationError("empty duration");
  double total_ms = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data() + pos) {
      return ValidationError("invalid duration " + quoted +
                             ": expected a number followed by ms, s, m or h");
    }
    if (!std::isfinite(value) || value < 0) {
      return ValidationError("invalid duration " + quoted + ": must be a finite value >= 0");
    }
    pos = static_cast<std::size_t>(end - text.data());
    std::size_t unit_end = pos;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
      ++unit_end;
    }
    const std::string_view unit = text.substr(pos, unit_end - pos);
    double scale = 0;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else {
      return ValidationError("invalid duration " + quoted +
                             ": unit must be ms, s, m or h (e.g. 500ms, 1s, 10m, 1h)");
    }
    total_ms += value * scale;
    pos = unit_end;
  }
  if (total_ms > 1e15) return ValidationError("invalid duration " + quoted + ": too large");
  return Duration(static_cast<Duration::rep>(std::llround(total_ms)));
}

std::string FormatDuration(Duration d) {
  auto ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  if (ms % 1000 != 0) return out + std::to_string(ms) + "ms";
  auto s = ms / 1000;
  const auto h = s / 3600;
  const auto m = (s % 3600) / 60;
  s %= 60;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s) out += std::to_string(s) + "s";
  return out;
}

std::string FormatRfc3339(Timestamp t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd(days);
  const std::chrono::hh_mm_ss hms(t - days);
  char buf[48];
  const int ms = static_cast<int>(hms.subseconds().count());
  if (ms != 0) {
    std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()), ms);
  } else {
    std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02dZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
  }
  return buf;
}

Result<Timestamp> ParseRfc3339(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  char tail[8] = {0};
  const std::string str(text);
  int n = std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%1s", &y, &mo, &d, &h, &mi, &s,
                      &ms, tail);
  if (n != 8) {
    ms = 0;
    n = std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%1s", &y, &mo, &d, &h, &mi, &s, tail);
    if (n != 7) return ValidationError("invalid RFC 3339 timestamp '" + str + "'");
  }
  if (tail[0] != 'Z') return ValidationError("timestamp '" + str + "' must be UTC (end in Z)");
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                        std::chrono::day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) {
    return ValidationError("invalid RFC 3339 timestamp '" + str + "'");
  }
  return Timestamp(std::chrono::sys_days(ymd)) + std::chrono::hours(h) +
         std::chrono::minutes(mi) + std::chrono::seconds(s) + std::chrono::milliseconds(ms);
}

}  // namespace mlcanary::core
