// ControllerStatus: a mutex-guarded map of per-endpoint rollout state.
#include "metrics/controller_status.h"

namespace mlcanary::metrics {

EndpointRolloutStatus& ControllerStatus::EntryLocked(std::string_view endpoint) {
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) {
    it = endpoints_.try_emplace(std::string(endpoint)).first;
    it->second.endpoint = std::string(endpoint);
  }
  return it->second;
}

void ControllerStatus::SetDeployment(std::string_view endpoint, std::string_view deployment_id,
                                     core::DeploymentState state, double canary_weight,
                                     bool paused) {
  std::lock_guard lock(mu_);
  EndpointRolloutStatus& e = EntryLocked(endpoint);
  if (e.deployment_id != deployment_id) e.last_verdict.reset();  // a new rollout
  e.deployment_id = std::string(deployment_id);
  e.state = state;
  e.canary_weight = canary_weight;
  e.paused = paused;
}

void ControllerStatus::Observe(const core::Deployment& d) {
  SetDeployment(d.endpoint, d.id, d.state, d.canary_weight, d.paused);
}

void ControllerStatus::RecordCheck(std::string_view endpoint, core::Verdict verdict) {
  std::lock_guard lock(mu_);
  EndpointRolloutStatus& e = EntryLocked(endpoint);
  e.last_verdict = verdict;
  ++e.checks[static_cast<std::size_t>(verdict)];
}

void ControllerStatus::RecordCheckError(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  ++EntryLocked(endpoint).check_errors;
}

void ControllerStatus::RecordCheckError(std::string_view endpoint, std::string_view error,
                                        core::Timestamp at) {
  std::lock_guard lock(mu_);
  EndpointRolloutStatus& e = EntryLocked(endpoint);
  ++e.check_errors;
  e.last_check_error = std::string(error);
  e.last_check_error_at = at;
}

void ControllerStatus::RecordUnrecordedRollback(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  ++EntryLocked(endpoint).unrecorded_rollbacks;
}

void ControllerStatus::RecordTransition(std::string_view endpoint, core::DeploymentState to) {
  std::lock_guard lock(mu_);
  ++EntryLocked(endpoint).transitions[static_cast<std::size_t>(to)];
}

void ControllerStatus::ObserveEvent(const core::Deployment& d, const core::DeploymentEvent& ev) {
  Observe(d);
  switch (ev.kind) {
    case core::EventKind::kCheck:
      if (ev.check) RecordCheck(d.endpoint, ev.check->verdict);
      break;
    case core::EventKind::kError:
      RecordCheckError(d.endpoint);
      break;
    case core::EventKind::kTransition:
      RecordTransition(d.endpoint, ev.to_state);
      break;
    case core::EventKind::kWeightChange:
    case core::EventKind::kPaused:
    case core::EventKind::kResumed:
    case core::EventKind::kGate:
    case core::EventKind::kApproved:
    case core::EventKind::kHook:
      break;
  }
}

void ControllerStatus::Forget(std::string_view endpoint) {
  std::lock_guard lock(mu_);
  if (auto it = endpoints_.find(endpoint); it != endpoints_.end()) endpoints_.erase(it);
}

std::vector<EndpointRolloutStatus> ControllerStatus::Endpoints() const {
  std::lock_guard lock(mu_);
  std::vector<EndpointRolloutStatus> out;
  out.reserve(endpoints_.size());
  for (const auto& [name, e] : endpoints_) out.push_back(e);
  return out;
}

}  // namespace mlcanary::metrics
