// The DeploymentStore contract's cases for history listings
// (core::DeploymentFilter's since, until, after and limit): part of the suite
// of deployment_store_contract.h, which includes this file at its end; every
// store that runs that suite runs these.
#ifndef MLCANARY_CORE_TESTING_DEPLOYMENT_STORE_HISTORY_CONTRACT_H_
#define MLCANARY_CORE_TESTING_DEPLOYMENT_STORE_HISTORY_CONTRACT_H_

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/ports.h"
#include "core/testing/deployment_store_contract.h"

namespace mlcanary::core::testing {
namespace deployment_store_contract {

// History listings (DeploymentFilter's window, cursor and limit). Finished
// deployments, so that many may share an endpoint.
inline Deployment FinishedAt(std::string id, std::string endpoint, std::int64_t second,
                             DeploymentState state = DeploymentState::kCompleted) {
  Deployment d = MakeDeployment(std::move(id), std::move(endpoint));
  d.state = state;
  d.created_at = At(1'700'000'000'000 + second * 1000);
  d.updated_at = d.created_at;
  return d;
}

inline std::vector<std::string> Ids(const Result<std::vector<Deployment>>& listed) {
  std::vector<std::string> ids;
  if (!listed) {
    ids.push_back("error: " + listed.error().ToString());
    return ids;
  }
  for (const Deployment& d : *listed) ids.push_back(d.id);
  return ids;
}

// Every page of `filter` (its limit the page size), following the cursor
// from each page's last deployment; stops at an empty or short page.
inline std::vector<std::string> PageThrough(DeploymentStore& store, DeploymentFilter filter) {
  std::vector<std::string> ids;
  for (int page = 0; page < 100; ++page) {
    auto listed = store.List(filter);
    if (!listed) {
      ids.push_back("error: " + listed.error().ToString());
      return ids;
    }
    for (const Deployment& d : *listed) ids.push_back(d.id);
    if (listed->size() < filter.limit || listed->empty()) return ids;
    filter.after = DeploymentCursor{listed->back().created_at, listed->back().id};
  }
  ids.push_back("error: more than 100 pages");
  return ids;
}

TEST_P(DeploymentStoreContractTest, ListWindowIncludesSinceAndExcludesUntil) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(store_->Create(FinishedAt("d" + std::to_string(i), "recs", i * 10), {}));
  }
  using V = std::vector<std::string>;
  EXPECT_EQ(Ids(store_->List({.since = At(1'700'000'010'000)})), (V{"d3", "d2", "d1"}));
  EXPECT_EQ(Ids(store_->List({.until = At(1'700'000'030'000)})), (V{"d2", "d1", "d0"}));
  EXPECT_EQ(Ids(store_->List({.since = At(1'700'000'010'000), .until = At(1'700'000'030'000)})),
            (V{"d2", "d1"}));
  EXPECT_EQ(Ids(store_->List({.since = At(1'700'000'010'001), .until = At(1'700'000'029'999)})),
            (V{"d2"}));
  EXPECT_EQ(Ids(store_->List({.since = At(1'700'000'031'000)})), V{});
  EXPECT_EQ(Ids(store_->List({.since = At(1'700'000'020'000), .until = At(1'700'000'020'000)})),
            V{});
}

TEST_P(DeploymentStoreContractTest, ListLimitKeepsTheNewest) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Create(FinishedAt("d" + std::to_string(i), "recs", i), {}));
  }
  using V = std::vector<std::string>;
  EXPECT_EQ(Ids(store_->List({.limit = 2})), (V{"d4", "d3"}));
  EXPECT_EQ(Ids(store_->List({.limit = 1})), (V{"d4"}));
  EXPECT_EQ(Ids(store_->List({.limit = 9})), (V{"d4", "d3", "d2", "d1", "d0"}));
  EXPECT_EQ(Ids(store_->List({.until = At(1'700'000'003'000), .limit = 2})), (V{"d2", "d1"}));
}

