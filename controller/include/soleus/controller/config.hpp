#pragma once
/// The controller's configuration: [control] (the loop and the safety
/// supervisor) and [training] (rep counting, tempo, fatigue rules, load law).
/// Each field's comment names its key. Every default is shown, commented, in
/// config/*.toml.
///
/// parse() reads a Section with typed, bounded getters, refuses unknown keys
/// (Section::finish) and then runs validate(), whose cross-field failures are
/// reported as config::ConfigError at the offending key's line.
#include <string>

#include "soleus/common/config_reader.hpp"
#include "soleus/machine/units.hpp"

namespace soleus::controller {

/// [control]
struct ControlConfig {
  double loop_hz = 100;        ///< loop_hz; default decided by the caller (TCP 100, RTU 50)
  bool realtime = false;       ///< realtime: SCHED_FIFO + mlockall for the control thread
  int realtime_priority = 80;  ///< realtime_priority (1–99)
  int comm_loss_cycles = 3;    ///< comm_loss_cycles: failed cycles in a row that mean comm loss
  double comm_loss_window_ms =
      60;  ///< comm_loss_window_ms: no good cycle for longer = comm loss (< limits.watchdog_ms)
  double stale_cell_ms = 50;   ///< stale_cell_ms: sample counter still across successful reads
  double let_go_ms = 300;      ///< let_go_ms: near-zero contact while loaded → user_left
  double let_go_force_n = 25;  ///< let_go_force_n: "near zero" contact force
  double ramp_in_s = 1.5;      ///< ramp_in_s: load ramp at set start (0 → full)
  double unload_s = 1.0;       ///< unload_s: controlled ramp-down time (full → 0)
  double unload_settle_ms =
      100;  ///< unload_settle_ms: zero load held, still enabled, before disable
  double enable_timeout_ms = 500;  ///< enable_timeout_ms: the drive must report ENABLED by then
  double soft_travel_margin_mm =
      3;  ///< soft_travel_margin_mm: soft limits this far inside the hard stops
  double overspeed_mm_s =
      120;  ///< overspeed_mm_s: measured speed that is a fault (> limits.max_speed_mm_s)
  double implausible_force_n =
      4500;  ///< implausible_force_n: |load cell| above this is implausible
  double implausible_position_mm = 10;  ///< implausible_position_mm: this far outside 0..travel_max
  double cross_check_tolerance_n =
      150;  ///< cross_check_tolerance_n: load cell vs the pad's dynamics, absolute part
  double cross_check_tolerance_pct = 25;  ///< cross_check_tolerance_pct: relative part (screw
                                          ///< friction), % of motor force + pad weight
  double cross_check_s =
      0.5;  ///< cross_check_s: a disagreement this long (moving or still) is a fault
  /// frozen_cell_s, frozen_cell_band_n, frozen_cell_evidence_n: a frozen
  /// load-cell value (docs/safety.md, hazard 4). New samples that all read
  /// within frozen_cell_band_n of each other for frozen_cell_s while a set
  /// loads the member (the reading at least let_go_force_n) and the pad moves
  /// (faster than still_mm_s) or the drive's force spans frozen_cell_evidence_n
  double frozen_cell_s = 0.5;
  double frozen_cell_band_n = 0.05;
  double frozen_cell_evidence_n = 20;
  double still_mm_s = 3;            ///< still_mm_s: |velocity| below this is "still"
  double over_force_factor = 1.15;  ///< over_force_factor: the cell above this × max load, pad not
                                    ///< rising, 2 reads = over-force
  double hold_to_move_timeout_ms = 250;  ///< hold_to_move_timeout_ms: a move stops unless refreshed
  double move_speed_mm_s = 20;           ///< move_speed_mm_s: hold-to-move and return-to-rest speed
  double move_max_force_n = 250;         ///< move_max_force_n: force limit while moving the pad
  double rest_position_mm = 2;           ///< rest_position_mm: where return-to-rest parks the pad
  double arm_retry_ms = 1000;  ///< arm_retry_ms: retry period while arming the drive fails
  bool reset_on_boot = true;  ///< reset_on_boot: one automatic reset after the first successful arm
  int command_queue = 64;     ///< command_queue: capacity of the command queue
  int event_queue = 1024;     ///< event_queue: capacity of the event queue (never meant to fill)
  int rep_queue = 512;        ///< rep_queue: capacity of the rep queue
  int trace_queue = 4096;     ///< trace_queue: capacity of the trace queue (dropped first)
  int trace_decimation = 1;   ///< trace_decimation: one trace sample every N cycles

