// Webhook deliveries with libcurl: one queue and thread per URL (AsyncDelivery); each request
// runs on a multi handle so that Stop() can wake it and cut it off at the
// drain deadline instead of waiting out the per-attempt timeout.
#include "notify/webhook_notifier.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "codec/domain_json.h"
#include "core/backoff.h"
#include "core/system_clock.h"
#include "notify/async_delivery.h"
#include "util/json_writer.h"

namespace mlcanary::notify {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

std::size_t Discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c =
        text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] - 'A' + 'a') : text[i];
    if (c != prefix[i]) return false;
  }
  return true;
}

// A URL's parts around its authority: "scheme://" and what follows host[:port].
struct UrlParts {
  std::string_view scheme;  // with "://", or empty
  std::string_view host;    // host[:port], without user info
  std::string_view rest;    // path, query, fragment
};

UrlParts SplitUrl(std::string_view url) {
  UrlParts parts;
  std::size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  parts.scheme = url.substr(0, start);
  const std::size_t end = std::min(url.find_first_of("/?#", start), url.size());
  parts.host = url.substr(start, end - start);
  if (const std::size_t at = parts.host.rfind('@'); at != std::string_view::npos) {
    parts.host.remove_prefix(at + 1);
  }
  parts.rest = url.substr(end);
  return parts;
}

// One structured log line: time, level, msg, webhook, then what `fill` adds.
template <typename Fill>
void EmitLog(const WebhookOptions& options, std::string_view level, std::string_view msg,
             std::string_view webhook, Fill fill) {
  if (!options.log) return;
  static const core::SystemClock system_clock;
  const core::Clock& clock = options.clock != nullptr ? *options.clock : system_clock;
  util::JsonWriter w;
  w.BeginObject();
  w.Key("time").String(core::FormatRfc3339(clock.Now()));
  w.Key("level").String(level);
  w.Key("msg").String(msg);
  w.Key("webhook").String(webhook);
  fill(w);
  w.EndObject();
  options.log(w.str());
}

}  // namespace

bool WebhookAnnounces(const core::DeploymentEvent& event) {
  return event.kind != core::EventKind::kCheck && event.kind != core::EventKind::kError &&
         event.kind != core::EventKind::kHook;
}

std::string WebhookSinkName(std::string_view url) {
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a, 64 bits
  for (const char c : url) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return "webhook " + RedactUrl(url) + " #" + hex;
}

bool ShouldRetry(long http_status) {
  return http_status == 0 || http_status == 429 || http_status >= 500;
}

std::string RedactUrl(std::string_view url) {
  const UrlParts parts = SplitUrl(url);
  std::string out(parts.scheme);
  out += parts.host;
  if (!parts.rest.empty() && parts.rest != "/") out += "/...";
  return out;
}

struct WebhookNotifier::Delivery {
  std::shared_ptr<const std::string> body;  // shared by every URL's copy
  std::string deployment_id;
  std::int64_t seq = 0;
};

// The outbox delivery thread's signals: woken by Notify(), stopped by Stop()
// with a drain deadline. The same WaitFor/StopDeadline rules as AsyncDelivery.
class OutboxSignal {
 public:
  void Wake() {
    {
      std::lock_guard lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }
  // Only the first call sets the deadline.
  void BeginStop(SteadyTime deadline) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      deadline_ = deadline;
    }
    cv_.notify_all();
  }
  std::optional<SteadyTime> StopDeadline() const {
    std::lock_guard lock(mu_);
    if (!stopping_) return std::nullopt;
    return deadline_;
  }
  // Sleeps `d`; false as soon as stopping leaves no time for it.
  bool WaitFor(core::Duration d) {
    const SteadyTime wake = std::chrono::steady_clock::now() + d;
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, wake, [this] { return stopping_; })) return true;
    if (wake >= deadline_) return false;
    while (std::chrono::steady_clock::now() < wake) cv_.wait_until(lock, wake);
    return true;
  }
  // Waits until woken (since the last call), `poll` has passed, or stopping.
  void WaitForWork(core::Duration poll) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, poll, [this] { return woken_ || stopping_; });
    woken_ = false;
  }
  // Stopping and the drain deadline has passed (or no drain was given).
  bool PastDeadline() const {
    std::lock_guard lock(mu_);
    return stopping_ && std::chrono::steady_clock::now() >= deadline_;
  }
  bool stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;     // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  SteadyTime deadline_{};  // GUARDED_BY(mu_)
};

