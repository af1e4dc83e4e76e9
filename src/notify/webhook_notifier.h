// WebhookNotifier: POSTs every announced event as JSON to each configured URL,
// from background threads, retrying with exponential backoff and full jitter.
// Notify() only enqueues (or, reading the store's outbox, only wakes the
// threads): a slow or dead webhook never blocks the controller.
#ifndef MLCANARY_NOTIFY_WEBHOOK_NOTIFIER_H_
#define MLCANARY_NOTIFY_WEBHOOK_NOTIFIER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/ports.h"

namespace mlcanary::notify {

struct WebhookOptions {
  std::vector<std::string> urls;                     // http:// only; https:// is refused
  core::Duration timeout = std::chrono::seconds(2);  // per attempt: connect, send, answer
  // First try included. With an outbox, a failing receiver is retried past it
  // (a warning is logged at max_attempts attempts, then at each doubling).
  int max_attempts = 5;
  core::Duration backoff_base = std::chrono::milliseconds(200);
  core::Duration backoff_cap = std::chrono::seconds(10);
  // Deliveries waiting per URL; when full, the oldest waiting one is dropped
  // (and counted) so that the newest news gets through.
  std::size_t queue_capacity = 1000;
  // Stop() keeps delivering what is queued for at most this long, then aborts
  // requests in flight and drops (and counts) the rest.
  core::Duration drain_timeout = std::chrono::seconds(5);
  // Structured JSON lines about deliveries given up or dropped. URLs appear
  // with their path and credentials cut off (webhook paths often hold secrets).
  std::function<void(std::string_view line)> log;
  // Random bits for the jitter; empty: a generator seeded from std::random_device.
  // Called under a lock, so it need not be thread-safe.
  std::function<std::uint64_t()> random_bits;
  // Timestamps of the log lines; null: the system clock. Must outlive the notifier.
  const core::Clock* clock = nullptr;

  // The store's outbox (borrowed; must outlive the notifier), or null. With
  // one, every URL is a sink of the outbox (WebhookSinkName) and delivers each
  // event the store appends (WebhookAnnounces) at least once, in store order,
  // across crashes and restarts: its thread reads the entries after its cursor
  // and advances the cursor after each 2xx. Notify() only wakes the threads.
  // Without one, Notify() feeds a bounded in-memory queue: at most once.
  core::EventOutbox* outbox = nullptr;
  // Outbox: how long a thread waits for a Notify() before it looks at the
  // outbox anyway (events another process wrote, or none announced).
  core::Duration outbox_poll = std::chrono::seconds(2);
  // Outbox: entries read per query (the most one URL holds in memory).
  std::size_t outbox_batch = 100;
  // Outbox: whether this process delivers now; empty: always. Several
  // processes on one store (fleet mode) give each the same URLs and let only
  // the controller's leader deliver: the others' threads idle (they look again
  // at each Wake() or outbox_poll). A thread that finds itself inactive stops
  // before its next attempt (a retry included), saves the cursor of what it
  // delivered and forgets it; once active again it resumes from the stored
  // cursor, which the process active meanwhile has moved. An event in flight
  // when leadership moves may be sent by both (at least once, as across a crash).
  std::function<bool()> active;
};

// Totals over every URL since construction; for /metrics.
struct WebhookCounters {
  std::uint64_t delivered = 0;  // answered 2xx
  std::uint64_t retried = 0;    // attempts after the first
  // Given up: attempts exhausted, a 4xx other than 429, or shutdown. With an
  // outbox, only a 4xx other than 429 (the rest stays in the outbox).
  std::uint64_t failed = 0;
  // Never attempted: queue full, notified after Stop(), or undrained. With an
  // outbox, nothing is dropped.
  std::uint64_t dropped = 0;
  // Waiting now (a gauge). With an outbox: read from it, not yet delivered.
  std::uint64_t queued = 0;
};

// The events webhooks deliver from an outbox: those the controller announces
// (transitions, weight changes, pauses, resumes), not checks, errors or hook calls.
bool WebhookAnnounces(const core::DeploymentEvent& event);

// The outbox sink (cursor) name of a webhook URL: "webhook <RedactUrl> #<hash
// of the whole URL>", so that no secret of the URL is stored.
std::string WebhookSinkName(std::string_view url);

// Whether an attempt that ended with `http_status` (0: no answer: connect
// error or timeout) is worth retrying: no answer, 5xx and 429 are.
bool ShouldRetry(long http_status);

// "http://user:secret@hooks.example:9000/T0/B1/XYZ?k=v" -> "http://hooks.example:9000/…".
std::string RedactUrl(std::string_view url);

// Each delivery is a POST (Content-Type: application/json) whose body is the
// event's notification, codec::NotificationJson: its top-level "deployment_id"
// and "seq" identify the event, for receivers to drop a delivery they have seen.
//
// Each URL has its own queue and delivery thread, so one dead webhook delays
// only its own deliveries; events reach one URL in the order they were notified
// (with an outbox: in the store's order).
//
// With an outbox, a receiver that keeps failing (no answer, 5xx, 429) is
// retried with capped backoff (backoff_cap) for as long as it takes, keeping
// its position: it gets every event, in order, once it answers again. Its
// backlog waits in the store, not in memory (one page of outbox_batch entries
// per URL), and holds up no other URL, nor the controller, nor Stop(). An
// answer not worth retrying (4xx other than 429) gives that event up (logged,
// counted failed) and moves on. A crash between a 2xx and the cursor's save
// sends that event again: receivers drop duplicates by (deployment_id, seq).
// Thread-safe.
class WebhookNotifier final : public core::Notifier {
 public:
  // kValidation for an empty list, a URL that is not http:// (https:// is not
  // supported) or has no host, max_attempts < 1 or queue_capacity 0. With an
  // outbox, the URLs become its sinks (EventOutbox::SetSinks): its error, e.g.
  // kUnimplemented for a store without an outbox, fails Create.
  static core::Result<std::unique_ptr<WebhookNotifier>> Create(WebhookOptions options);
  ~WebhookNotifier() override;  // Stop()
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  // Builds the payload once and enqueues it for every URL; with an outbox,
  // wakes the delivery threads (the event is in the store already). Never
  // waits on the network.
  void Notify(const core::Deployment& deployment, const core::DeploymentEvent& event) override;

  // Outbox: makes the delivery threads look at the outbox now (e.g. when
  // `active` turns true). Nothing in queue mode.
  void Wake();

  // Delivers what is queued for up to drain_timeout, then aborts and joins the
  // threads. Later Notify() calls are dropped and counted. With an outbox,
  // what is not delivered by then stays there for the next start. Idempotent.
  void Stop();

  WebhookCounters counters() const;

 private:
  struct Delivery;
  class Worker;  // one URL: AsyncDelivery queue and thread, curl handles (kept out of this header)

  explicit WebhookNotifier(WebhookOptions options);
  std::uint64_t RandomBits();

  const WebhookOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex stop_mu_;    // serializes Stop()
  bool stopped_ = false;  // GUARDED_BY(stop_mu_)
  std::mutex rng_mu_;
  std::mt19937_64 rng_;                    // GUARDED_BY(rng_mu_)
  std::atomic<std::uint64_t> retried_{0};  // delivered/failed/dropped: the workers' own
};

}  // namespace mlcanary::notify

#endif  // MLCANARY_NOTIFY_WEBHOOK_NOTIFIER_H_
