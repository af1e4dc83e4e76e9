// The controller when its store cannot be written (a full disk): checks are
// reported and never count towards the bake, rollbacks move traffic to
// production at once and are recorded when the store works again, and every
// other action answers Unavailable without changing traffic.
#include <gtest/gtest.h>

#include <string>

#include "controller/controller.h"
#include "controller/testing/controller_fixture.h"
#include "core/testing/full_disk_store.h"
#include "core/testing/port_fakes.h"

namespace mlcanary::controller {
namespace {

using core::Action;
using core::DeploymentState;
using core::ErrorCode;
using core::EventKind;
using core::WindowMetrics;
using std::chrono::minutes;

using core::testing::FullDiskStore;

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

class StoreOutageTest : public testing::ControllerFixture<FullDiskStore> {
 protected:
  StoreOutageTest() { policy_.interval = minutes(1); }

  // Starts d1 at 10 %.
  void Start(Controller& c) {
    auto d = c.StartDeployment(Request());
    ASSERT_TRUE(d) << d.error().ToString();
    ASSERT_DOUBLE_EQ(CanaryWeight(), 0.1);
  }

  // One interval later, one tick; the outcome for d1 (empty: nothing done).
  std::optional<CheckOutcome> Step(Controller& c) {
    clock_.Advance(policy_.interval);
    auto outcomes = c.Tick();
    EXPECT_TRUE(outcomes) << outcomes.error().ToString();
    if (!outcomes || outcomes->empty()) return std::nullopt;
    return outcomes->front();
  }
};

TEST_F(StoreOutageTest, ACheckThatCannotBeRecordedIsReportedWithItsErrorAndTime) {
  Controller c(ports());
  Start(c);
  store_.full = true;
  auto outcome = Step(c);
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->ran);
  ASSERT_TRUE(outcome->error);
  EXPECT_EQ(outcome->error->code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(Contains(outcome->error->message(), "store unavailable"))
      << outcome->error->message();
  EXPECT_TRUE(Contains(outcome->error->message(), "database or disk is full"));
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);  // nothing moved

  auto notes = c.Notes("d1");
  ASSERT_TRUE(notes);
  ASSERT_TRUE(notes->last_check_error);
  EXPECT_TRUE(Contains(notes->last_check_error->message(), "database or disk is full"));
  EXPECT_EQ(notes->last_check_error_at, clock_.Now());
  EXPECT_EQ(notes->unrecorded_checks, 1);
  EXPECT_FALSE(notes->rollback_pending);

  // Checks keep their cadence: the next tick within the interval runs none.
  auto early = c.Tick();
  ASSERT_TRUE(early);
  EXPECT_TRUE(early->empty());
}

TEST_F(StoreOutageTest, AMetricsErrorIsReportedToo) {
  Controller c(ports());
  Start(c);
  metrics_.error = core::Error(ErrorCode::kUnavailable, "CloudWatch throttled");
  auto outcome = Step(c);
  ASSERT_TRUE(outcome);
  ASSERT_TRUE(outcome->error);
  EXPECT_TRUE(Contains(outcome->error->message(), "CloudWatch throttled"));
  ASSERT_TRUE(c.Notes("d1"));
  EXPECT_EQ(c.Notes("d1")->unrecorded_checks, 0);  // recorded, as an error event
  EXPECT_EQ(Events().back().kind, EventKind::kError);
}

TEST_F(StoreOutageTest, UnrecordedChecksNeverCountTowardsTheBake) {
  Controller c(ports());
  Start(c);  // t0: bake 2m
  store_.full = true;
  ASSERT_TRUE(Step(c));  // t0+1m, healthy, not recorded
  ASSERT_TRUE(Step(c));  // t0+2m, healthy, would have completed the bake: not recorded
  EXPECT_EQ(c.Notes("d1")->unrecorded_checks, 2);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  const core::Timestamp last_unrecorded = clock_.Now();

  store_.full = false;
  auto first = Step(c);  // t0+3m: the store says healthy since t0, but the bake restarts
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->error);
  EXPECT_EQ(first->action, Action::kHold) << first->reason;
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.1);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  EXPECT_EQ(Stored().progress.healthy_since, last_unrecorded);
  EXPECT_EQ(Stored().progress.checks, 3);
  EXPECT_TRUE(Contains(Events().back().reason, "2 earlier check(s) not recorded"))
      << Events().back().reason;
  EXPECT_EQ(c.Notes("d1")->unrecorded_checks, 0);

  auto second = Step(c);  // t0+4m: a full bake of recorded checks since the last unrecorded one
  ASSERT_TRUE(second);
  EXPECT_EQ(second->action, Action::kShift) << second->reason;
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.2);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.2);
}

