#include "gateway/router.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "metrics/registry.h"
#include "models/testing/fake_backend.h"

namespace mlcanary::gateway {
namespace {

using models::testing::FakeBackend;

core::Variant MakeVariant(std::string name, double weight) {
  core::Variant v;
  v.name = std::move(name);
  v.weight = weight;
  v.model.kind = core::ModelKind::kXgboost;
  v.model.path = v.name + ".json";
  return v;
}

// A factory that builds FakeBackends named after the model path, or fails for
// paths starting with "bad".
models::ModelBackendFactory FakeFactory() {
  return [](const core::ModelSpec& spec) -> core::Result<std::unique_ptr<models::ModelBackend>> {
    if (spec.path.starts_with("bad")) return core::ValidationError("cannot load " + spec.path);
    // "multi3..." says it answers 3 outputs per row; others say 1.
    return std::make_unique<FakeBackend>(spec.path, 0.5f, std::nullopt,
                                         spec.path.starts_with("multi3") ? 3 : 1);
  };
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : router_(RouterOptions{}, FakeFactory(), nullptr) {
    core::Endpoint endpoint;
    endpoint.name = "recs";
    endpoint.variants = {MakeVariant("production", 0.9), MakeVariant("canary", 0.1)};
    EXPECT_TRUE(router_.AddEndpoint(endpoint));
  }

  std::string RouteName(std::string_view user, std::uint64_t bits, std::string_view target = {}) {
    auto table = router_.table();
    auto v = router_.Route(*table, "recs", target, user, bits);
    return v ? (*v)->name : "error:" + v.error().ToString();
  }

  Router router_;
};

TEST_F(RouterTest, RandomSplitOf100000RequestsLandsWithinOnePercentOfTheWeights) {
  std::mt19937_64 rng(42);
  int canary = 0;
  constexpr int kRequests = 100000;
  for (int i = 0; i < kRequests; ++i) canary += RouteName("", rng()) == "canary";
  const double share = static_cast<double>(canary) / kRequests;
  EXPECT_NEAR(share, 0.10, 0.01);
}

TEST_F(RouterTest, StickySplitOf100000UsersLandsWithinOnePercentOfTheWeights) {
  int canary = 0;
  constexpr int kUsers = 100000;
  for (int i = 0; i < kUsers; ++i) canary += RouteName("user-" + std::to_string(i), 0) == "canary";
  const double share = static_cast<double>(canary) / kUsers;
  EXPECT_NEAR(share, 0.10, 0.01);
}

TEST_F(RouterTest, SameUserAlwaysGetsTheSameVariantAtFixedWeights) {
  std::mt19937_64 rng(7);
  for (int u = 0; u < 200; ++u) {
    const std::string user = "u" + std::to_string(u);
    const std::string first = RouteName(user, rng());
    for (int i = 0; i < 50; ++i) ASSERT_EQ(RouteName(user, rng()), first) << user;
  }
}

TEST_F(RouterTest, CanaryUsersStayOnTheCanaryAsItsWeightGrows) {
  constexpr int kUsers = 20000;
  std::vector<bool> on_canary(kUsers, false);
  for (int step = 1; step <= 10; ++step) {
    const double w = step / 10.0;
    ASSERT_TRUE(router_.SetWeights("recs", {{"canary", w}, {"production", 1.0 - w}}));
    int canary = 0;
    for (int u = 0; u < kUsers; ++u) {
      const bool now = RouteName("user-" + std::to_string(u), 0) == "canary";
      ASSERT_FALSE(on_canary[u] && !now) << "user " << u << " left the canary at weight " << w;
      on_canary[u] = now;
      canary += now;
    }
    EXPECT_NEAR(static_cast<double>(canary) / kUsers, w, 0.015) << "weight " << w;
  }
}

TEST_F(RouterTest, ZeroWeightVariantIsNeverPickedButCanBeTargeted) {
  ASSERT_TRUE(router_.SetWeights("recs", {{"canary", 0.0}, {"production", 1.0}}));
  std::mt19937_64 rng(1);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(RouteName("", rng()), "production");
  EXPECT_EQ(RouteName("", rng(), "canary"), "canary");
  // Extremes of the random range.
  EXPECT_EQ(RouteName("", 0), "production");
  EXPECT_EQ(RouteName("", ~0ULL), "production");
}

TEST_F(RouterTest, UnknownEndpointOrTargetVariantIsNotFound) {
  auto table = router_.table();
  auto e = router_.Route(*table, "nope", {}, {}, 0);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), core::ErrorCode::kNotFound);
  auto v = router_.Route(*table, "recs", "nope", {}, 0);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), core::ErrorCode::kNotFound);
}

