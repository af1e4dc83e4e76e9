// Deployment states and the only transitions allowed between them (the design
// document's state diagram plus CANCELLED).
#ifndef MLCANARY_CORE_STATE_MACHINE_H_
#define MLCANARY_CORE_STATE_MACHINE_H_

#include <optional>
#include <string_view>

#include "core/error.h"

namespace mlcanary::core {

enum class DeploymentState {
  kPending,
  kInProgress,
  kCompleted,
  kRollingBack,
  kRolledBack,
  kFailed,
  kCancelled,
};

// "PENDING", "IN_PROGRESS", ... as in API.md.
std::string_view StateName(DeploymentState state);
std::optional<DeploymentState> ParseState(std::string_view name);

// True for COMPLETED, ROLLED_BACK, FAILED and CANCELLED: nothing moves any more.
bool IsTerminal(DeploymentState state);
// True while a deployment occupies its endpoint (PENDING, IN_PROGRESS, ROLLING_BACK).
inline bool IsActive(DeploymentState state) { return !IsTerminal(state); }

// Allowed:
//   PENDING -> IN_PROGRESS -> COMPLETED
//   IN_PROGRESS -> ROLLING_BACK -> ROLLED_BACK
//   PENDING | IN_PROGRESS | ROLLING_BACK -> FAILED
//   PENDING | IN_PROGRESS -> CANCELLED
bool CanTransition(DeploymentState from, DeploymentState to);

// Ok, or FailedPrecondition naming both states
// ("transition COMPLETED -> IN_PROGRESS is not allowed").
Status CheckTransition(DeploymentState from, DeploymentState to);

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_STATE_MACHINE_H_
