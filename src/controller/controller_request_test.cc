// Controller::Request: a user action asked on a replica that does not run the
// controller (fleet mode) waits on the record until the leader's tick carries
// it out.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "controller/testing/controller_fixture.h"

namespace mlcanary::controller {
namespace {

using core::DeploymentState;
using core::UserAction;
using std::chrono::minutes;

class ControllerRequestTest : public testing::ControllerFixture<> {
 protected:
  Ports ports() {
    Ports p = ControllerFixture::ports();
    p.wake = [this] { ++wakes_; };
    return p;
  }

  core::Deployment Start(Controller& c) {
    auto d = c.StartDeployment(Request());
    EXPECT_TRUE(d) << d.error().ToString();
    return *d;
  }

  int wakes_ = 0;
};

TEST_F(ControllerRequestTest, ARequestedRollbackWaitsOnTheRecordUntilTheLeaderTicks) {
  Controller replica(ports());  // a replica that is not the leader: it only asks
  Controller leader(ports());
  Start(leader);
  ASSERT_DOUBLE_EQ(CanaryWeight(), 0.1);

  auto asked = replica.Request("d1", UserAction::kRollback, "alice");
  ASSERT_TRUE(asked) << asked.error().ToString();
  ASSERT_TRUE(asked->requested.has_value());
  EXPECT_EQ(asked->requested->action, UserAction::kRollback);
  EXPECT_EQ(asked->requested->actor, "alice");
  EXPECT_EQ(asked->state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);  // nothing moved yet
  EXPECT_EQ(wakes_, 1);

  auto outcomes = leader.Tick();
  ASSERT_TRUE(outcomes);
  ASSERT_EQ(outcomes->size(), 1u);
  EXPECT_EQ((*outcomes)[0].reason, "rollback requested by alice");
  auto stored = store_.Get("d1");
  EXPECT_EQ(stored->state, DeploymentState::kRolledBack);
  EXPECT_FALSE(stored->requested.has_value());
  EXPECT_DOUBLE_EQ(traffic_.DescribeEndpoint("recs")->FindVariant("production")->weight, 1.0);
  bool by_alice = false;
  for (const core::DeploymentEvent& e : notifier_.events) {
    by_alice = by_alice || (e.to_state == DeploymentState::kRollingBack && e.actor == "alice");
  }
  EXPECT_TRUE(by_alice);
}

TEST_F(ControllerRequestTest, ARequestTheStateDoesNotAllowIsRefusedAtOnce) {
  Controller c(ports());
  Start(c);
  auto resume = c.Request("d1", UserAction::kResume, "alice");
  ASSERT_FALSE(resume);
  EXPECT_EQ(resume.error().code(), core::ErrorCode::kFailedPrecondition);
  EXPECT_EQ(resume.error().message(), "deployment 'd1' is not paused");
  ASSERT_TRUE(c.Complete("d1", "bob"));
  auto late = c.Request("d1", UserAction::kRollback, "alice");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().message(), "cannot roll back deployment 'd1' in state COMPLETED");
  EXPECT_EQ(c.Request("nope", UserAction::kPause, "alice").error().code(),
            core::ErrorCode::kNotFound);
}

TEST_F(ControllerRequestTest, AskingAgainIsTheSameRequestAndAnotherActionIsAConflict) {
  Controller c(ports());
  Start(c);
  auto first = c.Request("d1", UserAction::kPause, "alice");
  ASSERT_TRUE(first);
  auto again = c.Request("d1", UserAction::kPause, "bob");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->version, first->version);
  EXPECT_EQ(again->requested->actor, "alice");
  auto other = c.Request("d1", UserAction::kComplete, "bob");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), core::ErrorCode::kConflict);
  EXPECT_EQ(other.error().message(),
            "deployment 'd1' has a request to pause by alice waiting for the controller");
}

TEST_F(ControllerRequestTest, ARequestOvertakenByTheRolloutIsDroppedWithAnErrorEvent) {
  Controller c(ports());
  Start(c);
  ASSERT_TRUE(c.Request("d1", UserAction::kPause, "alice"));
  // Before the leader gets to it, someone pauses it directly.
  ASSERT_TRUE(c.Pause("d1", "bob"));
  EXPECT_FALSE(store_.Get("d1")->requested.has_value());  // the action's write cleared it
  // A request the leader can no longer carry out: asked, then overtaken.
  ASSERT_TRUE(c.Resume("d1", "bob"));
  ASSERT_TRUE(c.Request("d1", UserAction::kPause, "carol"));
  core::Deployment d = *store_.Get("d1");
  d.paused = true;  // as if a breach with auto_rollback off paused it meanwhile
  ASSERT_TRUE(store_.Update(d, {}));
  auto outcomes = c.Tick();
  ASSERT_TRUE(outcomes);
  ASSERT_EQ(outcomes->size(), 1u);
  EXPECT_EQ((*outcomes)[0].error->code(), core::ErrorCode::kFailedPrecondition);
  auto stored = store_.Get("d1");
  EXPECT_FALSE(stored->requested.has_value());
  auto log = store_.ListEvents("d1", 0);
  EXPECT_EQ(log->back().kind, core::EventKind::kError);
  EXPECT_EQ(log->back().reason,
            "request to pause by carol not carried out: deployment 'd1' is already paused");
}

TEST_F(ControllerRequestTest, ARequestIsDroppedWhenTheDeploymentEnds) {
  Controller c(ports());
  Start(c);
  ASSERT_TRUE(c.Request("d1", UserAction::kPause, "alice"));
  ASSERT_TRUE(c.Complete("d1", "bob"));
  EXPECT_FALSE(store_.Get("d1")->requested.has_value());
}

}  // namespace
}  // namespace mlcanary::controller
