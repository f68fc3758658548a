#pragma once
#include <array>
/// SetController: one set from start to the safe unload, and the pad moves
/// around it. Fed one cycle at a time by the control loop (or a test).
///
/// Principle of operation:
///  1. Every cycle the Supervisor judges the inputs first. A failed read is
///     replaced by the last good values for the logic (the supervisor decides
///     when a run of failures is a comm loss).
///  2. A trip, the user letting go, a command (user_stop, pain, shutdown,
///     storage_fault) or a training rule (target_reached, hold_complete,
///     force_drop, range_loss, pace_loss, stall, loss_of_control) all call the
///     same stop(): the first reason is kept, the open rep is flushed, and the
///     state becomes Unloading. Only STO and drive faults cut torque at once.
///  3. Unloading ramps the law's output to zero over unload_s with the drive
///     still enabled (its SPEED_LIMIT stays armed), holds zero for
///     unload_settle_ms, then disables. Then the set's result is produced and
///     the state is Rest (or Fault / Estop while the latch is not OK).
///  4. A set runs Ready (enable, ramp-in) → Calibrating (the light first rep;
///     skipped in isometric mode) → Active. While Active, RepCounter,
///     TempoCue and FatigueMonitor judge each rep; the LoadLaw computes the
///     force, and the OutputClamp (floor, max load, hard cap, slew) has the
///     last word on every command.
///  4a. The member's stored range (SetParams::range) never skips the light
///     first rep; it is used only when it lies within the soft limits
///     ([soft_travel_margin_mm, travel_max_mm − soft_travel_margin_mm]) and
///     is no older than training.stored_range_max_age_days, else the set
///     calibrates and says why (a `stored_range` event, status.range_note).
///     With one, the first rep runs exactly as a calibration rep (light
///     load, no floor, the travel's speed limit) while RepCounter also
///     counts it against the stored range. When RangeOfMotion has found the
///     rep's range: if each end lies within (1 − rep_rom_fraction) × span of
///     the stored one and the rep counted, the stored range is confirmed,
///     the rep counts (it is not judged by the FatigueMonitor: it was light)
///     and the set goes on at its load as after a calibration: its reps,
///     floor and speed limit by the range the light rep found; otherwise the set uses the range
///     found (range_calibrated, the rep not counted) and says so. The result
///     says whether the range is worth saving (SetResult::range_save).
///  5. Hold-to-move drives the pad towards a target at low force and speed
///     only while the command is refreshed; when it lapses the pad is held
///     where it is (Ready). Return-to-rest lowers the pad under its own weight
///     at a controlled speed, then unloads and disables.
#include <cstdint>
#include <optional>
#include <vector>

#include "soleus/controller/clamp.hpp"
#include "soleus/controller/config.hpp"
#include "soleus/controller/fatigue.hpp"
#include "soleus/controller/load_law.hpp"
#include "soleus/controller/motion.hpp"
#include "soleus/controller/supervisor.hpp"
#include "soleus/controller/types.hpp"
#include "soleus/machine/machine_io.hpp"

namespace soleus::controller {

/// Where the controller's outputs go. The control loop's implementation puts
/// them on bounded queues; tests collect them. Called from the loop thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_event(const Event& e) = 0;
  virtual void on_rep(const RepRecord& r) = 0;
  virtual void on_set_result(const SetResult& r) = 0;
};

/// Checks a set's parameters (the API's rules; never trust the caller).
std::optional<FieldError> validate(const SetParams& p, const TrainingConfig& training,
                                   const machine::Limits& limits,
                                   const machine::Mechanics& mechanics);

