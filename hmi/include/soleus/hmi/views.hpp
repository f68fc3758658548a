#pragma once
/// One schema (issue 11): one typed view per resource and its one renderer.
/// The REST API, the live WebSocket, soleusd's `--json-lines`, soleusctl's
/// `--json` and the exports (JSON and CSV) all render through these, so a
/// resource (status, live frame, set, rep, event, member, programme, session,
/// diagnostics) has the same field names everywhere (docs/api.md).
///
/// The views live in hmi/ because it depends only on common: soleusd, soleusctl
/// and any other service may link it. The mappings from the controller's and
/// the store's types to these views are in app/ (views_from_controller.cpp,
/// views_from_storage.cpp; the runner's step card in backend.cpp), one
/// function per conversion.
///
/// Renderers: every double is rounded to 3 decimals (as the API always did)
/// and a non-finite one (NaN, ±inf) is written as null: never `nan`. Optional
/// fields are always present, null when absent, so a resource has one field
/// set. Serialise with write_json() (numbers as people write them), not
/// boost::json::serialize ("5E2").
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
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
  std::optional<std::string> range_note{};   ///< as LiveFrame::range_note
  std::optional<double> range_age_days{};    ///< as LiveFrame::range_age_days
};

/// A rep's feedback on the live screen (LiveFrame::last_rep).
struct RepFeedbackView {
  std::int64_t set_id{};
  int seq{};       ///< attempt number within the set
  int n{};         ///< counted-rep number, 0 for a partial
  bool partial{};  ///< not counted: the range was not full
  bool on_tempo{};
  std::string tempo;  ///< on_tempo, too_fast or too_slow (as RepView::tempo)
  double tempo_deviation_s{};
  double rom_pct{};
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
  /// extra (issue 13): the last rep attempt of the running or last set, for
  /// the per-rep feedback (null before the set's first rep ends).
  std::optional<RepFeedbackView> last_rep;
  /// extra: while a dynamic set runs, how it finds the member's range and why
  /// it calibrates (SetView::range_note); null otherwise.
  std::optional<std::string> range_note;
  std::optional<double>
      range_age_days;  ///< extra: the stored range's age, days, if one was offered
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
  /// Addition (issue 13): on_tempo, too_fast or too_slow (app::tempo_verdict).
  std::string tempo = "on_tempo";
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
  /// How the set found the member's range (issue 13): confirmed (the stored
  /// range, confirmed by the light first rep, which counted), or why it
  /// calibrated: no_stored_range, stale, outside_limits, not_confirmed;
  /// checking while (or if the set ended while) the first rep was judged;
  /// null for isometric sets and older rows.
  std::optional<std::string> range_note{};
  std::optional<double> range_age_days{};  ///< the stored range's age when offered, days
  std::optional<double> duration_s{};      ///< known at the set's end (JSON lines)
  std::optional<double> best_output{};     ///< idem (docs/controller.md)
  std::optional<double> last_output{};
  // Additions (issue 13), from the counted reps (app::fatigue_metrics); null
  // without a rep_log or with fewer than 3 counted reps:
  std::optional<double> fatigue_index_pct{};  ///< % drop of mean force, first third → last third
  std::optional<double> decline_n_per_rep{};  ///< −slope of mean force per rep, N/rep (+: falling)
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

/// A member: GET /api/v1/members and /members/{id}, the member export.
struct MemberView {
  std::int64_t id{};
  std::string number;
  std::string name;
  bool has_pin{};  ///< the PIN itself is never rendered
  std::optional<double> assessed_max_n;
  std::optional<std::int64_t> assessed_ms;             ///< when (issue 13)
  std::optional<std::string> assessed_method;          ///< isometric | submaximal | manual
  std::optional<std::int64_t> assessment_assigned_ms;  ///< an assessment is assigned, pending
  std::optional<double> rom_bottom_mm;
  std::optional<double> rom_top_mm;
  std::optional<std::int64_t>
      rom_measured_ms;                       ///< addition (issue 13): when the range was measured
  std::optional<std::int64_t> programme_id;  ///< the current assignment's programme
  std::int64_t created_ms{};                 ///< Unix ms (the export had it; addition to the API)
  bool reassessment_due{};                 ///< issue 13: the block's end passed, no new assessment
  bool flagged{};                          ///< issue 13: flagged for staff (a PAIN stop)
  std::optional<std::string> flag_reason;  ///< "pain"
};

/// A set of a member history entry.
struct HistorySetView {
  std::int64_t set_id{};
  std::string mode;
  double load_n{};
  int reps{};
  double tut_s{};
  std::optional<std::string> stop_reason;
  // Additions (issue 13): the set's summary for the History charts.
  int partial_reps{};
  std::optional<double> on_tempo_pct;  ///< % of the counted reps on tempo; null without reps
  std::optional<std::int64_t> started_ms;
};

/// An entry of GET /api/v1/members/{id}/history: a session, or one set
/// outside a session (free training).
struct HistoryEntryView {
  std::optional<std::int64_t> session_id;
  std::int64_t date_ms{};                    ///< Unix ms of the newest set's start
  std::optional<std::int64_t> programme_id;  ///< a programme session's programme
  std::optional<std::string> programme;      ///< its name (null: a free set)
  std::vector<HistorySetView> sets;
  // Additions (issue 13): the session's summary (the History charts).
  int reps{};                          ///< counted reps over its sets
  double load_x_reps_n{};              ///< Σ load_n × reps over its sets (N)
  double max_load_n{};                 ///< the heaviest set's load
  double tut_s{};                      ///< Σ time under tension
  std::optional<double> on_tempo_pct;  ///< % of its counted reps on tempo; null without reps
};

/// A PAIN or loss-of-control stop of a member's set: GET /members/{id}/events.
struct MemberStopEventView {
  std::int64_t t_ms{};  ///< when the set ended (Unix ms)
  std::int64_t set_id{};
  std::string reason;  ///< pain or loss_of_control
  int rep{};           ///< rep attempts recorded before the stop (the stop came during the next)
  int reps{};          ///< counted reps of the set
  std::optional<std::int64_t> session_id;
};

/// GET /api/v1/sets/{id}/trace: a rep of the stored trace.
struct TraceRepView {
  int seq{};
  int n{};
  bool partial{};
  std::vector<double> t;  ///< s from the rep's start
  std::vector<double> force_n;
  std::vector<double> position_mm;
};

/// GET /api/v1/sets/{id}/trace.
struct SetTraceView {
  std::int64_t set_id{};
  std::vector<TraceRepView> reps;
  std::vector<double> between_t;  ///< s from the set's first sample
  std::vector<double> between_force_n;
  std::vector<double> between_position_mm;
};

/// An assignment of a programme to a member (the member export).
struct AssignmentView {
  std::int64_t id{};
  std::int64_t programme_id{};
  std::string programme;  ///< its name
  std::int64_t started_ms{};
  std::optional<std::int64_t> ended_ms;
};

/// A programme session as stored (the member export's `sessions`).
struct SessionRecordView {
  std::int64_t id{};
  std::int64_t started_ms{};
  std::optional<std::int64_t> ended_ms;
  std::string state;  ///< open, done or aborted
};

/// A step's progression rule.
struct ProgressionView {
  std::string rule = "none";  ///< none, load_n, load_pct, reps, hold_s or double
  double amount{};
  bool on_tempo{};
  std::optional<std::string> increment;  ///< double: load_n or load_pct (else not rendered)
};

/// A programme step (ProgrammeView::steps).
struct StepView {
  std::int64_t step_id{};
  std::string mode;
  int sets{};
  std::optional<int> target_reps;
  std::optional<double> hold_s;
  std::optional<double> load_n;    ///< exactly one of load_n ...
  std::optional<double> load_pct;  ///< ... and load_pct (% of the assessed max)
  std::string tempo;
  double rest_s{};
  double force_drop_pct{};
  double eccentric_pct{};
  std::optional<int> rep_min;  ///< the rep range (double progression); null when none
  std::optional<int> rep_max;
  ProgressionView progression;
};

/// A programme: GET /api/v1/programmes and /programmes/{id}.
struct ProgrammeView {
  std::int64_t id{};
  std::string name;
  std::string description;
  int sessions_per_week{};
  std::optional<int> block_weeks;
  std::optional<int> after_block_sessions_per_week;
  bool block_every_other_day{};  ///< the block plans a session every other day
  std::vector<StepView> steps;
};

/// Sessions planned and done in one week (ScheduleView).
struct WeekCountView {
  std::int64_t week_start_ms{};
  int planned{};
  int done{};
};

/// GET /api/v1/members/{id}/schedule (issue 13 §2).
struct ScheduleView {
  std::optional<std::int64_t> programme_id;
  std::optional<std::string> programme;
  std::optional<std::string> phase;  ///< block | maintenance
  std::optional<int> block_week;
  std::optional<int> block_weeks;
  double sessions_per_week{};
  std::optional<std::int64_t> next_due_ms;
  std::optional<int> next_due_in_days;  ///< addition: 0 today, 1 tomorrow (the daemon's calendar)
  WeekCountView this_week;
  std::vector<WeekCountView> adherence;  ///< oldest first
  bool consecutive_day_note{};
  bool reassessment_due{};
  std::optional<std::int64_t> reassessment_due_ms;
  bool flagged{};
  std::optional<std::string> flag_reason;
};

/// An entry of GET /api/v1/members/{id}/progression: a rule's change.
struct ProgressionChangeView {
  std::int64_t id{};
  std::int64_t t_ms{};
  std::optional<std::int64_t> session_id;
  std::optional<std::int64_t> step_id;
  std::string change;  ///< load_up, target_up, reps_up, hold_up, none or pain
  int level_before{};
  int level_after{};
  std::optional<int> target_before;
  std::optional<int> target_after;
  std::string reason;
};

/// The step card of a programme session: the next set's prescription.
struct StepCardView {
  std::size_t index{};  ///< the step's index in the programme
  std::size_t count{};  ///< the programme's number of steps
  std::int64_t step_id{};
  std::string mode;
  int sets{};
  int set{};  ///< the next set within the step, 1-based
  double load_n{};
  std::string load_basis;  ///< how the load was found, in words
  std::string tempo;
  double rest_s{};
  double force_drop_pct{};
  double eccentric_pct{};
  std::optional<int> target_reps;
  std::optional<double> hold_s;
};

/// A set performed in the open session (SessionView::sets_done).
struct SessionSetView {
  std::int64_t set_id{};
  std::size_t step{};  ///< the step's index
  int set{};           ///< 1-based within the step
  int reps{};
  std::optional<std::string> stop_reason;  ///< null while it runs
};

/// The programme-session card: GET /api/v1/session, POST /session/start.
struct SessionView {
  std::optional<std::int64_t> session_id;  ///< null: no open session
  std::string state;                       ///< not_started, ready, rest, set_running or complete
  std::int64_t programme_id{};
  std::string programme;
  int sessions_per_week{};
  double rest_remaining_s{};
  std::optional<StepCardView> step;  ///< null when complete
  std::vector<SessionSetView> sets_done;
};

/// A step's outcome in a session's end summary.
struct StepOutcomeView {
  std::int64_t step_id{};
  int sets_done{};
  int sets_at_target{};
  bool progressed{};  ///< progression applied by this end
  std::string why;    ///< in words
};

/// A closed session's summary: POST /session/end's `summary`, stored with
/// the session (and returned as stored when it is ended again).
struct SessionSummaryView {
  std::string state;  ///< done or aborted
  std::string why;    ///< what closed it
  std::size_t sets{};
  std::vector<StepOutcomeView> steps;
};

/// The drive's and the load cell's decoded signals (diagnostics' `signals`,
/// rendered with their dotted names, e.g. `drive.position_mm`).
struct SignalsView {
  bool drive_ready{};
  bool drive_enabled{};
  bool drive_fault{};
  bool drive_sto{};
  bool drive_speed_limited{};
  bool drive_torque_limited{};
  int drive_fault_code{};
  double drive_position_mm{};
  double drive_velocity_mm_s{};
  double drive_torque_pct{};
  double drive_force_n{};
  double drive_temperature_c{};
  double drive_bus_voltage_v{};
  double cell_force_n{};
  bool cell_stable{};
  bool cell_overload{};
  bool cell_adc_error{};
  bool cell_tare_busy{};
  std::uint32_t cell_counter{};
  double span_factor{1};  ///< rendered unrounded (a factor like 0.95277)
};

/// The machine I/O's bus statistics (diagnostics' `bus`).
struct BusView {
  std::uint64_t cycles{};
  std::uint64_t transactions{};
  std::uint64_t timeouts{};
  std::uint64_t crc_errors{};
  std::uint64_t drive_errors{};
  std::uint64_t cell_errors{};
  std::uint64_t reconnects{};
  std::uint64_t bytes_tx{};
  std::uint64_t bytes_rx{};
  bool comm_good{};
};

/// The control loop's timing and its losses (diagnostics' `loop`).
struct DiagnosticsLoopView {
  double hz{};             ///< measured (from the median period)
  double configured_hz{};  ///< unrounded
  double p50_ms{};         ///< since start
  double p99_ms{};
  double max_ms{};
  /// Over the recent past: the last `recent_s` seconds (60 to 120 once running).
  double recent_p50_ms{};
  double recent_p99_ms{};
  double recent_max_ms{};
  double recent_s{};
  std::uint64_t overruns{};
  std::uint64_t cycles{};
  std::uint64_t commands_dropped{};
  std::uint64_t trace_dropped{};
  std::uint64_t events_lost{};
  std::uint64_t reps_lost{};
  std::uint64_t results_lost{};
};

/// The store's health: diagnostics' `storage`, soleusd --json-lines' `exit`
/// line's `storage`.
struct StorageHealthView {
  bool ok{};
  bool open{};
  std::string last_error;
  std::uint64_t pending_records{};
  std::uint64_t records_committed{};
  std::uint64_t samples_committed{};  ///< trace samples
  std::uint64_t transactions{};
  std::uint64_t traces_dropped{};
  std::uint64_t records_overflowed{};
  std::uint64_t records_lost{};
  std::uint64_t faults{};
};

/// The machine's odometer (diagnostics' `odometer`).
struct OdometerView {
  std::int64_t reps{};
  std::int64_t sets{};
  double motor_on_h{};
  double highest_force_n{};
  std::int64_t since_ms{};
};

/// A range check's result: POST /maintenance/range-check, diagnostics'
/// `range_check`, the stored calibration row and the event's context.
struct RangeCheckView {
  bool ok{};
  double top_mm{};
  std::optional<double> bottom_mm;  ///< null when the pad did not arrive
  double travel_mm{};
  double expected_bottom_mm{};  ///< rendered in `expected`
  double expected_top_mm{};
  double top_tolerance_mm{};
  double bottom_tolerance_mm{};
  double up_s{};
  double down_s{};
  double peak_motor_force_n{};
  std::string why;
  std::optional<std::int64_t> t_ms;  ///< when it ran (Unix ms); absent from the reply
};

/// GET /api/v1/maintenance/diagnostics (and /api/v1/diagnostics).
struct DiagnosticsView {
  SignalsView signals;
  BusView bus;
  DiagnosticsLoopView loop;
  std::string state;  ///< as StatusView::state
  bool armed{};
  std::optional<StorageHealthView> storage;   ///< null without a store
  std::optional<OdometerView> odometer;       ///< null when it cannot be read
  std::optional<RangeCheckView> range_check;  ///< the last one since start, if any
};

// ---- renderers (hmi/src/views.cpp) -------------------------------------------

boost::json::value to_json(const FaultView& v);
boost::json::value to_json(const LoopView& v);
boost::json::value to_json(const StatusView& v);
boost::json::value to_json(const LiveFrame& v);
boost::json::value to_json(const RepView& v);
boost::json::value to_json(const SetView& v);
boost::json::value to_json(const EventView& v);
boost::json::value to_json(const MemberView& v);
boost::json::value to_json(const HistorySetView& v);
boost::json::value to_json(const HistoryEntryView& v);
boost::json::value to_json(const RepFeedbackView& v);
boost::json::value to_json(const MemberStopEventView& v);
boost::json::value to_json(const TraceRepView& v);
boost::json::value to_json(const SetTraceView& v);
boost::json::value to_json(const AssignmentView& v);
boost::json::value to_json(const SessionRecordView& v);
boost::json::value to_json(const ProgressionView& v);
boost::json::value to_json(const StepView& v);
boost::json::value to_json(const ProgrammeView& v);
boost::json::value to_json(const StepCardView& v);
boost::json::value to_json(const SessionSetView& v);
boost::json::value to_json(const SessionView& v);
boost::json::value to_json(const WeekCountView& v);
boost::json::value to_json(const ScheduleView& v);
boost::json::value to_json(const ProgressionChangeView& v);
boost::json::value to_json(const StepOutcomeView& v);
boost::json::value to_json(const SessionSummaryView& v);
boost::json::value to_json(const SignalsView& v);
boost::json::value to_json(const BusView& v);
boost::json::value to_json(const DiagnosticsLoopView& v);
boost::json::value to_json(const StorageHealthView& v);
boost::json::value to_json(const OdometerView& v);
/// Without `t_ms` when it is unset (the reply to the check itself).
boost::json::value to_json(const RangeCheckView& v);
boost::json::value to_json(const DiagnosticsView& v);
/// A JSON array of the views, each by its renderer.
template <class V>
boost::json::value to_json(const std::vector<V>& views) {
  boost::json::array a;
  a.reserve(views.size());
  for (const auto& v : views) a.push_back(to_json(v));
  return a;
}

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

/// One CSV field, quoted when needed (RFC 4180), and guarded against
/// spreadsheet formula injection: a field that begins with = + - @ tab or CR
/// gets a leading ' (text, never a formula), unless it is a plain number.
std::string csv_field(std::string_view s);
/// "12", "-3.5", "+1e3": a number a spreadsheet reads as a number, nothing else.
bool is_plain_number(std::string_view s);
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
