// Manual gates, approvals and the progress deadline (issue 15) through the
// controller: what is stored, announced and applied to traffic.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "controller/testing/controller_fixture.h"

namespace mlcanary::controller {
namespace {

using core::DeploymentState;
using core::EventKind;
using std::chrono::minutes;

class ControllerGatesTest : public testing::ControllerFixture<> {
 protected:
  ControllerGatesTest() {
    // 10% -> 50% (gate) -> 100%, two healthy minutes at each weight.
    policy_.steps = {0.1, 0.5, 1.0};
    policy_.steps[1].manual_gate = true;
  }

  void Start(Controller& c) {
    auto d = c.StartDeployment(Request());
    ASSERT_TRUE(d) << d.error().ToString();
  }

  // Ticks once a minute, `n` times.
  void Minutes(Controller& c, int n) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(minutes(1));
      ASSERT_TRUE(c.Tick());
    }
  }
};

TEST_F(ControllerGatesTest, WaitsAtTheGateWithOneGateEventAndChecksGoingOn) {
  Controller c(ports());
  Start(c);
  Minutes(c, 2);  // 10% baked: 50%
  ASSERT_DOUBLE_EQ(CanaryWeight(), 0.5);
  Minutes(c, 2);  // 50% baked: the gate
  EXPECT_TRUE(Stored().progress.awaiting_approval);
  Minutes(c, 30);
  const core::Deployment d = Stored();
  EXPECT_EQ(d.state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(d.canary_weight, 0.5);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.5);
  EXPECT_EQ(d.progress.checks, 34);
  const auto gates = EventsOf(EventKind::kGate);
  ASSERT_EQ(gates.size(), 1u);
  EXPECT_NE(gates[0].reason.find("the manual gate of the 50% step (steps[1])"), std::string::npos)
      << gates[0].reason;
  EXPECT_TRUE(notifier_.Has(EventKind::kGate));
}

TEST_F(ControllerGatesTest, ApproveTakesTheStepAtOnceAndIsRecordedWithItsActor) {
  Controller c(ports());
  Start(c);
  Minutes(c, 4);
  ASSERT_TRUE(Stored().progress.awaiting_approval);
  auto approved = c.Approve("d1", "alice");
  ASSERT_TRUE(approved) << approved.error().ToString();
  EXPECT_EQ(approved->state, DeploymentState::kCompleted);  // 1.0 has no final bake
  EXPECT_FALSE(approved->progress.awaiting_approval);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 1.0);
  const auto approvals = EventsOf(EventKind::kApproved);
  ASSERT_EQ(approvals.size(), 1u);
  EXPECT_EQ(approvals[0].actor, "alice");
  EXPECT_EQ(approvals[0].time, clock_.Now());
  EXPECT_TRUE(notifier_.Has(EventKind::kApproved));
}

TEST_F(ControllerGatesTest, ApproveShiftsAndTheRolloutContinuesToItsNextBake) {
  policy_.final_bake = minutes(3);
  Controller c(ports());
  Start(c);
  Minutes(c, 4);
  auto approved = c.Approve("d1", "alice");
  ASSERT_TRUE(approved) << approved.error().ToString();
  EXPECT_EQ(approved->state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(approved->canary_weight, 1.0);
  Minutes(c, 3);
  EXPECT_EQ(Stored().state, DeploymentState::kCompleted);
}

TEST_F(ControllerGatesTest, ApproveWhenNotAtAGateIsAFailedPreconditionAndTwiceTheSecondIs) {
  policy_.final_bake = minutes(3);
  Controller c(ports());
  Start(c);
  auto early = c.Approve("d1", "alice");
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code(), core::ErrorCode::kFailedPrecondition);
  EXPECT_EQ(early.error().message(), "deployment 'd1' is not waiting at a gate");
  Minutes(c, 4);
  ASSERT_TRUE(c.Approve("d1", "alice"));
  auto again = c.Approve("d1", "bob");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), core::ErrorCode::kFailedPrecondition);
  EXPECT_EQ(EventsOf(EventKind::kApproved).size(), 1u);
  auto unknown = c.Approve("nope", "alice");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), core::ErrorCode::kNotFound);
}

TEST_F(ControllerGatesTest, ABreachWhileWaitingAtTheGateRollsBack) {
  Controller c(ports());
  Start(c);
  Minutes(c, 5);
  ASSERT_TRUE(Stored().progress.awaiting_approval);
  metrics_.canary.errors_5xx = 100;  // 10%: error-breached
  Minutes(c, 2);
  EXPECT_EQ(Stored().state, DeploymentState::kRolledBack);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  auto late = c.Approve("d1", "alice");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().message(), "cannot approve deployment 'd1' in state ROLLED_BACK");
}

TEST_F(ControllerGatesTest, ProgressDeadlineRollsBackAGateNobodyApproves) {
  policy_.progress_deadline = minutes(10);
  Controller c(ports());
  Start(c);
  Minutes(c, 11);  // 50% since minute 2: the deadline passes at minute 12
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);
  Minutes(c, 1);
  EXPECT_EQ(Stored().state, DeploymentState::kRolledBack);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  bool named = false;
  for (const auto& e : notifier_.events) {
    named = named || (e.to_state == DeploymentState::kRollingBack &&
                      e.reason.find("progress_deadline 10m") != std::string::npos);
  }
  EXPECT_TRUE(named) << "the rollback is announced naming progress_deadline";
}

TEST_F(ControllerGatesTest, ProgressDeadlineFailsAnInconclusiveCanaryWhenThePolicySaysFail) {
  policy_.progress_deadline = minutes(5);
  policy_.on_progress_deadline = core::DeadlineAction::kFail;
  metrics_.canary.invocations = 10;  // below min_invocations: inconclusive
  Controller c(ports());
  Start(c);
  Minutes(c, 4);
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);
  Minutes(c, 1);
  const core::Deployment d = Stored();
  EXPECT_EQ(d.state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  bool named = false;
  for (const auto& e : notifier_.events) {
    named = named || (e.to_state == DeploymentState::kFailed &&
                      e.reason.find("progress_deadline 5m") != std::string::npos);
  }
  EXPECT_TRUE(named);
}

TEST_F(ControllerGatesTest, AnApprovalAskedOnAReplicaIsCarriedOutByTheLeader) {
  Controller replica(ports());
  Controller leader(ports());
  Start(leader);
  auto early = replica.Request("d1", core::UserAction::kApprove, "alice");
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code(), core::ErrorCode::kFailedPrecondition);
  Minutes(leader, 4);
  auto asked = replica.Request("d1", core::UserAction::kApprove, "alice");
  ASSERT_TRUE(asked) << asked.error().ToString();
  ASSERT_TRUE(asked->requested.has_value());
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.5);
  ASSERT_TRUE(leader.Tick());
  EXPECT_EQ(Stored().state, DeploymentState::kCompleted);
  EXPECT_FALSE(Stored().requested.has_value());
  ASSERT_EQ(EventsOf(EventKind::kApproved).size(), 1u);
  EXPECT_EQ(EventsOf(EventKind::kApproved)[0].actor, "alice");
}

}  // namespace
}  // namespace mlcanary::controller
