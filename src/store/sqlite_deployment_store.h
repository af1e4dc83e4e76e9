// SqliteDeploymentStore: the durable DeploymentStore, one SQLite file in WAL
// mode with synchronous=FULL, a versioned schema and optimistic concurrency
// that also holds between processes sharing the file.
#ifndef MLCANARY_STORE_SQLITE_DEPLOYMENT_STORE_H_
#define MLCANARY_STORE_SQLITE_DEPLOYMENT_STORE_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/ports.h"

namespace mlcanary::store {

namespace internal {
class SqliteDb;
}  // namespace internal

struct SqliteStoreOptions {
  // How long a write waits for another connection's (or process's) write lock
  // before it fails with kUnavailable (retryable).
  std::chrono::milliseconds busy_timeout{5000};
};

// The connection's effective settings, for diagnostics and tests.
struct SqliteStoreSettings {
  std::string journal_mode;  // "wal"
  int synchronous = 0;       // 2 = FULL
  bool foreign_keys = false;
  int busy_timeout_ms = 0;
  int schema_version = 0;
};

// Deployments, their event logs and endpoints in one SQLite database file.
//
// Every write is one transaction (BEGIN IMMEDIATE ... COMMIT): a record and its
// events land together or not at all, also across a crash. The database itself
// enforces one active deployment per endpoint (a partial unique index) and
// Update checks the version in its UPDATE statement, so several processes may
// share one file safely.
//
// Thread-safe: one connection, every call serialized by mu_. Errors: SQLite
// busy/locked -> kUnavailable (retryable), constraint -> kConflict,
// corruption and I/O -> kInternal; each message names the operation.
class SqliteDeploymentStore final : public core::DeploymentStore, public core::EventOutbox {
 public:
  // The schema version this code writes; Open refuses a file with a newer one.
  static constexpr int kSchemaVersion = 3;

  // Opens or creates the database at `path` (creating parent directories),
  // applies pending migrations, and sets WAL, synchronous=FULL, foreign keys
  // and the busy timeout. Errors name the path. An existing file of 0 bytes is
  // refused (kValidation): SQLite would take it for a new, empty database, and
  // every record it should hold (an active canary) would silently vanish. A
  // file that this call creates is fine.
  static core::Result<std::unique_ptr<SqliteDeploymentStore>> Open(
      const std::string& path, const SqliteStoreOptions& options = {});

  ~SqliteDeploymentStore() override;

  using core::DeploymentStore::Create;
  using core::DeploymentStore::Update;

  core::Result<core::Deployment> Create(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events,
                                        std::vector<core::DeploymentEvent>* appended) override;
  core::Result<core::Deployment> Get(std::string_view id) override;
  core::Result<std::vector<core::Deployment>> List(const core::DeploymentFilter& filter) override;
  core::Result<core::DeploymentListing> ListReadable(const core::DeploymentFilter& filter) override;
  core::Result<core::Deployment> Update(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events,
                                        std::vector<core::DeploymentEvent>* appended) override;
  core::Result<std::vector<core::DeploymentEvent>> ListEvents(std::string_view deployment_id,
                                                              std::int64_t after_seq) override;
  core::Status SaveEndpoint(const core::Endpoint& endpoint) override;
  core::Result<std::vector<core::Endpoint>> ListEndpoints() override;

  // The outbox: table `outbox` (position AUTOINCREMENT, the event's key, the
  // deployment's record after the write), filled in the write's transaction;
  // cursors in `notification_cursors`.
  core::Status SetSinks(const std::vector<std::string>& sinks) override;
  core::Result<std::int64_t> Cursor(std::string_view sink) override;
  core::Result<std::vector<core::OutboxEntry>> ReadOutbox(std::int64_t after,
                                                          std::size_t limit) override;
  core::Status AdvanceCursor(std::string_view sink, std::int64_t position) override;

  core::Result<SqliteStoreSettings> Settings();
  const std::string& path() const { return path_; }

 private:
  SqliteDeploymentStore(std::string path, std::unique_ptr<internal::SqliteDb> db);

  // REQUIRES: mu_ is held and a write transaction is open. Appends `events`
  // from first_seq on to the log of `stored` (whose record JSON is
  // `stored_json`) and, while a sink exists, to the outbox; `appended` gets
  // them as stored.
  core::Status AppendEvents(const core::Deployment& stored, std::string_view stored_json,
                            std::int64_t first_seq,
                            const std::vector<core::DeploymentEvent>& events,
                            std::vector<core::DeploymentEvent>& appended, std::string_view what);
  // REQUIRES: mu_ is held and a write transaction is open. Deletes the outbox
  // entries every cursor has passed (all of them when there is no cursor).
  core::Status PruneOutbox(std::string_view what);

  const std::string path_;
  std::mutex mu_;
  std::unique_ptr<internal::SqliteDb> db_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::store

#endif  // MLCANARY_STORE_SQLITE_DEPLOYMENT_STORE_H_
