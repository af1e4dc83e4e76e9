// Terminal styles and the small text pieces.
#include "console/style.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>

namespace mlcanary::console {

Style Style::ForStdout() {
  return Style(::isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr);
}

std::string Style::Paint(std::string_view code, std::string_view text) const {
  if (!enabled_) return std::string(text);
  return "\033[" + std::string(code) + "m" + std::string(text) + "\033[0m";
}

std::string Bar(double weight) {
  std::string out;
  const int filled = static_cast<int>(std::lround(weight * 20));
  for (int i = 0; i < 20; ++i) out += i < filled ? "\u2588" : "\u00b7";
  return out;
}

std::string Percent(double weight) { return Format("%.0f%%", weight * 100); }

std::string Seconds(double seconds) { return Format("%.1fs", seconds); }

}  // namespace mlcanary::console
