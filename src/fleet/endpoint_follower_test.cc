#include "fleet/endpoint_follower.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/testing/memory_deployment_store.h"
#include "core/testing/virtual_traffic_control.h"

namespace mlcanary::fleet {
namespace {

using namespace std::chrono_literals;

core::Variant V(std::string name, double weight, std::string path) {
  return core::Variant{.name = std::move(name),
                       .weight = weight,
                       .instances = 1,
                       .model = core::ModelSpec{.path = std::move(path)}};
}

core::Endpoint Recs(std::vector<core::Variant> variants) {
  return core::Endpoint{.name = "recs", .variants = std::move(variants)};
}

// What a replica serves: its own endpoints and weights.
std::vector<std::pair<std::string, double>> Served(core::TrafficControl& local) {
  std::vector<std::pair<std::string, double>> out;
  const core::Endpoint endpoint = *local.DescribeEndpoint("recs");
  for (const core::Variant& v : endpoint.variants) {
    out.emplace_back(v.name + ":" + v.model.path, v.weight);
  }
  return out;
}

class EndpointFollowerTest : public ::testing::Test {
 protected:
  EndpointFollowerTest() {
    local.AddEndpoint(Recs({V("production", 1, "v1.json")}));
    EXPECT_TRUE(store.SaveEndpoint(Recs({V("production", 1, "v1.json")})));
  }

  core::testing::MemoryDeploymentStore store;
  core::testing::VirtualTrafficControl local;
  std::vector<std::string> logged;
  EndpointFollower follower{
      store, nullptr, local,
      FollowerOptions{.log = [this](std::string_view line) { logged.emplace_back(line); }}};
};

TEST_F(EndpointFollowerTest, CreatesTheRecordedCanaryAndSetsTheRecordedWeights) {
  ASSERT_TRUE(
      store.SaveEndpoint(Recs({V("production", 0.9, "v1.json"), V("canary", 0.1, "v2.json")})));
  ASSERT_TRUE(follower.SyncOnce());
  EXPECT_EQ(Served(local), (std::vector<std::pair<std::string, double>>{{"production:v1.json", 0.9},
                                                                        {"canary:v2.json", 0.1}}));
  // In sync: a second sync changes nothing.
  const std::uint64_t changes = follower.stats().changes;
  ASSERT_TRUE(follower.SyncOnce());
  EXPECT_EQ(follower.stats().changes, changes);
  EXPECT_EQ(follower.stats().syncs, 2u);
}

TEST_F(EndpointFollowerTest, RemovesAVariantTheRecordNoLongerHasAfterMovingItsTraffic) {
  ASSERT_TRUE(
      store.SaveEndpoint(Recs({V("production", 0.5, "v1.json"), V("canary", 0.5, "v2.json")})));
  ASSERT_TRUE(follower.SyncOnce());
  // Completed: the canary is production now, the old variant is gone.
  ASSERT_TRUE(store.SaveEndpoint(Recs({V("canary", 1, "v2.json")})));
  ASSERT_TRUE(follower.SyncOnce());
  EXPECT_EQ(Served(local), (std::vector<std::pair<std::string, double>>{{"canary:v2.json", 1}}));
}

TEST_F(EndpointFollowerTest, ReplacesAVariantWhoseModelChangedWhileItWasNotListening) {
  ASSERT_TRUE(
      store.SaveEndpoint(Recs({V("production", 0.7, "v1.json"), V("canary", 0.3, "v2.json")})));
  ASSERT_TRUE(follower.SyncOnce());
  // Missed: v2's canary rolled back and removed, then a new deployment's canary
  // of the same name (v3) at 20 %.
  ASSERT_TRUE(
      store.SaveEndpoint(Recs({V("production", 0.8, "v1.json"), V("canary", 0.2, "v3.json")})));
  ASSERT_TRUE(follower.SyncOnce());
  EXPECT_EQ(Served(local), (std::vector<std::pair<std::string, double>>{{"production:v1.json", 0.8},
                                                                        {"canary:v3.json", 0.2}}));
}

TEST_F(EndpointFollowerTest, ARecordThatCannotBeServedLeavesTheLastWeightsAndIsReportedOnce) {
  ASSERT_TRUE(
      store.SaveEndpoint(Recs({V("production", 0.9, "v1.json"), V("canary", 0.1, "v2.json")})));
  ASSERT_TRUE(follower.SyncOnce());
  ASSERT_TRUE(
      store.SaveEndpoint(Recs({V("production", 0.6, "v1.json"), V("canary", 0.1, "v2.json")})));
  auto s = follower.SyncOnce();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("endpoint 'recs'"), std::string::npos) << s.error().ToString();
  EXPECT_FALSE(follower.SyncOnce());
  EXPECT_EQ(Served(local), (std::vector<std::pair<std::string, double>>{{"production:v1.json", 0.9},
                                                                        {"canary:v2.json", 0.1}}));
  EXPECT_EQ(follower.stats().errors, 2u);
  ASSERT_EQ(logged.size(), 1u);  // once per run of failures
  EXPECT_NE(logged[0].find("does not serve what the store records"), std::string::npos);

  ASSERT_TRUE(store.SaveEndpoint(Recs({V("production", 1, "v1.json"), V("canary", 0, "v2.json")})));
  ASSERT_TRUE(follower.SyncOnce());
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_NE(logged[1].find("again"), std::string::npos);
}

TEST_F(EndpointFollowerTest, LeavesAloneEndpointsThisReplicaDoesNotServe) {
  ASSERT_TRUE(
      store.SaveEndpoint(core::Endpoint{.name = "search", .variants = {V("a", 1, "s.json")}}));
  EXPECT_TRUE(follower.SyncOnce());
  EXPECT_FALSE(local.DescribeEndpoint("search"));
}

// A change feed the test fires by hand.
class ManualFeed final : public core::ChangeFeed {
 public:
  core::Result<bool> WaitForChange(core::Duration timeout) override {
    std::unique_lock lock(mu_);
    const bool changed = cv_.wait_for(lock, timeout, [this] { return fired_ || interrupted_; });
    const bool was_fired = fired_;
    fired_ = interrupted_ = false;
    return changed && was_fired;
  }
  void Interrupt() override {
    std::lock_guard lock(mu_);
    interrupted_ = true;
    cv_.notify_all();
  }
  void Fire() {
    std::lock_guard lock(mu_);
    fired_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool fired_ = false;
  bool interrupted_ = false;
};

TEST(EndpointFollowerThreadTest, AppliesAChangeWhenTheFeedSaysSoNotOnlyAtTheResync) {
  core::testing::MemoryDeploymentStore store;
  core::testing::VirtualTrafficControl local;
  local.AddEndpoint(Recs({V("production", 1, "v1.json")}));
  ASSERT_TRUE(store.SaveEndpoint(Recs({V("production", 1, "v1.json")})));
  ManualFeed feed;
  // The resync is an hour: only the feed can bring the change in time.
  std::atomic<int> woken{0};
  EndpointFollower follower(store, &feed, local,
                            FollowerOptions{.resync = 1h, .on_change = [&] { ++woken; }});
  follower.Start();
  ASSERT_TRUE(
      store.SaveEndpoint(Recs({V("production", 0.9, "v1.json"), V("canary", 0.1, "v2.json")})));
  feed.Fire();
  for (int i = 0; i < 1000 && local.DescribeEndpoint("recs")->variants.size() < 2; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  follower.Stop();
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(Served(local), (std::vector<std::pair<std::string, double>>{{"production:v1.json", 0.9},
                                                                        {"canary:v2.json", 0.1}}));
}

}  // namespace
}  // namespace mlcanary::fleet
