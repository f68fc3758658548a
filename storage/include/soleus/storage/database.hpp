#pragma once
/// A thin, typed edge around the SQLite C API (in the manner of the libmodbus
/// rule: wrap the C library once, at the edge). One Database is one
/// connection and belongs to one thread at a time; open one per thread (the
/// writer has its own, the API and soleusctl theirs). WAL lets readers run
/// while the writer writes.
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace soleus::storage {

/// An SQLite failure: the primary and extended result codes and the message.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, int extended_code, const std::string& what);
  int code() const { return code_; }                    ///< primary code, e.g. SQLITE_FULL
  int extended_code() const { return extended_code_; }  ///< e.g. SQLITE_IOERR_WRITE
  /// True for the codes that mean "the disk cannot take writes now" (full,
  /// read-only, I/O error, cannot open): the writer's fault state, not a bug.
  bool is_storage_fault() const;
  /// True for "this file is not a (healthy) database" (SQLITE_CORRUPT, SQLITE_NOTADB).
  bool is_corruption() const;

 private:
  int code_;
  int extended_code_;
};

class Database;

/// A prepared statement. Bind parameters are 1-based, columns 0-based.
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&& o) noexcept;

  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, double v);
  Statement& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  /// Text is copied (SQLITE_TRANSIENT).
  Statement& bind(int i, std::string_view v);
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind_blob(int i, std::span<const std::uint8_t> v);
  Statement& bind_null(int i);
  template <class T>
  Statement& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  /// Runs one step: true when a row is available, false when done. Throws SqliteError.
  bool step();
  /// Steps to completion (for statements that return no rows).
  void run();
  void reset();

  bool is_null(int col) const;
  std::int64_t int64(int col) const;
  int int32(int col) const { return static_cast<int>(int64(col)); }
  double real(int col) const;
  std::string text(int col) const;
  std::vector<std::uint8_t> blob(int col) const;
  std::optional<std::int64_t> opt_int64(int col) const;
  std::optional<double> opt_real(int col) const;
  std::optional<std::string> opt_text(int col) const;

  sqlite3_stmt* handle() const { return stmt_; }

 private:
  Database* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// One SQLite connection.
class Database {
 public:
  enum class Access { ReadOnly, ReadWrite, ReadWriteCreate };

  /// Opens `path`. `vfs` names a registered VFS (the tests' fault shim), or
  /// empty for the default. Sets busy_timeout and foreign_keys=ON. Throws SqliteError.
  static Database open(const std::string& path, Access access = Access::ReadWriteCreate,
                       const std::string& vfs = {}, int busy_timeout_ms = 5000);

  Database() = default;
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  Database(Database&& o) noexcept;
  Database& operator=(Database&& o) noexcept;

  bool is_open() const { return db_ != nullptr; }
  void close();
  /// Runs one or more statements that return no rows. Throws SqliteError.
  void exec(std::string_view sql);
  Statement prepare(std::string_view sql) { return Statement(*this, sql); }
  /// The first column of the first row of a query, as an integer (0 if no row).
  std::int64_t scalar_int(std::string_view sql);
  std::string scalar_text(std::string_view sql);
  std::int64_t last_insert_rowid() const;
  int changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  /// Throws the SqliteError for `rc` with this connection's message.
  [[noreturn]] void fail(int rc, std::string_view context) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

/// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed without commit().
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace soleus::storage
