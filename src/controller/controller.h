// The controller: starts deployments and runs their checks through the ports
// (metrics -> health -> decision -> traffic -> store -> notify). It keeps no
// state of its own between calls: everything it needs is in the store, so a
// restarted controller carries on where the last one stopped.
#ifndef MLCANARY_CONTROLLER_CONTROLLER_H_
#define MLCANARY_CONTROLLER_CONTROLLER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/hooks.h"
#include "core/ports.h"
#include "core/rollout_planner.h"

namespace mlcanary::controller {

// How the controller retries retryable errors (throttling, unavailable,
// timeouts) of the traffic control and the metrics source within one action:
// exponential backoff with full jitter, at most `max_attempts` tries in all.
struct RetryOptions {
  int max_attempts = 4;
  core::Duration base = std::chrono::milliseconds(100);
  core::Duration cap = std::chrono::seconds(2);
  // Waits between attempts; empty: no wait (virtual time, tests).
  std::function<void(core::Duration)> sleep;
  // Random bits for the jitter; empty: a fixed sequence.
  std::function<std::uint64_t()> random_bits;
};

// The ports a controller drives. All are borrowed and must outlive it.
struct Ports {
  core::TrafficControl& traffic;
  core::MetricsSource& metrics;
  core::DeploymentStore& store;
  core::Notifier& notifier;
  const core::Clock& clock;
  RetryOptions retry = {};
  // SageMaker: readying a canary (a new endpoint config, UpdateEndpoint, wait
  // for InService) takes minutes. When true, StartDeployment records the
  // deployment PENDING and returns at once; Tick readies the canary and moves
  // it to IN_PROGRESS, and a restart resumes it instead of failing it.
  bool start_in_background = false;
  // Called after a deployment was recorded PENDING in the background mode, so
  // that the caller's loop can tick now rather than at its next interval.
  std::function<void()> wake;
  // Calls the policy's hooks (issue 15); null: none can be called, and
  // StartDeployment refuses a policy with hooks or analysis hooks.
  core::HookCaller* hooks = nullptr;
};

struct StartRequest {
  std::string id;  // chosen by the caller (randomness is injected, not drawn here)
  std::string endpoint;
  std::string canary_variant = "canary";
  core::ModelSpec model;
  int instances = 1;
  core::Policy policy;
  bool keep_previous = false;  // keep the old production variant (at 0 %) after COMPLETED
  std::string actor = "user";
};

// What one check did, for callers that report progress.
struct CheckOutcome {
  std::string deployment_id;
  bool ran = false;  // false when the deployment was not due, paused or not in progress
  core::Action action = core::Action::kHold;
  std::string reason;
  core::Deployment deployment;  // as stored after the check
  // The check's verdict; empty when the check could not read its inputs.
  std::optional<core::Verdict> verdict;
  // Why the check could not be made or could not be recorded (metrics
  // unreadable, store not writable, ...); empty when it ran and was recorded.
  std::optional<core::Error> error;
  // This check (or tick) ended the deployment, rolled back (action kRollback)
  // or failed (kFail), and the store could not record it: traffic is on
  // production and the controller writes the record when the store works.
  bool unrecorded_rollback = false;
  // The store could not read this deployment's record (corrupt, or a form
  // this version does not read): the controller skipped it. `deployment` holds
  // only its id and endpoint; `error` says why.
  bool unreadable = false;
};

// What the controller knows about a deployment that its store does not (yet):
// kept in memory, so lost on restart (a restarted controller reconciles from
// the store).
struct DeploymentNotes {
  // The last check that failed (could not be made or recorded), and when.
  std::optional<core::Error> last_check_error;
  core::Timestamp last_check_error_at{};
  // Checks since the last recorded one that the store did not take. None of
  // them counts towards the bake.
  int unrecorded_checks = 0;
  // A rollback or an automatic failure (traffic already moved to production)
  // waiting to be recorded, and the state its record ends in (ROLLED_BACK or
  // FAILED).
  bool rollback_pending = false;
  core::Timestamp rollback_at{};
  std::string rollback_reason;
  core::DeploymentState rollback_state = core::DeploymentState::kRolledBack;
};

// When the store cannot be written (a full disk, an unreachable table), the
// controller keeps what the store refused in memory, per deployment:
//  - a check that could not be recorded is reported (CheckOutcome::error) and
//    never counts towards the bake: the next check plans from its breach
//    counts, but the bake restarts after it;
//  - a rollback or an automatic failure (FAILED) moves traffic to production
//    at once (always safe) and is written when the store works again, before
//    anything else is done for that deployment; until then nothing moves the
//    canary's weight up or back to the stored (stale) weight, and other user
//    actions answer Unavailable.
// Every other action writes its record before it changes traffic, so a store
// that cannot be written changes nothing (kUnavailable, "store unavailable: ...").
//
// Thread safety: concurrent calls on different deployments are safe, and
// concurrent calls on the same deployment are serialised by the store's
// optimistic versions (the loser gets Conflict and writes nothing). The notes
// above are guarded by a mutex.
class Controller {
 public:
  explicit Controller(Ports ports) : ports_(ports) {}