// One URL's delivery thread and curl handles: fed by an AsyncDelivery queue
// (at most once), or reading the store's outbox from its cursor (at least
// once). The thread owns the handles; Stop() only touches them through
// curl_multi_wakeup (thread-safe).
class WebhookNotifier::Worker {
 public:
  Worker(WebhookNotifier& owner, std::string url)
      : owner_(owner),
        url_(std::move(url)),
        redacted_(RedactUrl(url_)),
        sink_(WebhookSinkName(url_)),
        delivery_({
            .capacity = owner.options_.queue_capacity,
            .drain_timeout = owner.options_.drain_timeout,
            .deliver = [this](Delivery& d) { return Deliver(d); },
            .on_overflow =
                [this](std::uint64_t overflowed) {
                  EmitLog(owner_.options_, "warn", "webhook queue full, oldest delivery dropped",
                          redacted_, [&](util::JsonWriter& w) {
                            w.Key("dropped_total").Int(static_cast<std::int64_t>(overflowed));
                          });
                },
            .on_abandoned =
                [this](std::size_t abandoned) {
                  EmitLog(owner_.options_, "warn", "webhook deliveries dropped at shutdown",
                          redacted_, [&](util::JsonWriter& w) {
                            w.Key("dropped").Int(static_cast<int>(abandoned));
                          });
                },
            // A request in flight re-reads the deadline.
            .on_stop =
                [this] {
                  if (multi_ != nullptr) curl_multi_wakeup(multi_);
                },
        }) {}

  ~Worker() {
    // The threads must be gone before the handles.
    BeginStop(std::chrono::steady_clock::now() + owner_.options_.drain_timeout);
    Join();
    delivery_.Stop();
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
    if (easy_ != nullptr) curl_easy_cleanup(easy_);
    if (headers_ != nullptr) curl_slist_free_all(headers_);
  }

