// The shadow phase (issue 14): weight 0 and a shadow copy, then the split; a
// canary whose paired answers diverge is rolled back before any user saw it.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "controller/testing/controller_fixture.h"
#include "core/testing/port_fakes.h"

namespace mlcanary::controller {
namespace {

using core::Deployment;
using core::DeploymentState;
using core::RolloutPhase;
using core::WindowMetrics;
using std::chrono::minutes;

// The virtual data plane that knows its models' outputs per row (as the
// gateway knows an in-process model's), with shadow support.
class OutputsTraffic final : public core::testing::ForwardingTrafficControl {
 public:
  using ForwardingTrafficControl::ForwardingTrafficControl;
  std::map<std::string, std::size_t> outputs;  // by variant name; absent: unknown
  core::Status SetShadow(std::string_view e, const std::optional<core::ShadowSpec>& s) override {
    return inner().SetShadow(e, s);
  }
  bool SupportsShadow() const override { return true; }
  std::optional<core::ShadowSpec> DescribeShadow(std::string_view e) override {
    return inner().DescribeShadow(e);
  }
  std::optional<std::size_t> ModelOutputs(std::string_view, const core::Variant& v) override {
    auto it = outputs.find(v.name);
    if (it == outputs.end()) return std::nullopt;
    return it->second;
  }
};

class ControllerShadowTest : public testing::ControllerFixture<> {
 protected:
  ControllerShadowTest() {
    policy_.shadow_duration = minutes(3);
    policy_.shadow_sample = 0.5;
    policy_.divergence_max_disagreement = 0.05;
    policy_.divergence_tolerance = 0.02;
    // Production's window, and the canary's answers to the copies (in shadow).
    metrics_.production = {.invocations = 1000, .p50_ms = 5, .p90_ms = 8, .p99_ms = 10};
    metrics_.production.outputs_per_row = 1;
    metrics_.canary = metrics_.production;
    metrics_.canary.pairs = 1000;
    Disagree(0);
  }

  // `disagreements` of the canary's 1000 pairs beyond the tolerance.
  void Disagree(std::int64_t disagreements) {
    metrics_.canary.pair_disagreements = disagreements;
    metrics_.canary.pair_abs_diff_sum = 0.3 * static_cast<double>(disagreements);
  }

