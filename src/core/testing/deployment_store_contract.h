// The DeploymentStore contract (core/ports.h), run against every
// implementation: the in-memory store, SQLite, DynamoDB (on the moto harness)
// and PostgreSQL must be interchangeable behind the port.
//
// Header-only and defines the tests: include it in exactly one .cc file of a
// test binary, describe the store with a DeploymentStoreKind and instantiate
// the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, DeploymentStoreContractTest,
//                            ::testing::Values(DeploymentStoreKind{"Sqlite", MakeSqlite, {}}),
//                            ::testing::PrintToStringParamName());
//
// It depends on core alone: a store that needs a directory (SQLite) makes it
// in its own factory.
#ifndef MLCANARY_CORE_TESTING_DEPLOYMENT_STORE_CONTRACT_H_
#define MLCANARY_CORE_TESTING_DEPLOYMENT_STORE_CONTRACT_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/ports.h"
#include "core/state_machine.h"
#include "core/time.h"
#include "core/types.h"

namespace mlcanary::core {
// Readable failure messages: gtest prints values through these.
inline void PrintTo(const Deployment& d, std::ostream* os) {
  *os << "{id: " << d.id << ", endpoint: " << d.endpoint << ", state: " << StateName(d.state)
      << ", version: " << d.version << ", canary_weight: " << d.canary_weight << "}";
}
inline void PrintTo(const DeploymentEvent& e, std::ostream* os) {
  *os << "{deployment_id: " << e.deployment_id << ", seq: " << e.seq
      << ", kind: " << EventKindName(e.kind) << ", to_state: " << StateName(e.to_state)
      << ", reason: " << e.reason << "}";
}
}  // namespace mlcanary::core

namespace mlcanary::core::testing {

// One implementation under the contract.
struct DeploymentStoreKind {
  std::string name;
  // A fresh, empty store, called once per test.
  std::function<std::unique_ptr<DeploymentStore>()> make;
  // Optional: runs after each test, with the store still open (e.g. to check
  // that every request a remote store sent was well formed).
  std::function<void()> after_each;
};

// Test names and failure messages show the store's name, not its bytes.
inline void PrintTo(const DeploymentStoreKind& kind, std::ostream* os) { *os << kind.name; }

class DeploymentStoreContractTest : public ::testing::TestWithParam<DeploymentStoreKind> {
 protected:
  void SetUp() override {
    store_ = GetParam().make();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    if (GetParam().after_each) GetParam().after_each();
  }