  // The design document's "create deployment": validates the policy and the
  // endpoint (exists, InService), records the deployment (PENDING), readies the
  // canary variant, and moves it to the initial weight (IN_PROGRESS). With
  // Ports::start_in_background it returns after recording PENDING, and the next
  // Tick does the rest.
  core::Result<core::Deployment> StartDeployment(const StartRequest& request);

  // User actions (API.md: POST /v1/deployments/{id}/complete|cancel|rollback|
  // pause|resume). Each returns the deployment as stored afterwards, NotFound
  // for an unknown id, and FailedPrecondition (HTTP 409) when its state does not
  // allow the action. `actor` is recorded in the event ("user", a token name).
  //  - Complete: canary to 100 %, COMPLETED; the canary becomes the endpoint's
  //    production variant; the old production variant is removed unless the
  //    deployment has `keep_previous` (also when the controller completes it).
  //  - Cancel: canary to 0 %, CANCELLED, canary variant removed.
  //  - Rollback: production 100 % / canary 0 %, ROLLING_BACK then ROLLED_BACK.
  //  - Pause / Resume: checks stop / start again (the bake restarts on resume).
  core::Result<core::Deployment> Complete(std::string_view id, const std::string& actor);
  core::Result<core::Deployment> Cancel(std::string_view id, const std::string& actor);
  core::Result<core::Deployment> Rollback(std::string_view id, const std::string& actor);
  core::Result<core::Deployment> Pause(std::string_view id, const std::string& actor);
  core::Result<core::Deployment> Resume(std::string_view id, const std::string& actor);
  //  - Approve: passes the manual gate an IN_PROGRESS deployment waits at
  //    (progress.awaiting_approval): an "approved" event (actor, weights) and
  //    the step the gate held, at once (or COMPLETED, as a healthy check would
  //    step on). FailedPrecondition when it is not waiting at a gate.
  core::Result<core::Deployment> Approve(std::string_view id, const std::string& actor);
  // One of the six above, by name.
  core::Result<core::Deployment> Perform(std::string_view id, core::UserAction action,
                                         const std::string& actor);

  // Fleet mode, on any replica: records the action on the deployment for the
  // leader's controller to carry out at its next tick (woken through
  // Ports::wake here, and through the store's change feed on the leader),
  // instead of doing it here. Refused at once, as the action itself would be,
  // when the state does not allow it (FailedPrecondition); asking again for
  // the action already waiting answers the record as it is; another action
  // while one waits is a Conflict. The action's own write clears the request;
  // one that can no longer be carried out when the leader gets to it (a check
  // completed the deployment meanwhile) is dropped with an error event.
  core::Result<core::Deployment> Request(std::string_view id, core::UserAction action,
                                         const std::string& actor);

