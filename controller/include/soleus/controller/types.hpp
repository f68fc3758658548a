#pragma once
/// Vocabulary of the controller: set states, stop reasons, modes, phases, a
/// set's parameters, per-rep metrics and events. The names returned by
/// to_string() are the API contract of issue 5 (GET /api/v1/status,
/// GET /api/v1/sets/{id}); do not rename them.
///
/// Everything here is a fixed-size, trivially copyable value so that it can
/// cross the control loop's queues without allocating.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace soleus::controller {

/// The machine's state (the API's `state`).
enum class SetState {
  Idle,         ///< drive disabled, no set, nothing latched
  Ready,        ///< a set was accepted: drive enabling, load ramping in
  Calibrating,  ///< the light, uncounted calibration rep that finds the user's range
  Active,       ///< training: reps are counted (or the hold is timed)
  Unloading,    ///< the one controlled stop: load ramps to zero, drive still enabled
  Rest,         ///< a set has ended and the drive is disabled; the next set may start
  Fault,        ///< a latched fault; needs a reset with the cause gone
  Estop,        ///< STO (e-stop) seen; latched until a reset with STO released
};

/// Why a set ended (the API's `stop_reason`).
enum class StopReason {
  None,
  TargetReached,
  HoldComplete,
  ForceDrop,
  RangeLoss,
  PaceLoss,
  Stall,
  LossOfControl,
  UserStop,
  Pain,
  UserLeft,
  Estop,
  DriveFault,
  CommLoss,
  SensorFault,
  Overspeed,
  TravelLimit,
  StorageFault,
  Shutdown,
};

enum class Mode { Isotonic, Eccentric, Isometric };

/// The phase of a rep. A rep is bottom → top → bottom: Concentric (rising),
/// TopPause, Eccentric (lowering), BottomPause.
enum class Phase { None, Concentric, TopPause, Eccentric, BottomPause, Hold };

const char* to_string(SetState s);
const char* to_string(StopReason r);
const char* to_string(Mode m);
const char* to_string(Phase p);
bool parse_mode(std::string_view text, Mode& out);
bool parse_stop_reason(std::string_view text, StopReason& out);

/// True for the reasons that remove torque at once instead of ramping (STO,
/// drive fault). Everything else goes through the controlled unload.
bool is_immediate(StopReason r);

/// E-B-C-T seconds: eccentric, bottom pause, concentric, top pause (the
/// usual order of a tempo string; a rep runs C, T, E, B).
struct Tempo {
  double eccentric_s = 3;
  double bottom_s = 1;
  double concentric_s = 3;
  double top_s = 1;
  double cycle_s() const { return eccentric_s + bottom_s + concentric_s + top_s; }
  /// Parses "3-1-3-1" or "2.5-0-2-1" by the one tempo grammar
  /// (soleus::common::parse_tempo, which also says why a text is refused).
  static std::optional<Tempo> parse(std::string_view text);
  std::string to_string() const;
};

/// A user's range of motion, pad heights in mm.
struct Range {
  double bottom_mm = 0;
  double top_mm = 0;
  double span() const { return top_mm - bottom_mm; }
};

/// How a set found the member's range, and why it calibrated (the set's
/// view `range_note`, the live status, the `stored_range` event).
enum class RangeNote {
  None,           ///< isometric, or not decided yet
  Checking,       ///< a stored range: the light first rep is checking it
  Confirmed,      ///< the first rep confirmed the stored range, and counted
  NoStoredRange,  ///< calibrated: no stored range (a guest, or never calibrated)
  Stale,          ///< calibrated: the stored range is older than the limit
  OutsideLimits,  ///< calibrated: the stored range lies outside the soft limits
  NotConfirmed,   ///< calibrated from the first rep: it did not confirm the stored range
};
const char* to_string(RangeNote n);

/// A validation failure: the field and what is wrong (the API's 422 body).
struct FieldError {
  std::string field;
  std::string message;
};

/// A set's parameters as asked for (POST /api/v1/sets). Validated again by
/// the controller (SetParams::validate) before anything moves.
struct SetParams {
  Mode mode = Mode::Isotonic;
  double load_n = 0;           ///< the load; for isometric, the force limit of the hold
  Tempo tempo;                 ///< pacing; concentric_s = 0 means "free", no pacing brake
  int target_reps = 0;         ///< 1–100 (isotonic, eccentric); 0 for isometric
  double hold_s = 0;           ///< isometric hold time, s (0 otherwise)
  double force_drop_pct = 20;  ///< 5–50
  double eccentric_pct = 0;    ///< 0–100: extra load while lowering (eccentric mode)
  std::optional<std::int64_t> member_id;
  /// A member's stored range. The first rep still runs at the light
  /// calibration load; it counts when it confirms this range, else the set
  /// calibrates from it (SetController, principle of operation 4). Ignored
  /// when older than training.stored_range_max_age_days or outside the soft
  /// limits (the set calibrates and says why).
  std::optional<Range> range;
  /// The stored range's age when the set starts, days (the app: now − the
  /// member's rom_measured_ms). Only read with `range`.
  double range_age_days = 0;
  /// Isometric: the height to hold; default the height when the hold starts.
  std::optional<double> hold_height_mm;
  /// Caller's id for this set (the database row); echoed in every output.
  std::int64_t set_id = 0;
};

