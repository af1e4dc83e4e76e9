#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "codec/domain_json.h"
#include "codec/testing/sample_event.h"

namespace mlcanary::codec {
namespace {

using testing::SampleDeployment;
using testing::SampleEvent;

std::vector<std::string> Keys(const boost::json::object& o) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : o) keys.emplace_back(key);
  return keys;
}

// `o` without `drop`, the other keys in their order (object::erase moves the last key).
boost::json::object Without(const boost::json::object& o,
                            std::initializer_list<std::string_view> drop) {
  boost::json::object out;
  for (const auto& [key, value] : o) {
    if (std::find(drop.begin(), drop.end(), key) == drop.end()) out.emplace(key, value);
  }
  return out;
}

boost::json::value HealthReportValue(const core::HealthReport& report) {
  util::JsonWriter w;
  WriteHealthReport(w, report);
  return boost::json::parse(w.str());
}

TEST(NotificationJsonTest, WritesEveryKeyOfTheEventWithItsDeploymentContext) {
  const core::Deployment d = SampleDeployment();
  const core::DeploymentEvent e = SampleEvent(true);
  const boost::json::object o = boost::json::parse(NotificationJson(d, e)).as_object();
  EXPECT_EQ(Keys(o), (std::vector<std::string>{"deployment_id", "seq", "kind", "endpoint",
                                               "production_variant", "canary_variant", "from_state",
                                               "to_state", "weight_before", "weight_after",
                                               "reason", "actor", "check", "deployment", "event"}));
  EXPECT_EQ(o.at("deployment_id").as_string(), "dep-42");
  EXPECT_EQ(o.at("seq").as_int64(), 7);
  EXPECT_EQ(o.at("kind").as_string(), "transition");
  EXPECT_EQ(o.at("endpoint").as_string(), "recs");
  EXPECT_EQ(o.at("production_variant").as_string(), "production");
  EXPECT_EQ(o.at("canary_variant").as_string(), "canary");
  EXPECT_EQ(o.at("from_state").as_string(), "IN_PROGRESS");
  EXPECT_EQ(o.at("to_state").as_string(), "ROLLING_BACK");
  EXPECT_DOUBLE_EQ(o.at("weight_before").to_number<double>(), 0.3);
  EXPECT_DOUBLE_EQ(o.at("weight_after").to_number<double>(), 0.0);
  EXPECT_EQ(o.at("reason").as_string(), "rollback: error rate breached on 2 consecutive checks");
  EXPECT_EQ(o.at("actor").as_string(), "controller");
  EXPECT_EQ(o.at("check"), HealthReportValue(*e.check));
  EXPECT_EQ(o.at("check").at("verdict").as_string(), "error_breached");
  // The deployment and the event exactly as the API serves them.
  EXPECT_EQ(o.at("deployment"), boost::json::parse(DeploymentJson(d)));
  EXPECT_EQ(o.at("event"), boost::json::parse(EventJson(e)));
}

TEST(NotificationJsonTest, CheckIsNullWhenTheEventHasNone) {
  const boost::json::object o =
      boost::json::parse(NotificationJson(SampleDeployment(), SampleEvent(false))).as_object();
  ASSERT_TRUE(o.contains("check"));
  EXPECT_TRUE(o.at("check").is_null());
  EXPECT_FALSE(o.at("event").as_object().contains("check"));
}

// A notifier frames the fields in an object of its own: they are the body's
// keys before "deployment" and "event", in the same order, with the same values.
TEST(NotificationJsonTest, FieldsAreTheBodyWithoutDeploymentAndEvent) {
  const core::Deployment d = SampleDeployment();
  const core::DeploymentEvent e = SampleEvent(true);
  util::JsonWriter w;
  w.BeginObject();
  w.Key("time").String("framing");
  WriteNotificationFields(w, d, e);
  w.EndObject();
  const boost::json::object framed_line = boost::json::parse(w.str()).as_object();
  EXPECT_EQ(framed_line.at("time").as_string(), "framing");
  const boost::json::object framed = Without(framed_line, {"time"});
  const boost::json::object body =
      Without(boost::json::parse(NotificationJson(d, e)).as_object(), {"deployment", "event"});
  EXPECT_EQ(Keys(framed), Keys(body));
  EXPECT_EQ(framed, body);
}

}  // namespace
}  // namespace mlcanary::codec
