// SNS Publish from a background thread with a bounded, drop-oldest queue.
#include "sagemaker/sns_notifier.h"

#include <cmath>
#include <cstdio>

#include "codec/domain_json.h"
#include "util/json_writer.h"

namespace mlcanary::sagemaker {
namespace {

constexpr std::size_t kMaxSubject = 100;  // SNS: at most 100 printable ASCII characters

// SNS refuses a Subject with line breaks or non-ASCII characters.
std::string CleanSubject(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    if (out.size() >= kMaxSubject) break;
    const auto c = static_cast<unsigned char>(ch);
    out += c >= 0x20 && c < 0x7f ? ch : '?';
  }
  return out;
}

std::string Percent(double weight) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g%%", std::round(weight * 1e4) / 1e2);
  return text;
}

}  // namespace

SnsMessage BuildSnsMessage(const core::Deployment& d, const core::DeploymentEvent& e) {
  SnsMessage m;
  std::string what;
  switch (e.kind) {
    case core::EventKind::kTransition:
      what = std::string(core::StateName(e.from_state)) + " -> " +
             std::string(core::StateName(e.to_state));
      break;
    case core::EventKind::kWeightChange:
      what = "canary " + Percent(e.weight_before) + " -> " + Percent(e.weight_after);
      break;
    default:
      what = std::string(core::EventKindName(e.kind)) + " (" +
             std::string(core::StateName(e.to_state)) + ")";
      break;
  }
  m.subject = CleanSubject("mlcanary " + d.endpoint + ": " + what);

  util::JsonWriter w;
  w.BeginObject();
  w.Key("deployment");
  codec::WriteDeployment(w, d);
  w.Key("event");
  codec::WriteEvent(w, e);
  w.EndObject();
  m.message = w.Release();

  m.attributes = {{"endpoint", d.endpoint},
                  {"state", std::string(core::StateName(e.to_state))},
                  {"event", std::string(core::EventKindName(e.kind))},
                  {"deployment_id", d.id}};
  return m;
}

aws::QueryParams PublishParams(std::string_view topic_arn, const SnsMessage& message) {
  aws::QueryParams params{{"TopicArn", std::string(topic_arn)},
                          {"Subject", message.subject},
                          {"Message", message.message}};
  int n = 0;
  for (const auto& [name, value] : message.attributes) {
    if (value.empty()) continue;  // SNS refuses empty String attributes
    const std::string prefix = "MessageAttributes.entry." + std::to_string(++n) + ".";
    params.emplace_back(prefix + "Name", name);
    params.emplace_back(prefix + "Value.DataType", "String");
    params.emplace_back(prefix + "Value.StringValue", value);
  }
  return params;
}

core::Result<std::unique_ptr<SnsNotifier>> SnsNotifier::Create(aws::AwsClient& sns,
                                                               SnsOptions options) {
  if (!options.topic_arn.starts_with("arn:") ||
      options.topic_arn.find(":sns:") == std::string::npos) {
    return core::ValidationError("SNS topic '" + options.topic_arn +
                                 "' is not a topic ARN (arn:aws:sns:<region>:<account>:<name>)");
  }
  if (options.queue_capacity == 0) return core::ValidationError("SNS queue_capacity must be >= 1");
  if (options.drain_timeout.count() < 0) {
    return core::ValidationError("SNS drain_timeout must not be negative");
  }
  std::unique_ptr<SnsNotifier> notifier(new SnsNotifier(sns, std::move(options)));
  notifier->thread_ = std::thread([n = notifier.get()] { n->Run(); });
  return notifier;
}

SnsNotifier::SnsNotifier(aws::AwsClient& sns, SnsOptions options)
    : sns_(sns), options_(std::move(options)) {}

SnsNotifier::~SnsNotifier() { Stop(); }

void SnsNotifier::Log(std::string_view line) const {
  if (options_.log) options_.log(line);
}

void SnsNotifier::Notify(const core::Deployment& deployment, const core::DeploymentEvent& event) {
  SnsMessage message = BuildSnsMessage(deployment, event);
  bool overflowed = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (queue_.size() >= options_.queue_capacity) {
      queue_.pop_front();
      dropped_.fetch_add(1, std::memory_order_relaxed);
      overflowed = true;
    }
    queue_.push_back(std::move(message));
  }
  cv_.notify_one();
  if (overflowed) Log("SNS queue full, oldest message dropped");
}

void SnsNotifier::Run() {
  for (;;) {
    SnsMessage next;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      if (stopping_ && std::chrono::steady_clock::now() >= deadline_) {
        const std::size_t abandoned = queue_.size();
        queue_.clear();
        dropped_.fetch_add(abandoned, std::memory_order_relaxed);
        lock.unlock();
        Log("SNS: " + std::to_string(abandoned) + " message(s) dropped at shutdown");
        return;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    auto r = sns_.CallQuery("Publish", PublishParams(options_.topic_arn, next));
    if (r) {
      published_.fetch_add(1, std::memory_order_relaxed);
    } else {
      failed_.fetch_add(1, std::memory_order_relaxed);
      Log("SNS Publish '" + next.subject + "' failed: " + r.error().ToString());
    }
  }
}

void SnsNotifier::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SnsCounters SnsNotifier::counters() const {
  SnsCounters c;
  c.published = published_.load(std::memory_order_relaxed);
  c.failed = failed_.load(std::memory_order_relaxed);
  c.dropped = dropped_.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  c.queued = queue_.size();
  return c;
}

}  // namespace mlcanary::sagemaker
