// Fuzz target: decoding of the drive's status and the load cell's sample, and
// the words the drive driver writes (drivers/src/modbus_devices.cpp), through
// the real ServoDrive and LoadCell over a fake drivers::Bus.
//
// Input: which shipped configuration (config/*.toml) gives the register map,
// then a sequence of operations (exchange with a command, read_status, load
// cell read, configure, set_filter). The bus answers every read with register
// memory (what was written) XOR words taken from the input, so both garbage
// and faithful replies occur; one byte per transaction may turn it into a
// timeout, CRC error, exception or disconnect.
//
// Checked after every operation:
//  - a status or sample that is returned Ok holds only finite, plausible
//    values, and they are exactly what the served words say (decoded here
//    from the words the bus served at each signal's address, so a read plan
//    that takes the wrong words is caught); anything else is refused, and a
//    refused read leaves the caller's struct as it was;
//  - the control word written enables the drive only when asked (and never
//    with a fault reset), sets QUICK_STOP exactly when asked, writes zero
//    torque when not enabled or quick-stopping, and the torque asked for
//    otherwise; a non-finite force writes nothing; FAULT_RESET is never 1 in
//    two control words in a row (each reset is a fresh 0->1 edge);
//  - configure() returns Ok only when every setup register read back holds
//    what was written, with COMM_TIMEOUT armed (>= 1 ms) and a TORQUE_LIMIT
//    that allows no more than limits.max_load_n at the pad.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "check.hpp"
#include "input.hpp"
#include "soleus/common/config_reader.hpp"
#include "soleus/common/log.hpp"
#include "soleus/drivers/devices.hpp"

using namespace soleus;
using namespace soleus::drivers;

namespace {

struct Write {
  int address;
  std::vector<std::uint16_t> words;
};

/// A bus whose replies come from the fuzz input.
class FuzzBus final : public Bus {
 public:
  explicit FuzzBus(const MachineConfig& cfg) : cfg_(cfg.transport) {}
  Input* in = nullptr;
  /// (table, address) -> word served by reads during the current operation.
  std::map<std::pair<Table, int>, std::uint16_t> served;
  /// Writes to holding registers attempted during the current operation.
  std::vector<Write> writes;
  std::map<std::pair<int, int>, std::uint16_t>
      holding;  ///< (unit, address) -> what the device holds

  bool connected() const override { return true; }
  BusResult read_holding(int unit, int address, std::span<std::uint16_t> out) override {
    return read_words(unit, Table::Holding, address, out);
  }
  BusResult read_input(int unit, int address, std::span<std::uint16_t> out) override {
    return read_words(unit, Table::Input, address, out);
  }
  BusResult read_coils(int, int address, std::span<std::uint8_t> out) override {
    return read_bits(Table::Coil, address, out);
  }
  BusResult read_discrete(int, int address, std::span<std::uint8_t> out) override {
    return read_bits(Table::Discrete, address, out);
  }
  BusResult write_register(int unit, int address, std::uint16_t value) override {
    return write(unit, address, std::span<const std::uint16_t>(&value, 1));
  }
  BusResult write_registers(int unit, int address, std::span<const std::uint16_t> v) override {
    return write(unit, address, v);
  }
  BusResult write_coil(int, int, bool) override { return outcome(); }
  BusResult write_and_read(int unit, int write_address, std::span<const std::uint16_t> values,
                           int read_address, std::span<std::uint16_t> out) override {
    const BusResult r = write(unit, write_address, values);
    if (r != BusResult::Ok) return r;
    return read_words(unit, Table::Holding, read_address, out, false);
  }
  const BusStats& stats() const override { return stats_; }
  const TransportConfig& config() const override { return cfg_; }
  const std::string& last_error() const override { return error_; }

