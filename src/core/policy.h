// Policy: how a deployment moves (weights, bake, check interval) and when the
// canary is unhealthy. Defaults are the design document's (API.md "Policy").
#ifndef MLCANARY_CORE_POLICY_H_
#define MLCANARY_CORE_POLICY_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace mlcanary::core {

// How the latency of canary and production is compared (policy latency_judge).
enum class LatencyJudge {
  kThreshold,    // the ratio of p99s against max_latency_ratio (the default)
  kMannWhitney,  // a one-sided Mann-Whitney U test plus a minimum effect
};
// The names of the judges, in enum order: "threshold", "mann_whitney".
inline constexpr std::string_view kLatencyJudgeNames[] = {"threshold", "mann_whitney"};

// What ends a deployment whose progress_deadline passed (policy on_progress_deadline).
enum class DeadlineAction {
  kRollback,  // ROLLING_BACK then ROLLED_BACK (the default)
  kFail,      // FAILED, traffic to production
};
// The names, in enum order: "rollback", "fail".
inline constexpr std::string_view kDeadlineActionNames[] = {"rollback", "fail"};

// One entry of an explicit schedule (policy `steps`). A plain number in YAML or
// JSON is a step with only a weight; an object may add its own bake and a
// manual gate: `{weight: 0.5, bake: 30m, gate: manual}`.
struct PolicyStep {
  double weight = 0;
  // Healthy time at this weight before the next step; empty: the policy's
  // `bake` (at 1.0: `final_bake`).
  std::optional<Duration> bake;
  // After this weight's bake the deployment waits for an approval
  // (POST /v1/deployments/{id}/approve) instead of stepping on.
  bool manual_gate = false;

  PolicyStep() = default;
  // A plain number is a step: `steps = {0.05, 0.5, 1.0}`.
  PolicyStep(double w) : weight(w) {}  // NOLINT(google-explicit-constructor)

  // Only a weight: written back as a plain number.
  bool plain() const { return !bake && !manual_gate; }
  bool operator==(const PolicyStep&) const = default;
};
// The gate kinds a step may name (`gate: manual`).
inline constexpr std::string_view kGateManual = "manual";

// Hooks (issue 15): HTTP calls at points of a rollout (policy `hooks:`), and
// analysis hooks that vote a verdict at every check (policy `analysis:`).
enum class HookPoint {
  kPreRollout,   // before traffic moves: non-2xx fails the deployment
  kConfirmStep,  // before each step up: non-2xx holds the step
  kPreComplete,  // before COMPLETED: non-2xx holds the completion
  kPostRollout,  // after COMPLETED: informational
  kOnRollback,   // after ROLLED_BACK: informational
};
inline constexpr std::size_t kNumHookPoints = 5;
// The names, in enum order (the keys of `hooks:`).
inline constexpr std::string_view kHookPointNames[kNumHookPoints] = {
    "pre_rollout", "confirm_step", "pre_complete", "post_rollout", "on_rollback"};
inline std::string_view HookPointName(HookPoint point) {
  return kHookPointNames[static_cast<std::size_t>(point)];
}
// The keys of one hook's object.
inline constexpr std::string_view kHookKeys[] = {"url", "timeout", "retries", "metadata"};
inline constexpr Duration kMaxHookTimeout = std::chrono::seconds(30);
inline constexpr int kMaxHookRetries = 3;

// One hook: where to call, how long to wait, how often to retry a connection
// error or a 5xx answer, and what to send along (`metadata` in the body).
struct HookSpec {
  std::string url;                              // http:// or https://
  Duration timeout = std::chrono::seconds(10);  // per attempt, in (0, 30s]
  int retries = 1;                              // in [0, 3]
  std::map<std::string, std::string> metadata;
  bool operator==(const HookSpec&) const = default;
};

// The hooks of a policy, by point; an empty one is not called.
struct PolicyHooks {
  std::array<std::optional<HookSpec>, kNumHookPoints> at;

  const std::optional<HookSpec>& operator[](HookPoint point) const {
    return at[static_cast<std::size_t>(point)];
  }
  std::optional<HookSpec>& operator[](HookPoint point) {
    return at[static_cast<std::size_t>(point)];
  }
  bool empty() const {
    for (const auto& h : at) {
      if (h) return false;
    }
    return true;
  }
  bool operator==(const PolicyHooks&) const = default;
};

