// A HookCaller for tests: scripted answers per hook name, every call recorded.
#ifndef MLCANARY_CORE_TESTING_FAKE_HOOK_CALLER_H_
#define MLCANARY_CORE_TESTING_FAKE_HOOK_CALLER_H_

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/hooks.h"

namespace mlcanary::core::testing {

class FakeHookCaller : public HookCaller {
 public:
  // The answer to the hook `hook` ("confirm_step", "analysis") from now on.
  void Answer(const std::string& hook, HookResponse response) {
    std::lock_guard lock(mu_);
    answers_[hook] = {std::move(response)};
  }
  // A status (and, for analysis, a verdict) from now on.
  void AnswerStatus(const std::string& hook, int status) {
    HookResponse r;
    r.status = status;
    r.attempts = 1;
    Answer(hook, r);
  }
  void AnswerVerdict(AnalysisVerdict verdict, std::string reason = "") {
    HookResponse r;
    r.status = 200;
    r.attempts = 1;
    r.verdict = verdict;
    r.verdict_reason = std::move(reason);
    Answer(std::string(kAnalysisHookName), r);
  }
  // No answer at all (connection refused).
  void Unreachable(const std::string& hook) {
    HookResponse r;
    r.error = "connection refused";
    r.attempts = 2;
    Answer(hook, r);
  }

  HookResponse Call(const HookRequest& request) override {
    std::lock_guard lock(mu_);
    calls_.push_back(request);
    auto it = answers_.find(request.hook);
    if (it == answers_.end() || it->second.empty()) {
      HookResponse ok;
      ok.status = 200;
      ok.attempts = 1;
      if (request.hook == kAnalysisHookName) ok.verdict = AnalysisVerdict::kHealthy;
      return ok;
    }
    return it->second.front();
  }

  std::vector<HookRequest> Calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  // The names of the hooks called, in order.
  std::vector<std::string> CalledHooks() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> names;
    for (const HookRequest& r : calls_) names.push_back(r.hook);
    return names;
  }
  int CallsOf(const std::string& hook) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const HookRequest& r : calls_) n += r.hook == hook ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::deque<HookResponse>> answers_;
  std::vector<HookRequest> calls_;
};

}  // namespace mlcanary::core::testing

#endif  // MLCANARY_CORE_TESTING_FAKE_HOOK_CALLER_H_