  core::Status Init() {
    easy_ = curl_easy_init();
    multi_ = curl_multi_init();
    headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, "User-Agent: mlcanary");
    headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
    if (easy_ == nullptr || multi_ == nullptr || headers_ == nullptr) {
      return core::InternalError("libcurl handles could not be created");
    }
    const auto& o = owner_.options_;
    curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(easy_, CURLOPT_POST, 1L);
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout.count()));
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.timeout.count()));
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, Discard);
    return core::Ok();
  }

  const std::string& sink() const { return sink_; }
  bool outbox_mode() const { return owner_.options_.outbox != nullptr; }

  void Start() {
    if (outbox_mode()) {
      outbox_thread_ = std::thread([this] { RunOutbox(); });
    } else {
      delivery_.Start();
    }
  }
  void Enqueue(Delivery delivery) { delivery_.Enqueue(std::move(delivery)); }
  void Wake() { signal_.Wake(); }
  void BeginStop(SteadyTime deadline) {
    if (outbox_mode()) {
      signal_.BeginStop(deadline);
      if (multi_ != nullptr) curl_multi_wakeup(multi_);  // a request in flight re-reads it
    } else {
      delivery_.BeginStop(deadline);
    }
  }
  void Join() {
    if (outbox_mode()) {
      std::lock_guard lock(join_mu_);
      if (outbox_thread_.joinable()) outbox_thread_.join();
    } else {
      delivery_.Join();
    }
  }
  AsyncDeliveryCounters counters() const {
    if (!outbox_mode()) return delivery_.counters();
    AsyncDeliveryCounters c;
    c.delivered = outbox_delivered_.load(std::memory_order_relaxed);
    c.failed = outbox_failed_.load(std::memory_order_relaxed);
    c.queued = outbox_pending_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  std::optional<SteadyTime> StopDeadline() const {
    return outbox_mode() ? signal_.StopDeadline() : delivery_.StopDeadline();
  }
  bool WaitFor(core::Duration d) {
    return outbox_mode() ? signal_.WaitFor(d) : delivery_.WaitFor(d);
  }

  // Outbox mode: delivers the outbox's entries after this sink's cursor, in
  // order, advancing the cursor after each 2xx. A failing receiver is retried
  // with capped backoff for as long as it takes, keeping the position (the
  // backlog stays in the store, not in memory). Ends at Stop() once the
  // outbox is drained or the drain deadline has passed; what is left is
  // delivered after the next start.
  void RunOutbox() {
    const auto& o = owner_.options_;
    core::EventOutbox& outbox = *o.outbox;
    int store_failures = 0;
    auto store_failed = [&](const core::Error& error) {
      ++store_failures;
      if (std::has_single_bit(static_cast<unsigned>(store_failures))) {
        EmitLog(o, "warn", "webhook outbox unreadable, retrying", redacted_,
                [&](util::JsonWriter& w) {
                  w.Key("failures").Int(store_failures);
                  w.Key("error").String(error.ToString());
                });
      }
      return WaitFor(
          core::BackoffDelay(store_failures, o.backoff_base, o.backoff_cap, owner_.RandomBits()));
    };
    std::optional<std::int64_t> cursor;
    std::int64_t saved = 0;
    while (!signal_.PastDeadline()) {
      if (!Active()) {  // another process delivers; its cursor is read when we are back
        cursor.reset();
        outbox_pending_.store(0, std::memory_order_relaxed);
        if (signal_.stopping()) return;
        signal_.WaitForWork(o.outbox_poll);
        continue;
      }
      if (!cursor) {
        auto c = outbox.Cursor(sink_);
        if (!c) {
          if (!store_failed(c.error())) return;
          continue;
        }
        cursor = saved = *c;
      }
      auto page = outbox.ReadOutbox(*cursor, std::max<std::size_t>(o.outbox_batch, 1));
      if (!page) {
        if (!store_failed(page.error())) return;
        continue;
      }
      store_failures = 0;
      if (page->empty()) {
        if (signal_.stopping()) return;
        signal_.WaitForWork(o.outbox_poll);
        continue;
      }
      outbox_pending_.store(page->size(), std::memory_order_relaxed);
      bool handed_over = false;
      for (const core::OutboxEntry& entry : *page) {
        if (WebhookAnnounces(entry.event)) {
          Delivery delivery{std::make_shared<const std::string>(
                                codec::NotificationJson(entry.deployment, entry.event)),
                            entry.deployment.id, entry.event.seq};
          const Outcome outcome = DeliverUntilDone(delivery);
          if (outcome == Outcome::kStopped) return;  // position kept: sent again after a restart
          if (outcome == Outcome::kInactive) {       // position kept for the active process
            handed_over = true;
            break;
          }
          (outcome == Outcome::kDelivered ? outbox_delivered_ : outbox_failed_)
              .fetch_add(1, std::memory_order_relaxed);
        }
        cursor = entry.position;
        outbox_pending_.fetch_sub(1, std::memory_order_relaxed);
        if (WebhookAnnounces(entry.event)) Save(outbox, *cursor, saved);
      }
      Save(outbox, *cursor, saved);
      if (handed_over) cursor.reset();
    }
  }

  bool Active() const { return !owner_.options_.active || owner_.options_.active(); }

  // Records the cursor in the store. A failure is logged and left for the
  // next save: at worst those entries are sent again after a restart.
  void Save(core::EventOutbox& outbox, std::int64_t position, std::int64_t& saved) {
    if (position <= saved) return;
    if (auto s = outbox.AdvanceCursor(sink_, position); !s) {
      EmitLog(owner_.options_, "warn", "webhook outbox cursor not saved", redacted_,
              [&](util::JsonWriter& w) {
                w.Key("position").Int(position);
                w.Key("error").String(s.error().ToString());
              });
      return;
    }
    saved = position;
  }

  enum class Outcome { kDelivered, kGivenUp, kStopped, kInactive };

  // Outbox mode: one entry, retried with capped backoff until a 2xx, an answer
  // not worth retrying (4xx other than 429: given up, logged), shutdown, or
  // this process no longer being the one that delivers (`active`).
  Outcome DeliverUntilDone(const Delivery& delivery) {
    const auto& o = owner_.options_;
    std::string error;
    for (int attempt = 1;; ++attempt) {
      if (!Active()) return Outcome::kInactive;
      if (attempt > 1) owner_.retried_.fetch_add(1, std::memory_order_relaxed);
      bool aborted = false;
      const long status = Attempt(delivery, error, aborted);
      if (status >= 200 && status < 300) return Outcome::kDelivered;
      if (aborted) return Outcome::kStopped;
      if (!ShouldRetry(status)) {
        EmitLog(o, "warn", "webhook delivery failed", redacted_, [&](util::JsonWriter& w) {
          w.Key("deployment").String(delivery.deployment_id);
          w.Key("seq").Int(delivery.seq);
          w.Key("attempts").Int(attempt);
          w.Key("error").String(error);
        });
        return Outcome::kGivenUp;
      }
      // Still failing: said at max_attempts attempts, then at each doubling.
      if (attempt % o.max_attempts == 0 &&
          std::has_single_bit(static_cast<unsigned>(attempt / o.max_attempts))) {
        EmitLog(o, "warn", "webhook delivery failing, still retrying", redacted_,
                [&](util::JsonWriter& w) {
                  w.Key("deployment").String(delivery.deployment_id);
                  w.Key("seq").Int(delivery.seq);
                  w.Key("attempts").Int(attempt);
                  w.Key("error").String(error);
                });
      }
      if (!WaitFor(
              core::BackoffDelay(attempt, o.backoff_base, o.backoff_cap, owner_.RandomBits()))) {
        return Outcome::kStopped;
      }
    }
  }

  // One delivery with its retries: true when delivered, false when given up.
  bool Deliver(const Delivery& delivery) {
    const auto& o = owner_.options_;
    std::string error;
    int attempt = 1;
    for (;; ++attempt) {
      if (attempt > 1) owner_.retried_.fetch_add(1, std::memory_order_relaxed);
      bool aborted = false;
      const long status = Attempt(delivery, error, aborted);
      if (status >= 200 && status < 300) return true;
      if (aborted || !ShouldRetry(status) || attempt >= o.max_attempts) break;
      const core::Duration delay =
          core::BackoffDelay(attempt, o.backoff_base, o.backoff_cap, owner_.RandomBits());
      if (!WaitFor(delay)) {
        error += " (no time left to retry before shutdown)";
        break;
      }
    }
    EmitLog(o, "warn", "webhook delivery failed", redacted_, [&](util::JsonWriter& w) {
      w.Key("deployment").String(delivery.deployment_id);
      w.Key("seq").Int(delivery.seq);
      w.Key("attempts").Int(attempt);
      w.Key("error").String(error);
    });
    return false;
  }

  // One POST. Returns the HTTP status, or 0 when there was no answer (then
  // `error` says why; `aborted` when the drain deadline cut it off).
  long Attempt(const Delivery& delivery, std::string& error, bool& aborted) {
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, delivery.body->data());
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(delivery.body->size()));
    if (const CURLMcode mc = curl_multi_add_handle(multi_, easy_); mc != CURLM_OK) {
      error = curl_multi_strerror(mc);
      return 0;
    }
    std::optional<CURLcode> result;
    for (;;) {
      int running = 0;
      CURLMcode mc = curl_multi_perform(multi_, &running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
        if (msg->msg == CURLMSG_DONE) result = msg->data.result;
      }
      if (result || mc != CURLM_OK) {
        if (mc != CURLM_OK) error = curl_multi_strerror(mc);
        break;
      }
      int wait_ms = 1000;
      if (const std::optional<SteadyTime> deadline = StopDeadline()) {
        const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(
                                 *deadline - std::chrono::steady_clock::now())
                                 .count();
        if (left_ms <= 0) {
          aborted = true;
          error = "aborted at shutdown";
          break;
        }
        wait_ms = static_cast<int>(std::min<std::int64_t>(wait_ms, left_ms));
      }
      mc = curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
      if (mc != CURLM_OK) {
        error = curl_multi_strerror(mc);
        break;
      }
    }
    curl_multi_remove_handle(multi_, easy_);
    if (!result) return 0;
    if (*result != CURLE_OK) {
      error = curl_easy_strerror(*result);
      return 0;
    }
    long status = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) error = "HTTP " + std::to_string(status);
    return status;
  }

  WebhookNotifier& owner_;
  const std::string url_;
  const std::string redacted_;
  const std::string sink_;  // the outbox cursor's name
  CURL* easy_ = nullptr;
  CURLM* multi_ = nullptr;
  curl_slist* headers_ = nullptr;
  OutboxSignal signal_;
  std::atomic<std::uint64_t> outbox_delivered_{0}, outbox_failed_{0}, outbox_pending_{0};
  std::mutex join_mu_;
  std::thread outbox_thread_;         // outbox mode
  AsyncDelivery<Delivery> delivery_;  // queue mode; last: its thread uses the members above
};

