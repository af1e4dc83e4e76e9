// PostgresServer: a real PostgreSQL server for the store's tests, in a
// temporary directory on a free port of 127.0.0.1. `initdb` makes the cluster
// (a superuser with a password, scram-sha-256 over TCP), `pg_ctl` starts and
// stops it, the destructor stops it and removes the directory.
//
// The programs come from $MLCANARY_PG_BINDIR, else the newest
// /usr/lib/postgresql/<version>/bin (Debian's postgresql package), else the
// PATH. PostgreSQL refuses to run as root: as root, the directory is handed to
// the `postgres` user and the programs run as that user (runuser); as anyone
// else, as themselves.
#ifndef MLCANARY_STORE_TESTING_POSTGRES_SERVER_H_
#define MLCANARY_STORE_TESTING_POSTGRES_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/testing/temp_dir.h"

namespace mlcanary::store::testing {

class PostgresServer {
 public:
  static constexpr const char* kUser = "mlcanary";
  static constexpr const char* kPassword = "canary-secret";

  // initdb + start. Errors name the step and end with the server's log.
  static core::Result<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // pg_ctl stop (fast: sessions are ended) and start again, on the same port.
  core::Status Stop();
  core::Status Restart();

  // CREATE DATABASE `name`; answers its URL.
  core::Result<std::string> CreateDatabase(const std::string& name);
  // postgresql://mlcanary:canary-secret@127.0.0.1:PORT/`database`
  std::string Url(const std::string& database) const;
  // Runs `sql` in `database` as the superuser, on a connection kept for the
  // next call. Not thread-safe (the tests call it from their main thread).
  core::Status Exec(const std::string& database, const std::string& sql);
  int port() const { return port_; }

 private:
  PostgresServer();
  // Runs a PostgreSQL program (as `postgres` when root); its output goes to log_.
  core::Status RunProgram(const std::string& program, const std::vector<std::string>& args);
  std::string LogTail() const;

  TempDir dir_;
  std::string bindir_;
  std::string data_;
  std::string log_;
  bool as_postgres_ = false;
  bool running_ = false;
  int port_ = 0;
  struct Connections;  // Exec's, by database (libpqxx stays in the .cc)
  std::unique_ptr<Connections> connections_;
};

}  // namespace mlcanary::store::testing

#endif  // MLCANARY_STORE_TESTING_POSTGRES_SERVER_H_
