#include "notify/log_notifier.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "notify/fanout_notifier.h"

namespace mlcanary::notify {
namespace {

core::Deployment SampleDeployment() {
  core::Deployment d;
  d.id = "dep-42";
  d.endpoint = "recs";
  d.production_variant = "production";
  d.canary_variant = "canary";
  d.state = core::DeploymentState::kRollingBack;
  return d;
}

core::DeploymentEvent SampleEvent(bool with_check) {
  core::DeploymentEvent e;
  e.seq = 7;
  e.deployment_id = "dep-42";
  e.time = core::Timestamp(std::chrono::milliseconds(1'700'000'000'000));
  e.kind = core::EventKind::kTransition;
  e.from_state = core::DeploymentState::kInProgress;
  e.to_state = core::DeploymentState::kRollingBack;
  e.weight_before = 0.3;
  e.weight_after = 0;
  e.reason = "rollback: error rate breached on 2 consecutive checks";
  e.actor = "controller";
  if (with_check) {
    e.check = core::EvaluateHealth({.invocations = 600, .errors_5xx = 30, .p99_ms = 45},
                                   {.invocations = 5400, .p99_ms = 40}, core::Policy{});
  }
  return e;
}

boost::json::object LineOf(const core::DeploymentEvent& e) {
  std::vector<std::string> lines;
  LogNotifier log([&](std::string_view line) { lines.emplace_back(line); });
  log.Notify(SampleDeployment(), e);
  EXPECT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines.at(0).find('\n'), std::string::npos);
  return boost::json::parse(lines.at(0)).as_object();
}

TEST(LogNotifierTest, WritesOneJsonLineWithTheEventsFields) {
  const auto o = LineOf(SampleEvent(true));
  EXPECT_EQ(o.at("time").as_string(), "2023-11-14T22:13:20Z");
  EXPECT_EQ(o.at("level").as_string(), "warn");
  EXPECT_EQ(o.at("msg").as_string(), "deployment transition");
  EXPECT_EQ(o.at("deployment").as_string(), "dep-42");
  EXPECT_EQ(o.at("seq").as_int64(), 7);
  EXPECT_EQ(o.at("endpoint").as_string(), "recs");
  EXPECT_EQ(o.at("from").as_string(), "IN_PROGRESS");
  EXPECT_EQ(o.at("to").as_string(), "ROLLING_BACK");
  EXPECT_DOUBLE_EQ(o.at("weight_before").to_number<double>(), 0.3);
  EXPECT_DOUBLE_EQ(o.at("weight_after").to_number<double>(), 0.0);
  EXPECT_EQ(o.at("reason").as_string(), "rollback: error rate breached on 2 consecutive checks");
  EXPECT_EQ(o.at("actor").as_string(), "controller");
  const auto& check = o.at("check").as_object();
  EXPECT_EQ(check.at("verdict").as_string(), "error_breached");
  EXPECT_TRUE(check.contains("thresholds"));
}

TEST(LogNotifierTest, LeavesOutTheCheckWhenTheEventHasNone) {
  EXPECT_FALSE(LineOf(SampleEvent(false)).contains("check"));
}

TEST(LogNotifierTest, NamesTheKindOfEventInMsgAndLevel) {
  core::DeploymentEvent e = SampleEvent(false);
  e.kind = core::EventKind::kWeightChange;
  e.from_state = e.to_state = core::DeploymentState::kInProgress;
  e.weight_before = 0.1;
  e.weight_after = 0.2;
  auto o = LineOf(e);
  EXPECT_EQ(o.at("msg").as_string(), "weight change");
  EXPECT_EQ(o.at("level").as_string(), "info");
  e.kind = core::EventKind::kPaused;
  EXPECT_EQ(LineOf(e).at("msg").as_string(), "paused");
  e.kind = core::EventKind::kTransition;
  e.to_state = core::DeploymentState::kFailed;
  EXPECT_EQ(LineOf(e).at("level").as_string(), "error");
}

TEST(LogNotifierTest, WritesNewlineTerminatedLinesToAStream) {
  std::ostringstream out;
  LogNotifier log(out);
  log.Notify(SampleDeployment(), SampleEvent(false));
  log.Notify(SampleDeployment(), SampleEvent(true));
  std::istringstream in(out.str());
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    EXPECT_EQ(boost::json::parse(line).as_object().at("deployment").as_string(), "dep-42");
  }
  EXPECT_EQ(lines, 2);
}

TEST(FanoutNotifierTest, ForwardsEveryEventToEveryNotifierInOrder) {
  std::vector<std::string> calls;
  LogNotifier first([&](std::string_view) { calls.push_back("first"); });
  LogNotifier second([&](std::string_view) { calls.push_back("second"); });
  FanoutNotifier fanout({&first, &second});
  fanout.Notify(SampleDeployment(), SampleEvent(false));
  fanout.Notify(SampleDeployment(), SampleEvent(true));
  EXPECT_EQ(calls, (std::vector<std::string>{"first", "second", "first", "second"}));
}

}  // namespace
}  // namespace mlcanary::notify
