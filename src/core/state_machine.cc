// The transition table of a deployment.
#include "core/state_machine.h"

#include <string>

namespace mlcanary::core {

std::string_view StateName(DeploymentState state) {
  switch (state) {
    case DeploymentState::kPending:
      return "PENDING";
    case DeploymentState::kInProgress:
      return "IN_PROGRESS";
    case DeploymentState::kCompleted:
      return "COMPLETED";
    case DeploymentState::kRollingBack:
      return "ROLLING_BACK";
    case DeploymentState::kRolledBack:
      return "ROLLED_BACK";
    case DeploymentState::kFailed:
      return "FAILED";
    case DeploymentState::kCancelled:
      return "CANCELLED";
  }
  return "UNKNOWN";
}

std::optional<DeploymentState> ParseState(std::string_view name) {
  for (auto s :
       {DeploymentState::kPending, DeploymentState::kInProgress, DeploymentState::kCompleted,
        DeploymentState::kRollingBack, DeploymentState::kRolledBack, DeploymentState::kFailed,
        DeploymentState::kCancelled}) {
    if (StateName(s) == name) return s;
  }
  return std::nullopt;
}

bool IsTerminal(DeploymentState state) {
  return state == DeploymentState::kCompleted || state == DeploymentState::kRolledBack ||
         state == DeploymentState::kFailed || state == DeploymentState::kCancelled;
}

bool CanTransition(DeploymentState from, DeploymentState to) {
  using S = DeploymentState;
  switch (from) {
    case S::kPending:
      return to == S::kInProgress || to == S::kFailed || to == S::kCancelled;
    case S::kInProgress:
      return to == S::kCompleted || to == S::kRollingBack || to == S::kFailed ||
             to == S::kCancelled;
    case S::kRollingBack:
      return to == S::kRolledBack || to == S::kFailed;
    case S::kCompleted:
    case S::kRolledBack:
    case S::kFailed:
    case S::kCancelled:
      return false;
  }
  return false;
}

Status CheckTransition(DeploymentState from, DeploymentState to) {
  if (CanTransition(from, to)) return Ok();
  return FailedPreconditionError("transition " + std::string(StateName(from)) + " -> " +
                                 std::string(StateName(to)) + " is not allowed");
}

}  // namespace mlcanary::core
