#include "controller/controller.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <optional>

#include "controller/testing/controller_fixture.h"
#include "core/testing/port_fakes.h"

namespace mlcanary::controller {
namespace {

using core::Action;
using core::Deployment;
using core::DeploymentState;
using core::ErrorCode;
using core::WindowMetrics;
using std::chrono::minutes;

// Passes calls through to the in-memory data plane and fails the ones it is
// told to fail.
class FaultyTrafficControl final : public core::testing::ForwardingTrafficControl {
 public:
  using ForwardingTrafficControl::ForwardingTrafficControl;
  std::deque<core::Error> set_weights_errors;  // consumed one per SetWeights call
  std::optional<core::Error> create_error;
  std::function<void()> during_create;  // runs inside CreateVariant (a concurrent user action)
  bool create_then_fail = false;        // create_error after the variant was made (a timeout)
  std::optional<core::Error> check_error;
  int set_weights_calls = 0;

  core::Status CheckVariant(std::string_view e, const core::Variant& v) override {
    if (check_error) return std::unexpected(*check_error);
    return ForwardingTrafficControl::CheckVariant(e, v);
  }
  core::Status CreateVariant(std::string_view e, const core::Variant& v) override {
    if (create_error && !create_then_fail) return std::unexpected(*create_error);
    if (during_create) during_create();
    auto created = ForwardingTrafficControl::CreateVariant(e, v);
    if (create_error) return std::unexpected(*create_error);
    return created;
  }
  core::Status SetWeights(std::string_view e, const std::vector<core::VariantWeight>& w) override {
    ++set_weights_calls;
    if (!set_weights_errors.empty()) {
      core::Error err = set_weights_errors.front();
      set_weights_errors.pop_front();
      return std::unexpected(err);
    }
    return ForwardingTrafficControl::SetWeights(e, w);
  }
};

class ControllerTest : public testing::ControllerFixture<> {
 protected:
  // The controller sees the data plane through faulty_.
  Ports ports() { return ControllerFixture::ports(faulty_); }

  // Advances one interval and ticks.
  void Step(Controller& c) {
    clock_.Advance(policy_.interval);
    ASSERT_TRUE(c.Tick());
  }

  FaultyTrafficControl faulty_{traffic_};
};

TEST_F(ControllerTest, StartMovesCanaryToInitialWeight) {
  Controller c(ports());
  auto d = c.StartDeployment(Request());
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(d->canary_weight, 0.1);
  EXPECT_EQ(d->production_variant, "production");
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  ASSERT_EQ(notifier_.events.size(), 2u);
  EXPECT_EQ(notifier_.events[1].to_state, DeploymentState::kInProgress);
}

TEST_F(ControllerTest, BackgroundStartRecordsPendingAndTickReadiesTheCanary) {
  Ports p = ports();
  p.start_in_background = true;
  int wakes = 0;
  p.wake = [&] { ++wakes; };
  Controller c(p);
  auto d = c.StartDeployment(Request());
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->state, DeploymentState::kPending);
  EXPECT_EQ(wakes, 1);
  EXPECT_DOUBLE_EQ(CanaryWeight(), -1);  // no canary yet: nothing promised to traffic
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);

  auto outcomes = c.Tick();
  ASSERT_TRUE(outcomes);
  ASSERT_EQ(outcomes->size(), 1u);
  EXPECT_EQ((*outcomes)[0].deployment.state, DeploymentState::kInProgress);
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(store_.Get("d1")->canary_weight, 0.1);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  ASSERT_EQ(notifier_.events.size(), 2u);
  EXPECT_EQ(notifier_.events[1].to_state, DeploymentState::kInProgress);
}

TEST_F(ControllerTest, BackgroundStartFailsCleanlyWhenTheCanaryCannotBeCreated) {
  Ports p = ports();
  p.start_in_background = true;
  Controller c(p);
  ASSERT_TRUE(c.StartDeployment(Request()));
  faulty_.create_error = core::Error(ErrorCode::kValidation, "ValidationException: no model");
  ASSERT_TRUE(c.Tick());
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), -1);
}

