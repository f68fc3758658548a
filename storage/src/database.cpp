#include "soleus/storage/database.hpp"

#include <sqlite3.h>

#include <utility>

namespace soleus::storage {

SqliteError::SqliteError(int code, int extended_code, const std::string& what)
    : std::runtime_error(what), code_(code), extended_code_(extended_code) {}

bool SqliteError::is_storage_fault() const {
  switch (code_) {
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL: return true;
    default: return false;
  }
}

bool SqliteError::is_corruption() const {
  return code_ == SQLITE_CORRUPT || code_ == SQLITE_NOTADB;
}

// ---------------------------------------------------------------------------
Statement::Statement(Database& db, std::string_view sql) : db_(&db) {
  int rc =
      sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, std::string("prepare: ") + std::string(sql.substr(0, 80)));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = std::exchange(o.stmt_, nullptr);
  }
  return *this;
}

namespace {
void check_bind(Database& db, int rc) {
  if (rc != SQLITE_OK) db.fail(rc, "bind");
}
}  // namespace

Statement& Statement::bind(int i, std::int64_t v) {
  check_bind(*db_, sqlite3_bind_int64(stmt_, i, v));
  return *this;
}
Statement& Statement::bind(int i, double v) {
  check_bind(*db_, sqlite3_bind_double(stmt_, i, v));
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  check_bind(*db_,
             sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}
Statement& Statement::bind_blob(int i, std::span<const std::uint8_t> v) {
  check_bind(*db_, sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT));
  return *this;
}
Statement& Statement::bind_null(int i) {
  check_bind(*db_, sqlite3_bind_null(stmt_, i));
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail(rc, std::string("step: ") + sqlite3_sql(stmt_));
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string();
}
std::vector<std::uint8_t> Statement::blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::vector<std::uint8_t>(p, p + n) : std::vector<std::uint8_t>();
}
std::optional<std::int64_t> Statement::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}
std::optional<double> Statement::opt_real(int col) const {
  if (is_null(col)) return std::nullopt;
  return real(col);
}
std::optional<std::string> Statement::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

// ---------------------------------------------------------------------------
Database Database::open(const std::string& path, Access access, const std::string& vfs,
                        int busy_timeout_ms) {
  int flags = SQLITE_OPEN_NOMUTEX;  // one connection per thread
  switch (access) {
    case Access::ReadOnly: flags |= SQLITE_OPEN_READONLY; break;
    case Access::ReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case Access::ReadWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
  }
  Database d;
  d.path_ = path;
  int rc = sqlite3_open_v2(path.c_str(), &d.db_, flags, vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    std::string msg = d.db_ ? sqlite3_errmsg(d.db_) : sqlite3_errstr(rc);
    int ext = d.db_ ? sqlite3_extended_errcode(d.db_) : rc;
    throw SqliteError(rc & 0xff, ext, "open " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(d.db_, 1);
  sqlite3_busy_timeout(d.db_, busy_timeout_ms);
  d.exec("PRAGMA foreign_keys=ON");
  return d;
}

Database::~Database() { close(); }

Database::Database(Database&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    close();
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

void Database::close() {
  if (db_) {
    // sqlite3_close_v2 defers the close until every statement is finalised.
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

void Database::fail(int rc, std::string_view context) const {
  std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  int ext = db_ ? sqlite3_extended_errcode(db_) : rc;
  throw SqliteError(rc & 0xff, ext, std::string(context) + ": " + msg);
}

void Database::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError(rc & 0xff, sqlite3_extended_errcode(db_),
                      "exec " + s.substr(0, 60) + ": " + msg);
  }
}

std::int64_t Database::scalar_int(std::string_view sql) {
  Statement st(*this, sql);
  return st.step() ? st.int64(0) : 0;
}

std::string Database::scalar_text(std::string_view sql) {
  Statement st(*this, sql);
  return st.step() ? st.text(0) : std::string();
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }

// ---------------------------------------------------------------------------
Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (open_ && sqlite3_get_autocommit(db_.handle()) == 0) {
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

}  // namespace soleus::storage