/// The controller's live view, published in the loop's snapshot.
struct ControllerStatus {
  SetState state = SetState::Fault;
  bool set_running = false;  ///< Ready/Calibrating/Active/Unloading of a set
  std::int64_t set_id = 0;
  Mode mode = Mode::Isotonic;
  double load_n = 0;              ///< felt load commanded (after ramp, before the clamp)
  double motor_force_n = 0;       ///< the command written (after the clamp), positive down
  Phase phase = Phase::None;      ///< the user's phase
  Phase cue_phase = Phase::None;  ///< where the tempo says the user should be
  double cue_progress = 0;
  int reps = 0;
  int partial_reps = 0;
  double tut_s = 0;
  double hold_elapsed_s = 0;
  bool resting = false;         ///< a mid-set rest: held at a top or low beyond the tempo's pause
  double rest_remaining_s = 0;  ///< while resting: seconds left before the set ends (stall)
  StopReason stop_reason = StopReason::None;  ///< of the running or last set
  bool range_known = false;
  Range range;
  RangeNote range_note = RangeNote::None;  ///< how the set finds its range, and why
  double range_age_days = -1;              ///< the stored range's age (-1: none offered)
  double floor_mm = -1;
  double eccentric_weight = 0;
  double brake_n = 0;
  bool moving = false;  ///< hold-to-move or return-to-rest in progress
};

class SetController {
 public:
  /// Throws std::invalid_argument when the configuration cannot be run
  /// stably (e.g. a brake or damping gain too high for the loop period).
  SetController(const ControlConfig& control, const TrainingConfig& training,
                const machine::Mechanics& mechanics, const machine::Limits& limits,
                EventSink& sink);

  /// Starts a set. Refused (with the field and reason) while a set runs, a
  /// fault is latched, the drive is not armed, or the parameters are invalid.
  std::optional<FieldError> start_set(const SetParams& params, double t);
  /// Stops the running set or move through the unload. Returns whether
  /// anything was running (the API's {"stopped": ...}).
  /// `detail` (optional) is appended to the set_ended event's message.
  bool stop(StopReason reason, double t, std::string_view detail = {});
  void reset_faults(double t);
  /// Refreshes (or starts) hold-to-move towards target_mm. Returns false when refused.
  bool hold_to_move(double target_mm, double t);
  /// Lowers the pad to rest, then disables. Returns false when refused.
  bool return_to_rest(double t);
  /// The drive was armed (true) or must be armed again (false).
  void set_armed(bool armed);
  /// The drive's armed slew (read back), for the floor approach (OutputClamp::set_drive_slew).
  void set_drive_slew(double n_per_s) {
    clamp_.set_drive_slew(n_per_s);
    drive_slew_ = n_per_s;
  }

  /// The SPEED_LIMIT of a set (hazard 11), the pad speed it must not exceed
  /// by more than 10 %: span / the faster of the tempo's moving phases ×
  /// (1 + set_speed_margin), within [set_speed_min_mm_s, limits.max_speed_mm_s];
  /// a free phase (0 s) or no span: limits.max_speed_mm_s.
  static double set_speed_limit(double span_mm, const Tempo& tempo, const TrainingConfig& tcfg,
                                const machine::Limits& limits);
  /// What is armed in the drive for a speed limit V: its speed loop
  /// overshoots when a user gives way under a heavy load (it reacts within
  /// 1–2 ms while the pad accelerates at up to (max load + pad) / mass ≈
  /// 17 m/s²; the proving ground measured up to +14 mm/s at 1800 N, whatever
  /// the limit). Armed at 1.1 V − 15 % of limits.max_speed_mm_s (at least
  /// 0.8 V), the pad stays within V + 10 %; for V = max_speed_mm_s that is
  /// 95 % of it.
  static double armed_speed_limit(double v_mm_s, const machine::Limits& limits) {
    return std::max(0.8 * v_mm_s, 1.1 * v_mm_s - 0.15 * limits.max_speed_mm_s);
  }
  /// The SPEED_LIMIT to arm now (armed_speed_limit of): the set's from its
  /// Start until it has unloaded (the range's span once calibrated, the
  /// travel's before), else limits.max_speed_mm_s. ControlLoop arms it, and
  /// reads it back, before an enable and whenever it changes.
  double speed_limit_mm_s() const { return armed_speed_limit(speed_nominal_mm_s_, limits_); }