TEST_F(ControllerTest, BackgroundStartFailureRemovesAHalfMadeCanaryAndMovesNoTraffic) {
  Ports p = ports();
  p.start_in_background = true;
  Controller c(p);
  ASSERT_TRUE(c.StartDeployment(Request()));
  faulty_.create_error = core::Error(ErrorCode::kInternal, "update ended in a bad state");
  faulty_.create_then_fail = true;
  ASSERT_TRUE(c.Tick());
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(CanaryWeight(), -1);  // the half-made canary was removed
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_EQ(faulty_.set_weights_calls, 0);  // the canary never had traffic to move back
  auto events = store_.ListEvents("d1", 0);
  ASSERT_TRUE(events);
  for (const auto& e : *events) {
    EXPECT_NE(e.kind, core::EventKind::kError) << e.reason;
  }
}

TEST_F(ControllerTest, BackgroundStartRetriesARetryableFailureUntilThePendingDeadline) {
  Ports p = ports();
  p.start_in_background = true;
  Controller c(p);
  ASSERT_TRUE(c.StartDeployment(Request()));
  faulty_.create_error = core::Error(ErrorCode::kUnavailable, "endpoint is updating");
  ASSERT_TRUE(c.Tick());
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kPending);  // tried again next tick
  auto events = store_.ListEvents("d1", 0);
  ASSERT_TRUE(events);
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().kind, core::EventKind::kError);
  EXPECT_NE(events->back().reason.find("endpoint is updating"), std::string::npos);

  clock_.Advance(kPendingDeadline);
  ASSERT_TRUE(c.Tick());
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);

  // Before the deadline, a canary that becomes ready goes on as usual.
  faulty_.create_error.reset();
  ASSERT_TRUE(c.StartDeployment(Request("d2")));
  ASSERT_TRUE(c.Tick());
  EXPECT_EQ(store_.Get("d2")->state, DeploymentState::kInProgress);
}

TEST_F(ControllerTest, BackgroundStartSurvivesARestartWhilePending) {
  Ports p = ports();
  p.start_in_background = true;
  {
    Controller first(p);
    ASSERT_TRUE(first.StartDeployment(Request()));
  }
  Controller restarted(p);
  ASSERT_TRUE(restarted.ReconcileAll());
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kPending);  // resumed, not failed
  ASSERT_TRUE(restarted.Tick());
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
}

TEST_F(ControllerTest, CancelWhileTheCanaryIsBeingReadiedLeavesNoCanary) {
  Ports p = ports();
  p.start_in_background = true;
  Controller c(p);
  ASSERT_TRUE(c.StartDeployment(Request()));
  faulty_.during_create = [&] {
    faulty_.during_create = nullptr;
    auto cancelled = c.Cancel("d1", "user");
    ASSERT_TRUE(cancelled) << cancelled.error().ToString();
  };
  ASSERT_TRUE(c.Tick());
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kCancelled);
  EXPECT_DOUBLE_EQ(CanaryWeight(), -1);  // created after the cancel, then removed
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
}

TEST_F(ControllerTest, AVariantTheTrafficControlRefusesIsRefusedBeforeAnythingIsRecorded) {
  for (bool background : {false, true}) {
    SCOPED_TRACE(background);
    Ports p = ports();
    p.start_in_background = background;
    Controller c(p);
    faulty_.check_error = core::Error(ErrorCode::kValidation, "model kind must be sagemaker");
    auto d = c.StartDeployment(Request());
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code(), ErrorCode::kValidation);
    EXPECT_NE(d.error().message().find("model kind must be sagemaker"), std::string::npos);
    EXPECT_TRUE(store_.List({})->empty());
    EXPECT_TRUE(notifier_.events.empty());
    EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  }
}

