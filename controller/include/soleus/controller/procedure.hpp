#pragma once
/// Maintenance procedures as controller activities: the range check and the
/// sampling of a span calibration, run by the control loop cycle by cycle.
///
/// Principle of operation:
///  1. A procedure starts from a loop command (Command::Kind::StartRangeCheck,
///     StartSpanSampling) carrying the caller's id. It is refused at once
///     (ended with outcome Refused and the reason) unless the machine is idle:
///     no set, no move, nothing latched, and for a range check the load cell
///     reading the machine empty and the pad still.
///  2. Every cycle, after SetController::update, Procedures::update judges the
///     cycle's inputs and the controller's status and asks the controller for
///     what the procedure needs next: a range check refreshes hold-to-move
///     towards the top soft limit, then the bottom one (the move's speed and
///     force limits are the controller's), and finally asks for
///     return-to-rest, or for the controlled stop when it failed. A span
///     sampling only reads: it averages the load cell's fresh readings,
///     without the span factor in use, for its duration.
///  3. Every safety path stays the controller's: a supervisor trip stops the
///     move (or removes torque) as for any move; STOP (Command Stop) and
///     shutdown stop the move and abort the procedure, which then never moves
///     the pad again. A procedure whose leg failed waits until the drive is
///     disabled (or a fault shows) before it reports.
///  4. While a procedure runs the loop refuses starts, moves, return-to-rest,
///     tare and clear-overload from anyone else.
///  5. The status (running, progress) and the last result are published in
///     the loop's Snapshot; a ProcedureEnded event (value = the id) says a
///     result is there. Fixed-size values; nothing allocates per cycle.
///  6. The numbers of a span calibration (the factor from the samples) are a
///     pure function, fit_span, applied by the caller, which stores the
///     factor before it posts SetForceGain.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "soleus/controller/config.hpp"
#include "soleus/controller/set_controller.hpp"
#include "soleus/machine/machine_io.hpp"

namespace soleus::controller {

// ---- span calibration: the numbers
// ----------------------------------------------------------------

/// Running mean and spread of load-cell readings (Welford): no storage per sample.
struct SpanStats {
  std::uint32_t n = 0;
  double mean = 0;
  double m2 = 0;  ///< sum of squared deviations from the mean
  void add(double v) {
    ++n;
    const double d = v - mean;
    mean += d / static_cast<double>(n);
    m2 += d * (v - mean);
  }
  /// Population standard deviation (0 with fewer than 2 samples).
  double sd() const;
};

/// What fit_span concluded. When !ok, `field` is "known_n" (the weight or the
/// factor is wrong: the API's 422) or "state" (not measurable now: 409) and
/// `message` says why.
struct SpanFit {
  bool ok = false;
  double gain = 1;        ///< known_n / |mean|
  double measured_n = 0;  ///< |mean|, without any span factor
  double mean_n = 0;      ///< signed mean
  double sd_n = 0;
  std::string field;
  std::string message;
};

inline constexpr std::uint32_t kSpanMinSamples = 20;  ///< fewer: the loop was not running
inline constexpr double kSpanMinReadingN = 20;        ///< less: no weight hangs on the pad
inline constexpr double kSpanGainMin = 0.8, kSpanGainMax = 1.25;

/// The span factor from readings taken without a factor, the known weight
/// hanging still. Pure: the rules of docs/api.md "Span calibration".
SpanFit fit_span(const SpanStats& samples, double known_n);

// ---- procedures
// ------------------------------------------------------------------------------------

enum class ProcedureKind : std::uint8_t { None, RangeCheck, SpanSampling };
enum class ProcedureOutcome : std::uint8_t {
  Running,
  Done,     ///< ran to its end (a range check may still have failed: see ok)
  Refused,  ///< not started: why
  Aborted,  ///< STOP or shutdown
};
const char* to_string(ProcedureKind k);
const char* to_string(ProcedureOutcome o);

/// One leg of a range check.
struct RangeLeg {
  bool tried = false;
  bool arrived = false;
  double target_mm = 0;
  double tolerance_mm = 0;
  double reached_mm = 0;
  double seconds = 0;
  double peak_force_n = 0;  ///< the largest |motor force| commanded
};

struct ProcedureResult {
  std::uint32_t id = 0;
  ProcedureKind kind = ProcedureKind::None;
  ProcedureOutcome outcome = ProcedureOutcome::Running;
  bool ok = false;  ///< range check: the pad travelled the whole range; sampling: samples taken
  std::array<char, 112> why{};  ///< refused, aborted, or the failed leg's reason
  // range check
  double start_mm = 0;
  RangeLeg up, down;
  // span sampling
  SpanStats samples;       ///< raw readings (the span factor in use taken out)
  double gain_before = 1;  ///< the span factor in use when sampling began
  void set_why(std::string_view s);
  std::string_view why_view() const { return std::string_view(why.data()); }
};

struct ProcedureStatus {
  ProcedureKind running = ProcedureKind::None;  ///< None when nothing runs
  std::uint32_t id = 0;                         ///< of the running procedure
  int leg = 0;                                  ///< range check: 1 rising, 2 lowering, 3 parking
  double elapsed_s = 0;
  ProcedureResult last;  ///< the last one that ended (id 0: none yet)
};

/// The procedures' rules, in one place (docs/api.md, "Range check").
struct RangeCheckRules {
  static constexpr double kEmptyN = 30;       ///< the cell must read less to start (nobody seated)
  static constexpr double kTouchN = 60;       ///< more while moving: something touched the pad
  static constexpr double kArriveUpMm = 2;    ///< "at the top"
  static constexpr double kArriveDownMm = 6;  ///< "at the bottom" (the pad sinks under its own
                                              ///< weight; friction parks it a few mm short)
  static constexpr double kArrivedStillS = 0.3;
  static constexpr double kStuckS = 2.0;  ///< less than 1 mm of progress in this long: stuck
  static constexpr double kParkS = 15.0;  ///< at most this long to return to rest, unloaded
};

inline constexpr double kSpanSamplingS = 2.0;

/// The running procedure, if any. Loop thread only.
class Procedures {
 public:
  Procedures(const ControlConfig& control, const machine::Mechanics& mechanics, EventSink& sink);

