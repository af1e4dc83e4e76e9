// The PostgreSQL deployment store: schema, migrations, the connection pool and
// the DeploymentStore/EventOutbox operations. Nested values are stored as the
// codec's JSON text, as in the SQLite store; columns exist only for what SQL
// must see. libpqxx and libpq stay in this file.
#include "store/postgres_deployment_store.h"

#include <libpq-fe.h>

// libpqxx 6.4 compiles cleanly under this project's C++23 and warnings (its
// headers come in as system headers through the imported pkg-config target);
// the pragmas keep a newer compiler's new warnings in them from failing -Werror.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <pqxx/pqxx>
#pragma GCC diagnostic pop

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "store/internal/record_json.h"
#include "store/postgres_url.h"

namespace mlcanary::store {

using core::Deployment;
using core::DeploymentEvent;
using core::Result;

namespace {

struct Migration {
  int version;
  const char* sql;
};

// Applied in order, all pending ones in one transaction under an advisory
// lock. Never edit a migration that has shipped: append one, bump kSchemaVersion.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE schema_version (
  version    INTEGER PRIMARY KEY,
  applied_at BIGINT NOT NULL                  -- ms since the Unix epoch
);
CREATE TABLE deployments (
  id          TEXT PRIMARY KEY,
  endpoint    TEXT NOT NULL,
  state       TEXT NOT NULL,                  -- core::StateName
  version     BIGINT NOT NULL,                -- optimistic concurrency
  created_seq BIGINT GENERATED ALWAYS AS IDENTITY,  -- creation order, newest-first listing
  created_at  BIGINT NOT NULL,                -- ms since the Unix epoch (UTC)
  updated_at  BIGINT NOT NULL,
  record      TEXT NOT NULL                   -- codec::DeploymentJson
);
-- At most one active deployment per endpoint, whichever replica writes.
CREATE UNIQUE INDEX deployments_one_active_per_endpoint ON deployments (endpoint)
  WHERE state IN ('PENDING', 'IN_PROGRESS', 'ROLLING_BACK');
CREATE INDEX deployments_by_creation ON deployments (created_seq);
CREATE TABLE events (
  deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  seq           BIGINT NOT NULL,              -- 1, 2, ... per deployment
  time          BIGINT NOT NULL,              -- ms since the Unix epoch (UTC)
  kind          TEXT NOT NULL,                -- core::EventKindName
  from_state    TEXT NOT NULL,
  to_state      TEXT NOT NULL,
  actor         TEXT NOT NULL,
  record        TEXT NOT NULL,                -- codec::EventJson
  PRIMARY KEY (deployment_id, seq)
);
CREATE TABLE endpoints (
  name   TEXT PRIMARY KEY,
  record TEXT NOT NULL                        -- codec endpoint JSON
);
-- The event outbox (core::EventOutbox). Positions come from the one row of
-- outbox_position, updated by the write that appends the entries and locked
-- by it until it commits: positions grow in commit order, never reused.
CREATE TABLE outbox_position (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  last BIGINT NOT NULL                        -- the last position handed out
);
INSERT INTO outbox_position (id, last) VALUES (1, 0);
CREATE TABLE outbox (
  position      BIGINT PRIMARY KEY,
  deployment_id TEXT NOT NULL,
  seq           BIGINT NOT NULL,              -- the event: events (deployment_id, seq)
  version       BIGINT NOT NULL,              -- the deployment's, after this write
  deployment    TEXT NOT NULL                 -- codec::DeploymentJson after this write
);
-- Per sink, the position of the last outbox entry it has delivered.
CREATE TABLE notification_cursors (
  sink     TEXT PRIMARY KEY,
  position BIGINT NOT NULL
);
)sql"},
    {2, R"sql(
-- Named leases (core::LeaderLease), on the database's clock. `fencing` grows
-- by one whenever the lease changes hands (a free, expired or released lease
-- taken again) and is never reused, since rows are never deleted; a renewal by
-- the holder of a valid lease keeps it. `holder` is '' once released.
CREATE TABLE leases (
  name       TEXT PRIMARY KEY,
  holder     TEXT NOT NULL,
  fencing    BIGINT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
)sql"},
    {3, R"sql(
-- The listing order (core::DeploymentFilter): newest created_at first, ties
-- by id in byte order (COLLATE "C", as every store compares ids); it serves
-- since/until ranges and page cursors without a sort.
CREATE INDEX deployments_by_created_at ON deployments (created_at DESC, id COLLATE "C" DESC);
)sql"},
};
static_assert(std::size(kMigrations) == PostgresDeploymentStore::kSchemaVersion);

// pg_advisory_xact_lock key of the migrations ("mlcanary" in ASCII).
constexpr std::int64_t kMigrationLock = 0x6d6c63616e617279;

constexpr const char* kActiveStates = "('PENDING', 'IN_PROGRESS', 'ROLLING_BACK')";

using internal::EncodeDeployment;
using internal::EncodeEndpoint;
using internal::EncodeEvent;
using internal::Millis;
using internal::Quoted;