TEST_F(ControllerTest, StartOnUnknownEndpointIsNotFoundAndStoresNothing) {
  Controller c(ports());
  StartRequest r = Request();
  r.endpoint = "nope";
  auto d = c.StartDeployment(r);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_.List({})->empty());
}

TEST_F(ControllerTest, StartWithInvalidPolicyIsRefused) {
  Controller c(ports());
  StartRequest r = Request();
  r.policy.initial_weight = 2;
  auto d = c.StartDeployment(r);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kValidation);
  EXPECT_NE(d.error().message().find("initial_weight"), std::string::npos);
}

TEST_F(ControllerTest, SecondDeploymentOnEndpointConflicts) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request("d1")));
  StartRequest r = Request("d2");
  r.canary_variant = "canary2";
  auto second = c.StartDeployment(r);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kConflict);
}

TEST_F(ControllerTest, CanaryThatCannotLoadFailsWithTrafficOnProduction) {
  faulty_.create_error = core::Error(ErrorCode::kModelError, "model file is corrupt");
  Controller c(ports());
  auto d = c.StartDeployment(Request());
  ASSERT_FALSE(d);
  auto stored = store_.Get("d1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(stored->canary_weight, 0);
  EXPECT_EQ(CanaryWeight(), -1);  // never added
}

TEST_F(ControllerTest, HealthyChecksShiftAfterBakeAndTrafficFollowsStore) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  Step(c);
  EXPECT_DOUBLE_EQ(store_.Get("d1")->canary_weight, 0.1);
  Step(c);  // 2 minutes healthy = bake
  EXPECT_DOUBLE_EQ(store_.Get("d1")->canary_weight, 0.2);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.2);
  auto events = store_.ListEvents("d1", 0);
  // created, started, check, check, weight change
  ASSERT_EQ(events->size(), 5u);
  EXPECT_EQ((*events)[4].kind, core::EventKind::kWeightChange);
  ASSERT_TRUE((*events)[3].check.has_value());
  EXPECT_EQ((*events)[3].check->verdict, core::Verdict::kHealthy);
}

TEST_F(ControllerTest, ChecksAreNotNotifiedButStepsAre) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  Step(c);
  Step(c);
  ASSERT_EQ(notifier_.events.size(), 3u);
  EXPECT_EQ(notifier_.events[2].kind, core::EventKind::kWeightChange);
}

// What the notifier announces is the event as stored: its seq (assigned by
// the store, never 0) and deployment id, equal to the event log's entry.
TEST_F(ControllerTest, NotifiedEventsAreTheStoredEventsWithTheirSeq) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request("d1")));  // created, started
  ASSERT_TRUE(c.Pause("d1", "alice"));
  ASSERT_TRUE(c.Resume("d1", "alice"));
  Step(c);
  Step(c);  // a step after the bake
  ASSERT_TRUE(c.Complete("d1", "alice"));
  StartRequest second = Request("d2");
  second.canary_variant = "canary-2";
  ASSERT_TRUE(c.StartDeployment(second));
  ASSERT_TRUE(c.Rollback("d2", "alice"));
  StartRequest third = Request("d3");
  third.canary_variant = "canary-3";
  ASSERT_TRUE(c.StartDeployment(third));
  ASSERT_TRUE(c.Cancel("d3", "alice"));

  ASSERT_GE(notifier_.events.size(), 12u);
  for (const core::DeploymentEvent& e : notifier_.events) {
    ASSERT_GT(e.seq, 0) << e.reason;
    auto stored = store_.ListEvents(e.deployment_id, e.seq - 1);
    ASSERT_TRUE(stored) << e.deployment_id << ": " << stored.error().ToString();
    ASSERT_FALSE(stored->empty());
    EXPECT_EQ(stored->front(), e) << e.deployment_id << " seq " << e.seq;
  }
}

TEST_F(ControllerTest, CheckIsNotRunBeforeTheIntervalHasPassed) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  clock_.Advance(std::chrono::seconds(30));
  auto outcomes = c.Tick();
  ASSERT_TRUE(outcomes);
  EXPECT_TRUE(outcomes->empty());
  EXPECT_EQ(store_.Get("d1")->progress.checks, 0);
}

