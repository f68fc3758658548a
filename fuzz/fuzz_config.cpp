// Fuzz target: soleusd's configuration loader, app::load_daemon_config() (the
// whole file: [transport] [units] [drive] [load_cell] [mechanics] [limits] by
// drivers/src/machine_config.cpp, [control] [training] by
// controller/src/config.cpp, [storage], [hmi], [log], and the rules that span
// sections), exactly as `soleusd --check-config FILE` runs it.
//
// Input: the text of the file (written to a temporary file and loaded).
// Checked:
//  - the only failure is a config::ConfigError that names this file and says
//    what is wrong (soleusd catches nothing else: any other exception would
//    end it without a located message);
//  - an accepted configuration keeps the rules the daemon relies on: the hard
//    cap, the watchdog armed and longer than 3 loop periods and than the
//    comm-loss window, a failed transaction shorter than a period, setpoints
//    within limits.max_load_n, the HMI's copy of max_load_n, distinct unit ids,
//    no two signals of a device sharing a register, and everything finite;
//  - the drivers take it: ServoDrive and LoadCell are constructed from it
//    without complaint, and the setup that the limits ask for (TORQUE_LIMIT,
//    SPEED_LIMIT, TORQUE_SLEW, COMM_TIMEOUT) can be written to the drive and
//    read back (a drive that answers faithfully arms), so that a file
//    `--check-config` accepts never stops soleusd at start-up.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <string>

#include "check.hpp"
#include "soleus/app/daemon_config.hpp"
#include "soleus/common/config_reader.hpp"
#include "soleus/common/log.hpp"
#include "soleus/drivers/devices.hpp"

using namespace soleus;
using namespace soleus::drivers;

namespace {

/// A drive and load cell that hold what is written and read it back.
class EchoBus final : public Bus {
 public:
  bool connected() const override { return true; }
  BusResult read_holding(int unit, int address, std::span<std::uint16_t> out) override {
    for (std::size_t k = 0; k < out.size(); ++k)
      out[k] = mem_[{unit, address + static_cast<int>(k)}];
    return BusResult::Ok;
  }
  BusResult read_input(int unit, int address, std::span<std::uint16_t> out) override {
    return read_holding(unit, address, out);
  }
  BusResult read_coils(int, int, std::span<std::uint8_t> out) override {
    for (auto& b : out) b = 0;
    return BusResult::Ok;
  }
  BusResult read_discrete(int u, int a, std::span<std::uint8_t> out) override {
    return read_coils(u, a, out);
  }
  BusResult write_register(int unit, int address, std::uint16_t value) override {
    mem_[{unit, address}] = value;
    return BusResult::Ok;
  }
  BusResult write_registers(int unit, int address, std::span<const std::uint16_t> v) override {
    for (std::size_t k = 0; k < v.size(); ++k) mem_[{unit, address + static_cast<int>(k)}] = v[k];
    return BusResult::Ok;
  }
  BusResult write_coil(int, int, bool) override { return BusResult::Ok; }
  BusResult write_and_read(int unit, int wa, std::span<const std::uint16_t> v, int ra,
                           std::span<std::uint16_t> out) override {
    if (const BusResult w = write_registers(unit, wa, v); w != BusResult::Ok) return w;
    return read_holding(unit, ra, out);
  }
  const BusStats& stats() const override { return stats_; }
  const TransportConfig& config() const override { return cfg_; }
  const std::string& last_error() const override { return error_; }

