#include "notify/log_notifier.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "codec/domain_json.h"
#include "codec/testing/sample_event.h"
#include "core/time.h"
#include "notify/fanout_notifier.h"
#include "util/json_writer.h"

namespace mlcanary::notify {
namespace {

using codec::testing::SampleDeployment;
using codec::testing::SampleEvent;

boost::json::object LineOf(const core::DeploymentEvent& e) {
  std::vector<std::string> lines;
  LogNotifier log([&](std::string_view line) { lines.emplace_back(line); });
  log.Notify(SampleDeployment(), e);
  EXPECT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines.at(0).find('\n'), std::string::npos);
  return boost::json::parse(lines.at(0)).as_object();
}

// The line is its framing (time, level, msg) and then exactly the notification
// codec writes, the webhooks' keys: no copy of them of its own.
boost::json::object Framed(std::string_view level, std::string_view msg, const core::Deployment& d,
                           const core::DeploymentEvent& e) {
  util::JsonWriter w;
  w.BeginObject();
  w.Key("time").String(core::FormatRfc3339(e.time));
  w.Key("level").String(level);
  w.Key("msg").String(msg);
  codec::WriteNotificationFields(w, d, e);
  w.EndObject();
  return boost::json::parse(w.str()).as_object();
}

std::vector<std::string> Keys(const boost::json::object& o) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : o) keys.emplace_back(key);
  return keys;
}

TEST(LogNotifierTest, WritesTheFramingThenTheNotificationsFields) {
  for (const bool with_check : {true, false}) {
    const core::DeploymentEvent e = SampleEvent(with_check);
    const auto o = LineOf(e);
    const auto want = Framed("warn", "deployment transition", SampleDeployment(), e);
    EXPECT_EQ(Keys(o), Keys(want));
    EXPECT_EQ(o, want);
  }
  const auto o = LineOf(SampleEvent(true));
  EXPECT_EQ(o.at("time").as_string(), "2023-11-14T22:13:20Z");
  EXPECT_EQ(o.at("deployment_id").as_string(), "dep-42");
  EXPECT_EQ(o.at("seq").as_int64(), 7);
  EXPECT_EQ(o.at("from_state").as_string(), "IN_PROGRESS");
  EXPECT_EQ(o.at("to_state").as_string(), "ROLLING_BACK");
  EXPECT_EQ(o.at("check").at("verdict").as_string(), "error_breached");
  EXPECT_TRUE(LineOf(SampleEvent(false)).at("check").is_null());
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
    EXPECT_EQ(boost::json::parse(line).as_object().at("deployment_id").as_string(), "dep-42");
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