struct Policy {
  // Traffic schedule. When `steps` is not empty it is the whole schedule (its
  // first entry is the initial weight) and initial_weight/step are not used.
  double initial_weight = 0.10;
  double step = 0.10;
  std::vector<PolicyStep> steps;

  Duration bake = std::chrono::minutes(10);     // healthy time at a weight before the next step
  Duration interval = std::chrono::minutes(1);  // one check per interval
  Duration final_bake = Duration(0);            // healthy time at 1.0 before COMPLETED

  // Absolute thresholds on the canary.
  double max_p99_ms = 100;
  double max_error_rate = 0.01;  // (4XX + 5XX) / invocations
  // Thresholds relative to production.
  double max_latency_ratio = 2.0;     // canary p99 / production p99
  double max_error_rate_diff = 0.05;  // canary error rate - production error rate
  // The ratio rule only judges a canary whose p99 is at least this (ms): two
  // healthy sub-millisecond models differ by 2-4x from noise alone. 0: always.
  double latency_ratio_min_p99_ms = 0;

  int latency_breaches_to_rollback = 3;  // consecutive latency-breached checks
  int error_breaches_to_rollback = 2;    // consecutive error-breached checks
  std::int64_t min_invocations = 100;    // canary invocations per check for a verdict
  bool auto_rollback = true;

  // ML-aware analysis (issue 14); the defaults keep the checks above as they were.
  LatencyJudge latency_judge = LatencyJudge::kThreshold;
  double latency_alpha = 0.05;      // mann_whitney: significance level, in (0, 0.5]
  double latency_min_effect = 1.1;  // mann_whitney: canary p50 / production p50 at least this
  // Prediction divergence: PSI of canary predictions against production's at
  // which a check is divergence-breached; 0 turns the check off.
  double divergence_psi_max = 0;
  std::int64_t divergence_min_predictions = 1000;  // of each variant, for a verdict
  int divergence_breaches_to_rollback = 2;         // consecutive divergence-breached checks

  // Issue 15: a deployment that has not reached its next weight within this
  // since it reached the current one (inconclusive checks, a held gate) ends
  // as on_progress_deadline says. 0: off (the default).
  Duration progress_deadline = Duration(0);
  DeadlineAction on_progress_deadline = DeadlineAction::kRollback;
  // Shadow phase (issue 14): before the split, the canary answers a copy of a
  // share of production's requests; its answers are measured and compared with
  // production's, never returned. Policy key `shadow: {duration, sample}`;
  // duration 0: no shadow phase (the default).
  Duration shadow_duration = Duration(0);
  double shadow_sample = 1.0;  // share of production's requests copied, in (0, 1]
  // Paired divergence (issue 14): in shadow, each copied request's two answers
  // are compared; a pair disagrees when |canary - production| > the tolerance.
  // A check is divergence-breached when the share of disagreeing pairs reaches
  // divergence_max_disagreement (0: the paired check is off).
  double divergence_tolerance = 0.01;
  double divergence_max_disagreement = 0;
  // The output compared of a model with several outputs per row; -1 (unset):
  // single-output models only (a multi-output model makes the check inconclusive).
  std::int64_t divergence_output = -1;
  // Paired divergence in the split phase: this share of the requests each
  // variant answers is also sent to the other variant (never returned), and
  // the pair counted into the paired check's window. 0: off (the default).
  double divergence_mirror_sample = 0;

  // Hooks (issue 15): gate hooks at the rollout's points and analysis hooks
  // judged at every check like a metric, with their own consecutive counter.
  PolicyHooks hooks;
  std::vector<HookSpec> analysis;
  int analysis_breaches_to_rollback = 2;  // consecutive analysis-breached checks

  bool operator==(const Policy&) const = default;
};

