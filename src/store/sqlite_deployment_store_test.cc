// SQLite-specific behaviour of SqliteDeploymentStore: durability across
// reopen and crashes, settings, schema versions, corrupt data, and several
// connections or processes sharing one file. The shared contract is in
// core/testing/deployment_store_contract.h.
#include "store/sqlite_deployment_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "store/testing/sample_records.h"
#include "store/testing/temp_dir.h"

namespace mlcanary::store {
namespace {

using core::Deployment;
using core::DeploymentEvent;
using core::DeploymentState;
using core::ErrorCode;
using ::testing::HasSubstr;

using testing::At;
Deployment MakeDeployment(std::string id, std::string endpoint) {
  return testing::InProgressDeployment(std::move(id), std::move(endpoint));
}
DeploymentEvent MakeEvent(std::string reason) {
  return testing::WeightChangeEvent(std::move(reason));
}

// A second, raw connection to the file: what another program (or a bug)
// could do behind the store's back.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  int Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  const char* ErrorMessage() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteDeploymentStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteDeploymentStore> OpenStore(const SqliteStoreOptions& options = {}) {
    auto store = SqliteDeploymentStore::Open(path_, options);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.File("mlcanary.db");
};

TEST_F(SqliteDeploymentStoreTest, DataSurvivesCloseAndReopen) {
  Deployment d = MakeDeployment("d1", "recs");
  core::Endpoint recs{.name = "recs"};
  recs.variants.push_back({.name = "production", .weight = 1, .model = {.path = "v1.json"}});
  Deployment written;
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    auto created = store->Create(d, {MakeEvent("created")});
    ASSERT_TRUE(created);
    created->progress.checks = 9;
    created->progress.latency_breaches = 2;
    created->progress.last_check_at = At(1'700'000'060'000);
    auto updated = store->Update(*created, {MakeEvent("step 1"), MakeEvent("step 2")});
    ASSERT_TRUE(updated);
    written = *updated;
    ASSERT_TRUE(store->SaveEndpoint(recs));
  }
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto read = store->Get("d1");
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(*read, written);
  EXPECT_EQ(read->progress.checks, 9);
  EXPECT_EQ(read->version, 2);
  auto events = store->ListEvents("d1", 0);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[2].reason, "step 2");
  EXPECT_EQ((*events)[2].seq, 3);
  auto endpoints = store->ListEndpoints();
  ASSERT_TRUE(endpoints);
  ASSERT_EQ(endpoints->size(), 1u);
  EXPECT_EQ((*endpoints)[0], recs);
  // The endpoint is still occupied after the restart.
  EXPECT_EQ(store->Create(MakeDeployment("d2", "recs"), {}).error().code(), ErrorCode::kConflict);
}