TEST_F(RouterTest, NonStickyRouterIgnoresTheUserId) {
  Router random_only(RouterOptions{.sticky = false}, FakeFactory(), nullptr);
  core::Endpoint endpoint{.name = "e", .variants = {MakeVariant("a", 0.5), MakeVariant("b", 0.5)}};
  ASSERT_TRUE(random_only.AddEndpoint(endpoint));
  auto table = random_only.table();
  std::set<std::string> seen;
  for (std::uint64_t bits : {0ULL, ~0ULL}) {
    seen.insert((*random_only.Route(*table, "e", {}, "same-user", bits))->name);
  }
  EXPECT_EQ(seen.size(), 2u);
}

TEST_F(RouterTest, InjectedHashDecidesStickyPlacement) {
  // A hash that puts every user at 0.95: production's segment (canary is [0, 0.1)).
  Router router(RouterOptions{.user_hash = [](std::string_view) { return 0xF333333333333333ULL; }},
                FakeFactory(), nullptr);
  core::Endpoint endpoint{.name = "recs",
                          .variants = {MakeVariant("production", 0.9), MakeVariant("canary", 0.1)}};
  ASSERT_TRUE(router.AddEndpoint(endpoint));
  auto table = router.table();
  EXPECT_EQ((*router.Route(*table, "recs", {}, "anyone", 0))->name, "production");
}

TEST_F(RouterTest, SetWeightsValidatesNamesAndSum) {
  EXPECT_EQ(router_.SetWeights("nope", {{"canary", 1}}).error().code(), core::ErrorCode::kNotFound);
  EXPECT_EQ(router_.SetWeights("recs", {{"ghost", 0.5}, {"production", 0.5}}).error().code(),
            core::ErrorCode::kNotFound);
  EXPECT_EQ(router_.SetWeights("recs", {{"canary", 0.5}, {"production", 0.6}}).error().code(),
            core::ErrorCode::kValidation);
  EXPECT_EQ(router_.SetWeights("recs", {{"canary", -0.1}, {"production", 1.1}}).error().code(),
            core::ErrorCode::kValidation);
  EXPECT_EQ(router_.SetWeights("recs", {{"canary", 0.2}, {"canary", 0.8}}).error().code(),
            core::ErrorCode::kValidation);
  // Naming a subset is fine when the whole still sums to 1.
  EXPECT_EQ(router_.SetWeights("recs", {{"canary", 0.3}}).error().code(),
            core::ErrorCode::kValidation);
  // Unchanged after refusals.
  auto described = router_.DescribeEndpoint("recs");
  ASSERT_TRUE(described);
  EXPECT_DOUBLE_EQ(described->FindVariant("canary")->weight, 0.1);
  EXPECT_TRUE(router_.SetWeights("recs", {{"canary", 0.3}, {"production", 0.7}}));
  EXPECT_DOUBLE_EQ(router_.DescribeEndpoint("recs")->FindVariant("canary")->weight, 0.3);
}

