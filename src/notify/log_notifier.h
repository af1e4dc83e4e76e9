// LogNotifier: every announced event as one structured JSON line.
#ifndef MLCANARY_NOTIFY_LOG_NOTIFIER_H_
#define MLCANARY_NOTIFY_LOG_NOTIFIER_H_

#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>

#include "core/ports.h"

namespace mlcanary::notify {

// One JSON object, no newline: time (the event's), level (info, warn, error),
// msg ("deployment transition", "weight change", "paused", ...), then the
// notification's keys (codec::WriteNotificationFields: deployment_id, seq, kind,
// endpoint, ..., from_state, to_state, ..., check or null). Events hold no
// credentials, so neither do the lines.
std::string EventLogLine(const core::Deployment& deployment, const core::DeploymentEvent& event);

// Thread-safe: lines are handed to the sink whole, one at a time.
class LogNotifier final : public core::Notifier {
 public:
  using Sink = std::function<void(std::string_view line)>;  // a line without '\n'
  explicit LogNotifier(Sink sink) : sink_(std::move(sink)) {}
  // Writes each line and a '\n' to `out` (borrowed; must outlive this), flushed.
  explicit LogNotifier(std::ostream& out)
      : sink_([&out](std::string_view line) { out << line << '\n'
                                                  << std::flush; }) {}

  void Notify(const core::Deployment& deployment, const core::DeploymentEvent& event) override;

 private:
  std::mutex mu_;
  Sink sink_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::notify

#endif  // MLCANARY_NOTIFY_LOG_NOTIFIER_H_
