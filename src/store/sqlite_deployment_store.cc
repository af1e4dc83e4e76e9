// The SQLite deployment store: schema, migrations and the DeploymentStore
// operations. Nested values (policy, progress, check reports, variants) are
// stored as the codec's JSON; columns exist only for what SQL must see.
#include "store/sqlite_deployment_store.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <span>
#include <system_error>
#include <utility>

#include "store/internal/record_json.h"
#include "store/internal/sqlite_db.h"

namespace mlcanary::store {

using core::Deployment;
using core::DeploymentEvent;
using core::Result;
using internal::SqliteDb;
using internal::Statement;
using internal::Transaction;

namespace {

struct Migration {
  int version;
  const char* sql;
};

// Applied in order, each in its own transaction. Never edit a migration that
// has shipped: append a new one and bump kSchemaVersion.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE schema_version (
  version    INTEGER PRIMARY KEY NOT NULL,
  applied_at INTEGER NOT NULL              -- ms since the Unix epoch
);
CREATE TABLE deployments (
  id          TEXT PRIMARY KEY NOT NULL,
  endpoint    TEXT NOT NULL,
  state       TEXT NOT NULL,               -- core::StateName
  version     INTEGER NOT NULL,            -- optimistic concurrency
  created_seq INTEGER NOT NULL,            -- creation order, for newest-first listing
  created_at  INTEGER NOT NULL,            -- ms since the Unix epoch (UTC)
  updated_at  INTEGER NOT NULL,
  record      TEXT NOT NULL                -- codec::DeploymentJson
);
-- At most one active deployment per endpoint, whoever writes the file.
CREATE UNIQUE INDEX deployments_one_active_per_endpoint ON deployments(endpoint)
  WHERE state IN ('PENDING', 'IN_PROGRESS', 'ROLLING_BACK');
CREATE INDEX deployments_by_creation ON deployments(created_seq);
CREATE TABLE events (
  deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  seq           INTEGER NOT NULL,          -- 1, 2, ... per deployment
  time          INTEGER NOT NULL,          -- ms since the Unix epoch (UTC)
  kind          TEXT NOT NULL,             -- core::EventKindName
  from_state    TEXT NOT NULL,
  to_state      TEXT NOT NULL,
  actor         TEXT NOT NULL,
  record        TEXT NOT NULL,             -- codec::EventJson
  PRIMARY KEY (deployment_id, seq)
) WITHOUT ROWID;
CREATE TABLE endpoints (
  name   TEXT PRIMARY KEY NOT NULL,
  record TEXT NOT NULL                     -- codec endpoint JSON
);
)sql"},
    {2, R"sql(
-- The event outbox (core::EventOutbox): every event appended while a sink
-- exists, in commit order, written in the event's own transaction.
CREATE TABLE outbox (
  position      INTEGER PRIMARY KEY AUTOINCREMENT,  -- global order, never reused
  deployment_id TEXT NOT NULL,
  seq           INTEGER NOT NULL,                   -- the event: events(deployment_id, seq)
  version       INTEGER NOT NULL,                   -- the deployment's, after this write
  deployment    TEXT NOT NULL                       -- codec::DeploymentJson after this write
);
-- Per sink, the position of the last outbox entry it has delivered.
CREATE TABLE notification_cursors (
  sink     TEXT PRIMARY KEY NOT NULL,
  position INTEGER NOT NULL
);
)sql"},
    {3, R"sql(
-- The listing order (core::DeploymentFilter): newest created_at first, ties
-- by id; it serves since/until ranges and page cursors without a sort.
CREATE INDEX IF NOT EXISTS deployments_by_created_at ON deployments (created_at DESC, id DESC);
)sql"},
};
static_assert(std::size(kMigrations) == SqliteDeploymentStore::kSchemaVersion);

constexpr const char* kActiveStates = "('PENDING', 'IN_PROGRESS', 'ROLLING_BACK')";

std::int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using internal::EncodeDeployment;
using internal::EncodeEndpoint;
using internal::EncodeEvent;
using internal::Millis;
using internal::Quoted;