  /// One cycle: judges the inputs and returns the command to write next.
  machine::DriveCommand update(const machine::MachineInputs& in);

  const ControllerStatus& status() const { return status_; }
  const Supervisor& supervisor() const { return sup_; }
  const OutputClamp& clamp() const { return clamp_; }
  /// The last good drive status and load-cell sample.
  const machine::DriveStatus& drive() const { return drive_; }
  const machine::LoadCellSample& cell() const { return cell_; }

 private:
  enum class Activity { None, Set, Move };
  void emit(EventCode code, Severity sev, double t, std::string_view text, double value = 0);
  /// A set enables the drive only with the pad slower than this ×
  /// the set's SPEED_LIMIT (speed_limit_mm_s())...
  static constexpr double kStartSpeedFraction = 0.9;
  /// The floor catch compares the cell with its peak over this long (hazard 10).
  static constexpr double kFloorCatchWindowS = 0.1;
  static constexpr double kSettleWaitS = 3.0;  ///< ... for at most this long after Start
  // One cycle (update()) in its steps, in this order every cycle.
  struct Cycle {  ///< the cycle's time and inputs (the last good values)
    double t = 0, dt = 0;
    double pos = 0, vel = 0, force = 0;
    bool drive_enabled = false;
  };
  struct CycleOutput {  ///< what the cycle asks for, step by step
    bool enable = false;
    double motor = 0;   ///< the motor's force before the clamp, positive down
    double floor = -1;  ///< the clamp's floor, mm (-1: none)
    LawOutput law;
    double out = 0;           ///< the command after the clamp (step 4) and what follows it
    bool driving_up = false;  ///< the command's screw-friction assumption
  };
  Cycle read_inputs(const machine::MachineInputs& in);                           ///< 0.
  SupervisorReport supervise(const machine::MachineInputs& in, const Cycle& c);  ///< 1.
  double set_floor() const;
  void update_ready(const Cycle& c, CycleOutput& o);  ///< 2., per state
  void update_move(const Cycle& c, CycleOutput& o);
  void update_calibrating(const Cycle& c, CycleOutput& o);
  void update_active(const Cycle& c, CycleOutput& o);
  void update_hold(const Cycle& c, CycleOutput& o);
  void update_reps(const Cycle& c, CycleOutput& o);
  void update_unloading(const Cycle& c, CycleOutput& o);
  void gate_enable(const SupervisorReport& rep, CycleOutput& o);                          ///< 3.
  void final_clamp(const Cycle& c, CycleOutput& o);                                       ///< 4.
  void floor_catch(const Cycle& c, CycleOutput& o);                                       ///< 4b.
  void hold_unload(CycleOutput& o);                                                       ///< 5.
  machine::DriveCommand make_command(const SupervisorReport& rep, const CycleOutput& o);  ///< 6.
  void publish_status(const CycleOutput& o);                                              ///< 7.

  void begin_unload(double t);
  bool within_soft_limits(const Range& r) const;
  void plan_range(const SetParams& params, double t);
  void check_stored_range(double t, double pos, const Range& found);
  void finish(double t);
  void flush_rep(double t);
  void enter_active(double t, double pos);
  bool idle_like() const;
  SetState resting_state() const;

  ControlConfig ccfg_;
  TrainingConfig tcfg_;
  machine::Mechanics mech_;
  machine::Limits limits_;
  EventSink& sink_;
  Supervisor sup_;
  OutputClamp clamp_;
  LoadLaw law_;
  RangeOfMotion rom_;
  RepCounter reps_;
  TempoCue cue_;
  FatigueMonitor fatigue_;

