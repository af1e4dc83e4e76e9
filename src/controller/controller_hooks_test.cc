// Hooks (issue 15) through the controller: pre_rollout, confirm_step,
// pre_complete, post_rollout, on_rollback and analysis hooks, with a scripted
// HookCaller; what is stored, announced and applied to traffic.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "core/testing/fake_hook_caller.h"
#include "core/testing/memory_deployment_store.h"
#include "core/testing/virtual_traffic_control.h"

namespace mlcanary::controller {
namespace {

using core::AnalysisVerdict;
using core::DeploymentState;
using core::EventKind;
using core::HookPoint;
using std::chrono::minutes;

// The canary's error rate is the test's to set; both variants have traffic.
class CanaryErrors final : public core::MetricsSource {
 public:
  std::int64_t canary_errors = 0;
  std::int64_t canary_invocations = 1000;
  core::Result<std::map<std::string, core::WindowMetrics>> Snapshot(std::string_view,
                                                                    core::Timestamp,
                                                                    core::Timestamp) override {
    return std::map<std::string, core::WindowMetrics>{
        {"production", {.invocations = 9000, .p50_ms = 20, .p90_ms = 30, .p99_ms = 40}},
        {"canary",
         {.invocations = canary_invocations,
          .errors_5xx = canary_errors,
          .p50_ms = 20,
          .p90_ms = 30,
          .p99_ms = 45}}};
  }
};

class Announced final : public core::Notifier {
 public:
  std::vector<core::DeploymentEvent> seen;
  void Notify(const core::Deployment&, const core::DeploymentEvent& e) override {
    seen.push_back(e);
  }
};

core::HookSpec Hook(const std::string& url) { return core::HookSpec{.url = url}; }

class ControllerHooksTest : public ::testing::Test {
 protected:
  ControllerHooksTest()
      : clock_(core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1))) {
    traffic_.AddEndpoint(
        {.name = "recs", .variants = {{.name = "production", .weight = 1.0, .instances = 1}}});
    // 10% -> 50% -> 100%, two healthy minutes at each weight.
    policy_.bake = minutes(2);
    policy_.steps = {0.1, 0.5, 1.0};
  }

  Ports ports() {
    return {.traffic = traffic_,
            .metrics = metrics_,
            .store = store_,
            .notifier = announced_,
            .clock = clock_,
            .hooks = &hooks_};
  }

  core::Result<core::Deployment> Start(Controller& c) {
    return c.StartDeployment({.id = "d1",
                              .endpoint = "recs",
                              .canary_variant = "canary",
                              .policy = policy_,
                              .actor = "test"});
  }

  void Minutes(Controller& c, int n) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(minutes(1));
      ASSERT_TRUE(c.Tick());
    }
  }

  core::Deployment Stored() { return *store_.Get("d1"); }

  double CanaryWeight() {
    auto e = traffic_.DescribeEndpoint("recs");
    const core::Variant* v = e->FindVariant("canary");
    return v ? v->weight : -1;
  }

  std::vector<core::DeploymentEvent> AllEvents() {
    auto events = store_.ListEvents("d1", 0);
    return events ? *events : std::vector<core::DeploymentEvent>{};
  }

  std::vector<core::DeploymentEvent> HookEvents(const std::string& hook) {
    std::vector<core::DeploymentEvent> out;
    const auto events = store_.ListEvents("d1", 0);
    if (!events) return out;
    for (const auto& e : *events) {
      if (e.kind == EventKind::kHook && e.hook && e.hook->hook == hook) out.push_back(e);
    }
    return out;
  }

  core::ManualClock clock_;
  core::testing::VirtualTrafficControl traffic_;
  core::testing::MemoryDeploymentStore store_;
  CanaryErrors metrics_;
  Announced announced_;
  core::testing::FakeHookCaller hooks_;
  core::Policy policy_;
};

