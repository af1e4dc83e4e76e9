// WebhookNotifier: POSTs every announced event as JSON to each configured URL,
// from a background thread, retrying with exponential backoff and full jitter.
// Notify() only enqueues: a slow or dead webhook never blocks the controller.
#ifndef MLCANARY_NOTIFY_WEBHOOK_NOTIFIER_H_
#define MLCANARY_NOTIFY_WEBHOOK_NOTIFIER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/ports.h"

namespace mlcanary::notify {

struct WebhookOptions {
  std::vector<std::string> urls;                     // http:// only
  core::Duration timeout = std::chrono::seconds(2);  // per attempt
  int max_attempts = 5;
  core::Duration backoff_base = std::chrono::milliseconds(200);
  core::Duration backoff_cap = std::chrono::seconds(10);
  std::size_t queue_capacity = 10'000;  // deliveries waiting; beyond it the newest is dropped
  // Stop() keeps delivering what is queued for at most this long.
  core::Duration drain_timeout = std::chrono::seconds(5);
  // Log lines about deliveries given up or dropped (never contain secrets).
  std::function<void(std::string_view)> log;
  // Random bits for the jitter; empty: a per-notifier generator.
  std::function<std::uint64_t()> random_bits;
};

struct WebhookCounters {
  std::uint64_t delivered = 0;  // answered 2xx
  std::uint64_t retried = 0;    // attempts after the first
  std::uint64_t failed = 0;     // given up (retries exhausted or a 4xx other than 429)
  std::uint64_t dropped = 0;    // not queued: the queue was full, or shutdown came first
};

// The JSON body of one delivery: {"deployment": {...}, "event": {...}, "endpoint",
// "from_state", "to_state", "weight_before", "weight_after", "reason", "check"}.
std::string WebhookPayload(const core::Deployment& deployment, const core::DeploymentEvent& event);

// Whether an attempt that ended with `http_status` (0: no answer: connect
// error or timeout) is worth retrying: no answer, 5xx and 429 are.
bool ShouldRetry(long http_status);

// Thread-safe.
class WebhookNotifier final : public core::Notifier {
 public:
  // kValidation for an empty list or a URL that is not http://.
  static core::Result<std::unique_ptr<WebhookNotifier>> Create(WebhookOptions options);
  ~WebhookNotifier() override;  // Stop()
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  void Notify(const core::Deployment& deployment, const core::DeploymentEvent& event) override;

  // Delivers what is queued (up to drain_timeout), then stops the thread. Idempotent.
  void Stop();
  WebhookCounters counters() const;

 private:
  struct Delivery {
    std::string url;
    std::string body;
  };
  explicit WebhookNotifier(WebhookOptions options);
  void Run();
  // One delivery with its retries; false when it was given up.
  bool Deliver(const Delivery& delivery);
  // Sleeps `d` unless Stop() wants the thread; returns false when stopping.
  bool Wait(core::Duration d);

  const WebhookOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Delivery> queue_;                            // GUARDED_BY(mu_)
  bool stopping_ = false;                                 // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point drain_deadline_;  // GUARDED_BY(mu_)
  std::atomic<std::uint64_t> delivered_{0}, retried_{0}, failed_{0}, dropped_{0};
  std::uint64_t rng_state_;
  std::thread thread_;
};

}  // namespace mlcanary::notify

#endif  // MLCANARY_NOTIFY_WEBHOOK_NOTIFIER_H_
