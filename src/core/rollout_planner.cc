// Movement rules of a rollout, one check at a time.
#include "core/rollout_planner.h"

#include <cmath>
#include <cstdio>

namespace mlcanary::core {
namespace {

std::string Pct(double weight) {
  char buf[32];
  const double pct = weight * 100;
  if (std::fabs(pct - std::round(pct)) < 1e-6) {
    std::snprintf(buf, sizeof(buf), "%.0f%%", pct);
  } else {
    std::snprintf(buf, sizeof(buf), "%g%%", pct);
  }
  return buf;
}

std::string Count(int n, int limit) { return std::to_string(n) + "/" + std::to_string(limit); }

// A healthy check in the shadow phase: hold until healthy for shadow.duration,
// then the split starts at the initial weight.
Decision PlanShadowEnd(const Deployment& d, Duration healthy_for, Timestamp now, Decision out) {
  const Duration needed = d.policy.shadow_duration;
  if (healthy_for < needed) {
    out.reason = "healthy, shadow " + FormatDuration(healthy_for) + "/" + FormatDuration(needed);
    return out;
  }
  const double initial = InitialWeight(d.policy);
  out.action = Action::kShift;
  out.target_weight = initial;
  out.ends_shadow = true;
  out.reason = "healthy through the shadow phase (" + FormatDuration(healthy_for) +
               "): shadow ended, split starts at " + Pct(initial);
  out.progress = StartWeight(out.progress, now);
  return out;
}

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kHold:
      return "hold";
    case Action::kShift:
      return "shift";
    case Action::kComplete:
      return "complete";
    case Action::kRollback:
      return "rollback";
    case Action::kPause:
      return "pause";
    case Action::kFail:
      return "fail";
  }
  return "hold";
}

RolloutProgress StartWeight(const RolloutProgress& progress, Timestamp now) {
  RolloutProgress p = progress;
  p.weight_since = now;
  p.healthy_since = now;
  p.latency_breaches = 0;
  p.error_breaches = 0;
  p.divergence_breaches = 0;
  p.analysis_breaches = 0;
  p.awaiting_approval = false;
  p.waiting_hook.clear();
  return p;
}