TEST_F(SqliteDeploymentStoreTest, UsesWalFullSyncForeignKeysAndBusyTimeout) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto settings = store->Settings();
  ASSERT_TRUE(settings) << settings.error().ToString();
  EXPECT_EQ(settings->journal_mode, "wal");
  EXPECT_EQ(settings->synchronous, 2);  // FULL
  EXPECT_TRUE(settings->foreign_keys);
  EXPECT_EQ(settings->busy_timeout_ms, 5000);
  EXPECT_EQ(settings->schema_version, SqliteDeploymentStore::kSchemaVersion);
  // WAL is a property of the file: another connection sees it too.
  EXPECT_EQ(RawDb(path_).Text("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteDeploymentStoreTest, CreatesParentDirectories) {
  std::string nested = dir_.File("a/b/c/mlcanary.db");
  auto store = SqliteDeploymentStore::Open(nested);
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_TRUE(std::filesystem::exists(nested));
  EXPECT_EQ((*store)->path(), nested);
}

TEST_F(SqliteDeploymentStoreTest, UncreatableDirectoryIsAnErrorNamingThePath) {
  std::ofstream(dir_.File("plain-file")) << "x";
  std::string path = dir_.File("plain-file/sub/mlcanary.db");
  auto store = SqliteDeploymentStore::Open(path);
  ASSERT_FALSE(store);
  EXPECT_THAT(store.error().message(), HasSubstr(path));
}

TEST_F(SqliteDeploymentStoreTest, FileThatIsNotADatabaseIsRefusedNamingThePath) {
  {
    std::ofstream out(path_);
    for (int i = 0; i < 200; ++i) out << "this is not an SQLite database, it is a text file\n";
  }
  auto store = SqliteDeploymentStore::Open(path_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(store.error().message(), HasSubstr(path_));
  EXPECT_THAT(store.error().message(), HasSubstr("not a database"));
}

// A 0-byte file is what a truncated copy or a failed restore leaves: SQLite
// would take it for a new database and the service would start with no
// deployments (an active canary gone). It is refused, and left as it is.
TEST_F(SqliteDeploymentStoreTest, EmptyExistingFileIsRefusedNamingThePath) {
  std::ofstream(path_).close();
  ASSERT_EQ(std::filesystem::file_size(path_), 0u);
  auto store = SqliteDeploymentStore::Open(path_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kValidation);
  EXPECT_THAT(store.error().message(), HasSubstr(path_));
  EXPECT_THAT(store.error().message(), HasSubstr("exists but is empty (0 bytes)"));
  EXPECT_EQ(std::filesystem::file_size(path_), 0u);
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
}

// The file this Open creates is no empty file to refuse, also when it is
// opened again at once.
TEST_F(SqliteDeploymentStoreTest, FileCreatedByOpenIsNotRefusedOnReopen) {
  ASSERT_FALSE(std::filesystem::exists(path_));
  ASSERT_TRUE(OpenStore());
  EXPECT_GT(std::filesystem::file_size(path_), 0u);
  ASSERT_TRUE(OpenStore());
}

// A database of schema 1 (before the outbox) gains the outbox on open and
// keeps its records.
TEST_F(SqliteDeploymentStoreTest, SchemaOneDatabaseGainsTheOutbox) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {MakeEvent("created")}));
  }
  ASSERT_EQ(RawDb(path_).Exec("DROP TABLE outbox; DROP TABLE notification_cursors;"
                              " DELETE FROM sqlite_sequence WHERE name = 'outbox';"
                              " DROP INDEX deployments_by_created_at;"
                              " DELETE FROM schema_version WHERE version >= 2"),
            SQLITE_OK);
  auto store = OpenStore();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Settings()->schema_version, SqliteDeploymentStore::kSchemaVersion);
  EXPECT_EQ(store->ListEvents("d1", 0)->size(), 1u);
  ASSERT_TRUE(store->SetSinks({"hook"}));
  auto d = store->Get("d1");
  ASSERT_TRUE(store->Update(*d, {MakeEvent("step")}));
  auto entries = store->ReadOutbox(*store->Cursor("hook"), 10);
  ASSERT_TRUE(entries) << entries.error().ToString();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].event.seq, 2);
}

// Cursors and undelivered entries are durable: a restarted sink resumes.
TEST_F(SqliteDeploymentStoreTest, OutboxAndCursorsSurviveReopen) {
  std::int64_t delivered = 0;
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->SetSinks({"hook"}));
    ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {MakeEvent("1"), MakeEvent("2")}));
    auto entries = store->ReadOutbox(*store->Cursor("hook"), 10);
    ASSERT_EQ(entries->size(), 2u);
    delivered = (*entries)[0].position;
    ASSERT_TRUE(store->AdvanceCursor("hook", delivered));
  }
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->SetSinks({"hook"}));  // a restart names its sinks again
  EXPECT_EQ(*store->Cursor("hook"), delivered);
  auto rest = store->ReadOutbox(delivered, 10);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].event.seq, 2);
  EXPECT_EQ((*rest)[0].event.reason, "2");
}

