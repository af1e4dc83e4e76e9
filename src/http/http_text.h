// Text rules of HTTP/1.1 (RFC 9110/9112) shared by the gateway's request
// parser and the model HTTP backend's response parser: token characters,
// control characters, field lines, case-insensitive names, lists, the framing
// fields (Content-Length, Transfer-Encoding, Connection), hex digits.
// Header-only and allocation-free: both parsers run on every request.
#ifndef MLCANARY_HTTP_HTTP_TEXT_H_
#define MLCANARY_HTTP_HTTP_TEXT_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace mlcanary::http {

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

// One field line ("name: value", without its CRLF) split into its name and
// its OWS-trimmed value.
enum class FieldLineStatus { kOk, kNoName, kBadName, kBadValue };
inline FieldLineStatus SplitFieldLine(std::string_view line, std::string_view& name,
                                      std::string_view& value) {
  const auto colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return FieldLineStatus::kNoName;
  name = line.substr(0, colon);
  for (char c : name) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) return FieldLineStatus::kBadName;
  }
  value = TrimOws(line.substr(colon + 1));
  return HasControlChar(value) ? FieldLineStatus::kBadValue : FieldLineStatus::kOk;
}

// What a head's framing fields (RFC 9112 6: Content-Length, Transfer-Encoding,
// Connection) say, field by field.
struct FramingFields {
  bool has_length = false;
  std::size_t length = 0;
  bool chunked = false;
  bool close = false;       // Connection: close
  bool keep_alive = false;  // Connection: keep-alive
};
enum class FramingStatus {
  kOk,
  kEmptyLength,         // Content-Length:
  kLengthNotNumber,     // Content-Length: 12a
  kLengthTooLarge,      // more than size_t holds
  kConflictingLengths,  // two Content-Length fields that differ
  kOtherCoding,         // a transfer coding other than chunked
  kChunkedTwice,        // chunked applied more than once
};

// If `name` is a framing field, adds what `value` says to `f`; kOk for any
// other field (the caller reads those).
inline FramingStatus AddFramingField(std::string_view name, std::string_view value,
                                     FramingFields& f) {
  const char first = Lower(name.empty() ? '\0' : name[0]);
  if (first == 'c' && IEquals(name, "content-length")) {
    if (value.empty()) return FramingStatus::kEmptyLength;
    std::size_t length = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return FramingStatus::kLengthNotNumber;
      if (length > (std::numeric_limits<std::size_t>::max() - 9) / 10) {
        return FramingStatus::kLengthTooLarge;
      }
      length = length * 10 + static_cast<std::size_t>(c - '0');
    }
    if (f.has_length && length != f.length) return FramingStatus::kConflictingLengths;
    f.has_length = true;
    f.length = length;
  } else if (first == 'c' && IEquals(name, "connection")) {
    ForEachListElement(value, [&](std::string_view option) {
      f.close = f.close || IEquals(option, "close");
      f.keep_alive = f.keep_alive || IEquals(option, "keep-alive");
    });
  } else if (first == 't' && IEquals(name, "transfer-encoding")) {
    bool other = false;
    int codings = 0;
    ForEachListElement(value, [&](std::string_view coding) {
      ++codings;
      other = other || !IEquals(coding, "chunked");
    });
    if (other) return FramingStatus::kOtherCoding;
    if (codings != 1 || f.chunked) return FramingStatus::kChunkedTwice;
    f.chunked = true;
  }
  return FramingStatus::kOk;
}

// The value of a hex digit, or -1.
constexpr int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  const char l = Lower(c);
  return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

// Chunked transfer coding (RFC 9112 §7.1), decoded incrementally: each call
// reads from data[pos] as far as the bytes go, appends chunk data to body and
// moves pos past each whole chunk. Trailer fields are checked and ignored.
enum class ChunkedStatus {
  kNeedMore,         // call again with more bytes
  kComplete,         // *consumed: the bytes of data the message takes
  kLineTooLong,      // a chunk-size line longer than line_limit
  kBadSize,          // no hex digits, or something other than an extension after them
  kBadExtension,     // a control character in a chunk extension
  kTooLarge,         // the body would exceed body_limit
  kBadChunkEnd,      // chunk data not followed by CRLF
  kTrailerTooLarge,  // trailer fields longer than trailer_limit
  kBadTrailer,       // a trailer line that is not a field line
};

struct ChunkedLimits {
  std::size_t line = 0;     // a chunk-size line with its extensions
  std::size_t body = 0;     // the decoded body
  std::size_t trailer = 0;  // the trailer fields
};

inline ChunkedStatus DecodeChunked(std::string_view data, std::size_t& pos, std::string& body,
                                   const ChunkedLimits& limits, std::size_t* consumed) {
  while (true) {
    const std::string_view rest = data.substr(pos);
    const auto eol = rest.find(kCrlf);
    if (eol == std::string_view::npos || eol > limits.line) {
      return std::min(rest.size(), eol) > limits.line ? ChunkedStatus::kLineTooLong
                                                      : ChunkedStatus::kNeedMore;
    }
    const std::string_view line = rest.substr(0, eol);
    std::size_t size = 0;
    std::size_t digits = 0;
    for (; digits < line.size() && HexDigit(line[digits]) >= 0; ++digits) {
      if (size > (std::numeric_limits<std::size_t>::max() >> 4)) return ChunkedStatus::kTooLarge;
      size = size * 16 + static_cast<std::size_t>(HexDigit(line[digits]));
    }
    if (digits == 0) return ChunkedStatus::kBadSize;
    const std::string_view extension = TrimOws(line.substr(digits));
    if (!extension.empty() && extension.front() != ';') return ChunkedStatus::kBadSize;
    if (HasControlChar(extension)) return ChunkedStatus::kBadExtension;
    if (size == 0) {
      // The last chunk, then trailer fields up to an empty line.
      const std::string_view trailers = rest.substr(eol + 2);
      std::size_t end = 0;
      if (trailers.starts_with(kCrlf)) {
        end = 2;
      } else if (const auto blank = trailers.find("\r\n\r\n"); blank != std::string_view::npos) {
        // The same limit whether the trailer arrived whole or in pieces.
        if (blank + 4 > limits.trailer) return ChunkedStatus::kTrailerTooLarge;
        if (!AreFieldLines(trailers.substr(0, blank))) return ChunkedStatus::kBadTrailer;
        end = blank + 4;
      } else {
        return trailers.size() > limits.trailer ? ChunkedStatus::kTrailerTooLarge
                                                : ChunkedStatus::kNeedMore;
      }
      *consumed = pos + eol + 2 + end;
      return ChunkedStatus::kComplete;
    }
    if (size > limits.body || body.size() > limits.body - size) return ChunkedStatus::kTooLarge;
    const std::size_t begin = eol + 2;
    if (rest.size() < begin + size + 2) return ChunkedStatus::kNeedMore;
    if (rest.substr(begin + size, 2) != kCrlf) return ChunkedStatus::kBadChunkEnd;
    body.append(rest.substr(begin, size));
    pos += begin + size + 2;
  }
}

}  // namespace mlcanary::http

#endif  // MLCANARY_HTTP_HTTP_TEXT_H_
