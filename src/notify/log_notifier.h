// LogNotifier: every announced event as one structured JSON line.
#ifndef MLCANARY_NOTIFY_LOG_NOTIFIER_H_
#define MLCANARY_NOTIFY_LOG_NOTIFIER_H_

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "core/ports.h"

namespace mlcanary::notify {

// One JSON object per line: time, level, msg, deployment, endpoint, from, to,
// weight_before, weight_after, reason, actor, and the check when present.
std::string EventLogLine(const core::Deployment& deployment, const core::DeploymentEvent& event);

// Thread-safe: lines are written whole, one at a time.
class LogNotifier final : public core::Notifier {
 public:
  using Sink = std::function<void(std::string_view line)>;
  explicit LogNotifier(Sink sink) : sink_(std::move(sink)) {}

  void Notify(const core::Deployment& deployment, const core::DeploymentEvent& event) override;

 private:
  std::mutex mu_;
  Sink sink_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::notify

#endif  // MLCANARY_NOTIFY_LOG_NOTIFIER_H_