TEST_F(SqliteDeploymentStoreTest, NewerSchemaVersionIsRefused) {
  ASSERT_TRUE(OpenStore());
  int newer = SqliteDeploymentStore::kSchemaVersion + 1;
  ASSERT_EQ(
      RawDb(path_).Exec("INSERT INTO schema_version VALUES (" + std::to_string(newer) + ", 0)"),
      SQLITE_OK);
  auto store = SqliteDeploymentStore::Open(path_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(store.error().message(), HasSubstr("schema version " + std::to_string(newer)));
  EXPECT_THAT(store.error().message(), HasSubstr(path_));
}

TEST_F(SqliteDeploymentStoreTest, ReopeningAppliesNoMigrationTwice) {
  ASSERT_TRUE(OpenStore());
  ASSERT_TRUE(OpenStore());
  ASSERT_TRUE(OpenStore());
  EXPECT_EQ(RawDb(path_).Text("SELECT count(*) FROM schema_version"),
            std::to_string(SqliteDeploymentStore::kSchemaVersion));
}

TEST_F(SqliteDeploymentStoreTest, DatabaseRefusesASecondActiveDeploymentWrittenBehindTheStore) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {}));
  RawDb raw(path_);
  EXPECT_EQ(raw.Exec("INSERT INTO deployments VALUES ('d2', 'recs', 'PENDING', 1, 99, 0, 0, '{}')"),
            SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.Exec("INSERT INTO deployments VALUES ('d3', 'recs', 'FAILED', 1, 99, 0, 0, '{}')"),
            SQLITE_OK);
}

TEST_F(SqliteDeploymentStoreTest, TwoStoresRacingToCreateOnOneEndpointExactlyOneWins) {
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_TRUE(a && b);
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    std::string endpoint = "recs-" + std::to_string(round);
    std::latch start(2);
    core::Result<Deployment> result_a = core::InternalError("not run");
    core::Result<Deployment> result_b = core::InternalError("not run");
    std::thread ta([&] {
      start.arrive_and_wait();
      result_a = a->Create(MakeDeployment("a-" + endpoint, endpoint), {MakeEvent("a")});
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      result_b = b->Create(MakeDeployment("b-" + endpoint, endpoint), {MakeEvent("b")});
    });
    ta.join();
    tb.join();
    ASSERT_NE(result_a.has_value(), result_b.has_value()) << "round " << round;
    const auto& loser = result_a ? result_b : result_a;
    EXPECT_EQ(loser.error().code(), ErrorCode::kConflict) << loser.error().ToString();
    EXPECT_THAT(loser.error().message(), HasSubstr("'" + endpoint + "'"));
  }
  EXPECT_EQ(a->List({.active_only = true})->size(), static_cast<std::size_t>(kRounds));
}

// Each child opens its own connection after fork (SQLite connections must not
// cross a fork), waits on a pipe so both start together, and reports by exit code.
TEST_F(SqliteDeploymentStoreTest, TwoProcessesRacingToCreateOnOneEndpointExactlyOneWins) {
  ASSERT_TRUE(OpenStore());  // create the schema before the race
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    int go[2];
    ASSERT_EQ(pipe(go), 0);
    std::vector<pid_t> children;
    for (int child = 0; child < 2; ++child) {
      pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        close(go[1]);
        auto store = SqliteDeploymentStore::Open(path_);
        char byte;
        (void)!read(go[0], &byte, 1);  // returns 0 when the parent closes the pipe
        if (!store) _exit(3);
        auto created = (*store)->Create(
            MakeDeployment("p" + std::to_string(child) + "-" + std::to_string(round), "recs"),
            {MakeEvent("created")});
        _exit(created ? 0 : created.error().code() == ErrorCode::kConflict ? 1 : 2);
      }
      children.push_back(pid);
    }
    close(go[0]);
    usleep(20'000);
    close(go[1]);
    std::vector<int> codes;
    for (pid_t pid : children) {
      int status = 0;
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      ASSERT_TRUE(WIFEXITED(status));
      codes.push_back(WEXITSTATUS(status));
    }
    std::sort(codes.begin(), codes.end());
    EXPECT_EQ(codes, (std::vector<int>{0, 1})) << "round " << round;
    // Free the endpoint for the next round.
    auto store = OpenStore();
    auto active = store->List({.active_only = true});
    ASSERT_EQ(active->size(), 1u);
    Deployment winner = (*active)[0];
    winner.state = DeploymentState::kCompleted;
    ASSERT_TRUE(store->Update(winner, {}));
  }
}

