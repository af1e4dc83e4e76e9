// SQLite connection, statement and transaction wrappers.
#include "store/internal/sqlite_db.h"

#include <sqlite3.h>

#include <utility>

namespace mlcanary::store::internal {

core::Error MapSqliteError(int code, std::string_view detail, std::string_view what) {
  std::string message = std::string(what) + ": " + std::string(detail);
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return core::Error(core::ErrorCode::kUnavailable, std::move(message));
    case SQLITE_CONSTRAINT:
      return core::Error(core::ErrorCode::kConflict, std::move(message));
    default:
      return core::Error(core::ErrorCode::kInternal, std::move(message));
  }
}

core::Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: the owner serializes every call on this connection.
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return std::unexpected(MapSqliteError(rc, detail, "open"));
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db));
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

core::Status SqliteDb::Exec(const std::string& sql, std::string_view what) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return std::unexpected(MapSqliteError(rc, detail, what));
  }
  return core::Ok();
}

core::Result<Statement> SqliteDb::Prepare(const std::string& sql, std::string_view what) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()) + 1,
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(LastError(rc, what));
    it = statements_.emplace(sql, stmt).first;
  }
  return Statement(this, it->second, what);
}

std::int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

bool SqliteDb::InAutocommit() const { return sqlite3_get_autocommit(db_) != 0; }

void SqliteDb::SetBusyTimeout(int milliseconds) { sqlite3_busy_timeout(db_, milliseconds); }

core::Error SqliteDb::LastError(int code, std::string_view what) const {
  return MapSqliteError(code, sqlite3_errmsg(db_), what);
}

Statement::Statement(SqliteDb* db, sqlite3_stmt* stmt, std::string_view what)
    : db_(db), stmt_(stmt), what_(what) {}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), what_(std::move(other.what_)), bind_rc_(other.bind_rc_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::Check(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == 0) bind_rc_ = rc;
}

Statement& Statement::Bind(int index, std::string_view text) {
  Check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::Bind(int index, std::int64_t value) {
  Check(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::BindNull(int index) {
  Check(sqlite3_bind_null(stmt_, index));
  return *this;
}

core::Result<bool> Statement::Step() {
  if (bind_rc_ != 0) return std::unexpected(db_->LastError(bind_rc_, what_));
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(db_->LastError(rc, what_));
}

core::Status Statement::Run() {
  while (true) {
    auto row = Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return core::Ok();
  }
}

std::string_view Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

core::Result<Transaction> Transaction::Begin(SqliteDb& db, bool immediate, std::string_view what) {
  if (auto s = db.Exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN", what); !s) {
    return std::unexpected(s.error());
  }
  return Transaction(&db, what);
}

Transaction::~Transaction() {
  if (db_ != nullptr) Rollback();
}

void Transaction::Rollback() {
  // A failed COMMIT or a statement error may already have ended the
  // transaction; ROLLBACK outside one would only report that.
  if (!db_->InAutocommit()) (void)db_->Exec("ROLLBACK", what_);
  db_ = nullptr;
}

core::Status Transaction::Commit() {
  auto s = db_->Exec("COMMIT", what_);
  if (!s) {
    Rollback();
    return s;
  }
  db_ = nullptr;
  return core::Ok();
}

}  // namespace mlcanary::store::internal
