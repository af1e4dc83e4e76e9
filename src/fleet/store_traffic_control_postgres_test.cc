// StoreTrafficControl on a real PostgreSQL server (store/testing/postgres_server.h)
// through the leader's fenced view: a leader that lost the lease (paused past
// it while another replica took over) can change no replica's traffic.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "fleet/endpoint_follower.h"
#include "fleet/store_traffic_control.h"
#include "fleet/testing/recs_endpoint.h"
#include "gateway/router.h"
#include "store/postgres_deployment_store.h"
#include "store/testing/postgres_server.h"

namespace mlcanary::fleet {
namespace {

using namespace std::chrono_literals;
using testing::FakeModels;
using testing::Recs;

// One replica: its connection to the store, its router and its follower.
struct Replica {
  explicit Replica(std::unique_ptr<store::PostgresDeploymentStore> s) : store(std::move(s)) {}
  double Weight(const std::string& variant) {
    EXPECT_TRUE(follower.SyncOnce());
    auto e = router.DescribeEndpoint("recs");
    EXPECT_TRUE(e) << e.error().ToString();
    return e && e->FindVariant(variant) ? e->FindVariant(variant)->weight : -1;
  }

  std::unique_ptr<store::PostgresDeploymentStore> store;
  gateway::Router router{gateway::RouterOptions{}, FakeModels(), nullptr};
  EndpointFollower follower{*store, nullptr, router, FollowerOptions{}};
};

double RecordedWeight(store::PostgresDeploymentStore& s, const std::string& variant) {
  auto all = s.ListEndpoints();
  EXPECT_TRUE(all) << all.error().ToString();
  if (!all || all->empty() || (*all)[0].FindVariant(variant) == nullptr) return -1;
  return (*all)[0].FindVariant(variant)->weight;
}

TEST(StoreTrafficControlPostgresTest, ADeposedLeadersChangesAreRefusedAndChangeNothing) {
  auto server = store::testing::PostgresServer::Start();
  ASSERT_TRUE(server) << server.error().ToString();
  const std::string url = (*server)->Url("postgres");
  auto open = [&] {
    auto s = store::PostgresDeploymentStore::Open(url);
    EXPECT_TRUE(s) << s.error().ToString();
    return s ? std::move(*s) : nullptr;
  };
  Replica a(open()), b(open());
  ASSERT_TRUE(a.store && b.store);
  ASSERT_TRUE(a.store->SaveEndpoint(Recs(0.1)));
  ASSERT_TRUE(a.router.AddEndpoint(Recs(0.1)));
  ASSERT_TRUE(b.router.AddEndpoint(Recs(0.1)));

  // a leads, with a short lease, and moves the canary.
  auto a_lease = a.store->Lease();
  auto grant = a_lease->TryAcquire("a:1", 1s);
  ASSERT_TRUE(grant && grant->has_value());
  auto a_fenced = a.store->Fenced((*grant)->fencing);
  StoreTrafficControl a_traffic(*a_fenced, a.router, [&] { return a.follower.SyncOnce(); });
  ASSERT_TRUE(a_traffic.SetWeights("recs", {{"canary", 0.2}, {"production", 0.8}}));
  EXPECT_DOUBLE_EQ(b.Weight("canary"), 0.2);

  // a is paused past its lease; b takes over.
  std::this_thread::sleep_for(1500ms);
  auto b_grant = b.store->Lease()->TryAcquire("b:1", 10s);
  ASSERT_TRUE(b_grant && b_grant->has_value());
  ASSERT_GT((*b_grant)->fencing, (*grant)->fencing);

  // a wakes up and goes on with its rollout: refused, nothing recorded, no
  // replica's router moves.
  auto set = a_traffic.SetWeights("recs", {{"canary", 0.5}, {"production", 0.5}});
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code(), core::ErrorCode::kFailedPrecondition) << set.error().ToString();
  auto rollback = a_traffic.SetWeights("recs", {{"canary", 0}, {"production", 1}});
  ASSERT_FALSE(rollback);
  auto created = a_traffic.CreateVariant("recs", {.name = "other", .model = {.path = "v3.json"}});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), core::ErrorCode::kFailedPrecondition)
      << created.error().ToString();
  EXPECT_DOUBLE_EQ(RecordedWeight(*b.store, "canary"), 0.2);
  EXPECT_EQ(RecordedWeight(*b.store, "other"), -1);
  EXPECT_DOUBLE_EQ(a.Weight("canary"), 0.2);
  EXPECT_DOUBLE_EQ(b.Weight("canary"), 0.2);

  // The new leader's changes go through.
  auto b_fenced = b.store->Fenced((*b_grant)->fencing);
  StoreTrafficControl b_traffic(*b_fenced, b.router, [&] { return b.follower.SyncOnce(); });
  ASSERT_TRUE(b_traffic.SetWeights("recs", {{"canary", 0.4}, {"production", 0.6}}));
  EXPECT_DOUBLE_EQ(a.Weight("canary"), 0.4);
  EXPECT_DOUBLE_EQ(b.Weight("canary"), 0.4);
}

}  // namespace
}  // namespace mlcanary::fleet
