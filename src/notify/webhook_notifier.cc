// Webhook deliveries on a background thread, with libcurl.
#include "notify/webhook_notifier.h"

#include <curl/curl.h>

#include <random>

#include "codec/domain_json.h"
#include "core/backoff.h"
#include "util/json_writer.h"

namespace mlcanary::notify {
namespace {

std::size_t Discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

}  // namespace

std::string WebhookPayload(const core::Deployment& d, const core::DeploymentEvent& e) {
  util::JsonWriter w;
  w.BeginObject();
  w.Key("deployment");
  codec::WriteDeployment(w, d);
  w.Key("event");
  codec::WriteEvent(w, e);
  w.Key("endpoint").String(d.endpoint);
  w.Key("from_state").String(core::StateName(e.from_state));
  w.Key("to_state").String(core::StateName(e.to_state));
  w.Key("weight_before").Number(e.weight_before);
  w.Key("weight_after").Number(e.weight_after);
  w.Key("reason").String(e.reason);
  w.Key("check");
  if (e.check) {
    codec::WriteHealthReport(w, *e.check);
  } else {
    w.Null();
  }
  w.EndObject();
  return w.Release();
}

bool ShouldRetry(long http_status) {
  return http_status == 0 || http_status == 429 || http_status >= 500;
}

core::Result<std::unique_ptr<WebhookNotifier>> WebhookNotifier::Create(WebhookOptions options) {
  if (options.urls.empty()) return core::ValidationError("no webhook URL given");
  for (const std::string& url : options.urls) {
    if (!url.starts_with("http://") || url.size() <= 7) {
      return core::ValidationError("webhook '" + url + "' must be an http:// URL");
    }
  }
  if (options.max_attempts < 1) return core::ValidationError("max_attempts must be >= 1");
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global != CURLE_OK) return core::InternalError("libcurl could not be initialised");
  return std::unique_ptr<WebhookNotifier>(new WebhookNotifier(std::move(options)));
}

WebhookNotifier::WebhookNotifier(WebhookOptions options)
    : options_(std::move(options)), rng_state_(std::random_device{}()) {
  thread_ = std::thread([this] { Run(); });
}

WebhookNotifier::~WebhookNotifier() { Stop(); }

void WebhookNotifier::Notify(const core::Deployment& deployment,
                             const core::DeploymentEvent& event) {
  const std::string body = WebhookPayload(deployment, event);
  {
    std::lock_guard lock(mu_);
    for (const std::string& url : options_.urls) {
      if (stopping_ || queue_.size() >= options_.queue_capacity) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      queue_.push_back({url, body});
    }
  }
  cv_.notify_one();
}

void WebhookNotifier::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      if (!thread_.joinable()) return;
    } else {
      stopping_ = true;
      drain_deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

WebhookCounters WebhookNotifier::counters() const {
  return {delivered_.load(), retried_.load(), failed_.load(), dropped_.load()};
}

bool WebhookNotifier::Wait(core::Duration d) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    // Draining: no more backoff than the drain deadline allows.
    return std::chrono::steady_clock::now() + d < drain_deadline_;
  }
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_ || std::chrono::steady_clock::now() < drain_deadline_;
}

bool WebhookNotifier::Deliver(const Delivery& delivery) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return false;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "User-Agent: mlcanary");
  curl_easy_setopt(curl, CURLOPT_URL, delivery.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, delivery.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(delivery.body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
  bool delivered = false;
  std::string last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) retried_.fetch_add(1, std::memory_order_relaxed);
    long status = 0;
    const CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      delivered = true;
      break;
    }
    last = rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP " + std::to_string(status);
    if (!ShouldRetry(status) || attempt == options_.max_attempts) break;
    const std::uint64_t bits =
        options_.random_bits
            ? options_.random_bits()
            : (rng_state_ = rng_state_ * 6364136223846793005ULL + 1442695040888963407ULL) >> 11;
    if (!Wait(core::BackoffDelay(attempt, options_.backoff_base, options_.backoff_cap, bits))) {
      last += " (shutting down)";
      break;
    }
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (delivered) {
    delivered_.fetch_add(1, std::memory_order_relaxed);
  } else {
    failed_.fetch_add(1, std::memory_order_relaxed);
    if (options_.log) options_.log("webhook " + delivery.url + " gave up: " + last);
  }
  return delivered;
}

void WebhookNotifier::Run() {
  for (;;) {
    Delivery next;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      if (stopping_ && std::chrono::steady_clock::now() >= drain_deadline_) {
        dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
        if (options_.log) {
          options_.log("webhooks: " + std::to_string(queue_.size()) +
                       " deliveries dropped at shutdown");
        }
        queue_.clear();
        return;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    Deliver(next);
  }
}

}  // namespace mlcanary::notify