  // At start-up: brings the traffic control in line with every deployment the
  // store holds (active ones to their stored weights, finished ones to their
  // final split) and finishes interrupted rollbacks. Returns the first error
  // after trying all.
  core::Status ReconcileAll();

  // Runs one check of an IN_PROGRESS, unpaused deployment and acts on it.
  core::Result<CheckOutcome> RunCheck(std::string_view deployment_id);

  // One pass over every active deployment: readies PENDING canaries (background
  // start), runs the checks that are due (policy.interval since the last one)
  // and finishes interrupted rollbacks, one deployment after the other.
  // Errors of single deployments are reported in the outcomes, not returned.
  core::Result<std::vector<CheckOutcome>> Tick();

  // The pieces of Tick, for callers that work on deployments in parallel
  // (ControllerLoop with a worker per deployment): the deployments a tick
  // works on, and Tick's work for one of them (empty: nothing was due).
  // An active record the store cannot read is left out (one bad record stops
  // no other deployment's checks); `unreadable` (if not null) gets an outcome
  // for it (CheckOutcome::unreadable) when it is first seen, and again once
  // per kUnreadableReportInterval while it stays unreadable.
  core::Result<std::vector<core::Deployment>> ActiveDeployments(
      std::vector<CheckOutcome>* unreadable = nullptr);
  std::optional<CheckOutcome> TickOne(const core::Deployment& d);

  // True when `policy.interval` has passed since the deployment's last check.
  static bool CheckDue(const core::Deployment& deployment, core::Timestamp now);

  // What the store does not know (yet) about a deployment; empty when nothing
  // is noted.
  std::optional<DeploymentNotes> Notes(std::string_view deployment_id) const;

 private:
  // A check the store did not take: the planner's memory after it, valid on
  // top of the stored record of `version` only.
  struct UnrecordedChecks {
    std::int64_t version = 0;
    core::RolloutProgress progress;
    int count = 0;
  };
  // A rollback or a failure whose record the store refused: traffic goes to
  // production at once, the record when the store takes it.
  struct PendingEnd {
    // As refused: ROLLING_BACK (a rollback) or FAILED, at weight 0.
    core::Deployment record;
    std::vector<core::DeploymentEvent> events;  // recorded before the transition
    std::string reason;
    std::string actor;
    core::Timestamp at{};
    bool traffic_moved = false;  // production has all traffic
  };
  struct Noted {
    std::optional<core::Error> last_error;
    core::Timestamp last_error_at{};
    std::optional<UnrecordedChecks> unrecorded;
    std::optional<PendingEnd> end;
    bool unreadable = false;  // the store could not read the record at the last listing
  };

  // What a check decided from the window's metrics (or from their absence).
  struct PlannedCheck {
    core::Decision decision;
    core::DeploymentEvent event;                     // the check (or error) event
    std::vector<core::DeploymentEvent> hook_events;  // the check's hook calls
    std::optional<core::Error> metrics_error;        // the window could not be read
  };
  // Reconciles the traffic, reads the window [window_start, now), judges it
  // (health, analysis hooks) and plans, gated by the hooks.
  PlannedCheck PlanFromWindow(const core::Deployment& d, core::Timestamp window_start,
                              core::Timestamp now);
  // A deployment whose schedule cannot be followed (core::CheckWeightResolution)
  // ends FAILED with traffic on production.
  core::Result<CheckOutcome> FailUnfollowable(core::Deployment d, const core::Error& why,
                                              core::Timestamp now);

  // Carries out a decision; `check_event` is recorded first, then
  // `hook_events` (the check's hook calls, never announced). A hold that
  // reaches a manual gate adds a "gate" event. `notify_first`: the first
  // event is notified too (an approval's, not a check's).
  core::Result<CheckOutcome> Act(core::Deployment d, const core::Decision& decision,
                                 const core::DeploymentEvent& check_event,
                                 bool notify_first = false,
                                 std::vector<core::DeploymentEvent> hook_events = {});

