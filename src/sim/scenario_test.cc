#include "sim/scenario.h"

#include <gtest/gtest.h>

#include "core/testing/virtual_traffic_control.h"
#include "sim/scenario_metrics_source.h"

namespace mlcanary::sim {
namespace {

using core::testing::VirtualTrafficControl;
using std::chrono::minutes;

constexpr const char* kScenario = R"(
policy: {interval: 1}
traffic_per_minute: 6005
production: {p99_ms: 40, error_rate: 0.002}
canary:
  - {from_minute: 0,  p99_ms: 45,  error_rate: 0.0049}
  - {from_minute: 25, p99_ms: 130, error_rate: 0.5, p50_ms: 60}
duration_minutes: 200
)";

class ScenarioMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = ParseScenario(kScenario, "inline.yaml");
    ASSERT_TRUE(parsed) << parsed.error().ToString();
    scenario_ = *parsed;
    core::Endpoint e;
    e.name = "sim";
    e.variants.push_back({.name = "production", .weight = 0.9, .instances = 1, .model = {}});
    e.variants.push_back({.name = "canary", .weight = 0.1, .instances = 1, .model = {}});
    traffic_.AddEndpoint(e);
  }

  std::map<std::string, core::WindowMetrics> Window(double from_minute, double to_minute) {
    ScenarioMetricsSource source(scenario_, traffic_, epoch_, "production", "canary");
    auto at = [&](double m) { return epoch_ + core::Duration(static_cast<long long>(m * 60000)); };
    auto snap = source.Snapshot("sim", at(from_minute), at(to_minute));
    EXPECT_TRUE(snap);
    return *snap;
  }

  Scenario scenario_;
  VirtualTrafficControl traffic_;
  core::Timestamp epoch_{};
};

TEST_F(ScenarioMetricsTest, InvocationsAndErrorsAreRoundedProducts) {
  auto w = Window(0, 1);
  // round(6005 * 0.1 * 1) = 601 (600.5 rounds half away from zero)
  EXPECT_EQ(w["canary"].invocations, 601);
  EXPECT_EQ(w["canary"].errors_5xx, 3);          // round(0.0049 * 601) = round(2.9449)
  EXPECT_EQ(w["production"].invocations, 5405);  // round(6005 * 0.9) = round(5404.5)
  EXPECT_EQ(w["production"].errors_5xx, 11);     // round(10.81)
  EXPECT_DOUBLE_EQ(w["canary"].p99_ms, 45);
}

TEST_F(ScenarioMetricsTest, WindowTakesTheValuesInForceAtItsStart) {
  EXPECT_DOUBLE_EQ(Window(24, 25)["canary"].p99_ms, 45);
  auto w = Window(25, 26);
  EXPECT_DOUBLE_EQ(w["canary"].p99_ms, 130);
  EXPECT_DOUBLE_EQ(w["canary"].p50_ms, 60);
  EXPECT_EQ(w["canary"].errors_5xx, 301);  // round(0.5 * 601) = round(300.5)
}

TEST_F(ScenarioMetricsTest, LongerWindowsScaleInvocations) {
  EXPECT_EQ(Window(0, 5)["canary"].invocations, 3003);  // round(3002.5)
}

TEST_F(ScenarioMetricsTest, VariantWithoutTrafficHasNoData) {
  ASSERT_TRUE(traffic_.SetWeights("sim", {{"production", 0}, {"canary", 1}}));
  auto w = Window(0, 1);
  EXPECT_EQ(w["production"].invocations, 0);
  EXPECT_DOUBLE_EQ(w["production"].p99_ms, 0);
  EXPECT_FALSE(w["production"].has_data());
}

