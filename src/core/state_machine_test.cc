// Tests of the deployment state machine: the allowed transitions of DESIGN.md
// (and no others), terminal states, and the text forms of the states.
#include "core/state_machine.h"

#include <gtest/gtest.h>

#include <array>
#include <ostream>
#include <set>
#include <string>
#include <utility>

namespace mlcanary::core {

// Readable failure messages (found by argument-dependent lookup).
static void PrintTo(DeploymentState state, std::ostream* os) { *os << StateName(state); }

namespace {

using S = DeploymentState;

constexpr std::array<S, 7> kAllStates = {S::kPending,     S::kInProgress, S::kCompleted,
                                         S::kRollingBack, S::kRolledBack, S::kFailed,
                                         S::kCancelled};

// DESIGN.md "States":
//   PENDING -> IN_PROGRESS -> COMPLETED
//   IN_PROGRESS -> ROLLING_BACK -> ROLLED_BACK
//   PENDING | IN_PROGRESS | ROLLING_BACK -> FAILED
//   PENDING | IN_PROGRESS -> CANCELLED
const std::set<std::pair<S, S>>& AllowedTransitions() {
  static const auto* const kAllowed = new std::set<std::pair<S, S>>{
      {S::kPending, S::kInProgress},     {S::kInProgress, S::kCompleted},
      {S::kInProgress, S::kRollingBack}, {S::kRollingBack, S::kRolledBack},
      {S::kPending, S::kFailed},         {S::kInProgress, S::kFailed},
      {S::kRollingBack, S::kFailed},     {S::kPending, S::kCancelled},
      {S::kInProgress, S::kCancelled},
  };
  return *kAllowed;
}

TEST(StateMachineTest, PendingCanStartInProgress) {
  EXPECT_TRUE(CanTransition(S::kPending, S::kInProgress));
  EXPECT_TRUE(CheckTransition(S::kPending, S::kInProgress).has_value());
}

TEST(StateMachineTest, InProgressCanComplete) {
  EXPECT_TRUE(CanTransition(S::kInProgress, S::kCompleted));
  EXPECT_TRUE(CheckTransition(S::kInProgress, S::kCompleted).has_value());
}

TEST(StateMachineTest, InProgressCanStartRollingBack) {
  EXPECT_TRUE(CanTransition(S::kInProgress, S::kRollingBack));
  EXPECT_TRUE(CheckTransition(S::kInProgress, S::kRollingBack).has_value());
}

TEST(StateMachineTest, RollingBackCanFinishAsRolledBack) {
  EXPECT_TRUE(CanTransition(S::kRollingBack, S::kRolledBack));
  EXPECT_TRUE(CheckTransition(S::kRollingBack, S::kRolledBack).has_value());
}

TEST(StateMachineTest, PendingInProgressAndRollingBackCanFail) {
  for (S from : {S::kPending, S::kInProgress, S::kRollingBack}) {
    SCOPED_TRACE(StateName(from));
    EXPECT_TRUE(CanTransition(from, S::kFailed));
    EXPECT_TRUE(CheckTransition(from, S::kFailed).has_value());
  }
}

TEST(StateMachineTest, PendingAndInProgressCanBeCancelled) {
  for (S from : {S::kPending, S::kInProgress}) {
    SCOPED_TRACE(StateName(from));
    EXPECT_TRUE(CanTransition(from, S::kCancelled));
    EXPECT_TRUE(CheckTransition(from, S::kCancelled).has_value());
  }
}

TEST(StateMachineTest, ExactlyTheDesignedTransitionsAreAllowed) {
  int allowed = 0;
  for (S from : kAllStates) {
    for (S to : kAllStates) {
      SCOPED_TRACE(std::string(StateName(from)) + " -> " + std::string(StateName(to)));
      const bool expected = AllowedTransitions().contains({from, to});
      EXPECT_EQ(CanTransition(from, to), expected);
      EXPECT_EQ(CheckTransition(from, to).has_value(), expected);
      if (expected) ++allowed;
    }
  }
  EXPECT_EQ(allowed, 9);
}

TEST(StateMachineTest, EveryRefusedTransitionIsFailedPreconditionNamingBothStates) {
  for (S from : kAllStates) {
    for (S to : kAllStates) {
      if (AllowedTransitions().contains({from, to})) continue;
      const std::string from_name(StateName(from));
      const std::string to_name(StateName(to));
      SCOPED_TRACE(from_name + " -> " + to_name);
      const Status s = CheckTransition(from, to);
      ASSERT_FALSE(s.has_value());
      EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
      EXPECT_FALSE(s.error().retryable());
      EXPECT_NE(s.error().message().find(from_name + " -> " + to_name), std::string::npos)
          << s.error().message();
    }
  }
}

TEST(StateMachineTest, RefusedTransitionMessageMatchesDocumentedForm) {
  const Status s = CheckTransition(S::kCompleted, S::kInProgress);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message(), "transition COMPLETED -> IN_PROGRESS is not allowed");
}

TEST(StateMachineTest, NoStateTransitionsToItself) {
  for (S s : kAllStates) {
    SCOPED_TRACE(StateName(s));
    EXPECT_FALSE(CanTransition(s, s));
  }
}

TEST(StateMachineTest, NothingLeadsBackToPending) {
  for (S from : kAllStates) {
    SCOPED_TRACE(StateName(from));
    EXPECT_FALSE(CanTransition(from, S::kPending));
  }
}

TEST(StateMachineTest, RollingBackCannotBeCancelledOrResumed) {
  EXPECT_FALSE(CanTransition(S::kRollingBack, S::kCancelled));
  EXPECT_FALSE(CanTransition(S::kRollingBack, S::kInProgress));
  EXPECT_FALSE(CanTransition(S::kRollingBack, S::kCompleted));
}

TEST(StateMachineTest, PendingCannotSkipToCompletedOrRollingBack) {
  EXPECT_FALSE(CanTransition(S::kPending, S::kCompleted));
  EXPECT_FALSE(CanTransition(S::kPending, S::kRollingBack));
  EXPECT_FALSE(CanTransition(S::kPending, S::kRolledBack));
}

TEST(StateMachineTest, InProgressCannotSkipRollingBack) {
  EXPECT_FALSE(CanTransition(S::kInProgress, S::kRolledBack));
}

TEST(StateMachineTest, CompletedRolledBackFailedAndCancelledAreTerminal) {
  EXPECT_TRUE(IsTerminal(S::kCompleted));
  EXPECT_TRUE(IsTerminal(S::kRolledBack));
  EXPECT_TRUE(IsTerminal(S::kFailed));
  EXPECT_TRUE(IsTerminal(S::kCancelled));
}

TEST(StateMachineTest, PendingInProgressAndRollingBackAreNotTerminalButActive) {
  for (S s : {S::kPending, S::kInProgress, S::kRollingBack}) {
    SCOPED_TRACE(StateName(s));
    EXPECT_FALSE(IsTerminal(s));
    EXPECT_TRUE(IsActive(s));
  }
}

TEST(StateMachineTest, TerminalStatesAreNotActive) {
  for (S s : kAllStates) {
    SCOPED_TRACE(StateName(s));
    EXPECT_NE(IsTerminal(s), IsActive(s));
  }
}

TEST(StateMachineTest, TerminalStatesHaveNoWayOut) {
  for (S from : kAllStates) {
    if (!IsTerminal(from)) continue;
    for (S to : kAllStates) {
      SCOPED_TRACE(std::string(StateName(from)) + " -> " + std::string(StateName(to)));
      EXPECT_FALSE(CanTransition(from, to));
    }
  }
}

TEST(StateMachineTest, NonTerminalStatesHaveAWayOut) {
  for (S from : kAllStates) {
    if (IsTerminal(from)) continue;
    bool any = false;
    for (S to : kAllStates) any = any || CanTransition(from, to);
    EXPECT_TRUE(any) << StateName(from);
  }
}

TEST(StateMachineTest, StateNamesAreTheApiNames) {
  EXPECT_EQ(StateName(S::kPending), "PENDING");
  EXPECT_EQ(StateName(S::kInProgress), "IN_PROGRESS");
  EXPECT_EQ(StateName(S::kCompleted), "COMPLETED");
  EXPECT_EQ(StateName(S::kRollingBack), "ROLLING_BACK");
  EXPECT_EQ(StateName(S::kRolledBack), "ROLLED_BACK");
  EXPECT_EQ(StateName(S::kFailed), "FAILED");
  EXPECT_EQ(StateName(S::kCancelled), "CANCELLED");
}

TEST(StateMachineTest, ParseStateRoundTripsEveryStateName) {
  for (S s : kAllStates) {
    SCOPED_TRACE(StateName(s));
    const auto parsed = ParseState(StateName(s));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, s);
  }
}

TEST(StateMachineTest, StateNamesAreDistinct) {
  std::set<std::string> names;
  for (S s : kAllStates) names.emplace(StateName(s));
  EXPECT_EQ(names.size(), kAllStates.size());
}

TEST(StateMachineTest, ParseStateRefusesUnknownLowerCaseAndPaddedNames) {
  EXPECT_FALSE(ParseState("").has_value());
  EXPECT_FALSE(ParseState("UNKNOWN").has_value());
  EXPECT_FALSE(ParseState("in_progress").has_value());
  EXPECT_FALSE(ParseState("InProgress").has_value());
  EXPECT_FALSE(ParseState(" PENDING").has_value());
  EXPECT_FALSE(ParseState("PENDING ").has_value());
  EXPECT_FALSE(ParseState("PAUSED").has_value());
}

}  // namespace
}  // namespace mlcanary::core
