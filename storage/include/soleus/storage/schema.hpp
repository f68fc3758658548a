#pragma once
/// The database schema as numbered migrations. Migration N takes a database
/// at PRAGMA user_version N-1 to N. Migration 1 is the initial schema and is
/// never edited: a change is a new migration, so that a database written by
/// any earlier release can be brought up to date (tests/storage/fixtures
/// holds one database per earlier version).
///
/// Principle of operation (migrate):
///  1. Read PRAGMA user_version: 0 is an empty (new) file.
///  2. A version above the newest this build knows is refused (a newer
///     release wrote it; going on would damage it). Nothing is changed.
///  3. Otherwise BEGIN IMMEDIATE, run every missing migration in order, set
///     user_version, COMMIT: all or nothing, because SQLite's DDL is
///     transactional. A failure rolls back and leaves the old version intact.
#include <string_view>

#include "soleus/storage/database.hpp"

namespace soleus::storage {

/// The newest schema version this build writes.
inline constexpr int kSchemaVersion = 9;

struct MigrationResult {
  int from = 0;  ///< user_version found
  int to = 0;    ///< user_version now
};

/// The SQL of migration `version` (1..kSchemaVersion), commented.
std::string_view migration_sql(int version);

/// Brings `db` to `target` (default the newest). Throws SqliteError on a
/// database failure, std::runtime_error when the file is newer than this
/// build or `target` is out of range.
MigrationResult migrate(Database& db, int target = kSchemaVersion);

/// PRAGMA user_version.
int schema_version(Database& db);

}  // namespace soleus::storage
