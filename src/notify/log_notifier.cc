// Structured log lines for deployment events.
#include "notify/log_notifier.h"

#include "codec/domain_json.h"
#include "core/time.h"
#include "util/json_writer.h"

namespace mlcanary::notify {
namespace {

const char* Message(const core::DeploymentEvent& e) {
  switch (e.kind) {
    case core::EventKind::kTransition:
      return "deployment transition";
    case core::EventKind::kWeightChange:
      return "weight change";
    case core::EventKind::kPaused:
      return "paused";
    case core::EventKind::kResumed:
      return "resumed";
    case core::EventKind::kCheck:
      return "health check";
    case core::EventKind::kError:
      return "error";
    case core::EventKind::kGate:
      return "waiting for approval";
    case core::EventKind::kApproved:
      return "approved";
    case core::EventKind::kHook:
      return "hook called";
  }
  return "deployment event";
}

const char* Level(const core::DeploymentEvent& e) {
  if (e.kind == core::EventKind::kError || e.to_state == core::DeploymentState::kFailed) {
    return "error";
  }
  if (e.to_state == core::DeploymentState::kRollingBack ||
      e.to_state == core::DeploymentState::kRolledBack || e.kind == core::EventKind::kPaused ||
      (e.check && e.check->breached())) {
    return "warn";
  }
  return "info";
}

}  // namespace

std::string EventLogLine(const core::Deployment& d, const core::DeploymentEvent& e) {
  util::JsonWriter w;
  w.BeginObject();
  w.Key("time").String(core::FormatRfc3339(e.time));
  w.Key("level").String(Level(e));
  w.Key("msg").String(Message(e));
  codec::WriteNotificationFields(w, d, e);
  w.EndObject();
  return w.Release();
}

void LogNotifier::Notify(const core::Deployment& deployment, const core::DeploymentEvent& event) {
  const std::string line = EventLogLine(deployment, event);
  std::lock_guard lock(mu_);
  sink_(line);
}

}  // namespace mlcanary::notify
