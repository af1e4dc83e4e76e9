// The PostgreSQL store on a real PostgreSQL server that this binary starts
// once (testing/postgres_server.h): the DeploymentStore contract
// (core/testing/deployment_store_contract.h, one schema per test) and what is
// PostgreSQL's own: migrations, the database's guards under concurrency,
// outages and restarts, the outbox's commit order, and the errors of a bad URL.
#include <gtest/gtest.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <pqxx/pqxx>
#pragma GCC diagnostic pop

#include <atomic>
#include <chrono>
#include <latch>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/ports.h"
#include "core/testing/deployment_store_contract.h"
#include "store/postgres_deployment_store.h"
#include "store/postgres_url.h"
#include "store/testing/postgres_environment.h"
#include "store/testing/postgres_server.h"
#include "store/testing/sample_records.h"

namespace mlcanary::store {
namespace {

using core::Deployment;
using core::DeploymentEvent;
using core::DeploymentState;
using core::ErrorCode;
using core::testing::DeploymentStoreContractTest;
using core::testing::DeploymentStoreKind;
using testing::PostgresServer;

using testing::PostgresEnvironment;

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

// A fresh schema of the database `postgres` per call: "postgresql://...?options=
// -csearch_path=<schema>", so every test starts from an empty store (cheaper than
// a database per test, and the way to share one database with others).
std::string FreshSchemaUrl() {
  static std::atomic<int> counter{0};
  PostgresServer* server = PostgresEnvironment::server();
  if (server == nullptr) {
    ADD_FAILURE() << "postgres test server did not start: " << PostgresEnvironment::error();
    return "";
  }
  const std::string schema = "t" + std::to_string(++counter);
  if (auto s = server->Exec("postgres", "CREATE SCHEMA " + schema); !s) {
    ADD_FAILURE() << s.error().ToString();
    return "";
  }
  return server->Url("postgres") + "?options=-csearch_path%3D" + schema;
}

std::unique_ptr<core::DeploymentStore> MakePostgres() {
  const std::string url = FreshSchemaUrl();
  if (url.empty()) return nullptr;
  auto store = PostgresDeploymentStore::Open(url);
  if (!store) {
    ADD_FAILURE() << store.error().ToString();
    return nullptr;
  }
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(Stores, DeploymentStoreContractTest,
                         ::testing::Values(DeploymentStoreKind{"Postgres", MakePostgres, {}}),
                         ::testing::PrintToStringParamName());

Deployment MakeDeployment(std::string id, std::string endpoint) {
  return testing::InProgressDeployment(std::move(id), std::move(endpoint));
}
DeploymentEvent MakeEvent(std::string reason) {
  return testing::WeightChangeEvent(std::move(reason));
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = PostgresEnvironment::server();
    ASSERT_NE(server_, nullptr) << PostgresEnvironment::error();
    url_ = FreshSchemaUrl();
    ASSERT_FALSE(url_.empty());
  }
  std::unique_ptr<PostgresDeploymentStore> Open(const PostgresStoreOptions& options = {}) {
    auto store = PostgresDeploymentStore::Open(url_, options);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }
  // The schema's name, as FreshSchemaUrl put it in url_.
  std::string Schema() const { return url_.substr(url_.rfind("%3D") + 3); }

  PostgresServer* server_ = nullptr;
  std::string url_;
};

// One line, naming the server without the password.
void ExpectOneLineWithoutPassword(const core::Error& e, const std::string& names) {
  EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find(PostgresServer::kPassword), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(names), std::string::npos) << e.message();
}

TEST_F(PostgresStoreTest, MigratesAnEmptyDatabaseAndReopensWithItsRecords) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->SchemaVersion(), PostgresDeploymentStore::kSchemaVersion);
  ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {MakeEvent("created")}));
  store.reset();
  // Opening again migrates nothing and finds the record.
  auto again = Open();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(*again->SchemaVersion(), PostgresDeploymentStore::kSchemaVersion);
  auto d = again->Get("d1");
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->version, 1);
}