  double period_s() const { return 1.0 / loop_hz; }
  /// Reads [control]; `default_loop_hz` is 100 for TCP and 50 for RTU.
  static ControlConfig parse(const config::Section& s, double default_loop_hz,
                             const machine::Limits& limits);
  /// Cross-field rules. Throws std::invalid_argument("key: message").
  void validate(const machine::Limits& limits) const;
};

/// [training]
struct TrainingConfig {
  double min_load_n = 50;         ///< min_load_n: smallest load a set may ask for
  double rep_rom_fraction = 0.9;  ///< rep_rom_fraction: range a rep must cover to count
  double segment_fraction =
      0.15;  ///< segment_fraction: a reversal this large (of range) ends a rep attempt
  double segment_min_mm = 8;  ///< segment_min_mm: ... but never less than this
  double pause_band_mm = 2;   ///< pause_band_mm: within this of a turning point is "pausing"
  double wobble_hysteresis_mm =
      1.5;                   ///< wobble_hysteresis_mm: reversals smaller than this are noise
  int wobble_reversals = 2;  ///< wobble_reversals: this many reversals in a moving phase = wobbly
  double min_smoothness = 0.8;   ///< min_smoothness: below this a rep is wobbly
  int loss_of_control_reps = 2;  ///< loss_of_control_reps: wobbly reps in a row → loss_of_control
  int force_drop_reps = 1;       ///< force_drop_reps: k reps in a row below (100 − p) % of best
  double force_drop_pct = 20;    ///< force_drop_pct: default p when a set does not give one
  int range_loss_reps = 2;       ///< range_loss_reps: partial reps in a row → range_loss
  double pace_loss_factor = 1.5;  ///< pace_loss_factor: concentric slower than this × tempo
  int pace_loss_reps = 2;         ///< pace_loss_reps: ... this many reps in a row → pace_loss
  double stall_progress_mm =
      2;  ///< stall_progress_mm: upward progress that ends a pause while rising (rest timer)
  double idle_timeout_s = 20;  ///< idle_timeout_s: no rep begun for this long while loaded → stall
  double rest_limit_s = 10;    ///< rest_limit_s: a mid-set rest (a pause beyond the tempo's +
                               ///< tolerance) may last this long, then stall
  double floor_fade_mm = 3;  ///< floor_fade_mm: load fades to zero over this height above the floor
  double floor_lead_s =
      0.05;  ///< floor_lead_s: the fade is judged at height + this × velocity (damping)
  double floor_restore_s =
      0.5;  ///< floor_restore_s: leaving the floor, the load it took comes back over this time
  /// floor_catch_mm_s, floor_catch_n, floor_catch_drop: the floor catch
  /// (docs/safety.md, hazard 10). The member gives way at the bottom: the
  /// cell's force falls by more than floor_catch_drop of its peak over the
  /// last 0.1 s, the pad falls into the floor faster than floor_catch_mm_s,
  /// and the drive still pushes down more than max(floor_catch_n, a quarter
  /// of the load) and twice what the floor allows: the torque is removed at
  /// once (ENABLE off for a cycle), not at the drive's TORQUE_SLEW; the set
  /// goes on
  double floor_catch_mm_s = 25;
  double floor_catch_n = 600;
  double floor_catch_drop = 0.3;
  double tissue_max_mm =
      15;  ///< tissue_max_mm: most the floor may sink below the light-load bottom under load
  double tissue_max_mm_per_kn =
      8.5;  ///< tissue_max_mm_per_kn: most compliance (pad sink per kN) the floor assumes
  double tempo_tolerance_s =
      0.5;  ///< tempo_tolerance_s: a phase further off than this is off tempo
  double brake_gain_n_per_mm_s =
      2;  ///< brake_gain_n_per_mm_s: pacing brake per mm/s above tempo speed
  double brake_margin =
      0.25;  ///< brake_margin: speed allowed above tempo before braking (fraction)
  double brake_max_fraction =
      0.5;  ///< brake_max_fraction: brake at most this × load (then the clamp)
  double eccentric_blend_s =
      0.5;  ///< eccentric_blend_s: time of the smooth load change at top/bottom
  double calibration_load_n = 100;  ///< calibration_load_n: light load of the calibration rep
  double calibration_speed_mm_s =
      40;  ///< calibration_speed_mm_s: brake speed of the calibration rep
  /// set_speed_margin: the drive's SPEED_LIMIT for a set is the range over the
  /// faster of the tempo's moving phases × (1 + this), armed before the set
  /// (docs/safety.md, hazard 11)
  double set_speed_margin = 2.0;
  double set_speed_min_mm_s = 50;  ///< set_speed_min_mm_s: ... and never below this
  double failed_rep_s = 0.1;     ///< failed_rep_s: a rise pushed back down this long, with the user
                                 ///< pushing, is a failed rep
  double min_range_mm = 30;      ///< min_range_mm: a calibrated range below this is retried
  int calibration_attempts = 3;  ///< calibration_attempts: then the set stops (range_loss)
  /// stored_range_max_age_days: a member's stored range older than this is
  /// not used (the set calibrates and says why); 0: never use one.
  double stored_range_max_age_days = 30;
  double friction_deadband_mm_s =
      2;  ///< friction_deadband_mm_s: velocity that flips the friction direction
  double hold_stiffness_n_per_mm = 20;  ///< hold_stiffness_n_per_mm: isometric position hold gain
  double hold_damping_n_per_mm_s = 2;   ///< hold_damping_n_per_mm_s: isometric damping
  double hold_window_s = 1.0;  ///< hold_window_s: isometric output is the mean force per window

  static TrainingConfig parse(const config::Section& s, const machine::Limits& limits);
  /// Cross-field rules. Throws std::invalid_argument("key: message").
  void validate(const machine::Limits& limits) const;
};

}  // namespace soleus::controller