std::int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// libpq's and the server's messages span lines ("...failed: Connection
// refused\n\tIs the server running...?\n", "ERROR: ...\nDETAIL: ..."): one line.
std::string OneLine(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::unexpected<core::Error> Unavailable(std::string message) {
  return core::MakeError(core::ErrorCode::kUnavailable, std::move(message));
}

// SQLSTATEs that mean the session is gone or the server cannot serve now
// (connection exceptions, shutdown, startup, too many connections).
bool ConnectionState(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03" ||
         state.starts_with("53");
}

core::Error MapSqlError(const pqxx::sql_error& e, std::string_view what) {
  const std::string& state = e.sqlstate();
  std::string message = std::string(what) + ": " + OneLine(e.what());
  if (!state.empty()) message += " (SQLSTATE " + state + ")";
  if (state.starts_with("23")) return core::Error(core::ErrorCode::kConflict, std::move(message));
  // A value the database refuses (e.g. a string that is not valid UTF-8).
  if (state.starts_with("22")) return core::Error(core::ErrorCode::kValidation, std::move(message));
  if (ConnectionState(state) || state == "40001" || state == "40P01" ||
      state == "25006" /* read-only transaction: a standby, during a failover */) {
    return core::Error(core::ErrorCode::kUnavailable, std::move(message));
  }
  if (state == "57014") return core::Error(core::ErrorCode::kTimeout, std::move(message));
  return core::Error(core::ErrorCode::kInternal, std::move(message));
}

// A failed connection attempt. At Open (where the caller's context names the
// URL), a setting libpq refuses is kValidation and a wrong password
// kUnauthenticated; everything else (refused, unreachable, the server starting
// or shutting down), and every failure after Open, is kUnavailable.
core::Error ConnectError(std::string_view detail, std::string_view display_url, bool at_open) {
  if (!at_open) {
    return core::Error(core::ErrorCode::kUnavailable,
                       "cannot connect to " + std::string(display_url) + ": " + OneLine(detail));
  }
  std::string message = "cannot connect: " + OneLine(detail);
  auto has = [&](std::string_view s) { return detail.find(s) != std::string_view::npos; };
  if (has("for connection option") || has("invalid connection option") || has("invalid URI") ||
      has("invalid sslmode") || has("invalid port")) {
    return core::Error(core::ErrorCode::kValidation, std::move(message));
  }
  if (has("password authentication failed") || has("no password supplied") ||
      has("authentication failed")) {
    return core::Error(core::ErrorCode::kUnauthenticated, std::move(message));
  }
  return core::Error(core::ErrorCode::kUnavailable, std::move(message));
}

// `url` with `key=value` added to its query unless it sets `key` already.
void AddParam(std::string& url, std::string_view key, std::string_view value) {
  const std::size_t query = url.find('?');
  if (query != std::string::npos) {
    std::string_view q = std::string_view(url).substr(query + 1);
    for (std::size_t p = 0; p <= q.size();) {
      std::size_t end = q.find('&', p);
      if (end == std::string_view::npos) end = q.size();
      if (q.substr(p, end - p).starts_with(std::string(key) + "=")) return;
      p = end + 1;
    }
  }
  url += query == std::string::npos ? '?' : '&';
  url += key;
  url += '=';
  url += value;
}

Result<Deployment> DecodeDeployment(std::string_view id, std::string_view record,
                                    std::int64_t version) {
  return internal::DecodeDeployment(record, id, version, "deployment " + Quoted(id));
}

Result<DeploymentEvent> DecodeEvent(std::string_view deployment_id, std::int64_t seq,
                                    std::string_view record) {
  return internal::DecodeEvent(
      record, deployment_id, seq,
      "event " + std::to_string(seq) + " of deployment " + Quoted(deployment_id));
}

std::string_view Text(const pqxx::field& f) { return std::string_view(f.c_str(), f.size()); }

std::unexpected<core::Error> NewerSchemaError(int found) {
  return core::FailedPreconditionError(
      "database schema version " + std::to_string(found) + " is newer than this mlcanary knows (" +
      std::to_string(PostgresDeploymentStore::kSchemaVersion) + "); upgrade mlcanary");
}

int ReadSchemaVersion(pqxx::transaction_base& tx) {
  pqxx::row exists = tx.exec1("SELECT to_regclass('schema_version') IS NOT NULL");
  if (!exists[0].as<bool>()) return 0;
  return tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0].as<int>();
}

}  // namespace

namespace internal {

// At most `max` connections to one database; a call takes one (waiting while
// all are busy) and gives it back, or closes it when it broke.
class PostgresPool {
 public:
  PostgresPool(std::string url, std::string display_url, std::size_t max,
               std::chrono::milliseconds acquire_timeout,
               std::chrono::milliseconds statement_timeout)
      : url_(std::move(url)),
        display_url_(std::move(display_url)),
        max_(std::max<std::size_t>(1, max)),
        acquire_timeout_(std::max(acquire_timeout, std::chrono::milliseconds(1))),
        statement_timeout_(std::max(statement_timeout, std::chrono::milliseconds(0))) {}

  struct Lease {
    std::unique_ptr<pqxx::connection> conn;
    bool reused = false;  // it was idle in the pool (it may have died there)
  };

  Result<Lease> Acquire(bool at_open = false) {
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, acquire_timeout_, [&] { return !idle_.empty() || open_ < max_; })) {
        return std::unexpected(core::Error(
            core::ErrorCode::kUnavailable,
            "all " + std::to_string(max_) + " connections to " + display_url_ +
                " (max_connections) stayed busy for " + std::to_string(acquire_timeout_.count()) +
                " ms: calls are waiting on the database"));
      }
      if (!idle_.empty()) {
        Lease lease{std::move(idle_.back()), true};
        idle_.pop_back();
        return lease;
      }
      ++open_;  // reserved; connected below, without the lock
    }
    try {
      auto conn = std::make_unique<pqxx::connection>(url_);
      if (statement_timeout_.count() > 0) {
        pqxx::nontransaction(*conn).exec("SET statement_timeout = " +
                                         std::to_string(statement_timeout_.count()));
      }
      return Lease{std::move(conn), false};
    } catch (const std::exception& e) {
      Forget();
      return std::unexpected(ConnectError(e.what(), display_url_, at_open));
    }
  }

  // Back into the pool if `keep` and still open, else closed.
  void Release(Lease lease, bool keep) {
    if (keep && lease.conn && lease.conn->is_open()) {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(lease.conn));
      cv_.notify_one();
      return;
    }
    lease.conn.reset();
    Forget();
  }

  const std::string& display_url() const { return display_url_; }
  const std::string& url() const { return url_; }
  std::chrono::milliseconds acquire_timeout() const { return acquire_timeout_; }
  std::chrono::milliseconds statement_timeout() const { return statement_timeout_; }

 private:
  void Forget() {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
  }

  const std::string url_;
  const std::string display_url_;
  const std::size_t max_;
  const std::chrono::milliseconds acquire_timeout_;
  const std::chrono::milliseconds statement_timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // GUARDED_BY(mu_)
  std::size_t open_ = 0;                                 // GUARDED_BY(mu_), idle + in use
};

}  // namespace internal

