#include "soleus/app/modbus_machine_io.hpp"

#include <utility>

namespace soleus::app {

using drivers::BusResult;

namespace {
std::unique_ptr<drivers::Bus> connected_modbus(const drivers::TransportConfig& t) {
  auto bus = std::make_unique<drivers::ModbusBus>(t);
  (void)bus->connect();
  return bus;
}
}  // namespace

ModbusMachineIo::ModbusMachineIo(const drivers::MachineConfig& cfg)
    : ModbusMachineIo(cfg, connected_modbus(cfg.transport)) {}

ModbusMachineIo::ModbusMachineIo(const drivers::MachineConfig& cfg, std::unique_ptr<drivers::Bus> bus)
    : bus_(std::move(bus)),
      drive_(drivers::make_modbus_drive(*bus_, cfg)),
      cell_(drivers::make_modbus_load_cell(*bus_, cfg)),
      comm_loss_code_(cfg.drive.comm_loss_fault_code) {}

void ModbusMachineIo::exchange(const drivers::DriveCommand& cmd, controller::MachineInputs& in, bool read_cell) {
  ++io_.cycles;
  const BusResult rd = drive_->exchange(cmd, in.drive);
  in.drive_ok = rd == BusResult::Ok;
  if (!in.drive_ok) ++io_.drive_errors;
  in.cell_skipped = !read_cell;
  if (!read_cell) {
    in.cell_ok = false;
  } else if (in.drive_ok || bus_->connected()) {
    const BusResult rc = cell_->read(in.cell);
    in.cell_ok = rc == BusResult::Ok;
  } else {
    in.cell_ok = false;
  }
  if (!in.cell_ok && read_cell) ++io_.cell_errors;
  // A new link (first connect or reconnect) needs the drive armed again.
  const bool now = bus_->connected();
  if (now && !was_connected_) ++generation_;
  was_connected_ = now;
  in.link_generation = generation_;
}

bool ModbusMachineIo::arm(const drivers::DriveSetup& setup, std::string& detail) {
  return drive_->configure(setup, detail) == BusResult::Ok;
}

controller::SetupCheck ModbusMachineIo::verify_setup(std::string& detail) {
  const BusResult r = drive_->verify_setup(detail);
  if (r == BusResult::Ok) return controller::SetupCheck::Same;
  return r == BusResult::BadValue ? controller::SetupCheck::Differs : controller::SetupCheck::NoAnswer;
}

bool ModbusMachineIo::start_cell_command(CellCommand c, std::string& detail) {
  const auto r = cell_->start_command(c == CellCommand::Tare ? drivers::LoadCell::CellCommand::Tare
                                                             : drivers::LoadCell::CellCommand::ClearOverload);
  if (r != BusResult::Ok)
    detail = std::string(c == CellCommand::Tare ? "load-cell tare" : "clearing the overload latch") +
             " could not be written: " + drivers::to_string(r);
  return r == BusResult::Ok;
}

controller::MachineIo::CellPoll ModbusMachineIo::poll_cell_command(std::string& detail) {
  BusResult err = BusResult::Ok;
  switch (cell_->poll_command(err)) {
    case drivers::LoadCell::Poll::Done: return CellPoll::Done;
    case drivers::LoadCell::Poll::Busy: return CellPoll::Busy;
    case drivers::LoadCell::Poll::Failed: break;
  }
  detail = std::string("reading the load cell's COMMAND: ") + drivers::to_string(err);
  return CellPoll::Failed;
}

std::string ModbusMachineIo::fault_name(int code) const { return drive_->fault_name(code); }

controller::IoStats ModbusMachineIo::stats() const {
  controller::IoStats s = io_;
  const auto& b = bus_->stats();
  s.transactions = b.transactions;
  s.timeouts = b.timeouts;
  s.crc_errors = b.crc_errors;
  s.reconnects = b.reconnects;
  s.bytes_tx = b.bytes_tx;
  s.bytes_rx = b.bytes_rx;
  return s;
}

}  // namespace soleus::app