 private:
  /// One byte per transaction: mostly Ok, sometimes a failure of each kind.
  BusResult outcome() {
    const auto b = in->u8();
    if (b < 240) return BusResult::Ok;
    static constexpr BusResult kFailures[] = {BusResult::Timeout, BusResult::CrcError,
                                              BusResult::FramingError, BusResult::Exception,
                                              BusResult::Disconnected};
    return kFailures[b % std::size(kFailures)];
  }
  BusResult write(int unit, int address, std::span<const std::uint16_t> v) {
    writes.push_back({address, std::vector<std::uint16_t>(v.begin(), v.end())});
    const BusResult r = outcome();
    // A failed write may or may not have reached the device; here it did not.
    if (r == BusResult::Ok)
      for (std::size_t k = 0; k < v.size(); ++k)
        holding[{unit, address + static_cast<int>(k)}] = v[k];
    return r;
  }
  BusResult read_words(int unit, Table t, int address, std::span<std::uint16_t> out,
                       bool decide = true) {
    if (decide) {
      const BusResult r = outcome();
      if (r != BusResult::Ok) return r;
    }
    for (std::size_t k = 0; k < out.size(); ++k) {
      const int a = address + static_cast<int>(k);
      const auto it = holding.find({unit, a});
      const std::uint16_t mem = t == Table::Holding && it != holding.end() ? it->second : 0;
      out[k] = mem ^ in->u16();
      served[{t, a}] = out[k];
    }
    return BusResult::Ok;
  }
  BusResult read_bits(Table t, int address, std::span<std::uint8_t> out) {
    const BusResult r = outcome();
    if (r != BusResult::Ok) return r;
    for (std::size_t k = 0; k < out.size(); ++k) {
      out[k] = in->u8() & 1;
      served[{t, address + static_cast<int>(k)}] = out[k];
    }
    return BusResult::Ok;
  }

  TransportConfig cfg_;
  BusStats stats_;
  std::string error_;
};

std::vector<MachineConfig>& configs() {
  static std::vector<MachineConfig> all = [] {
    log::set_level(log::Level::Error);
    std::vector<MachineConfig> v;
    for (const char* name :
         {"reference-rtu.toml", "reference-tcp.toml", "sim.toml", "sim-vendor-b.toml"}) {
      const auto doc =
          config::Document::parse_file(std::string(SOLEUS_SOURCE_DIR) + "/config/" + name);
      v.push_back(MachineConfig::parse(doc.root()));
    }
    return v;
  }();
  return all;
}

bool same(const machine::DriveStatus& a, const machine::DriveStatus& b) {
  return a.ready == b.ready && a.enabled == b.enabled && a.fault == b.fault && a.sto == b.sto &&
         a.speed_limited == b.speed_limited && a.torque_limited == b.torque_limited &&
         a.fault_code == b.fault_code && a.position_mm == b.position_mm &&
         a.velocity_mm_s == b.velocity_mm_s && a.torque_pct == b.torque_pct &&
         a.force_n == b.force_n && a.temperature_c == b.temperature_c &&
         a.bus_voltage_v == b.bus_voltage_v;
}
bool same(const machine::LoadCellSample& a, const machine::LoadCellSample& b) {
  return a.force_n == b.force_n && a.stable == b.stable && a.overload == b.overload &&
         a.adc_error == b.adc_error && a.tare_busy == b.tare_busy && a.counter == b.counter;
}

bool close(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)});
}

/// Where the words of a status signal were served: the mirror, or its own table.
struct Words {
  const FuzzBus& bus;
  int mirror;  ///< status_mirror_address, -1 for none
  int lo;      ///< lowest address of the mirrored status block
  std::optional<std::vector<std::uint16_t>> of(const SignalSpec& s) const {
    std::vector<std::uint16_t> w;
    for (int k = 0; k < s.words(); ++k) {
      const auto key = mirror >= 0 ? std::pair{Table::Holding, mirror + s.address - lo + k}
                                   : std::pair{s.table, s.address + k};
      auto it = bus.served.find(key);
      if (it == bus.served.end()) return std::nullopt;
      w.push_back(it->second);
    }
    return w;
  }
};