namespace {

// Moves on from the current weight (below 1.0): to the next one, or to
// COMPLETED when that is 1.0 with no bake and no gate of its own.
Decision StepOn(const Deployment& d, Decision out, Timestamp now, const std::string& why) {
  const Policy& policy = d.policy;
  const double next = NextWeight(policy, d.canary_weight);
  out.target_weight = next;
  if (SameWeight(next, 1.0) && BakeAt(policy, 1.0).count() == 0 && !GateAt(policy, 1.0)) {
    out.action = Action::kComplete;
    out.reason = why + ": 100%, complete";
  } else {
    out.action = Action::kShift;
    out.reason = why + ": shift to " + Pct(next);
  }
  out.progress = StartWeight(out.progress, now);
  return out;
}

// The healthy time at the current weight is enough: wait at a gate, or step on.
Decision PlanBaked(const Deployment& d, Decision out, Timestamp now, Duration healthy_for) {
  const Policy& policy = d.policy;
  const bool at_full = SameWeight(d.canary_weight, 1.0);
  if (GateAt(policy, d.canary_weight)) {
    out.progress.awaiting_approval = true;
    out.reason = "healthy for " + FormatDuration(healthy_for) + " at " + Pct(d.canary_weight) +
                 ": waiting for approval at the manual gate of the " + Pct(d.canary_weight) +
                 " step";
    return out;
  }
  if (at_full) {
    out.action = Action::kComplete;
    out.target_weight = 1.0;
    out.reason =
        "healthy through the final bake of " + FormatDuration(BakeAt(policy, 1.0)) + " at 100%";
    return out;
  }
  return StepOn(d, std::move(out), now,
                "healthy for " + FormatDuration(healthy_for) + " at " + Pct(d.canary_weight));
}

// A hold past policy.progress_deadline since the current weight was reached
// ends the deployment as on_progress_deadline says.
Decision ApplyProgressDeadline(const Deployment& d, Decision out, Timestamp now) {
  const Policy& policy = d.policy;
  if (out.action != Action::kHold || policy.progress_deadline.count() <= 0) return out;
  const Duration held = now - d.progress.weight_since;
  if (held < policy.progress_deadline) return out;
  const bool fail = policy.on_progress_deadline == DeadlineAction::kFail;
  out.action = fail ? Action::kFail : Action::kRollback;
  out.target_weight = 0;
  out.reason =
      std::string(fail ? "fail" : "rollback") + ": progress_deadline " +
      FormatDuration(policy.progress_deadline) + " passed with no step from " +
      Pct(d.canary_weight) + " (held " + FormatDuration(held) +
      (d.progress.awaiting_approval ? ", waiting for approval at the manual gate" : "") +
      (out.progress.waiting_hook.empty() ? std::string()
                                         : ", held by the " + out.progress.waiting_hook + " hook") +
      "; last check: " + out.reason + ")";
  return out;
}

// A breached check: the matching counters grow, the bake restarts, and a
// counter at its limit rolls back (or pauses, auto_rollback off).
Decision PlanBreach(const Deployment& d, const HealthReport& report, Timestamp now, Decision out) {
  const Policy& policy = d.policy;
  out.progress.latency_breaches = report.latency_breached ? d.progress.latency_breaches + 1 : 0;
  out.progress.error_breaches = report.error_breached ? d.progress.error_breaches + 1 : 0;
  out.progress.divergence_breaches =
      report.divergence_breached ? d.progress.divergence_breaches + 1 : 0;
  out.progress.analysis_breaches = report.analysis_breached ? d.progress.analysis_breaches + 1 : 0;
  out.progress.healthy_since = now;
  const bool latency_due = out.progress.latency_breaches >= policy.latency_breaches_to_rollback;
  const bool error_due = out.progress.error_breaches >= policy.error_breaches_to_rollback;
  const bool divergence_due =
      out.progress.divergence_breaches >= policy.divergence_breaches_to_rollback;
  const bool analysis_due = out.progress.analysis_breaches >= policy.analysis_breaches_to_rollback;
  std::string counts;
  if (report.latency_breached) {
    counts += "latency breach " +
              Count(out.progress.latency_breaches, policy.latency_breaches_to_rollback);
  }
  if (report.error_breached) {
    if (!counts.empty()) counts += ", ";
    counts +=
        "error breach " + Count(out.progress.error_breaches, policy.error_breaches_to_rollback);
  }
  if (report.divergence_breached) {
    if (!counts.empty()) counts += ", ";
    counts += "divergence breach " +
              Count(out.progress.divergence_breaches, policy.divergence_breaches_to_rollback);
  }
  if (report.analysis_breached) {
    if (!counts.empty()) counts += ", ";
    counts += "analysis breach " +
              Count(out.progress.analysis_breaches, policy.analysis_breaches_to_rollback);
  }
  if (latency_due || error_due || divergence_due || analysis_due) {
    const char* what = latency_due      ? "latency"
                       : error_due      ? "error rate"
                       : divergence_due ? "prediction divergence"
                                        : "analysis";
    const int n = latency_due      ? out.progress.latency_breaches
                  : error_due      ? out.progress.error_breaches
                  : divergence_due ? out.progress.divergence_breaches
                                   : out.progress.analysis_breaches;
    const std::string why = std::string(what) + " breached on " + std::to_string(n) +
                            " consecutive checks (" + report.reason + ")";
    if (policy.auto_rollback) {
      out.action = Action::kRollback;
      out.target_weight = 0;
      out.reason = "rollback: " + why;
    } else {
      out.action = Action::kPause;
      out.reason = "paused instead of rolling back (auto_rollback off): " + why;
    }
    return out;
  }
  out.reason = report.reason + " (" + counts + "); bake restarts";
  return out;
}

Decision PlanVerdict(const Deployment& d, const HealthReport& report, Timestamp now) {
  const Policy& policy = d.policy;
  Decision out;
  out.target_weight = d.canary_weight;
  out.progress = d.progress;
  out.progress.checks += 1;
  out.progress.last_check_at = now;
  out.progress.failed_checks = 0;
  out.progress.waiting_hook.clear();  // set again by a gate hook that still holds

  if (report.verdict == Verdict::kInconclusive) {
    // Neither healthy nor breached: no counter moves, but the healthy run is broken.
    out.progress.healthy_since = now;
    out.reason = report.reason + "; bake restarts";
    return out;
  }

  if (report.breached()) return PlanBreach(d, report, now, std::move(out));

  // Healthy.
  out.progress.latency_breaches = 0;
  out.progress.error_breaches = 0;
  out.progress.divergence_breaches = 0;
  out.progress.analysis_breaches = 0;
  if (d.progress.awaiting_approval) {
    out.reason = "healthy at " + Pct(d.canary_weight) + ", waiting for approval at the manual gate";
    return out;
  }
  const Duration healthy_for = now - out.progress.healthy_since;
  if (d.phase == RolloutPhase::kShadow) return PlanShadowEnd(d, healthy_for, now, std::move(out));
  const bool at_full = SameWeight(d.canary_weight, 1.0);
  const Duration needed = BakeAt(policy, d.canary_weight);
  if (healthy_for < needed) {
    out.reason = "healthy, " + std::string(at_full ? "final bake " : "baking ") +
                 FormatDuration(healthy_for) + "/" + FormatDuration(needed) + " at " +
                 Pct(d.canary_weight);
    return out;
  }
  return PlanBaked(d, std::move(out), now, healthy_for);
}

Decision PlanErrorHold(const Deployment& d, const Error& error, Timestamp now) {
  Decision out;
  out.target_weight = d.canary_weight;
  out.progress = d.progress;
  out.progress.failed_checks += 1;
  out.progress.healthy_since = now;  // an unreadable window is not a healthy one
  if (!error.retryable()) {
    out.action = Action::kFail;
    out.target_weight = 0;
    out.reason = "non-retryable error: " + error.ToString();
    return out;
  }
  if (out.progress.failed_checks >= kMaxFailedChecks) {
    out.action = Action::kFail;
    out.target_weight = 0;
    out.reason = "gave up after " + std::to_string(out.progress.failed_checks) +
                 " failed checks in a row: " + error.ToString();
    return out;
  }
  out.reason = "check failed (" + Count(out.progress.failed_checks, kMaxFailedChecks) +
               ", will retry): " + error.ToString();
  return out;
}

}  // namespace