TEST_F(PostgresStoreTest, ReplicasStartingTogetherMigrateOnce) {
  constexpr int kReplicas = 4;
  std::latch go(kReplicas);
  std::vector<core::Result<std::unique_ptr<PostgresDeploymentStore>>> opened;
  for (int i = 0; i < kReplicas; ++i) opened.emplace_back(core::InternalError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      opened[i] = PostgresDeploymentStore::Open(url_);
    });
  }
  for (auto& t : threads) t.join();
  for (auto& o : opened) ASSERT_TRUE(o) << o.error().ToString();
  EXPECT_EQ(*(*opened[0])->SchemaVersion(), PostgresDeploymentStore::kSchemaVersion);
}

TEST_F(PostgresStoreTest, RefusesADatabaseWithANewerSchema) {
  ASSERT_NE(Open(), nullptr);
  ASSERT_TRUE(server_->Exec(
      "postgres",
      "INSERT INTO " + Schema() + ".schema_version (version, applied_at) VALUES (99, 0)"));
  auto store = PostgresDeploymentStore::Open(url_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(store.error().message().find("schema version 99 is newer"), std::string::npos)
      << store.error().message();
  ExpectOneLineWithoutPassword(store.error(), "postgresql://mlcanary:***@127.0.0.1:");
}

// The database itself refuses a second active deployment on an endpoint, not
// only the store's check before its INSERT.
TEST_F(PostgresStoreTest, TheDatabaseRefusesASecondActiveDeployment) {
  auto store = Open();
  ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {}));
  auto raw = server_->Exec(
      "postgres", "INSERT INTO " + Schema() +
                      ".deployments (id, endpoint, state, version, created_at, updated_at, record)"
                      " VALUES ('d2', 'recs', 'PENDING', 1, 0, 0, '{}')");
  ASSERT_FALSE(raw);
  EXPECT_NE(raw.error().message().find("deployments_one_active_per_endpoint"), std::string::npos)
      << raw.error().message();
}

// A Create whose check ran before another replica's active deployment on the
// same endpoint committed: the unique index makes it wait, then refuses it,
// and the store answers Conflict naming the endpoint.
TEST_F(PostgresStoreTest, CreateRacingAnUncommittedActiveDeploymentConflicts) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  pqxx::connection other(url_);
  pqxx::work tx(other);
  tx.exec(
      "INSERT INTO deployments (id, endpoint, state, version, created_at, updated_at, record)"
      " VALUES ('theirs', 'recs', 'IN_PROGRESS', 1, 0, 0, '{}')");
  core::Result<Deployment> created = core::InternalError("not run");
  std::thread creator([&] { created = store->Create(MakeDeployment("mine", "recs"), {}); });
  // Let the Create reach its INSERT and wait there on the index entry.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  tx.commit();
  creator.join();
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), ErrorCode::kConflict) << created.error().ToString();
  EXPECT_NE(created.error().message().find("'recs'"), std::string::npos)
      << created.error().message();
  EXPECT_EQ(store->Get("mine").error().code(), ErrorCode::kNotFound);
}