/// An integral raw value within [0, 0xFFFF], as status words and codes must be.
std::optional<std::int64_t> word_value(const SignalSpec& s, const std::vector<std::uint16_t>& w) {
  const auto v = decode_raw(s, w);
  if (!v || *v != std::floor(*v) || *v < 0 || *v > 0xFFFF) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

/// The status the served words stand for, or nullopt when some signal is
/// missing, not finite or implausible (then the driver must refuse).
std::optional<machine::DriveStatus> expected_status(const MachineConfig& c, const Words& words) {
  const DriveMap& m = c.drive;
  const machine::Mechanics& mech = c.mechanics;
  machine::DriveStatus s;
  auto w = words.of(m.status);
  if (!w) return std::nullopt;
  const auto sw = word_value(m.status, *w);
  if (!sw) return std::nullopt;
  auto bit = [&](int b) { return ((*sw >> b) & 1) != 0; };
  s.ready = bit(m.bit_ready), s.enabled = bit(m.bit_enabled), s.fault = bit(m.bit_fault);
  s.sto = bit(m.bit_sto), s.speed_limited = bit(m.bit_speed_limited),
  s.torque_limited = bit(m.bit_torque_limited);
  if (m.fault_code.present) {
    w = words.of(m.fault_code);
    const auto fc = w ? word_value(m.fault_code, *w) : std::nullopt;
    if (!fc) return std::nullopt;
    s.fault_code = static_cast<int>(*fc);
  }
  auto eng = [&](const SignalSpec& sp) -> std::optional<double> {
    const auto ww = words.of(sp);
    return ww ? decode(sp, *ww) : std::nullopt;
  };
  const auto counts = eng(m.position);
  if (!counts) return std::nullopt;
  s.position_mm = *counts / mech.counts_per_mm * (m.position_positive_up ? 1 : -1);
  if (!(std::fabs(s.position_mm) <= std::max(1000.0, 10 * mech.travel_max_mm))) return std::nullopt;
  if (m.speed.present) {
    const auto rpm = eng(m.speed);
    if (!rpm) return std::nullopt;
    s.velocity_mm_s = *rpm / 60.0 * mech.screw_lead_mm * (m.speed_positive_up ? 1 : -1);
    if (!(std::fabs(s.velocity_mm_s) <= 10000.0)) return std::nullopt;
  }
  if (m.torque_actual.present) {
    const auto pct = eng(m.torque_actual);
    if (!pct || !(std::fabs(*pct) <= 1000.0)) return std::nullopt;
    s.torque_pct = m.torque_positive_down ? *pct : -*pct;
    s.force_n = mech.force_from_torque_pct(s.torque_pct, s.velocity_mm_s > 0);
  }
  if (m.temperature.present) {
    const auto t = eng(m.temperature);
    if (!t || !(*t >= -60 && *t <= 250)) return std::nullopt;
    s.temperature_c = *t;
  }
  if (m.bus_voltage.present) {
    const auto v = eng(m.bus_voltage);
    if (!v || !(*v >= 0 && *v <= 2000)) return std::nullopt;
    s.bus_voltage_v = *v;
  }
  return s;
}

void check_status(const MachineConfig& c, const FuzzBus& bus, BusResult r,
                  const machine::DriveStatus& got, const machine::DriveStatus& before) {
  int lo = 1 << 30;
  for (const auto* sp : {&c.drive.status, &c.drive.fault_code, &c.drive.position, &c.drive.speed,
                         &c.drive.torque_actual, &c.drive.temperature, &c.drive.bus_voltage})
    if (sp->present) lo = std::min(lo, sp->address);
  const Words words{bus, c.drive.status_mirror_address, lo};
  if (r != BusResult::Ok) {
    FUZZ_CHECK(same(got, before), "drive: a refused status changed the caller's struct");
    if (r == BusResult::BadValue)
      FUZZ_CHECK(!expected_status(c, words),
                 "drive: refused a status whose words are all plausible");
    return;
  }
  for (double v : {got.position_mm, got.velocity_mm_s, got.torque_pct, got.force_n,
                   got.temperature_c, got.bus_voltage_v})
    FUZZ_CHECK(std::isfinite(v), "drive: a non-finite value in an accepted status");
  FUZZ_CHECK(got.fault_code >= 0 && got.fault_code <= 0xFFFF, "drive: fault code out of range");
  const auto want = expected_status(c, words);
  FUZZ_CHECK(want.has_value(), "drive: accepted a status with a missing or implausible signal");
  FUZZ_CHECK(got.ready == want->ready && got.enabled == want->enabled && got.fault == want->fault &&
                 got.sto == want->sto && got.speed_limited == want->speed_limited &&
                 got.torque_limited == want->torque_limited,
             "drive: status bits differ from the served status word");
  FUZZ_CHECK(got.fault_code == want->fault_code, "drive: fault code differs from the served words");
  FUZZ_CHECK(close(got.position_mm, want->position_mm),
             "drive: position differs from the served words");
  FUZZ_CHECK(close(got.velocity_mm_s, want->velocity_mm_s),
             "drive: velocity differs from the served words");
  FUZZ_CHECK(close(got.torque_pct, want->torque_pct) && close(got.force_n, want->force_n),
             "drive: torque differs from the served words");
  FUZZ_CHECK(close(got.temperature_c, want->temperature_c),
             "drive: temperature differs from the served words");
  FUZZ_CHECK(close(got.bus_voltage_v, want->bus_voltage_v),
             "drive: bus voltage differs from the served words");
}

void check_sample(const MachineConfig& c, const FuzzBus& bus, BusResult r,
                  const machine::LoadCellSample& got, const machine::LoadCellSample& before) {
  const LoadCellMap& m = c.load_cell;
  const Words words{bus, -1, 0};
  // What the served words stand for, or nullopt when the cell must refuse.
  auto want = [&]() -> std::optional<machine::LoadCellSample> {
    machine::LoadCellSample s;
    const auto fw = words.of(m.force);
    const auto f = fw ? decode(m.force, *fw) : std::nullopt;
    if (!f || !(std::fabs(*f) <= 100000.0)) return std::nullopt;
    s.force_n = m.compression_positive ? *f : -*f;
    if (m.status.present) {
      const auto sw = words.of(m.status);
      const auto v = sw ? word_value(m.status, *sw) : std::nullopt;
      if (!v) return std::nullopt;
      s.stable = (*v >> m.bit_stable) & 1, s.overload = (*v >> m.bit_overload) & 1;
      s.adc_error = (*v >> m.bit_adc_error) & 1, s.tare_busy = (*v >> m.bit_tare_busy) & 1;
    }
    if (m.sample_counter.present) {
      const auto cw = words.of(m.sample_counter);
      const auto v = cw ? decode_raw(m.sample_counter, *cw) : std::nullopt;
      if (!v || *v != std::floor(*v) || *v < 0 || *v > 4294967295.0) return std::nullopt;
      s.counter = static_cast<std::uint32_t>(static_cast<std::int64_t>(*v) % m.counter_modulo);
    }
    return s;
  }();
  if (r != BusResult::Ok) {
    FUZZ_CHECK(same(got, before), "load cell: a refused sample changed the caller's struct");
    if (r == BusResult::BadValue) FUZZ_CHECK(!want, "load cell: refused a plausible sample");
    return;
  }
  FUZZ_CHECK(std::isfinite(got.force_n) && std::fabs(got.force_n) <= 100000.0,
             "load cell: an accepted force is not finite or implausible");
  FUZZ_CHECK(got.counter < static_cast<std::uint32_t>(m.counter_modulo),
             "load cell: counter beyond its modulo");
  FUZZ_CHECK(want.has_value(), "load cell: accepted a sample with an implausible signal");
  FUZZ_CHECK(close(got.force_n, want->force_n), "load cell: force differs from the served words");
  FUZZ_CHECK(got.stable == want->stable && got.overload == want->overload &&
                 got.adc_error == want->adc_error && got.tare_busy == want->tare_busy,
             "load cell: status bits differ from the served word");
  FUZZ_CHECK(got.counter == want->counter, "load cell: counter differs from the served words");
}

/// The words written at `spec`'s address during this operation (the last write covering it).
std::optional<std::vector<std::uint16_t>> written(const FuzzBus& bus, const SignalSpec& spec) {
  std::optional<std::vector<std::uint16_t>> got;
  for (const auto& w : bus.writes) {
    const int off = spec.address - w.address;
    if (off < 0 || off + spec.words() > static_cast<int>(w.words.size())) continue;
    got = std::vector<std::uint16_t>(w.words.begin() + off, w.words.begin() + off + spec.words());
  }
  return got;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // config (u8), signs (u8), then operations: op (u8), its arguments, and the
  // bus's answers to its transactions (an outcome byte, then u16 per word).
  Input in(data, size);
  const auto& all = configs();
  MachineConfig cfg = all[static_cast<std::size_t>(in.pick(static_cast<int>(all.size())))];
  // Sign conventions are free in any map.
  const auto signs = in.u8();
  cfg.drive.torque_positive_down = signs & 1;
  cfg.drive.position_positive_up = signs & 2;
  cfg.drive.speed_positive_up = signs & 4;
  cfg.load_cell.compression_positive = signs & 8;

  FuzzBus bus(cfg);
  bus.in = &in;
  const auto drive = make_modbus_drive(bus, cfg);
  const auto cell = make_modbus_load_cell(bus, cfg);
  const DriveMap& m = cfg.drive;
  bool last_reset_written = false;    // FAULT_RESET in the previous control word written
  std::optional<double> armed_limit;  // TORQUE_LIMIT (%) of the last configure() that succeeded

  for (int op = 0; op < 64 && in.left() > 0; ++op) {
    bus.served.clear();
    bus.writes.clear();
    switch (in.pick(6)) {
      case 0:
      case 1: {  // one control cycle
        machine::DriveCommand cmd;
        const auto flags = in.u8();
        cmd.enable = flags & 1;
        cmd.fault_reset = flags & 2;
        cmd.quick_stop = flags & 4;
        cmd.back_driven = flags & 8;
        switch (flags >> 6) {
          case 0: cmd.force_n = NAN; break;
          case 1: cmd.force_n = (flags & 16) ? INFINITY : -INFINITY; break;
          default: cmd.force_n = in.f64(); break;  // any bits
        }
        machine::DriveStatus st, before;
        st.position_mm = before.position_mm = -12345;
        const BusResult r = drive->exchange(cmd, st);
        const bool enable = cmd.enable && !cmd.fault_reset;
        // A command that does not fit (a non-finite force, a torque beyond
        // its register) is refused with BadValue and replaced by control 0
        // and torque 0 (issue 10: never nothing, never the command).
        const auto cw0 = written(bus, m.control);
        const auto tw0 = written(bus, m.torque_cmd);
        const bool zeroed =
            cw0 && *decode_raw(m.control, *cw0) == 0 && (!tw0 || decode(m.torque_cmd, *tw0) == 0.0);
        if (enable && !cmd.quick_stop && !std::isfinite(cmd.force_n)) {
          FUZZ_CHECK(r != BusResult::Ok, "drive: accepted a non-finite force");
          FUZZ_CHECK(zeroed, "drive: a non-finite force did not write control 0 and torque 0");
        }
        if (r != BusResult::Ok && zeroed && enable) {
          last_reset_written = false;
          break;
        }
        if (const auto cw = written(bus, m.control)) {
          const auto control = static_cast<std::uint32_t>(*decode_raw(m.control, *cw));
          const bool en = (control >> m.bit_enable) & 1, reset = (control >> m.bit_fault_reset) & 1,
                     qs = (control >> m.bit_quick_stop) & 1;
          FUZZ_CHECK(en == enable, "drive: ENABLE written differs from the command");
          FUZZ_CHECK(qs == cmd.quick_stop, "drive: QUICK_STOP written differs from the command");
          FUZZ_CHECK(!reset || cmd.fault_reset, "drive: FAULT_RESET written without a request");
          FUZZ_CHECK(!(reset && last_reset_written),
                     "drive: FAULT_RESET written as 1 twice in a row (no edge)");
          last_reset_written = reset;
          if (const auto tw = written(bus, m.torque_cmd)) {
            const auto pct = decode(m.torque_cmd, *tw);
            FUZZ_CHECK(pct.has_value(), "drive: wrote a torque that does not decode");
            double want = 0;
            if (enable && !cmd.quick_stop) {
              want = cfg.mechanics.torque_pct_for_force(cmd.force_n, cmd.back_driven);
              // The driver saturates at the TORQUE_LIMIT it armed and read back.
              if (armed_limit && std::isfinite(want))
                want = std::clamp(want, -std::fabs(*armed_limit), std::fabs(*armed_limit));
              if (!m.torque_positive_down) want = -want;
            }
            FUZZ_CHECK(
                std::fabs(*pct - want) <=
                    std::fabs(m.torque_cmd.scale) * 0.5 + 1e-9 * (1 + std::fabs(want)),
                "drive: torque written differs from the command (or is not zero while disabled)");
          }
        }
        check_status(cfg, bus, r, st, before);
        break;
      }
      case 2: {
        machine::DriveStatus st, before;
        st.velocity_mm_s = before.velocity_mm_s = 4321;
        check_status(cfg, bus, drive->read_status(st), st, before);
        break;
      }
      case 3: {
        machine::LoadCellSample s, before;
        s.counter = before.counter = 0xDEADBEEF;
        s.force_n = before.force_n = -777;
        check_sample(cfg, bus, cell->read(s), s, before);
        break;
      }
      case 4: {
        std::string detail;
        const machine::DriveSetup setup = machine::DriveSetup::from_limits(cfg.limits);
        const BusResult r = drive->configure(setup, detail);
        armed_limit.reset();  // configure() forgets what was armed until it succeeds
        if (r != BusResult::Ok) {
          FUZZ_CHECK(!detail.empty(), "drive: configure failed without saying why");
          break;
        }
        if (m.torque_limit.present)
          armed_limit = decode(m.torque_limit, *written(bus, m.torque_limit));
        for (const SignalSpec* sp :
             {&m.speed_limit, &m.torque_slew, &m.comm_timeout, &m.torque_limit}) {
          if (!sp->present) continue;
          const auto w = written(bus, *sp);
          FUZZ_CHECK(w.has_value(), "drive: configure Ok without writing a setup register");
          std::vector<std::uint16_t> back;
          for (int k = 0; k < sp->words(); ++k) {
            auto it = bus.served.find({Table::Holding, sp->address + k});
            FUZZ_CHECK(it != bus.served.end(),
                       "drive: configure Ok without reading a setup register back");
            back.push_back(it->second);
          }
          FUZZ_CHECK(back == *w, "drive: configure Ok although the drive reads back another value");
        }
        if (m.comm_timeout.present) {
          const auto ms = decode(m.comm_timeout, *written(bus, m.comm_timeout));
          FUZZ_CHECK(ms && *ms >= 1.0, "drive: COMM_TIMEOUT armed below 1 ms (watchdog off)");
        }
        if (m.torque_limit.present) {
          const auto pct = decode(m.torque_limit, *written(bus, m.torque_limit));
          FUZZ_CHECK(pct.has_value(), "drive: TORQUE_LIMIT written does not decode");
          const double force = cfg.mechanics.force_from_torque_pct(*pct, true);
          FUZZ_CHECK(force <= cfg.limits.max_load_n * (1 + 1e-6),
                     "drive: TORQUE_LIMIT allows more than max_load_n at the pad");
        }
        break;
      }
      case 5: {
        const int level = static_cast<int>(in.u16()) - (in.u8() & 1 ? 70000 : 0);
        const BusResult r = cell->set_filter(level);
        if (level < 0 || !cfg.load_cell.filter.present)
          FUZZ_CHECK(r == BusResult::BadValue && bus.writes.empty(),
                     "load cell: set a filter it must refuse");
        if (r == BusResult::Ok) {
          const auto w = written(bus, cfg.load_cell.filter);
          const auto v = w ? decode(cfg.load_cell.filter, *w) : std::nullopt;
          FUZZ_CHECK(v && std::fabs(*v - level) <=
                              std::fabs(cfg.load_cell.filter.scale) * 0.5 + 1e-9 * level,
                     "load cell: wrote another filter level");
        }
        break;
      }
    }
  }
  return 0;
}
