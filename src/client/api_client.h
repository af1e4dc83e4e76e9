// ApiClient: the control API (API.md "Control API") from the client's side,
// over HTTP/1.1 with libcurl. Used by the CLI's client verbs.
#ifndef MLCANARY_CLIENT_API_CLIENT_H_
#define MLCANARY_CLIENT_API_CLIENT_H_

#include <boost/json/value.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"

namespace mlcanary::client {

struct ClientOptions {
  std::string base_url = "http://127.0.0.1:8081";  // MLCANARY_URL
  std::string token;                               // MLCANARY_API_TOKEN
  core::Duration timeout = std::chrono::seconds(60);
};

// Not thread-safe: one per thread (it keeps one connection alive).
class ApiClient {
 public:
  explicit ApiClient(ClientOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Sends the request and returns the JSON answer of a 2xx response. `path` is
  // sent as given: its segments and query values must be PercentEncode'd. Errors:
  // the server's own {"error": {code, message}} mapped to the error kinds
  // (400 Validation, 401 Unauthenticated, 403 PermissionDenied, 404 NotFound,
  // 409 FailedPrecondition, 5xx Unavailable/Internal); an unreachable server
  // is Unavailable naming the URL.
  core::Result<boost::json::value> Call(std::string_view method, std::string_view path,
                                        std::string_view body = {});

  const ClientOptions& options() const { return options_; }

 private:
  struct Impl;
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes `text` as one path segment or one query value (RFC 3986):
// every byte but the unreserved A-Z a-z 0-9 - . _ ~ becomes %XX, so a value
// such as "' OR 1=1 --" or "a/b?c" reaches the server as itself, one value.
std::string PercentEncode(std::string_view text);

// Options from MLCANARY_URL and MLCANARY_API_TOKEN (defaults when unset).
ClientOptions OptionsFromEnvironment();

}  // namespace mlcanary::client

#endif  // MLCANARY_CLIENT_API_CLIENT_H_
