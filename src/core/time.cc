// Duration and timestamp text forms.
#include "core/time.h"

#include <cctype>
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
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                  ms);
  } else {
    std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
  }
  return buf;
}

Result<Timestamp> ParseRfc3339(std::string_view text) {
  const std::string str(text);
  auto fail = [&] { return ValidationError("invalid RFC 3339 timestamp '" + str + "'"); };
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z, digits only where digits belong.
  auto digits = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > text.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!digits(0, 4, y) || text.size() < 20 || text[4] != '-' || !digits(5, 2, mo) ||
      text[7] != '-' || !digits(8, 2, d) || (text[10] != 'T' && text[10] != 't') ||
      !digits(11, 2, h) || text[13] != ':' || !digits(14, 2, mi) || text[16] != ':' ||
      !digits(17, 2, s)) {
    return fail();
  }
  std::size_t pos = 19;
  int ms = 0;
  if (text[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n < 3) ms = ms * 10 + (text[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return fail();
    for (int i = n; i < 3; ++i) ms *= 10;  // ".5" is 500 ms
  }
  if (pos + 1 != text.size() || (text[pos] != 'Z' && text[pos] != 'z')) {
    return ValidationError("timestamp '" + str + "' must be UTC and end in Z");
  }
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                        std::chrono::day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return fail();
  return Timestamp(std::chrono::sys_days(ymd)) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(s) + std::chrono::milliseconds(ms);
}

}  // namespace mlcanary::core