TEST_F(StoreOutageTest, UnrecordedBreachesRollBackWithTrafficOnProductionAndTheRecordFollows) {
  Controller c(ports());
  Start(c);
  const std::int64_t version = Stored().version;
  store_.full = true;
  metrics_.canary.p99_ms = 500;  // latency breached; 3 in a row roll back
  auto one = Step(c);
  auto two = Step(c);
  ASSERT_TRUE(one && two);
  EXPECT_FALSE(one->unrecorded_rollback);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  auto three = Step(c);
  ASSERT_TRUE(three);
  EXPECT_EQ(three->action, Action::kRollback);
  EXPECT_TRUE(three->unrecorded_rollback);
  ASSERT_TRUE(three->error);
  EXPECT_EQ(three->error->code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(Contains(three->error->message(), "traffic is on production; the record will follow"))
      << three->error->message();
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);  // the store did not take it
  EXPECT_EQ(Stored().version, version);
  ASSERT_TRUE(c.Notes("d1"));
  EXPECT_TRUE(c.Notes("d1")->rollback_pending);

  // While the record is pending nothing moves the canary back to its stored
  // (stale) weight, healthy or not, however long it waits.
  metrics_.canary.p99_ms = 45;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Tick());
    Step(c);
    EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  }

  store_.full = false;
  auto settled = Step(c);
  ASSERT_TRUE(settled);
  EXPECT_FALSE(settled->error) << settled->error->ToString();
  EXPECT_EQ(Stored().state, DeploymentState::kRolledBack);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), -1);  // the canary was removed
  EXPECT_FALSE(c.Notes("d1") && c.Notes("d1")->rollback_pending);
  // The record tells the story: the breach check that rolled back, dated then.
  std::vector<core::DeploymentEvent> events = Events();
  auto rolling = std::find_if(events.begin(), events.end(), [](const auto& e) {
    return e.to_state == DeploymentState::kRollingBack && e.kind == EventKind::kTransition;
  });
  ASSERT_NE(rolling, events.end());
  EXPECT_EQ(rolling->actor, "controller");
  EXPECT_TRUE(Contains(rolling->reason, "latency breached on 3 consecutive checks"))
      << rolling->reason;
  ASSERT_NE(rolling, events.begin());
  EXPECT_EQ(std::prev(rolling)->kind, EventKind::kCheck);
  EXPECT_EQ(rolling->time, std::prev(rolling)->time);
}