TEST_F(SqliteDeploymentStoreTest, StaleUpdateFromAnotherStoreWritesNeitherRecordNorEvents) {
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_TRUE(a && b);
  auto created = a->Create(MakeDeployment("d1", "recs"), {MakeEvent("created")});
  ASSERT_TRUE(created);
  auto seen_by_b = b->Get("d1");
  ASSERT_TRUE(seen_by_b);
  Deployment by_a = *created;
  by_a.canary_weight = 0.2;
  auto updated = a->Update(by_a, {MakeEvent("a: 0.2")});
  ASSERT_TRUE(updated);
  seen_by_b->canary_weight = 0.0;
  seen_by_b->state = DeploymentState::kRollingBack;
  auto stale = b->Update(*seen_by_b, {MakeEvent("b: rollback"), MakeEvent("b: more")});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), ErrorCode::kConflict);
  EXPECT_THAT(stale.error().message(), HasSubstr("version 1, stored 2"));
  EXPECT_EQ(*b->Get("d1"), *updated);
  auto events = b->ListEvents("d1", 0);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].reason, "a: 0.2");
}

TEST_F(SqliteDeploymentStoreTest, CorruptRecordIsAnErrorNamingTheDeployment) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Create(MakeDeployment("good", "a"), {}));
  ASSERT_TRUE(store->Create(MakeDeployment("broken", "b"), {}));
  ASSERT_EQ(RawDb(path_).Exec("UPDATE deployments SET record = '{\"id\": \"broken\", tru' "
                              "WHERE id = 'broken'"),
            SQLITE_OK);
  auto get = store->Get("broken");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(get.error().message(), HasSubstr("'broken'"));
  auto list = store->List({});
  ASSERT_FALSE(list);
  EXPECT_THAT(list.error().message(), HasSubstr("'broken'"));
  EXPECT_TRUE(store->Get("good"));
  // ListReadable goes on past it and names it.
  for (bool active_only : {false, true}) {
    auto readable = store->ListReadable({.active_only = active_only});
    ASSERT_TRUE(readable) << readable.error().ToString();
    ASSERT_EQ(readable->deployments.size(), 1u);
    EXPECT_EQ(readable->deployments[0].id, "good");
    ASSERT_EQ(readable->unreadable.size(), 1u);
    EXPECT_EQ(readable->unreadable[0].id, "broken");
    EXPECT_EQ(readable->unreadable[0].endpoint, "b");
    EXPECT_EQ(readable->unreadable[0].error.code(), ErrorCode::kInternal);
    EXPECT_THAT(readable->unreadable[0].error.message(),
                HasSubstr("read deployment 'broken': corrupt record"));
  }
  // Valid JSON that is not a deployment, and a NULL-free but wrong-typed value.
  ASSERT_EQ(RawDb(path_).Exec("UPDATE deployments SET record = '[1, 2]' WHERE id = 'broken'"),
            SQLITE_OK);
  EXPECT_THAT(store->Get("broken").error().message(), HasSubstr("'broken'"));
  ASSERT_EQ(RawDb(path_).Exec("UPDATE deployments SET record = x'00ff' WHERE id = 'broken'"),
            SQLITE_OK);
  EXPECT_EQ(store->Get("broken").error().code(), ErrorCode::kInternal);
}

// Records written before the weight-resolution rule may hold a weight below
// it: they read, and they can be written back (the controller then fails such
// a deployment, visibly). A new policy is refused by the API and the
// controller, not by the store.
TEST_F(SqliteDeploymentStoreTest, PolicyAnOlderVersionAcceptedReadsAndWritesBack) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Create(MakeDeployment("old", "recs"), {}));
  ASSERT_EQ(RawDb(path_).Exec("UPDATE deployments SET record = json_set(record, "
                              "'$.policy.initial_weight', 1e-7, '$.policy.step', 5e-7) "
                              "WHERE id = 'old'"),
            SQLITE_OK);
  auto got = store->Get("old");
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_DOUBLE_EQ(got->policy.initial_weight, 1e-7);
  EXPECT_DOUBLE_EQ(got->policy.step, 5e-7);
  auto listed = store->List({.active_only = true});
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->size(), 1u);
  Deployment failed = *got;
  failed.state = DeploymentState::kFailed;
  auto written = store->Update(failed, {MakeEvent("failed")});
  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_EQ(store->Get("old")->state, DeploymentState::kFailed);
}