TEST_F(ControllerTest, RetryableWeightFailureIsRetriedWithBackoff) {
  std::vector<core::Duration> sleeps;
  Ports p = ports();
  p.retry.sleep = [&](core::Duration d) { sleeps.push_back(d); };
  p.retry.random_bits = [] { return ~std::uint64_t{0}; };
  Controller c(p);
  ASSERT_TRUE(c.StartDeployment(Request()));
  Step(c);
  faulty_.set_weights_errors.push_back(core::Error(ErrorCode::kThrottled, "slow down"));
  faulty_.set_weights_errors.push_back(core::Error(ErrorCode::kThrottled, "slow down"));
  Step(c);
  EXPECT_DOUBLE_EQ(store_.Get("d1")->canary_weight, 0.2);
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.2);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LE(sleeps[0], p.retry.base);
  EXPECT_LE(sleeps[1], p.retry.base * 2);
}

TEST_F(ControllerTest, ExhaustedRetriesFailTheDeploymentWithTrafficOnProduction) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  Step(c);
  for (int i = 0; i < RetryOptions{}.max_attempts; ++i) {
    faulty_.set_weights_errors.push_back(core::Error(ErrorCode::kUnavailable, "busy"));
  }
  Step(c);
  auto d = store_.Get("d1");
  EXPECT_EQ(d->state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  auto events = store_.ListEvents("d1", 0);
  EXPECT_NE(events->back().reason.find("gave up after 4 attempts"), std::string::npos)
      << events->back().reason;
}

TEST_F(ControllerTest, NonRetryableWeightFailureFailsTheDeployment) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  Step(c);
  faulty_.set_weights_errors.push_back(core::Error(ErrorCode::kValidation, "bad weights"));
  Step(c);
  auto d = store_.Get("d1");
  EXPECT_EQ(d->state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(d->canary_weight, 0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
}

TEST_F(ControllerTest, ErrorBreachesRollBackAndTrafficReturnsToProduction) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  metrics_.canary.errors_5xx = 50;  // 5%
  Step(c);
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kInProgress);
  Step(c);
  auto d = store_.Get("d1");
  EXPECT_EQ(d->state, DeploymentState::kRolledBack);
  EXPECT_EQ(CanaryWeight(), -1);  // canary removed once it had no traffic
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_EQ(notifier_.events.back().to_state, DeploymentState::kRolledBack);
}

TEST_F(ControllerTest, InterruptedRollbackIsFinishedByTheNextTick) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  metrics_.canary.errors_5xx = 50;
  Step(c);
  for (int i = 0; i < RetryOptions{}.max_attempts; ++i) {
    faulty_.set_weights_errors.push_back(core::Error(ErrorCode::kUnavailable, "endpoint busy"));
  }
  Step(c);
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kRollingBack);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  Step(c);
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kRolledBack);
  EXPECT_EQ(CanaryWeight(), -1);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
}

TEST_F(ControllerTest, RetryableMetricsErrorsHoldThenFail) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  // Each check retries inline (max_attempts), then counts one failed check.
  for (int i = 0; i < core::kMaxFailedChecks * RetryOptions{}.max_attempts; ++i) {
    metrics_.errors.push_back(core::Error(ErrorCode::kTimeout, "metrics timed out"));
  }
  for (int i = 1; i < core::kMaxFailedChecks; ++i) {
    Step(c);
    EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kInProgress) << "check " << i;
  }
  Step(c);
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
}

TEST_F(ControllerTest, NonRetryableMetricsErrorFailsAtOnce) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  metrics_.errors.push_back(core::Error(ErrorCode::kNotFound, "no such metric"));
  Step(c);
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kFailed);
}