// Every pooled connection busy (here the only one, its call waiting on a lock
// another session holds): the next call does not wait with no end but answers
// Unavailable naming the pool, and the store works again once the lock goes.
TEST_F(PostgresStoreTest, ACallFindingEveryConnectionBusyIsUnavailableNotAStall) {
  auto store = Open({.max_connections = 1, .acquire_timeout = std::chrono::milliseconds(300)});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {}));
  pqxx::connection other(url_);
  pqxx::work tx(other);
  tx.exec("LOCK TABLE deployments IN ACCESS EXCLUSIVE MODE");
  core::Result<Deployment> stuck = core::InternalError("not run");
  std::thread reader([&] { stuck = store->Get("d1"); });
  // The reader holds the connection, waiting on the lock, until it goes.
  pqxx::connection watcher(url_);
  bool waiting = false;
  for (int i = 0; i < 1000 && !waiting; ++i) {
    pqxx::nontransaction q(watcher);
    waiting = q.exec1("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0]
                  .as<int>() > 0;
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto busy = store->Get("d1");
  tx.abort();
  reader.join();
  ASSERT_TRUE(waiting) << "the reader never waited on the lock";
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code(), ErrorCode::kUnavailable) << busy.error().ToString();
  ExpectOneLineWithoutPassword(busy.error(), "all 1 connections to postgresql://");
  EXPECT_NE(busy.error().message().find("stayed busy for 300 ms"), std::string::npos)
      << busy.error().message();
  ASSERT_TRUE(stuck) << stuck.error().ToString();
  EXPECT_EQ(stuck->id, "d1");
  EXPECT_TRUE(store->Get("d1"));
}

// A statement stuck on a lock longer than statement_timeout is cancelled by
// the server: kTimeout naming the operation, and the connection serves on.
TEST_F(PostgresStoreTest, AStatementStuckOnALockIsCancelledAtTheStatementTimeout) {
  auto store = Open({.statement_timeout = std::chrono::milliseconds(300)});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {}));
  pqxx::connection other(url_);
  pqxx::work tx(other);
  tx.exec("LOCK TABLE deployments IN ACCESS EXCLUSIVE MODE");
  auto stuck = store->Get("d1");
  tx.abort();
  ASSERT_FALSE(stuck);
  EXPECT_EQ(stuck.error().code(), ErrorCode::kTimeout) << stuck.error().ToString();
  EXPECT_NE(stuck.error().message().find("'d1'"), std::string::npos) << stuck.error().message();
  EXPECT_TRUE(store->Get("d1"));
}

// Two replicas (two stores on one database) create on the same endpoints at
// once: exactly one wins each race, the other gets Conflict.
TEST_F(PostgresStoreTest, ConcurrentCreatesFromTwoReplicasLeaveOneActive) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const std::string endpoint = "e" + std::to_string(round);
    std::latch go(2);
    core::Result<Deployment> results[2] = {core::InternalError("not run"),
                                           core::InternalError("not run")};
    PostgresDeploymentStore* stores[2] = {a.get(), b.get()};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        results[i] = stores[i]->Create(MakeDeployment(endpoint + "-" + std::to_string(i), endpoint),
                                       {MakeEvent("created")});
      });
    }
    for (auto& t : threads) t.join();
    int won = 0;
    for (auto& r : results) {
      if (r) {
        ++won;
      } else {
        EXPECT_EQ(r.error().code(), ErrorCode::kConflict) << r.error().ToString();
      }
    }
    EXPECT_EQ(won, 1) << endpoint;
    auto active = a->List({.endpoint = endpoint, .active_only = true});
    ASSERT_TRUE(active);
    EXPECT_EQ(active->size(), 1u) << endpoint;
  }
}

TEST_F(PostgresStoreTest, AStaleReplicaCannotOverwriteANewerVersion) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a->Create(MakeDeployment("d1", "recs"), {}));
  auto seen_by_b = b->Get("d1");
  ASSERT_TRUE(seen_by_b);
  auto d = a->Get("d1");
  d->canary_weight = 0.3;
  ASSERT_TRUE(a->Update(*d, {MakeEvent("a")}));
  seen_by_b->canary_weight = 0.9;
  auto stale = b->Update(*seen_by_b, {MakeEvent("b")});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), ErrorCode::kConflict);
  EXPECT_NE(stale.error().message().find("version 1, stored 2"), std::string::npos)
      << stale.error().message();
  EXPECT_EQ(b->Get("d1")->canary_weight, 0.3);
  EXPECT_EQ(b->ListEvents("d1", 0)->size(), 1u);
}

