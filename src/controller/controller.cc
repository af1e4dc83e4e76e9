// One check of one deployment, and the deployment's start, through the ports.
#include "controller/controller.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/backoff.h"
#include "core/time.h"

namespace mlcanary::controller {

using core::Action;
using core::Deployment;
using core::DeploymentEvent;
using core::DeploymentState;
using core::EventKind;

namespace {

// The canary variant a deployment asks for, at weight 0.
core::Variant CanaryVariant(const Deployment& d) {
  core::Variant canary;
  canary.name = d.canary_variant;
  canary.weight = 0;
  canary.instances = d.canary_instances;
  canary.model = d.canary_model;
  return canary;
}

constexpr const char* kControllerActor = "controller";

DeploymentEvent MakeEvent(const Deployment& d, core::Timestamp now, EventKind kind,
                          DeploymentState to, double weight_after, std::string reason,
                          std::string actor = kControllerActor) {
  DeploymentEvent e;
  e.deployment_id = d.id;
  e.time = now;
  e.kind = kind;
  e.from_state = d.state;
  e.to_state = to;
  e.weight_before = d.canary_weight;
  e.weight_after = weight_after;
  e.reason = std::move(reason);
  e.actor = std::move(actor);
  return e;
}

// True when a store call failed because the store cannot be used now (a full
// disk, I/O errors, an unreachable table, a lock held too long), not because
// of the record (a stale version, an unknown id, a refused record).
bool StoreUnusable(const core::Error& e) {
  switch (e.code()) {
    case core::ErrorCode::kConflict:
    case core::ErrorCode::kNotFound:
    case core::ErrorCode::kValidation:
    case core::ErrorCode::kFailedPrecondition:
      return false;
    default:
      return true;
  }
}

// The store's error as the controller reports it: kUnavailable (HTTP 503)
// naming the store's own error, when the store cannot be used now.
core::Error StoreError(const core::Error& e) {
  if (!StoreUnusable(e)) return e;
  return core::Error(core::ErrorCode::kUnavailable, "store unavailable: " + e.ToString());
}

// True when a pending end's record is FAILED (a failure), not ROLLING_BACK (a rollback).
bool IsFailure(DeploymentState record_state) { return record_state == DeploymentState::kFailed; }

// Why a deployment whose stored policy has a weight below the resolution (an
// older version accepted one) is failed: its schedule rounds to 0.
std::string UnfollowableReason(const core::Error& e) {
  return "the stored policy cannot be followed (written by an older version): " + e.message() +
         "; traffic back on production, start a new deployment with weights of at least 1e-06";
}

// "the manual gate of the 50% step (steps[2])".
std::string GateName(const Deployment& d) {
  std::size_t index = 0;
  while (index < d.policy.steps.size() &&
         !core::SameWeight(core::RoundWeight(d.policy.steps[index].weight), d.canary_weight)) {
    ++index;
  }
  char pct[32];
  std::snprintf(pct, sizeof(pct), "%g%%", d.canary_weight * 100);
  return "the manual gate of the " + std::string(pct) + " step (steps[" + std::to_string(index) +
         "])";
}

// The event of a deployment that reached a manual gate and waits.
DeploymentEvent GateEvent(const Deployment& d, core::Timestamp now) {
  return MakeEvent(d, now, EventKind::kGate, d.state, d.canary_weight,
                   "waiting for approval at " + GateName(d) +
                       ": checks go on; approve with POST /v1/deployments/" + d.id +
                       "/approve (mlcanary approve " + d.id + ")");
}

// Why an approval is refused: the deployment waits at no gate.
std::unexpected<core::Error> NotAtGateError(const Deployment& d) {
  std::string why = "deployment '" + d.id + "' is not waiting at a gate";
  if (d.paused) why += " (paused)";
  return core::FailedPreconditionError(why);
}

// The IN_PROGRESS event of a deployment that starts with a shadow phase.
std::string ShadowStartReason(const core::Policy& p) {
  char pct[32];
  std::snprintf(pct, sizeof(pct), "%g%%", p.shadow_sample * 100);
  return std::string("shadow phase started: the canary answers copies of ") + pct +
         " of production's requests for " + core::FormatDuration(p.shadow_duration) +
         ", never returned to users; weight 0";
}

std::string TrafficNote(bool moved) {
  return moved ? "traffic is on production; the record will follow"
               : "traffic could not be moved to production yet (retried at the next tick); the "
                 "record will follow";
}

// A policy asking for what these ports cannot do: copying requests (a shadow
// phase, split-phase mirroring) or calling hooks. Named by its field.
core::Status CheckPortsServePolicy(Ports& ports, const core::Policy& policy) {
  if (core::ShadowOn(policy) && !ports.traffic.SupportsShadow()) {
    return core::ValidationError(
        "policy.shadow: this service's traffic control cannot copy requests to a canary (a "
        "shadow phase needs mlcanary's own gateway, not SageMaker or a fleet replica); leave "
        "shadow out");
  }
  if (core::MirrorOn(policy) && !ports.traffic.SupportsShadow()) {
    return core::ValidationError(
        "policy.divergence_mirror_sample: this service's traffic control cannot copy requests "
        "between variants (mirroring needs mlcanary's own gateway, not SageMaker or a fleet "
        "replica); set it to 0");
  }
  if (ports.hooks == nullptr && !policy.hooks.empty()) {
    return core::ValidationError(
        "policy.hooks: this service cannot call hooks (no hook caller is set up); leave hooks "
        "out");
  }
  if (ports.hooks == nullptr && !policy.analysis.empty()) {
    return core::ValidationError(
        "policy.analysis: this service cannot call analysis hooks (no hook caller is set up); "
        "leave analysis out");
  }
  return {};
}

// A divergence check the models cannot take (several outputs per row), where
// the traffic control can tell before serving (in-process models).
core::Status CheckDivergenceModels(core::TrafficControl& traffic, const Deployment& d,
                                   const core::Variant& production, const core::Variant& canary) {
  if (!core::DivergenceOn(d.policy)) return {};
  for (const core::Variant* v : {&production, &canary}) {
    const std::string who = std::string(v == &canary ? "the canary" : "the production") +
                            " model of variant '" + v->name + "'";
    if (auto s = core::CheckDivergenceOutputs(d.policy, who, traffic.ModelOutputs(d.endpoint, *v));
        !s) {
      return s;
    }
  }
  return {};
}

}  // namespace

template <typename Op>
auto Controller::WithRetries(Op op) -> decltype(op()) {
  const RetryOptions& r = ports_.retry;
  std::uint64_t fallback_bits = 0x9e3779b97f4a7c15ULL;
  for (int attempt = 1;; ++attempt) {
    auto result = op();
    if (result || !result.error().retryable() || attempt >= r.max_attempts) {
      if (!result && result.error().retryable() && attempt > 1) {
        return std::unexpected(
            result.error().WithContext("gave up after " + std::to_string(attempt) + " attempts"));
      }
      return result;
    }
    const std::uint64_t bits =
        r.random_bits ? r.random_bits() : (fallback_bits *= 6364136223846793005ULL) >> 11;
    if (r.sleep) r.sleep(core::BackoffDelay(attempt, r.base, r.cap, bits));
  }
}

bool Controller::CheckDue(const Deployment& d, core::Timestamp now) {
  const core::Timestamp last = d.progress.last_check_at.value_or(d.progress.weight_since);
  return now - last >= d.policy.interval;
}

core::Status Controller::ApplyWeights(const Deployment& d) {
  const double w = core::RoundWeight(d.canary_weight);
  const std::vector<core::VariantWeight> weights{{d.production_variant, core::RoundWeight(1.0 - w)},
                                                 {d.canary_variant, w}};
  if (auto s = WithRetries([&] { return ports_.traffic.SetWeights(d.endpoint, weights); }); !s) {
    return s;
  }
  return ApplyShadow(d);
}

core::Status Controller::ApplyShadow(const Deployment& d) {
  if (!core::ShadowOn(d.policy) && !core::MirrorOn(d.policy)) return core::Ok();
  std::optional<core::ShadowSpec> spec;
  if (d.state == DeploymentState::kInProgress && d.phase == core::RolloutPhase::kShadow) {
    spec = core::ShadowSpec{.variant = d.canary_variant,
                            .sample = d.policy.shadow_sample,
                            .tolerance = d.policy.divergence_tolerance,
                            .output = d.policy.divergence_output};
  } else if (d.state == DeploymentState::kInProgress && core::MirrorOn(d.policy)) {
    // The split: a share of each variant's requests mirrored to the other.
    spec = core::ShadowSpec{.variant = d.canary_variant,
                            .sample = d.policy.divergence_mirror_sample,
                            .tolerance = d.policy.divergence_tolerance,
                            .output = d.policy.divergence_output,
                            .mirror_to = d.production_variant};
  }
  return WithRetries([&] { return ports_.traffic.SetShadow(d.endpoint, spec); });
}

core::Status Controller::Reconcile(const Deployment& d) {
  auto endpoint = WithRetries([&] { return ports_.traffic.DescribeEndpoint(d.endpoint); });
  if (!endpoint) return std::unexpected(endpoint.error());
  const core::Variant* canary = endpoint->FindVariant(d.canary_variant);
  if (canary == nullptr) {
    return core::NotFoundError("canary variant '" + d.canary_variant + "' is gone from endpoint '" +
                               d.endpoint + "'");
  }
  if (core::SameWeight(canary->weight, d.canary_weight)) {
    // A shadow is not described: re-applied while in the shadow phase (a
    // restarted gateway has lost it; the router keeps an equal one as it is).
    const bool copies = d.phase == core::RolloutPhase::kShadow || core::MirrorOn(d.policy);
    return copies ? ApplyShadow(d) : core::Ok();
  }
  return ApplyWeights(d);
}

core::Result<Deployment> Controller::Persist(const Deployment& d,
                                             std::vector<DeploymentEvent> events,
                                             std::vector<DeploymentEvent>* appended) {
  Deployment next = d;
  next.updated_at = ports_.clock.Now();
  // A request waiting for the leader is moot once the deployment has ended.
  if (core::IsTerminal(next.state)) next.requested.reset();
  auto stored = ports_.store.Update(next, events, appended);
  if (!stored) return std::unexpected(StoreError(stored.error()));
  return stored;
}

core::Result<Deployment> Controller::StartDeployment(const StartRequest& request) {
  const core::Timestamp now = ports_.clock.Now();
  if (auto s = core::ValidatePolicy(request.policy); !s) return std::unexpected(s.error());
  if (auto s = CheckPortsServePolicy(ports_, request.policy); !s) return std::unexpected(s.error());
  if (request.id.empty()) return core::ValidationError("deployment id must not be empty");
  if (request.canary_variant.empty()) return core::ValidationError("variant must not be empty");
  if (request.instances < 1) return core::ValidationError("instances must be >= 1");

  auto endpoint = ports_.traffic.DescribeEndpoint(request.endpoint);
  if (!endpoint) return std::unexpected(endpoint.error());
  if (endpoint->status != core::EndpointStatus::kInService) {
    return core::FailedPreconditionError("endpoint '" + request.endpoint + "' is " +
                                         std::string(core::EndpointStatusName(endpoint->status)) +
                                         ", not InService");
  }
  if (endpoint->FindVariant(request.canary_variant) != nullptr) {
    return core::ConflictError("endpoint '" + request.endpoint + "' already has a variant '" +
                               request.canary_variant + "'");
  }
  // The production variant is the one serving: the variant with the highest weight.
  auto production = std::max_element(
      endpoint->variants.begin(), endpoint->variants.end(),
      [](const core::Variant& a, const core::Variant& b) { return a.weight < b.weight; });
  if (production == endpoint->variants.end() || production->weight <= 0) {
    return core::FailedPreconditionError("endpoint '" + request.endpoint +
                                         "' has no variant serving traffic");
  }

  Deployment d;
  d.id = request.id;
  d.endpoint = request.endpoint;
  d.production_variant = production->name;
  d.canary_variant = request.canary_variant;
  d.canary_model = request.model;
  d.canary_instances = request.instances;
  d.keep_previous = request.keep_previous;
  d.state = DeploymentState::kPending;
  d.canary_weight = 0;
  d.policy = request.policy;
  d.created_at = now;
  d.updated_at = now;
  d.progress = core::StartWeight({}, now);
  // Refused before anything is recorded: a variant the traffic control would
  // not create (its name, its model's kind and fields).
  if (auto s = ports_.traffic.CheckVariant(d.endpoint, CanaryVariant(d)); !s) {
    return std::unexpected(s.error());
  }
  if (auto s = CheckDivergenceModels(ports_.traffic, d, *production, CanaryVariant(d)); !s) {
    return std::unexpected(s.error());
  }
  DeploymentEvent created = MakeEvent(
      d, now, EventKind::kTransition, DeploymentState::kPending, 0,
      "deployment created: " + production->name + " -> " + request.canary_variant, request.actor);
  std::vector<DeploymentEvent> appended;
  auto stored = ports_.store.Create(d, {created}, &appended);
  if (!stored) return std::unexpected(StoreError(stored.error()));
  d = *stored;
  for (const auto& e : appended) ports_.notifier.Notify(d, e);

  if (ports_.start_in_background) {
    if (ports_.wake) ports_.wake();
    return d;
  }
  return ReadyCanary(std::move(d));
}

core::Result<Deployment> Controller::ReadyCanary(Deployment d) {
  // A schedule stored by an older version with a weight below the resolution
  // would start the canary at 0 % (or never move it): fail it, visibly.
  if (auto s = core::CheckWeightResolution(d.policy); !s) {
    const std::string reason = UnfollowableReason(s.error());
    auto failed = Fail(d, {}, reason, /*move_traffic=*/false);
    if (!failed) return failed;
    return core::FailedPreconditionError(reason);
  }
  const core::Variant canary = CanaryVariant(d);
  if (auto s = WithRetries([&] { return ports_.traffic.CreateVariant(d.endpoint, canary); }); !s) {
    if (ports_.start_in_background && s.error().retryable() &&
        ports_.clock.Now() - d.created_at < kPendingDeadline) {
      RecordError(
          d, "canary variant not ready yet, retried at the next tick: " + s.error().ToString());
      return std::unexpected(s.error());
    }
    auto failed = Fail(d, {}, "canary variant could not be created: " + s.error().ToString(),
                       /*move_traffic=*/false);
    // A canary left half-made (an update that timed out) has no traffic and
    // nothing to serve: remove it rather than pay for its instances.
    RemoveCanary(failed ? *failed : d);
    if (!failed) return failed;
    return std::unexpected(s.error());
  }

  // Issue 15: the pre_rollout hook, before any traffic moves to the canary.
  std::vector<DeploymentEvent> hook_events;
  if (auto refusal = PreRolloutRefusal(d, hook_events)) {
    auto failed = Fail(d, std::move(hook_events), *refusal, /*move_traffic=*/false);
    RemoveCanary(failed ? *failed : d);
    if (!failed) return failed;
    return core::FailedPreconditionError(*refusal);
  }

  const core::Timestamp now = ports_.clock.Now();
  const bool shadow = core::ShadowOn(d.policy);
  const double initial = shadow ? 0.0 : core::InitialWeight(d.policy);
  DeploymentEvent started =
      MakeEvent(d, now, EventKind::kTransition, DeploymentState::kInProgress, initial,
                "canary '" + d.canary_variant + "' ready; " +
                    (shadow ? ShadowStartReason(d.policy) : std::string("traffic split started")));
  d.phase = shadow ? core::RolloutPhase::kShadow : core::RolloutPhase::kSplit;
  d.state = DeploymentState::kInProgress;
  d.canary_weight = initial;
  d.progress = core::StartWeight(d.progress, now);
  d.progress.last_check_at = now;
  hook_events.push_back(started);
  std::vector<DeploymentEvent> appended;
  auto in_progress = Persist(d, std::move(hook_events), &appended);
  if (!in_progress) {
    // A user cancelled while the canary was being readied: it has no traffic
    // and no deployment any more.
    if (auto fresh = ports_.store.Get(d.id); fresh && core::IsTerminal(fresh->state)) {
      RemoveCanary(*fresh);
    }
    return in_progress;
  }
  d = *in_progress;
  if (auto s = ApplyWeights(d); !s) {
    auto failed = Fail(d, {}, "initial weights could not be applied: " + s.error().ToString());
    if (!failed) return failed;
    return std::unexpected(s.error());
  }
  for (const auto& e : appended) {
    if (e.kind != EventKind::kHook) ports_.notifier.Notify(d, e);
  }
  return d;
}

core::Result<CheckOutcome> Controller::RunCheck(std::string_view deployment_id) {
  // A rollback or failure waiting for the store goes before anything else.
  const std::optional<DeploymentState> pending = PendingEndState(deployment_id);
  if (auto settled = SettlePendingEnd(deployment_id)) {
    if (!*settled) return std::unexpected(settled->error());
    CheckOutcome outcome;
    outcome.deployment_id = std::string(deployment_id);
    outcome.ran = true;
    outcome.action = pending && IsFailure(*pending) ? Action::kFail : Action::kRollback;
    outcome.reason = pending && IsFailure(*pending) ? "failure recorded" : "rollback recorded";
    outcome.deployment = **settled;
    return outcome;
  }
  const core::Timestamp now = ports_.clock.Now();
  auto loaded = ports_.store.Get(deployment_id);
  if (!loaded) {
    const core::Error error = StoreError(loaded.error());
    if (error.code() != core::ErrorCode::kNotFound) NoteCheckError(deployment_id, error, now);
    return std::unexpected(error);
  }
  Deployment d = *loaded;
  CheckOutcome outcome;
  outcome.deployment_id = d.id;
  outcome.deployment = d;
  if (d.state != DeploymentState::kInProgress || d.paused) {
    outcome.reason = d.paused ? "paused" : "not in progress";
    return outcome;
  }
  // A schedule stored by an older version with a weight below the resolution
  // cannot be followed (it rounds to 0): the deployment fails with traffic on
  // production rather than holding or "stepping" in place for ever.
  if (auto s = core::CheckWeightResolution(d.policy); !s) {
    return FailUnfollowable(std::move(d), s.error(), now);
  }
  // Checks the store did not take: plan from their breach counts, but the bake
  // counts only from the end of the last of them.
  const int unrecorded = OverlayUnrecorded(d);
  const core::Timestamp window_start = d.progress.last_check_at.value_or(d.progress.weight_since);
  PlannedCheck planned = PlanFromWindow(d, window_start, now);
  if (unrecorded > 0) {
    planned.event.reason += " [" + std::to_string(unrecorded) +
                            " earlier check(s) not recorded (store unavailable); the bake counts "
                            "from " +
                            core::FormatRfc3339(d.progress.healthy_since) + "]";
  }
  // What the planner remembers of this check if the store does not take it:
  // its counts, but no bake (the weight did not change either).
  core::RolloutProgress unrecorded_progress = planned.decision.progress;
  unrecorded_progress.weight_since = d.progress.weight_since;
  unrecorded_progress.healthy_since = now;
  const std::int64_t version = d.version;
  const std::string id = d.id;
  auto acted =
      Act(std::move(d), planned.decision, planned.event, false, std::move(planned.hook_events));
  if (!acted) {
    if (acted.error().code() == core::ErrorCode::kUnavailable && !PendingEndState(id)) {
      NoteUnrecordedCheck(id, version, unrecorded_progress);
    }
    NoteCheckError(id, acted.error(), now);
    return acted;
  }
  ForgetUnrecorded(id);
  if (planned.metrics_error) {
    acted->error = *planned.metrics_error;
    NoteCheckError(id, *planned.metrics_error, now);
  }
  if (planned.event.check) acted->verdict = planned.event.check->verdict;
  return acted;
}

core::Result<CheckOutcome> Controller::FailUnfollowable(Deployment d, const core::Error& why,
                                                        core::Timestamp now) {
  const std::string id = d.id;
  CheckOutcome outcome;
  outcome.deployment_id = id;
  outcome.ran = true;
  outcome.action = Action::kFail;
  outcome.reason = UnfollowableReason(why);
  auto failed = Fail(std::move(d), {}, outcome.reason);
  if (!failed) {
    NoteCheckError(id, failed.error(), now);
    return std::unexpected(failed.error());
  }
  outcome.deployment = *failed;
  return outcome;
}

Controller::PlannedCheck Controller::PlanFromWindow(const Deployment& d,
                                                    core::Timestamp window_start,
                                                    core::Timestamp now) {
  PlannedCheck planned;
  auto reconciled = Reconcile(d);
  auto snapshot =
      reconciled
          ? WithRetries([&] { return ports_.metrics.Snapshot(d.endpoint, window_start, now); })
          : std::unexpected(reconciled.error());
  if (!snapshot) {
    planned.decision = core::PlanCheckError(d, snapshot.error(), now);
    planned.event =
        MakeEvent(d, now, EventKind::kError, d.state, d.canary_weight, planned.decision.reason);
    planned.metrics_error = snapshot.error();
    return planned;
  }
  const auto& by_variant = *snapshot;
  auto find = [&](const std::string& name) {
    auto it = by_variant.find(name);
    return it == by_variant.end() ? core::WindowMetrics{} : it->second;
  };
  core::HealthReport report =
      core::EvaluateHealth(find(d.canary_variant), find(d.production_variant), d.policy);
  RunAnalysis(d, report, planned.hook_events);
  planned.decision = GateByHooks(d, core::PlanCheck(d, report, now), report, planned.hook_events);
  planned.event =
      MakeEvent(d, now, EventKind::kCheck, d.state, d.canary_weight, planned.decision.reason);
  planned.event.check = std::move(report);
  return planned;
}

core::Result<CheckOutcome> Controller::Act(Deployment d, const core::Decision& decision,
                                           const DeploymentEvent& check_event, bool notify_first,
                                           std::vector<DeploymentEvent> hook_events) {
  const core::Timestamp now = check_event.time;
  CheckOutcome outcome;
  outcome.deployment_id = d.id;
  outcome.ran = true;
  outcome.action = decision.action;
  outcome.reason = decision.reason;
  const bool gate_reached = decision.progress.awaiting_approval && !d.progress.awaiting_approval;
  d.progress = decision.progress;

  std::vector<DeploymentEvent> events{check_event};
  for (DeploymentEvent& e : hook_events) events.push_back(std::move(e));
  switch (decision.action) {
    case Action::kHold: {
      auto stored = Hold(d, std::move(events), gate_reached);
      if (!stored) return std::unexpected(stored.error());
      outcome.deployment = *stored;
      return outcome;
    }
    case Action::kPause: {
      DeploymentEvent paused =
          MakeEvent(d, now, EventKind::kPaused, d.state, d.canary_weight, decision.reason);
      d.paused = true;
      events.push_back(paused);
      std::vector<DeploymentEvent> appended;
      auto stored = Persist(d, events, &appended);
      if (!stored) return std::unexpected(stored.error());
      ports_.notifier.Notify(*stored, appended.back());
      outcome.deployment = *stored;
      return outcome;
    }
    case Action::kShift:
    case Action::kComplete:
      return Advance(std::move(d), decision, std::move(events), notify_first, std::move(outcome));
    case Action::kRollback: {
      auto rolled =
          BeginRollback(std::move(d), std::move(events), decision.reason, kControllerActor);
      if (!rolled) return std::unexpected(rolled.error());
      outcome.deployment = *rolled;
      return outcome;
    }
    case Action::kFail: {
      auto failed = Fail(d, events, decision.reason);
      if (!failed) return std::unexpected(failed.error());
      outcome.deployment = *failed;
      return outcome;
    }
  }
  return core::InternalError("unknown action");
}

core::Result<CheckOutcome> Controller::Advance(Deployment d, const core::Decision& decision,
                                               std::vector<DeploymentEvent> events,
                                               bool notify_first, CheckOutcome outcome) {
  const core::Timestamp now = events.front().time;
  const bool complete = decision.action == Action::kComplete;
  if (!core::SameWeight(decision.target_weight, d.canary_weight)) {
    events.push_back(MakeEvent(d, now, EventKind::kWeightChange, d.state, decision.target_weight,
                               decision.reason));
  }
  d.canary_weight = decision.target_weight;
  if (decision.ends_shadow) d.phase = core::RolloutPhase::kSplit;
  if (complete) {
    events.push_back(MakeEvent(d, now, EventKind::kTransition, DeploymentState::kCompleted,
                               d.canary_weight, decision.reason));
    d.state = DeploymentState::kCompleted;
  }
  std::vector<DeploymentEvent> appended;
  auto stored = Persist(d, events, &appended);
  if (!stored) return std::unexpected(stored.error());
  d = *stored;
  if (auto s = ApplyWeights(d); !s) {
    if (!complete) {
      // Retried with backoff already: the step cannot be made, so the
      // deployment fails and traffic goes back to production.
      auto failed = Fail(d, {}, "weights could not be applied: " + s.error().ToString());
      if (!failed) return std::unexpected(failed.error());
      outcome.action = Action::kFail;
      outcome.deployment = *failed;
      return outcome;
    }
    // COMPLETED is final; its weights are re-applied at start-up (ReconcileAll).
    RecordError(d, "weights not applied yet: " + s.error().ToString());
  }
  for (std::size_t i = notify_first ? 0 : 1; i < appended.size(); ++i) {
    if (appended[i].kind != EventKind::kHook) ports_.notifier.Notify(d, appended[i]);
  }
  if (complete) {
    FinishCompletion(d);
    if (auto fresh = ports_.store.Get(d.id)) d = *fresh;
  }
  outcome.deployment = d;
  return outcome;
}

core::Result<Deployment> Controller::Hold(const Deployment& d, std::vector<DeploymentEvent> events,
                                          bool gate_reached) {
  if (gate_reached) events.push_back(GateEvent(d, events.front().time));
  std::vector<DeploymentEvent> appended;
  auto stored = Persist(d, events, &appended);
  if (!stored) return stored;
  if (gate_reached && !appended.empty()) ports_.notifier.Notify(*stored, appended.back());
  return stored;
}

core::Result<Deployment> Controller::FinishRollback(Deployment d, core::Timestamp now) {
  if (auto s = ApplyWeights(d); !s) {
    if (s.error().retryable()) return d;  // stays ROLLING_BACK; the next Tick retries
    return Fail(d, {}, "rollback weights could not be applied: " + s.error().ToString());
  }
  DeploymentEvent done =
      MakeEvent(d, now, EventKind::kTransition, DeploymentState::kRolledBack, 0,
                "traffic back on production variant '" + d.production_variant + "'");
  d.state = DeploymentState::kRolledBack;
  std::vector<DeploymentEvent> appended;
  auto stored = Persist(d, {done}, &appended);
  if (!stored) {
    if (stored.error().code() != core::ErrorCode::kUnavailable) return stored;
    return core::MakeError(core::ErrorCode::kUnavailable,
                           stored.error().message() +
                               "; traffic is on production; ROLLED_BACK will be recorded at the "
                               "next tick");
  }
  ports_.notifier.Notify(*stored, appended.back());
  RemoveCanary(*stored);
  InformHook(*stored, core::HookPoint::kOnRollback);
  return ports_.store.Get(stored->id);
}

core::Result<Deployment> Controller::Fail(Deployment d, std::vector<DeploymentEvent> events,
                                          const std::string& reason, bool move_traffic,
                                          std::optional<core::Timestamp> at) {
  const core::Timestamp now = at.value_or(ports_.clock.Now());
  DeploymentEvent failed =
      MakeEvent(d, now, EventKind::kTransition, DeploymentState::kFailed, 0, reason);
  if (auto s = core::CheckTransition(d.state, DeploymentState::kFailed); !s) {
    return std::unexpected(s.error());
  }
  std::vector<DeploymentEvent> before = events;
  events.push_back(failed);
  d.state = DeploymentState::kFailed;
  d.canary_weight = 0;
  std::vector<DeploymentEvent> appended;
  auto stored = Persist(d, events, &appended);
  if (!stored) {
    if (stored.error().code() != core::ErrorCode::kUnavailable) return stored;
    // As a rollback: traffic to production now (always safe), the record later.
    return std::unexpected(KeepEndPending(d, std::move(before), reason, kControllerActor, now,
                                          stored.error(), /*traffic_moved=*/!move_traffic));
  }
  ForgetPendingEnd(d.id);
  // Best effort: traffic back on production. A failure here is recorded, not hidden.
  if (auto s = move_traffic ? ApplyWeights(*stored) : core::Ok(); !s) {
    DeploymentEvent err =
        MakeEvent(*stored, now, EventKind::kError, DeploymentState::kFailed, 0,
                  "could not move traffic back to production: " + s.error().ToString());
    auto with_error = Persist(*stored, {err});
    if (with_error) stored = with_error;
  }
  ports_.notifier.Notify(*stored, appended.back());
  return stored;
}

core::Result<Deployment> Controller::BeginRollback(Deployment d,
                                                   std::vector<DeploymentEvent> events,
                                                   const std::string& reason,
                                                   const std::string& actor,
                                                   std::optional<core::Timestamp> at) {
  const core::Timestamp now = at.value_or(ports_.clock.Now());
  std::vector<DeploymentEvent> before = events;
  DeploymentEvent rolling =
      MakeEvent(d, now, EventKind::kTransition, DeploymentState::kRollingBack, 0, reason, actor);
  events.push_back(rolling);
  d.state = DeploymentState::kRollingBack;
  d.canary_weight = 0;
  std::vector<DeploymentEvent> appended;
  auto stored = Persist(d, events, &appended);
  if (!stored) {
    if (stored.error().code() != core::ErrorCode::kUnavailable) return stored;
    // Moving traffic to production is always safe: do it now, record it later.
    return std::unexpected(
        KeepEndPending(d, std::move(before), reason, actor, now, stored.error()));
  }
  ForgetPendingEnd(d.id);
  ports_.notifier.Notify(*stored, appended.back());
  return FinishRollback(*stored, now);
}

core::Error Controller::KeepEndPending(const Deployment& record,
                                       std::vector<DeploymentEvent> events,
                                       const std::string& reason, const std::string& actor,
                                       core::Timestamp at, const core::Error& store_error,
                                       bool traffic_moved) {
  bool moved = traffic_moved;
  {
    std::lock_guard lock(mu_);
    if (auto it = notes_.find(record.id); it != notes_.end() && it->second.end) {
      moved = moved || it->second.end->traffic_moved;
    }
  }
  if (!moved) moved = ApplyWeights(record).has_value();
  {
    std::lock_guard lock(mu_);
    Noted& n = notes_[record.id];
    n.end = PendingEnd{.record = record,
                       .events = std::move(events),
                       .reason = reason,
                       .actor = actor,
                       .at = at,
                       .traffic_moved = moved};
    n.unrecorded.reset();
  }
  return core::Error(core::ErrorCode::kUnavailable,
                     store_error.message() + "; " + TrafficNote(moved));
}

std::optional<core::Result<Deployment>> Controller::SettlePendingEnd(std::string_view id) {
  PendingEnd p;
  {
    std::lock_guard lock(mu_);
    auto it = notes_.find(id);
    if (it == notes_.end() || !it->second.end) return std::nullopt;
    p = *it->second.end;
  }
  auto forget = [&] {
    std::lock_guard lock(mu_);
    if (auto it = notes_.find(id); it != notes_.end()) it->second.end.reset();
  };
  if (!p.traffic_moved && ApplyWeights(p.record)) {
    p.traffic_moved = true;
    std::lock_guard lock(mu_);
    if (auto it = notes_.find(id); it != notes_.end() && it->second.end) {
      it->second.end->traffic_moved = true;
    }
  }
  auto fresh = ports_.store.Get(id);
  if (!fresh) {
    if (!StoreUnusable(fresh.error())) {
      forget();  // the deployment is gone from the store: nothing to record
      return std::unexpected(fresh.error());
    }
    return core::MakeError(core::ErrorCode::kUnavailable, StoreError(fresh.error()).message() +
                                                              "; " + TrafficNote(p.traffic_moved));
  }
  if (!core::CanTransition(fresh->state, p.record.state)) {
    forget();  // the store has moved on (another writer ended it)
    return *fresh;
  }
  if (IsFailure(p.record.state)) {
    return Fail(*fresh, std::move(p.events), p.reason, /*move_traffic=*/!p.traffic_moved, p.at);
  }
  return BeginRollback(*fresh, std::move(p.events), p.reason, p.actor, p.at);
}

std::optional<DeploymentState> Controller::PendingEndState(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = notes_.find(id);
  if (it == notes_.end() || !it->second.end) return std::nullopt;
  return it->second.end->record.state;
}

void Controller::ForgetPendingEnd(std::string_view id) {
  std::lock_guard lock(mu_);
  if (auto it = notes_.find(id); it != notes_.end()) {
    it->second.end.reset();
    it->second.unrecorded.reset();
  }
}

void Controller::MarkUnrecordedEnd(CheckOutcome& outcome, const core::Error& error) const {
  const std::optional<DeploymentState> pending = PendingEndState(outcome.deployment_id);
  if (!pending) return;
  outcome.action = IsFailure(*pending) ? Action::kFail : Action::kRollback;
  outcome.unrecorded_rollback = true;
  outcome.error = error;
}

core::Status Controller::SettleFirst(std::string_view id) {
  const std::optional<DeploymentState> pending = PendingEndState(id);
  auto settled = SettlePendingEnd(id);
  if (!settled || *settled) return core::Ok();
  const bool failure = pending && IsFailure(*pending);
  return std::unexpected(settled->error().WithContext(
      "deployment '" + std::string(id) + (failure ? "' has failed" : "' is being rolled back")));
}

int Controller::OverlayUnrecorded(Deployment& d) {
  std::lock_guard lock(mu_);
  auto it = notes_.find(d.id);
  if (it == notes_.end() || !it->second.unrecorded) return 0;
  if (it->second.unrecorded->version != d.version) {
    // Someone wrote since (a pause, a resume, this controller's next check):
    // the record is newer than the note.
    it->second.unrecorded.reset();
    return 0;
  }
  d.progress = it->second.unrecorded->progress;
  return it->second.unrecorded->count;
}

void Controller::NoteCheckError(std::string_view id, const core::Error& error, core::Timestamp at) {
  std::lock_guard lock(mu_);
  auto it = notes_.find(id);
  if (it == notes_.end()) it = notes_.try_emplace(std::string(id)).first;
  it->second.last_error = error;
  it->second.last_error_at = at;
}

void Controller::NoteUnrecordedCheck(std::string_view id, std::int64_t version,
                                     const core::RolloutProgress& progress) {
  std::lock_guard lock(mu_);
  auto it = notes_.find(id);
  if (it == notes_.end()) it = notes_.try_emplace(std::string(id)).first;
  std::optional<UnrecordedChecks>& u = it->second.unrecorded;
  const int count = u && u->version == version ? u->count + 1 : 1;
  u = UnrecordedChecks{.version = version, .progress = progress, .count = count};
}

void Controller::ForgetUnrecorded(std::string_view id) {
  std::lock_guard lock(mu_);
  if (auto it = notes_.find(id); it != notes_.end()) it->second.unrecorded.reset();
}

std::optional<DeploymentNotes> Controller::Notes(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = notes_.find(id);
  if (it == notes_.end()) return std::nullopt;
  const Noted& n = it->second;
  DeploymentNotes out;
  out.last_check_error = n.last_error;
  out.last_check_error_at = n.last_error_at;
  out.unrecorded_checks = n.unrecorded ? n.unrecorded->count : 0;
  if (n.end) {
    out.rollback_pending = true;
    out.rollback_at = n.end->at;
    out.rollback_reason = n.end->reason;
    out.rollback_state =
        IsFailure(n.end->record.state) ? DeploymentState::kFailed : DeploymentState::kRolledBack;
  }
  return out;
}

void Controller::RecordError(const Deployment& d, const std::string& reason) {
  // Re-read: the caller's copy may be stale by one write.
  auto fresh = ports_.store.Get(d.id);
  if (!fresh) return;
  DeploymentEvent e = MakeEvent(*fresh, ports_.clock.Now(), EventKind::kError, fresh->state,
                                fresh->canary_weight, reason);
  (void)Persist(*fresh, {e});
}

void Controller::FinishCompletion(const Deployment& d) {
  if (!d.keep_previous) {
    if (auto s = ports_.traffic.RemoveVariant(d.endpoint, d.production_variant); !s) {
      if (s.error().code() != core::ErrorCode::kNotFound) {
        RecordError(d, "old production variant '" + d.production_variant +
                           "' not removed: " + s.error().ToString());
      }
    }
  }
  if (auto endpoint = ports_.traffic.DescribeEndpoint(d.endpoint)) {
    if (auto s = ports_.store.SaveEndpoint(*endpoint); !s) {
      RecordError(d, "endpoint not recorded: " + s.error().ToString());
    }
  }
  InformHook(d, core::HookPoint::kPostRollout);
}

void Controller::RemoveCanary(const Deployment& d) {
  if (auto s = ports_.traffic.RemoveVariant(d.endpoint, d.canary_variant); !s) {
    if (s.error().code() != core::ErrorCode::kNotFound) {
      RecordError(d,
                  "canary variant '" + d.canary_variant + "' not removed: " + s.error().ToString());
    }
  }
  if (auto endpoint = ports_.traffic.DescribeEndpoint(d.endpoint)) {
    (void)ports_.store.SaveEndpoint(*endpoint);
  }
}

core::Result<Deployment> Controller::LoadFor(std::string_view id, std::string_view action,
                                             std::initializer_list<DeploymentState> allowed) {
  auto d = ports_.store.Get(id);
  if (!d) return std::unexpected(StoreError(d.error()));
  for (DeploymentState s : allowed) {
    if (d->state != s) continue;
    // The action carries out (or supersedes) a request waiting on the record:
    // its write clears it.
    d->requested.reset();
    return d;
  }
  return core::FailedPreconditionError("cannot " + std::string(action) + " deployment '" + d->id +
                                       "' in state " + std::string(core::StateName(d->state)));
}

core::Result<Deployment> Controller::Complete(std::string_view id, const std::string& actor) {
  if (auto s = SettleFirst(id); !s) return std::unexpected(s.error());
  auto loaded = LoadFor(id, "complete", {DeploymentState::kInProgress});
  if (!loaded) return loaded;
  Deployment d = *loaded;
  const core::Timestamp now = ports_.clock.Now();
  const std::string reason = "completed by " + actor;
  std::vector<DeploymentEvent> events;
  if (!core::SameWeight(d.canary_weight, 1.0)) {
    events.push_back(MakeEvent(d, now, EventKind::kWeightChange, d.state, 1.0, reason, actor));
  }
  d.canary_weight = 1.0;
  events.push_back(
      MakeEvent(d, now, EventKind::kTransition, DeploymentState::kCompleted, 1.0, reason, actor));
  d.state = DeploymentState::kCompleted;
  d.paused = false;
  std::vector<DeploymentEvent> appended;
  auto stored = Persist(d, events, &appended);
  if (!stored) return stored;
  if (auto s = ApplyWeights(*stored); !s) {
    RecordError(*stored,
                "weights not applied yet (reconciled at start-up): " + s.error().ToString());
  }
  for (const auto& e : appended) ports_.notifier.Notify(*stored, e);
  FinishCompletion(*stored);
  return ports_.store.Get(stored->id);
}

core::Result<Deployment> Controller::Cancel(std::string_view id, const std::string& actor) {
  if (auto s = SettleFirst(id); !s) return std::unexpected(s.error());
  auto loaded = LoadFor(id, "cancel", {DeploymentState::kPending, DeploymentState::kInProgress});
  if (!loaded) return loaded;
  Deployment d = *loaded;
  DeploymentEvent cancelled =
      MakeEvent(d, ports_.clock.Now(), EventKind::kTransition, DeploymentState::kCancelled, 0,
                "cancelled by " + actor, actor);
  d.state = DeploymentState::kCancelled;
  d.canary_weight = 0;
  d.paused = false;
  std::vector<DeploymentEvent> appended;
  auto stored = Persist(d, {cancelled}, &appended);
  if (!stored) return stored;
  auto applied = ApplyWeights(*stored);
  if (!applied && applied.error().code() != core::ErrorCode::kNotFound) {
    RecordError(*stored,
                "weights not applied yet (reconciled at start-up): " + applied.error().ToString());
  } else {
    RemoveCanary(*stored);
  }
  ports_.notifier.Notify(*stored, appended.back());
  return ports_.store.Get(stored->id);
}

core::Result<Deployment> Controller::Rollback(std::string_view id, const std::string& actor) {
  // Already rolled back, waiting for the store: record it now, or say again
  // that traffic is on production and the record will follow.
  if (PendingEndState(id) == DeploymentState::kRollingBack) {
    if (auto settled = SettlePendingEnd(id)) return *settled;
  }
  // Failed, waiting for the store: the same, then the state says no.
  if (auto s = SettleFirst(id); !s) return std::unexpected(s.error());
  auto loaded = LoadFor(id, "roll back", {DeploymentState::kInProgress});
  if (!loaded) return loaded;
  return BeginRollback(*loaded, {}, "rollback requested by " + actor, actor);
}

core::Result<Deployment> Controller::Pause(std::string_view id, const std::string& actor) {
  if (auto s = SettleFirst(id); !s) return std::unexpected(s.error());
  auto loaded = LoadFor(id, "pause", {DeploymentState::kInProgress});
  if (!loaded) return loaded;
  Deployment d = *loaded;
  if (d.paused) return core::FailedPreconditionError("deployment '" + d.id + "' is already paused");
  DeploymentEvent paused = MakeEvent(d, ports_.clock.Now(), EventKind::kPaused, d.state,
                                     d.canary_weight, "paused by " + actor, actor);
  d.paused = true;
  std::vector<DeploymentEvent> appended;
  auto stored = Persist(d, {paused}, &appended);
  if (!stored) return stored;
  ports_.notifier.Notify(*stored, appended.back());
  return stored;
}

core::Result<Deployment> Controller::Resume(std::string_view id, const std::string& actor) {
  if (auto s = SettleFirst(id); !s) return std::unexpected(s.error());
  auto loaded = LoadFor(id, "resume", {DeploymentState::kInProgress});
  if (!loaded) return loaded;
  Deployment d = *loaded;
  if (!d.paused) return core::FailedPreconditionError("deployment '" + d.id + "' is not paused");
  const core::Timestamp now = ports_.clock.Now();
  DeploymentEvent resumed =
      MakeEvent(d, now, EventKind::kResumed, d.state, d.canary_weight,
                "resumed by " + actor + "; bake restarts at " +
                    std::to_string(static_cast<int>(std::lround(d.canary_weight * 100))) + "%",
                actor);
  d.paused = false;
  // The window before the pause says nothing about now: start a fresh bake,
  // with fresh breach counts, from this moment.
  d.progress = core::StartWeight(d.progress, now);
  d.progress.last_check_at = now;
  std::vector<DeploymentEvent> appended;
  auto stored = Persist(d, {resumed}, &appended);
  if (!stored) return stored;
  ports_.notifier.Notify(*stored, appended.back());
  return stored;
}

core::Result<Deployment> Controller::Approve(std::string_view id, const std::string& actor) {
  if (auto s = SettleFirst(id); !s) return std::unexpected(s.error());
  auto loaded = LoadFor(id, "approve", {DeploymentState::kInProgress});
  if (!loaded) return loaded;
  Deployment d = *loaded;
  if (!d.progress.awaiting_approval) return NotAtGateError(d);
  const core::Timestamp now = ports_.clock.Now();
  const core::Decision decision = core::PlanApproval(d, now, actor);
  DeploymentEvent approved =
      MakeEvent(d, now, EventKind::kApproved, d.state, d.canary_weight, decision.reason, actor);
  auto acted = Act(std::move(d), decision, approved, /*notify_first=*/true);
  if (!acted) return std::unexpected(acted.error());
  return acted->deployment;
}

namespace {

// Whether a user action is allowed in `state` (as the action itself checks).
bool AllowedIn(core::UserAction action, DeploymentState state) {
  return state == DeploymentState::kInProgress ||
         (action == core::UserAction::kCancel && state == DeploymentState::kPending);
}

}  // namespace

core::Result<Deployment> Controller::Perform(std::string_view id, core::UserAction action,
                                             const std::string& actor) {
  switch (action) {
    case core::UserAction::kComplete:
      return Complete(id, actor);
    case core::UserAction::kCancel:
      return Cancel(id, actor);
    case core::UserAction::kRollback:
      return Rollback(id, actor);
    case core::UserAction::kPause:
      return Pause(id, actor);
    case core::UserAction::kResume:
      return Resume(id, actor);
    case core::UserAction::kApprove:
      return Approve(id, actor);
  }
  return core::InternalError("unknown user action");
}

core::Result<Deployment> Controller::Request(std::string_view id, core::UserAction action,
                                             const std::string& actor) {
  const std::string name(core::UserActionName(action));
  const std::string verb = action == core::UserAction::kRollback ? "roll back" : name;
  auto d = ports_.store.Get(id);
  if (!d) return std::unexpected(StoreError(d.error()));
  if (d->requested) {
    if (d->requested->action == action) return d;  // asked again: the same request
    return core::ConflictError("deployment '" + d->id + "' has a request to " +
                               std::string(core::UserActionName(d->requested->action)) + " by " +
                               d->requested->actor + " waiting for the controller");
  }
  if (!AllowedIn(action, d->state)) {
    return core::FailedPreconditionError("cannot " + verb + " deployment '" + d->id +
                                         "' in state " + std::string(core::StateName(d->state)));
  }
  if (action == core::UserAction::kPause && d->paused) {
    return core::FailedPreconditionError("deployment '" + d->id + "' is already paused");
  }
  if (action == core::UserAction::kResume && !d->paused) {
    return core::FailedPreconditionError("deployment '" + d->id + "' is not paused");
  }
  if (action == core::UserAction::kApprove && !d->progress.awaiting_approval) {
    return NotAtGateError(*d);
  }
  d->requested = core::ActionRequest{.action = action, .actor = actor, .at = ports_.clock.Now()};
  auto stored = Persist(*d, {});
  if (stored && ports_.wake) ports_.wake();
  return stored;
}

std::optional<CheckOutcome> Controller::CarryOutRequest(const Deployment& d) {
  const core::ActionRequest r = *d.requested;
  CheckOutcome outcome;
  outcome.deployment_id = d.id;
  outcome.ran = true;
  outcome.action = r.action == core::UserAction::kComplete   ? Action::kComplete
                   : r.action == core::UserAction::kRollback ? Action::kRollback
                   : r.action == core::UserAction::kPause    ? Action::kPause
                   : r.action == core::UserAction::kApprove  ? Action::kShift
                                                             : Action::kHold;
  auto done = Perform(d.id, r.action, r.actor);
  if (done) {
    outcome.reason = std::string(core::UserActionName(r.action)) + " requested by " + r.actor;
    outcome.deployment = *done;
    return outcome;
  }
  outcome.error = done.error();
  outcome.reason = done.error().ToString();
  outcome.deployment = d;
  if (done.error().code() == core::ErrorCode::kFailedPrecondition) {
    // The deployment moved on since it was asked (a check completed or
    // paused it): the request cannot be carried out; say so and drop it.
    auto fresh = ports_.store.Get(d.id);
    if (fresh && fresh->requested == d.requested) {
      DeploymentEvent e = MakeEvent(
          *fresh, ports_.clock.Now(), EventKind::kError, fresh->state, fresh->canary_weight,
          "request to " + std::string(core::UserActionName(r.action)) + " by " + r.actor +
              " not carried out: " + done.error().message(),
          r.actor);
      Deployment cleared = *fresh;
      cleared.requested.reset();
      if (auto stored = Persist(cleared, {e})) outcome.deployment = *stored;
    }
  }
  return outcome;
}

core::Status Controller::ReconcileOne(const Deployment& d) {
  auto endpoint = ports_.traffic.DescribeEndpoint(d.endpoint);
  if (!endpoint) return std::unexpected(endpoint.error());
  const bool has_canary = endpoint->FindVariant(d.canary_variant) != nullptr;
  const bool has_production = endpoint->FindVariant(d.production_variant) != nullptr;
  auto add_canary = [&]() -> core::Status {
    core::Variant canary;
    canary.name = d.canary_variant;
    canary.instances = d.canary_instances;
    canary.model = d.canary_model;
    return ports_.traffic.CreateVariant(d.endpoint, canary);
  };
  switch (d.state) {
    case DeploymentState::kPending: {
      // Started in the background: the next Tick readies the canary (creating
      // a variant that is already there with its model is harmless).
      if (ports_.start_in_background) return core::Ok();
      // Interrupted while starting: nothing was promised to traffic yet.
      auto failed = Fail(d, {}, "interrupted while starting (service restarted)");
      if (has_canary) RemoveCanary(d);
      if (!failed) return std::unexpected(failed.error());
      return core::Ok();
    }
    case DeploymentState::kInProgress:
      if (!has_canary) {
        if (auto s = add_canary(); !s) {
          auto failed =
              Fail(d, {}, "canary could not be restored after restart: " + s.error().ToString());
          if (!failed) return std::unexpected(failed.error());
          return core::Ok();
        }
      }
      return Reconcile(d);
    case DeploymentState::kRollingBack: {
      auto finished = FinishRollback(d, ports_.clock.Now());
      if (!finished) return std::unexpected(finished.error());
      return core::Ok();
    }
    case DeploymentState::kCompleted:
      if (!has_canary) {
        if (auto s = add_canary(); !s) return s;
      }
      if (has_production || !has_canary) {
        if (auto s = ApplyWeights(d); !s && s.error().code() != core::ErrorCode::kNotFound) {
          return s;
        }
      }
      FinishCompletion(d);
      return core::Ok();
    case DeploymentState::kRolledBack:
    case DeploymentState::kCancelled:
    case DeploymentState::kFailed:
      if (has_canary && has_production) {
        if (auto s = ApplyWeights(d); !s) return s;
        RemoveCanary(d);
      }
      return core::Ok();
  }
  return core::Ok();
}

core::Status Controller::ReconcileAll() {
  auto all = ports_.store.ListReadable({});
  if (!all) return std::unexpected(all.error());
  core::Status first_error = core::Ok();
  std::vector<std::string> seen;  // endpoints whose newest deployment was handled
  // An endpoint with a record that cannot be read is left alone: that record
  // may be its newest, and an older one's split would be the wrong one.
  for (const core::UnreadableRecord& r : all->unreadable) {
    if (!r.endpoint.empty()) seen.push_back(r.endpoint);
    if (first_error) {
      first_error = std::unexpected(r.error.WithContext(
          "deployment '" + r.id + "' skipped" +
          (r.endpoint.empty() ? "" : ", endpoint '" + r.endpoint + "' left as it is")));
    }
  }
  for (const Deployment& d : all->deployments) {  // newest first
    if (std::find(seen.begin(), seen.end(), d.endpoint) != seen.end()) continue;
    seen.push_back(d.endpoint);
    if (auto s = ReconcileOne(d); !s && first_error) {
      first_error = std::unexpected(s.error().WithContext("deployment '" + d.id + "'"));
    }
  }
  return first_error;
}

core::Result<std::vector<Deployment>> Controller::ActiveDeployments(
    std::vector<CheckOutcome>* unreadable) {
  auto listed = ports_.store.ListReadable({.active_only = true});
  if (!listed) return std::unexpected(StoreError(listed.error()));
  const core::Timestamp now = ports_.clock.Now();
  std::vector<Deployment>& active = listed->deployments;
  std::lock_guard lock(mu_);
  // A record the store cannot read stops no other deployment: it is skipped,
  // noted, and reported when first seen and then once per interval.
  for (const core::UnreadableRecord& r : listed->unreadable) {
    Noted& n = notes_[r.id];
    const bool report = !n.unreadable || !n.last_error ||
                        n.last_error->message() != r.error.message() ||
                        now - n.last_error_at >= kUnreadableReportInterval;
    n.unreadable = true;
    if (!report) continue;
    n.last_error = r.error;
    n.last_error_at = now;
    if (unreadable == nullptr) continue;
    CheckOutcome outcome;
    outcome.deployment_id = r.id;
    outcome.ran = true;
    outcome.unreadable = true;
    outcome.reason = "record unreadable, skipped: " + r.error.ToString();
    outcome.error = r.error;
    outcome.deployment.id = r.id;
    outcome.deployment.endpoint = r.endpoint;
    unreadable->push_back(std::move(outcome));
  }
  // Notes of deployments that ended are the store's business now. A pending
  // rollback or failure is kept (it may be newer than this listing): it
  // settles itself.
  auto listed_now = [&](const std::string& id) {
    return std::any_of(active.begin(), active.end(),
                       [&](const Deployment& d) { return d.id == id; }) ||
           std::any_of(listed->unreadable.begin(), listed->unreadable.end(),
                       [&](const core::UnreadableRecord& r) { return r.id == id; });
  };
  std::erase_if(notes_,
                [&](const auto& entry) { return !entry.second.end && !listed_now(entry.first); });
  for (const Deployment& d : active) {
    if (auto it = notes_.find(d.id); it != notes_.end()) it->second.unreadable = false;
  }
  return std::move(active);
}

std::optional<CheckOutcome> Controller::TickOne(const Deployment& d) {
  const core::Timestamp now = ports_.clock.Now();
  // A rollback or failure the store refused goes first, at every tick; no
  // check runs and no weight moves until it is recorded.
  if (const std::optional<DeploymentState> pending = PendingEndState(d.id)) {
    const bool failure = IsFailure(*pending);
    auto settled = SettlePendingEnd(d.id);
    if (settled) {
      CheckOutcome outcome;
      outcome.deployment_id = d.id;
      outcome.ran = true;
      outcome.action = failure ? Action::kFail : Action::kRollback;
      if (*settled) {
        outcome.reason = failure ? "failure recorded" : "rollback recorded";
        outcome.deployment = **settled;
        return outcome;
      }
      // Reported once per check interval, not at every tick.
      if (auto notes = Notes(d.id); notes && notes->last_check_error &&
                                    now - notes->last_check_error_at < d.policy.interval) {
        return std::nullopt;
      }
      NoteCheckError(d.id, settled->error(), now);
      outcome.reason = std::string(failure ? "FAILED" : "rollback") +
                       " not recorded yet: " + settled->error().ToString();
      outcome.error = settled->error();
      outcome.deployment = d;
      return outcome;
    }
  }
  // A user action asked on another replica (fleet): before anything else.
  if (d.requested && d.state != DeploymentState::kRollingBack) return CarryOutRequest(d);
  if (d.state == DeploymentState::kPending) {
    if (!ports_.start_in_background) return std::nullopt;  // being started by its caller
    CheckOutcome outcome;
    outcome.deployment_id = d.id;
    outcome.action = Action::kShift;
    auto ready = ReadyCanary(d);
    outcome.ran = true;
    outcome.reason = ready ? "canary ready" : ready.error().ToString();
    if (ready) {
      outcome.deployment = *ready;
    } else {
      outcome.deployment = ports_.store.Get(d.id).value_or(d);
      MarkUnrecordedEnd(outcome, ready.error());  // failed; the store did not take it
    }
    return outcome;
  }
  if (d.state == DeploymentState::kRollingBack) {
    CheckOutcome outcome;
    outcome.deployment_id = d.id;
    outcome.action = Action::kRollback;
    auto finished = FinishRollback(d, now);
    outcome.ran = true;
    outcome.reason = finished ? "rollback finished" : finished.error().ToString();
    if (!finished) {
      outcome.error = finished.error();
      MarkUnrecordedEnd(outcome, finished.error());  // failed; the store did not take it
    }
    outcome.deployment = finished ? *finished : d;
    return outcome;
  }
  // Due by the last check made, recorded or not.
  Deployment seen = d;
  OverlayUnrecorded(seen);
  if (d.state != DeploymentState::kInProgress || d.paused || !CheckDue(seen, now)) {
    return std::nullopt;
  }
  auto outcome = RunCheck(d.id);
  if (outcome) return std::move(*outcome);
  CheckOutcome failed;
  failed.deployment_id = d.id;
  failed.ran = true;
  failed.reason = outcome.error().ToString();
  failed.error = outcome.error();
  failed.deployment = d;
  // This check rolled back or failed; the store did not take it.
  MarkUnrecordedEnd(failed, outcome.error());
  return failed;
}

core::Result<std::vector<CheckOutcome>> Controller::Tick() {
  std::vector<CheckOutcome> outcomes;
  auto active = ActiveDeployments(&outcomes);
  if (!active) return std::unexpected(active.error());
  for (const Deployment& d : *active) {
    if (auto outcome = TickOne(d)) outcomes.push_back(std::move(*outcome));
  }
  return outcomes;
}

}  // namespace mlcanary::controller