TEST_F(ControllerHooksTest, PreRolloutPassesAndIsRecorded) {
  policy_.hooks[HookPoint::kPreRollout] = Hook("https://user:secret@ci.local/pre?token=abc");
  Controller c(ports());
  auto d = Start(c);
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  ASSERT_EQ(hooks_.CallsOf("pre_rollout"), 1);
  EXPECT_EQ(hooks_.Calls()[0].deployment.state, DeploymentState::kPending);
  const auto events = HookEvents("pre_rollout");
  ASSERT_EQ(events.size(), 1u);
  // Recorded without credentials or query.
  EXPECT_EQ(events[0].hook->url, "https://ci.local/pre");
  EXPECT_EQ(events[0].hook->status, 200);
  EXPECT_EQ(events[0].hook->attempts, 1);
  EXPECT_EQ(events[0].hook->outcome, "ok");
  EXPECT_EQ(events[0].reason.find("secret"), std::string::npos) << events[0].reason;
  // Hook events are stored, never announced.
  for (const auto& e : announced_.seen) EXPECT_NE(e.kind, EventKind::kHook);
}

TEST_F(ControllerHooksTest, PreRolloutRefusalFailsBeforeTrafficMoves) {
  policy_.hooks[HookPoint::kPreRollout] = Hook("http://ci.local/pre");
  hooks_.AnswerStatus("pre_rollout", 403);
  Controller c(ports());
  auto d = Start(c);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("pre_rollout hook"), std::string::npos) << d.error().message();
  EXPECT_EQ(Stored().state, DeploymentState::kFailed);
  EXPECT_EQ(CanaryWeight(), -1) << "the canary is removed, it never had traffic";
  const auto events = HookEvents("pre_rollout");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].hook->outcome, "refused");
  EXPECT_EQ(events[0].hook->status, 403);
  bool failed_named = false;
  for (const auto& e : AllEvents()) {
    if (e.to_state == DeploymentState::kFailed && e.kind == EventKind::kTransition) {
      failed_named = e.reason.find("pre_rollout") != std::string::npos;
    }
  }
  EXPECT_TRUE(failed_named);
}

TEST_F(ControllerHooksTest, PreRolloutUnreachableFails) {
  policy_.hooks[HookPoint::kPreRollout] = Hook("http://ci.local/pre");
  hooks_.Unreachable("pre_rollout");
  Controller c(ports());
  ASSERT_FALSE(Start(c));
  EXPECT_EQ(Stored().state, DeploymentState::kFailed);
  EXPECT_EQ(HookEvents("pre_rollout").at(0).hook->outcome, "unreachable");
}

TEST_F(ControllerHooksTest, ConfirmStepPassesBeforeEachStepUp) {
  policy_.hooks[HookPoint::kConfirmStep] = Hook("http://ci.local/confirm");
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  EXPECT_EQ(hooks_.CallsOf("confirm_step"), 0) << "not for the initial weight";
  Minutes(c, 2);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.5);
  ASSERT_EQ(hooks_.CallsOf("confirm_step"), 1);
  // The body's check is the one that planned the step.
  ASSERT_TRUE(hooks_.Calls().back().last_check);
  EXPECT_EQ(hooks_.Calls().back().last_check->verdict, core::Verdict::kHealthy);
  EXPECT_DOUBLE_EQ(hooks_.Calls().back().deployment.canary_weight, 0.1);
  Minutes(c, 2);
  EXPECT_EQ(Stored().state, DeploymentState::kCompleted);
  EXPECT_EQ(hooks_.CallsOf("confirm_step"), 1) << "the last step completes: pre_complete's";
  EXPECT_EQ(HookEvents("confirm_step").size(), 1u);
}

