// ProcfsStatsReader (parsing /proc/<pid>/stat and /proc/meminfo) and
// ProcessSampler.
#include "metrics/process_stats.h"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace mlcanary::metrics {
namespace {

core::Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::MakeError(core::ErrorCode::kUnavailable, "cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

template <typename T>
bool ParseNumber(std::string_view s, T& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\n' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

ProcfsStatsReader::ProcfsStatsReader(std::string proc_root, std::string pid, long ticks_per_second,
                                     long page_size)
    : proc_root_(std::move(proc_root)),
      pid_(std::move(pid)),
      ticks_per_second_(ticks_per_second > 0 ? ticks_per_second : sysconf(_SC_CLK_TCK)),
      page_size_(page_size > 0 ? page_size : sysconf(_SC_PAGESIZE)) {}

core::Result<ProcessStats> ProcfsStatsReader::Read() {
  const std::string stat_path = proc_root_ + "/" + pid_ + "/stat";
  auto stat = ReadFile(stat_path);
  if (!stat) return std::unexpected(stat.error());
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the
  // fields start after the last ')'. Field 3 (state) is then token 0.
  const std::size_t close = stat->rfind(')');
  if (close == std::string::npos) return core::InternalError("malformed " + stat_path);
  const std::vector<std::string_view> fields =
      SplitSpaces(std::string_view(*stat).substr(close + 1));
  constexpr std::size_t kUtime = 14 - 3, kStime = 15 - 3, kRss = 24 - 3;
  std::uint64_t utime = 0, stime = 0;
  std::int64_t rss_pages = 0;
  if (fields.size() <= kRss || !ParseNumber(fields[kUtime], utime) ||
      !ParseNumber(fields[kStime], stime) || !ParseNumber(fields[kRss], rss_pages)) {
    return core::InternalError("malformed " + stat_path);
  }
  ProcessStats out;
  out.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks_per_second_);
  out.resident_bytes = rss_pages * page_size_;

  auto meminfo = ReadFile(proc_root_ + "/meminfo");
  if (!meminfo) return std::unexpected(meminfo.error());
  std::istringstream lines(*meminfo);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("MemTotal:")) continue;
    const std::vector<std::string_view> parts = SplitSpaces(std::string_view(line).substr(9));
    std::int64_t kib = 0;
    if (parts.empty() || !ParseNumber(parts[0], kib)) {
      return core::InternalError("malformed MemTotal in " + proc_root_ + "/meminfo");
    }
    out.memory_total_bytes = kib * 1024;
    break;
  }
  return out;
}

core::Result<ProcessUtilization> ProcessSampler::Sample(core::Timestamp now) {
  auto stats = reader_.Read();
  if (!stats) return std::unexpected(stats.error());
  ProcessUtilization out;
  out.stats = *stats;
  if (stats->memory_total_bytes > 0) {
    out.memory_percent = 100.0 * static_cast<double>(stats->resident_bytes) /
                         static_cast<double>(stats->memory_total_bytes);
  }
  if (previous_at_ && now > *previous_at_ && stats->cpu_seconds >= previous_cpu_seconds_) {
    const double wall = std::chrono::duration<double>(now - *previous_at_).count();
    out.cpu_percent = 100.0 * (stats->cpu_seconds - previous_cpu_seconds_) / wall;
  }
  previous_at_ = now;
  previous_cpu_seconds_ = stats->cpu_seconds;
  return out;
}

}  // namespace mlcanary::metrics