  std::unique_ptr<DeploymentStore> store_;
};

namespace deployment_store_contract {

using core::Deployment;
using core::DeploymentEvent;
using core::DeploymentState;
using core::ErrorCode;
using namespace std::chrono_literals;

inline Timestamp At(std::int64_t ms) { return Timestamp(Duration(ms)); }

inline Deployment MakeDeployment(std::string id, std::string endpoint) {
  Deployment d;
  d.id = std::move(id);
  d.endpoint = std::move(endpoint);
  d.production_variant = "production";
  d.canary_variant = "canary";
  d.canary_model.path = "models/v2.json";
  d.created_at = At(1'700'000'000'000);
  d.updated_at = d.created_at;
  return d;
}

inline DeploymentEvent MakeEvent(std::string reason) {
  DeploymentEvent e;
  e.time = At(1'700'000'000'500);
  e.kind = core::EventKind::kTransition;
  e.from_state = DeploymentState::kPending;
  e.to_state = DeploymentState::kInProgress;
  e.weight_after = 0.1;
  e.reason = std::move(reason);
  e.actor = "controller";
  return e;
}

// Every field away from its default, so that a lossy encoding shows.
inline Deployment FullDeployment() {
  Deployment d = MakeDeployment("full", "recs");
  d.canary_model.kind = core::ModelKind::kHttp;
  d.canary_model.path.clear();
  d.canary_model.url = "http://127.0.0.1:9001";
  d.canary_model.timeout = 350ms;
  d.canary_instances = 3;
  d.state = DeploymentState::kInProgress;
  d.canary_weight = 0.35;
  d.paused = true;
  d.keep_previous = true;
  d.policy.initial_weight = 0.05;
  d.policy.step = 0.2;
  d.policy.bake = 90s;
  d.policy.interval = 1500ms;
  d.policy.final_bake = 5min;
  d.policy.max_p99_ms = 123.5;
  d.policy.max_error_rate = 0.02;
  d.policy.max_latency_ratio = 1.75;
  d.policy.max_error_rate_diff = 0.03;
  d.policy.latency_breaches_to_rollback = 4;
  d.policy.error_breaches_to_rollback = 1;
  d.policy.min_invocations = 7;
  d.policy.auto_rollback = false;
  d.created_at = At(1'700'000'000'123);
  d.updated_at = At(1'700'000'100'456);
  d.progress.weight_since = At(1'700'000'050'000);
  d.progress.healthy_since = At(1'700'000'060'000);
  d.progress.last_check_at = At(1'700'000'070'000);
  d.progress.latency_breaches = 2;
  d.progress.error_breaches = 1;
  d.progress.failed_checks = 1;
  d.progress.checks = 42;
  return d;
}

inline DeploymentEvent CheckEvent() {
  DeploymentEvent e;
  e.time = At(1'700'000'070'000);
  e.kind = core::EventKind::kCheck;
  e.from_state = DeploymentState::kInProgress;
  e.to_state = DeploymentState::kInProgress;
  e.weight_before = 0.35;
  e.weight_after = 0.35;
  e.reason = "canary p99 131 ms >= 100 ms";
  e.actor = "controller";
  core::HealthReport r;
  r.verdict = core::Verdict::kLatencyBreached;
  r.latency_breached = true;
  r.canary = {.invocations = 2100,
              .errors_4xx = 3,
              .errors_5xx = 4,
              .p50_ms = 20.25,
              .p90_ms = 80.5,
              .p99_ms = 131,
              .overhead_ms = 0.125};
  r.production = {.invocations = 3900, .p99_ms = 40};
  r.canary_error_rate = 7.0 / 2100;
  r.latency_ratio = 131.0 / 40;
  r.error_rate_diff = 7.0 / 2100;
  r.thresholds = {.max_p99_ms = 100,
                  .max_error_rate = 0.01,
                  .max_latency_ratio = 2,
                  .max_error_rate_diff = 0.05,
                  .min_invocations = 100};
  r.reason = "canary p99 131 ms >= 100 ms";
  e.check = r;
  return e;
}

TEST_P(DeploymentStoreContractTest, CreateSetsVersionOneAndNumbersEvents) {
  auto created = store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("a"), MakeEvent("b")});
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_EQ(created->version, 1);
  auto events = store_->ListEvents("d1", 0);
  ASSERT_TRUE(events) << events.error().ToString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].seq, 1);
  EXPECT_EQ((*events)[0].reason, "a");
  EXPECT_EQ((*events)[1].seq, 2);
  EXPECT_EQ((*events)[1].deployment_id, "d1");
}

TEST_P(DeploymentStoreContractTest, CreateWithoutIdIsInvalid) {
  auto created = store_->Create(MakeDeployment("", "recs"), {});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), ErrorCode::kValidation);
}

TEST_P(DeploymentStoreContractTest, UpdateWithoutIdIsInvalid) {
  auto updated = store_->Update(MakeDeployment("", "recs"), {MakeEvent("x")});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code(), ErrorCode::kValidation);
}

TEST_P(DeploymentStoreContractTest, CreateWithExistingIdConflicts) {
  Deployment d = MakeDeployment("d1", "recs");
  d.state = DeploymentState::kCompleted;
  ASSERT_TRUE(store_->Create(d, {}));
  auto again = store_->Create(MakeDeployment("d1", "other"), {MakeEvent("x")});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(store_->Get("d1")->endpoint, "recs");
  EXPECT_TRUE(store_->ListEvents("d1", 0)->empty());
}

TEST_P(DeploymentStoreContractTest, SecondActiveDeploymentOnEndpointConflicts) {
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {}));
  auto second = store_->Create(MakeDeployment("d2", "recs"), {MakeEvent("x")});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kConflict);
  EXPECT_NE(second.error().message().find("'recs'"), std::string::npos) << second.error().message();
  EXPECT_EQ(store_->Get("d2").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->Create(MakeDeployment("d3", "other"), {}));
}

