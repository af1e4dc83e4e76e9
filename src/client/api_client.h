// ApiClient: the control API (API.md "Control API") from the client's side,
// over HTTP/1.1 with libcurl. Used by the CLI's client verbs and the demo: the
// answers come back typed (read through codec), with the JSON they were read from.
#ifndef MLCANARY_CLIENT_API_CLIENT_H_
#define MLCANARY_CLIENT_API_CLIENT_H_

#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/deployment_request.h"
#include "core/error.h"
#include "core/time.h"
#include "core/types.h"

namespace mlcanary::client {

struct ClientOptions {
  std::string base_url = "http://127.0.0.1:8081";  // MLCANARY_URL
  std::string token;                               // MLCANARY_API_TOKEN
  core::Duration timeout = std::chrono::seconds(60);
};

// A value read from the server's answer, and the JSON it was read from: what
// `--output json` prints unchanged, keys the type does not hold included (a
// deployment's "last_check_error", a list's "deployment_id").
template <typename T>
struct Answer {
  T value;
  boost::json::value json;
};

// GET /v1/deployments?endpoint=E&state=S&since=T&until=T&limit=N&page_token=P;
// what is empty (0, nullopt) is not sent.
struct DeploymentFilter {
  std::string endpoint;
  std::string state;
  std::optional<core::Timestamp> since;  // created at or after (sent as RFC 3339)
  std::optional<core::Timestamp> until;  // created before
  std::size_t limit = 0;                 // one page of at most this many (server: 1..1000)
  std::string page_token;                // the previous page's next_page_token
};

// A `list --since/--until` value: a duration back from `now` ("24h", "90m")
// or an RFC 3339 UTC time. A ValidationError naming `flag` otherwise.
core::Result<core::Timestamp> ParseListTime(std::string_view flag, std::string_view text,
                                            core::Timestamp now);

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

  // The typed calls: the same errors as Call, and an answer that does not read
  // as the type is an Internal error naming the request and the key.
  core::Result<Answer<core::Deployment>> GetDeployment(std::string_view id);
  // One page; its next_page_token (when more follow) is in the answer's json.
  core::Result<Answer<std::vector<Answer<core::Deployment>>>> ListDeployments(
      const DeploymentFilter& filter = {});
  // Every deployment `filter` picks, newest first, at most `max` (0: all):
  // page after page (filter.limit, or 1000, a page), following
  // next_page_token. The json is {"deployments": [...]}, with the
  // next_page_token of the last page read when `max` cut the listing short.
  core::Result<Answer<std::vector<Answer<core::Deployment>>>> ListAllDeployments(
      DeploymentFilter filter, std::size_t max = 0);
  // The events with seq > after (all when 0), oldest first.
  core::Result<Answer<std::vector<Answer<core::DeploymentEvent>>>> ListEvents(
      std::string_view id, std::int64_t after = 0);
  // POST /v1/deployments.
  core::Result<Answer<core::Deployment>> CreateDeployment(const DeploymentRequest& request);
  // POST /v1/deployments/{id}/{action}: complete, cancel, rollback, pause, resume, approve.
  core::Result<Answer<core::Deployment>> Act(std::string_view id, std::string_view action);

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