// The server goes away: every call is kUnavailable (the controller holds),
// one line naming the server; nothing is half-written; once the server is
// back, the same store works again without being reopened.
TEST_F(PostgresStoreTest, ServerStoppedIsUnavailableAndRestartedWorksAgain) {
  auto store = Open();
  ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {MakeEvent("created")}));
  auto d = store->Get("d1");
  ASSERT_TRUE(d);

  ASSERT_TRUE(server_->Stop());
  const std::string names = "127.0.0.1:" + std::to_string(server_->port());
  auto got = store->Get("d1");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable) << got.error().ToString();
  EXPECT_TRUE(got.error().retryable());
  ExpectOneLineWithoutPassword(got.error(), names);
  EXPECT_NE(got.error().message().find("get deployment 'd1'"), std::string::npos)
      << got.error().message();
  d->canary_weight = 0.5;
  auto updated = store->Update(*d, {MakeEvent("during the outage")});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code(), ErrorCode::kUnavailable) << updated.error().ToString();
  ExpectOneLineWithoutPassword(updated.error(), names);
  EXPECT_EQ(store->List({}).error().code(), ErrorCode::kUnavailable);

  ASSERT_TRUE(server_->Restart());
  // The first call after the restart already works: the pool's dead
  // connections are replaced, not handed out.
  auto back = store->Get("d1");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->version, 1);  // the outage's Update wrote nothing
  EXPECT_EQ(back->canary_weight, MakeDeployment("d1", "recs").canary_weight);
  auto again = store->Update(*back, {MakeEvent("after the restart")});
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(store->ListEvents("d1", 0)->size(), 2u);
}

// A restart between two calls: the pool's idle connections died with the old
// server; the next call notices before it changed anything and runs again on
// a new connection, so the caller sees no error at all.
TEST_F(PostgresStoreTest, AServerRestartBetweenCallsIsInvisible) {
  auto store = Open();
  ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {MakeEvent("created")}));
  ASSERT_TRUE(store->Get("d1"));  // a connection idles in the pool
  ASSERT_TRUE(server_->Stop());
  ASSERT_TRUE(server_->Restart());
  auto got = store->Get("d1");
  ASSERT_TRUE(got) << got.error().ToString();
  auto updated = store->Update(*got, {MakeEvent("after the restart")});
  ASSERT_TRUE(updated) << updated.error().ToString();
}

// Positions in commit order: a reader that follows the outbox as it grows
// (read after the last position it saw, again and again) while replicas
// write concurrently sees every entry. Positions handed out in statement
// order rather than commit order (a sequence) let a later position commit
// first; the reader then moves past the earlier one, which it never sees.
TEST_F(PostgresStoreTest, OutboxPositionsFollowCommitOrder) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->SetSinks({"hook"}));
  const std::int64_t start = *a->Cursor("hook");
  constexpr int kWriters = 8, kUpdates = 25;
  for (int t = 0; t < kWriters; ++t) {
    ASSERT_TRUE(a->Create(MakeDeployment("d" + std::to_string(t), "e" + std::to_string(t)), {}));
  }
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      PostgresDeploymentStore* store = t % 2 == 0 ? a.get() : b.get();
      const std::string id = "d" + std::to_string(t);
      for (int i = 0; i < kUpdates;) {
        auto d = store->Get(id);
        if (!d) {
          ++failures;
          return;
        }
        auto updated = store->Update(*d, {MakeEvent("step")});
        if (updated) {
          ++i;
        } else if (updated.error().code() != ErrorCode::kConflict) {
          ++failures;
          return;
        }
      }
    });
  }
  std::set<std::pair<std::string, std::int64_t>> seen;
  std::int64_t after = start;
  auto follow = [&] {
    auto page = b->ReadOutbox(after, 1000);
    if (!page) {
      ADD_FAILURE() << page.error().ToString();
      return;
    }
    for (const auto& e : *page) {
      EXPECT_GT(e.position, after);
      seen.emplace(e.event.deployment_id, e.event.seq);
      after = e.position;
    }
  };
  std::thread reader([&] {
    while (!done) follow();
  });
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  follow();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kWriters * kUpdates))
      << "the follower missed entries that committed behind a higher position";
}