TEST_F(RouterTest, CheckVariantRefusesWhatCreateVariantWouldWithoutLoadingAnything) {
  core::Variant v{.name = "canary", .weight = 0, .instances = 1, .model = {}};
  EXPECT_TRUE(router_.CheckVariant("recs", v));
  core::Variant sagemaker = v;
  sagemaker.model.kind = core::ModelKind::kSagemaker;
  auto refused = router_.CheckVariant("recs", sagemaker);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), core::ErrorCode::kValidation);
  EXPECT_NE(refused.error().message().find("served by SageMaker"), std::string::npos);
  core::Variant bad_name = v;
  bad_name.name = "bad name!";
  EXPECT_FALSE(router_.CheckVariant("recs", bad_name));
  core::Variant no_instances = v;
  no_instances.instances = 0;
  EXPECT_FALSE(router_.CheckVariant("recs", no_instances));
  EXPECT_FALSE(router_.CreateVariant("recs", sagemaker));  // CreateVariant applies the same checks
}

TEST_F(RouterTest, CreateVariantLoadsTheModelAndStartsAtWeightZero) {
  auto v = MakeVariant("canary-v3", 0.5);
  ASSERT_TRUE(router_.CreateVariant("recs", v));
  auto described = router_.DescribeEndpoint("recs");
  ASSERT_TRUE(described);
  ASSERT_EQ(described->variants.size(), 3u);
  EXPECT_EQ(described->variants[2].name, "canary-v3");
  EXPECT_EQ(described->variants[2].weight, 0.0);
  EXPECT_EQ(described->variants[2].model.path, "canary-v3.json");
  EXPECT_EQ(router_.CreateVariant("recs", v).error().code(), core::ErrorCode::kConflict);
  EXPECT_EQ(router_.CreateVariant("nope", v).error().code(), core::ErrorCode::kNotFound);
}

TEST_F(RouterTest, CreateVariantWhoseModelFailsToLoadAddsNothing) {
  auto v = MakeVariant("broken", 0);
  v.model.path = "bad.json";
  auto status = router_.CreateVariant("recs", v);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), core::ErrorCode::kValidation);
  EXPECT_EQ(router_.DescribeEndpoint("recs")->variants.size(), 2u);
}

TEST_F(RouterTest, RemoveVariantNeedsZeroWeight) {
  EXPECT_EQ(router_.RemoveVariant("recs", "canary").error().code(),
            core::ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(router_.SetWeights("recs", {{"canary", 0}, {"production", 1}}));
  auto before = router_.table();  // a request in flight keeps its table
  ASSERT_TRUE(router_.RemoveVariant("recs", "canary"));
  EXPECT_EQ(router_.DescribeEndpoint("recs")->variants.size(), 1u);
  EXPECT_NE(before->Find("recs")->Find("canary"), nullptr);
  EXPECT_EQ(router_.RemoveVariant("recs", "canary").error().code(), core::ErrorCode::kNotFound);
}

TEST_F(RouterTest, AddEndpointValidatesItsVariants) {
  core::Endpoint bad{.name = "x", .variants = {MakeVariant("a", 0.5), MakeVariant("b", 0.4)}};
  EXPECT_EQ(router_.AddEndpoint(bad).error().code(), core::ErrorCode::kValidation);
  core::Endpoint dup{.name = "x", .variants = {MakeVariant("a", 0.5), MakeVariant("a", 0.5)}};
  EXPECT_EQ(router_.AddEndpoint(dup).error().code(), core::ErrorCode::kValidation);
  core::Endpoint again{.name = "recs", .variants = {MakeVariant("a", 1)}};
  EXPECT_EQ(router_.AddEndpoint(again).error().code(), core::ErrorCode::kConflict);
  core::Endpoint none{.name = "y", .variants = {}};
  EXPECT_EQ(router_.AddEndpoint(none).error().code(), core::ErrorCode::kValidation);
}

TEST_F(RouterTest, ReadyNeedsAReadyVariantWithTrafficOnEveryEndpoint) {
  EXPECT_TRUE(router_.Ready());
  auto table = router_.table();
  auto* production =
      static_cast<FakeBackend*>(table->Find("recs")->Find("production")->backend.get());
  production->set_ready(false);
  EXPECT_TRUE(router_.Ready());  // the canary still serves
  ASSERT_TRUE(router_.SetWeights("recs", {{"canary", 0}, {"production", 1}}));
  EXPECT_FALSE(router_.Ready());
}

TEST_F(RouterTest, WeightChangesWhileRoutingNeverFailARequest) {
  std::atomic<bool> stop{false};
  std::atomic<long> failures{0};
  std::atomic<long> routed{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      while (!stop.load()) {
        auto table = router_.table();
        auto v = router_.Route(*table, "recs", {}, {}, rng());
        if (!v) ++failures;
        ++routed;
      }
    });
  }
  // On a loaded box the writes could all end before a reader runs: start them
  // once the readers route.
  while (routed.load() == 0) std::this_thread::yield();
  for (int i = 0; i < 2000; ++i) {
    const double w = (i % 11) / 10.0;
    ASSERT_TRUE(router_.SetWeights("recs", {{"canary", w}, {"production", 1 - w}}));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(routed.load(), 0);
}