TEST_F(ControllerTest, PausedDeploymentIsNotChecked) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  auto d = store_.Get("d1");
  d->paused = true;
  ASSERT_TRUE(store_.Update(*d, {}));
  Step(c);
  Step(c);
  EXPECT_EQ(store_.Get("d1")->progress.checks, 0);
  EXPECT_DOUBLE_EQ(store_.Get("d1")->canary_weight, 0.1);
}

TEST_F(ControllerTest, ANewControllerResumesWhereTheLastStopped) {
  {
    Controller first(ports());
    ASSERT_TRUE(first.StartDeployment(Request()));
    Step(first);
  }
  Controller second(ports());
  Step(second);
  EXPECT_DOUBLE_EQ(store_.Get("d1")->canary_weight, 0.2);
  auto events = store_.ListEvents("d1", 0);
  for (std::size_t i = 0; i < events->size(); ++i)
    EXPECT_EQ((*events)[i].seq, static_cast<int>(i) + 1);
}

TEST_F(ControllerTest, StaleWriteIsRefusedAndWritesNoEvent) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  auto before = store_.Get("d1");
  // Someone else (a user pausing) writes between the controller's read and write.
  auto concurrent = *before;
  concurrent.paused = false;
  ASSERT_TRUE(store_.Update(concurrent, {}));
  clock_.Advance(policy_.interval);
  const auto events_before = store_.ListEvents("d1", 0)->size();
  auto outcome = c.RunCheck("d1");  // reads the fresh version: succeeds
  ASSERT_TRUE(outcome);
  EXPECT_EQ(store_.ListEvents("d1", 0)->size(), events_before + 1);
  auto stale = store_.Update(*before, {core::DeploymentEvent{}});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(store_.ListEvents("d1", 0)->size(), events_before + 1);
}

TEST_F(ControllerTest, CompleteMakesCanaryTheProductionVariant) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  auto d = c.Complete("d1", "admin");
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->state, DeploymentState::kCompleted);
  EXPECT_DOUBLE_EQ(d->canary_weight, 1.0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 1.0);
  EXPECT_EQ(ProductionWeight(), -1);  // old production removed
  auto endpoints = store_.ListEndpoints();
  ASSERT_EQ(endpoints->size(), 1u);
  ASSERT_EQ((*endpoints)[0].variants.size(), 1u);
  EXPECT_EQ((*endpoints)[0].variants[0].name, "canary");
  // The next deployment starts from the new production variant.
  StartRequest next = Request("d2");
  next.canary_variant = "canary-v3";
  auto d2 = c.StartDeployment(next);
  ASSERT_TRUE(d2) << d2.error().ToString();
  EXPECT_EQ(d2->production_variant, "canary");
}

TEST_F(ControllerTest, KeepPreviousLeavesOldProductionAtZero) {
  Controller c(ports());
  StartRequest r = Request();
  r.keep_previous = true;
  ASSERT_TRUE(c.StartDeployment(r));
  ASSERT_TRUE(c.Complete("d1", "admin"));
  EXPECT_DOUBLE_EQ(ProductionWeight(), 0);
}

TEST_F(ControllerTest, AutomaticCompletionAlsoRemovesOldProduction) {
  policy_.steps = {0.5, 1.0};
  policy_.bake = minutes(1);
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  Step(c);
  Step(c);
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kCompleted);
  EXPECT_EQ(ProductionWeight(), -1);
}

TEST_F(ControllerTest, CancelRemovesCanaryAndRestoresProduction) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  auto d = c.Cancel("d1", "admin");
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->state, DeploymentState::kCancelled);
  EXPECT_EQ(CanaryWeight(), -1);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
  EXPECT_EQ(notifier_.events.back().to_state, DeploymentState::kCancelled);
}