// Ties on created_at are broken by id (greater first), whatever the order of
// creation, and a cursor in the middle of a tie continues inside it.
TEST_P(DeploymentStoreContractTest, ListBreaksCreatedAtTiesById) {
  for (const char* id : {"b", "d", "a", "c"}) {
    ASSERT_TRUE(store_->Create(FinishedAt(id, "recs", 5), {}));
  }
  ASSERT_TRUE(store_->Create(FinishedAt("z", "recs", 4), {}));
  ASSERT_TRUE(store_->Create(FinishedAt("0", "recs", 6), {}));
  using V = std::vector<std::string>;
  EXPECT_EQ(Ids(store_->List({})), (V{"0", "d", "c", "b", "a", "z"}));
  EXPECT_EQ(Ids(store_->List({.after = DeploymentCursor{At(1'700'000'005'000), "c"}})),
            (V{"b", "a", "z"}));
  EXPECT_EQ(Ids(store_->List({.after = DeploymentCursor{At(1'700'000'005'000), "bb"}})),
            (V{"b", "a", "z"}));
  EXPECT_EQ(Ids(store_->List({.after = DeploymentCursor{At(1'700'000'006'000), "0"}})),
            (V{"d", "c", "b", "a", "z"}));
}

TEST_P(DeploymentStoreContractTest, PagingMeetsEveryDeploymentOnceWithoutGaps) {
  // 11 deployments on 5 distinct times (ties included), two endpoints.
  const std::int64_t seconds[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
  for (int i = 0; i < 11; ++i) {
    ASSERT_TRUE(store_->Create(FinishedAt("id" + std::to_string(i % 3) + "-" + std::to_string(i),
                                          i % 2 == 0 ? "recs" : "search", seconds[i]),
                               {}));
  }
  const std::vector<std::string> all = Ids(store_->List({}));
  ASSERT_EQ(all.size(), 11u);
  for (std::size_t page_size : {1u, 2u, 3u, 4u, 11u, 12u}) {
    EXPECT_EQ(PageThrough(*store_, {.limit = page_size}), all) << "page size " << page_size;
  }
  const std::vector<std::string> recs = Ids(store_->List({.endpoint = "recs"}));
  ASSERT_EQ(recs.size(), 6u);
  EXPECT_EQ(PageThrough(*store_, {.endpoint = "recs", .limit = 4}), recs);
  const std::vector<std::string> window =
      Ids(store_->List({.since = At(1'700'000'002'000), .until = At(1'700'000'006'000)}));
  EXPECT_EQ(window.size(), 7u);
  EXPECT_EQ(
      PageThrough(*store_,
                  {.since = At(1'700'000'002'000), .until = At(1'700'000'006'000), .limit = 2}),
      window);
}

TEST_P(DeploymentStoreContractTest, WindowCombinesWithEndpointStateAndActive) {
  ASSERT_TRUE(store_->Create(FinishedAt("r1", "recs", 1), {}));
  ASSERT_TRUE(store_->Create(FinishedAt("r2", "recs", 2, DeploymentState::kRolledBack), {}));
  ASSERT_TRUE(store_->Create(FinishedAt("r3", "recs", 3, DeploymentState::kInProgress), {}));
  ASSERT_TRUE(store_->Create(FinishedAt("s1", "search", 2, DeploymentState::kRolledBack), {}));
  ASSERT_TRUE(store_->Create(FinishedAt("s2", "search", 4, DeploymentState::kPending), {}));
  using V = std::vector<std::string>;
  const auto since2 = At(1'700'000'002'000);
  EXPECT_EQ(Ids(store_->List({.endpoint = "recs", .since = since2})), (V{"r3", "r2"}));
  EXPECT_EQ(Ids(store_->List({.state = DeploymentState::kRolledBack, .since = since2})),
            (V{"s1", "r2"}));
  EXPECT_EQ(Ids(store_->List({.state = DeploymentState::kRolledBack, .since = since2, .limit = 1})),
            (V{"s1"}));
  // The active listings (the controller's and the endpoint's) honour the window too.
  EXPECT_EQ(Ids(store_->List({.active_only = true})), (V{"s2", "r3"}));
  EXPECT_EQ(Ids(store_->List({.active_only = true, .until = At(1'700'000'004'000)})), (V{"r3"}));
  EXPECT_EQ(Ids(store_->List({.active_only = true, .limit = 1})), (V{"s2"}));
  EXPECT_EQ(Ids(store_->List({.endpoint = "recs", .active_only = true, .since = since2})),
            (V{"r3"}));
  EXPECT_EQ(
      Ids(store_->List({.endpoint = "recs", .active_only = true, .since = At(1'700'000'003'001)})),
      V{});
  EXPECT_EQ(Ids(store_->List({.endpoint = "search",
                              .active_only = true,
                              .after = DeploymentCursor{At(1'700'000'004'000), "s2"}})),
            V{});
}

}  // namespace deployment_store_contract
}  // namespace mlcanary::core::testing

#endif  // MLCANARY_CORE_TESTING_DEPLOYMENT_STORE_HISTORY_CONTRACT_H_