 private:
  std::map<std::pair<int, int>, std::uint16_t> mem_;
  BusStats stats_;
  TransportConfig cfg_;
  std::string error_;
};

const std::string& temp_path() {
  static const std::string path = [] {
    char dir[] = "/tmp/soleus-fuzz-config-XXXXXX";
    if (!mkdtemp(dir)) std::abort();
    return std::string(dir) + "/soleus.toml";
  }();
  return path;
}

void check_no_overlaps(const std::vector<const SignalSpec*>& signals, const char* what) {
  for (std::size_t i = 0; i < signals.size(); ++i)
    for (std::size_t j = i + 1; j < signals.size(); ++j) {
      const SignalSpec& a = *signals[i];
      const SignalSpec& b = *signals[j];
      if (!a.present || !b.present || a.table != b.table) continue;
      FUZZ_CHECK(a.end() <= b.address || b.end() <= a.address, what);
    }
}

void check_accepted(const app::DaemonConfig& c) {
  const MachineConfig& m = c.machine;
  const machine::Limits& l = m.limits;
  FUZZ_CHECK(l.max_load_n > 0 && l.max_load_n <= machine::kHardCapN,
             "accepted a max_load_n above the hard cap");
  const double period_ms = 1000.0 / c.control.loop_hz;
  FUZZ_CHECK(std::isfinite(period_ms) && period_ms > 0, "accepted a loop rate that is not a rate");
  FUZZ_CHECK(l.watchdog_ms >= 1 && l.watchdog_ms >= 3 * period_ms,
             "accepted a drive watchdog off or under 3 periods");
  FUZZ_CHECK(c.control.comm_loss_window_ms < l.watchdog_ms,
             "accepted a comm-loss window longer than the watchdog");
  FUZZ_CHECK(m.transport.response_timeout_ms * (1 + m.transport.retries) < period_ms,
             "accepted a failed transaction longer than a loop period");
  FUZZ_CHECK(c.control.overspeed_mm_s > l.max_speed_mm_s,
             "accepted an overspeed at or below the speed limit");
  FUZZ_CHECK(c.control.move_max_force_n <= l.max_load_n, "accepted a move force above max_load_n");
  FUZZ_CHECK(c.training.min_load_n <= l.max_load_n && c.training.calibration_load_n <= l.max_load_n,
             "accepted a training load above max_load_n");
  FUZZ_CHECK(c.hmi.max_load_n == l.max_load_n, "the HMI's max_load_n is not the machine's");
  FUZZ_CHECK(c.hmi.guest_load_cap_n >= 0 && c.hmi.guest_load_cap_n <= l.max_load_n,
             "accepted a guest load cap above max_load_n");
  FUZZ_CHECK(m.units.drive != m.units.load_cell,
             "accepted one unit id for the drive and the load cell");
  for (double v : {l.max_speed_mm_s, l.max_slew_n_per_s, m.mechanics.rated_torque_nm,
                   m.mechanics.screw_lead_mm, m.mechanics.efficiency, m.mechanics.counts_per_mm,
                   m.mechanics.travel_max_mm, c.control.stale_cell_ms,
                   c.control.implausible_force_n, c.training.floor_fade_mm})
    FUZZ_CHECK(std::isfinite(v) && v >= 0, "accepted a value that is not finite or is negative");
  const DriveMap& d = m.drive;
  check_no_overlaps({&d.control, &d.torque_cmd, &d.speed_limit, &d.torque_slew, &d.comm_timeout,
                     &d.torque_limit, &d.status, &d.fault_code, &d.position, &d.speed,
                     &d.torque_actual, &d.temperature, &d.bus_voltage},
                    "accepted two drive signals sharing a register");
  const LoadCellMap& lc = m.load_cell;
  check_no_overlaps({&lc.force, &lc.status, &lc.sample_counter, &lc.command, &lc.filter},
                    "accepted two load-cell signals sharing a register");

  // The drivers take it, and the drive arms with the setup the limits ask for.
  EchoBus bus;
  std::unique_ptr<ServoDrive> drive;
  std::unique_ptr<LoadCell> cell;
  try {
    drive = make_modbus_drive(bus, m);
    cell = make_modbus_load_cell(bus, m);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "drivers refused an accepted configuration: %s\n", e.what());
    FUZZ_CHECK(false, "--check-config accepts a register map that the drivers refuse at start-up");
  }
  std::string detail;
  const BusResult r = drive->configure(machine::DriveSetup::from_limits(l), detail);
  if (r != BusResult::Ok) std::fprintf(stderr, "configure: %s: %s\n", to_string(r), detail.c_str());
  FUZZ_CHECK(r == BusResult::Ok,
             "--check-config accepts limits that the drive's setup registers cannot hold");
  machine::DriveStatus st;
  const BusResult rs = drive->exchange(machine::DriveCommand{}, st);
  FUZZ_CHECK(rs == BusResult::Ok || rs == BusResult::BadValue,
             "exchange over a perfect bus failed");
  machine::LoadCellSample sample;
  const BusResult rc = cell->read(sample);
  FUZZ_CHECK(rc == BusResult::Ok || rc == BusResult::BadValue,
             "load-cell read over a perfect bus failed");
  (void)app::describe(c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    log::set_level(log::Level::Error);
    return true;
  }();
  (void)quiet;
  const std::string& path = temp_path();
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  app::DaemonConfig cfg;
  try {
    cfg = app::load_daemon_config(path);
  } catch (const config::ConfigError& e) {
    FUZZ_CHECK(e.file() == path, "a ConfigError that names another file");
    FUZZ_CHECK(!e.message().empty(), "a ConfigError that does not say what is wrong");
    FUZZ_CHECK(e.line() >= 0, "a ConfigError at a negative line");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load_daemon_config threw %s\n", e.what());
    FUZZ_CHECK(false, "the configuration loader threw something other than a ConfigError");
  }
  check_accepted(cfg);
  return 0;
}
