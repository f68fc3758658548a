#pragma once
/// Maintenance on a live store: integrity check, online backup, trace
/// retention and the odometer. Safe while the daemon's writer runs: each
/// function uses its own connection (or the one given), and WAL lets a
/// reader copy or check a consistent snapshot while the writer goes on.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"

namespace soleus::storage {

struct IntegrityReport {
  bool ok = false;
  std::vector<std::string> problems;  ///< the check's lines ("ok" alone when healthy)
};

/// PRAGMA integrity_check (quick_check when `quick`) on the file at `path`,
/// opened read-only. A file SQLite cannot read reports the error as a problem.
IntegrityReport check_integrity(const std::string& path, bool quick = false);
IntegrityReport check_integrity(Database& db, bool quick = false);

struct BackupReport {
  std::int64_t pages = 0;
  std::int64_t bytes = 0;
  IntegrityReport check;  ///< of the copy
};

/// Copies the database at `source` to `dest` with SQLite's online backup API.
///
/// Principle of operation:
///  1. Open the source read-only and the destination (a new file, or an
///     existing one that is overwritten) through the default VFS.
///  2. sqlite3_backup_step(-1): the whole copy in one step, inside one read
///     transaction. In WAL mode that read does not block the writer, and the
///     copy is the snapshot at its start: a consistent database even while
///     reps are being written. (Copying in small steps would restart every
///     time the writer commits, possibly forever.)
///  3. Set the copy's journal mode to DELETE so it is one self-contained file,
///     then run integrity_check on it and report.
/// Throws SqliteError on failure; `dest` is then incomplete and should be removed.
BackupReport backup_database(const std::string& source, const std::string& dest);

/// Deletes rep traces written before `older_than_ms`, at most `max_rows` in
/// batches of 2000 (short transactions, so the writer is never held long).
/// Returns the number of rows deleted. Events, sets and reps are kept.
std::int64_t purge_traces(Database& db, std::int64_t older_than_ms, std::int64_t max_rows);

struct Odometer {
  std::int64_t reps = 0;
  std::int64_t sets = 0;
  double motor_on_s = 0;
  double highest_force_n = 0;
  std::int64_t since_ms = 0;
  std::map<std::string, std::int64_t> faults;  ///< count per event code (severity error)
};
Odometer read_odometer(Database& db);

/// Size of the database in bytes (page_count × page_size) and of its WAL file.
struct DbSize {
  std::int64_t db_bytes = 0;
  std::int64_t wal_bytes = 0;
};
DbSize database_size(const std::string& path);

}  // namespace soleus::storage