namespace {

using internal::PostgresPool;

// Runs `fn(connection)` on a pooled connection and turns what libpqxx throws
// into the store's errors. A connection that found itself dead when taken
// from the pool (the server restarted while it sat there) is replaced and the
// call run once more: the server rolled back whatever the dead session had
// begun, and libpqxx reports a COMMIT it cannot vouch for as in_doubt_error,
// which is never run again.
template <class Fn>
auto Run(PostgresPool& pool, const std::string& what, Fn fn, bool at_open = false)
    -> decltype(fn(std::declval<pqxx::connection&>())) {
  for (int attempt = 0;; ++attempt) {
    auto lease = pool.Acquire(at_open);
    if (!lease) {
      // At Open, the caller's context ("open postgresql store URL") says it all.
      return std::unexpected(at_open ? lease.error() : lease.error().WithContext(what));
    }
    const bool may_retry = lease->reused && attempt == 0;
    try {
      auto result = fn(*lease->conn);
      pool.Release(std::move(*lease), true);
      return result;
    } catch (const pqxx::in_doubt_error& e) {
      pool.Release(std::move(*lease), false);
      return Unavailable(what + ": the connection to " + pool.display_url() +
                         " broke during COMMIT, so whether the write took effect is unknown "
                         "(read it again): " +
                         OneLine(e.what()));
    } catch (const pqxx::broken_connection& e) {
      pool.Release(std::move(*lease), false);
      if (may_retry) continue;
      return Unavailable(what + ": lost the connection to " + pool.display_url() + ": " +
                         OneLine(e.what()));
    } catch (const pqxx::sql_error& e) {
      const bool gone = ConnectionState(e.sqlstate()) || !lease->conn->is_open();
      pool.Release(std::move(*lease), !gone);
      if (gone && may_retry) continue;
      core::Error error = MapSqlError(e, what);
      if (gone) error = core::Error(core::ErrorCode::kUnavailable, error.message());
      return std::unexpected(std::move(error));
    } catch (const std::exception& e) {
      const bool open = lease->conn->is_open();
      pool.Release(std::move(*lease), open);
      if (!open) {
        if (may_retry) continue;
        return Unavailable(what + ": lost the connection to " + pool.display_url() + ": " +
                           OneLine(e.what()));
      }
      return core::InternalError(what + ": " + OneLine(e.what()));
    }
  }
}

// Appends `events` (seq from first_seq on) to the log of `stored`, whose record
// JSON is `stored_json`, and, while a sink exists, to the outbox; `appended`
// gets them as stored.
core::Status AppendEvents(pqxx::work& tx, const Deployment& stored, const std::string& stored_json,
                          std::int64_t first_seq, const std::vector<DeploymentEvent>& events,
                          std::vector<DeploymentEvent>& appended) {
  std::int64_t seq = first_seq;
  for (DeploymentEvent e : events) {
    e.seq = seq++;
    e.deployment_id = stored.id;
    auto json = EncodeEvent(e);
    if (!json) return std::unexpected(json.error());
    tx.exec_params(
        "INSERT INTO events (deployment_id, seq, time, kind, from_state, to_state, actor, record)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        e.deployment_id, e.seq, Millis(e.time), std::string(core::EventKindName(e.kind)),
        std::string(core::StateName(e.from_state)), std::string(core::StateName(e.to_state)),
        e.actor, *json);
    appended.push_back(std::move(e));
  }
  if (appended.empty()) return core::Ok();
  // Nothing is queued while no sink would read it.
  if (!tx.exec1("SELECT EXISTS (SELECT 1 FROM notification_cursors)")[0].as<bool>()) {
    return core::Ok();
  }
  // Taking the positions locks the counter row until this transaction ends:
  // a concurrent write waits here and gets higher positions, and commits later.
  const auto n = static_cast<std::int64_t>(appended.size());
  const std::int64_t last =
      tx.exec_params1("UPDATE outbox_position SET last = last + $1 WHERE id = 1 RETURNING last",
                      n)[0]
          .as<std::int64_t>();
  std::int64_t position = last - n;
  for (const DeploymentEvent& e : appended) {
    tx.exec_params(
        "INSERT INTO outbox (position, deployment_id, seq, version, deployment)"
        " VALUES ($1, $2, $3, $4, $5)",
        ++position, e.deployment_id, e.seq, stored.version, stored_json);
  }
  return core::Ok();
}

// Deletes the outbox entries every cursor has passed (all when there is none).
void PruneOutbox(pqxx::work& tx) {
  tx.exec(
      "DELETE FROM outbox WHERE position <= COALESCE("
      "(SELECT MIN(position) FROM notification_cursors), (SELECT last FROM outbox_position))");
}

// The fence of a write made for the controller's leader: the first statement
// of its transaction takes the lease row FOR SHARE (held to the commit, so a
// takeover, which updates the row, waits for this write) and the write goes on
// only while the lease still carries `fencing` and was not released.
core::Status CheckFence(pqxx::work& tx, std::int64_t fencing, std::string_view what) {
  auto r = tx.exec_params("SELECT holder, fencing FROM leases WHERE name = $1 FOR SHARE",
                          std::string(PostgresDeploymentStore::kControllerLease));
  const std::string mine = "this replica's lease (fencing " + std::to_string(fencing) + ")";
  if (r.empty()) {
    return core::FailedPreconditionError(std::string(what) +
                                         ": not the controller's leader: no controller lease was "
                                         "ever granted, so " +
                                         mine + " is not one");
  }
  const auto current = r[0][1].as<std::int64_t>();
  const bool released = r[0][0].size() == 0;
  if (current == fencing && !released) return core::Ok();
  std::string why;
  if (current == fencing) {
    why = mine + " was released";
  } else if (current > fencing) {
    why = mine + " was taken over (fencing " + std::to_string(current) + ")";
  } else {
    why = mine + " was never granted (the lease's is " + std::to_string(current) + ")";
  }
  return core::FailedPreconditionError(std::string(what) +
                                       ": not the controller's leader any more: " + why);
}

// Tells every change feed, on commit (PostgreSQL delivers a transaction's
// notifications when it commits, never when it rolls back), that `kind`
// (endpoint, deployment) `name` changed. The payload is informative only.
void NotifyChange(pqxx::work& tx, std::string_view kind, std::string_view name) {
  std::string payload(kind);
  // Far below the 8000-byte limit of a payload.
  if (name.size() <= 512) payload += " " + std::string(name);
  tx.exec_params("SELECT pg_notify($1, $2)", std::string(PostgresDeploymentStore::kChangeChannel),
                 payload);
}

bool IsActiveIndexViolation(const pqxx::sql_error& e) {
  return e.sqlstate() == "23505" &&
         std::string_view(e.what()).find("deployments_one_active_per_endpoint") !=
             std::string_view::npos;
}

}  // namespace