TEST_F(StoreOutageTest, ManualRollbackAnswersUnavailableWithTrafficOnProduction) {
  Controller c(ports());
  Start(c);
  store_.full = true;
  auto rolled = c.Rollback("d1", "alice");
  ASSERT_FALSE(rolled);
  EXPECT_EQ(rolled.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(
      Contains(rolled.error().message(), "traffic is on production; the record will follow"))
      << rolled.error().message();
  EXPECT_TRUE(Contains(rolled.error().message(), "database or disk is full"));
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);

  // Healthy checks past the whole bake: no step up while the record is pending.
  for (int i = 0; i < 4; ++i) Step(c);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);

  // Other actions wait for the rollback's record.
  for (auto action : {&Controller::Complete, &Controller::Pause, &Controller::Cancel}) {
    auto r = (c.*action)("d1", "bob");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
    EXPECT_TRUE(Contains(r.error().message(), "is being rolled back")) << r.error().message();
  }
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  auto again = c.Rollback("d1", "alice");  // asked again: the same answer
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kUnavailable);

  store_.full = false;
  auto recorded = c.Rollback("d1", "alice");  // or the next tick: the record follows
  ASSERT_TRUE(recorded) << recorded.error().ToString();
  EXPECT_EQ(recorded->state, DeploymentState::kRolledBack);
  std::vector<core::DeploymentEvent> events = Events();
  auto rolling = std::find_if(events.begin(), events.end(), [](const auto& e) {
    return e.to_state == DeploymentState::kRollingBack;
  });
  ASSERT_NE(rolling, events.end());
  EXPECT_EQ(rolling->actor, "alice");
  auto complete = c.Complete("d1", "bob");
  ASSERT_FALSE(complete);
  EXPECT_EQ(complete.error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(StoreOutageTest, TheNextTickRecordsAPendingRollback) {
  Controller c(ports());
  Start(c);
  store_.full = true;
  ASSERT_FALSE(c.Rollback("d1", "alice"));
  store_.full = false;
  auto outcomes = c.Tick();  // not due for a check: the record goes first anyway
  ASSERT_TRUE(outcomes);
  ASSERT_EQ(outcomes->size(), 1u);
  EXPECT_FALSE((*outcomes)[0].error);
  EXPECT_EQ(Stored().state, DeploymentState::kRolledBack);
}

TEST_F(StoreOutageTest, ARollbackWhoseTrafficCouldNotMoveIsRetriedByTheTick) {
  // The traffic control refuses once; the tick moves traffic while the store
  // still refuses the record.
  class RefuseOnce final : public core::testing::ForwardingTrafficControl {
   public:
    using ForwardingTrafficControl::ForwardingTrafficControl;
    bool refuse = false;
    core::Status SetWeights(std::string_view e,
                            const std::vector<core::VariantWeight>& w) override {
      if (refuse) {
        refuse = false;
        return core::MakeError(ErrorCode::kValidation, "endpoint is being updated");
      }
      return ForwardingTrafficControl::SetWeights(e, w);
    }
  } refusing(traffic_);
  Controller c(ports(refusing));
  Start(c);
  store_.full = true;
  refusing.refuse = true;
  auto rolled = c.Rollback("d1", "alice");
  ASSERT_FALSE(rolled);
  EXPECT_TRUE(Contains(rolled.error().message(), "could not be moved to production yet"))
      << rolled.error().message();
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  ASSERT_TRUE(c.Tick());
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
}

TEST_F(StoreOutageTest, AnAutomaticFailureMovesTrafficToProductionAtOnceAndTheRecordFollows) {
  Controller c(ports());
  Start(c);
  const std::int64_t version = Stored().version;
  store_.full = true;
  metrics_.error = core::Error(ErrorCode::kUnavailable, "CloudWatch unreachable");
  for (int i = 1; i < core::kMaxFailedChecks; ++i) {
    auto held = Step(c);
    ASSERT_TRUE(held);
    EXPECT_EQ(held->action, Action::kHold) << held->reason;
    EXPECT_FALSE(held->unrecorded_rollback);
    EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  }
  // The metrics failed too many times in a row: FAILED, which the store refuses.
  auto failed = Step(c);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->action, Action::kFail) << failed->reason;
  EXPECT_TRUE(failed->unrecorded_rollback);
  ASSERT_TRUE(failed->error);
  EXPECT_EQ(failed->error->code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(
      Contains(failed->error->message(), "traffic is on production; the record will follow"))
      << failed->error->message();
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);  // the store did not take it
  EXPECT_EQ(Stored().version, version);
  auto notes = c.Notes("d1");
  ASSERT_TRUE(notes);
  EXPECT_TRUE(notes->rollback_pending);
  EXPECT_EQ(notes->rollback_state, DeploymentState::kFailed);
  EXPECT_TRUE(Contains(notes->rollback_reason, "gave up after 5 failed checks"))
      << notes->rollback_reason;
  EXPECT_EQ(notes->unrecorded_checks, 0);
  const core::Timestamp failed_at = clock_.Now();

  // While the record is pending nothing moves the canary back to its stored
  // weight, metrics back or not, and user actions wait for the record.
  metrics_.error.reset();
  for (int i = 0; i < 3; ++i) {
    Step(c);
    EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  }
  for (auto action : {&Controller::Complete, &Controller::Rollback, &Controller::Resume}) {
    auto r = (c.*action)("d1", "bob");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
    EXPECT_TRUE(Contains(r.error().message(), "deployment 'd1' has failed")) << r.error().message();
    EXPECT_TRUE(Contains(r.error().message(), "traffic is on production")) << r.error().message();
  }
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);

  store_.full = false;
  auto settled = Step(c);
  ASSERT_TRUE(settled);
  EXPECT_FALSE(settled->error) << settled->error->ToString();
  EXPECT_EQ(settled->action, Action::kFail);
  EXPECT_EQ(Stored().state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  EXPECT_FALSE(c.Notes("d1") && c.Notes("d1")->rollback_pending);
  // The record tells the story: the failed check and FAILED, dated when traffic moved.
  std::vector<core::DeploymentEvent> events = Events();
  auto transition = std::find_if(events.begin(), events.end(), [](const auto& e) {
    return e.kind == EventKind::kTransition && e.to_state == DeploymentState::kFailed;
  });
  ASSERT_NE(transition, events.end());
  EXPECT_EQ(transition->time, failed_at);
  EXPECT_TRUE(Contains(transition->reason, "gave up after 5 failed checks")) << transition->reason;
  ASSERT_NE(transition, events.begin());
  EXPECT_EQ(std::prev(transition)->kind, EventKind::kError);
  EXPECT_EQ(std::prev(transition)->time, failed_at);
  ASSERT_FALSE(notifier_.events.empty());
  EXPECT_EQ(notifier_.events.back().to_state, DeploymentState::kFailed);
  // Recorded: the state answers now.
  auto late = c.Rollback("d1", "bob");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(StoreOutageTest,
       AStepTheTrafficControlRefusesFailsWithTrafficOnProductionWhenTheStoreIsFull) {
  // The step to 20 % is recorded; then the disk fills and the traffic control
  // refuses the step for good (not retryable).
  class RefuseTheStep final : public core::testing::ForwardingTrafficControl {
   public:
    RefuseTheStep(core::TrafficControl& inner, FullDiskStore& store)
        : ForwardingTrafficControl(inner), store_(store) {}
    core::Status SetWeights(std::string_view e,
                            const std::vector<core::VariantWeight>& w) override {
      for (const core::VariantWeight& v : w) {
        if (v.variant == "canary" && core::SameWeight(v.weight, 0.2)) {
          store_.full = true;
          return core::MakeError(ErrorCode::kValidation, "instance limit exceeded");
        }
      }
      return ForwardingTrafficControl::SetWeights(e, w);
    }

   private:
    FullDiskStore& store_;
  } refusing(traffic_, store_);
  Controller c(ports(refusing));
  Start(c);
  ASSERT_TRUE(Step(c));  // t0+1m: healthy, bake not done
  auto step = Step(c);   // t0+2m: shift to 20 %, refused
  ASSERT_TRUE(step);
  EXPECT_EQ(step->action, Action::kFail) << step->reason;
  EXPECT_TRUE(step->unrecorded_rollback);
  ASSERT_TRUE(step->error);
  EXPECT_EQ(step->error->code(), ErrorCode::kUnavailable);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.2);  // the step, as recorded before it failed
  ASSERT_TRUE(c.Notes("d1"));
  EXPECT_TRUE(c.Notes("d1")->rollback_pending);
  EXPECT_TRUE(Contains(c.Notes("d1")->rollback_reason, "instance limit exceeded"));

  store_.full = false;
  ASSERT_TRUE(c.Tick());  // the record goes first, due or not
  EXPECT_EQ(Stored().state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  EXPECT_FALSE(c.Notes("d1") && c.Notes("d1")->rollback_pending);
}

TEST_F(StoreOutageTest, UserActionsAnswerUnavailableAndChangeNoTraffic) {
  Controller c(ports());
  Start(c);
  const core::Deployment before = Stored();
  store_.full = true;
  for (auto action : {&Controller::Pause, &Controller::Complete, &Controller::Cancel}) {
    auto r = (c.*action)("d1", "bob");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
    EXPECT_TRUE(Contains(r.error().message(),
                         "store unavailable: InternalError: update "
                         "deployment: database or disk is full"))
        << r.error().message();
    EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  }
  EXPECT_EQ(Stored(), before);
  EXPECT_FALSE(c.Notes("d1") && c.Notes("d1")->rollback_pending);

  StartRequest r{.id = "d2", .endpoint = "recs", .canary_variant = "canary2", .policy = policy_};
  auto started = c.StartDeployment(r);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace mlcanary::controller