TEST_P(DeploymentStoreContractTest, OnlyActiveStatesOccupyTheEndpoint) {
  for (int i = 0; i <= static_cast<int>(DeploymentState::kCancelled); ++i) {
    auto state = static_cast<DeploymentState>(i);
    std::string endpoint = "e" + std::to_string(i);
    Deployment first = MakeDeployment("first-" + endpoint, endpoint);
    first.state = state;
    ASSERT_TRUE(store_->Create(first, {}));
    auto second = store_->Create(MakeDeployment("second-" + endpoint, endpoint), {});
    EXPECT_EQ(second.has_value(), !core::IsActive(state)) << core::StateName(state);
  }
}

TEST_P(DeploymentStoreContractTest, FinishedDeploymentFreesTheEndpoint) {
  auto d = store_->Create(MakeDeployment("d1", "recs"), {});
  ASSERT_TRUE(d);
  d->state = DeploymentState::kCompleted;
  ASSERT_TRUE(store_->Update(*d, {}));
  EXPECT_TRUE(store_->Create(MakeDeployment("d2", "recs"), {}));
}

TEST_P(DeploymentStoreContractTest, ReactivatingOnAnOccupiedEndpointConflicts) {
  Deployment old = MakeDeployment("old", "recs");
  old.state = DeploymentState::kRolledBack;
  auto stored_old = store_->Create(old, {});
  ASSERT_TRUE(stored_old);
  ASSERT_TRUE(store_->Create(MakeDeployment("new", "recs"), {}));
  stored_old->state = DeploymentState::kInProgress;
  auto update = store_->Update(*stored_old, {MakeEvent("revived")});
  ASSERT_FALSE(update);
  EXPECT_EQ(update.error().code(), ErrorCode::kConflict);
  EXPECT_NE(update.error().message().find("'recs'"), std::string::npos) << update.error().message();
  EXPECT_EQ(store_->Get("old")->state, DeploymentState::kRolledBack);
  EXPECT_TRUE(store_->ListEvents("old", 0)->empty());
}

TEST_P(DeploymentStoreContractTest, UpdateBumpsVersionAndContinuesTheEventLog) {
  auto d = store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("a"), MakeEvent("b")});
  ASSERT_TRUE(d);
  d->canary_weight = 0.2;
  d->progress.checks = 5;
  auto updated = store_->Update(*d, {MakeEvent("c"), MakeEvent("d")});
  ASSERT_TRUE(updated) << updated.error().ToString();
  EXPECT_EQ(updated->version, 2);
  auto read = store_->Get("d1");
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, *updated);
  auto events = store_->ListEvents("d1", 0);
  ASSERT_EQ(events->size(), 4u);
  for (std::size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].seq, static_cast<std::int64_t>(i) + 1);
  }
  EXPECT_EQ((*events)[3].reason, "d");
}

TEST_P(DeploymentStoreContractTest, StaleVersionIsRefusedAndWritesNothing) {
  auto d = store_->Create(MakeDeployment("d1", "recs"), {});
  ASSERT_TRUE(d);
  Deployment first_writer = *d;
  first_writer.canary_weight = 0.3;
  auto first = store_->Update(first_writer, {MakeEvent("first")});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->version, 2);
  Deployment stale = *d;
  stale.canary_weight = 0.9;
  auto refused = store_->Update(stale, {MakeEvent("stale")});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(*store_->Get("d1"), *first);
  auto events = store_->ListEvents("d1", 0);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].reason, "first");
}

TEST_P(DeploymentStoreContractTest, UpdateOfUnknownIdIsNotFound) {
  Deployment d = MakeDeployment("ghost", "recs");
  d.version = 1;
  auto update = store_->Update(d, {MakeEvent("x")});
  ASSERT_FALSE(update);
  EXPECT_EQ(update.error().code(), ErrorCode::kNotFound);
}