// Whether the policy has a shadow phase (shadow.duration > 0).
inline bool ShadowOn(const Policy& p) { return p.shadow_duration.count() > 0; }
// Whether the paired divergence check is on (divergence_max_disagreement > 0).
inline bool PairedDivergenceOn(const Policy& p) { return p.divergence_max_disagreement > 0; }
// Whether the split phase mirrors a share of requests to the other variant.
inline bool MirrorOn(const Policy& p) { return p.divergence_mirror_sample > 0; }
// Whether a divergence check is on (PSI or paired).
inline bool DivergenceOn(const Policy& p) {
  return p.divergence_psi_max > 0 || PairedDivergenceOn(p);
}

// Whether the divergence checks of `p` can judge a model that answers
// `outputs` outputs per row (nullopt: not known before it serves -- a model
// behind HTTP; its checks say so when they run). A validation error naming the
// policy field otherwise: the paired check on a multi-output model without
// `divergence_output`, or naming an output the model does not have
// (`policy.divergence_output`); the PSI check, which reads each row's first
// output, on a multi-output model (`policy.divergence_psi_max`). `who` names
// the model in the message ("the canary model 'recs-v9'").
Status CheckDivergenceOutputs(const Policy& p, std::string_view who,
                              std::optional<std::size_t> outputs);

// The weight grid: weights are rounded to it (RoundWeight), and a policy
// weight is 0 where allowed or at least this.
inline constexpr double kWeightResolution = 1e-6;

// Which rules ValidatePolicy applies.
enum class PolicyRules {
  // A policy asked for now (API body, YAML, StartDeployment): every rule.
  kNew,
  // A policy read back from a stored record, which an older version may have
  // written: the weight-resolution rules came later (a weight below
  // kWeightResolution, steps equal once rounded) and are not applied, so that
  // such a record still reads. See CheckWeightResolution.
  kStored,
};

// A field that breaks a rule, as data: readers anchor it at their own key
// path (YAML: the node's line; JSON: "body.policy.steps[2]").
struct PolicyFieldError {
  std::string_view field;            // a PolicyFields() name (core/policy_fields.h): "steps"
  std::optional<std::size_t> index;  // the entry of a list field: steps[2]
  std::string message;               // without the path: "weight 1.5 must be in (0, 1]"
  std::string_view key = {};         // a key of the entry's object: steps[2].gate
  // A key below `key` (hooks.confirm_step.url: key "confirm_step", subkey "url").
  std::string_view subkey = {};

  std::string Path() const;  // "steps[2]", "steps[2].gate", "bake", "hooks.confirm_step.url"
  Error ToError() const;     // ValidationError "policy.steps[2]: weight 1.5 must be in (0, 1]"
};

// Checks every field in PolicyFields() order (the rules are the table's
// `rule` column); returns the first offending one. A weight below
// kWeightResolution (it would round to 0) is refused (kNew).
std::expected<void, PolicyFieldError> CheckPolicy(const Policy& policy,
                                                  PolicyRules rules = PolicyRules::kNew);

// CheckPolicy as a Status: the error names the offending field ("policy.steps[2]: ...").
Status ValidatePolicy(const Policy& policy, PolicyRules rules = PolicyRules::kNew);

// The schedule's first weight below kWeightResolution (initial_weight, step,
// steps[i]), named as ValidatePolicy names it; Ok when none. Only a policy
// stored by an older version can have one: it rounds to 0, so the schedule
// cannot be followed (a canary at 0 %, or steps that move nothing).
Status CheckWeightResolution(const Policy& policy);

// The weight a deployment starts at.
double InitialWeight(const Policy& policy);

// The weight after `current` on the schedule: the next entry of `steps` above
// `current`, or current + step; never above 1.0. Weights are rounded to 1e-6 so
// that ten steps of 0.1 land exactly on 1.0.
double NextWeight(const Policy& policy, double current);

// The `steps` entry at `weight` (on the grid), or null (no steps, or between them).
const PolicyStep* StepAt(const Policy& policy, double weight);
// The healthy time needed at `weight` before the next step: the step's own
// bake, else `bake` (at 1.0: `final_bake`).
Duration BakeAt(const Policy& policy, double weight);
// Whether the step at `weight` has a manual gate.
bool GateAt(const Policy& policy, double weight);

// Rounds a weight to the 1e-6 grid used everywhere weights are compared.
double RoundWeight(double weight);
bool SameWeight(double a, double b);

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_POLICY_H_