TEST_F(PostgresStoreTest, AMalformedUrlIsOneLineNamingIt) {
  for (const std::string& url :
       {std::string("postgresql://mlcanary:hunter2@127.0.0.1:notaport/db"),
        std::string("postgresql://mlcanary:hunter2@127.0.0.1/db?no_such_option=1")}) {
    auto store = PostgresDeploymentStore::Open(url);
    ASSERT_FALSE(store) << url;
    EXPECT_EQ(store.error().code(), ErrorCode::kValidation) << store.error().ToString();
    EXPECT_EQ(store.error().message().find('\n'), std::string::npos) << store.error().message();
    EXPECT_EQ(store.error().message().find("hunter2"), std::string::npos)
        << store.error().message();
    EXPECT_NE(store.error().message().find("postgresql://mlcanary:***@127.0.0.1"),
              std::string::npos)
        << store.error().message();
  }
  auto not_postgres = PostgresDeploymentStore::Open("mysql://x");
  ASSERT_FALSE(not_postgres);
  EXPECT_EQ(not_postgres.error().code(), ErrorCode::kValidation);
}

TEST_F(PostgresStoreTest, AWrongPasswordIsUnauthenticatedWithoutThePassword) {
  const std::string url =
      "postgresql://mlcanary:wrong-password@127.0.0.1:" + std::to_string(server_->port()) +
      "/postgres";
  auto store = PostgresDeploymentStore::Open(url);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kUnauthenticated) << store.error().ToString();
  EXPECT_NE(store.error().message().find("password authentication failed"), std::string::npos)
      << store.error().message();
  EXPECT_EQ(store.error().message().find("wrong-password"), std::string::npos)
      << store.error().message();
  ExpectOneLineWithoutPassword(store.error(), "postgresql://mlcanary:***@127.0.0.1:" +
                                                  std::to_string(server_->port()) + "/postgres");
}

TEST_F(PostgresStoreTest, AnUnreachableServerIsUnavailableNamingIt) {
  // A port nothing listens on: refused at once.
  const std::string refused =
      "postgresql://mlcanary:" + std::string(PostgresServer::kPassword) + "@127.0.0.1:1/postgres";
  auto store = PostgresDeploymentStore::Open(refused);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kUnavailable) << store.error().ToString();
  ExpectOneLineWithoutPassword(store.error(), "postgresql://mlcanary:***@127.0.0.1:1/postgres");
  // An address nothing answers (TEST-NET-1): given up after connect_timeout.
  PostgresStoreOptions options;
  options.connect_timeout = std::chrono::seconds(1);
  const auto before = std::chrono::steady_clock::now();
  auto silent = PostgresDeploymentStore::Open("postgresql://u@192.0.2.1:5432/db", options);
  ASSERT_FALSE(silent);
  EXPECT_EQ(silent.error().code(), ErrorCode::kUnavailable) << silent.error().ToString();
  EXPECT_NE(silent.error().message().find("192.0.2.1"), std::string::npos)
      << silent.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(30));
}

TEST(PostgresUrlTest, RedactsThePassword) {
  EXPECT_EQ(RedactPostgresUrl("postgresql://u:secret@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(RedactPostgresUrl("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(RedactPostgresUrl("postgresql://h/db?password=secret&sslmode=require"),
            "postgresql://h/db?password=***&sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgres://u:p@ss@h?x=1&password=p"),
            "postgres://u:***@h?x=1&password=***");
  EXPECT_TRUE(IsPostgresUrl("postgresql://h/db"));
  EXPECT_TRUE(IsPostgresUrl("postgres://h/db"));
  EXPECT_FALSE(IsPostgresUrl("postgresql:h"));
}

}  // namespace
}  // namespace mlcanary::store