TEST_P(DeploymentStoreContractTest, GetReturnsEveryFieldAsWritten) {
  auto created = store_->Create(FullDeployment(), {});
  ASSERT_TRUE(created) << created.error().ToString();
  Deployment expected = FullDeployment();
  expected.version = 1;
  EXPECT_EQ(*created, expected);
  auto read = store_->Get("full");
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(*read, expected);
}

// An explicit schedule replaces initial_weight and step (which then mean
// nothing and need not survive); the schedule itself must.
TEST_P(DeploymentStoreContractTest, ExplicitStepScheduleSurvives) {
  Deployment d = MakeDeployment("stepped", "recs");
  d.policy.steps = {0.01, 0.05, 0.25, 1.0};
  ASSERT_TRUE(store_->Create(d, {}));
  auto read = store_->Get("stepped");
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(read->policy.steps, d.policy.steps);
}

TEST_P(DeploymentStoreContractTest, EventsKeepTheirCheckReport) {
  ASSERT_TRUE(store_->Create(FullDeployment(), {CheckEvent()}));
  auto events = store_->ListEvents("full", 0);
  ASSERT_TRUE(events) << events.error().ToString();
  ASSERT_EQ(events->size(), 1u);
  DeploymentEvent expected = CheckEvent();
  expected.seq = 1;
  expected.deployment_id = "full";
  EXPECT_EQ((*events)[0], expected);
}

TEST_P(DeploymentStoreContractTest, ListEventsAfterSeqReturnsOnlyNewerOnes) {
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"),
                             {MakeEvent("1"), MakeEvent("2"), MakeEvent("3")}));
  auto events = store_->ListEvents("d1", 1);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].seq, 2);
  EXPECT_TRUE(store_->ListEvents("d1", 3)->empty());
}

TEST_P(DeploymentStoreContractTest, ListFiltersAndOrdersNewestFirst) {
  auto a = store_->Create(MakeDeployment("a", "recs"), {});
  a->state = DeploymentState::kRolledBack;
  ASSERT_TRUE(store_->Update(*a, {}));
  ASSERT_TRUE(store_->Create(MakeDeployment("b", "recs"), {}));
  ASSERT_TRUE(store_->Create(MakeDeployment("c", "search"), {}));
  auto all = store_->List({});
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "c");
  EXPECT_EQ((*all)[1].id, "b");
  EXPECT_EQ((*all)[2].id, "a");
  EXPECT_EQ((*all)[2].version, 2);
  auto recs = store_->List({.endpoint = "recs"});
  EXPECT_EQ(recs->size(), 2u);
  auto active = store_->List({.endpoint = "recs", .active_only = true});
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].id, "b");
  auto rolled = store_->List({.state = DeploymentState::kRolledBack});
  ASSERT_EQ(rolled->size(), 1u);
  EXPECT_EQ((*rolled)[0].id, "a");
  EXPECT_TRUE(store_->List({.endpoint = "nothing"})->empty());
}

TEST_P(DeploymentStoreContractTest, UnknownIdIsNotFound) {
  EXPECT_EQ(store_->Get("nope").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->ListEvents("nope", 0).error().code(), ErrorCode::kNotFound);
}

TEST_P(DeploymentStoreContractTest, SaveEndpointReplacesAndListsByName) {
  core::Endpoint recs{.name = "recs"};
  recs.variants.push_back(
      {.name = "production", .weight = 1, .instances = 2, .model = {.path = "models/v1.json"}});
  core::Endpoint ads{.name = "ads", .status = core::EndpointStatus::kUpdating};
  ads.variants.push_back({.name = "production",
                          .weight = 0.75,
                          .model = {.kind = core::ModelKind::kHttp, .url = "http://h:1"}});
  ads.variants.push_back({.name = "canary", .weight = 0.25, .model = {.path = "m.ubj"}});
  ASSERT_TRUE(store_->SaveEndpoint(recs));
  ASSERT_TRUE(store_->SaveEndpoint(ads));
  recs.variants[0].model.path = "models/v2.json";
  ASSERT_TRUE(store_->SaveEndpoint(recs));
  auto endpoints = store_->ListEndpoints();
  ASSERT_TRUE(endpoints) << endpoints.error().ToString();
  ASSERT_EQ(endpoints->size(), 2u);
  EXPECT_EQ((*endpoints)[0], ads);
  EXPECT_EQ((*endpoints)[1], recs);
}

