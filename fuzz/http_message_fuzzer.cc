// The control server's request reading (http/message.h): Beast's parser with
// the server's limits, then what HttpServer does with a parsed message (headers
// joined into http::Request::headers, ParseTarget).
//
// Input: byte 0 even: the rest is a request target for ParseTarget alone; odd:
// the rest is an HTTP request. Invariants:
//  - a target ParseTarget accepts has a path that starts with '/', and the path
//    and query written out again with every reserved byte %-escaped parse back
//    to the same path and query; PercentDecode undoes that escaping;
//  - header lookups ignore case: Header(NAME) == Header(name) for every field;
//  - the body stays within the server's body limit.
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/internal/beast_request.h"
#include "http/message.h"

namespace {

namespace bhttp = boost::beast::http;
using Query = std::map<std::string, std::string, std::less<>>;

constexpr std::size_t kHeaderLimit = 16 * 1024;  // ServerOptions' defaults, smaller body
constexpr std::size_t kBodyLimit = 4096;

bool Unreserved(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string Escape(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (Unreserved(u) || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out += {'%', kHex[u >> 4], kHex[u & 15]};
    }
  }
  return out;
}

void CheckTarget(std::string_view target) {
  std::string path;
  Query query;
  if (!mlcanary::http::ParseTarget(target, path, query)) return;
  FUZZ_CHECK(!path.empty() && path.front() == '/', "path '%s'", path.c_str());
  FUZZ_CHECK(mlcanary::http::PercentDecode(Escape(path, false), false) == path,
             "PercentDecode(escaped) differs");

  std::string again = Escape(path, true);
  char sep = '?';
  for (const auto& [key, value] : query) {
    again += sep + Escape(key, false) + "=" + Escape(value, false);
    sep = '&';
  }
  std::string path2;
  Query query2;
  FUZZ_CHECK(mlcanary::http::ParseTarget(again, path2, query2), "written out again: %s",
             again.c_str());
  FUZZ_CHECK(path2 == path, "path differs after writing out again: %s", again.c_str());
  FUZZ_CHECK(query2 == query, "query differs after writing out again: %s", again.c_str());
}

char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

void CheckRequest(std::string_view bytes) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (!parser.is_done() && used < bytes.size()) {
    const std::size_t n =
        parser.put(boost::asio::const_buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == bhttp::error::need_more) {
      // Beast wants more than there is: the stream ends here.
      if (n == 0) break;
      ec = {};
    }
    if (ec) return;
    used += n;
    if (n == 0) break;
  }
  if (!parser.is_done()) return;

  // What HttpServer's session does with the message.
  auto& message = parser.get();
  mlcanary::http::Request request = mlcanary::http::internal::FromBeast(message);
  FUZZ_CHECK(request.body.size() <= kBodyLimit, "body of %zu bytes", request.body.size());
  for (const auto& [name, value] : request.headers) {
    std::string upper = name, lower = name;
    for (char& c : upper) c = Upper(c);
    for (char& c : lower) c = Lower(c);
    FUZZ_CHECK(request.Header(upper) == value && request.Header(lower) == value,
               "header lookup by case: %s", name.c_str());
  }
  CheckTarget(request.target);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    CheckTarget(rest);
  } else {
    CheckRequest(rest);
  }
  return 0;
}