  Deployment Tick(Controller& c) {
    clock_.Advance(policy_.interval);
    EXPECT_TRUE(c.Tick());
    return Stored();
  }
  std::vector<std::string> EventReasons() {
    std::vector<std::string> out;
    for (const auto& e : Events()) out.push_back(e.reason);
    return out;
  }
};

bool AnyHas(const std::vector<std::string>& reasons, std::string_view part) {
  for (const auto& r : reasons) {
    if (r.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST_F(ControllerShadowTest, ShadowPhaseAtWeightZeroThenTheSplitAtTheInitialWeight) {
  Controller c(ports(traffic_));
  auto d = c.StartDeployment(Request());
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->state, DeploymentState::kInProgress);
  EXPECT_EQ(d->phase, RolloutPhase::kShadow);
  EXPECT_DOUBLE_EQ(d->canary_weight, 0);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  auto shadow = traffic_.DescribeShadow("recs");
  ASSERT_TRUE(shadow);
  EXPECT_EQ(*shadow, (core::ShadowSpec{.variant = "canary", .sample = 0.5, .tolerance = 0.02}));
  EXPECT_TRUE(AnyHas(EventReasons(), "shadow phase started"));

  // Healthy checks for shadow.duration (3m), then the split.
  for (int i = 0; i < 2; ++i) {
    Deployment now = Tick(c);
    EXPECT_EQ(now.phase, RolloutPhase::kShadow);
    EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  }
  Deployment split = Tick(c);
  EXPECT_EQ(split.phase, RolloutPhase::kSplit);
  EXPECT_DOUBLE_EQ(split.canary_weight, 0.1);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  EXPECT_FALSE(traffic_.DescribeShadow("recs"));
  EXPECT_TRUE(AnyHas(EventReasons(), "shadow ended, split starts at 10%"));
}

TEST_F(ControllerShadowTest, ADivergentCanaryIsRolledBackInShadowBeforeAnyUserTraffic) {
  Disagree(300);  // 30 % of pairs beyond the tolerance
  Controller c(ports(traffic_));
  ASSERT_TRUE(c.StartDeployment(Request()));
  Deployment first = Tick(c);
  EXPECT_EQ(first.progress.divergence_breaches, 1);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0);
  Deployment second = Tick(c);
  EXPECT_EQ(second.state, DeploymentState::kRolledBack);
  EXPECT_FALSE(traffic_.DescribeShadow("recs"));
  auto events = store_.ListEvents("d1", 0);
  ASSERT_TRUE(events);
  for (const auto& e : *events) {
    EXPECT_DOUBLE_EQ(e.weight_after, 0) << e.reason;  // never a user on the canary
    if (e.check) {
      ASSERT_TRUE(e.check->paired) << e.reason;
      EXPECT_DOUBLE_EQ(e.check->paired->disagreement, 0.3);
      EXPECT_DOUBLE_EQ(e.check->thresholds.divergence_max_disagreement, 0.05);
    }
  }
  EXPECT_TRUE(AnyHas(EventReasons(), "paired disagreement 0.3000 >= divergence_max_disagreement"));
}

TEST_F(ControllerShadowTest, AShadowPolicyIsRefusedWhereTheTrafficControlCannotShadow) {
  // The virtual data plane without shadow support (as SageMaker's).
  core::testing::ForwardingTrafficControl no_shadow(traffic_);
  Controller c(ports(no_shadow));
  auto d = c.StartDeployment(Request());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(d.error().message().find("policy.shadow"), std::string::npos) << d.error().ToString();
  EXPECT_FALSE(store_.Get("d1"));
  // Without a shadow phase the same traffic control starts the split as before.
  policy_.shadow_duration = core::Duration(0);
  ASSERT_TRUE(c.StartDeployment(Request()));
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
}

TEST_F(ControllerShadowTest, ADivergenceCheckOnAMultiOutputModelIsRefusedAtCreation) {
  OutputsTraffic traffic(traffic_);
  traffic.outputs = {{"production", 1}, {"canary", 3}};
  Controller c(ports(traffic));
  auto d = c.StartDeployment(Request());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(d.error().message().find("policy.divergence_output"), std::string::npos)
      << d.error().ToString();
  EXPECT_NE(d.error().message().find("canary model of variant 'canary' returns 3"),
            std::string::npos)
      << d.error().ToString();
  EXPECT_FALSE(store_.Get("d1"));
  EXPECT_FALSE(traffic_.DescribeEndpoint("recs")->FindVariant("canary"));
  // An output both models have: accepted.
  policy_.divergence_output = 2;
  traffic.outputs["production"] = 3;
  ASSERT_TRUE(c.StartDeployment(Request()));
}

TEST_F(ControllerShadowTest, AnOutputTheProductionModelDoesNotHaveIsRefused) {
  OutputsTraffic traffic(traffic_);
  traffic.outputs = {{"production", 1}, {"canary", 3}};
  policy_.divergence_output = 2;
  Controller c(ports(traffic));
  auto d = c.StartDeployment(Request());
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("policy.divergence_output: the production model"),
            std::string::npos)
      << d.error().ToString();
  EXPECT_NE(d.error().message().find("output 2 does not exist"), std::string::npos);
}

TEST_F(ControllerShadowTest, ModelsWhoseOutputsCannotBeKnownAreJudgedAtTheCheck) {
  // An http model: the traffic control cannot tell (the check is inconclusive
  // naming divergence_output if the answers turn out to have several outputs).
  OutputsTraffic traffic(traffic_);
  Controller c(ports(traffic));
  ASSERT_TRUE(c.StartDeployment(Request()));
}

TEST_F(ControllerShadowTest, MirroringInTheSplitRollsBackADivergentCanaryAfterTheShadow) {
  // No shadow phase: the split mirrors 20 % of each variant's requests.
  policy_.shadow_duration = core::Duration(0);
  policy_.divergence_mirror_sample = 0.2;
  Disagree(300);
  Controller c(ports(traffic_));
  auto d = c.StartDeployment(Request());
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->phase, RolloutPhase::kSplit);
  EXPECT_DOUBLE_EQ(CanaryWeight(), 0.1);
  auto mirror = traffic_.DescribeShadow("recs");
  ASSERT_TRUE(mirror);
  EXPECT_EQ(*mirror,
            (core::ShadowSpec{
                .variant = "canary", .sample = 0.2, .tolerance = 0.02, .mirror_to = "production"}));
  EXPECT_EQ(Tick(c).progress.divergence_breaches, 1);
  EXPECT_EQ(Tick(c).state, DeploymentState::kRolledBack);
  EXPECT_FALSE(traffic_.DescribeShadow("recs"));
  EXPECT_TRUE(AnyHas(EventReasons(), "paired disagreement 0.3000 >= divergence_max_disagreement"));
}

TEST_F(ControllerShadowTest, AfterTheShadowTheSplitMirrorsWhenAsked) {
  policy_.divergence_mirror_sample = 0.5;
  Controller c(ports(traffic_));
  ASSERT_TRUE(c.StartDeployment(Request()));
  EXPECT_TRUE(traffic_.DescribeShadow("recs")->mirror_to.empty());  // the shadow phase
  for (int i = 0; i < 3; ++i) Tick(c);
  ASSERT_EQ(store_.Get("d1")->phase, RolloutPhase::kSplit);
  auto mirror = traffic_.DescribeShadow("recs");
  ASSERT_TRUE(mirror);
  EXPECT_EQ(mirror->mirror_to, "production");
  EXPECT_DOUBLE_EQ(mirror->sample, 0.5);
  // A restarted gateway has lost it: reconciling re-applies it.
  ASSERT_TRUE(traffic_.SetShadow("recs", std::nullopt));
  Controller again(ports(traffic_));
  ASSERT_TRUE(again.ReconcileAll());
  EXPECT_EQ(traffic_.DescribeShadow("recs"), mirror);
}

TEST_F(ControllerShadowTest, MirroringIsRefusedWhereTheTrafficControlCannotCopy) {
  policy_.shadow_duration = core::Duration(0);
  policy_.divergence_mirror_sample = 0.2;
  core::testing::ForwardingTrafficControl no_shadow(traffic_);
  Controller c(ports(no_shadow));
  auto d = c.StartDeployment(Request());
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("policy.divergence_mirror_sample"), std::string::npos)
      << d.error().ToString();
}

TEST_F(ControllerShadowTest, AMirrorSampleOutsideItsRangeIsRefusedNamingTheField) {
  for (double bad : {-0.1, 1.5}) {
    policy_.divergence_mirror_sample = bad;
    Controller c(ports(traffic_));
    auto d = c.StartDeployment(Request());
    ASSERT_FALSE(d) << bad;
    EXPECT_NE(d.error().message().find("divergence_mirror_sample"), std::string::npos)
        << d.error().ToString();
  }
}

TEST_F(ControllerShadowTest, ARestartReappliesTheShadowOfADeploymentInShadow) {
  {
    Controller c(ports(traffic_));
    ASSERT_TRUE(c.StartDeployment(Request()));
  }
  ASSERT_TRUE(traffic_.SetShadow("recs", std::nullopt));  // a gateway restarted
  Controller again(ports(traffic_));
  ASSERT_TRUE(again.ReconcileAll());
  EXPECT_TRUE(traffic_.DescribeShadow("recs"));
}

}  // namespace
}  // namespace mlcanary::controller