Decision PlanCheck(const Deployment& d, const HealthReport& report, Timestamp now) {
  return ApplyProgressDeadline(d, PlanVerdict(d, report, now), now);
}

Decision PlanApproval(const Deployment& d, Timestamp now, const std::string& actor) {
  Decision out;
  out.progress = d.progress;
  const std::string why =
      "approved by " + actor + " at the manual gate of the " + Pct(d.canary_weight) + " step";
  if (SameWeight(d.canary_weight, 1.0)) {
    out.action = Action::kComplete;
    out.target_weight = 1.0;
    out.reason = why + ": complete";
    out.progress = StartWeight(out.progress, now);
    return out;
  }
  return StepOn(d, std::move(out), now, why);
}

Decision PlanCheckError(const Deployment& d, const Error& error, Timestamp now) {
  return ApplyProgressDeadline(d, PlanErrorHold(d, error, now), now);
}

Decision PlanHookHold(const Deployment& d, const Decision& planned, std::string_view hook,
                      const std::string& why, Timestamp now) {
  Decision out;
  out.action = Action::kHold;
  out.target_weight = d.canary_weight;
  // The check's counts (a planned step or completion came of a healthy check),
  // without the step: the bake stays done, so the next check asks again.
  out.progress = d.progress;
  out.progress.checks = planned.progress.checks;
  out.progress.last_check_at = planned.progress.last_check_at;
  out.progress.failed_checks = planned.progress.failed_checks;
  out.progress.latency_breaches = 0;
  out.progress.error_breaches = 0;
  out.progress.divergence_breaches = 0;
  out.progress.analysis_breaches = 0;
  out.progress.waiting_hook = std::string(hook);
  out.reason = "held by the " + std::string(hook) + " hook (" + why +
               "), retried at the next check; " + "planned: " + planned.reason;
  return ApplyProgressDeadline(d, std::move(out), now);
}

}  // namespace mlcanary::core
