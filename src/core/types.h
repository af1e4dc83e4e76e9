// The domain's nouns: endpoints, variants, model specs, deployments and the
// events recorded for them. Plain values; no behaviour beyond small helpers.
#ifndef MLCANARY_CORE_TYPES_H_
#define MLCANARY_CORE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/health.h"
#include "core/policy.h"
#include "core/state_machine.h"
#include "core/time.h"

namespace mlcanary::core {

enum class ModelKind { kXgboost, kHttp, kSagemaker };
std::string_view ModelKindName(ModelKind kind);  // "xgboost", "http", "sagemaker"
std::optional<ModelKind> ParseModelKind(std::string_view name);

// A SageMaker resource name (endpoint, config, variant, model):
// [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}, at most 63 characters.
bool IsSageMakerName(std::string_view name);

// Where a variant's model comes from.
struct ModelSpec {
  ModelKind kind = ModelKind::kXgboost;
  std::string path;                  // kXgboost: model file (.json or .ubj)
  std::string url;                   // kHttp: base URL of a SageMaker-contract server
  Duration timeout = Duration(200);  // kHttp: per-request timeout
  std::string name;                  // kSagemaker: the SageMaker Model (CreateModel) to serve
  std::string instance_type;         // kSagemaker: ml.* type; empty: production's type
  bool operator==(const ModelSpec&) const = default;
};

// One model behind an endpoint.
struct Variant {
  std::string name;
  double weight = 0;
  int instances = 1;
  ModelSpec model;
  bool operator==(const Variant&) const = default;
};

enum class EndpointStatus { kInService, kUpdating, kFailed };
std::string_view EndpointStatusName(EndpointStatus status);  // "InService", ...

// A named inference target with its variants.
struct Endpoint {
  std::string name;
  EndpointStatus status = EndpointStatus::kInService;
  std::vector<Variant> variants;

  const Variant* FindVariant(std::string_view variant) const;
  bool operator==(const Endpoint&) const = default;
};

// The planner's memory between checks. Lives in the deployment record so that
// the controller itself keeps no state and a restart resumes where it stopped.
struct RolloutProgress {
  Timestamp weight_since{};                // when the current canary weight was set
  Timestamp healthy_since{};               // start of the run of healthy checks at this weight
  std::optional<Timestamp> last_check_at;  // end of the last check's window
  int latency_breaches = 0;                // consecutive latency-breached checks
  int error_breaches = 0;                  // consecutive error-breached checks
  int divergence_breaches = 0;             // consecutive divergence-breached checks
  int analysis_breaches = 0;               // consecutive analysis-breached checks (issue 15)
  int failed_checks = 0;                   // consecutive checks that could not read metrics
  std::int64_t checks = 0;                 // checks run so far
  // Waiting at a manual gate (the step at this weight has `gate: manual` and
  // its bake is done) until a user approves (Deployment JSON: waiting_for).
  bool awaiting_approval = false;
  // A gate hook (confirm_step, pre_complete) answered non-2xx at the last
  // check and holds the step (Deployment JSON: waiting_for "hook:<name>");
  // empty otherwise.
  std::string waiting_hook;
  bool operator==(const RolloutProgress&) const = default;
};

// The user actions on a deployment (API.md: POST /v1/deployments/{id}/<action>).
enum class UserAction { kComplete, kCancel, kRollback, kPause, kResume, kApprove };
// Every action, in the order the API lists them.
inline constexpr UserAction kUserActions[] = {UserAction::kComplete, UserAction::kCancel,
                                              UserAction::kRollback, UserAction::kPause,
                                              UserAction::kResume,   UserAction::kApprove};
std::string_view UserActionName(UserAction action);  // "complete", "cancel", ...
std::optional<UserAction> ParseUserAction(std::string_view name);

// A user action asked on a replica that does not run the controller (fleet
// mode): kept on the deployment's record until the leader's controller
// carries it out (and clears it in the same write).
struct ActionRequest {
  UserAction action = UserAction::kRollback;
  std::string actor;
  Timestamp at{};
  bool operator==(const ActionRequest&) const = default;
};

// Which part of the rollout an IN_PROGRESS deployment is in (issue 14).
enum class RolloutPhase {
  kSplit,   // the canary serves its weight of user traffic (the only phase without shadow)
  kShadow,  // weight 0: the canary answers copies of production's requests, never returned
};
std::string_view RolloutPhaseName(RolloutPhase phase);  // "split", "shadow"
std::optional<RolloutPhase> ParseRolloutPhase(std::string_view name);

// One canary rollout on one endpoint.
struct Deployment {
  std::string id;
  std::string endpoint;
  std::string production_variant;
  std::string canary_variant;
  ModelSpec canary_model;
  int canary_instances = 1;
  DeploymentState state = DeploymentState::kPending;
  double canary_weight = 0;  // the weight intended (and, once applied, in force)
  bool paused = false;
  bool keep_previous = false;  // keep the old production variant (at 0 %) after COMPLETED
  Policy policy;
  Timestamp created_at{};
  Timestamp updated_at{};
  RolloutProgress progress;
  std::int64_t version = 0;                // optimistic concurrency: bumped by every store write
  std::optional<ActionRequest> requested;  // waiting for the leader (fleet mode)
  // kShadow from the start of a policy with a shadow phase until its split starts.
  RolloutPhase phase = RolloutPhase::kSplit;
  bool operator==(const Deployment&) const = default;
};

enum class EventKind {
  kCheck,         // one health evaluation, with its values and verdict
  kTransition,    // a state change (may carry a weight change too)
  kWeightChange,  // a traffic shift without a state change
  kPaused,        // paused by a user, or by a breach with auto_rollback off
  kResumed,
  kError,     // a port failed during a check (retried or fatal)
  kGate,      // reached a manual gate: waits for an approval (issue 15)
  kApproved,  // a user approved the gate: the step it held is taken
  kHook,      // a hook was called (issue 15): HookCall says how it went; not announced
};
std::string_view EventKindName(EventKind kind);  // "check", "transition", ...
std::optional<EventKind> ParseEventKind(std::string_view name);

// One hook call, as an event records it (issue 15).
struct HookCall {
  std::string hook;  // "pre_rollout", ..., "analysis"
  std::string url;   // without credentials or query
  int status = 0;    // HTTP status of the last attempt; 0: no answer
  int attempts = 0;
  std::int64_t elapsed_ms = 0;
  std::string outcome;  // "ok", "refused" (non-2xx), "unreachable", or an analysis verdict
  bool operator==(const HookCall&) const = default;
};

// An entry of a deployment's append-only event log.
struct DeploymentEvent {
  std::int64_t seq = 0;  // 1, 2, ... per deployment; assigned by the store
  std::string deployment_id;
  Timestamp time{};
  EventKind kind = EventKind::kCheck;
  DeploymentState from_state = DeploymentState::kPending;
  DeploymentState to_state = DeploymentState::kPending;
  double weight_before = 0;
  double weight_after = 0;
  std::string reason;
  std::string actor;  // "controller", "user", "system"
  std::optional<HealthReport> check;
  std::optional<HookCall> hook;  // kHook: the call
  bool operator==(const DeploymentEvent&) const = default;
};

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_TYPES_H_
