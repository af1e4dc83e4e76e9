// The policy's hooks (issue 15): gate hooks before traffic moves, before a
// step and before completion; informational hooks after the end; analysis
// hooks voting at every check. Every call is recorded as a "hook" event.
#include <string>
#include <utility>
#include <vector>

#include "controller/controller.h"
#include "core/time.h"

namespace mlcanary::controller {

using core::Deployment;
using core::DeploymentEvent;
using core::EventKind;

namespace {

constexpr const char* kHookActor = "controller";

std::string StatusText(const core::HookResponse& r) {
  if (r.status == 0) return "no answer (" + r.error + ")";
  std::string text = "HTTP " + std::to_string(r.status);
  if (!r.error.empty()) text += " (" + r.error + ")";
  return text;
}

std::string Attempts(int n) { return std::to_string(n) + (n == 1 ? " attempt" : " attempts"); }

DeploymentEvent HookEvent(const Deployment& d, core::Timestamp now, std::string_view hook,
                          const core::HookSpec& spec, const core::HookResponse& r,
                          std::string outcome) {
  DeploymentEvent e;
  e.deployment_id = d.id;
  e.time = now;
  e.kind = EventKind::kHook;
  e.from_state = d.state;
  e.to_state = d.state;
  e.weight_before = d.canary_weight;
  e.weight_after = d.canary_weight;
  e.actor = kHookActor;
  const std::string url = core::RedactHookUrl(spec.url);
  e.reason = std::string(hook) + " hook " + url + ": " + outcome + ", " + StatusText(r) +
             " after " + Attempts(r.attempts) + " in " + std::to_string(r.elapsed.count()) + "ms";
  e.hook = core::HookCall{.hook = std::string(hook),
                          .url = url,
                          .status = r.status,
                          .attempts = r.attempts,
                          .elapsed_ms = r.elapsed.count(),
                          .outcome = std::move(outcome)};
  return e;
}

}  // namespace

std::optional<core::HookResponse> Controller::CallHook(
    const Deployment& d, core::HookPoint point, const std::optional<core::HealthReport>& last_check,
    std::vector<DeploymentEvent>& events) {
  const std::optional<core::HookSpec>& spec = d.policy.hooks[point];
  if (!spec || ports_.hooks == nullptr) return std::nullopt;
  core::HookRequest request{.hook = std::string(core::HookPointName(point)),
                            .spec = *spec,
                            .deployment = d,
                            .last_check = last_check};
  core::HookResponse response = ports_.hooks->Call(request);
  events.push_back(HookEvent(d, ports_.clock.Now(), request.hook, *spec, response,
                             core::HookOutcome(request.hook, response)));
  return response;
}

std::optional<std::string> Controller::PreRolloutRefusal(const Deployment& d,
                                                         std::vector<DeploymentEvent>& events) {
  auto response = CallHook(d, core::HookPoint::kPreRollout, std::nullopt, events);
  if (!response || response->ok()) return std::nullopt;
  return "the pre_rollout hook " +
         core::RedactHookUrl(d.policy.hooks[core::HookPoint::kPreRollout]->url) +
         " refused the rollout: " + StatusText(*response) + "; no traffic moved to the canary";
}

void Controller::RunAnalysis(const Deployment& d, core::HealthReport& report,
                             std::vector<DeploymentEvent>& events) {
  if (d.policy.analysis.empty() || ports_.hooks == nullptr) return;
  std::vector<core::AnalysisResult> results;
  for (const core::HookSpec& spec : d.policy.analysis) {
    core::HookRequest request{.hook = std::string(core::kAnalysisHookName),
                              .spec = spec,
                              .deployment = d,
                              .last_check = report};
    const core::HookResponse response = ports_.hooks->Call(request);
    core::AnalysisResult result;
    result.url = core::RedactHookUrl(spec.url);
    result.status = response.status;
    if (response.ok() && response.verdict) {
      result.verdict = *response.verdict;
      result.reason = response.verdict_reason;
    } else {
      // No answer, a non-2xx answer or a body that is no verdict: no vote.
      result.verdict = core::AnalysisVerdict::kInconclusive;
      result.reason = StatusText(response);
      if (response.ok()) result.reason = "no verdict in the answer";
    }
    events.push_back(HookEvent(d, ports_.clock.Now(), request.hook, spec, response,
                               std::string(core::AnalysisVerdictName(result.verdict))));
    results.push_back(std::move(result));
  }
  core::ApplyAnalysis(report, std::move(results));
}

core::Decision Controller::GateByHooks(const Deployment& d, core::Decision decision,
                                       const core::HealthReport& report,
                                       std::vector<DeploymentEvent>& events) {
  core::HookPoint point;
  if (decision.action == core::Action::kShift && !decision.ends_shadow) {
    point = core::HookPoint::kConfirmStep;
  } else if (decision.action == core::Action::kComplete) {
    point = core::HookPoint::kPreComplete;
  } else {
    return decision;
  }
  auto response = CallHook(d, point, report, events);
  if (!response || response->ok()) return decision;
  return core::PlanHookHold(d, decision, core::HookPointName(point),
                            "answered " + StatusText(*response), ports_.clock.Now());
}

void Controller::InformHook(const Deployment& d, core::HookPoint point) {
  if (!d.policy.hooks[point] || ports_.hooks == nullptr) return;
  std::vector<DeploymentEvent> events;
  (void)CallHook(d, point, std::nullopt, events);
  // Re-read: the caller's copy may be stale by one write. A failure is only
  // recorded: the deployment has ended.
  auto fresh = ports_.store.Get(d.id);
  if (!fresh) return;
  (void)Persist(*fresh, std::move(events));
}

}  // namespace mlcanary::controller