// A row that does not decode is an error naming the row, never a crash.
Result<Deployment> DecodeDeployment(std::string_view id, std::string_view record,
                                    std::int64_t version) {
  // The version column is authoritative.
  return internal::DecodeDeployment(record, id, version, "deployment " + Quoted(id));
}

Result<DeploymentEvent> DecodeEvent(std::string_view deployment_id, std::int64_t seq,
                                    std::string_view record) {
  return internal::DecodeEvent(
      record, deployment_id, seq,
      "event " + std::to_string(seq) + " of deployment " + Quoted(deployment_id));
}

Result<int> ReadSchemaVersion(SqliteDb& db) {
  std::string what = "read schema version";
  {
    auto st = db.Prepare(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
        what);
    if (!st) return std::unexpected(st.error());
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row || st->Int(0) == 0) return 0;
  }
  auto st = db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version", what);
  if (!st) return std::unexpected(st.error());
  auto row = st->Step();
  if (!row) return std::unexpected(row.error());
  return *row ? static_cast<int>(st->Int(0)) : 0;
}

std::unexpected<core::Error> NewerSchemaError(int found) {
  return core::FailedPreconditionError(
      "database schema version " + std::to_string(found) + " is newer than this mlcanary knows (" +
      std::to_string(SqliteDeploymentStore::kSchemaVersion) + "); upgrade mlcanary");
}

core::Status Migrate(SqliteDb& db) {
  auto current = ReadSchemaVersion(db);
  if (!current) return std::unexpected(current.error());
  if (*current > SqliteDeploymentStore::kSchemaVersion) return NewerSchemaError(*current);
  for (const Migration& m : kMigrations) {
    if (m.version <= *current) continue;
    std::string what = "apply schema migration " + std::to_string(m.version);
    auto tx = Transaction::Begin(db, /*immediate=*/true, what);
    if (!tx) return std::unexpected(tx.error());
    // Another process may have migrated while we waited for the write lock.
    auto now = ReadSchemaVersion(db);
    if (!now) return std::unexpected(now.error());
    if (*now > SqliteDeploymentStore::kSchemaVersion) return NewerSchemaError(*now);
    if (*now >= m.version) {
      *current = *now;
      continue;
    }
    if (auto s = db.Exec(m.sql, what); !s) return s;
    auto st = db.Prepare("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, std::int64_t{m.version}).Bind(2, NowMillis());
    if (auto s = st->Run(); !s) return s;
    if (auto s = tx->Commit(); !s) return s;
    *current = m.version;
  }
  return core::Ok();
}

core::Status Configure(SqliteDb& db, const SqliteStoreOptions& options) {
  db.SetBusyTimeout(static_cast<int>(options.busy_timeout.count()));
  {
    auto st = db.Prepare("PRAGMA journal_mode = WAL", "enable WAL");
    if (!st) return std::unexpected(st.error());
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    std::string mode = *row ? std::string(st->Text(0)) : "";
    if (mode != "wal") {
      return core::InternalError("enable WAL: journal mode is " + Quoted(mode) + ", not 'wal'");
    }
  }
  if (auto s = db.Exec("PRAGMA synchronous = FULL", "set synchronous=FULL"); !s) return s;
  return db.Exec("PRAGMA foreign_keys = ON", "enable foreign keys");
}

// Runs a statement expected to yield one integer row.
Result<std::int64_t> QueryInt(SqliteDb& db, const std::string& sql, std::string_view what) {
  auto st = db.Prepare(sql, what);
  if (!st) return std::unexpected(st.error());
  auto row = st->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return core::InternalError(std::string(what) + ": no result");
  return st->Int(0);
}

}  // namespace