/// One rep attempt, with issue 5's rep_log fields. Partial reps are logged
/// with counted = false and n = 0; counted reps are numbered n = 1, 2, ...
struct RepRecord {
  std::int64_t set_id = 0;
  int seq = 0;  ///< attempt number within the set, counted or not (1, 2, ...)
  int n = 0;    ///< counted-rep number, 0 for a partial
  bool counted = false;
  double t_start_s = 0;  ///< loop time when the concentric began
  double peak_force_n = 0;
  double mean_force_n = 0;  ///< mean concentric force (load cell)
  double concentric_s = 0;
  double top_pause_s = 0;
  double eccentric_s = 0;
  double bottom_pause_s = 0;
  double rom_mm = 0;              ///< the smaller of rise and return, mm
  double rom_pct = 0;             ///< rom_mm as % of the calibrated range
  double mean_velocity_mm_s = 0;  ///< mean concentric velocity
  double smoothness = 1;          ///< net / travelled distance over both moving phases, 0–1
  int reversals = 0;              ///< direction reversals within the moving phases
  bool wobbly = false;
  bool on_tempo = true;
  double tempo_deviation_s = 0;  ///< the phase deviation of largest magnitude, signed
  double tut_s = 0;              ///< the four phases, while loaded
};

/// The result of a finished set.
struct SetResult {
  std::int64_t set_id = 0;
  Mode mode = Mode::Isotonic;
  StopReason reason = StopReason::None;
  int reps = 0;
  int partial_reps = 0;
  double tut_s = 0;
  double t_start_s = 0;
  double t_end_s = 0;
  double best_output = 0;  ///< best rep's output (see docs/controller.md)
  double last_output = 0;
  Range range;
  bool range_calibrated = false;           ///< measured in this set (not a stored range)
  RangeNote range_note = RangeNote::None;  ///< how the set found its range, and why
  double range_age_days = -1;              ///< the stored range's age (-1: none offered)
  /// A good calibration: save this range as the member's (measured in this
  /// set, within the soft limits, spanning at least min_range_mm, and the set
  /// did not end by PAIN, loss of control, a fault or the e-stop).
  bool range_save = false;
  // Isometric holds (the strength assessment's maximal pushes, docs/assessment.md):
  double hold_mm = 0;       ///< the height held
  double peak_force_n = 0;  ///< the largest load-cell force, averaged over 0.1 s, in the hold
  /// The member reached or out-pushed the hold's force limit: the peak came
  /// within kBeyondRangeFraction of it, or the pad rose more than
  /// kBeyondRangeRiseMm above the hold height with the cell at ≥ 90 % of it.
  /// peak_force_n is then only a lower bound ("≥ max load").
  bool beyond_range = false;
};

/// A hold's peak at or above this fraction of its force limit cannot be told
/// from the limit itself: it counts as beyond the machine's range.
inline constexpr double kBeyondRangeFraction = 0.97;
/// A hold pushed this far above its height with the cell near its limit is
/// out-pushed. (The hold is compliant: a 1700 N push against an 1800 N limit
/// holds ~20 mm above the height on the reference machine.)
inline constexpr double kBeyondRangeRiseMm = 25.0;

enum class Severity { Info, Warning, Error };

/// What an event is about. Codes are stable strings (to_string) for the log.
enum class EventCode {
  Boot,
  Armed,
  ArmFailed,
  Reset,
  ResetRefused,
  SetStarted,
  SetRefused,
  Calibrated,
  CalibrationRetry,
  StopRequested,
  SetEnded,
  Unloaded,
  Sto,
  DriveFault,
  CommLoss,
  CommGlitch,
  StaleLoadCell,
  AdcError,
  Overload,
  Implausible,
  Overspeed,
  TravelLimit,
  CrossCheck,
  UserLeft,
  Tared,
  TareFailed,
  CommandRefused,
  MoveStarted,
  MoveEnded,
  QueueOverflow,
  Overrun,
  Disarmed,         ///< the drive is no longer known armed (fault, not READY, answer gap, read-back
                    ///< differs)
  SensorRecovered,  ///< a sensor condition seen at rest (not latched) cleared itself
  OverForce,        ///< the load cell read beyond over_force_factor × max load, pad not rising
  InternalError,    ///< an exception escaped the control loop: QUICK_STOP, restart needed
  FloorCatch,  ///< the pad fell into the floor under load: torque removed at once, the set goes on
  ProcedureStarted,  ///< a maintenance procedure (range check, span sampling) began; value = its id
  ProcedureEnded,    ///< ... ended or was refused; value = its id; the result is in the snapshot
  StoredRange,       ///< how the set finds the range (RangeNote) and why; value = the age, days
};
const char* to_string(EventCode c);
const char* to_string(Severity s);

/// An event for the log. Fixed size: the text is truncated to fit.
struct Event {
  double t_s = 0;
  Severity severity = Severity::Info;
  EventCode code = EventCode::Boot;
  std::int64_t set_id = 0;
  double value = 0;  ///< a number that goes with the code (fault code, force, ...)
  std::array<char, 112> text{};
  void set_text(std::string_view s);
  std::string_view text_view() const;
};

}  // namespace soleus::controller