TEST_F(ControllerTest, ManualRollbackRecordsTheActor) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  auto d = c.Rollback("d1", "alice");
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->state, DeploymentState::kRolledBack);
  auto events = store_.ListEvents("d1", 0);
  bool found = false;
  for (const auto& e : *events) {
    if (e.to_state == DeploymentState::kRollingBack) {
      found = true;
      EXPECT_EQ(e.actor, "alice");
      EXPECT_NE(e.reason.find("alice"), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(ControllerTest, ActionsRefusedInFinalStatesNameTheState) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  ASSERT_TRUE(c.Complete("d1", "admin"));
  for (auto result : {c.Complete("d1", "a"), c.Cancel("d1", "a"), c.Rollback("d1", "a"),
                      c.Pause("d1", "a"), c.Resume("d1", "a")}) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(result.error().message().find("COMPLETED"), std::string::npos);
  }
  EXPECT_EQ(c.Pause("nope", "a").error().code(), ErrorCode::kNotFound);
}

TEST_F(ControllerTest, PauseStopsChecksAndResumeRestartsTheBake) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  Step(c);  // 1 healthy minute of 2
  ASSERT_TRUE(c.Pause("d1", "admin"));
  EXPECT_EQ(c.Pause("d1", "admin").error().code(), ErrorCode::kFailedPrecondition);
  Step(c);
  Step(c);
  EXPECT_DOUBLE_EQ(store_.Get("d1")->canary_weight, 0.1);
  ASSERT_TRUE(c.Resume("d1", "admin"));
  EXPECT_EQ(c.Resume("d1", "admin").error().code(), ErrorCode::kFailedPrecondition);
  Step(c);  // 1 minute of a fresh bake
  EXPECT_DOUBLE_EQ(store_.Get("d1")->canary_weight, 0.1);
  Step(c);
  EXPECT_DOUBLE_EQ(store_.Get("d1")->canary_weight, 0.2);
}

TEST_F(ControllerTest, ReconcileAllRestoresTheCanaryInAFreshDataPlane) {
  {
    Controller c(ports());
    ASSERT_TRUE(c.StartDeployment(Request()));
    Step(c);
    Step(c);  // 20%
  }
  // A restarted process: a fresh data plane with only the production variant.
  core::testing::VirtualTrafficControl fresh;
  core::Endpoint recs;
  recs.name = "recs";
  recs.variants.push_back({.name = "production", .weight = 1.0, .instances = 1, .model = {}});
  fresh.AddEndpoint(recs);
  Controller restarted({.traffic = fresh,
                        .metrics = metrics_,
                        .store = store_,
                        .notifier = notifier_,
                        .clock = clock_});
  ASSERT_TRUE(restarted.ReconcileAll());
  auto e = fresh.DescribeEndpoint("recs");
  ASSERT_NE(e->FindVariant("canary"), nullptr);
  EXPECT_DOUBLE_EQ(e->FindVariant("canary")->weight, 0.2);
  EXPECT_DOUBLE_EQ(e->FindVariant("production")->weight, 0.8);
}

TEST_F(ControllerTest, ReconcileAllFinishesAnInterruptedRollback) {
  Controller c(ports());
  ASSERT_TRUE(c.StartDeployment(Request()));
  metrics_.canary.errors_5xx = 50;
  Step(c);
  for (int i = 0; i < RetryOptions{}.max_attempts; ++i) {
    faulty_.set_weights_errors.push_back(core::Error(ErrorCode::kUnavailable, "down"));
  }
  Step(c);
  ASSERT_EQ(store_.Get("d1")->state, DeploymentState::kRollingBack);
  ASSERT_TRUE(c.ReconcileAll());
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kRolledBack);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
}

TEST_F(ControllerTest, ReconcileAllFailsADeploymentInterruptedWhileStarting) {
  Deployment d;
  d.id = "d1";
  d.endpoint = "recs";
  d.production_variant = "production";
  d.canary_variant = "canary";
  d.policy = policy_;
  ASSERT_TRUE(store_.Create(d, {}));
  Controller c(ports());
  ASSERT_TRUE(c.ReconcileAll());
  EXPECT_EQ(store_.Get("d1")->state, DeploymentState::kFailed);
  EXPECT_DOUBLE_EQ(ProductionWeight(), 1.0);
}

}  // namespace
}  // namespace mlcanary::controller