core::Result<std::unique_ptr<PostgresDeploymentStore>> PostgresDeploymentStore::Open(
    const std::string& url, const PostgresStoreOptions& options) {
  const std::string display = RedactPostgresUrl(url);
  const std::string context = "open postgresql store " + display;
  if (!IsPostgresUrl(url)) {
    return core::ValidationError(context + ": expected a URL of the form " +
                                 std::string(kPostgresUrlForm));
  }
  std::string conninfo = url;
  const std::chrono::seconds connect_timeout(
      std::max<std::int64_t>(1, options.connect_timeout.count()));
  AddParam(conninfo, "connect_timeout", std::to_string(connect_timeout.count()));
  // A server that vanishes without closing the connection (a network
  // partition) is noticed in about 30 s rather than the kernel's 15 minutes.
  AddParam(conninfo, "keepalives_idle", "10");
  AddParam(conninfo, "keepalives_interval", "5");
  AddParam(conninfo, "keepalives_count", "4");
  AddParam(conninfo, "tcp_user_timeout", "30000");
  {
    char* error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
    if (parsed == nullptr) {
      std::string detail = error != nullptr ? OneLine(error) : "out of memory";
      PQfreemem(error);
      return core::ValidationError(context + ": " + detail);
    }
    PQconninfoFree(parsed);
  }
  auto pool = std::make_unique<PostgresPool>(conninfo, display, options.max_connections,
                                             options.acquire_timeout, options.statement_timeout);
  auto migrated = Run(
      *pool, "apply schema migrations",
      [&](pqxx::connection& conn) -> core::Status {
        pqxx::work tx(conn);
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
        const int current = ReadSchemaVersion(tx);
        if (current > kSchemaVersion) return NewerSchemaError(current);
        for (const Migration& m : kMigrations) {
          if (m.version <= current) continue;
          tx.exec(m.sql);
          tx.exec_params("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                         m.version, NowMillis());
        }
        tx.commit();
        return core::Ok();
      },
      /*at_open=*/true);
  if (!migrated) return std::unexpected(migrated.error().WithContext(context));
  return std::unique_ptr<PostgresDeploymentStore>(
      new PostgresDeploymentStore(display, std::move(pool), connect_timeout));
}

PostgresDeploymentStore::PostgresDeploymentStore(std::string display_url,
                                                 std::unique_ptr<PostgresPool> pool,
                                                 std::chrono::seconds connect_timeout)
    : display_url_(std::move(display_url)),
      pool_(std::move(pool)),
      connect_timeout_(connect_timeout) {}

PostgresDeploymentStore::~PostgresDeploymentStore() = default;

core::Result<int> PostgresDeploymentStore::SchemaVersion() {
  return Run(*pool_, "read schema version", [&](pqxx::connection& conn) -> core::Result<int> {
    pqxx::read_transaction tx(conn);
    return ReadSchemaVersion(tx);
  });
}

core::Result<Deployment> PostgresDeploymentStore::Create(const Deployment& deployment,
                                                         const std::vector<DeploymentEvent>& events,
                                                         std::vector<DeploymentEvent>* appended) {
  return CreateFenced(deployment, events, appended, std::nullopt);
}

core::Result<Deployment> PostgresDeploymentStore::CreateFenced(
    const Deployment& deployment, const std::vector<DeploymentEvent>& events,
    std::vector<DeploymentEvent>* appended, std::optional<std::int64_t> fencing) {
  if (deployment.id.empty()) return core::ValidationError("deployment id must not be empty");
  const std::string what = "create deployment " + Quoted(deployment.id);
  Deployment stored = deployment;
  stored.version = 1;
  auto json = EncodeDeployment(stored);
  if (!json) return std::unexpected(json.error());
  std::vector<DeploymentEvent> written;
  auto created = Run(*pool_, what, [&](pqxx::connection& conn) -> Result<Deployment> {
    written.clear();
    pqxx::work tx(conn);
    if (fencing) {
      if (auto s = CheckFence(tx, *fencing, what); !s) return std::unexpected(s.error());
    }
    if (!tx.exec_params("SELECT 1 FROM deployments WHERE id = $1", stored.id).empty()) {
      return core::ConflictError("deployment " + Quoted(stored.id) + " already exists");
    }
    auto active = tx.exec_params(std::string("SELECT id FROM deployments WHERE endpoint = $1"
                                             " AND state IN ") +
                                     kActiveStates + " LIMIT 1",
                                 stored.endpoint);
    if (!active.empty()) {
      return core::ConflictError("deployment " + Quoted(Text(active[0][0])) +
                                 " is already active on endpoint " + Quoted(stored.endpoint));
    }
    try {
      tx.exec_params(
          "INSERT INTO deployments (id, endpoint, state, version, created_at, updated_at, record)"
          " VALUES ($1, $2, $3, 1, $4, $5, $6)",
          stored.id, stored.endpoint, std::string(core::StateName(stored.state)),
          Millis(stored.created_at), Millis(stored.updated_at), *json);
    } catch (const pqxx::sql_error& e) {
      // Another replica's write committed between the checks and the insert:
      // the database's own guard speaks.
      if (IsActiveIndexViolation(e)) {
        return core::ConflictError(what + ": endpoint " + Quoted(stored.endpoint) +
                                   " already has an active deployment (" + OneLine(e.what()) + ")");
      }
      if (e.sqlstate() == "23505") {
        return core::ConflictError("deployment " + Quoted(stored.id) + " already exists");
      }
      throw;
    }
    if (auto s = AppendEvents(tx, stored, *json, 1, events, written); !s) {
      return std::unexpected(s.error());
    }
    NotifyChange(tx, "deployment", stored.id);
    tx.commit();
    return stored;
  });
  if (created && appended != nullptr) *appended = std::move(written);
  return created;
}

core::Result<Deployment> PostgresDeploymentStore::Get(std::string_view id) {
  const std::string what = "get deployment " + Quoted(id);
  return Run(*pool_, what, [&](pqxx::connection& conn) -> Result<Deployment> {
    pqxx::read_transaction tx(conn);
    auto r =
        tx.exec_params("SELECT record, version FROM deployments WHERE id = $1", std::string(id));
    if (r.empty()) return core::NotFoundError("deployment " + Quoted(id) + " not found");
    return DecodeDeployment(id, Text(r[0][0]), r[0][1].as<std::int64_t>());
  });
}

core::Result<std::vector<Deployment>> PostgresDeploymentStore::List(
    const core::DeploymentFilter& filter) {
  auto listed = ListReadable(filter);
  if (!listed) return std::unexpected(listed.error());
  if (!listed->unreadable.empty()) return std::unexpected(listed->unreadable.front().error);
  return std::move(listed->deployments);
}

core::Result<core::DeploymentListing> PostgresDeploymentStore::ListReadable(
    const core::DeploymentFilter& filter) {
  const std::string what = "list deployments";
  return Run(*pool_, what, [&](pqxx::connection& conn) -> Result<core::DeploymentListing> {
    pqxx::read_transaction tx(conn);
    // Each condition is off while its flag ($1, $3, ...) is false; no limit is
    // LIMIT NULL (ALL).
    const auto after_at = filter.after ? Millis(filter.after->created_at) : 0;
    auto r = tx.exec_params(
        std::string("SELECT id, record, version, endpoint FROM deployments"
                    " WHERE (NOT $1 OR endpoint = $2) AND (NOT $3 OR state = $4)"
                    " AND (NOT $5 OR state IN ") +
            kActiveStates +
            ") AND (NOT $6 OR created_at >= $7) AND (NOT $8 OR created_at < $9)"
            " AND (NOT $10 OR (created_at, id COLLATE \"C\") < ($11, $12))"
            " ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $13",
        filter.endpoint.has_value(), filter.endpoint.value_or(""), filter.state.has_value(),
        std::string(filter.state ? core::StateName(*filter.state) : ""), filter.active_only,
        filter.since.has_value(), filter.since ? Millis(*filter.since) : 0,
        filter.until.has_value(), filter.until ? Millis(*filter.until) : 0,
        filter.after.has_value(), after_at, filter.after ? filter.after->id : std::string(),
        filter.limit > 0 ? std::optional<std::int64_t>(static_cast<std::int64_t>(filter.limit))
                         : std::nullopt);
    core::DeploymentListing out;
    for (const pqxx::row& row : r) {
      auto d = DecodeDeployment(Text(row[0]), Text(row[1]), row[2].as<std::int64_t>());
      if (!d) {
        out.unreadable.push_back({.id = row[0].as<std::string>(),
                                  .endpoint = row[3].as<std::string>(),
                                  .error = d.error()});
        continue;
      }
      out.deployments.push_back(std::move(*d));
    }
    return out;
  });
}

core::Result<Deployment> PostgresDeploymentStore::Update(const Deployment& deployment,
                                                         const std::vector<DeploymentEvent>& events,
                                                         std::vector<DeploymentEvent>* appended) {
  return UpdateFenced(deployment, events, appended, std::nullopt);
}

core::Result<Deployment> PostgresDeploymentStore::UpdateFenced(
    const Deployment& deployment, const std::vector<DeploymentEvent>& events,
    std::vector<DeploymentEvent>* appended, std::optional<std::int64_t> fencing) {
  if (deployment.id.empty()) return core::ValidationError("deployment id must not be empty");
  const std::string what = "update deployment " + Quoted(deployment.id);
  Deployment stored = deployment;
  stored.version = deployment.version + 1;
  auto json = EncodeDeployment(stored);
  if (!json) return std::unexpected(json.error());
  std::vector<DeploymentEvent> written;
  auto updated = Run(*pool_, what, [&](pqxx::connection& conn) -> Result<Deployment> {
    written.clear();
    pqxx::work tx(conn);
    if (fencing) {
      if (auto s = CheckFence(tx, *fencing, what); !s) return std::unexpected(s.error());
    }
    pqxx::result r;
    try {
      // A concurrent writer's row lock makes this wait; then the version
      // test runs on the row as that writer left it.
      r = tx.exec_params(
          "UPDATE deployments SET endpoint = $1, state = $2, version = version + 1,"
          " created_at = $3, updated_at = $4, record = $5 WHERE id = $6 AND version = $7",
          stored.endpoint, std::string(core::StateName(stored.state)), Millis(stored.created_at),
          Millis(stored.updated_at), *json, stored.id, deployment.version);
    } catch (const pqxx::sql_error& e) {
      if (IsActiveIndexViolation(e)) {
        return core::ConflictError(what + ": endpoint " + Quoted(stored.endpoint) +
                                   " already has an active deployment (" + OneLine(e.what()) + ")");
      }
      throw;
    }
    if (r.affected_rows() == 0) {
      auto v = tx.exec_params("SELECT version FROM deployments WHERE id = $1", stored.id);
      if (v.empty()) {
        return core::NotFoundError("deployment " + Quoted(stored.id) + " not found");
      }
      return core::ConflictError("deployment " + Quoted(stored.id) +
                                 " was changed concurrently (version " +
                                 std::to_string(deployment.version) + ", stored " +
                                 std::to_string(v[0][0].as<std::int64_t>()) + ")");
    }
    // The row lock taken above keeps every other writer of this log out.
    const std::int64_t last_seq =
        tx.exec_params1("SELECT COALESCE(MAX(seq), 0) FROM events WHERE deployment_id = $1",
                        stored.id)[0]
            .as<std::int64_t>();
    if (auto s = AppendEvents(tx, stored, *json, last_seq + 1, events, written); !s) {
      return std::unexpected(s.error());
    }
    NotifyChange(tx, "deployment", stored.id);
    tx.commit();
    return stored;
  });
  if (updated && appended != nullptr) *appended = std::move(written);
  return updated;
}

core::Result<std::vector<DeploymentEvent>> PostgresDeploymentStore::ListEvents(
    std::string_view deployment_id, std::int64_t after_seq) {
  const std::string what = "list events of deployment " + Quoted(deployment_id);
  const std::string id(deployment_id);
  return Run(*pool_, what, [&](pqxx::connection& conn) -> Result<std::vector<DeploymentEvent>> {
    // One snapshot for the existence check and the events.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(conn);
    if (tx.exec_params("SELECT 1 FROM deployments WHERE id = $1", id).empty()) {
      return core::NotFoundError("deployment " + Quoted(id) + " not found");
    }
    auto r = tx.exec_params(
        "SELECT seq, record FROM events WHERE deployment_id = $1 AND seq > $2 ORDER BY seq", id,
        after_seq);
    std::vector<DeploymentEvent> out;
    for (const pqxx::row& row : r) {
      auto e = DecodeEvent(id, row[0].as<std::int64_t>(), Text(row[1]));
      if (!e) return std::unexpected(e.error());
      out.push_back(std::move(*e));
    }
    return out;
  });
}

core::Status PostgresDeploymentStore::SaveEndpoint(const core::Endpoint& endpoint) {
  return SaveEndpointFenced(endpoint, std::nullopt);
}

core::Status PostgresDeploymentStore::SaveEndpointFenced(const core::Endpoint& endpoint,
                                                         std::optional<std::int64_t> fencing) {
  if (endpoint.name.empty()) return core::ValidationError("endpoint name must not be empty");
  const std::string what = "save endpoint " + Quoted(endpoint.name);
  auto json = EncodeEndpoint(endpoint);
  if (!json) return std::unexpected(json.error());
  return Run(*pool_, what, [&](pqxx::connection& conn) -> core::Status {
    pqxx::work tx(conn);
    if (fencing) {
      if (auto s = CheckFence(tx, *fencing, what); !s) return s;
    }
    tx.exec_params(
        "INSERT INTO endpoints (name, record) VALUES ($1, $2)"
        " ON CONFLICT (name) DO UPDATE SET record = EXCLUDED.record",
        endpoint.name, *json);
    NotifyChange(tx, "endpoint", endpoint.name);
    tx.commit();
    return core::Ok();
  });
}

core::Result<std::vector<core::Endpoint>> PostgresDeploymentStore::ListEndpoints() {
  return Run(*pool_, "list endpoints",
             [&](pqxx::connection& conn) -> Result<std::vector<core::Endpoint>> {
               pqxx::read_transaction tx(conn);
               auto r = tx.exec("SELECT name, record FROM endpoints ORDER BY name");
               std::vector<core::Endpoint> out;
               for (const pqxx::row& row : r) {
                 auto endpoint =
                     internal::DecodeEndpoint(Text(row[1]), "endpoint " + Quoted(Text(row[0])));
                 if (!endpoint) return std::unexpected(endpoint.error());
                 out.push_back(std::move(*endpoint));
               }
               return out;
             });
}

core::Status PostgresDeploymentStore::SetSinks(const std::vector<std::string>& sinks) {
  const std::string what = "set outbox sinks";
  for (const std::string& sink : sinks) {
    if (sink.empty()) return core::ValidationError(what + ": a sink name is empty");
  }
  return Run(*pool_, what, [&](pqxx::connection& conn) -> core::Status {
    pqxx::work tx(conn);
    // Under the counter's lock: no write is between taking positions and
    // committing them, so "the current end" is exact.
    const std::int64_t last =
        tx.exec1("SELECT last FROM outbox_position WHERE id = 1 FOR UPDATE")[0].as<std::int64_t>();
    auto current = tx.exec("SELECT sink FROM notification_cursors");
    for (const pqxx::row& row : current) {
      std::string sink = row[0].as<std::string>();
      if (std::find(sinks.begin(), sinks.end(), sink) == sinks.end()) {
        tx.exec_params("DELETE FROM notification_cursors WHERE sink = $1", sink);
      }
    }
    for (const std::string& sink : sinks) {
      tx.exec_params(
          "INSERT INTO notification_cursors (sink, position) VALUES ($1, $2)"
          " ON CONFLICT (sink) DO NOTHING",
          sink, last);
    }
    PruneOutbox(tx);
    tx.commit();
    return core::Ok();
  });
}

core::Result<std::int64_t> PostgresDeploymentStore::Cursor(std::string_view sink) {
  const std::string what = "read outbox cursor of " + Quoted(sink);
  return Run(*pool_, what, [&](pqxx::connection& conn) -> Result<std::int64_t> {
    pqxx::read_transaction tx(conn);
    auto r = tx.exec_params("SELECT position FROM notification_cursors WHERE sink = $1",
                            std::string(sink));
    if (r.empty()) return core::NotFoundError("outbox sink " + Quoted(sink) + " not found");
    return r[0][0].as<std::int64_t>();
  });
}

core::Result<std::vector<core::OutboxEntry>> PostgresDeploymentStore::ReadOutbox(
    std::int64_t after, std::size_t limit) {
  const std::string what = "read outbox after position " + std::to_string(after);
  if (limit == 0) return core::ValidationError(what + ": limit must be >= 1");
  const auto capped = static_cast<std::int64_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::int32_t>::max()));
  return Run(*pool_, what, [&](pqxx::connection& conn) -> Result<std::vector<core::OutboxEntry>> {
    pqxx::read_transaction tx(conn);
    auto r = tx.exec_params(
        "SELECT o.position, o.deployment_id, o.seq, o.version, o.deployment, e.record"
        " FROM outbox o LEFT JOIN events e ON e.deployment_id = o.deployment_id AND e.seq = o.seq"
        " WHERE o.position > $1 ORDER BY o.position LIMIT $2",
        after, capped);
    std::vector<core::OutboxEntry> out;
    for (const pqxx::row& row : r) {
      core::OutboxEntry entry;
      entry.position = row[0].as<std::int64_t>();
      const std::string deployment_id = row[1].as<std::string>();
      const auto seq = row[2].as<std::int64_t>();
      if (row[5].is_null()) {
        return internal::CorruptRecord("outbox entry " + std::to_string(entry.position),
                                       "event " + std::to_string(seq) + " of deployment " +
                                           Quoted(deployment_id) + " is missing");
      }
      auto d = DecodeDeployment(deployment_id, Text(row[4]), row[3].as<std::int64_t>());
      if (!d) return std::unexpected(d.error());
      auto e = DecodeEvent(deployment_id, seq, Text(row[5]));
      if (!e) return std::unexpected(e.error());
      entry.deployment = std::move(*d);
      entry.event = std::move(*e);
      out.push_back(std::move(entry));
    }
    return out;
  });
}

