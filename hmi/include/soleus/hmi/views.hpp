#pragma once
/// One schema (issue 11): one typed view per resource and its one renderer.
/// The REST API, the live WebSocket, soleusd's `--json-lines`, soleusctl's
/// `--json` and the exports (JSON and CSV) all render through these, so a rep,
/// a set or an event has the same field names everywhere (docs/api.md).
///
/// The views live in hmi/ because it depends only on common: soleusd, soleusctl
/// and any other service may link it. The mappings from the controller's and
/// the store's types to these views are in app/ (views_from_controller.cpp,
/// views_from_storage.cpp), one function per conversion.
///
/// Renderers: every double is rounded to 3 decimals (as the API always did)
/// and a non-finite one (NaN, ±inf) is written as null: never `nan`. Optional
/// fields are always present, null when absent, so a resource has one field
/// set. Serialise with write_json() (numbers as people write them), not
/// boost::json::serialize ("5E2").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace soleus::hmi {

/// A latched or active fault, as listed in status and live frames.
struct FaultView {
  std::string code;         ///< stable code, e.g. "drive_fault"
  std::string message;      ///< plain words, with the hint for what to do
  std::int64_t since_ms{};  ///< Unix time (ms) it was raised; rendered as "since"
};

/// Control-loop timing (the status' `loop`).
struct LoopView {
  double hz{};               ///< measured loop rate
  double p99_ms{};           ///< 99th percentile of cycle duration
  std::uint64_t overruns{};  ///< cycles that missed their deadline, since start
  double p50_ms{};           ///< addition: median cycle duration
  double max_ms{};           ///< addition: longest cycle
  std::uint64_t cycles{};    ///< addition: cycles since start
};

/// GET /api/v1/status; soleusd --json-lines' `ready` and `exit` lines.
struct StatusView {
  /// One of idle, ready, calibrating, active, unloading, rest, fault, estop.
  std::string state = "idle";
  double position_mm{};
  double force_n{};
  double load_n{};
  std::optional<std::int64_t> set_id;  ///< the running set, if any
  std::vector<FaultView> faults;
  LoopView loop;
  // Additions (they were in soleusd's JSON lines only before issue 11):
  double velocity_mm_s{};
  std::string phase = "none";  ///< as LiveFrame::phase
  double phase_progress{};
  int reps{};
  double tut_s{};
  std::optional<double> rest_remaining_s{};  ///< as LiveFrame::rest_remaining_s
};

/// One message of the /api/v1/live WebSocket: the control loop's latest sample.
struct LiveFrame {
  std::int64_t t_ms{};  ///< the sample's time, Unix ms (system clock)
  double force_n{};
  double position_mm{};
  double velocity_mm_s{};
  double load_n{};
  std::string state = "idle";  ///< as StatusView::state
  /// none, concentric, top, eccentric, bottom or hold (the controller's names).
  std::string phase = "none";
  double phase_progress{};  ///< 0–1: how far through `phase` the user should be (pacing cue)
  int reps{};
  double tut_s{};
  std::vector<FaultView> faults;
  std::optional<std::int64_t> set_id;     ///< extra: the running set, if any
  std::optional<double> range_bottom_mm;  ///< extra: the calibrated range, when known
  std::optional<double> range_top_mm;
  /// extra: while the user rests mid-set (held at a top or low beyond the
  /// tempo's pause), the seconds left before the set ends (stall); else null.
  std::optional<double> rest_remaining_s;
};

/// One rep attempt: an entry of a set's rep_log (counted reps only there), a
/// `rep` line of soleusd --json-lines (every attempt), a row of the reps export.
struct RepView {
  int n{};  ///< counted-rep number, 0 for a partial
  double peak_force_n{};
  double mean_force_n{};
  double concentric_s{};
  double top_pause_s{};
  double eccentric_s{};
  double bottom_pause_s{};
  double rom_mm{};
  double rom_pct{};
  double mean_velocity_mm_s{};
  double smoothness{};
  bool on_tempo{};
  double tempo_deviation_s{};
  // Additions (issue 11: the JSON lines' and the export's fields):
  std::int64_t set_id{};
  int seq{};        ///< attempt number within the set, counted or not
  bool partial{};   ///< not counted (the JSON lines' `counted` before issue 11, inverted)
  double tut_s{};   ///< the four phases, while loaded
  int reversals{};  ///< direction reversals within the moving phases
  bool wobbly{};
};