core::Result<std::unique_ptr<WebhookNotifier>> WebhookNotifier::Create(WebhookOptions options) {
  if (options.urls.empty()) return core::ValidationError("no webhook URL given");
  for (const std::string& url : options.urls) {
    if (StartsWithNoCase(url, "https://")) {
      return core::ValidationError("webhook '" + RedactUrl(url) +
                                   "': https is not supported, use an http:// URL");
    }
    if (!StartsWithNoCase(url, "http://") || SplitUrl(url).host.empty()) {
      return core::ValidationError("webhook '" + RedactUrl(url) +
                                   "' must be an http:// URL with a host");
    }
  }
  if (options.max_attempts < 1) return core::ValidationError("max_attempts must be >= 1");
  if (options.queue_capacity == 0) return core::ValidationError("queue_capacity must be >= 1");
  if (options.timeout.count() <= 0) return core::ValidationError("timeout must be positive");
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global != CURLE_OK) return core::InternalError("libcurl could not be initialised");

  std::unique_ptr<WebhookNotifier> notifier(new WebhookNotifier(std::move(options)));
  std::vector<std::string> sinks;
  for (const std::string& url : notifier->options_.urls) {
    auto worker = std::make_unique<Worker>(*notifier, url);
    if (auto s = worker->Init(); !s) return std::unexpected(s.error());
    sinks.push_back(worker->sink());
    notifier->workers_.push_back(std::move(worker));
  }
  if (core::EventOutbox* outbox = notifier->options_.outbox; outbox != nullptr) {
    if (auto s = outbox->SetSinks(sinks); !s) {
      return std::unexpected(s.error().WithContext("webhook outbox"));
    }
  }
  for (auto& worker : notifier->workers_) worker->Start();
  return notifier;
}

