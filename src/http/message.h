// The HttpServer's request and response values: plain data, no Beast types,
// so handlers and their tests need nothing but this header.
#ifndef MLCANARY_HTTP_MESSAGE_H_
#define MLCANARY_HTTP_MESSAGE_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlcanary::http {

// Orders header names ignoring ASCII case.
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

// Header fields by name, looked up ignoring case. A field sent more than once
// holds its values joined with ", " (RFC 9110 section 5.3).
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

struct Request {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // as sent: "/v1/deployments?state=FAILED"
  std::string path;    // the target's path, percent-decoded: "/v1/deployments"
  // The query's parameters, percent-decoded ('+' is a space); a parameter sent
  // more than once keeps its first value.
  std::map<std::string, std::string, std::less<>> query;
  Headers headers;
  std::string body;

  // The header's value, or empty when it is absent.
  std::string_view Header(std::string_view name) const;
  // The query parameter's value, or nullopt when it is absent.
  std::optional<std::string_view> Query(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // beside Content-Type
  std::string body;
};

// A JSON answer with `body` as is.
Response JsonResponse(int status, std::string body);
// {"error":{"code":"<code>","message":"<message>"}} with `status`.
Response ErrorResponse(int status, std::string_view code, std::string_view message);

// Splits a request target into its percent-decoded path and query parameters.
// False when the target is not origin-form ("/...") or holds a bad %-escape.
bool ParseTarget(std::string_view target, std::string& path,
                 std::map<std::string, std::string, std::less<>>& query);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`); nullopt for a
// malformed escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

}  // namespace mlcanary::http

#endif  // MLCANARY_HTTP_MESSAGE_H_
