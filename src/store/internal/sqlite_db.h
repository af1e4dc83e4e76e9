// A thin RAII layer over one SQLite connection for the SQLite store: cached
// prepared statements, transactions that roll back unless committed, and the
// mapping of SQLite result codes to core::Error. Private to src/store/.
#ifndef MLCANARY_STORE_INTERNAL_SQLITE_DB_H_
#define MLCANARY_STORE_INTERNAL_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace mlcanary::store::internal {

// SQLITE_BUSY/LOCKED -> kUnavailable (retryable), constraint violations ->
// kConflict, everything else (corrupt, I/O, not a database, full disk, ...) ->
// kInternal. The message is "<what>: <detail>".
core::Error MapSqliteError(int code, std::string_view detail, std::string_view what);

class Statement;

// One connection. Not thread-safe: the owner serializes calls.
class SqliteDb {
 public:
  // Opens (creating if needed) the database file at `path`.
  static core::Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements that return no rows the caller needs.
  core::Status Exec(const std::string& sql, std::string_view what);
  // A prepared statement for `sql`, compiled once and cached for the life of
  // the connection. At most one Statement per SQL text may be alive at a time.
  core::Result<Statement> Prepare(const std::string& sql, std::string_view what);
  // Rows changed by the last INSERT/UPDATE/DELETE.
  std::int64_t Changes() const;
  // True outside an explicit transaction.
  bool InAutocommit() const;
  void SetBusyTimeout(int milliseconds);
  // The error of the last failed call on this connection.
  core::Error LastError(int code, std::string_view what) const;

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

// A borrowed cached statement, reset (and its bindings cleared) when it goes
// out of scope so that it never holds a read snapshot open.
class Statement {
 public:
  Statement(SqliteDb* db, sqlite3_stmt* stmt, std::string_view what);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Parameters are numbered from 1. A failed bind is reported by the next Step.
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, std::int64_t value);
  Statement& BindNull(int index);

  // true: a row is available; false: done.
  core::Result<bool> Step();
  // Steps to completion, for statements that return no rows.
  core::Status Run();

  // Columns are numbered from 0. Text of a NULL column is empty.
  std::string_view Text(int column) const;
  std::int64_t Int(int column) const;
  bool IsNull(int column) const;

 private:
  void Check(int rc);

  SqliteDb* db_;
  sqlite3_stmt* stmt_;
  std::string what_;
  int bind_rc_ = 0;  // first failed bind, 0 when none
};

// BEGIN [IMMEDIATE] ... COMMIT; rolls back when destroyed uncommitted.
class Transaction {
 public:
  // `immediate` takes the write lock at once (waiting up to the busy timeout),
  // so that a read-then-write transaction never fails half-way with BUSY.
  static core::Result<Transaction> Begin(SqliteDb& db, bool immediate, std::string_view what);
  Transaction(Transaction&& other) noexcept : db_(other.db_), what_(std::move(other.what_)) {
    other.db_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  core::Status Commit();

 private:
  Transaction(SqliteDb* db, std::string_view what) : db_(db), what_(what) {}
  void Rollback();

  SqliteDb* db_;  // null once committed or rolled back
  std::string what_;
};

}  // namespace mlcanary::store::internal

#endif  // MLCANARY_STORE_INTERNAL_SQLITE_DB_H_
