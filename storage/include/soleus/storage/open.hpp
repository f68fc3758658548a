#pragma once
/// Opening the store at startup.
///
/// Principle of operation (open_store):
///  1. If the file exists, open it and run PRAGMA integrity_check (or
///     quick_check). "ok" → go on.
///  2. A file SQLite calls corrupt or not a database (SQLITE_CORRUPT,
///     SQLITE_NOTADB, or a check that reports problems) is closed and moved
///     aside with its -wal and -shm: renamed to "<path>.corrupt-<UTC time>",
///     never deleted, so a technician can still look into it.
///  3. Open (creating if needed) with journal_mode=WAL, then migrate to the
///     newest schema in one transaction.
///  4. Storage faults (cannot open, read-only, full, I/O error) and a schema
///     newer than this build are thrown to the caller, which retries later:
///     they are not corruption and the file is left alone. Nothing here can
///     make the daemon exit in a loop.
#include <optional>
#include <string>

#include "soleus/storage/config.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/schema.hpp"

namespace soleus::storage {

struct OpenResult {
  Database db;
  MigrationResult migration;
  bool created = false;                 ///< the file did not exist (or was moved aside)
  std::optional<std::string> moved_to;  ///< where a corrupt file went
  std::string corruption;               ///< what the check said about it
};

/// See the principle above. Throws SqliteError (storage fault) or
/// std::runtime_error (schema too new, cannot move a corrupt file aside).
OpenResult open_store(const StorageConfig& cfg);

/// Sets the connection's pragmas for the writer (WAL, autocheckpoint).
void configure_connection(Database& db);

/// Renames path, path-wal and path-shm to "<path>.corrupt-YYYYmmddTHHMMSSZ"
/// (with "-2", "-3" ... if taken). Returns the new main path.
std::string move_aside(const std::string& path, std::int64_t now_ms);

}  // namespace soleus::storage
