// PostgresDeploymentStore: the DeploymentStore (and EventOutbox) of the fleet
// shape, on a PostgreSQL server (15 or later) through libpqxx. Several
// processes (replicas) may share one database: the database itself enforces
// one active deployment per endpoint, optimistic versions and the outbox's
// commit order.
#ifndef MLCANARY_STORE_POSTGRES_DEPLOYMENT_STORE_H_
#define MLCANARY_STORE_POSTGRES_DEPLOYMENT_STORE_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/coordination.h"
#include "core/ports.h"

namespace mlcanary::store {

namespace internal {
class PostgresPool;
}  // namespace internal
class PostgresFencedStore;

struct PostgresStoreOptions {
  // Connections the store opens at most (each one call at a time); calls
  // beyond wait for a free one, `acquire_timeout` at most: then kUnavailable
  // naming the pool (every connection busy: calls stuck on the database), not
  // a caller (an API request, the controller's check) waiting with no end.
  std::size_t max_connections = 4;
  std::chrono::milliseconds acquire_timeout{10000};
  // The server's statement_timeout on the store's connections: a statement
  // (one waiting on a lock another session holds, say) that runs longer is
  // cancelled, kTimeout naming the operation. 0: none.
  std::chrono::milliseconds statement_timeout{30000};
  // libpq's connect_timeout, unless the URL sets one: how long opening a
  // connection to an unreachable server may take before kUnavailable.
  std::chrono::seconds connect_timeout{5};
};

// Deployments, their event logs, endpoints and the event outbox in one
// PostgreSQL database (the tables of the URL's database, in the first schema
// of its search_path: give mlcanary a database, or a schema, of its own).
//
// Every write is one transaction: the record, its events and their outbox
// entries land together or not at all. A partial unique index on
// deployments(endpoint) over the active states refuses a second active
// deployment, whichever replica writes it; Update is `UPDATE ... WHERE id = $1
// AND version = $2`, so a stale writer changes nothing and gets kConflict.
//
// Thread-safe: a small pool of connections (options.max_connections), one per
// call in flight, so that a call waiting on the database (a row lock another
// replica holds) does not hold up every other call of the process. A
// connection that broke (the server restarted, the network dropped) is closed
// and the next call opens a new one; a call that finds its pooled connection
// dead before it changed anything is run again once on a fresh connection.
//
// Errors, each naming the operation: connection lost, server shutting down or
// starting, too many connections, serialization failures -> kUnavailable
// (retryable; the controller holds); unique/foreign-key violations ->
// kConflict; a commit whose outcome is unknown (the connection broke during
// COMMIT) -> kUnavailable saying so (the caller re-reads); a record that does
// not decode -> kInternal naming the deployment; anything else -> kInternal.
class PostgresDeploymentStore final : public core::DeploymentStore, public core::EventOutbox {
 public:
  // The schema version this code writes; Open refuses a database with a newer one.
  static constexpr int kSchemaVersion = 3;
  // The lease the controller's leader holds, and the one fenced writes check.
  static constexpr const char* kControllerLease = "controller";
  // The channel every write that changes an endpoint record or a deployment
  // notifies (pg_notify in its own transaction: delivered on commit only).
  static constexpr const char* kChangeChannel = "mlcanary_changes";

  // Connects to `url` (a libpq URI, postgresql://user:password@host:port/db;
  // libpq's environment variables such as PGPASSWORD and ~/.pgpass apply) and
  // applies pending migrations (under an advisory lock, so replicas starting
  // together migrate once). Errors are one line naming the URL without its
  // password: a malformed URL -> kValidation; a wrong password ->
  // kUnauthenticated; an unreachable server -> kUnavailable; a database with
  // a newer schema -> kFailedPrecondition.
  static core::Result<std::unique_ptr<PostgresDeploymentStore>> Open(
      const std::string& url, const PostgresStoreOptions& options = {});

  ~PostgresDeploymentStore() override;

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

  // The outbox: table `outbox`, positions handed out from the one row of
  // `outbox_position` under its row lock, which a write holds until it
  // commits, so positions grow in commit order; cursors in
  // `notification_cursors`.
  core::Status SetSinks(const std::vector<std::string>& sinks) override;
  core::Result<std::int64_t> Cursor(std::string_view sink) override;
  core::Result<std::vector<core::OutboxEntry>> ReadOutbox(std::int64_t after,
                                                          std::size_t limit) override;
  core::Status AdvanceCursor(std::string_view sink, std::int64_t position) override;

  // The lease `name` (table `leases`: name, holder, fencing, expires_at), on
  // the database's clock, through connections of its own (at most 2), so that
  // a renewal never waits behind the store's calls. Each call is one
  // statement; a lost connection is kUnavailable (the elector holds), the next
  // call reconnects. The lease may outlive this store.
  std::unique_ptr<core::LeaderLease> Lease(std::string name = kControllerLease);

  // A view of this store for the controller's leader holding the lease
  // "controller" with `fencing`: its Create, Update and SaveEndpoint first
  // take the lease row FOR SHARE in their own transaction and go on only while
  // the lease still carries `fencing` and was not released; otherwise they
  // write nothing and answer kFailedPrecondition ("not the controller's leader
  // any more: ..."). A takeover (TryAcquire of another holder) waits for a
  // fenced write in flight to commit, so every fenced write lands before the
  // new leader's grant or is refused. Reads, and the outbox (its cursors are
  // the notifiers', not the leader's), pass through. Shares this store's
  // connections; must not outlive it.
  std::unique_ptr<core::DeploymentStore> Fenced(std::int64_t fencing);

  // A change feed on its own connection (LISTEN mlcanary_changes), opened now
  // so that every change committed from here on wakes it. Errors as Open's
  // after it (kUnavailable naming the URL). Independent of this store's
  // lifetime.
  core::Result<std::unique_ptr<core::ChangeFeed>> OpenChangeFeed();

  // The schema version stored in the database.
  core::Result<int> SchemaVersion();
  // The URL without its password, as errors name it.
  const std::string& display_url() const { return display_url_; }

 private:
  friend class PostgresFencedStore;
  PostgresDeploymentStore(std::string display_url, std::unique_ptr<internal::PostgresPool> pool,
                          std::chrono::seconds connect_timeout);

  // The writes, fenced by the lease "controller" when `fencing` is set.
  core::Result<core::Deployment> CreateFenced(const core::Deployment& deployment,
                                              const std::vector<core::DeploymentEvent>& events,
                                              std::vector<core::DeploymentEvent>* appended,
                                              std::optional<std::int64_t> fencing);
  core::Result<core::Deployment> UpdateFenced(const core::Deployment& deployment,
                                              const std::vector<core::DeploymentEvent>& events,
                                              std::vector<core::DeploymentEvent>* appended,
                                              std::optional<std::int64_t> fencing);
  core::Status SaveEndpointFenced(const core::Endpoint& endpoint,
                                  std::optional<std::int64_t> fencing);

  const std::string display_url_;
  std::unique_ptr<internal::PostgresPool> pool_;
  const std::chrono::seconds connect_timeout_;
};

}  // namespace mlcanary::store

#endif  // MLCANARY_STORE_POSTGRES_DEPLOYMENT_STORE_H_