  bool active() const { return status_.running != ProcedureKind::None; }
  const ProcedureStatus& status() const { return status_; }

  /// Starts a range check; refused (ended at once, outcome Refused) unless
  /// idle, with the cell reading the machine empty and the pad still.
  void start_range_check(std::uint32_t id, double t, SetController& ctl);
  /// Starts sampling the load cell for `duration_s`; refused unless idle
  /// (no set, no move) with both devices answering.
  void start_span_sampling(std::uint32_t id, double t, const SetController& ctl, bool comm_good,
                           double force_gain, double duration_s = kSpanSamplingS);
  /// Ends a start that the loop refused before it reached the procedure (stale).
  void refuse(ProcedureKind kind, std::uint32_t id, double t, std::string_view why);
  /// STOP or shutdown: the loop has stopped the move; the procedure ends
  /// without moving the pad again.
  void abort(double t, std::string_view why);
  /// Ends the running procedure at once (Aborted), without asking the
  /// controller for anything: the loop's internal-error path.
  void cancel(double t, std::string_view why);
  /// One cycle, after SetController::update. `force_gain` is the span
  /// factor applied to in.cell.
  void update(const machine::MachineInputs& in, SetController& ctl, double force_gain);

 private:
  enum class Stage { None, Rising, Lowering, Parking, Sampling };
  void end(double t, ProcedureOutcome outcome);
  void begin_leg(RangeLeg& leg, double target_mm, double tolerance_mm, double t, double pos);
  /// Judges a leg; returns true when it is over (arrived or failed, why set).
  bool judge_leg(RangeLeg& leg, double t, const SetController& ctl);
  void park(double t, SetController& ctl, bool failed);
  void emit(EventCode code, Severity sev, double t, std::string_view text);

  ControlConfig ccfg_;
  machine::Mechanics mech_;
  EventSink& sink_;
  ProcedureStatus status_;
  ProcedureResult cur_;
  Stage stage_ = Stage::None;
  double t0_ = 0;
  double leg_t0_ = 0;
  double leg_limit_s_ = 0;
  double progress_mm_ = 0;
  double progress_t_ = 0;
  double still_since_ = -1;
  double park_deadline_ = 0;
  double sample_until_ = 0;
  bool abort_ = false;
};

}  // namespace soleus::controller
