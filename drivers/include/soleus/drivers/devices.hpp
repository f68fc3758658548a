#pragma once
/// Typed device interfaces. Everything above the drivers sees N, mm, mm/s, °C,
/// V, flags and fault codes, never registers. Another drive protocol (a CiA 402
/// state machine, say) is another ServoDrive implementation behind the same
/// interface; the controller does not change.
#include <cstdint>
#include <memory>
#include <string>

#include "soleus/drivers/machine_config.hpp"
#include "soleus/drivers/modbus_bus.hpp"

namespace soleus::drivers {

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
  /// Force at the pad, N; positive pushes the pad down (resists the user).
  double force_n = 0;
  /// Friction direction for converting force to torque: true while the user
  /// drives the pad up.
  bool user_driving_up = false;
};

/// Static settings written at start-up and after every reconnect, and read back.
struct DriveSetup {
  /// Becomes TORQUE_LIMIT. Converted with the back-driven (user driving up)
  /// friction direction, where one unit of torque resists most (F = T·2π/lead/η),
  /// so the force at the pad stays ≤ this value in both directions.
  double torque_limit_n = 1800;
  double speed_limit_mm_s = 100;  ///< becomes SPEED_LIMIT (rpm)
  double slew_n_per_s = 6000;     ///< becomes TORQUE_SLEW (% of rated per ms, same direction rule)
  double watchdog_ms = 100;       ///< becomes COMM_TIMEOUT (ms); must not be 0
  /// The setup that the configured limits ask for.
  static DriveSetup from_limits(const Limits& limits);
};

class ServoDrive {
 public:
  virtual ~ServoDrive() = default;
  /// Writes the setup and reads it back. Anything but Ok means the motor must
  /// not be enabled. `detail` receives a readable reason on failure.
  virtual BusResult configure(const DriveSetup& setup, std::string& detail) = 0;
  /// Reads the setup registers back and compares them with what the last
  /// successful configure() wrote: Ok only if the drive still holds them all
  /// (a drive that restarted holds its power-up defaults; ICD "Power-up").
  /// BadValue (with `detail`) on a difference or when never configured.
  virtual BusResult verify_setup(std::string& detail) = 0;
  /// The torque slew the last successful configure() armed (as read back),
  /// as force at the pad per second in the direction that removes the least
  /// force per % (the motor driving): what a floor approach can count on.
  /// 0 when not armed or the map has no TORQUE_SLEW.
  virtual double armed_slew_n_per_s() const = 0;
  /// One control cycle: writes the command and reads the status, in as few
  /// transactions as the map allows (one FC 23 with a status mirror).
  virtual BusResult exchange(const DriveCommand& cmd, DriveStatus& out) = 0;
  /// Reads the status without writing a command.
  virtual BusResult read_status(DriveStatus& out) = 0;
  /// Readable name of a fault code ("communication loss").
  virtual std::string fault_name(int code) const = 0;
};

/// One cycle's view of the load cell.
struct LoadCellSample {
  double force_n = 0;  ///< compression (user pushing up) positive
  bool stable = false;
  bool overload = false;
  bool adc_error = false;
  bool tare_busy = false;
  std::uint32_t counter = 0;  ///< sample counter, wraps at LoadCellMap::counter_modulo
};

class LoadCell {
 public:
  virtual ~LoadCell() = default;
  virtual BusResult read(LoadCellSample& out) = 0;
  /// Blocking (polls up to 2 s; for tools, never inside the control loop).
  virtual BusResult tare() = 0;
  virtual BusResult clear_overload() = 0;
  virtual BusResult set_filter(int level) = 0;
  /// Non-blocking, for the control loop: writes COMMAND (tare or clear the
  /// overload latch) and returns; poll_command() then reads COMMAND once per
  /// call: Done when the transmitter has finished (reads 0), Busy while it
  /// works, Failed (with `err`) when the read failed or decoded to nothing.
  enum class CellCommand { Tare, ClearOverload };
  enum class Poll { Done, Busy, Failed };
  virtual BusResult start_command(CellCommand c) = 0;
  virtual Poll poll_command(BusResult& err) = 0;
};

/// The Modbus implementations, driven by the register map.
std::unique_ptr<ServoDrive> make_modbus_drive(Bus& bus, const MachineConfig& cfg);
std::unique_ptr<LoadCell> make_modbus_load_cell(Bus& bus, const MachineConfig& cfg);

}  // namespace soleus::drivers