core::Result<std::unique_ptr<SqliteDeploymentStore>> SqliteDeploymentStore::Open(
    const std::string& path, const SqliteStoreOptions& options) {
  const std::string context = "open sqlite store " + Quoted(path);
  if (path.empty()) return core::ValidationError(context + ": empty path");
  {
    // SQLite takes a 0-byte file for a new database and would start empty; a
    // file that had records and lost them (a truncated copy, a failed restore)
    // must not look like a fresh start. A missing file is created below.
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0 &&
        !ec) {
      return core::ValidationError(
          context + ": the file exists but is empty (0 bytes), so it holds no deployments; " +
          "restore the database from a backup, or delete the file to start with an empty store");
    }
  }
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return core::InternalError(context + ": cannot create directory " + Quoted(parent.string()) +
                                 ": " + ec.message());
    }
  }
  auto db = SqliteDb::Open(path);
  if (!db) return std::unexpected(db.error().WithContext(context));
  if (auto s = Configure(**db, options); !s) return std::unexpected(s.error().WithContext(context));
  if (auto s = Migrate(**db); !s) return std::unexpected(s.error().WithContext(context));
  return std::unique_ptr<SqliteDeploymentStore>(new SqliteDeploymentStore(path, std::move(*db)));
}

SqliteDeploymentStore::SqliteDeploymentStore(std::string path, std::unique_ptr<SqliteDb> db)
    : path_(std::move(path)), db_(std::move(db)) {}

SqliteDeploymentStore::~SqliteDeploymentStore() = default;