  SetState state_ = SetState::Idle;  ///< the underlying state; Fault/Estop are shown over it
  Activity activity_ = Activity::None;
  SetParams params_;
  ControllerStatus status_;
  machine::DriveStatus drive_;
  machine::LoadCellSample cell_;
  machine::DriveCommand last_cmd_;
  bool first_ = true;
  double last_t_ = 0;
  double ramp_ = 0;
  double settle_since_ = -1;
  double set_start_t_ = 0;
  int calibration_tries_ = 0;
  double calib_motion_t_ = 0;
  bool range_calibrated_ = false;
  // A stored range on trial (principle of operation 4a).
  std::optional<Range> stored_;       ///< the range the light first rep checks (dynamic sets)
  std::vector<RepRecord> held_reps_;  ///< the light rep's records, until it is judged
  double light_before_t_ = -1e9;      ///< reps that began before this ran at the light load
  // Soft tissue (docs/controller.md, "The floor under load"): the thighs'
  // compression at the set's load, read at the first loaded top; the floor
  // sinks by it and the rep counter adds it back (the bone's height).
  double floor_allowance(double load_n) const;
  void measure_tissue(double t, double pos, double vel);
  double tissue_mm_per_n_ = -1;  ///< measured; < 0 until the first loaded top
  double tissue_offset_mm_ = 0;  ///< compression at the set's load, mm
  double tissue_rise_max_ = -1e9;
  double tissue_still_since_ = -1;
  // isometric
  double hold_elapsed_ = 0;
  double window_sum_ = 0, window_t_ = 0;
  int window_n_ = 0;
  double hold_mm_ = 0;           ///< the hold's height (set when the hold begins)
  double hold_rest_n_ = -1;      ///< the cell when the hold began (-1: not yet)
  double hold_filt_n_ = 0;       ///< the cell low-passed (0.3 s): a push, not a tremor
  double hold_push_since_ = -1;  ///< the filtered cell above rest + margin since
  bool hold_pushed_ = false;     ///< the user's push was seen: the clock runs from it
  double hold_fall_since_ =
      -1;                       ///< the pad falls away from the hold with nothing on the cell since
  double hold_held_mm_ = -1e9;  ///< the pad's height when the cell last read a force in the hold
  double hold_peak_filt_n_ = 0;  ///< the cell low-passed over 0.1 s (the peak's measure)
  double hold_peak_n_ = 0;       ///< its largest value in the hold
  bool hold_beyond_ = false;     ///< the hold was out-pushed (SetResult::beyond_range)
  // moves
  double move_target_ = 0;
  double move_deadline_ = 0;
  bool move_auto_ = false;  ///< return-to-rest: no refresh needed
  bool moving_ = false;
  double rest_still_since_ = -1;
  double unload_prev_ = 0;  ///< the last command written; an unload never exceeds it
  /// The screw-friction assumption of the unload's commands: the last command's
  /// at the stop, then it may only turn to "user driving up" (the lower torque
  /// for a push down), never back.
  bool unload_up_ = false;
  // hazard 11
  double speed_nominal_mm_s_ = 0;  ///< the speed limit V now (set_speed_limit for a set, else the
                                   ///< cap); speed_limit_mm_s() is what is armed for it
  double drive_slew_ = 0;          ///< the drive's armed slew, N/s (0: unknown, max_slew_n_per_s)
  double failed_since_ = -1;       ///< a short rise pushed back down since
  bool failed_rep_ = false;        ///< the set stopped on a failed rep: the load drops at the slew
  // hazard 10: the floor catch judges the member's force against its recent peak
  struct ForceAt {
    double t = -1e9, force_n = 0;
  };
  std::array<ForceAt, 32> recent_force_{};  ///< the cell's force, newest at recent_next_ - 1
  std::size_t recent_next_ = 0;
  /// The largest fall of the cell's force, as a fraction of an earlier peak,
  /// within the last `window_s` (as far as the ring holds).
  double recent_force_drop(double t, double window_s) const;
};

}  // namespace soleus::controller
