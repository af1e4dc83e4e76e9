// The shadow phase (issue 14): weight 0 and a shadow copy, then the split; a
// canary whose paired answers diverge is rolled back before any user saw it.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/controller.h"
#include "core/testing/memory_deployment_store.h"
#include "core/testing/virtual_traffic_control.h"

namespace mlcanary::controller {
namespace {

using core::Deployment;
using core::DeploymentState;
using core::RolloutPhase;
using core::WindowMetrics;
using std::chrono::minutes;

// The windows a check reads: production's, and the canary's answers to the
// copies (in shadow) with `disagreements` of 1000 pairs beyond the tolerance.
class PairedMetrics final : public core::MetricsSource {
 public:
  std::int64_t disagreements = 0;
  core::Result<std::map<std::string, WindowMetrics>> Snapshot(std::string_view, core::Timestamp,
                                                              core::Timestamp) override {
    WindowMetrics production{.invocations = 1000, .p50_ms = 5, .p90_ms = 8, .p99_ms = 10};
    WindowMetrics canary = production;
    canary.pairs = 1000;
    canary.pair_disagreements = disagreements;
    canary.pair_abs_diff_sum = 0.3 * static_cast<double>(disagreements);
    canary.outputs_per_row = production.outputs_per_row = 1;
    return std::map<std::string, WindowMetrics>{{"production", production}, {"canary", canary}};
  }
};

class NullNotifier final : public core::Notifier {
 public:
  void Notify(const Deployment&, const core::DeploymentEvent&) override {}
};

// The virtual data plane without shadow support (as SageMaker's).
class NoShadowTraffic final : public core::TrafficControl {
 public:
  explicit NoShadowTraffic(core::TrafficControl& inner) : inner_(inner) {}
  core::Result<core::Endpoint> DescribeEndpoint(std::string_view e) override {
    return inner_.DescribeEndpoint(e);
  }
  core::Status CreateVariant(std::string_view e, const core::Variant& v) override {
    return inner_.CreateVariant(e, v);
  }
  core::Status RemoveVariant(std::string_view e, std::string_view v) override {
    return inner_.RemoveVariant(e, v);
  }
  core::Status SetWeights(std::string_view e, const std::vector<core::VariantWeight>& w) override {
    return inner_.SetWeights(e, w);
  }

 private:
  core::TrafficControl& inner_;
};

// The virtual data plane that knows its models' outputs per row (as the
// gateway knows an in-process model's).
class OutputsTraffic final : public core::TrafficControl {
 public:
  explicit OutputsTraffic(core::TrafficControl& inner) : inner_(inner) {}
  std::map<std::string, std::size_t> outputs;  // by variant name; absent: unknown
  core::Result<core::Endpoint> DescribeEndpoint(std::string_view e) override {
    return inner_.DescribeEndpoint(e);
  }
  core::Status CreateVariant(std::string_view e, const core::Variant& v) override {
    return inner_.CreateVariant(e, v);
  }
  core::Status RemoveVariant(std::string_view e, std::string_view v) override {
    return inner_.RemoveVariant(e, v);
  }
  core::Status SetWeights(std::string_view e, const std::vector<core::VariantWeight>& w) override {
    return inner_.SetWeights(e, w);
  }
  core::Status SetShadow(std::string_view e, const std::optional<core::ShadowSpec>& s) override {
    return inner_.SetShadow(e, s);
  }
  bool SupportsShadow() const override { return true; }
  std::optional<core::ShadowSpec> DescribeShadow(std::string_view e) override {
    return inner_.DescribeShadow(e);
  }
  std::optional<std::size_t> ModelOutputs(std::string_view, const core::Variant& v) override {
    auto it = outputs.find(v.name);
    if (it == outputs.end()) return std::nullopt;
    return it->second;
  }

 private:
  core::TrafficControl& inner_;
};

class ControllerShadowTest : public ::testing::Test {
 protected:
  ControllerShadowTest()
      : clock_(core::Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1))) {
    core::Endpoint recs;
    recs.name = "recs";
    recs.variants.push_back({.name = "production", .weight = 1.0, .instances = 1, .model = {}});
    traffic_.AddEndpoint(recs);
    policy_.bake = minutes(2);
    policy_.shadow_duration = minutes(3);
    policy_.shadow_sample = 0.5;
    policy_.divergence_max_disagreement = 0.05;
    policy_.divergence_tolerance = 0.02;
  }

  Ports ports(core::TrafficControl& traffic) {
    return {.traffic = traffic,
            .metrics = metrics_,
            .store = store_,
            .notifier = notifier_,
            .clock = clock_};
  }
  StartRequest Request() {
    return {.id = "d1", .endpoint = "recs", .canary_variant = "canary", .policy = policy_};
  }
  double CanaryWeight() {
    auto e = traffic_.DescribeEndpoint("recs");
    const core::Variant* v = e ? e->FindVariant("canary") : nullptr;
    return v ? v->weight : -1;
  }
  Deployment Tick(Controller& c) {
    clock_.Advance(policy_.interval);
    EXPECT_TRUE(c.Tick());
    return *store_.Get("d1");
  }
  std::vector<std::string> EventReasons() {
    std::vector<std::string> out;
    auto events = store_.ListEvents("d1", 0);
    EXPECT_TRUE(events);
    if (events) {
      for (const auto& e : *events) out.push_back(e.reason);
    }
    return out;
  }

  core::ManualClock clock_;
  core::testing::VirtualTrafficControl traffic_;
  PairedMetrics metrics_;
  core::testing::MemoryDeploymentStore store_;
  NullNotifier notifier_;
  core::Policy policy_;
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
  metrics_.disagreements = 300;  // 30 % of pairs beyond the tolerance
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
  NoShadowTraffic no_shadow(traffic_);
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
  metrics_.disagreements = 300;
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
  NoShadowTraffic no_shadow(traffic_);
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
