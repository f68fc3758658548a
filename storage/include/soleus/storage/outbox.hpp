#pragma once
/// The fleet's outbox (schema 8, docs/fleet.md "The outbox"): rows waiting to
/// be published to the broker. The writer inserts them in the transaction of
/// the record itself (a set's end, every event) when StorageConfig::outbox is
/// set, adds telemetry rows (Writer::push_telemetry), deletes acknowledged
/// ones (Writer::outbox_ack) and keeps the bounds; readers (app/'s outbox
/// publisher) read it here on their own connection.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"
#include "soleus/storage/queries.hpp"

namespace soleus::storage {

/// One row of table outbox.
struct OutboxRow {
  std::int64_t seq = 0;                ///< publishing order, never reused
  std::string kind;                    ///< "set", "event" or "metrics"
  std::optional<std::int64_t> ref_id;  ///< sets.id / events.id
  std::optional<std::string> payload;  ///< telemetry's JSON
  std::int64_t created_ms = 0;
};

/// Up to `limit` rows with seq > after_seq, oldest first.
std::vector<OutboxRow> read_outbox(Database& db, std::int64_t after_seq, int limit);
/// One event by id (nullopt: no such event, e.g. erased with its member's sets).
std::optional<EventRow> get_event(Database& db, std::int64_t id);

/// The outbox's state, kept by the writer (Writer::outbox_stats()); for
/// /metrics and the diagnostics.
struct OutboxStats {
  bool enabled = false;   ///< [fleet] is configured
  std::int64_t sets = 0;  ///< rows waiting, per kind
  std::int64_t events = 0;
  std::int64_t metrics = 0;
  std::int64_t oldest_ms = 0;           ///< created_ms of the oldest row (0 = empty)
  std::int64_t oldest_record_ms = 0;    ///< of the oldest set or event row (0 = none)
  std::uint64_t telemetry_dropped = 0;  ///< telemetry rows deleted to keep the bounds
  std::uint64_t acknowledged = 0;       ///< rows deleted after the broker's PUBACK
  bool full = false;  ///< sets and events alone exceed a bound: the alarm is raised
  std::int64_t depth() const { return sets + events + metrics; }
};

}  // namespace soleus::storage