TEST_P(DeploymentStoreContractTest, SaveEndpointWithoutNameIsInvalid) {
  auto saved = store_->SaveEndpoint(core::Endpoint{});
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code(), ErrorCode::kValidation);
}

// Read-modify-write with retry on Conflict from several threads: no update is
// lost and the event log has no gap.
TEST_P(DeploymentStoreContractTest, ConcurrentWritersNeverLoseAnUpdate) {
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {}));
  constexpr int kThreads = 4;
  constexpr int kUpdatesPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int done = 0; done < kUpdatesPerThread;) {
        auto d = store_->Get("d1");
        if (!d) {
          ++failures;
          return;
        }
        d->progress.checks += 1;
        auto updated = store_->Update(*d, {MakeEvent("step")});
        if (updated) {
          ++done;
        } else if (updated.error().code() != ErrorCode::kConflict) {
          ++failures;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  auto d = store_->Get("d1");
  EXPECT_EQ(d->progress.checks, kThreads * kUpdatesPerThread);
  EXPECT_EQ(d->version, 1 + kThreads * kUpdatesPerThread);
  auto events = store_->ListEvents("d1", 0);
  ASSERT_EQ(events->size(), static_cast<std::size_t>(kThreads * kUpdatesPerThread));
  for (std::size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].seq, static_cast<std::int64_t>(i) + 1);
  }
}

// Create and Update hand back the events as stored: what a notifier announces.
TEST_P(DeploymentStoreContractTest, WritesHandBackTheEventsAsStored) {
  std::vector<DeploymentEvent> appended;
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("created")}, &appended));
  ASSERT_EQ(appended.size(), 1u);
  EXPECT_EQ(appended[0].seq, 1);
  EXPECT_EQ(appended[0].deployment_id, "d1");
  auto d = store_->Get("d1");
  ASSERT_TRUE(d);
  ASSERT_TRUE(store_->Update(*d, {MakeEvent("a"), MakeEvent("b")}, &appended));
  ASSERT_EQ(appended.size(), 2u);
  auto events = store_->ListEvents("d1", 1);
  ASSERT_TRUE(events);
  EXPECT_EQ(appended, *events);
  EXPECT_EQ(appended[0].seq, 2);
  EXPECT_EQ(appended[1].seq, 3);
  EXPECT_EQ(appended[1].reason, "b");
}

// The outbox under test, or null when the adapter has none; then it must say
// so on every call (kUnimplemented, with a message), which this checks.
inline core::EventOutbox* OutboxUnderTest(core::DeploymentStore& store, std::string* why) {
  auto* outbox = dynamic_cast<core::EventOutbox*>(&store);
  if (outbox == nullptr) {
    ADD_FAILURE() << "the store implements no core::EventOutbox";
    return nullptr;
  }
  auto probe = outbox->SetSinks({"probe"});
  if (!probe && probe.error().code() == ErrorCode::kUnimplemented) {
    EXPECT_FALSE(probe.error().message().empty());
    EXPECT_EQ(outbox->Cursor("probe").error().code(), ErrorCode::kUnimplemented);
    EXPECT_EQ(outbox->ReadOutbox(0, 10).error().code(), ErrorCode::kUnimplemented);
    EXPECT_EQ(outbox->AdvanceCursor("probe", 1).error().code(), ErrorCode::kUnimplemented);
    *why = probe.error().message();
    return nullptr;
  }
  EXPECT_TRUE(probe) << probe.error().ToString();
  EXPECT_TRUE(outbox->SetSinks({}));
  return outbox;
}

// Positions of `entries`, in order.
inline std::vector<std::int64_t> Positions(const std::vector<core::OutboxEntry>& entries) {
  std::vector<std::int64_t> out;
  for (const auto& e : entries) out.push_back(e.position);
  return out;
}

