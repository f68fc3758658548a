#pragma once
/// Reading the store: the event log with filters and paging, sets by member
/// and date, a set's reps (the API's rep_log) and traces, as rows. Storage
/// renders nothing: app/ maps rows to hmi's views (views_from_storage.hpp)
/// and hmi renders them (one schema, issue 11). Every function takes the caller's
/// own connection (open one per thread, read-only is enough). What they
/// return is committed data only: a rep shows here once the writer committed it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"
#include "soleus/storage/records.hpp"
#include "soleus/storage/trace_codec.hpp"

namespace soleus::storage {

// ---- events ----------------------------------------------------------------

/// Where a page ended: pass it back as `before` for the next (older) page.
struct EventCursor {
  std::int64_t t_ms = 0;
  std::int64_t id = 0;
};

struct EventFilter {
  std::optional<std::int64_t> since_ms;  ///< t_ms >= since
  std::optional<std::int64_t> until_ms;  ///< t_ms < until
  std::optional<Severity> min_severity;  ///< this severity and worse
  std::optional<std::string> code;       ///< exactly this code
  std::optional<std::int64_t> set_id;
  std::optional<EventCursor> before;  ///< paging: rows older than this
  int limit = 50;                     ///< 1..1000
  /// Paging by id alone (the API's `before`: the previous page's last id);
  /// its time is looked up, then it acts as `before`. Ignored when `before` is set.
  std::optional<std::int64_t> before_id;
  int offset = 0;  ///< offset paging (0..100000): costs O(offset)
};

struct EventRow {
  std::int64_t id = 0;
  std::int64_t t_ms = 0;
  Severity severity = Severity::Info;
  std::string code;
  std::string message;
  std::optional<std::int64_t> set_id;
  std::optional<std::string> context;  ///< JSON text
};

struct EventPage {
  std::vector<EventRow> rows;       ///< newest first
  std::optional<EventCursor> next;  ///< set when there may be older rows
};

/// Keyset paging, newest first: ORDER BY t_ms DESC, id DESC with
/// "(t_ms, id) < cursor", so page 1000 costs what page 1 costs. Indexed on
/// time, on (code, time) and on (severity, time). Throws SqliteError;
/// std::invalid_argument for a limit out of range.
EventPage query_events(Database& db, const EventFilter& f);
/// How many events match (ignores paging). O(matching rows) on an index:
/// ~30 ms for 1 000 000 rows unfiltered; use it only when asked.
std::int64_t count_events(Database& db, const EventFilter& f);
/// The EXPLAIN QUERY PLAN lines of the query query_events() would run.
std::vector<std::string> explain_events_query(Database& db, const EventFilter& f);

// ---- sets and reps -----------------------------------------------------------

/// A stored rep reads back as the record that was written (records.hpp).
using RepRow = RepRecord;

struct SetRow {
  std::int64_t id = 0;
  std::optional<std::int64_t> session_id, member_id, step_id;
  std::optional<int> set_index;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> ended_ms;
  std::string mode, tempo;
  double load_n = 0;
  std::optional<int> target_reps;
  std::optional<double> hold_s, force_drop_pct, eccentric_pct;
  std::optional<std::string> stop_reason;  ///< null while running
  int reps = 0, partial_reps = 0;
  double tut_s = 0;
  std::optional<double> range_bottom_mm, range_top_mm;
  bool range_calibrated = false;
  /// How the set found its range, and why it calibrated (migration 8; null:
  /// isometric or older rows), and the stored range's age when offered.
  std::optional<std::string> range_note;
  std::optional<double> range_age_days;
};

struct SetFilter {
  std::optional<std::int64_t> member_id;
  std::optional<std::int64_t> from_ms;    ///< started_ms >= from
  std::optional<std::int64_t> to_ms;      ///< started_ms < to
  std::optional<std::int64_t> before_id;  ///< paging: sets with a smaller id
  int limit = 100;                        ///< 1..100000
  std::vector<std::string> stop_reasons;  ///< only sets that ended so; empty = any
};

/// Newest first. Indexed by (member_id, started_ms) and (started_ms).
std::vector<SetRow> query_sets(Database& db, const SetFilter& f);
std::optional<SetRow> get_set(Database& db, std::int64_t set_id);
/// Every committed rep attempt of the set, in order (partials included).
std::vector<RepRow> get_reps(Database& db, std::int64_t set_id);

/// The trace samples of one rep (its chunks, cut to the rep's time span);
/// empty when none were kept (dropped, or deleted by retention).
std::vector<TracePoint> get_rep_trace(Database& db, std::int64_t set_id, int seq);
/// Every trace sample of a set, in time order.
std::vector<TracePoint> get_set_trace(Database& db, std::int64_t set_id);

/// A set's trace split per rep attempt (GET /api/v1/sets/{id}/trace).
struct SplitTrace {
  struct Rep {
    int seq = 0;           ///< attempt number
    int n = 0;             ///< counted-rep number, 0 for a partial
    bool partial = false;  ///< not counted
    double t_start_s = 0;  ///< loop time of the rep's start: points' t_s are relative to it
    std::vector<TracePoint> points;
  };
  std::vector<Rep> reps;            ///< every rep attempt, in order (even one with no samples)
  std::vector<TracePoint> between;  ///< samples in no rep: t_s relative to `t0_s`
  double t0_s = 0;                  ///< loop time of the set's first sample (0 when none)
};
/// Pure: each sample goes to the rep whose [t_start_s, t_end_s) holds it (a
/// sample at the last rep's very end to that rep), the others to `between`;
/// every time is made relative (a rep's to its start, between's to the first
/// sample). `points` in time order; `reps` in seq order.
SplitTrace split_trace(const std::vector<TracePoint>& points, const std::vector<RepRow>& reps);
/// The stored trace of a set (its chunks found by their t0/t1) split by its
/// stored reps.
SplitTrace get_split_trace(Database& db, std::int64_t set_id);

}  // namespace soleus::storage
