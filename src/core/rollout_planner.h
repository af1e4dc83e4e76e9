// The rollout planner: deployment + the check's health report + time in, the
// next action out. All of the design document's movement rules live here:
// consecutive-breach counts, bake time, step schedule, final bake, auto-rollback.
#ifndef MLCANARY_CORE_ROLLOUT_PLANNER_H_
#define MLCANARY_CORE_ROLLOUT_PLANNER_H_

#include <string>
#include <string_view>

#include "core/error.h"
#include "core/health.h"
#include "core/types.h"

namespace mlcanary::core {

enum class Action {
  kHold,      // stay at the current weight
  kShift,     // move the canary to target_weight
  kComplete,  // canary to 1.0, COMPLETED
  kRollback,  // production 1.0 / canary 0.0, ROLLING_BACK then ROLLED_BACK
  kPause,     // a rollback was due but auto_rollback is off: pause for a human
  kFail,      // a non-retryable error (or too many retryable ones): FAILED, traffic to production
};
std::string_view ActionName(Action action);

struct Decision {
  Action action = Action::kHold;
  double target_weight = 0;  // the canary weight after the action
  std::string reason;
  RolloutProgress progress;  // the deployment's progress after this check
  bool ends_shadow = false;  // kShift out of the shadow phase: the split starts
};

// Consecutive checks whose metrics could not be read before the deployment fails.
inline constexpr int kMaxFailedChecks = 5;

// Plans the outcome of one check at `now` on an IN_PROGRESS, unpaused deployment.
// REQUIRES: deployment.state == IN_PROGRESS.
//  - healthy: breach counters reset; when every check of the last `bake` at this
//    weight was healthy, shift to the next weight (1.0 with no final bake: complete);
//    at 1.0, complete once the final bake was healthy throughout;
//  - breached: the matching consecutive counters (latency, error, divergence)
//    grow, the others reset, the bake restarts; a counter at its limit rolls
//    back (or pauses, auto_rollback off);
//  - inconclusive: counters unchanged, the bake restarts;
//  - in the shadow phase (weight 0) the bake is shadow.duration, and its end
//    shifts to the initial weight (ends_shadow); breaches count and roll back
//    as in the split.
// The bake at a weight is its step's own (PolicyStep::bake), else `bake` (at
// 1.0 `final_bake`). At a step with a manual gate, a done bake does not step
// on: the progress says awaiting_approval and every later check holds (a breach
// still rolls back) until PlanApproval. A hold (of any cause) when
// policy.progress_deadline has passed since the weight was reached rolls back
// or fails, as policy.on_progress_deadline says.
Decision PlanCheck(const Deployment& deployment, const HealthReport& report, Timestamp now);

// Plans a user's approval of the gate a deployment waits at.
// REQUIRES: deployment.progress.awaiting_approval.
// Shifts to the next weight (or completes, as a healthy check would) with a
// fresh bake at it.
Decision PlanApproval(const Deployment& deployment, Timestamp now, const std::string& actor);

// Plans the outcome of a check that could not be made: a retryable error holds
// (and fails after kMaxFailedChecks in a row), a non-retryable one fails at
// once; the progress deadline applies to the hold as in PlanCheck.
Decision PlanCheckError(const Deployment& deployment, const Error& error, Timestamp now);

// Turns a check's planned step or completion (`planned`: kShift or kComplete)
// into a hold because the gate hook `hook` (confirm_step, pre_complete) did
// not answer 2xx (`why`): the check counts, the weight stays, the bake stays
// done (the next check asks the hook again), progress.waiting_hook names the
// hook, and the progress deadline applies as to any hold.
Decision PlanHookHold(const Deployment& deployment, const Decision& planned, std::string_view hook,
                      const std::string& why, Timestamp now);

// Progress for a deployment whose canary weight was just set at `now`.
RolloutProgress StartWeight(const RolloutProgress& progress, Timestamp now);

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_ROLLOUT_PLANNER_H_