TEST_F(SqliteDeploymentStoreTest, CorruptEventOrEndpointIsAnErrorNamingIt) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {MakeEvent("a"), MakeEvent("b")}));
  ASSERT_TRUE(store->SaveEndpoint(core::Endpoint{.name = "recs"}));
  RawDb raw(path_);
  ASSERT_EQ(raw.Exec("UPDATE events SET record = 'garbage' WHERE seq = 2"), SQLITE_OK);
  ASSERT_EQ(raw.Exec("UPDATE endpoints SET record = '{}' WHERE name = 'recs'"), SQLITE_OK);
  auto events = store->ListEvents("d1", 0);
  ASSERT_FALSE(events);
  EXPECT_EQ(events.error().code(), ErrorCode::kInternal);
  EXPECT_THAT(events.error().message(), HasSubstr("'d1'"));
  EXPECT_THAT(events.error().message(), HasSubstr("event 2"));
  EXPECT_TRUE(store->ListEvents("d1", 2));  // the intact tail still reads
  auto endpoints = store->ListEndpoints();
  ASSERT_FALSE(endpoints);
  EXPECT_THAT(endpoints.error().message(), HasSubstr("'recs'"));
}

// What the codec could not read back is refused at write time, so that a
// later read never meets a record it cannot decode.
TEST_F(SqliteDeploymentStoreTest, ValueThatCannotBeReadBackIsRefusedOnWrite) {
  auto store = OpenStore();
  ASSERT_TRUE(store);
  Deployment no_model = MakeDeployment("d1", "recs");
  no_model.canary_model.path.clear();
  auto created = store->Create(no_model, {});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), ErrorCode::kValidation);
  EXPECT_THAT(created.error().message(), HasSubstr("'d1'"));
  EXPECT_EQ(store->Get("d1").error().code(), ErrorCode::kNotFound);

  auto d = store->Create(MakeDeployment("d1", "recs"), {});
  ASSERT_TRUE(d);
  Deployment bad_policy = *d;
  bad_policy.policy.initial_weight = 7;
  EXPECT_EQ(store->Update(bad_policy, {MakeEvent("x")}).error().code(), ErrorCode::kValidation);
  EXPECT_EQ(*store->Get("d1"), *d);
  EXPECT_TRUE(store->ListEvents("d1", 0)->empty());
}

TEST_F(SqliteDeploymentStoreTest, BusyDatabaseIsUnavailableAndRetryable) {
  auto store = OpenStore({.busy_timeout = std::chrono::milliseconds(50)});
  ASSERT_TRUE(store);
  auto d = store->Create(MakeDeployment("d1", "recs"), {});
  ASSERT_TRUE(d);
  RawDb other(path_);
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), SQLITE_OK);  // another writer holds the lock
  auto update = store->Update(*d, {MakeEvent("blocked")});
  ASSERT_FALSE(update);
  EXPECT_EQ(update.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(update.error().retryable());
  EXPECT_THAT(update.error().message(), HasSubstr("update deployment 'd1'"));
  // Reads go on in WAL mode while the writer holds its lock.
  EXPECT_TRUE(store->Get("d1"));
  ASSERT_EQ(other.Exec("ROLLBACK"), SQLITE_OK);
  EXPECT_TRUE(store->Update(*d, {MakeEvent("retried")}));
  EXPECT_EQ(store->ListEvents("d1", 0)->size(), 1u);
}