core::Status SqliteDeploymentStore::AppendEvents(const Deployment& stored,
                                                 std::string_view stored_json,
                                                 std::int64_t first_seq,
                                                 const std::vector<DeploymentEvent>& events,
                                                 std::vector<DeploymentEvent>& appended,
                                                 std::string_view what) {
  const std::string& deployment_id = stored.id;
  std::int64_t seq = first_seq;
  for (DeploymentEvent e : events) {
    e.seq = seq++;
    e.deployment_id = deployment_id;
    auto json = EncodeEvent(e);
    if (!json) return std::unexpected(json.error());
    auto st = db_->Prepare(
        "INSERT INTO events (deployment_id, seq, time, kind, from_state, to_state, actor, record)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, e.deployment_id)
        .Bind(2, e.seq)
        .Bind(3, Millis(e.time))
        .Bind(4, core::EventKindName(e.kind))
        .Bind(5, core::StateName(e.from_state))
        .Bind(6, core::StateName(e.to_state))
        .Bind(7, e.actor)
        .Bind(8, *json);
    if (auto s = st->Run(); !s) return s;
    // The outbox entry lands with the event or not at all; nothing is queued
    // while no sink would read it.
    auto ob = db_->Prepare(
        "INSERT INTO outbox (deployment_id, seq, version, deployment)"
        " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM notification_cursors)",
        what);
    if (!ob) return std::unexpected(ob.error());
    ob->Bind(1, e.deployment_id).Bind(2, e.seq).Bind(3, stored.version).Bind(4, stored_json);
    if (auto s = ob->Run(); !s) return s;
    appended.push_back(std::move(e));
  }
  return core::Ok();
}

core::Result<Deployment> SqliteDeploymentStore::Create(const Deployment& deployment,
                                                       const std::vector<DeploymentEvent>& events,
                                                       std::vector<DeploymentEvent>* appended) {
  if (deployment.id.empty()) return core::ValidationError("deployment id must not be empty");
  const std::string what = "create deployment " + Quoted(deployment.id);
  Deployment stored = deployment;
  stored.version = 1;
  auto json = EncodeDeployment(stored);
  if (!json) return std::unexpected(json.error());

  std::lock_guard lock(mu_);
  auto tx = Transaction::Begin(*db_, /*immediate=*/true, what);
  if (!tx) return std::unexpected(tx.error());
  {
    auto st = db_->Prepare("SELECT 1 FROM deployments WHERE id = ?", what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, deployment.id);
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (*row) return core::ConflictError("deployment " + Quoted(deployment.id) + " already exists");
  }
  {
    auto st =
        db_->Prepare(std::string("SELECT id FROM deployments WHERE endpoint = ? AND state IN ") +
                         kActiveStates + " LIMIT 1",
                     what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, deployment.endpoint);
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (*row) {
      return core::ConflictError("deployment " + Quoted(st->Text(0)) +
                                 " is already active on endpoint " + Quoted(deployment.endpoint));
    }
  }
  {
    auto st = db_->Prepare(
        "INSERT INTO deployments"
        " (id, endpoint, state, version, created_seq, created_at, updated_at, record)"
        " VALUES (?, ?, ?, 1, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM deployments),"
        " ?, ?, ?)",
        what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, stored.id)
        .Bind(2, stored.endpoint)
        .Bind(3, core::StateName(stored.state))
        .Bind(4, Millis(stored.created_at))
        .Bind(5, Millis(stored.updated_at))
        .Bind(6, *json);
    if (auto s = st->Run(); !s) {
      // The checks above ran under the write lock, so this is the database's
      // own guard speaking; say which rule it was.
      if (s.error().code() == core::ErrorCode::kConflict) {
        return core::ConflictError(what + ": endpoint " + Quoted(stored.endpoint) +
                                   " already has an active deployment (" + s.error().message() +
                                   ")");
      }
      return std::unexpected(s.error());
    }
  }
  std::vector<DeploymentEvent> written;
  if (auto s = AppendEvents(stored, *json, 1, events, written, what); !s) {
    return std::unexpected(s.error());
  }
  if (auto s = tx->Commit(); !s) return std::unexpected(s.error());
  if (appended != nullptr) *appended = std::move(written);
  return stored;
}

core::Result<Deployment> SqliteDeploymentStore::Get(std::string_view id) {
  const std::string what = "get deployment " + Quoted(id);
  std::lock_guard lock(mu_);
  auto st = db_->Prepare("SELECT record, version FROM deployments WHERE id = ?", what);
  if (!st) return std::unexpected(st.error());
  st->Bind(1, id);
  auto row = st->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return core::NotFoundError("deployment " + Quoted(id) + " not found");
  return DecodeDeployment(id, st->Text(0), st->Int(1));
}

core::Result<std::vector<Deployment>> SqliteDeploymentStore::List(
    const core::DeploymentFilter& filter) {
  auto listed = ListReadable(filter);
  if (!listed) return std::unexpected(listed.error());
  if (!listed->unreadable.empty()) return std::unexpected(listed->unreadable.front().error);
  return std::move(listed->deployments);
}

core::Result<core::DeploymentListing> SqliteDeploymentStore::ListReadable(
    const core::DeploymentFilter& filter) {
  const std::string what = "list deployments";
  std::lock_guard lock(mu_);
  // Only the filter's conditions are in the text (fixed fragments; values are
  // bound), so that SQLite seeks the window and the cursor on the index
  // deployments_by_created_at instead of walking it from the newest. LIMIT -1
  // is no limit; ?8 is always there, so every index bound below is in range.
  std::string sql = "SELECT id, record, version, endpoint FROM deployments WHERE 1";
  if (filter.endpoint) sql += " AND endpoint = ?1";
  if (filter.state) sql += " AND state = ?2";
  if (filter.active_only) sql += std::string(" AND state IN ") + kActiveStates;
  if (filter.since) sql += " AND created_at >= ?4";
  if (filter.until) sql += " AND created_at < ?5";
  if (filter.after) sql += " AND (created_at, id) < (?6, ?7)";
  sql += " ORDER BY created_at DESC, id DESC LIMIT ?8";
  auto st = db_->Prepare(sql, what);
  if (!st) return std::unexpected(st.error());
  auto bind_text = [&](int index, const std::optional<std::string_view>& v) {
    v ? st->Bind(index, *v) : st->BindNull(index);
  };
  auto bind_time = [&](int index, const std::optional<core::Timestamp>& v) {
    v ? st->Bind(index, Millis(*v)) : st->BindNull(index);
  };
  bind_text(1, filter.endpoint);
  bind_text(2, filter.state ? std::optional(core::StateName(*filter.state)) : std::nullopt);
  bind_time(4, filter.since);
  bind_time(5, filter.until);
  bind_time(6, filter.after ? std::optional(filter.after->created_at) : std::nullopt);
  bind_text(7, filter.after ? std::optional<std::string_view>(filter.after->id) : std::nullopt);
  st->Bind(8, filter.limit > 0 ? static_cast<std::int64_t>(filter.limit) : std::int64_t{-1});
  core::DeploymentListing out;
  while (true) {
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto d = DecodeDeployment(st->Text(0), st->Text(1), st->Int(2));
    if (!d) {
      out.unreadable.push_back({.id = std::string(st->Text(0)),
                                .endpoint = std::string(st->Text(3)),
                                .error = d.error()});
      continue;
    }
    out.deployments.push_back(std::move(*d));
  }
  return out;
}

core::Result<Deployment> SqliteDeploymentStore::Update(const Deployment& deployment,
                                                       const std::vector<DeploymentEvent>& events,
                                                       std::vector<DeploymentEvent>* appended) {
  if (deployment.id.empty()) return core::ValidationError("deployment id must not be empty");
  const std::string what = "update deployment " + Quoted(deployment.id);
  Deployment stored = deployment;
  stored.version = deployment.version + 1;
  auto json = EncodeDeployment(stored);
  if (!json) return std::unexpected(json.error());

  std::lock_guard lock(mu_);
  auto tx = Transaction::Begin(*db_, /*immediate=*/true, what);
  if (!tx) return std::unexpected(tx.error());
  {
    auto st = db_->Prepare(
        "UPDATE deployments SET endpoint = ?, state = ?, version = version + 1, created_at = ?,"
        " updated_at = ?, record = ? WHERE id = ? AND version = ?",
        what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, stored.endpoint)
        .Bind(2, core::StateName(stored.state))
        .Bind(3, Millis(stored.created_at))
        .Bind(4, Millis(stored.updated_at))
        .Bind(5, *json)
        .Bind(6, stored.id)
        .Bind(7, deployment.version);
    if (auto s = st->Run(); !s) {
      if (s.error().code() == core::ErrorCode::kConflict) {
        return core::ConflictError(what + ": endpoint " + Quoted(stored.endpoint) +
                                   " already has an active deployment (" + s.error().message() +
                                   ")");
      }
      return std::unexpected(s.error());
    }
  }
  if (db_->Changes() == 0) {
    auto st = db_->Prepare("SELECT version FROM deployments WHERE id = ?", what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, deployment.id);
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return core::NotFoundError("deployment " + Quoted(deployment.id) + " not found");
    return core::ConflictError(
        "deployment " + Quoted(deployment.id) + " was changed concurrently (version " +
        std::to_string(deployment.version) + ", stored " + std::to_string(st->Int(0)) + ")");
  }
  std::int64_t last_seq = 0;
  {
    auto st =
        db_->Prepare("SELECT COALESCE(MAX(seq), 0) FROM events WHERE deployment_id = ?", what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, stored.id);
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (*row) last_seq = st->Int(0);
  }
  std::vector<DeploymentEvent> written;
  if (auto s = AppendEvents(stored, *json, last_seq + 1, events, written, what); !s) {
    return std::unexpected(s.error());
  }
  if (auto s = tx->Commit(); !s) return std::unexpected(s.error());
  if (appended != nullptr) *appended = std::move(written);
  return stored;
}

core::Result<std::vector<DeploymentEvent>> SqliteDeploymentStore::ListEvents(
    std::string_view deployment_id, std::int64_t after_seq) {
  const std::string what = "list events of deployment " + Quoted(deployment_id);
  std::lock_guard lock(mu_);
  // One read transaction: the existence check and the events see one snapshot.
  auto tx = Transaction::Begin(*db_, /*immediate=*/false, what);
  if (!tx) return std::unexpected(tx.error());
  std::vector<DeploymentEvent> out;
  {
    auto st = db_->Prepare("SELECT 1 FROM deployments WHERE id = ?", what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, deployment_id);
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return core::NotFoundError("deployment " + Quoted(deployment_id) + " not found");
  }
  {
    auto st = db_->Prepare(
        "SELECT seq, record FROM events WHERE deployment_id = ? AND seq > ? ORDER BY seq", what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, deployment_id).Bind(2, after_seq);
    while (true) {
      auto row = st->Step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      auto e = DecodeEvent(deployment_id, st->Int(0), st->Text(1));
      if (!e) return std::unexpected(e.error());
      out.push_back(std::move(*e));
    }
  }
  if (auto s = tx->Commit(); !s) return std::unexpected(s.error());
  return out;
}

core::Status SqliteDeploymentStore::SaveEndpoint(const core::Endpoint& endpoint) {
  if (endpoint.name.empty()) return core::ValidationError("endpoint name must not be empty");
  const std::string what = "save endpoint " + Quoted(endpoint.name);
  auto json = EncodeEndpoint(endpoint);
  if (!json) return std::unexpected(json.error());
  std::lock_guard lock(mu_);
  auto st = db_->Prepare(
      "INSERT INTO endpoints (name, record) VALUES (?, ?)"
      " ON CONFLICT (name) DO UPDATE SET record = excluded.record",
      what);
  if (!st) return std::unexpected(st.error());
  st->Bind(1, endpoint.name).Bind(2, *json);
  return st->Run();
}

core::Result<std::vector<core::Endpoint>> SqliteDeploymentStore::ListEndpoints() {
  const std::string what = "list endpoints";
  std::lock_guard lock(mu_);
  auto st = db_->Prepare("SELECT name, record FROM endpoints ORDER BY name", what);
  if (!st) return std::unexpected(st.error());
  std::vector<core::Endpoint> out;
  while (true) {
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto endpoint = internal::DecodeEndpoint(st->Text(1), "endpoint " + Quoted(st->Text(0)));
    if (!endpoint) return std::unexpected(endpoint.error());
    out.push_back(std::move(*endpoint));
  }
  return out;
}

namespace {
// The last outbox position ever assigned (AUTOINCREMENT keeps it in
// sqlite_sequence, also after the entries are deleted); 0 before the first.
constexpr const char* kLastPosition =
    "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)";
}  // namespace

core::Status SqliteDeploymentStore::PruneOutbox(std::string_view what) {
  auto st = db_->Prepare(
      "DELETE FROM outbox WHERE position <= COALESCE("
      "(SELECT MIN(position) FROM notification_cursors), (SELECT MAX(position) FROM outbox))",
      what);
  if (!st) return std::unexpected(st.error());
  return st->Run();
}

core::Status SqliteDeploymentStore::SetSinks(const std::vector<std::string>& sinks) {
  const std::string what = "set outbox sinks";
  for (const std::string& sink : sinks) {
    if (sink.empty()) return core::ValidationError(what + ": a sink name is empty");
  }
  std::lock_guard lock(mu_);
  auto tx = Transaction::Begin(*db_, /*immediate=*/true, what);
  if (!tx) return std::unexpected(tx.error());
  std::vector<std::string> stale;
  {
    auto st = db_->Prepare("SELECT sink FROM notification_cursors", what);
    if (!st) return std::unexpected(st.error());
    while (true) {
      auto row = st->Step();
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      std::string sink(st->Text(0));
      if (std::find(sinks.begin(), sinks.end(), sink) == sinks.end()) {
        stale.push_back(std::move(sink));
      }
    }
  }
  for (const std::string& sink : stale) {
    auto st = db_->Prepare("DELETE FROM notification_cursors WHERE sink = ?", what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, sink);
    if (auto s = st->Run(); !s) return s;
  }
  for (const std::string& sink : sinks) {
    auto st = db_->Prepare(std::string("INSERT INTO notification_cursors (sink, position)"
                                       " VALUES (?, ") +
                               kLastPosition + ") ON CONFLICT (sink) DO NOTHING",
                           what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, sink);
    if (auto s = st->Run(); !s) return s;
  }
  if (auto s = PruneOutbox(what); !s) return s;
  return tx->Commit();
}

core::Result<std::int64_t> SqliteDeploymentStore::Cursor(std::string_view sink) {
  const std::string what = "read outbox cursor of " + Quoted(sink);
  std::lock_guard lock(mu_);
  auto st = db_->Prepare("SELECT position FROM notification_cursors WHERE sink = ?", what);
  if (!st) return std::unexpected(st.error());
  st->Bind(1, sink);
  auto row = st->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return core::NotFoundError("outbox sink " + Quoted(sink) + " not found");
  return st->Int(0);
}

core::Result<std::vector<core::OutboxEntry>> SqliteDeploymentStore::ReadOutbox(std::int64_t after,
                                                                               std::size_t limit) {
  const std::string what = "read outbox after position " + std::to_string(after);
  if (limit == 0) return core::ValidationError(what + ": limit must be >= 1");
  std::lock_guard lock(mu_);
  auto st = db_->Prepare(
      "SELECT o.position, o.deployment_id, o.seq, o.version, o.deployment, e.record"
      " FROM outbox o LEFT JOIN events e ON e.deployment_id = o.deployment_id AND e.seq = o.seq"
      " WHERE o.position > ? ORDER BY o.position LIMIT ?",
      what);
  if (!st) return std::unexpected(st.error());
  st->Bind(1, after).Bind(
      2, static_cast<std::int64_t>(std::min<std::size_t>(limit, std::numeric_limits<int>::max())));
  std::vector<core::OutboxEntry> out;
  while (true) {
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    core::OutboxEntry entry;
    entry.position = st->Int(0);
    const std::string deployment_id(st->Text(1));
    const std::int64_t seq = st->Int(2);
    if (st->IsNull(5)) {
      return internal::CorruptRecord("outbox entry " + std::to_string(entry.position),
                                     "event " + std::to_string(seq) + " of deployment " +
                                         Quoted(deployment_id) + " is missing");
    }
    auto d = DecodeDeployment(deployment_id, st->Text(4), st->Int(3));
    if (!d) return std::unexpected(d.error());
    auto e = DecodeEvent(deployment_id, seq, st->Text(5));
    if (!e) return std::unexpected(e.error());
    entry.deployment = std::move(*d);
    entry.event = std::move(*e);
    out.push_back(std::move(entry));
  }
  return out;
}

core::Status SqliteDeploymentStore::AdvanceCursor(std::string_view sink, std::int64_t position) {
  const std::string what = "advance outbox cursor of " + Quoted(sink);
  std::lock_guard lock(mu_);
  auto tx = Transaction::Begin(*db_, /*immediate=*/true, what);
  if (!tx) return std::unexpected(tx.error());
  {
    auto st = db_->Prepare(std::string("UPDATE notification_cursors"
                                       " SET position = MAX(position, MIN(?, ") +
                               kLastPosition + ")) WHERE sink = ?",
                           what);
    if (!st) return std::unexpected(st.error());
    st->Bind(1, position).Bind(2, sink);
    if (auto s = st->Run(); !s) return s;
  }
  if (db_->Changes() == 0) return core::NotFoundError("outbox sink " + Quoted(sink) + " not found");
  if (auto s = PruneOutbox(what); !s) return s;
  return tx->Commit();
}

core::Result<SqliteStoreSettings> SqliteDeploymentStore::Settings() {
  const std::string what = "read sqlite settings";
  std::lock_guard lock(mu_);
  SqliteStoreSettings out;
  {
    auto st = db_->Prepare("PRAGMA journal_mode", what);
    if (!st) return std::unexpected(st.error());
    auto row = st->Step();
    if (!row) return std::unexpected(row.error());
    if (*row) out.journal_mode = std::string(st->Text(0));
  }
  auto synchronous = QueryInt(*db_, "PRAGMA synchronous", what);
  if (!synchronous) return std::unexpected(synchronous.error());
  out.synchronous = static_cast<int>(*synchronous);
  auto foreign_keys = QueryInt(*db_, "PRAGMA foreign_keys", what);
  if (!foreign_keys) return std::unexpected(foreign_keys.error());
  out.foreign_keys = *foreign_keys != 0;
  auto busy = QueryInt(*db_, "PRAGMA busy_timeout", what);
  if (!busy) return std::unexpected(busy.error());
  out.busy_timeout_ms = static_cast<int>(*busy);
  auto version = ReadSchemaVersion(*db_);
  if (!version) return std::unexpected(version.error());
  out.schema_version = *version;
  return out;
}

}  // namespace mlcanary::store