  // Hooks (issue 15), in controller_hooks.cc. Every call is recorded as a
  // "hook" event (never announced).
  // Calls the hook at `point` if the policy has one; empty when none. The
  // call's event is appended to `events`.
  std::optional<core::HookResponse> CallHook(const core::Deployment& d, core::HookPoint point,
                                             const std::optional<core::HealthReport>& last_check,
                                             std::vector<core::DeploymentEvent>& events);
  // pre_rollout before traffic moves: the refusal's reason, or empty to go on.
  std::optional<std::string> PreRolloutRefusal(const core::Deployment& d,
                                               std::vector<core::DeploymentEvent>& events);
  // Calls the analysis hooks and folds their votes into `report`.
  void RunAnalysis(const core::Deployment& d, core::HealthReport& report,
                   std::vector<core::DeploymentEvent>& events);
  // A check's planned step up (confirm_step) or completion (pre_complete):
  // asks the gate hook, and holds (core::PlanHookHold) unless it answers 2xx.
  core::Decision GateByHooks(const core::Deployment& d, core::Decision decision,
                             const core::HealthReport& report,
                             std::vector<core::DeploymentEvent>& events);
  // post_rollout and on_rollback: called after the end, the call recorded.
  void InformHook(const core::Deployment& d, core::HookPoint point);
  // Act's step up (kShift) or completion (kComplete): records `events` and the
  // new weight (and COMPLETED), then applies the weights; a step whose weights
  // cannot be applied fails the deployment.
  core::Result<CheckOutcome> Advance(core::Deployment d, const core::Decision& decision,
                                     std::vector<core::DeploymentEvent> events, bool notify_first,
                                     CheckOutcome outcome);
  // Records a check that holds; `gate_reached`: with the "gate" event, announced.
  core::Result<core::Deployment> Hold(const core::Deployment& d,
                                      std::vector<core::DeploymentEvent> events, bool gate_reached);
  // Moves a ROLLING_BACK deployment to ROLLED_BACK once production has all traffic.
  core::Result<core::Deployment> FinishRollback(core::Deployment d, core::Timestamp now);
  // Ends a deployment in FAILED with traffic back on production (best effort;
  // move_traffic false: the canary never had any), the transition dated `at`
  // (or now). When the store cannot be written, traffic moves to production
  // anyway and FAILED is kept pending like a rollback (kUnavailable).
  core::Result<core::Deployment> Fail(core::Deployment d, std::vector<core::DeploymentEvent> events,
                                      const std::string& reason, bool move_traffic = true,
                                      std::optional<core::Timestamp> at = std::nullopt);
  // The deployment's weights, then its shadow (ApplyShadow).
  core::Status ApplyWeights(const core::Deployment& d);
  // A policy with a shadow phase: copies traffic to the canary while the
  // deployment is IN_PROGRESS in the shadow phase, stops copying otherwise.
  // Nothing for a policy without one.
  core::Status ApplyShadow(const core::Deployment& d);
  // PENDING -> the canary variant created -> IN_PROGRESS at the initial weight;
  // FAILED (traffic on production, a partly created canary removed) when the
  // canary cannot be readied. In the background start a retryable failure
  // leaves it PENDING for the next tick, until kPendingDeadline after creation.
  core::Result<core::Deployment> ReadyCanary(core::Deployment d);
  // Calls `op` until it succeeds, fails for good, or max_attempts tries were
  // made (retryable errors only, with backoff between tries).
  template <typename Op>
  auto WithRetries(Op op) -> decltype(op());
  // Persists ROLLING_BACK with `events` and the transition (dated `at`, or
  // now), then moves traffic to production and finishes the rollback. When
  // the store cannot be written, traffic moves to production anyway and the
  // rollback is kept pending (kUnavailable: "... the record will follow").
  core::Result<core::Deployment> BeginRollback(core::Deployment d,
                                               std::vector<core::DeploymentEvent> events,
                                               const std::string& reason, const std::string& actor,
                                               std::optional<core::Timestamp> at = std::nullopt);
  // Writes the pending rollback or failure of `id` (if the stored record can
  // still make that transition) and forgets it; empty when none is pending.
  std::optional<core::Result<core::Deployment>> SettlePendingEnd(std::string_view id);
  // The state a pending rollback or failure of `id` is recorded as
  // (ROLLING_BACK or FAILED); empty when none is pending.
  std::optional<core::DeploymentState> PendingEndState(std::string_view id) const;
  // Keeps a rollback or failure the store refused (`record`: ROLLING_BACK or
  // FAILED at weight 0) and moves traffic to production unless it was moved
  // already (`traffic_moved`, or noted so); returns the kUnavailable error the
  // caller answers with.
  core::Error KeepEndPending(const core::Deployment& record,
                             std::vector<core::DeploymentEvent> events, const std::string& reason,
                             const std::string& actor, core::Timestamp at,
                             const core::Error& store_error, bool traffic_moved = false);
  // After the store took the end's record: drops the pending end and the
  // unrecorded checks of `id`.
  void ForgetPendingEnd(std::string_view id);
  // Before a user action: settles a pending rollback or failure; kUnavailable
  // while the store still refuses it.
  core::Status SettleFirst(std::string_view id);
  // Marks an outcome whose work left a rollback or failure pending.
  void MarkUnrecordedEnd(CheckOutcome& outcome, const core::Error& error) const;
  // Replaces d.progress by the progress of the unrecorded checks noted on top
  // of d's version (a stale note is dropped); returns their count.
  int OverlayUnrecorded(core::Deployment& d);
  void NoteCheckError(std::string_view id, const core::Error& error, core::Timestamp at);
  void NoteUnrecordedCheck(std::string_view id, std::int64_t version,
                           const core::RolloutProgress& progress);
  void ForgetUnrecorded(std::string_view id);
  // After COMPLETED: removes the old production variant (unless keep_previous)
  // and records the endpoint's new variants. Failures are recorded as events.
  void FinishCompletion(const core::Deployment& d);
  // After ROLLED_BACK or CANCELLED: removes the canary variant (it has no
  // traffic) and records the endpoint. Failures are recorded as events.
  void RemoveCanary(const core::Deployment& d);
  // Records a non-fatal failure of a clean-up step as an error event.
  void RecordError(const core::Deployment& d, const std::string& reason);
  // Loads a deployment for a user action; FailedPrecondition unless its state is one of `allowed`.
  core::Result<core::Deployment> LoadFor(std::string_view id, std::string_view action,
                                         std::initializer_list<core::DeploymentState> allowed);
  // Brings one deployment's traffic in line with its record (ReconcileAll).
  // Tick's work for a deployment with a request waiting (see Request).
  std::optional<CheckOutcome> CarryOutRequest(const core::Deployment& d);
  core::Status ReconcileOne(const core::Deployment& d);
  // Re-applies the stored canary weight when the traffic control disagrees.
  core::Status Reconcile(const core::Deployment& d);
  // Writes `d` with `events`; `appended` (if not null) gets the events as
  // stored, seq assigned: what the notifier announces.
  core::Result<core::Deployment> Persist(const core::Deployment& d,
                                         std::vector<core::DeploymentEvent> events,
                                         std::vector<core::DeploymentEvent>* appended = nullptr);

  Ports ports_;
  mutable std::mutex mu_;
  std::map<std::string, Noted, std::less<>> notes_;  // GUARDED_BY(mu_), by deployment id
};

// How often the controller reports again an active record its store cannot read.
inline constexpr core::Duration kUnreadableReportInterval = std::chrono::minutes(1);

// How long a background start may keep retrying a canary that cannot be
// readied for a retryable reason (throttling, an endpoint still updating)
// before the deployment fails.
inline constexpr core::Duration kPendingDeadline = std::chrono::hours(2);

}  // namespace mlcanary::controller

#endif  // MLCANARY_CONTROLLER_CONTROLLER_H_
