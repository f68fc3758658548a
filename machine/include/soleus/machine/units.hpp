#pragma once
/// The machine contract's engineering-unit types: what a drive and a load cell
/// report and are asked, the mechanics that convert torque to force at the
/// pad, and the limits no configuration may exceed. Header-only; knows no
/// Modbus, no registers and no training. The drivers (drivers/) implement the
/// contract; the controller (controller/) uses it; soleus-sim models it.
#include <cstdint>
#include <numbers>

namespace soleus::machine {

/// Absolute cap on the load at the pad. No configuration may exceed it.
inline constexpr double kHardCapN = 2500.0;

/// The motor's peak torque in % of rated (the ICD: 300 %, for seconds). No
/// configuration may arm TORQUE_LIMIT above it.
inline constexpr double kMaxTorqueLimitPct = 300.0;

/// One cycle's view of the servo drive, in engineering units at the pad.
struct DriveStatus {
  bool ready = false;
  bool enabled = false;
  bool fault = false;
  bool sto = false;
  bool speed_limited = false;
  bool torque_limited = false;
  int fault_code = 0;
  double position_mm = 0;    ///< pad height, positive up, 0 = lower hard stop
  double velocity_mm_s = 0;  ///< positive = pad moving up
  double torque_pct = 0;     ///< actual torque, % of rated, positive pushes the pad down
  double force_n = 0;        ///< actual torque converted to N at the pad (positive down)
  double temperature_c = 0;
  double bus_voltage_v = 0;
};

/// What the host asks of the drive this cycle.
struct DriveCommand {
  bool enable = false;
  bool fault_reset = false;  ///< the driver produces the 0→1 edge
  bool quick_stop = false;
  /// Force at the pad, N; positive pushes the pad down.
  double force_n = 0;
  /// Friction direction for converting force to torque: true while the screw
  /// is back-driven (the pad is driven up against the motor), false while the
  /// motor drives the pad or holds it.
  bool back_driven = false;
};

/// [mechanics]: the transmission from motor torque to force at the pad.
struct Mechanics {
  double rated_torque_nm = 3.18;  ///< rated_torque_nm
  double screw_lead_mm = 10.0;    ///< screw_lead_mm
  double efficiency = 0.90;       ///< efficiency (friction opposes motion)
  double counts_per_mm = 1000.0;  ///< counts_per_mm
  double pad_weight_n = 78.5;     ///< pad_weight_n
  double moving_mass_kg = 110.0;  ///< moving_mass_kg
  double travel_max_mm = 150.0;   ///< travel_max_mm (upper hard stop; lower is 0)

  /// Force at the pad (N, positive = pushing the pad down) for a torque in % of
  /// rated. `back_driven` selects the friction direction: while the screw is
  /// back-driven (pad driven up against the motor) F = T·2π/lead/η; otherwise
  /// (motor driving down, or holding) F = T·2π/lead·η.
  double force_from_torque_pct(double pct, bool back_driven) const {
    const double ideal = pct / 100.0 * rated_torque_nm * newton_per_nm();
    return back_driven ? ideal / efficiency : ideal * efficiency;
  }
  /// Inverse of force_from_torque_pct.
  double torque_pct_for_force(double force_n, bool back_driven) const {
    const double ideal = back_driven ? force_n * efficiency : force_n / efficiency;
    return ideal / newton_per_nm() / rated_torque_nm * 100.0;
  }
  /// Pad speed in mm/s for a motor speed in rpm, and back.
  double mm_s_from_rpm(double rpm) const { return rpm / 60.0 * screw_lead_mm; }
  double rpm_from_mm_s(double mm_s) const { return mm_s * 60.0 / screw_lead_mm; }

 private:
  double newton_per_nm() const { return 2.0 * std::numbers::pi / (screw_lead_mm / 1000.0); }
};

/// [limits]: what the host clamps to and the drive is armed with.
struct Limits {
  double max_load_n = 1800.0;        ///< max_load_n (≤ kHardCapN)
  double max_speed_mm_s = 100.0;     ///< max_speed_mm_s (the drive's SPEED_LIMIT)
  double max_slew_n_per_s = 6000.0;  ///< max_slew_n_per_s (host clamp and the drive's TORQUE_SLEW)
  double watchdog_ms = 100.0;        ///< watchdog_ms (the drive's COMM_TIMEOUT; never 0)
};

/// The drive's static settings, written at start-up, after every gap in its
/// answers and before every enable, and read back.
struct DriveSetup {
  /// Becomes TORQUE_LIMIT. Converted with the back-driven friction direction,
  /// where one unit of torque resists most (F = T·2π/lead/η), so the force at
  /// the pad stays ≤ this value in both directions.
  double torque_limit_n = 1800;
  double speed_limit_mm_s = 100;  ///< becomes SPEED_LIMIT (rpm)
  double slew_n_per_s = 6000;     ///< becomes TORQUE_SLEW (% of rated per ms, same direction rule)
  double watchdog_ms = 100;       ///< becomes COMM_TIMEOUT (ms); must not be 0
  /// The setup that the configured limits ask for.
  static DriveSetup from_limits(const Limits& limits) {
    DriveSetup s;
    s.torque_limit_n = limits.max_load_n;
    s.speed_limit_mm_s = limits.max_speed_mm_s;
    s.slew_n_per_s = limits.max_slew_n_per_s;
    s.watchdog_ms = limits.watchdog_ms;
    return s;
  }
};

/// One cycle's view of the load cell.
struct LoadCellSample {
  double force_n = 0;  ///< compression (user pushing up) positive
  bool stable = false;
  bool overload = false;
  bool adc_error = false;
  bool tare_busy = false;
  std::uint32_t counter = 0;  ///< sample counter, wraps at the map's counter_modulo
};

}  // namespace soleus::machine