// The router with a real metrics registry: every variant's recorder is shared
// by the registry and the routing tables naming it.
class RouterMetricsTest : public ::testing::Test {
 protected:
  RouterMetricsTest()
      : clock_(core::Timestamp(std::chrono::seconds(1'767'225'600))),
        registry_(clock_),
        router_(RouterOptions{}, FakeFactory(), &registry_) {
    EXPECT_TRUE(
        router_.AddEndpoint({.name = "recs", .variants = {MakeVariant("production", 1.0)}}));
  }

  // A canary rollout under a name of its own, up to the point where its
  // traffic is back on production; `in_flight` routes one request to it.
  void RollOutCanary(const std::string& name, std::shared_ptr<const RoutingTable>& in_flight,
                     const VariantRoute*& routed) {
    ASSERT_TRUE(router_.CreateVariant("recs", MakeVariant(name, 0)));
    ASSERT_TRUE(router_.SetWeights("recs", {{name, 0.5}, {"production", 0.5}}));
    in_flight = router_.table();
    auto picked = router_.Route(*in_flight, "recs", name, {}, 0);
    ASSERT_TRUE(picked);
    routed = *picked;
    ASSERT_TRUE(router_.SetWeights("recs", {{name, 0}, {"production", 1}}));
  }

  core::ManualClock clock_;
  metrics::MetricsRegistry registry_;
  Router router_;
};

TEST_F(RouterMetricsTest, RemovedVariantsRecorderIsFreedAfterTheLastRequestRoutedToIt) {
  using std::chrono::milliseconds;
  EXPECT_EQ(registry_.live_recorders(), 1);
  for (int i = 0; i < 30; ++i) {
    const std::string name = "canary-v" + std::to_string(i);
    std::shared_ptr<const RoutingTable> in_flight;
    const VariantRoute* routed = nullptr;
    RollOutCanary(name, in_flight, routed);
    ASSERT_NE(routed, nullptr);
    ASSERT_NE(routed->metrics, nullptr);
    ASSERT_TRUE(router_.RemoveVariant("recs", name));
    // Gone from the registry's views at once...
    for (const auto& t : registry_.Totals()) EXPECT_NE(t.variant, name);
    // ...but the request still holds its table, and with it the recorder.
    EXPECT_EQ(registry_.live_recorders(), 2) << name;
    routed->metrics->Record(200, milliseconds(2), milliseconds(3));  // the request answers
    in_flight.reset();
    EXPECT_EQ(registry_.live_recorders(), 1) << name;
  }
  auto snap = registry_.Snapshot("recs", clock_.Now(), clock_.Now());
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->size(), 1u);
}

TEST_F(RouterMetricsTest, EndpointsThatAreRefusedLeaveNoRecorderBehind) {
  auto bad_model = MakeVariant("broken", 0.5);
  bad_model.model.path = "bad.json";
  core::Endpoint refused{.name = "search", .variants = {MakeVariant("a", 0.5), bad_model}};
  EXPECT_EQ(router_.AddEndpoint(refused).error().code(), core::ErrorCode::kValidation);
  core::Endpoint again{.name = "recs", .variants = {MakeVariant("other", 1.0)}};
  EXPECT_EQ(router_.AddEndpoint(again).error().code(), core::ErrorCode::kConflict);
  EXPECT_EQ(registry_.live_recorders(), 1);
  ASSERT_EQ(registry_.Totals().size(), 1u);
  EXPECT_EQ(registry_.Totals()[0].variant, "production");
}

// Requests routed and recorded on four threads while canaries come and go, and
// the controller and /metrics read the registry: nothing records into freed
// memory (a crash, or an AddressSanitizer report under make test-asan), and
// every removed canary is freed in the end.
TEST_F(RouterMetricsTest, CanariesRemovedUnderLoadAreFreedWithoutUseAfterFree) {
  using std::chrono::milliseconds;
  std::atomic<bool> stop{false};
  std::atomic<long> recorded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      while (!stop.load()) {
        auto table = router_.table();
        auto v = router_.Route(*table, "recs", {}, {}, rng());
        if (!v) continue;
        std::this_thread::yield();  // the model runs; the variant may be removed now
        (*v)->metrics->Record(200, milliseconds(2), milliseconds(3));
        ++recorded;
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) {
      EXPECT_TRUE(registry_.Snapshot("recs", clock_.Now(), clock_.Now()));
      EXPECT_FALSE(registry_.Totals().empty());
    }
  });
  while (recorded.load() == 0) std::this_thread::yield();
  for (int i = 0; i < 200; ++i) {
    const std::string name = "canary-" + std::to_string(i);
    ASSERT_TRUE(router_.CreateVariant("recs", MakeVariant(name, 0)));
    ASSERT_TRUE(router_.SetWeights("recs", {{name, 0.5}, {"production", 0.5}}));
    std::this_thread::yield();
    ASSERT_TRUE(router_.SetWeights("recs", {{name, 0}, {"production", 1}}));
    ASSERT_TRUE(router_.RemoveVariant("recs", name));
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_GT(recorded.load(), 0);
  EXPECT_EQ(registry_.live_recorders(), 1);
}

TEST(UserHashTest, IsStableAcrossRunsAndSpreadsNearbyIds) {
  // Fixed values: replicas and restarts must agree on every user's placement.
  EXPECT_EQ(DefaultUserHash("u123"), DefaultUserHash("u123"));
  EXPECT_NE(DefaultUserHash("u123"), DefaultUserHash("u124"));
  EXPECT_EQ(UnitInterval(0), 0.0);
  EXPECT_LT(UnitInterval(~0ULL), 1.0);
}

TEST_F(RouterTest, ModelOutputsAsksTheVariantOrLoadsANewInProcessModel) {
  EXPECT_EQ(router_.ModelOutputs("recs", MakeVariant("production", 0)), 1u);
  core::Variant multi = MakeVariant("canary2", 0);
  multi.model.path = "multi3.json";
  EXPECT_EQ(router_.ModelOutputs("recs", multi), 3u);  // loaded to ask, not added
  EXPECT_EQ(router_.DescribeEndpoint("recs")->variants.size(), 2u);
  core::Variant http = MakeVariant("remote", 0);
  http.model.kind = core::ModelKind::kHttp;
  http.model.path = "multi3.json";
  EXPECT_EQ(router_.ModelOutputs("recs", http), std::nullopt);  // never called to ask
  core::Variant bad = MakeVariant("broken", 0);
  bad.model.path = "bad.json";
  EXPECT_EQ(router_.ModelOutputs("recs", bad), std::nullopt);  // CreateVariant says why
  EXPECT_EQ(router_.ModelOutputs("nope", multi), std::nullopt);
}

}  // namespace
}  // namespace mlcanary::gateway