WebhookNotifier::WebhookNotifier(WebhookOptions options)
    : options_(std::move(options)), rng_(std::random_device{}()) {}

WebhookNotifier::~WebhookNotifier() { Stop(); }

void WebhookNotifier::Notify(const core::Deployment& deployment,
                             const core::DeploymentEvent& event) {
  if (options_.outbox != nullptr) {
    // The store has the event already (the controller notifies after the
    // write): the delivery threads read it from there.
    Wake();
    return;
  }
  auto body = std::make_shared<const std::string>(codec::NotificationJson(deployment, event));
  for (auto& worker : workers_) worker->Enqueue({body, deployment.id, event.seq});
}

void WebhookNotifier::Wake() {
  if (options_.outbox == nullptr) return;
  for (auto& worker : workers_) worker->Wake();
}

void WebhookNotifier::Stop() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  const SteadyTime deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  for (auto& worker : workers_) worker->BeginStop(deadline);
  for (auto& worker : workers_) worker->Join();
}

WebhookCounters WebhookNotifier::counters() const {
  WebhookCounters c;
  c.retried = retried_.load(std::memory_order_relaxed);
  for (const auto& worker : workers_) {
    const AsyncDeliveryCounters w = worker->counters();
    c.delivered += w.delivered;
    c.failed += w.failed;
    c.dropped += w.dropped;
    c.queued += w.queued;
  }
  return c;
}

std::uint64_t WebhookNotifier::RandomBits() {
  std::lock_guard lock(rng_mu_);
  return options_.random_bits ? options_.random_bits() : rng_();
}

}  // namespace mlcanary::notify