core::Status PostgresDeploymentStore::AdvanceCursor(std::string_view sink, std::int64_t position) {
  const std::string what = "advance outbox cursor of " + Quoted(sink);
  return Run(*pool_, what, [&](pqxx::connection& conn) -> core::Status {
    pqxx::work tx(conn);
    auto r = tx.exec_params(
        "UPDATE notification_cursors SET position = GREATEST(position, LEAST($1,"
        " (SELECT last FROM outbox_position))) WHERE sink = $2",
        position, std::string(sink));
    if (r.affected_rows() == 0) {
      return core::NotFoundError("outbox sink " + Quoted(sink) + " not found");
    }
    PruneOutbox(tx);
    tx.commit();
    return core::Ok();
  });
}

// The fenced view: writes through the store's fenced operations, reads as the store.
class PostgresFencedStore final : public core::DeploymentStore {
 public:
  PostgresFencedStore(PostgresDeploymentStore& store, std::int64_t fencing)
      : store_(store), fencing_(fencing) {}

  using core::DeploymentStore::Create;
  using core::DeploymentStore::Update;

  Result<Deployment> Create(const Deployment& deployment,
                            const std::vector<DeploymentEvent>& events,
                            std::vector<DeploymentEvent>* appended) override {
    return store_.CreateFenced(deployment, events, appended, fencing_);
  }
  Result<Deployment> Get(std::string_view id) override { return store_.Get(id); }
  Result<std::vector<Deployment>> List(const core::DeploymentFilter& filter) override {
    return store_.List(filter);
  }
  Result<core::DeploymentListing> ListReadable(const core::DeploymentFilter& filter) override {
    return store_.ListReadable(filter);
  }
  Result<Deployment> Update(const Deployment& deployment,
                            const std::vector<DeploymentEvent>& events,
                            std::vector<DeploymentEvent>* appended) override {
    return store_.UpdateFenced(deployment, events, appended, fencing_);
  }
  Result<std::vector<DeploymentEvent>> ListEvents(std::string_view deployment_id,
                                                  std::int64_t after_seq) override {
    return store_.ListEvents(deployment_id, after_seq);
  }
  core::Status SaveEndpoint(const core::Endpoint& endpoint) override {
    return store_.SaveEndpointFenced(endpoint, fencing_);
  }
  Result<std::vector<core::Endpoint>> ListEndpoints() override { return store_.ListEndpoints(); }

