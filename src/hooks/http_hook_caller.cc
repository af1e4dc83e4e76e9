// Hook calls with libcurl: one easy handle per attempt, blocking, bounded by
// the hook's timeout.
#include "hooks/http_hook_caller.h"

#include <curl/curl.h>

#include <algorithm>
#include <string>
#include <thread>

#include "codec/hook_json.h"

namespace mlcanary::hooks {
namespace {

struct Answer {
  std::string body;
};

std::size_t Collect(char* data, std::size_t size, std::size_t n, void* user) {
  auto* answer = static_cast<Answer*>(user);
  const std::size_t bytes = size * n;
  const std::size_t room = kMaxHookAnswerBytes - std::min(kMaxHookAnswerBytes, answer->body.size());
  answer->body.append(data, std::min(bytes, room));
  return bytes;  // the rest is read and dropped
}

struct Attempt {
  int status = 0;  // 0: no answer
  std::string body;
  std::string error;
};

Attempt Post(const std::string& url, const std::string& body, core::Duration timeout) {
  Attempt out;
  CURL* easy = curl_easy_init();
  if (easy == nullptr) {
    out.error = "libcurl: no handle";
    return out;
  }
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "User-Agent: mlcanary");
  headers = curl_slist_append(headers, "Expect:");
  Answer answer;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(easy);
  if (rc == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    out.status = static_cast<int>(status);
    out.body = std::move(answer.body);
  } else {
    out.error = error[0] != '\0' ? std::string(error) : std::string(curl_easy_strerror(rc));
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  return out;
}

bool Retryable(const Attempt& a) { return a.status == 0 || a.status >= 500 || a.status == 429; }

}  // namespace

core::Result<std::unique_ptr<HttpHookCaller>> HttpHookCaller::Create(
    HttpHookCallerOptions options) {
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global != CURLE_OK) return core::InternalError("libcurl could not be initialised");
  return std::unique_ptr<HttpHookCaller>(new HttpHookCaller(std::move(options)));
}

core::HookResponse HttpHookCaller::Call(const core::HookRequest& request) {
  core::HookResponse response;
  const auto start = std::chrono::steady_clock::now();
  try {
    const std::string body = codec::HookBodyJson(request);
    const int attempts = 1 + std::clamp(request.spec.retries, 0, core::kMaxHookRetries);
    const core::Duration timeout =
        std::clamp(request.spec.timeout, core::Duration(1), core::kMaxHookTimeout);
    core::Duration wait = options_.retry_base;
    Attempt last;
    for (int n = 1; n <= attempts; ++n) {
      if (n > 1) {
        if (options_.sleep) {
          options_.sleep(wait);
        } else {
          std::this_thread::sleep_for(wait);
        }
        wait = std::min(wait * 2, options_.retry_cap);
      }
      last = Post(request.spec.url, body, timeout);
      response.attempts = n;
      if (!Retryable(last)) break;
    }
    response.status = last.status;
    response.body = std::move(last.body);
    response.error = std::move(last.error);
    if (request.hook == core::kAnalysisHookName && response.ok()) {
      auto answer = codec::ParseAnalysisAnswer(response.body);
      if (answer) {
        response.verdict = answer->verdict;
        response.verdict_reason = std::move(answer->reason);
      } else {
        response.error = answer.error().message();
      }
    }
  } catch (const std::exception& e) {
    response.error = std::string("hook call failed: ") + e.what();
  } catch (...) {
    response.error = "hook call failed";
  }
  const auto took = std::chrono::steady_clock::now() - start;
  response.elapsed = std::chrono::duration_cast<core::Duration>(took);
  Count(request, response, std::chrono::duration<double>(took).count());
  return response;
}

void HttpHookCaller::Count(const core::HookRequest& request, const core::HookResponse& response,
                           double seconds) {
  const Key key{request.deployment.endpoint, request.hook,
                core::HookOutcome(request.hook, response)};
  std::lock_guard lock(mu_);
  Tally& t = counts_[key];
  ++t.calls;
  t.seconds += seconds;
}

std::vector<core::HookCallCount> HttpHookCaller::Counts() const {
  std::lock_guard lock(mu_);
  std::vector<core::HookCallCount> out;
  out.reserve(counts_.size());
  for (const auto& [key, t] : counts_) {
    out.push_back({.endpoint = std::get<0>(key),
                   .hook = std::get<1>(key),
                   .outcome = std::get<2>(key),
                   .calls = t.calls,
                   .seconds = t.seconds});
  }
  return out;
}

}  // namespace mlcanary::hooks
