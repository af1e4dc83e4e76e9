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
class SqliteDeploymentStore final : public core::DeploymentStore {
 public:
  // The schema version this code writes; Open refuses a file with a newer one.
  static constexpr int kSchemaVersion = 1;

  // Opens or creates the database at `path` (creating parent directories),
  // applies pending migrations, and sets WAL, synchronous=FULL, foreign keys
  // and the busy timeout. Errors name the path.
  static core::Result<std::unique_ptr<SqliteDeploymentStore>> Open(
      const std::string& path, const SqliteStoreOptions& options = {});

  ~SqliteDeploymentStore() override;

  core::Result<core::Deployment> Create(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events) override;
  core::Result<core::Deployment> Get(std::string_view id) override;
  core::Result<std::vector<core::Deployment>> List(const core::DeploymentFilter& filter) override;
  core::Result<core::Deployment> Update(const core::Deployment& deployment,
                                        const std::vector<core::DeploymentEvent>& events) override;
  core::Result<std::vector<core::DeploymentEvent>> ListEvents(std::string_view deployment_id,
                                                              std::int64_t after_seq) override;
  core::Status SaveEndpoint(const core::Endpoint& endpoint) override;
  core::Result<std::vector<core::Endpoint>> ListEndpoints() override;

  core::Result<SqliteStoreSettings> Settings();
  const std::string& path() const { return path_; }

 private:
  SqliteDeploymentStore(std::string path, std::unique_ptr<internal::SqliteDb> db);

  // REQUIRES: mu_ is held and a write transaction is open.
  core::Status AppendEvents(const std::string& deployment_id, std::int64_t first_seq,
                            const std::vector<core::DeploymentEvent>& events,
                            std::string_view what);

  const std::string path_;
  std::mutex mu_;
  std::unique_ptr<internal::SqliteDb> db_;  // GUARDED_BY(mu_)
};

}  // namespace mlcanary::store

#endif  // MLCANARY_STORE_SQLITE_DEPLOYMENT_STORE_H_
