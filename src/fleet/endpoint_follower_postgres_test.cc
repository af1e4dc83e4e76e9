// EndpointFollower on a real PostgreSQL server's change feed: when the
// LISTEN connection is cut (its backend terminated) and a weight changes
// meanwhile, the follower re-reads every endpoint as soon as the feed is back,
// without waiting for the periodic re-read (set to an hour here).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "fleet/endpoint_follower.h"
#include "fleet/testing/recs_endpoint.h"
#include "gateway/router.h"
#include "store/postgres_deployment_store.h"
#include "store/testing/postgres_server.h"

namespace mlcanary::fleet {
namespace {

using namespace std::chrono_literals;
using testing::FakeModels;
using testing::Recs;

class FollowerReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = store::testing::PostgresServer::Start();
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
    auto open = [&] {
      auto s = store::PostgresDeploymentStore::Open(server_->Url("postgres"));
      EXPECT_TRUE(s) << s.error().ToString();
      return s ? std::move(*s) : nullptr;
    };
    replica_ = open();
    leader_ = open();
    ASSERT_TRUE(replica_ && leader_);
    ASSERT_TRUE(leader_->SaveEndpoint(Recs(0.1)));
    ASSERT_TRUE(router_.AddEndpoint(Recs(0.1)));
    auto feed = replica_->OpenChangeFeed();
    ASSERT_TRUE(feed) << feed.error().ToString();
    feed_ = std::move(*feed);
  }

  // The canary's weight in this replica's router, once it is `want` (or what
  // it is after 20 s).
  double ServedOnce(double want) {
    double served = -1;
    for (int i = 0; i < 2000; ++i) {
      auto e = router_.DescribeEndpoint("recs");
      EXPECT_TRUE(e) << e.error().ToString();
      served = e && e->FindVariant("canary") ? e->FindVariant("canary")->weight : -1;
      if (served == want) break;
      std::this_thread::sleep_for(10ms);
    }
    return served;
  }

  std::unique_ptr<store::testing::PostgresServer> server_;
  std::unique_ptr<store::PostgresDeploymentStore> replica_, leader_;
  std::unique_ptr<core::ChangeFeed> feed_;
  gateway::Router router_{gateway::RouterOptions{}, FakeModels(), nullptr};
};

TEST_F(FollowerReconnectTest, ACutListenConnectionIsFollowedByAReReadOfEveryEndpoint) {
  EndpointFollower follower(*replica_, feed_.get(), router_, FollowerOptions{.resync = 1h});
  follower.Start();
  ASSERT_TRUE(leader_->SaveEndpoint(Recs(0.2)));
  EXPECT_DOUBLE_EQ(ServedOnce(0.2), 0.2) << "the change feed did not wake the follower";

  // The listener's backend goes; the leader's next commit notifies nobody.
  // (An error when there is no listener to cut.)
  ASSERT_TRUE(
      server_->Exec("postgres",
                    "DO $$ BEGIN"
                    " IF NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
                    "  AND pid <> pg_backend_pid()) THEN RAISE EXCEPTION 'no listener'; END IF;"
                    " PERFORM pg_terminate_backend(pid) FROM pg_stat_activity"
                    "  WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid(); END $$"));
  ASSERT_TRUE(leader_->SaveEndpoint(Recs(0.3)));
  EXPECT_DOUBLE_EQ(ServedOnce(0.3), 0.3) << "not re-read after the feed reconnected";

  // Listening again: the next commit wakes it as before.
  ASSERT_TRUE(leader_->SaveEndpoint(Recs(0.4)));
  EXPECT_DOUBLE_EQ(ServedOnce(0.4), 0.4) << "the feed does not wake the follower any more";
  follower.Stop();
  EXPECT_EQ(follower.stats().errors, 0u);
}

}  // namespace
}  // namespace mlcanary::fleet