TEST_P(DeploymentStoreContractTest, OutboxHoldsEveryEventWrittenWhileASinkExists) {
  std::string why;
  core::EventOutbox* outbox = OutboxUnderTest(*store_, &why);
  if (outbox == nullptr) GTEST_SKIP() << "no outbox: " << why;
  // Before any sink: nothing is kept for anyone.
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("before")}));
  ASSERT_TRUE(outbox->SetSinks({"hook"}));
  auto start = outbox->Cursor("hook");
  ASSERT_TRUE(start) << start.error().ToString();
  auto none = outbox->ReadOutbox(*start, 100);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  auto d = store_->Get("d1");
  std::vector<DeploymentEvent> appended;
  auto updated = store_->Update(*d, {MakeEvent("a"), MakeEvent("b")}, &appended);
  ASSERT_TRUE(updated);
  std::vector<DeploymentEvent> created;
  auto d2 = store_->Create(MakeDeployment("d2", "other"), {MakeEvent("c")}, &created);
  ASSERT_TRUE(d2);

  auto entries = outbox->ReadOutbox(*start, 100);
  ASSERT_TRUE(entries) << entries.error().ToString();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].event, appended[0]);
  EXPECT_EQ((*entries)[1].event, appended[1]);
  EXPECT_EQ((*entries)[2].event, created[0]);
  // The deployment as the write that appended the event left it.
  EXPECT_EQ((*entries)[0].deployment, *updated);
  EXPECT_EQ((*entries)[1].deployment, *updated);
  EXPECT_EQ((*entries)[2].deployment, *d2);
  const std::vector<std::int64_t> positions = Positions(*entries);
  EXPECT_GT(positions[0], *start);
  EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end()) &&
              std::adjacent_find(positions.begin(), positions.end()) == positions.end());

  // Pages: oldest first, at most `limit`, continuing after a position.
  auto first = outbox->ReadOutbox(*start, 2);
  ASSERT_TRUE(first);
  EXPECT_EQ(Positions(*first), std::vector<std::int64_t>(positions.begin(), positions.begin() + 2));
  auto rest = outbox->ReadOutbox(positions[1], 2);
  ASSERT_TRUE(rest);
  EXPECT_EQ(Positions(*rest), std::vector<std::int64_t>{positions[2]});
}

TEST_P(DeploymentStoreContractTest, OutboxCursorsAdvanceAndEntriesGoOnceEverySinkHasThem) {
  std::string why;
  core::EventOutbox* outbox = OutboxUnderTest(*store_, &why);
  if (outbox == nullptr) GTEST_SKIP() << "no outbox: " << why;
  ASSERT_TRUE(outbox->SetSinks({"a", "b"}));
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("1"), MakeEvent("2")}));
  auto start = outbox->Cursor("a");
  ASSERT_TRUE(start);
  EXPECT_EQ(*outbox->Cursor("b"), *start);
  auto entries = outbox->ReadOutbox(*start, 10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2u);
  const std::int64_t p1 = (*entries)[0].position, p2 = (*entries)[1].position;

  ASSERT_TRUE(outbox->AdvanceCursor("a", p2));
  EXPECT_EQ(*outbox->Cursor("a"), p2);
  // "b" has not delivered them yet: both are still there for it.
  EXPECT_EQ(Positions(*outbox->ReadOutbox(*start, 10)), (std::vector<std::int64_t>{p1, p2}));
  // A cursor never moves back.
  ASSERT_TRUE(outbox->AdvanceCursor("a", p1));
  EXPECT_EQ(*outbox->Cursor("a"), p2);

  ASSERT_TRUE(outbox->AdvanceCursor("b", p1));
  EXPECT_EQ(Positions(*outbox->ReadOutbox(*start, 10)), (std::vector<std::int64_t>{p2}));
  ASSERT_TRUE(outbox->AdvanceCursor("b", p2));
  EXPECT_TRUE(outbox->ReadOutbox(*start, 10)->empty());

  EXPECT_EQ(outbox->Cursor("nobody").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(outbox->AdvanceCursor("nobody", p2).error().code(), ErrorCode::kNotFound);
}

