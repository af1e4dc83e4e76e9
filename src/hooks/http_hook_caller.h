// HttpHookCaller: the core::HookCaller port over libcurl (issue 15). POSTs
// codec::HookBodyJson to the hook's URL with the hook's timeout per attempt,
// retries a connection error, a timeout or a 5xx answer (hook.retries more
// attempts, with backoff), and reads an analysis hook's verdict
// (codec::ParseAnalysisAnswer). Never throws: what went wrong is in the
// response's `error`.
#ifndef MLCANARY_HOOKS_HTTP_HOOK_CALLER_H_
#define MLCANARY_HOOKS_HTTP_HOOK_CALLER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/hooks.h"

namespace mlcanary::hooks {

struct HttpHookCallerOptions {
  // The wait before the second attempt; doubled for each further one, at most `retry_cap`.
  core::Duration retry_base = std::chrono::milliseconds(200);
  core::Duration retry_cap = std::chrono::seconds(2);
  // Waits between attempts; empty: std::this_thread::sleep_for.
  std::function<void(core::Duration)> sleep;
};

// The most of an answer's body kept (and read for a verdict).
inline constexpr std::size_t kMaxHookAnswerBytes = 64 * 1024;

class HttpHookCaller final : public core::HookCaller {
 public:
  // Fails only when libcurl cannot be initialised.
  static core::Result<std::unique_ptr<HttpHookCaller>> Create(HttpHookCallerOptions options = {});

  // Thread-safe: each call has its own connection.
  core::HookResponse Call(const core::HookRequest& request) override;

  // Every call so far, counted by endpoint, hook and outcome (core::HookOutcome),
  // sorted by the three. Thread-safe.
  std::vector<core::HookCallCount> Counts() const;

 private:
  explicit HttpHookCaller(HttpHookCallerOptions options) : options_(std::move(options)) {}
  void Count(const core::HookRequest& request, const core::HookResponse& response, double seconds);

  using Key = std::tuple<std::string, std::string, std::string>;  // endpoint, hook, outcome
  struct Tally {
    std::uint64_t calls = 0;
    double seconds = 0;
  };
  HttpHookCallerOptions options_;
  mutable std::mutex mu_;
  std::map<Key, Tally> counts_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::hooks

#endif  // MLCANARY_HOOKS_HTTP_HOOK_CALLER_H_
