// SnsNotifier: announces every event on an SNS topic (Publish, Query protocol),
// from one background thread. Notify() only enqueues: SNS being slow or down
// never blocks the controller.
#ifndef MLCANARY_SAGEMAKER_SNS_NOTIFIER_H_
#define MLCANARY_SAGEMAKER_SNS_NOTIFIER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/aws_client.h"
#include "core/ports.h"
#include "notify/async_delivery.h"

namespace mlcanary::sagemaker {

struct SnsOptions {
  std::string topic_arn;  // arn:aws:sns:<region>:<account>:<topic>
  // Messages waiting; when full, the oldest is dropped (and counted).
  std::size_t queue_capacity = 1000;
  // Stop() keeps publishing what is queued for at most this long, then drops
  // (and counts) the rest. A Publish in flight is not cut off: it ends within
  // the client's own timeout and attempts.
  core::Duration drain_timeout = std::chrono::seconds(5);
  // One line per message given up or dropped.
  std::function<void(std::string_view line)> log;
};

struct SnsCounters {
  std::uint64_t published = 0;
  std::uint64_t failed = 0;   // Publish failed after the client's retries
  std::uint64_t dropped = 0;  // never attempted: queue full, after Stop(), or undrained
  std::uint64_t queued = 0;   // waiting now (a gauge)
};

// One SNS message: Subject ("mlcanary recs: IN_PROGRESS -> ROLLED_BACK", at most
// 100 characters), Message (codec::NotificationJson, the webhooks' body: the
// event's keys with "deployment" and "event" objects) and the String
// MessageAttributes endpoint, state (the event's to_state), event (its kind)
// and deployment_id.
struct SnsMessage {
  std::string subject;
  std::string message;
  std::vector<std::pair<std::string, std::string>> attributes;
};
SnsMessage BuildSnsMessage(const core::Deployment& deployment, const core::DeploymentEvent& event);
// Publish's parameters for `message` to `topic_arn`.
aws::QueryParams PublishParams(std::string_view topic_arn, const SnsMessage& message);

// Thread-safe. Borrows the SNS client (SnsService()), which must outlive it.
class SnsNotifier final : public core::Notifier {
 public:
  // kValidation for a topic ARN that is not arn:...:sns:... or queue_capacity 0.
  static core::Result<std::unique_ptr<SnsNotifier>> Create(aws::AwsClient& sns, SnsOptions options);
  ~SnsNotifier() override;  // Stop()
  SnsNotifier(const SnsNotifier&) = delete;
  SnsNotifier& operator=(const SnsNotifier&) = delete;

  void Notify(const core::Deployment& deployment, const core::DeploymentEvent& event) override;

  // Publishes what is queued for up to drain_timeout, drops the rest, joins
  // the thread. Later Notify() calls are dropped and counted. Idempotent.
  void Stop();

  SnsCounters counters() const;

 private:
  SnsNotifier(aws::AwsClient& sns, SnsOptions options);
  bool Publish(const SnsMessage& message);  // on the delivery thread
  void Log(std::string_view line) const;

  aws::AwsClient& sns_;
  const SnsOptions options_;
  notify::AsyncDelivery<SnsMessage> delivery_;  // last: its thread uses the members above
};

}  // namespace mlcanary::sagemaker

#endif  // MLCANARY_SAGEMAKER_SNS_NOTIFIER_H_