 private:
  PostgresDeploymentStore& store_;
  const std::int64_t fencing_;
};

std::unique_ptr<core::DeploymentStore> PostgresDeploymentStore::Fenced(std::int64_t fencing) {
  return std::make_unique<PostgresFencedStore>(*this, fencing);
}

namespace {

// One named lease, each call one statement in autocommit on the lease's own
// connections. Run's one retry on a connection found dead in the pool is
// safe: every statement here may run twice (a renewal keeps its number).
class PostgresLeaderLease final : public core::LeaderLease {
 public:
  PostgresLeaderLease(std::string name, std::unique_ptr<PostgresPool> pool)
      : name_(std::move(name)), pool_(std::move(pool)) {}

  Result<std::optional<core::LeaseGrant>> TryAcquire(std::string_view holder,
                                                     core::Duration ttl) override {
    const std::string what = "acquire lease " + Quoted(name_) + " for " + Quoted(holder);
    if (holder.empty()) return core::ValidationError(what + ": the holder must not be empty");
    if (ttl.count() <= 0) return core::ValidationError(what + ": the lease time must be positive");
    return Run(*pool_, what,
               [&](pqxx::connection& conn) -> Result<std::optional<core::LeaseGrant>> {
                 pqxx::nontransaction tx(conn);
                 // now(): the database's clock, at the start of this statement (after
                 // the caller's call began, so the holder's own reckoning of the expiry,
                 // counted from before the call, is never later than this one).
                 auto r = tx.exec_params(
                     "INSERT INTO leases AS l (name, holder, fencing, expires_at)"
                     " VALUES ($1, $2, 1, now() + $3::double precision * interval '1 millisecond')"
                     " ON CONFLICT (name) DO UPDATE SET"
                     "   fencing = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > now()"
                     "                  THEN l.fencing ELSE l.fencing + 1 END,"
                     "   holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
                     " WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()"
                     " RETURNING fencing",
                     name_, std::string(holder), static_cast<std::int64_t>(ttl.count()));
                 if (r.empty()) return std::optional<core::LeaseGrant>{};
                 return std::optional<core::LeaseGrant>(
                     core::LeaseGrant{.fencing = r[0][0].as<std::int64_t>(), .ttl = ttl});
               });
  }

