// Tests of ControllerStatus: what the controller publishes per endpoint.
#include "metrics/controller_status.h"

#include <gtest/gtest.h>

namespace mlcanary::metrics {
namespace {

using core::DeploymentState;
using core::Verdict;

TEST(ControllerStatusTest, StartsEmpty) { EXPECT_TRUE(ControllerStatus().Endpoints().empty()); }

TEST(ControllerStatusTest, KeepsTheLatestDeploymentStateAndWeight) {
  ControllerStatus status;
  status.SetDeployment("recs", "d-1", DeploymentState::kInProgress, 0.1, false);
  status.SetDeployment("recs", "d-1", DeploymentState::kInProgress, 0.2, true);
  const auto endpoints = status.Endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].endpoint, "recs");
  EXPECT_EQ(endpoints[0].deployment_id, "d-1");
  EXPECT_EQ(endpoints[0].state, DeploymentState::kInProgress);
  EXPECT_DOUBLE_EQ(endpoints[0].canary_weight, 0.2);
  EXPECT_TRUE(endpoints[0].paused);
}

TEST(ControllerStatusTest, CountsChecksByVerdictAndRemembersTheLast) {
  ControllerStatus status;
  status.RecordCheck("recs", Verdict::kHealthy);
  status.RecordCheck("recs", Verdict::kHealthy);
  status.RecordCheck("recs", Verdict::kLatencyBreached);
  status.RecordCheckError("recs");
  const auto e = status.Endpoints().at(0);
  EXPECT_EQ(e.checks[static_cast<int>(Verdict::kHealthy)], 2);
  EXPECT_EQ(e.checks[static_cast<int>(Verdict::kLatencyBreached)], 1);
  EXPECT_EQ(e.last_verdict, Verdict::kLatencyBreached);
  EXPECT_EQ(e.check_errors, 1);
}

TEST(ControllerStatusTest, KeepsTheLastCheckErrorAndWhen) {
  ControllerStatus status;
  const core::Timestamp at(std::chrono::seconds(1767225600));
  status.RecordCheckError("recs", "ServiceUnavailable: store unavailable: disk is full", at);
  status.RecordCheckError("recs");
  status.RecordUnrecordedRollback("recs");
  const auto e = status.Endpoints().at(0);
  EXPECT_EQ(e.check_errors, 2);
  EXPECT_EQ(e.last_check_error, "ServiceUnavailable: store unavailable: disk is full");
  EXPECT_EQ(e.last_check_error_at, at);
  EXPECT_EQ(e.unrecorded_rollbacks, 1);
}

TEST(ControllerStatusTest, ANewDeploymentStartsWithoutAVerdict) {
  ControllerStatus status;
  status.SetDeployment("recs", "d-1", DeploymentState::kInProgress, 0.1, false);
  status.RecordCheck("recs", Verdict::kErrorBreached);
  status.SetDeployment("recs", "d-2", DeploymentState::kPending, 0, false);
  const auto e = status.Endpoints().at(0);
  EXPECT_FALSE(e.last_verdict.has_value());
  EXPECT_EQ(e.checks[static_cast<int>(Verdict::kErrorBreached)], 1);  // counters stay
}

TEST(ControllerStatusTest, ObserveEventCountsChecksErrorsAndTransitions) {
  ControllerStatus status;
  core::Deployment d;
  d.id = "d-7";
  d.endpoint = "recs";
  d.state = DeploymentState::kRollingBack;
  d.canary_weight = 0.3;

  core::DeploymentEvent check;
  check.kind = core::EventKind::kCheck;
  check.check = core::HealthReport{};
  check.check->verdict = Verdict::kLatencyAndErrorBreached;
  status.ObserveEvent(d, check);

  core::DeploymentEvent transition;
  transition.kind = core::EventKind::kTransition;
  transition.to_state = DeploymentState::kRollingBack;
  status.ObserveEvent(d, transition);

  core::DeploymentEvent error;
  error.kind = core::EventKind::kError;
  status.ObserveEvent(d, error);

  const auto e = status.Endpoints().at(0);
  EXPECT_EQ(e.deployment_id, "d-7");
  EXPECT_EQ(e.state, DeploymentState::kRollingBack);
  EXPECT_DOUBLE_EQ(e.canary_weight, 0.3);
  EXPECT_EQ(e.last_verdict, Verdict::kLatencyAndErrorBreached);
  EXPECT_EQ(e.transitions[static_cast<int>(DeploymentState::kRollingBack)], 1);
  EXPECT_EQ(e.check_errors, 1);
}

TEST(ControllerStatusTest, ForgetDropsTheEndpoint) {
  ControllerStatus status;
  status.RecordCheck("recs", Verdict::kHealthy);
  status.RecordCheck("search", Verdict::kHealthy);
  status.Forget("recs");
  const auto endpoints = status.Endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].endpoint, "search");
}

}  // namespace
}  // namespace mlcanary::metrics
