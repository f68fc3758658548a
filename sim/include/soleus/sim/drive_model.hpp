#pragma once
/// The simulated servo drive (unit 1 of the ICD), in engineering units and the
/// ICD's sign conventions: torque in % of rated torque, positive pushes the
/// pad down; speed in motor rpm, positive = pad moving up; time in ms.
/// The register map (addresses, scaling, signs) is applied by Machine.
///
/// Principle of operation (one call of step() per millisecond):
///  1. Writes arrive between steps. write_control() acts on edges at once:
///     ENABLE 0→1 enables when READY (no fault), not STO and no QUICK_STOP
///     (the edge is consumed even when refused, so a drive never enables by
///     itself later); ENABLE 1→0 removes torque at once; FAULT_RESET 0→1 with
///     ENABLE clear clears the latched fault; QUICK_STOP starts a ramp to zero.
///     Every write of CONTROL or TORQUE_CMD feeds the watchdog.
///  2. Protection: COMM_TIMEOUT expired while enabled → fault 6; speed beyond
///     the limit by a margin for 20 ms → fault 7; bus over-voltage → fault 2;
///     over-temperature → fault 4. A fault or STO removes torque at once and
///     clears ENABLED; a fault stays latched until a FAULT_RESET edge.
///  3. Torque: the command is clamped to ±TORQUE_LIMIT (TORQUE_LIMITED),
///     ramped by TORQUE_SLEW per ms (0 = no slew limit), then the speed loop
///     (a PI on the speed beyond ±SPEED_LIMIT, bumpless from the command)
///     overrides it to brake in either direction (SPEED_LIMITED), and the
///     result is clamped to ±TORQUE_LIMIT again.
///  4. Quick stop ramps the command to zero at the slew rate (at least
///     1 %/ms) with the speed loop still armed, then disables.
///  5. Temperature follows the torque squared (first order, minutes);
///     bus voltage rises with the power the user regenerates into the drive.
#include <cstdint>

namespace soleus::sim {

/// Fixed properties of the simulated drive.
struct DriveSettings {
  int bit_enable = 0, bit_fault_reset = 1, bit_quick_stop = 2;  ///< control-word bits
  double rated_torque_nm = 3.18;
  double max_torque_pct = 300.0;  ///< peak torque; TORQUE_LIMIT above this is refused
  double ambient_c = 30.0;
  double nominal_bus_v = 325.0;
  double overspeed_margin_rpm = 120.0;  ///< fault 7 beyond SPEED_LIMIT·1.1 + this
  double overvoltage_v = 420.0;
  double overtemp_c = 90.0;
  /// Supply ripple (V amplitude, 100 Hz, a rectified 50 Hz mains) on the DC
  /// bus; the torque the motor makes ripples by the same fraction of the
  /// nominal bus voltage. 0 = none (the bus keeps its small ±0.5 V wander).
  double ripple_v = 0.0;
};

/// Power-up values of the host-written registers (documented in docs/simulator.md).
struct DriveDefaults {
  static constexpr double kSpeedLimitRpm = 3000.0;
  static constexpr double kTorqueSlewPctPerMs = 10.0;
  static constexpr double kCommTimeoutMs = 0.0;
  static constexpr double kTorqueLimitPct = 300.0;
};

enum class DriveFault : int {
  None = 0,
  OverCurrent = 1,
  OverVoltage = 2,
  UnderVoltage = 3,
  OverTemperature = 4,
  Encoder = 5,
  CommLoss = 6,
  OverSpeed = 7,
  TravelLimit = 8,
};

/// sin(2π·hz·t + phase) at whole milliseconds, by rotating a phasor one step
/// at a time (no sin per step); it re-anchors with std::sin/cos when time
/// jumps and every 4096 steps (so rounding never builds up).
class MsOscillator {
 public:
  MsOscillator(double hz, double phase);
  double at(std::int64_t now_ms);

 private:
  double hz_, phase_, rc_, rs_, c_ = 1, s_ = 0;
  std::int64_t last_ms_ = -2;
  int since_anchor_ = 0;
};

class DriveModel {
 public:
  explicit DriveModel(DriveSettings s = {});

