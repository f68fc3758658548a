#pragma once
/// The controller's MachineIo over Modbus: one bus (RTU or TCP) carrying the
/// servo drive and the load cell, driven entirely by the machine configuration.
///
/// Principle of operation:
///  1. exchange() is one control cycle: the drive's command write and status
///     read (one FC 23 on the reference map), then the load cell (one FC 04).
///     With the drive unreachable the load cell is not tried in the same
///     cycle, so a dead bus costs one timeout a cycle, not two.
///  2. link_generation counts the (re)connections the bus has made; the
///     control loop re-arms the drive whenever it changes.
///  3. Owned and called by the control thread only.
///  4. The bus is a Bus: a ModbusBus made from the configuration's
///     transport, or any other transport handed in (the proving ground's
///     in-process bus over the simulator's register tables).
#include <memory>

#include "soleus/drivers/devices.hpp"
#include "soleus/machine/machine_io.hpp"

namespace soleus::drivers {

class ModbusMachineIo final : public machine::MachineIo {
 public:
  /// A ModbusBus over cfg.transport, connected at once.
  explicit ModbusMachineIo(const MachineConfig& cfg);
  /// Over a given bus (already connected, or connecting on its own).
  ModbusMachineIo(const MachineConfig& cfg, std::unique_ptr<Bus> bus);
  using machine::MachineIo::exchange;
  void exchange(const machine::DriveCommand& cmd, machine::MachineInputs& in,
                bool read_cell) override;
  [[nodiscard]] bool arm(const machine::DriveSetup& setup, std::string& detail) override;
  [[nodiscard]] machine::SetupCheck verify_setup(std::string& detail) override;
  [[nodiscard]] bool start_cell_command(CellCommand c, std::string& detail) override;
  [[nodiscard]] CellPoll poll_cell_command(std::string& detail) override;
  int comm_loss_fault_code() const override { return comm_loss_code_; }
  double armed_slew_n_per_s() const override { return drive_->armed_slew_n_per_s(); }
  std::string fault_name(int code) const override;
  machine::IoStats stats() const override;
  const BusStats& bus_stats() const { return bus_->stats(); }

 private:
  std::unique_ptr<Bus> bus_;
  std::unique_ptr<ServoDrive> drive_;
  std::unique_ptr<LoadCell> cell_;
  machine::IoStats io_;
  std::uint32_t generation_ = 0;
  bool was_connected_ = false;
  int comm_loss_code_ = 6;
};

}  // namespace soleus::drivers
