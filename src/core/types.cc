// Names of the domain's enumerations.
#include "core/types.h"

namespace mlcanary::core {

std::string_view ModelKindName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kXgboost:
      return "xgboost";
    case ModelKind::kHttp:
      return "http";
    case ModelKind::kSagemaker:
      return "sagemaker";
  }
  return "xgboost";
}

std::optional<ModelKind> ParseModelKind(std::string_view name) {
  if (name == "xgboost") return ModelKind::kXgboost;
  if (name == "http") return ModelKind::kHttp;
  if (name == "sagemaker") return ModelKind::kSagemaker;
  return std::nullopt;
}

bool IsSageMakerName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

std::string_view EndpointStatusName(EndpointStatus status) {
  switch (status) {
    case EndpointStatus::kInService:
      return "InService";
    case EndpointStatus::kUpdating:
      return "Updating";
    case EndpointStatus::kFailed:
      return "Failed";
  }
  return "Failed";
}

const Variant* Endpoint::FindVariant(std::string_view variant) const {
  for (const auto& v : variants) {
    if (v.name == variant) return &v;
  }
  return nullptr;
}

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kCheck:
      return "check";
    case EventKind::kTransition:
      return "transition";
    case EventKind::kWeightChange:
      return "weight_change";
    case EventKind::kPaused:
      return "paused";
    case EventKind::kResumed:
      return "resumed";
    case EventKind::kError:
      return "error";
    case EventKind::kGate:
      return "gate";
    case EventKind::kApproved:
      return "approved";
    case EventKind::kHook:
      return "hook";
  }
  return "error";
}

std::optional<EventKind> ParseEventKind(std::string_view name) {
  for (auto k : {EventKind::kCheck, EventKind::kTransition, EventKind::kWeightChange,
                 EventKind::kPaused, EventKind::kResumed, EventKind::kError, EventKind::kGate,
                 EventKind::kApproved, EventKind::kHook}) {
    if (EventKindName(k) == name) return k;
  }
  return std::nullopt;
}

std::string_view UserActionName(UserAction action) {
  switch (action) {
    case UserAction::kComplete:
      return "complete";
    case UserAction::kCancel:
      return "cancel";
    case UserAction::kRollback:
      return "rollback";
    case UserAction::kPause:
      return "pause";
    case UserAction::kResume:
      return "resume";
    case UserAction::kApprove:
      return "approve";
  }
  return "unknown";
}

std::optional<UserAction> ParseUserAction(std::string_view name) {
  for (UserAction a : kUserActions) {
    if (UserActionName(a) == name) return a;
  }
  return std::nullopt;
}

std::string_view RolloutPhaseName(RolloutPhase phase) {
  return phase == RolloutPhase::kShadow ? "shadow" : "split";
}

std::optional<RolloutPhase> ParseRolloutPhase(std::string_view name) {
  if (name == "split") return RolloutPhase::kSplit;
  if (name == "shadow") return RolloutPhase::kShadow;
  return std::nullopt;
}

}  // namespace mlcanary::core