TEST_F(ControllerHooksTest, ConfirmStepRefusalHoldsAndIsRetriedAtEveryCheckThenReleases) {
  policy_.hooks[HookPoint::kConfirmStep] = Hook("http://ci.local/confirm");
  hooks_.AnswerStatus("confirm_step", 409);
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  Minutes(c, 2);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.1);
  EXPECT_EQ(Stored().progress.waiting_hook, "confirm_step");
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  Minutes(c, 3);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.1);
  EXPECT_EQ(hooks_.CallsOf("confirm_step"), 4) << "asked again at every check";
  EXPECT_EQ(HookEvents("confirm_step").size(), 4u);
  EXPECT_EQ(HookEvents("confirm_step").back().hook->outcome, "refused");
  hooks_.AnswerStatus("confirm_step", 204);
  Minutes(c, 1);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.5);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.5);
  EXPECT_EQ(Stored().progress.waiting_hook, "");
}

TEST_F(ControllerHooksTest, AHeldStepRunsIntoTheProgressDeadline) {
  policy_.hooks[HookPoint::kConfirmStep] = Hook("http://ci.local/confirm");
  policy_.progress_deadline = minutes(5);
  hooks_.Unreachable("confirm_step");
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  Minutes(c, 4);
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);
  Minutes(c, 1);
  EXPECT_EQ(Stored().state, DeploymentState::kRolledBack);
  bool named = false;
  for (const auto& e : AllEvents()) {
    if (e.to_state == DeploymentState::kRollingBack) {
      named = e.reason.find("progress_deadline") != std::string::npos &&
              e.reason.find("confirm_step") != std::string::npos;
      EXPECT_TRUE(named) << e.reason;
    }
  }
  EXPECT_TRUE(named);
}

TEST_F(ControllerHooksTest, HeldStepDeadlineCanFail) {
  policy_.hooks[HookPoint::kConfirmStep] = Hook("http://ci.local/confirm");
  policy_.progress_deadline = minutes(3);
  policy_.on_progress_deadline = core::DeadlineAction::kFail;
  hooks_.AnswerStatus("confirm_step", 500);
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  Minutes(c, 3);
  EXPECT_EQ(Stored().state, DeploymentState::kFailed);
}

TEST_F(ControllerHooksTest, ABreachStillRollsBackWhileHeld) {
  policy_.hooks[HookPoint::kConfirmStep] = Hook("http://ci.local/confirm");
  hooks_.AnswerStatus("confirm_step", 503);
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  Minutes(c, 2);
  EXPECT_EQ(Stored().progress.waiting_hook, "confirm_step");
  metrics_.canary_errors = 500;  // 50 % errors
  Minutes(c, 2);                 // error_breaches_to_rollback: 2
  EXPECT_EQ(Stored().state, DeploymentState::kRolledBack);
}

TEST_F(ControllerHooksTest, PreCompleteHoldsTheCompletionThenPostRolloutIsInformed) {
  policy_.hooks[HookPoint::kPreComplete] = Hook("http://ci.local/pre-complete");
  policy_.hooks[HookPoint::kPostRollout] = Hook("http://chat.local/done");
  hooks_.AnswerStatus("pre_complete", 423);
  hooks_.AnswerStatus("post_rollout", 500);  // informational: only recorded
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  Minutes(c, 4);  // at 50 % and baked: the completion is asked
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.5);
  EXPECT_EQ(Stored().progress.waiting_hook, "pre_complete");
  EXPECT_EQ(hooks_.CallsOf("post_rollout"), 0);
  hooks_.AnswerStatus("pre_complete", 200);
  Minutes(c, 1);
  EXPECT_EQ(Stored().state, DeploymentState::kCompleted);
  EXPECT_EQ(hooks_.CallsOf("post_rollout"), 1);
  const auto post = HookEvents("post_rollout");
  ASSERT_EQ(post.size(), 1u);
  EXPECT_EQ(post[0].hook->outcome, "refused");
  EXPECT_EQ(Stored().state, DeploymentState::kCompleted);
}

TEST_F(ControllerHooksTest, OnRollbackIsInformedAfterRolledBack) {
  policy_.hooks[HookPoint::kOnRollback] = Hook("http://pager.local/rollback");
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  ASSERT_TRUE(c.Rollback("d1", "alice"));
  EXPECT_EQ(Stored().state, DeploymentState::kRolledBack);
  ASSERT_EQ(hooks_.CallsOf("on_rollback"), 1);
  EXPECT_EQ(hooks_.Calls().back().deployment.state, DeploymentState::kRolledBack);
  EXPECT_EQ(HookEvents("on_rollback").size(), 1u);
}