  // ---- host writes (engineering units), `now_ms` = simulation time
  /// CONTROL word as written.
  void write_control(std::uint16_t word, std::int64_t now_ms);
  void write_torque_cmd(double pct, std::int64_t now_ms);
  void write_speed_limit(double rpm) { speed_limit_rpm_ = rpm; }
  void write_torque_slew(double pct_per_ms) { slew_pct_ms_ = pct_per_ms; }
  void write_comm_timeout(double ms) { comm_timeout_ms_ = ms; }
  void write_torque_limit(double pct) { torque_limit_pct_ = pct; }

  // ---- the outside world
  /// Safe torque off input (the e-stop chain). Removes torque at once.
  void set_sto(bool active);
  /// Raises a fault (first fault wins; later ones are ignored while latched).
  void raise_fault(int code);

  /// Advances one millisecond. `speed_rpm` is the motor speed (positive = pad up).
  void step(double speed_rpm, std::int64_t now_ms);

  // ---- read-back
  std::uint16_t control() const { return control_; }
  double torque_cmd_pct() const { return torque_cmd_pct_; }
  double speed_limit_rpm() const { return speed_limit_rpm_; }
  double torque_slew_pct_ms() const { return slew_pct_ms_; }
  double comm_timeout_ms() const { return comm_timeout_ms_; }
  double torque_limit_pct() const { return torque_limit_pct_; }

  bool ready() const { return fault_code_ == 0; }
  bool enabled() const { return enabled_; }
  bool fault() const { return fault_code_ != 0; }
  bool sto() const { return sto_; }
  bool speed_limited() const { return speed_limited_; }
  bool torque_limited() const { return torque_limited_; }
  bool quick_stopping() const { return quick_stopping_; }
  int fault_code() const { return fault_code_; }
  /// Actual motor torque, % of rated, positive pushes the pad down.
  double torque_pct() const { return torque_pct_; }
  double torque_nm() const { return torque_pct_ / 100.0 * s_.rated_torque_nm; }
  double temperature_c() const { return temperature_c_; }
  double bus_voltage_v() const { return bus_voltage_v_ + supply_ripple_v_; }
  /// Supply ripple amplitude, V (see DriveSettings::ripple_v); settable at run time.
  void set_ripple_v(double v) { s_.ripple_v = v; }
  /// Power the load feeds back into the drive (W, positive = regenerating).
  double regen_power_w() const { return regen_w_; }
  std::int64_t last_command_ms() const { return last_cmd_ms_; }
  const DriveSettings& settings() const { return s_; }

 private:
  void disable();

  DriveSettings s_;
  std::uint16_t control_ = 0;
  double torque_cmd_pct_ = 0;
  double speed_limit_rpm_ = DriveDefaults::kSpeedLimitRpm;
  double slew_pct_ms_ = DriveDefaults::kTorqueSlewPctPerMs;
  double comm_timeout_ms_ = DriveDefaults::kCommTimeoutMs;
  double torque_limit_pct_ = DriveDefaults::kTorqueLimitPct;

  bool enabled_ = false;
  bool sto_ = false;
  bool quick_stopping_ = false;
  double quick_stop_rate_ = 1.0;  ///< %/ms of the QUICK_STOP ramp (to zero within 10 ms)
  bool speed_limited_ = false;
  bool torque_limited_ = false;
  int fault_code_ = 0;
  std::int64_t last_cmd_ms_ = 0;
  int overspeed_ms_ = 0;

  double ramped_pct_ = 0;  ///< command after clamp and slew
  double brake_up_i_ = 0;  ///< speed-loop integrator, upward over-speed
  double brake_dn_i_ = 0;  ///< speed-loop integrator, downward over-speed
  double torque_pct_ = 0;
  double temperature_c_;
  double bus_voltage_v_;
  double regen_w_ = 0;
  double supply_ripple_v_ = 0;
  MsOscillator bus_slow_{0.7, 0.0}, bus_fast_{13.3, 0.0}, supply_{100.0, 0.3};
};

}  // namespace soleus::sim