// A writer killed in the middle of its transaction, after SQLite has already
// spilled pages of it to the WAL, leaves nothing of that transaction behind.
TEST_F(SqliteDeploymentStoreTest, CrashMidTransactionLeavesNoHalfWrittenRecord) {
  Deployment before;
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    auto created = store->Create(MakeDeployment("d1", "recs"), {MakeEvent("created")});
    ASSERT_TRUE(created);
    before = *created;
  }  // no connection is open across the fork
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    sqlite3* db = nullptr;
    if (sqlite3_open(path_.c_str(), &db) != SQLITE_OK) _exit(2);
    std::string big(4000, 'x');
    std::string sql =
        "PRAGMA cache_size = 4; BEGIN IMMEDIATE;"
        " UPDATE deployments SET version = version + 1, state = 'COMPLETED',"
        " record = 'half' WHERE id = 'd1';";
    for (int seq = 2; seq < 2000; ++seq) {
      sql += " INSERT INTO events VALUES ('d1', " + std::to_string(seq) +
             ", 0, 'check', 'IN_PROGRESS', 'IN_PROGRESS', 'controller', '" + big + "');";
    }
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(3);
    (void)!write(ready[1], "x", 1);
    pause();  // killed here, transaction open
    _exit(4);
  }
  close(ready[1]);
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the child failed before its transaction";
  close(ready[0]);
  EXPECT_GT(std::filesystem::file_size(path_ + "-wal"), 1'000'000u) << "nothing reached the WAL";
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto read_back = store->Get("d1");
  ASSERT_TRUE(read_back) << read_back.error().ToString();
  EXPECT_EQ(*read_back, before);
  EXPECT_EQ(store->ListEvents("d1", 0)->size(), 1u);
  auto updated = store->Update(before, {MakeEvent("after the crash")});
  ASSERT_TRUE(updated) << updated.error().ToString();
  EXPECT_EQ(store->ListEvents("d1", 0)->back().seq, 2);
}

// kill -9 at arbitrary points of a stream of Updates: every committed Update
// is whole (one version step = one event, one outbox entry), nothing is
// half-applied.
TEST_F(SqliteDeploymentStoreTest, KillDuringUpdatesLeavesRecordAndEventsInStep) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->SetSinks({"hook"}));
    ASSERT_TRUE(store->Create(MakeDeployment("d1", "recs"), {}));
  }
  for (int delay_ms : {0, 7, 23, 61}) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(ready[0]);
      auto store = SqliteDeploymentStore::Open(path_);
      if (!store) _exit(2);
      for (bool signalled = false;;) {
        auto d = (*store)->Get("d1");
        if (!d) _exit(3);
        d->progress.checks += 1;
        d->canary_weight = static_cast<double>(d->progress.checks % 10) / 10;
        if (!(*store)->Update(*d, {MakeEvent("check " + std::to_string(d->progress.checks))})) {
          _exit(4);
        }
        if (!signalled) {
          (void)!write(ready[1], "x", 1);
          signalled = true;
        }
      }
    }
    close(ready[1]);
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the writer failed";
    close(ready[0]);
    usleep(delay_ms * 1000);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited with " << WEXITSTATUS(status);

    auto store = OpenStore();
    ASSERT_TRUE(store);
    auto d = store->Get("d1");
    ASSERT_TRUE(d) << d.error().ToString();
    auto events = store->ListEvents("d1", 0);
    ASSERT_TRUE(events) << events.error().ToString();
    ASSERT_GE(events->size(), 1u);
    EXPECT_EQ(d->version, 1 + static_cast<std::int64_t>(events->size()));
    EXPECT_EQ(d->progress.checks, static_cast<std::int64_t>(events->size()));
    EXPECT_EQ(events->back().reason, "check " + std::to_string(d->progress.checks));
    for (std::size_t i = 0; i < events->size(); ++i) {
      ASSERT_EQ((*events)[i].seq, static_cast<std::int64_t>(i) + 1);
    }
    // The outbox holds every committed event, no more, in order.
    auto entries = store->ReadOutbox(0, 1'000'000);
    ASSERT_TRUE(entries) << entries.error().ToString();
    ASSERT_EQ(entries->size(), events->size());
    for (std::size_t i = 0; i < events->size(); ++i) {
      EXPECT_EQ((*entries)[i].event, (*events)[i]);
      EXPECT_EQ((*entries)[i].deployment.version, (*events)[i].seq + 1);
    }
  }
}

}  // namespace
}  // namespace mlcanary::store
