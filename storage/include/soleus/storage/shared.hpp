#pragma once
/// The store's side of the shared records and the sets from other machines
/// (issue 14 §2, docs/fleet.md "Shared records", "Catch-up"; schema 9).
///
/// Principle of operation:
///  1. Members, programmes (with their steps), assignments, each
///     assignment's progression (step levels and targets), assessments and
///     staff accounts are records with a uid. Migration 9's triggers give
///     every local edit, whichever storage function makes it, a new version
///     (a hybrid logical clock value, fleet/hlc.hpp, and this machine's name)
///     and mark the record pending, in the edit's own transaction.
///  2. pending_records() renders each pending record's data as JSON (by
///     uid: an assignment names its member and programme by uid), and
///     mark_published() clears the mark once the broker has the version.
///  3. apply_record() takes a record from another machine: the newer
///     version wins (HLC, then machine name); a concurrent edit that loses,
///     local or remote, is written to the audit trail with its values. A
///     record that refers to one not yet here is parked and applied when
///     that one arrives. A tombstone erases.
///  4. Sets: set_data() renders a set done here (with its reps, the member,
///     session, programme and step by uid); import_set() stores one from
///     another machine once, with its origin, so that the member's history
///     shows it unchanged.
///
/// No function here opens a transaction when its name says "in": the caller
/// (app/'s participant) runs each message in one transaction.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"

namespace soleus::storage::shared {

/// One shared record with its version. `data` is a JSON object ("{}" for a tombstone).
struct Record {
  std::string kind;  ///< member | programme | assignment | progression | assessment | staff
  std::string uid;
  std::int64_t hlc = 0;
  std::string machine;
  std::optional<std::int64_t> base_hlc;  ///< the version the edit was based on, if known
  std::optional<std::string> base_machine;
  bool deleted = false;
  std::string data = "{}";
};

/// Names this machine (fleet_state.machine) and claims the versions written
/// before it had a name (machine '').
void set_machine(Database& db, const std::string& machine);
/// The clock's last value (packed HLC).
std::int64_t clock(Database& db);

/// Up to `max` pending records, oldest version first, with their data.
/// Each version rendered is remembered as seen: its echo is no news.
std::vector<Record> pending_records(Database& db, std::size_t max);
/// The broker has `kind`/`uid` at version `hlc`: no longer pending, unless
/// a newer local edit came since.
void mark_published(Database& db, const std::string& kind, const std::string& uid,
                    std::int64_t hlc);
/// The record as stored here (version and data), if known.
std::optional<Record> local_record(Database& db, const std::string& kind, const std::string& uid);

/// Where an imported set's id comes from. In soleusd it is the writer's
/// Writer::allocate_set_id, the one source of set ids (the control loop
/// takes an id from it without asking the store, and the set's row follows
/// later): an id taken here from the table's next rowid could be the one the
/// loop just took, and the writer's row would land on the imported set.
/// Empty: the table's next rowid, for a store no writer serves. 0 returned
/// (the writer is not open): the set is parked until it is.
using SetIdSource = std::function<std::int64_t()>;

enum class Outcome { Applied, Older, Duplicate, Parked, Refused };
struct ApplyResult {
  Outcome outcome = Outcome::Refused;
  std::string why;        ///< for Parked and Refused, and a conflict's note
  bool conflict = false;  ///< a concurrent edit lost (audited)
};

/// Applies a remote record in one transaction; `clock_after` is the clock's
/// value after receiving it (fleet::HlcClock::receive). Also retries the
/// records parked for it.
ApplyResult apply_record(Database& db, const Record& r, std::int64_t clock_after,
                         const SetIdSource& set_ids = {});

/// Tries the parked records and sets again (after a local edit that may
/// have lifted what refused them); returns how many still wait.
std::size_t retry_parked_records(Database& db, const SetIdSource& set_ids = {});

/// The data of set `set_id` done on this machine (JSON object: "set",
/// "reps", "member", "session", "programme", "step_position"); nullopt for a
/// guest's set, a set from another machine, or no such set.
std::optional<std::string> set_data(Database& db, std::int64_t set_id);
/// Ids of this machine's own member sets (ended) after `after_id`, oldest first.
std::vector<std::int64_t> own_sets_after(Database& db, std::int64_t after_id, std::size_t max);
/// Stores a set of machine `origin` (its id there `origin_id`), once.
ApplyResult import_set(Database& db, const std::string& origin, std::int64_t origin_id,
                       const std::string& data, const SetIdSource& set_ids = {});

/// How far each peer's sets are caught up (fleet_peers).
std::map<std::string, std::int64_t> peer_watermarks(Database& db);
/// Raises `machine`'s watermark to `upto` (never lowers it).
void raise_peer_watermark(Database& db, const std::string& machine, std::int64_t upto);

}  // namespace soleus::storage::shared

namespace soleus::storage::shared {
/// SQLite's JSON1 on a text (the records' data keep SQLite's own rendering,
/// so that a record read back compares equal): json_extract(json, path) as
/// JSON or text, nullopt for null or absent.
std::optional<std::string> json_get(Database& db, const std::string& json, const char* path);
/// json_set(json, path, value) with `value` a text (nullopt: null).
std::string json_put(Database& db, const std::string& json, const char* path,
                     const std::optional<std::string>& value);
}  // namespace soleus::storage::shared