TEST_P(DeploymentStoreContractTest, OutboxNewSinkStartsAtTheEndAndDroppedSinksLetGo) {
  std::string why;
  core::EventOutbox* outbox = OutboxUnderTest(*store_, &why);
  if (outbox == nullptr) GTEST_SKIP() << "no outbox: " << why;
  ASSERT_TRUE(outbox->SetSinks({"old"}));
  auto start = outbox->Cursor("old");
  ASSERT_TRUE(store_->Create(MakeDeployment("d1", "recs"), {MakeEvent("1")}));
  auto entries = outbox->ReadOutbox(*start, 10);
  ASSERT_EQ(entries->size(), 1u);
  const std::int64_t p1 = (*entries)[0].position;

  // "new" is not sent the past; "old" keeps its cursor.
  ASSERT_TRUE(outbox->SetSinks({"old", "new"}));
  EXPECT_EQ(*outbox->Cursor("new"), p1);
  EXPECT_EQ(*outbox->Cursor("old"), *start);
  EXPECT_EQ(Positions(*outbox->ReadOutbox(*start, 10)), std::vector<std::int64_t>{p1});

  // "old" is no longer a sink: its cursor goes, and with it what only it lacked.
  ASSERT_TRUE(outbox->SetSinks({"new"}));
  EXPECT_EQ(outbox->Cursor("old").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(outbox->ReadOutbox(*start, 10)->empty());

  // With no sink, writes queue nothing.
  ASSERT_TRUE(outbox->SetSinks({}));
  auto d = store_->Get("d1");
  ASSERT_TRUE(store_->Update(*d, {MakeEvent("2")}));
  EXPECT_TRUE(outbox->ReadOutbox(0, 10)->empty());
  EXPECT_EQ(outbox->SetSinks({""}).error().code(), ErrorCode::kValidation);
  EXPECT_EQ(outbox->ReadOutbox(0, 0).error().code(), ErrorCode::kValidation);
}

// Concurrent writers: every event lands in the outbox exactly once, and each
// deployment's events come in seq order.
TEST_P(DeploymentStoreContractTest, OutboxOrdersConcurrentWritesWithoutLosingAny) {
  std::string why;
  core::EventOutbox* outbox = OutboxUnderTest(*store_, &why);
  if (outbox == nullptr) GTEST_SKIP() << "no outbox: " << why;
  ASSERT_TRUE(outbox->SetSinks({"hook"}));
  auto start = outbox->Cursor("hook");
  constexpr int kThreads = 4, kUpdates = 10;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(store_->Create(MakeDeployment("d" + std::to_string(t), "e" + std::to_string(t)),
                               {MakeEvent("created")}));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string id = "d" + std::to_string(t);
      for (int i = 0; i < kUpdates;) {
        auto d = store_->Get(id);
        if (!d) {
          ++failures;
          return;
        }
        auto updated = store_->Update(*d, {MakeEvent("step")});
        if (updated) {
          ++i;
        } else if (updated.error().retryable() || updated.error().code() == ErrorCode::kConflict) {
          continue;
        } else {
          ++failures;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::vector<core::OutboxEntry> all;
  for (std::int64_t after = *start;;) {
    auto page = outbox->ReadOutbox(after, 7);
    ASSERT_TRUE(page) << page.error().ToString();
    if (page->empty()) break;
    after = page->back().position;
    all.insert(all.end(), page->begin(), page->end());
  }
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * (kUpdates + 1)));
  std::map<std::string, std::int64_t> last_seq;
  for (const auto& e : all) {
    EXPECT_EQ(e.event.seq, last_seq[e.event.deployment_id] + 1) << e.event.deployment_id;
    last_seq[e.event.deployment_id] = e.event.seq;
  }
  const std::vector<std::int64_t> positions = Positions(all);
  EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end()));
}

}  // namespace deployment_store_contract
}  // namespace mlcanary::core::testing

// The history listings' cases (window, cursor, limit) of the same suite.
#include "core/testing/deployment_store_history_contract.h"  // IWYU pragma: export

#endif  // MLCANARY_CORE_TESTING_DEPLOYMENT_STORE_CONTRACT_H_