TEST_F(ControllerHooksTest, AnalysisBreachesCountToARollback) {
  policy_.analysis = {Hook("http://eval.local/vote")};
  policy_.analysis_breaches_to_rollback = 2;
  hooks_.AnswerVerdict(AnalysisVerdict::kBreached, "offline AUC dropped 4%");
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  Minutes(c, 1);
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);
  EXPECT_EQ(Stored().progress.analysis_breaches, 1);
  const auto checks = AllEvents();
  const core::DeploymentEvent* check = nullptr;
  for (const auto& e : checks) {
    if (e.kind == EventKind::kCheck) check = &e;
  }
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->check->verdict, core::Verdict::kAnalysisBreached);
  ASSERT_EQ(check->check->analysis.size(), 1u);
  EXPECT_EQ(check->check->analysis[0].verdict, AnalysisVerdict::kBreached);
  EXPECT_EQ(check->check->analysis[0].reason, "offline AUC dropped 4%");
  Minutes(c, 1);
  EXPECT_EQ(Stored().state, DeploymentState::kRolledBack);
  bool named = false;
  for (const auto& e : AllEvents()) {
    if (e.to_state == DeploymentState::kRollingBack) {
      named = e.reason.find("analysis breached on 2 consecutive checks") != std::string::npos;
      EXPECT_TRUE(named) << e.reason;
    }
  }
  EXPECT_TRUE(named);
  EXPECT_EQ(HookEvents("analysis").size(), 2u);
  EXPECT_EQ(HookEvents("analysis")[0].hook->outcome, "breached");
}

TEST_F(ControllerHooksTest, AHealthyVoteBetweenBreachesResetsTheCounter) {
  policy_.analysis = {Hook("http://eval.local/vote")};
  hooks_.AnswerVerdict(AnalysisVerdict::kBreached);
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  Minutes(c, 1);
  hooks_.AnswerVerdict(AnalysisVerdict::kHealthy);
  Minutes(c, 1);
  EXPECT_EQ(Stored().progress.analysis_breaches, 0);
  hooks_.AnswerVerdict(AnalysisVerdict::kBreached);
  Minutes(c, 1);
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);
}

TEST_F(ControllerHooksTest, InconclusiveAndUnreachableAnalysisHolds) {
  policy_.analysis = {Hook("http://eval.local/vote")};
  hooks_.AnswerVerdict(AnalysisVerdict::kInconclusive, "not enough labels yet");
  Controller c(ports());
  ASSERT_TRUE(Start(c));
  Minutes(c, 4);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.1) << "inconclusive holds the bake";
  hooks_.Unreachable("analysis");
  Minutes(c, 4);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.1) << "an unreachable hook counts as inconclusive";
  EXPECT_EQ(Stored().state, DeploymentState::kInProgress);
  EXPECT_EQ(HookEvents("analysis").back().hook->outcome, "inconclusive");
  hooks_.AnswerVerdict(AnalysisVerdict::kHealthy);
  Minutes(c, 2);
  EXPECT_DOUBLE_EQ(Stored().canary_weight, 0.5);
}

TEST_F(ControllerHooksTest, APolicyWithHooksIsRefusedWithoutACaller) {
  policy_.hooks[HookPoint::kConfirmStep] = Hook("http://ci.local/confirm");
  Ports p = ports();
  p.hooks = nullptr;
  Controller c(p);
  auto d = Start(c);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("policy.hooks"), std::string::npos) << d.error().message();
  policy_.hooks = {};
  policy_.analysis = {Hook("http://eval.local/vote")};
  d = Start(c);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("policy.analysis"), std::string::npos) << d.error().message();
}

}  // namespace
}  // namespace mlcanary::controller
