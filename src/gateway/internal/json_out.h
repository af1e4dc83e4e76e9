// Appending JSON strings and numbers to a response body: numbers in their
// shortest round-trip form (0.1, never 1E-1), floats as floats (0.42, not
// 0.41999998688697815).
#ifndef MLCANARY_GATEWAY_INTERNAL_JSON_OUT_H_
#define MLCANARY_GATEWAY_INTERNAL_JSON_OUT_H_

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

namespace mlcanary::gateway::internal {

inline void AppendJsonString(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

// Non-finite values (which JSON cannot carry) are written as null.
template <typename Float>
void AppendJsonNumber(std::string& out, Float value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

}  // namespace mlcanary::gateway::internal

#endif  // MLCANARY_GATEWAY_INTERNAL_JSON_OUT_H_
