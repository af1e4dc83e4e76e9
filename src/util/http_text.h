// Text rules of HTTP/1.1 (RFC 9110/9112) shared by the gateway's request
// parser and the model HTTP backend's response parser: token characters,
// control characters, field lines, case-insensitive names, lists, hex digits.
// Header-only and allocation-free: both parsers run on every request.
#ifndef MLCANARY_UTIL_HTTP_TEXT_H_
#define MLCANARY_UTIL_HTTP_TEXT_H_

#include <array>
#include <cstddef>
#include <string_view>

namespace mlcanary::util::http {

inline constexpr std::string_view kCrlf = "\r\n";

// RFC 9110 tchar, as a table: heads are checked byte by byte.
inline constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = table[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

constexpr bool IsTokenChar(unsigned char c) { return kTokenChar[c]; }

constexpr char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }

// Whether `s` holds a control character other than HTAB (a bare CR or LF
// included). Without an early exit, so that it vectorizes.
inline bool HasControlChar(std::string_view s) {
  bool bad = false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    bad |= (u < 0x20 && u != '\t') || u == 0x7f;
  }
  return bad;
}

// Whether `fields` (CRLF-separated lines, without the final CRLF) are field
// lines: a token, a colon, a value without control characters.
inline bool AreFieldLines(std::string_view fields) {
  std::size_t pos = 0;
  while (pos <= fields.size()) {
    auto eol = fields.find(kCrlf, pos);
    if (eol == std::string_view::npos) eol = fields.size();
    const std::string_view line = fields.substr(pos, eol - pos);
    pos = eol + 2;
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (char c : line.substr(0, colon)) {
      if (!IsTokenChar(static_cast<unsigned char>(c))) return false;
    }
    if (HasControlChar(line.substr(colon + 1))) return false;
  }
  return true;
}

// Case-insensitive equality; `lower` must be lower case.
constexpr bool IEquals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != lower[i]) return false;
  }
  return true;
}

// Without leading and trailing optional whitespace (SP, HTAB).
constexpr std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each element of a comma-separated list, trimmed,
// skipping empty elements.
template <typename Fn>
void ForEachListElement(std::string_view list, Fn&& fn) {
  while (true) {
    const auto comma = list.find(',');
    if (auto element = TrimOws(list.substr(0, comma)); !element.empty()) fn(element);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// The value of a hex digit, or -1.
constexpr int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char l = Lower(c);
  return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

}  // namespace mlcanary::util::http

#endif  // MLCANARY_UTIL_HTTP_TEXT_H_
