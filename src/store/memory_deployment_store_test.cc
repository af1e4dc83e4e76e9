#include "store/memory_deployment_store.h"

#include <gtest/gtest.h>

namespace mlcanary::store {
namespace {

using core::Deployment;
using core::DeploymentEvent;
using core::DeploymentState;
using core::ErrorCode;

Deployment MakeDeployment(std::string id, std::string endpoint) {
  Deployment d;
  d.id = std::move(id);
  d.endpoint = std::move(endpoint);
  d.production_variant = "production";
  d.canary_variant = "canary";
  return d;
}

TEST(MemoryDeploymentStoreTest, CreateSetsVersionOneAndNumbersEvents) {
  MemoryDeploymentStore store;
  auto created = store.Create(MakeDeployment("d1", "recs"), {DeploymentEvent{}, DeploymentEvent{}});
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_EQ(created->version, 1);
  auto events = store.ListEvents("d1", 0);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].seq, 1);
  EXPECT_EQ((*events)[1].seq, 2);
  EXPECT_EQ((*events)[1].deployment_id, "d1");
}

TEST(MemoryDeploymentStoreTest, SecondActiveDeploymentOnEndpointConflicts) {
  MemoryDeploymentStore store;
  ASSERT_TRUE(store.Create(MakeDeployment("d1", "recs"), {}));
  auto second = store.Create(MakeDeployment("d2", "recs"), {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kConflict);
  EXPECT_TRUE(store.Create(MakeDeployment("d3", "other"), {}));
}

TEST(MemoryDeploymentStoreTest, FinishedDeploymentFreesTheEndpoint) {
  MemoryDeploymentStore store;
  auto d = store.Create(MakeDeployment("d1", "recs"), {});
  ASSERT_TRUE(d);
  d->state = DeploymentState::kCompleted;
  ASSERT_TRUE(store.Update(*d, {}));
  EXPECT_TRUE(store.Create(MakeDeployment("d2", "recs"), {}));
}

TEST(MemoryDeploymentStoreTest, StaleVersionIsRefusedAndWritesNothing) {
  MemoryDeploymentStore store;
  auto d = store.Create(MakeDeployment("d1", "recs"), {});
  ASSERT_TRUE(d);
  auto first = store.Update(*d, {DeploymentEvent{}});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->version, 2);
  auto stale = store.Update(*d, {DeploymentEvent{}});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(store.ListEvents("d1", 0)->size(), 1u);
}

TEST(MemoryDeploymentStoreTest, ListFiltersAndOrdersNewestFirst) {
  MemoryDeploymentStore store;
  auto a = store.Create(MakeDeployment("a", "recs"), {});
  a->state = DeploymentState::kRolledBack;
  ASSERT_TRUE(store.Update(*a, {}));
  ASSERT_TRUE(store.Create(MakeDeployment("b", "recs"), {}));
  ASSERT_TRUE(store.Create(MakeDeployment("c", "search"), {}));
  auto all = store.List({});
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "c");
  EXPECT_EQ((*all)[2].id, "a");
  auto recs = store.List({.endpoint = "recs"});
  EXPECT_EQ(recs->size(), 2u);
  auto active = store.List({.endpoint = "recs", .active_only = true});
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].id, "b");
  auto rolled = store.List({.state = DeploymentState::kRolledBack});
  ASSERT_EQ(rolled->size(), 1u);
}

TEST(MemoryDeploymentStoreTest, UnknownIdIsNotFound) {
  MemoryDeploymentStore store;
  EXPECT_EQ(store.Get("nope").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.ListEvents("nope", 0).error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace mlcanary::store
