#include "soleus/drivers/modbus_machine_io.hpp"

#include <utility>

namespace soleus::drivers {

namespace {
std::unique_ptr<Bus> connected_modbus(const TransportConfig& t) {
  auto bus = std::make_unique<ModbusBus>(t);
  (void)bus->connect();
  return bus;
}
}  // namespace

ModbusMachineIo::ModbusMachineIo(const MachineConfig& cfg)
    : ModbusMachineIo(cfg, connected_modbus(cfg.transport)) {}

ModbusMachineIo::ModbusMachineIo(const MachineConfig& cfg, std::unique_ptr<Bus> bus)
    : bus_(std::move(bus)),
      drive_(make_modbus_drive(*bus_, cfg)),
      cell_(make_modbus_load_cell(*bus_, cfg)),
      comm_loss_code_(cfg.drive.comm_loss_fault_code) {}

void ModbusMachineIo::exchange(const machine::DriveCommand& cmd, machine::MachineInputs& in,
                               bool read_cell) {
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

bool ModbusMachineIo::arm(const machine::DriveSetup& setup, std::string& detail) {
  return drive_->configure(setup, detail) == BusResult::Ok;
}

machine::SetupCheck ModbusMachineIo::verify_setup(std::string& detail) {
  const BusResult r = drive_->verify_setup(detail);
  if (r == BusResult::Ok) return machine::SetupCheck::Same;
  return r == BusResult::BadValue ? machine::SetupCheck::Differs : machine::SetupCheck::NoAnswer;
}

bool ModbusMachineIo::start_cell_command(CellCommand c, std::string& detail) {
  const auto r = cell_->start_command(
      c == CellCommand::Tare ? LoadCell::CellCommand::Tare : LoadCell::CellCommand::ClearOverload);
  if (r != BusResult::Ok)
    detail =
        std::string(c == CellCommand::Tare ? "load-cell tare" : "clearing the overload latch") +
        " could not be written: " + to_string(r);
  return r == BusResult::Ok;
}

machine::MachineIo::CellPoll ModbusMachineIo::poll_cell_command(std::string& detail) {
  BusResult err = BusResult::Ok;
  switch (cell_->poll_command(err)) {
    case LoadCell::Poll::Done: return CellPoll::Done;
    case LoadCell::Poll::Busy: return CellPoll::Busy;
    case LoadCell::Poll::Failed: break;
  }
  detail = std::string("reading the load cell's COMMAND: ") + to_string(err);
  return CellPoll::Failed;
}

std::string ModbusMachineIo::fault_name(int code) const { return drive_->fault_name(code); }

machine::IoStats ModbusMachineIo::stats() const {
  machine::IoStats s = io_;
  const auto& b = bus_->stats();
  s.transactions = b.transactions;
  s.timeouts = b.timeouts;
  s.crc_errors = b.crc_errors;
  s.reconnects = b.reconnects;
  s.bytes_tx = b.bytes_tx;
  s.bytes_rx = b.bytes_rx;
  return s;
}

}  // namespace soleus::drivers