TEST(ScenarioParseTest, ProductionMayBePiecewiseToo) {
  auto s = ParseScenario(
      "traffic_per_minute: 10\nproduction:\n  - {from_minute: 0, p99_ms: 1, error_rate: 0}\n"
      "  - {from_minute: 5, p99_ms: 9, error_rate: 0}\ncanary: {p99_ms: 1, error_rate: 0}\n"
      "duration_minutes: 5\n",
      "x.yaml");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_DOUBLE_EQ(PhaseAt(s->production, 4.9).p99_ms, 1);
  EXPECT_DOUBLE_EQ(PhaseAt(s->production, 5).p99_ms, 9);
}

TEST(ScenarioParseTest, PolicyIsOptionalAndDefaults) {
  auto s = ParseScenario(
      "traffic_per_minute: 10\nproduction: {p99_ms: 1, error_rate: 0}\n"
      "canary: {p99_ms: 1, error_rate: 0}\nduration_minutes: 5\n",
      "x.yaml");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->policy, core::Policy{});
}

TEST(ScenarioParseTest, NegativeTrafficIsRefused) {
  auto s = ParseScenario(
      "traffic_per_minute: -1\nproduction: {p99_ms: 1, error_rate: 0}\n"
      "canary: {p99_ms: 1, error_rate: 0}\nduration_minutes: 5\n",
      "x.yaml");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("traffic_per_minute"), std::string::npos);
}

// Issue 15: a simulation calls nobody, so a scenario refuses hooks, naming the key.
TEST(ScenarioParseTest, HooksAndAnalysisHooksAreRefusedNamingTheKey) {
  for (const char* policy : {"policy: {hooks: {confirm_step: {url: 'http://ci/x'}}}\n",
                             "policy: {analysis: [{url: 'http://eval/x'}]}\n"}) {
    auto s = ParseScenario(std::string("traffic_per_minute: 10\nproduction: {p99_ms: 1, "
                                       "error_rate: 0}\ncanary: {p99_ms: 1, error_rate: 0}\n"
                                       "duration_minutes: 5\n") +
                               policy,
                           "x.yaml");
    ASSERT_FALSE(s) << policy;
    const std::string key = std::string(policy).find("hooks") != std::string::npos
                                ? "x.yaml: policy.hooks (line 5): the simulator cannot call hooks"
                                : "x.yaml: policy.analysis (line 5): the simulator cannot call";
    EXPECT_NE(s.error().message().find(key), std::string::npos) << s.error().message();
  }
}

TEST(ScenarioParseTest, DuplicateKeyIsRefusedWithItsLine) {
  auto s = ParseScenario(
      "traffic_per_minute: 10\nproduction: {p99_ms: 1, error_rate: 0}\n"
      "canary: {p99_ms: 1, error_rate: 0}\nduration_minutes: 5\n"
      "policy:\n  bake: 2\n  bake: 20\n",
      "x.yaml");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "x.yaml: policy.bake (line 7): duplicate key (first at line 6)");
}

TEST(ScenarioParseTest, TopLevelMustBeAMapping) {
  auto s = ParseScenario("- 1\n- 2\n", "x.yaml");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("x.yaml"), std::string::npos);
}

TEST(VirtualTrafficControlTest, WeightsMustSumToOne) {
  VirtualTrafficControl t;
  core::Endpoint e;
  e.name = "recs";
  e.variants.push_back({.name = "production", .weight = 1.0, .instances = 1, .model = {}});
  t.AddEndpoint(e);
  ASSERT_TRUE(
      t.CreateVariant("recs", {.name = "canary", .weight = 0.5, .instances = 1, .model = {}}));
  EXPECT_DOUBLE_EQ(t.DescribeEndpoint("recs")->FindVariant("canary")->weight, 0);  // added at 0
  EXPECT_FALSE(t.SetWeights("recs", {{"canary", 0.3}}));
  EXPECT_FALSE(t.SetWeights("recs", {{"production", 0.7}, {"nope", 0.3}}));
  EXPECT_TRUE(t.SetWeights("recs", {{"production", 0.7}, {"canary", 0.3}}));
  EXPECT_FALSE(t.RemoveVariant("recs", "canary"));  // still has traffic
}

}  // namespace
}  // namespace mlcanary::sim
