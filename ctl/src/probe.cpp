#include "probe.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "soleus/drivers/devices.hpp"
#include "soleus/hmi/views.hpp"  // number(), write_json(): the one serializer

namespace soleus::ctl {
namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

std::string flags(const machine::DriveStatus& d) {
  std::string s;
  auto add = [&](bool b, const char* n) {
    if (b) s += (s.empty() ? "" : ",") + std::string(n);
  };
  add(d.ready, "READY");
  add(d.enabled, "ENABLED");
  add(d.fault, "FAULT");
  add(d.sto, "STO");
  add(d.speed_limited, "SPEED_LIM");
  add(d.torque_limited, "TORQUE_LIM");
  return s.empty() ? "-" : s;
}
std::string flags(const machine::LoadCellSample& c) {
  std::string s;
  auto add = [&](bool b, const char* n) {
    if (b) s += (s.empty() ? "" : ",") + std::string(n);
  };
  add(c.stable, "STABLE");
  add(c.overload, "OVERLOAD");
  add(c.adc_error, "ADC_ERROR");
  add(c.tare_busy, "TARE_BUSY");
  return s.empty() ? "-" : s;
}
}  // namespace

int probe_machine(const drivers::MachineConfig& cfg, const ProbeOptions& opt, std::ostream& out) {
  g_stop = false;
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);
  drivers::ModbusBus bus(cfg.transport);
  auto drive = drivers::make_modbus_drive(bus, cfg);
  auto cell = drivers::make_modbus_load_cell(bus, cfg);
  (void)bus.connect();

  int samples = 0, good = 0;
  bool header = false;
  auto next = std::chrono::steady_clock::now();
  while (!g_stop && (opt.count == 0 || samples < opt.count)) {
    machine::DriveStatus d;
    machine::LoadCellSample c;
    const auto before = bus.stats();
    const drivers::BusResult rd = drive->read_status(d);
    const drivers::BusResult rc = cell->read(c);
    const auto after = bus.stats();
    ++samples;
    if (rd == drivers::BusResult::Ok && rc == drivers::BusResult::Ok) ++good;
    std::ostringstream line;
    line << std::fixed;
    if (opt.json) {
      // Numbers to 3 decimals, a non-finite one (a garbled register) as null.
      namespace json = boost::json;
      const json::object o{
          {"sample", samples},
          {"drive_ok", rd == drivers::BusResult::Ok},
          {"drive_result", drivers::to_string(rd)},
          {"ready", d.ready},
          {"enabled", d.enabled},
          {"fault", d.fault},
          {"sto", d.sto},
          {"fault_code", d.fault_code},
          {"fault_name", drive->fault_name(d.fault_code)},
          {"position_mm", hmi::number(d.position_mm)},
          {"velocity_mm_s", hmi::number(d.velocity_mm_s)},
          {"torque_pct", hmi::number(d.torque_pct)},
          {"motor_force_n", hmi::number(d.force_n)},
          {"temperature_c", hmi::number(d.temperature_c)},
          {"bus_voltage_v", hmi::number(d.bus_voltage_v)},
          {"cell_ok", rc == drivers::BusResult::Ok},
          {"cell_result", drivers::to_string(rc)},
          {"force_n", hmi::number(c.force_n)},
          {"stable", c.stable},
          {"overload", c.overload},
          {"adc_error", c.adc_error},
          {"counter", c.counter},
          {"transactions", after.transactions - before.transactions},
          {"bytes", after.bytes_tx + after.bytes_rx - before.bytes_tx - before.bytes_rx},
          {"timeouts_total", after.timeouts}};
      out << hmi::write_json(o) << '\n';
    } else {
      if (!header) {
        out << "  pos mm  vel mm/s  motor N  torque %   cell N  counter  drive flags            "
               "fault                 temp C  bus V  cell flags   tx/cycle\n";
        header = true;
      }
      line << std::setprecision(1);
      if (rd == drivers::BusResult::Ok)
        line << std::setw(8) << d.position_mm << std::setw(10) << d.velocity_mm_s << std::setw(9)
             << d.force_n << std::setw(10) << d.torque_pct;
      else line << std::setw(37) << (std::string("drive: ") + drivers::to_string(rd));
      if (rc == drivers::BusResult::Ok)
        line << std::setw(9) << c.force_n << std::setw(9) << c.counter;
      else line << std::setw(18) << (std::string("cell: ") + drivers::to_string(rc));
      line << "  " << std::left << std::setw(22) << flags(d) << std::setw(22)
           << (std::to_string(d.fault_code) + " " + drive->fault_name(d.fault_code)) << std::right
           << std::setw(6) << d.temperature_c << std::setw(7) << d.bus_voltage_v << "  "
           << std::left << std::setw(12) << flags(c) << std::right << std::setw(3)
           << (after.transactions - before.transactions);
      out << line.str() << '\n';
    }
    out.flush();
    next += std::chrono::microseconds(static_cast<long>(opt.interval_ms * 1000));
    std::this_thread::sleep_until(next);
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  if (good == 0) return 3;
  return good == samples ? 0 : 4;
}

}  // namespace soleus::ctl
