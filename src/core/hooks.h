// The HookCaller port (issue 15): the controller calls the policy's hooks
// through it. The adapter (hooks/HttpHookCaller) makes the HTTP calls and
// reads an analysis hook's verdict; core holds only the values.
#ifndef MLCANARY_CORE_HOOKS_H_
#define MLCANARY_CORE_HOOKS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/health.h"
#include "core/policy.h"
#include "core/time.h"
#include "core/types.h"

namespace mlcanary::core {

// The name of the analysis hooks in requests and events ("analysis").
inline constexpr std::string_view kAnalysisHookName = "analysis";

// One call: the hook ("confirm_step", ..., or "analysis"), where and how to
// call it, and what the body carries (the deployment as the API serves it,
// its last check).
struct HookRequest {
  std::string hook;
  HookSpec spec;
  Deployment deployment;
  std::optional<HealthReport> last_check;
};

// What came back. Never an exception: a call that got no answer has status 0
// and `error` says why.
struct HookResponse {
  int status = 0;     // the HTTP status of the last attempt; 0: no answer
  std::string body;   // the answer's body (at most a few KiB kept)
  std::string error;  // transport error, or for analysis a body that is no verdict
  Duration elapsed = Duration(0);
  int attempts = 0;
  // Analysis hooks: the verdict the body gave (status 2xx and a valid body).
  std::optional<AnalysisVerdict> verdict;
  std::string verdict_reason;

  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

// Calls of one hook of one endpoint that ended one way, for /metrics.
// outcome: "ok", "refused" (a non-2xx answer), "unreachable" (no answer), or
// for analysis hooks the verdict ("healthy", "breached", "inconclusive") or
// "invalid_answer" (2xx, but no verdict in the body).
struct HookCallCount {
  std::string endpoint;
  std::string hook;
  std::string outcome;
  std::uint64_t calls = 0;
  double seconds = 0;  // their time in all, retries and backoff included
};

// The outcome a response counts under (see HookCallCount).
inline std::string HookOutcome(std::string_view hook, const HookResponse& r) {
  if (r.status == 0) return "unreachable";
  if (r.status < 200 || r.status >= 300) return "refused";
  if (hook != kAnalysisHookName) return r.ok() ? "ok" : "refused";
  if (!r.verdict) return "invalid_answer";
  return std::string(AnalysisVerdictName(*r.verdict));
}

class HookCaller {
 public:
  virtual ~HookCaller() = default;
  virtual HookResponse Call(const HookRequest& request) = 0;
};

// A URL as recorded in events: without user:password@ and without the query
// (where tokens live). "https://u:p@h/x?token=1" -> "https://h/x".
inline std::string RedactHookUrl(std::string_view url) {
  std::string_view scheme;
  if (const auto sep = url.find("://"); sep != std::string_view::npos) {
    scheme = url.substr(0, sep + 3);
    url.remove_prefix(sep + 3);
  }
  const auto path = url.find_first_of("/?#");
  const std::string_view authority = url.substr(0, path);
  std::string_view rest = path == std::string_view::npos ? std::string_view() : url.substr(path);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    url = url.substr(at + 1);
  }
  const auto host_end = url.find_first_of("/?#");
  const std::string_view host = url.substr(0, host_end);
  if (const auto q = rest.find_first_of("?#"); q != std::string_view::npos)
    rest = rest.substr(0, q);
  return std::string(scheme) + std::string(host) + std::string(rest);
}

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_HOOKS_H_