  core::Status Release(std::string_view holder, std::int64_t fencing) override {
    const std::string what = "release lease " + Quoted(name_) + " of " + Quoted(holder);
    return Run(*pool_, what, [&](pqxx::connection& conn) -> core::Status {
      pqxx::nontransaction tx(conn);
      tx.exec_params(
          "UPDATE leases SET holder = '', expires_at = LEAST(expires_at, now())"
          " WHERE name = $1 AND holder = $2 AND fencing = $3",
          name_, std::string(holder), fencing);
      return core::Ok();
    });
  }

  Result<core::LeaseHolder> Current() override {
    const std::string what = "read lease " + Quoted(name_);
    return Run(*pool_, what, [&](pqxx::connection& conn) -> Result<core::LeaseHolder> {
      pqxx::nontransaction tx(conn);
      auto r = tx.exec_params(
          "SELECT CASE WHEN expires_at > now() THEN holder ELSE '' END, fencing"
          " FROM leases WHERE name = $1",
          name_);
      if (r.empty()) return core::LeaseHolder{};
      return core::LeaseHolder{.holder = r[0][0].as<std::string>(),
                               .fencing = r[0][1].as<std::int64_t>()};
    });
  }

 private:
  const std::string name_;
  std::unique_ptr<PostgresPool> pool_;
};

using SteadyTime = std::chrono::steady_clock::time_point;

// The change feed, on libpq directly (libpqxx 6.4's await_notification cannot
// also wait on an interrupt): one connection that LISTENs, polled together
// with a pipe that Interrupt writes to. A broken connection is closed and
// reopened without blocking (PQconnectStart/PQconnectPoll under the same
// poll), so Interrupt stays prompt while reconnecting too.
class PostgresChangeFeed final : public core::ChangeFeed {
 public:
  static Result<std::unique_ptr<PostgresChangeFeed>> Open(std::string conninfo,
                                                          std::string display_url,
                                                          std::chrono::seconds connect_timeout) {
    std::unique_ptr<PostgresChangeFeed> feed(
        new PostgresChangeFeed(std::move(conninfo), std::move(display_url), connect_timeout));
    if (pipe2(feed->pipe_, O_NONBLOCK | O_CLOEXEC) != 0) {
      return core::InternalError("change feed: pipe: " + std::string(std::strerror(errno)));
    }
    auto connected = feed->Connect(std::chrono::steady_clock::now() + connect_timeout);
    if (!connected) return std::unexpected(connected.error());
    if (*connected != Wake::kReady) {
      return Unavailable("change feed: cannot connect to " + feed->display_url_ +
                         ": interrupted or timed out");
    }
    return feed;
  }

  ~PostgresChangeFeed() override {
    Close();
    for (int fd : pipe_) {
      if (fd >= 0) close(fd);
    }
  }