/// A set: GET /api/v1/sets/{id}, soleusd --json-lines' `result` line,
/// soleusctl sets --json, the member export.
struct SetView {
  std::int64_t id{};
  std::string state;  ///< calibrating, active, unloading or done
  std::string mode;
  double load_n{};
  std::string tempo;
  int reps{};
  int partial_reps{};
  double tut_s{};
  std::optional<std::string> stop_reason;  ///< null while running (contract list)
  std::vector<RepView> rep_log;            ///< committed, counted reps only
  std::optional<std::int64_t> member_id;   ///< extra: whose set (null for a guest)
  std::optional<int> target_reps;          ///< extra
  std::optional<double> hold_s;            ///< extra
  std::optional<std::int64_t> started_ms;  ///< extra: Unix ms
  // Additions (issue 11: the store's and the JSON lines' fields):
  bool rep_log_known = true;               ///< false: rep_log not read (a listing); rendered null
  std::optional<std::int64_t> ended_ms{};  ///< Unix ms
  std::optional<std::int64_t> session_id{};
  std::optional<double> force_drop_pct{};
  std::optional<double> eccentric_pct{};
  std::optional<double> range_bottom_mm{};  ///< the range the set used
  std::optional<double> range_top_mm{};
  std::optional<bool> range_calibrated{};  ///< measured in this set (not a stored range)
  std::optional<double> duration_s{};      ///< known at the set's end (JSON lines)
  std::optional<double> best_output{};     ///< idem (docs/controller.md)
  std::optional<double> last_output{};
};

/// An event: GET /api/v1/events, soleusd --json-lines' `event` line,
/// soleusctl events --json, the events CSV.
struct EventView {
  std::optional<std::int64_t> id;  ///< null before the store gave it one (JSON lines)
  std::int64_t t_ms{};             ///< Unix ms; also rendered as `time` (ISO 8601 UTC)
  std::string severity;            ///< info, warning or error
  std::string code;
  std::string message;
  std::optional<std::int64_t> set_id;
  std::optional<std::string>
      context{};  ///< addition: JSON text (rendered parsed), e.g. {"value":3}
};

// ---- renderers (hmi/src/views.cpp) -------------------------------------------

boost::json::value to_json(const FaultView& v);
boost::json::value to_json(const LoopView& v);
boost::json::value to_json(const StatusView& v);
boost::json::value to_json(const LiveFrame& v);
boost::json::value to_json(const RepView& v);
boost::json::value to_json(const SetView& v);
boost::json::value to_json(const EventView& v);

/// A number as the renderers write it: rounded to 3 decimals; null if not finite.
boost::json::value number(double v);
boost::json::value number(const std::optional<double>& v);

/// JSON text with numbers as people write them ("500", "12.5"), where
/// boost::json::serialize would write "5E2" and "1.25E1" (Boost 1.81; tests
/// pin it); strings made valid UTF-8 (an invalid byte becomes U+FFFD: error
/// messages quote what a client sent); non-finite numbers as null. The one
/// serializer of the API, the WebSocket, the JSON lines and soleusctl.
std::string write_json(const boost::json::value& v);

// ---- CSV (the exports) ----------------------------------------------------------
// RFC 4180 rows, the columns named as the JSON fields; times as UTC ISO 8601
// (`started_at`, `ended_at`, `time`), booleans 1/0, absent values empty.

/// One CSV field, quoted when needed.
std::string csv_field(std::string_view s);
/// Cells joined by commas (each quoted when needed), ended by CRLF.
std::string csv_line(const std::vector<std::string>& cells);

std::vector<std::string> set_csv_header();
std::vector<std::string> csv_cells(const SetView& v);
std::vector<std::string> rep_csv_header();
std::vector<std::string> csv_cells(const RepView& v);
std::vector<std::string> event_csv_header();
std::vector<std::string> csv_cells(const EventView& v);

/// Header line and one line per view.
std::string sets_csv(const std::vector<SetView>& sets);
std::string reps_csv(const std::vector<RepView>& reps);
std::string events_csv(const std::vector<EventView>& events);

}  // namespace soleus::hmi
