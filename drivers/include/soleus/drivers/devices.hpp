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
#include "soleus/machine/units.hpp"

namespace soleus::drivers {

class ServoDrive {
 public:
  virtual ~ServoDrive() = default;
  /// Writes the setup and reads it back. Anything but Ok means the motor must
  /// not be enabled. `detail` receives a readable reason on failure.
  virtual BusResult configure(const machine::DriveSetup& setup, std::string& detail) = 0;
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
  virtual BusResult exchange(const machine::DriveCommand& cmd, machine::DriveStatus& out) = 0;
  /// Reads the status without writing a command.
  virtual BusResult read_status(machine::DriveStatus& out) = 0;
  /// Readable name of a fault code ("communication loss").
  virtual std::string fault_name(int code) const = 0;
};

class LoadCell {
 public:
  virtual ~LoadCell() = default;
  virtual BusResult read(machine::LoadCellSample& out) = 0;
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