  Result<bool> WaitForChange(core::Duration timeout) override {
    std::lock_guard lock(wait_mu_);
    const SteadyTime deadline =
        std::chrono::steady_clock::now() + std::max(timeout, core::Duration::zero());
    if (TakeInterrupt()) return false;
    if (!listening_) {
      // The connection broke earlier: changes committed meanwhile were not
      // heard, so once listening again the answer is "read the store again".
      auto connected = Connect(deadline);
      if (!connected) return std::unexpected(connected.error());
      if (*connected == Wake::kInterrupted) return false;
      if (*connected == Wake::kTimeout) {
        return Unavailable("change feed: still connecting to " + display_url_);
      }
      return true;
    }
    for (;;) {
      if (DrainNotifications()) return true;
      auto wake = PollUntil(PQsocket(conn_), POLLIN, deadline);
      if (!wake) return std::unexpected(wake.error());
      if (*wake != Wake::kReady) return false;
      if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
        return Broken("lost the connection to " + display_url_ + ": " +
                      OneLine(PQerrorMessage(conn_)));
      }
    }
  }

  void Interrupt() override {
    const char byte = 1;
    // A full pipe already holds an interrupt.
    [[maybe_unused]] const ssize_t n = write(pipe_[1], &byte, 1);
  }

 private:
  enum class Wake { kReady, kTimeout, kInterrupted };

  PostgresChangeFeed(std::string conninfo, std::string display_url,
                     std::chrono::seconds connect_timeout)
      : conninfo_(std::move(conninfo)),
        display_url_(std::move(display_url)),
        connect_timeout_(connect_timeout) {}

  // Drains the pipe; true when Interrupt was called since the last time.
  bool TakeInterrupt() {
    char buffer[64];
    bool any = false;
    while (read(pipe_[0], buffer, sizeof buffer) > 0) any = true;
    return any;
  }

  // Waits until `fd` is ready for `events`, `deadline` passes, or Interrupt.
  Result<Wake> PollUntil(int fd, short events, SteadyTime deadline) {
    for (;;) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Wake::kTimeout;
      pollfd fds[2] = {{.fd = fd, .events = events, .revents = 0},
                       {.fd = pipe_[0], .events = POLLIN, .revents = 0}};
      const int n = poll(fds, 2, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
      if (n < 0) {
        if (errno == EINTR) continue;
        return core::InternalError("change feed: poll: " + std::string(std::strerror(errno)));
      }
      if (fds[1].revents != 0) {
        TakeInterrupt();
        return Wake::kInterrupted;
      }
      if (fds[0].revents != 0) return Wake::kReady;
    }
  }

  // Every notification received so far, coalesced: true when there was any.
  bool DrainNotifications() {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  }

  // Opens the connection (or goes on opening it) until `deadline`, then
  // LISTENs. An attempt that has not connected within connect_timeout fails.
  Result<Wake> Connect(SteadyTime deadline) {
    if (conn_ == nullptr) {
      conn_ = PQconnectStart(conninfo_.c_str());
      if (conn_ == nullptr) return core::InternalError("change feed: out of memory");
      if (PQstatus(conn_) == CONNECTION_BAD) {
        return Broken("cannot connect to " + display_url_ + ": " + OneLine(PQerrorMessage(conn_)));
      }
      attempt_deadline_ = std::chrono::steady_clock::now() + connect_timeout_;
      polling_ = PGRES_POLLING_WRITING;  // as libpq says to begin
    }
    while (polling_ != PGRES_POLLING_OK) {
      if (polling_ == PGRES_POLLING_FAILED) {
        return Broken("cannot connect to " + display_url_ + ": " + OneLine(PQerrorMessage(conn_)));
      }
      auto wake = PollUntil(PQsocket(conn_), polling_ == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                            std::min(deadline, attempt_deadline_));
      if (!wake) return std::unexpected(wake.error());
      if (*wake == Wake::kInterrupted) return Wake::kInterrupted;
      if (*wake == Wake::kTimeout) {
        if (std::chrono::steady_clock::now() < attempt_deadline_) return Wake::kTimeout;
        return Broken("cannot connect to " + display_url_ + ": no answer within " +
                      std::to_string(connect_timeout_.count()) + " s");
      }
      polling_ = PQconnectPoll(conn_);
    }
    // The server's last words before it closes a session (FATAL: terminating
    // connection due to administrator command) come as a notice while idle:
    // kept for the error, not printed on stderr.
    PQsetNoticeProcessor(conn_, &PostgresChangeFeed::KeepNotice, this);
    PGresult* listen =
        PQexec(conn_, (std::string("LISTEN ") + PostgresDeploymentStore::kChangeChannel).c_str());
    const bool ok = PQresultStatus(listen) == PGRES_COMMAND_OK;
    PQclear(listen);
    if (!ok) {
      return Broken("LISTEN on " + display_url_ + ": " + OneLine(PQerrorMessage(conn_)));
    }
    listening_ = true;
    return Wake::kReady;
  }

  static void KeepNotice(void* self, const char* message) {
    static_cast<PostgresChangeFeed*>(self)->last_notice_ = OneLine(message);
  }

  // Closes the connection (the next call opens a new one) and answers the error.
  std::unexpected<core::Error> Broken(std::string detail) {
    if (!last_notice_.empty()) detail += " (" + last_notice_ + ")";
    Close();
    return Unavailable("change feed: " + detail);
  }

  void Close() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
    listening_ = false;
    last_notice_.clear();
  }

  const std::string conninfo_;
  const std::string display_url_;
  const std::chrono::seconds connect_timeout_;
  int pipe_[2] = {-1, -1};  // Interrupt writes to [1], waits poll [0]
  std::mutex wait_mu_;      // one waiter at a time
  // The waiter's (under wait_mu_):
  PGconn* conn_ = nullptr;
  PostgresPollingStatusType polling_ = PGRES_POLLING_OK;
  SteadyTime attempt_deadline_{};
  bool listening_ = false;
  std::string last_notice_;
};

}  // namespace

std::unique_ptr<core::LeaderLease> PostgresDeploymentStore::Lease(std::string name) {
  return std::make_unique<PostgresLeaderLease>(
      std::move(name),
      std::make_unique<PostgresPool>(pool_->url(), display_url_, 2, pool_->acquire_timeout(),
                                     pool_->statement_timeout()));
}

core::Result<std::unique_ptr<core::ChangeFeed>> PostgresDeploymentStore::OpenChangeFeed() {
  auto feed = PostgresChangeFeed::Open(pool_->url(), display_url_, connect_timeout_);
  if (!feed) return std::unexpected(feed.error());
  return std::unique_ptr<core::ChangeFeed>(std::move(*feed));
}

}  // namespace mlcanary::store
