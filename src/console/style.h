// Style: the colours and weights of terminal text, or none (not a terminal,
// NO_COLOR); and the small text pieces every view uses (bars, percentages).
#ifndef MLCANARY_CONSOLE_STYLE_H_
#define MLCANARY_CONSOLE_STYLE_H_

#include <cstdio>
#include <string>
#include <string_view>

namespace mlcanary::console {

class Style {
 public:
  explicit Style(bool enabled) : enabled_(enabled) {}
  // Enabled when stdout is a terminal and NO_COLOR is unset.
  static Style ForStdout();

  bool enabled() const { return enabled_; }
  // `text` in SGR `code` ("1" bold, "31" red, ...) and reset; as is when disabled.
  std::string Paint(std::string_view code, std::string_view text) const;
  std::string Bold(std::string_view s) const { return Paint("1", s); }
  std::string Dim(std::string_view s) const { return Paint("2", s); }
  std::string Green(std::string_view s) const { return Paint("32", s); }
  std::string Red(std::string_view s) const { return Paint("31", s); }
  std::string Yellow(std::string_view s) const { return Paint("33", s); }
  std::string Cyan(std::string_view s) const { return Paint("36", s); }

 private:
  bool enabled_;
};

// printf into a string.
template <typename... Args>
std::string Format(const char* format, Args... args) {
  const int size = std::snprintf(nullptr, 0, format, args...);
  if (size <= 0) return {};
  std::string out(static_cast<std::size_t>(size), '\0');
  std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

// A weight in [0, 1] as 20 cells: "██████··············" for 0.3.
std::string Bar(double weight);
// 0.3 -> "30%".
std::string Percent(double weight);
// 2.25 -> "2.2s" (one decimal).
std::string Seconds(double seconds);

}  // namespace mlcanary::console

#endif  // MLCANARY_CONSOLE_STYLE_H_
