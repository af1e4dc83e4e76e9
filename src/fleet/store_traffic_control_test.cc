// StoreTrafficControl: the TrafficControl contract
// (core/testing/traffic_control_contract.h) on endpoint records in a store,
// with this replica's real gateway Router following them through an
// EndpointFollower; and what it does beyond the contract (the leader's router
// serving a recorded canary, a model this replica cannot load).
#include "fleet/store_traffic_control.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/testing/memory_deployment_store.h"
#include "core/testing/port_fakes.h"
#include "core/testing/traffic_control_contract.h"
#include "fleet/endpoint_follower.h"
#include "gateway/router.h"
#include "models/testing/fake_backend.h"

namespace mlcanary::fleet {
namespace {

using core::testing::TrafficControlContractTest;
using core::testing::TrafficControlKind;

// Models whose path contains "broken" do not load (on this replica).
models::ModelBackendFactory FakeModels() {
  return [](const core::ModelSpec& spec) -> core::Result<std::unique_ptr<models::ModelBackend>> {
    if (spec.path.find("broken") != std::string::npos) {
      return core::ValidationError("model '" + spec.path + "' does not load");
    }
    return std::make_unique<models::testing::FakeBackend>(spec.path);
  };
}

// One replica that leads: its store, its router, the follower that makes the
// router serve the records, and the StoreTrafficControl the controller drives.
struct Replica {
  core::testing::MemoryDeploymentStore store;
  gateway::Router router{gateway::RouterOptions{}, FakeModels(), nullptr};
  EndpointFollower follower{store, nullptr, router, FollowerOptions{}};
  StoreTrafficControl traffic{store, router, [this] { return follower.SyncOnce(); }};
};

// The leading replica serving `endpoint`, as the controller sees it: every call
// goes to its StoreTrafficControl.
class Leader final : public Replica, public core::testing::ForwardingTrafficControl {
 public:
  explicit Leader(const core::Endpoint& endpoint) : ForwardingTrafficControl(traffic) {
    EXPECT_TRUE(store.SaveEndpoint(endpoint));
    auto added = router.AddEndpoint(endpoint);
    EXPECT_TRUE(added) << added.error().ToString();
  }
};

core::Variant ModelVariant(const std::string& name, const std::string& path) {
  core::Variant v;
  v.name = name;
  v.model.kind = core::ModelKind::kXgboost;
  v.model.path = path;
  return v;
}

TrafficControlKind StoreKind() {
  TrafficControlKind kind;
  kind.name = "StoreTrafficControl";
  kind.make = [](const core::Endpoint& endpoint) -> std::unique_ptr<core::TrafficControl> {
    return std::make_unique<Leader>(endpoint);
  };
  kind.variant = [](const std::string&, const std::string& name, int model) {
    return ModelVariant(name, name + "-" + std::to_string(model) + ".json");
  };
  // A new leader readies the canary its predecessor recorded.
  kind.create_again_succeeds = true;
  return kind;
}

INSTANTIATE_TEST_SUITE_P(Fleet, TrafficControlContractTest, ::testing::Values(StoreKind()),
                         ::testing::PrintToStringParamName());

core::Endpoint Recs(std::vector<core::Variant> variants) {
  return core::Endpoint{.name = "recs", .variants = std::move(variants)};
}

core::Variant Weighted(core::Variant v, double weight) {
  v.weight = weight;
  return v;
}

TEST(StoreTrafficControlTest, CreateVariantReturnsWithTheCanaryLoadedOnThisReplica) {
  Leader leader(Recs({Weighted(ModelVariant("production", "v1.json"), 1)}));
  ASSERT_TRUE(leader.CreateVariant("recs", ModelVariant("canary", "v2.json")));
  // Recorded at 0 for every replica, and served here already (the controller
  // moves traffic to it next).
  auto recorded = leader.store.ListEndpoints();
  ASSERT_TRUE(recorded);
  ASSERT_EQ(recorded->size(), 1u);
  ASSERT_NE((*recorded)[0].FindVariant("canary"), nullptr);
  EXPECT_EQ((*recorded)[0].FindVariant("canary")->weight, 0);
  auto here = leader.router.DescribeEndpoint("recs");
  ASSERT_TRUE(here);
  ASSERT_NE(here->FindVariant("canary"), nullptr);
  EXPECT_EQ(here->FindVariant("canary")->model.path, "v2.json");
}

TEST(StoreTrafficControlTest, AModelThisReplicaCannotLoadIsTakenOutOfTheRecordAgain) {
  Leader leader(Recs({Weighted(ModelVariant("production", "v1.json"), 1)}));
  auto created = leader.CreateVariant("recs", ModelVariant("canary", "broken.json"));
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().message().find("broken.json"), std::string::npos)
      << created.error().ToString();
  auto recorded = leader.store.ListEndpoints();
  ASSERT_TRUE(recorded);
  EXPECT_EQ((*recorded)[0].FindVariant("canary"), nullptr) << "no replica may load it";
  EXPECT_EQ(leader.router.DescribeEndpoint("recs")->FindVariant("canary"), nullptr);
}

TEST(StoreTrafficControlTest, SetWeightsWritesTheRecordThatTheRoutersFollow) {
  Leader leader(Recs({Weighted(ModelVariant("production", "v1.json"), 0.9),
                      Weighted(ModelVariant("canary", "v2.json"), 0.1)}));
  ASSERT_TRUE(leader.SetWeights("recs", {{"canary", 0.25}, {"production", 0.75}}));
  auto recorded = leader.store.ListEndpoints();
  ASSERT_TRUE(recorded);
  EXPECT_DOUBLE_EQ((*recorded)[0].FindVariant("canary")->weight, 0.25);
  // A replica's router moves when its follower reads the record.
  ASSERT_TRUE(leader.follower.SyncOnce());
  EXPECT_DOUBLE_EQ(leader.router.DescribeEndpoint("recs")->FindVariant("canary")->weight, 0.25);
}

}  // namespace
}  // namespace mlcanary::fleet
