#pragma once
/// The store's configuration: the [storage] section. Each field's comment names
/// its key; docs/storage.md documents every key with its default and range.
#include <cstdint>
#include <string>

#include "soleus/common/config_reader.hpp"

namespace soleus::storage {

/// [storage]
struct StorageConfig {
  std::string db_path = "/var/lib/soleus/soleus.db";  ///< db_path: the database file
  int trace_retention_days =
      90;  ///< trace_retention_days: rep traces older than this are deleted; 0 = keep
  int trace_queue = 8192;   ///< trace_queue: trace samples the writer's queue holds (dropped first)
  int record_queue = 2048;  ///< record_queue: events, sets, reps, sessions the queue holds
  int overflow_records = 100000;  ///< overflow_records: records kept in memory beyond record_queue
  int flush_ms = 100;             ///< flush_ms: the writer commits at least this often
  int batch_items = 500;          ///< batch_items: most records in one transaction
  int retry_ms = 2000;            ///< retry_ms: retry period while storage is faulted
  int busy_timeout_ms = 5000;     ///< busy_timeout_ms: wait this long for another connection's lock
  bool quick_check = false;  ///< quick_check: startup runs quick_check instead of integrity_check
  /// Not TOML keys: set by app/ from [fleet] (docs/fleet.md, "The outbox").
  /// With `outbox`, every event and every set's end gets an outbox row in
  /// the transaction that writes it; without, the outbox stays empty.
  bool outbox = false;
  std::int64_t outbox_max_rows = 100000;  ///< [fleet] outbox_max_rows
  int outbox_max_age_days = 30;           ///< [fleet] outbox_max_age_days
  /// Not a TOML key: the name of a registered VFS (the tests' fault shim); empty = default.
  std::string vfs;

  /// Reads the [storage] section (every key optional), refuses unknown keys
  /// and runs validate(); errors name file, line and key.
  static StorageConfig parse(const config::Section& s);
  /// Cross-field rules. Throws std::invalid_argument("key: message").
  void validate() const;
};

}  // namespace soleus::storage
