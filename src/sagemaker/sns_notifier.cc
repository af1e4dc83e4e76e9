// SNS Publish from a background thread with a bounded, drop-oldest queue
// (notify::AsyncDelivery, shared with the webhooks).
#include "sagemaker/sns_notifier.h"

#include <cmath>
#include <cstdio>

#include "codec/domain_json.h"

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

  m.message = codec::NotificationJson(d, e);

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
  notifier->delivery_.Start();
  return notifier;
}

SnsNotifier::SnsNotifier(aws::AwsClient& sns, SnsOptions options)
    : sns_(sns),
      options_(std::move(options)),
      delivery_({
          .capacity = options_.queue_capacity,
          .drain_timeout = options_.drain_timeout,
          .deliver = [this](SnsMessage& m) { return Publish(m); },
          .on_overflow =
              [this](std::uint64_t overflowed) {
                Log("SNS queue full, oldest message dropped (" + std::to_string(overflowed) +
                    " so far)");
              },
          .on_abandoned =
              [this](std::size_t abandoned) {
                Log("SNS: " + std::to_string(abandoned) + " message(s) dropped at shutdown");
              },
          .on_stop = nullptr,
      }) {}

SnsNotifier::~SnsNotifier() { Stop(); }

void SnsNotifier::Log(std::string_view line) const {
  if (options_.log) options_.log(line);
}

void SnsNotifier::Notify(const core::Deployment& deployment, const core::DeploymentEvent& event) {
  delivery_.Enqueue(BuildSnsMessage(deployment, event));
}

bool SnsNotifier::Publish(const SnsMessage& message) {
  auto r = sns_.CallQuery("Publish", PublishParams(options_.topic_arn, message));
  if (r) return true;
  Log("SNS Publish '" + message.subject + "' failed: " + r.error().ToString());
  return false;
}

void SnsNotifier::Stop() { delivery_.Stop(); }

SnsCounters SnsNotifier::counters() const {
  const notify::AsyncDeliveryCounters d = delivery_.counters();
  return SnsCounters{
      .published = d.delivered, .failed = d.failed, .dropped = d.dropped, .queued = d.queued};
}

}  // namespace mlcanary::sagemaker
