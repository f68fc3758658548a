// ServoDrive and LoadCell over Modbus, driven entirely by the register map.
//
// Principle of operation (read plan, computed once at construction):
//  1. The signals a cycle needs are grouped by table and sorted by address.
//     Neighbours are merged into one read while the gap between them is at most
//     kMaxGap registers and the block stays within kMaxBlock (125) registers.
//  2. With a status mirror (the input registers from the lowest to the highest
//     status signal, readable as holding registers) and CONTROL + TORQUE_CMD
//     contiguous, one cycle is ONE FC 23: write the command, read the mirror.
//     Without FC 23: one FC 16 (or one write per register when they are not
//     contiguous), then the mirror (one FC 03) or the batched reads.
//  3. Decoding turns words into engineering units at the pad (mm, mm/s, N, °C,
//     V) with the map's scales and sign conventions and the mechanics. A value
//     that is not finite or is physically impossible makes the call return
//     BadValue: it is never passed on as a number.
//  4. A command that cannot be encoded (a non-finite force, a torque the
//     register cannot hold) is written as control = 0 and torque = 0, never
//     not at all, and exchange() still returns BadValue.
//  5. configure() arms TORQUE_LIMIT with armed_torque_limit_pct() (the
//     configuration checks the same figure) and refuses one above 300 %.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

#include "soleus/common/log.hpp"
#include "soleus/drivers/devices.hpp"

namespace soleus::drivers {

namespace {

constexpr int kMaxGap = 8;          ///< registers of gap still read rather than split
constexpr int kMaxBlock = 125;      ///< registers per read (Modbus FC 03/04 limit)
constexpr int kMaxWriteRead = 121;  ///< registers per FC 23 write
// Plausibility bounds: a decoded value outside them is garbage from the device.
constexpr double kMaxAbsSpeedMmS = 10000.0;  ///< 10 m/s of pad travel
constexpr double kMaxAbsTorquePct = 1000.0;  ///< 10× rated torque
constexpr double kMinTemperatureC = -60.0, kMaxTemperatureC = 250.0;
constexpr double kMinBusVoltageV = 0.0, kMaxBusVoltageV = 2000.0;
constexpr double kMaxAbsLoadCellN = 100000.0;  ///< 100 kN: 20× the reference cell
/// tare() and clear_overload() wait at most this long for COMMAND to read 0.
constexpr auto kCommandTimeout = std::chrono::milliseconds(2000);
constexpr auto kCommandPollInterval = std::chrono::milliseconds(5);

/// One read: a contiguous range of one table.
struct ReadBlock {
  Table table = Table::Input;
  int start = 0;
  int count = 0;
  std::vector<std::uint16_t> words;  ///< sized once; bits are stored as 0/1 words
  std::vector<std::uint8_t> bits;
};

/// Which reads to issue for a set of signals, and where each signal lands.
class ReadPlan {
 public:
  ReadPlan() = default;

  /// Batched reads of the given signals (absent ones are skipped).
  static ReadPlan batched(const std::vector<const SignalSpec*>& signals) {
    ReadPlan p;
    p.slots_.assign(signals.size(), Slot{});
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < signals.size(); ++i)
      if (signals[i] != nullptr && signals[i]->present) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const auto& sa = *signals[a];
      const auto& sb = *signals[b];
      if (sa.table != sb.table) return sa.table < sb.table;
      return sa.address < sb.address;
    });
    for (std::size_t i : order) {
      const SignalSpec& s = *signals[i];
      bool merged = false;
      if (!p.blocks_.empty()) {
        ReadBlock& b = p.blocks_.back();
        const int end = b.start + b.count;
        if (b.table == s.table && s.address - end <= kMaxGap && s.end() - b.start <= kMaxBlock) {
          b.count = std::max(end, s.end()) - b.start;
          merged = true;
        }
      }
      if (!merged) p.blocks_.push_back(ReadBlock{s.table, s.address, s.words(), {}, {}});
      p.slots_[i] =
          Slot{static_cast<int>(p.blocks_.size()) - 1, s.address - p.blocks_.back().start};
    }
    p.allocate();
    return p;
  }

  /// One holding-register read of the status mirror: the input registers from
  /// the lowest to the highest signal, mirrored at `mirror_address`.
  static ReadPlan mirrored(const std::vector<const SignalSpec*>& signals, int mirror_address) {
    ReadPlan p;
    p.slots_.assign(signals.size(), Slot{});
    int lo = 1 << 30, hi = -1;
    for (const auto* s : signals) {
      if (s == nullptr || !s->present) continue;
      lo = std::min(lo, s->address);
      hi = std::max(hi, s->end());
    }
    p.blocks_.push_back(ReadBlock{Table::Holding, mirror_address, hi - lo, {}, {}});
    for (std::size_t i = 0; i < signals.size(); ++i)
      if (signals[i] != nullptr && signals[i]->present)
        p.slots_[i] = Slot{0, signals[i]->address - lo};
    p.allocate();
    return p;
  }

  BusResult read(Bus& bus, int unit) {
    for (auto& b : blocks_) {
      BusResult r = BusResult::Ok;
      switch (b.table) {
        case Table::Holding: r = bus.read_holding(unit, b.start, b.words); break;
        case Table::Input: r = bus.read_input(unit, b.start, b.words); break;
        case Table::Coil: r = bus.read_coils(unit, b.start, b.bits); break;
        case Table::Discrete: r = bus.read_discrete(unit, b.start, b.bits); break;
      }
      if (r != BusResult::Ok) return r;
      if (b.table == Table::Coil || b.table == Table::Discrete)
        for (std::size_t k = 0; k < b.bits.size(); ++k) b.words[k] = b.bits[k] ? 1 : 0;
    }
    return BusResult::Ok;
  }

  /// The words of signal `i` after a successful read (empty when absent).
  std::span<const std::uint16_t> words(std::size_t i) const {
    const Slot& s = slots_[i];
    if (s.block < 0) return {};
    const auto& w = blocks_[static_cast<std::size_t>(s.block)].words;
    return std::span<const std::uint16_t>(w).subspan(static_cast<std::size_t>(s.offset));
  }
  std::vector<ReadBlock>& blocks() { return blocks_; }
  const std::vector<ReadBlock>& blocks() const { return blocks_; }

 private:
  struct Slot {
    int block = -1;
    int offset = 0;
  };
  void allocate() {
    for (auto& b : blocks_) {
      b.words.assign(static_cast<std::size_t>(b.count), 0);
      if (b.table == Table::Coil || b.table == Table::Discrete)
        b.bits.assign(static_cast<std::size_t>(b.count), 0);
    }
  }
  std::vector<ReadBlock> blocks_;
  std::vector<Slot> slots_;
};

/// An integer raw value (bit field, code, counter), or nullopt.
std::optional<std::int64_t> raw_integer(const SignalSpec& s, std::span<const std::uint16_t> w) {
  auto v = decode_raw(s, w);
  if (!v || *v != std::floor(*v) || std::fabs(*v) > 4294967295.0) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

bool bit(std::int64_t word, int b) { return ((word >> b) & 1) != 0; }

/// The register's name as in the ICD: "torque_limit" → "TORQUE_LIMIT".
std::string register_name(const char* key) {
  std::string s(key);
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// Writes holding registers: one FC 06 for a single word, else one FC 16.
BusResult write_words(Bus& bus, int unit, int address, std::span<const std::uint16_t> w) {
  if (w.size() == 1) return bus.write_register(unit, address, w[0]);
  return bus.write_registers(unit, address, w);
}

void require_holding(const SignalSpec& s, const char* key) {
  if (!s.present) throw std::invalid_argument(std::string(key) + ": the register is required");
  if (s.table != Table::Holding)
    throw std::invalid_argument(std::string(key) +
                                ": is written by the host, so it must be a holding register");
}

// ============================================================== servo drive

enum StatusIndex : std::size_t {
  kStatus,
  kFaultCode,
  kPosition,
  kSpeed,
  kTorqueActual,
  kTemperature,
  kBusVoltage,
  kNumStatus
};

class ModbusDrive final : public ServoDrive {
 public:
  ModbusDrive(Bus& bus, const MachineConfig& cfg)
      : bus_(bus), unit_(cfg.units.drive), map_(cfg.drive), mech_(cfg.mechanics) {
    require_holding(map_.control, "drive.registers.control");
    require_holding(map_.torque_cmd, "drive.registers.torque_cmd");
    if (!map_.status.present)
      throw std::invalid_argument("drive.registers.status: the register is required");
    if (!map_.position.present)
      throw std::invalid_argument("drive.registers.position: the register is required");
    const std::vector<const SignalSpec*> status{
        &map_.status,        &map_.fault_code,  &map_.position,   &map_.speed,
        &map_.torque_actual, &map_.temperature, &map_.bus_voltage};
    // The command block: CONTROL and TORQUE_CMD, contiguous in either order?
    const SignalSpec& a =
        map_.control.address <= map_.torque_cmd.address ? map_.control : map_.torque_cmd;
    const SignalSpec& b = &a == &map_.control ? map_.torque_cmd : map_.control;
    contiguous_ = a.end() == b.address;
    write_start_ = a.address;
    write_words_.assign(static_cast<std::size_t>(contiguous_ ? b.end() - a.address : 0), 0);

    bool all_input = true;
    for (const auto* s : status)
      if (s->present && s->table != Table::Input) all_input = false;
    if (map_.status_mirror_address >= 0) {
      if (!all_input)
        throw std::invalid_argument(
            "drive.status_mirror_address: a status mirror needs every status register in the input "
            "table");
      status_plan_ = ReadPlan::mirrored(status, map_.status_mirror_address);
      if (status_plan_.blocks()[0].count > kMaxBlock)
        throw std::invalid_argument(
            "drive.status_mirror_address: the mirrored block exceeds 125 registers");
      fc23_ = contiguous_ && static_cast<int>(write_words_.size()) <= kMaxWriteRead;
    } else {
      status_plan_ = ReadPlan::batched(status);
    }
    setup_plan_ = ReadPlan::batched(
        {&map_.speed_limit, &map_.torque_slew, &map_.comm_timeout, &map_.torque_limit});
    for (const SignalSpec* s :
         {&map_.speed_limit, &map_.torque_slew, &map_.comm_timeout, &map_.torque_limit})
      if (s->present && s->table != Table::Holding)
        throw std::invalid_argument(
            "drive.registers: the setup registers are written by the host and must be holding "
            "registers");
    // The safe command, written in place of one that cannot be encoded: a map
    // that cannot even say "disabled, no torque" is refused here.
    if (!encode(map_.control, 0.0, zero_control_) || !encode(map_.torque_cmd, 0.0, zero_torque_))
      throw std::invalid_argument(
          "drive.registers: control = 0 and torque_cmd = 0 must be encodable");
    log::debug("drive: ", fc23_ ? "one FC 23 per cycle" : "write + read per cycle", ", ",
               status_plan_.blocks().size(), " status read block(s)");
  }

  BusResult configure(const machine::DriveSetup& setup, std::string& detail) override {
    using Item = SetupItem;
    // Converted with the back-driven direction (F = T·2π/lead/η): the most force
    // per unit of torque, so the caps hold at the pad in both directions.
    armed_.clear();  // until this succeeds, nothing is known armed
    const double limit_pct = armed_torque_limit_pct(map_.torque_limit, mech_, setup.torque_limit_n);
    const double slew_pct_per_ms = mech_.torque_pct_for_force(setup.slew_n_per_s, true) / 1000.0;
    const double speed_rpm = mech_.rpm_from_mm_s(setup.speed_limit_mm_s);
    if (!(setup.watchdog_ms >= 1.0)) {
      detail = "COMM_TIMEOUT: the watchdog must be armed (got " +
               std::to_string(setup.watchdog_ms) + " ms)";
      return BusResult::BadValue;
    }
    // Never arm a limit beyond the motor's peak: a wrong rated torque (10x too
    // small, say) would otherwise let the drive push with all it has.
    if (!(limit_pct <= machine::kMaxTorqueLimitPct)) {
      detail = "TORQUE_LIMIT: " + std::to_string(setup.torque_limit_n) + " N needs " +
               std::to_string(limit_pct) +
               " % of rated torque, above the motor's 300 % peak "
               "(check mechanics.rated_torque_nm); not armed";
      return BusResult::BadValue;
    }
    std::vector<Item> items;
    if (map_.speed_limit.present)
      items.push_back({"speed_limit", &map_.speed_limit,
                       floor_to_resolution(map_.speed_limit, speed_rpm, true)});
    if (map_.torque_slew.present)
      items.push_back({"torque_slew", &map_.torque_slew,
                       floor_to_resolution(map_.torque_slew, slew_pct_per_ms, true)});
    if (map_.torque_limit.present) items.push_back({"torque_limit", &map_.torque_limit, limit_pct});
    if (map_.comm_timeout.present)
      items.push_back(
          {"comm_timeout", &map_.comm_timeout, std::max(1.0, std::round(setup.watchdog_ms))});
    for (auto& it : items) {
      if (!encode(*it.spec, it.value, it.words)) {
        detail = register_name(it.key) + ": " + std::to_string(it.value) + " does not fit its " +
                 to_string(it.spec->type) + " register (drive.registers." + it.key + ")";
        return BusResult::BadValue;
      }
    }
    // Writes: exactly contiguous registers go in one FC 16.
    std::sort(items.begin(), items.end(),
              [](const Item& x, const Item& y) { return x.spec->address < y.spec->address; });
    for (std::size_t i = 0; i < items.size();) {
      std::vector<std::uint16_t> words;
      const int start = items[i].spec->address;
      std::size_t j = i;
      std::string names;
      while (j < items.size() && items[j].spec->address == start + static_cast<int>(words.size())) {
        words.insert(words.end(), items[j].words.begin(),
                     items[j].words.begin() + items[j].spec->words());
        names += (names.empty() ? "" : ", ") + register_name(items[j].key);
        ++j;
      }
      const BusResult r = write_words(bus_, unit_, start, words);
      if (r != BusResult::Ok) {
        detail = "writing " + names + " (holding " + std::to_string(start) + "): " + to_string(r) +
                 " (" + bus_.last_error() + ")";
        return r;
      }
      i = j;
    }
    // Read everything back: the caps count only if the drive holds them.
    const BusResult r = read_back(items, true, detail);
    if (r == BusResult::Ok) armed_ = std::move(items);
    return r;
  }

  double armed_slew_n_per_s() const override {
    for (const auto& a : armed_)
      if (a.spec == &map_.torque_slew) {
        const double pct_per_s = a.value * 1000.0;
        return std::min(mech_.force_from_torque_pct(pct_per_s, false),
                        mech_.force_from_torque_pct(pct_per_s, true));
      }
    return 0;
  }

  BusResult verify_setup(std::string& detail) override {
    if (armed_.empty()) {
      detail = "the drive was never armed";
      return BusResult::BadValue;
    }
    return read_back(armed_, false, detail);
  }

  BusResult exchange(const machine::DriveCommand& cmd, machine::DriveStatus& out) override {
    // Control word. Fault reset: FAULT_RESET=1 with ENABLE clear for one
    // exchange, then 0 again, so each request is a fresh 0→1 edge.
    const bool reset_bit = cmd.fault_reset && !last_reset_bit_;
    const bool enable = cmd.enable && !cmd.fault_reset;
    std::int64_t control = 0;
    if (enable) control |= std::int64_t{1} << map_.bit_enable;
    if (reset_bit) control |= std::int64_t{1} << map_.bit_fault_reset;
    if (cmd.quick_stop) control |= std::int64_t{1} << map_.bit_quick_stop;
    double pct = 0.0;
    if (enable && !cmd.quick_stop) {
      pct = mech_.torque_pct_for_force(cmd.force_n, cmd.back_driven);
      // Never ask beyond the TORQUE_LIMIT armed and read back: the drive would
      // clip it anyway, and host and drive then agree. (A force at the cap
      // with the motor driving needs F/η: above a limit armed for the
      // back-driven F·η; the property test in tests/drivers found 1800 N
      // written as 93 % against 81 % armed.) NaN stays NaN: unfit below.
      for (const auto& a : armed_)
        if (a.spec == &map_.torque_limit && std::isfinite(pct))
          pct = std::clamp(pct, -std::fabs(a.value), std::fabs(a.value));
      if (!map_.torque_positive_down) pct = -pct;
    }
    std::array<std::uint16_t, 2> cw{}, tw{};
    // A command that cannot be encoded (a non-finite force, a torque beyond
    // the register) is replaced by control = 0 and torque = 0 and still
    // written: writing nothing would leave the drive on its last command
    // until the watchdog. The caller still gets BadValue.
    bool unfit = false;
    if (!std::isfinite(pct) || !encode(map_.control, static_cast<double>(control), cw) ||
        !encode(map_.torque_cmd, pct, tw)) {
      unfit = true;
      cw = zero_control_;
      tw = zero_torque_;
    }
    const bool sent_reset_bit = unfit ? false : reset_bit;

    BusResult r;
    if (contiguous_) {
      std::copy_n(cw.begin(), map_.control.words(),
                  write_words_.begin() + (map_.control.address - write_start_));
      std::copy_n(tw.begin(), map_.torque_cmd.words(),
                  write_words_.begin() + (map_.torque_cmd.address - write_start_));
      if (fc23_) {
        auto& block = status_plan_.blocks()[0];
        r = bus_.write_and_read(unit_, write_start_, write_words_, block.start, block.words);
      } else {
        r = bus_.write_registers(unit_, write_start_, write_words_);
      }
    } else {
      r = write_words(bus_, unit_, map_.control.address,
                      std::span<const std::uint16_t>(
                          cw.data(), static_cast<std::size_t>(map_.control.words())));
      if (r == BusResult::Ok)
        r = write_words(bus_, unit_, map_.torque_cmd.address,
                        std::span<const std::uint16_t>(
                            tw.data(), static_cast<std::size_t>(map_.torque_cmd.words())));
    }
    // A failed write may still have reached the drive: assume it holds a 1.
    last_reset_bit_ = r == BusResult::Ok ? sent_reset_bit : (sent_reset_bit || last_reset_bit_);
    if (r != BusResult::Ok) return r;
    if (!fc23_) {
      r = status_plan_.read(bus_, unit_);
      if (r != BusResult::Ok) return r;
    }
    r = decode_status(out);
    return unfit ? BusResult::BadValue : r;
  }

  BusResult read_status(machine::DriveStatus& out) override {
    const BusResult r = status_plan_.read(bus_, unit_);
    if (r != BusResult::Ok) return r;
    return decode_status(out);
  }

  std::string fault_name(int code) const override { return map_.fault_name(code); }

 private:
  /// One setup register: its config key, map entry, value and encoded words.
  struct SetupItem {
    const char* key;
    const SignalSpec* spec;
    double value;
    std::array<std::uint16_t, 2> words{};
  };

  /// Reads the setup registers back and compares them with `items`: Ok, the
  /// read's failure, or BadValue naming the first register that differs
  /// (`after_write`: as configure() words it, else as verify_setup() does).
  BusResult read_back(const std::vector<SetupItem>& items, bool after_write, std::string& detail) {
    const BusResult r = setup_plan_.read(bus_, unit_);
    if (r != BusResult::Ok) {
      detail =
          std::string("reading the setup back: ") + to_string(r) + " (" + bus_.last_error() + ")";
      return r;
    }
    const std::array<const SignalSpec*, 4> order{&map_.speed_limit, &map_.torque_slew,
                                                 &map_.comm_timeout, &map_.torque_limit};
    for (const auto& it : items) {
      const std::size_t idx =
          static_cast<std::size_t>(std::find(order.begin(), order.end(), it.spec) - order.begin());
      const auto got = setup_plan_.words(idx);
      for (int k = 0; k < it.spec->words(); ++k) {
        if (got[static_cast<std::size_t>(k)] == it.words[static_cast<std::size_t>(k)]) continue;
        const auto read_value = decode(*it.spec, got);
        const std::string read = read_value ? std::to_string(*read_value) : std::string("garbage");
        detail = register_name(it.key) + " (holding " + std::to_string(it.spec->address) + ")" +
                 (after_write ? " reads back " + read + ", wrote " + std::to_string(it.value) +
                                    ": the drive did not accept it"
                              : " reads " + read + ", armed " + std::to_string(it.value));
        return BusResult::BadValue;
      }
    }
    detail.clear();
    return BusResult::Ok;
  }

  BusResult decode_status(machine::DriveStatus& out) const {
    machine::DriveStatus s;
    const auto sw = raw_integer(map_.status, status_plan_.words(kStatus));
    if (!sw || *sw < 0 || *sw > 0xFFFF) return BusResult::BadValue;
    s.ready = bit(*sw, map_.bit_ready);
    s.enabled = bit(*sw, map_.bit_enabled);
    s.fault = bit(*sw, map_.bit_fault);
    s.sto = bit(*sw, map_.bit_sto);
    s.speed_limited = bit(*sw, map_.bit_speed_limited);
    s.torque_limited = bit(*sw, map_.bit_torque_limited);
    if (map_.fault_code.present) {
      const auto fc = raw_integer(map_.fault_code, status_plan_.words(kFaultCode));
      if (!fc || *fc < 0 || *fc > 0xFFFF) return BusResult::BadValue;
      s.fault_code = static_cast<int>(*fc);
    }
    const auto counts = decode(map_.position, status_plan_.words(kPosition));
    if (!counts) return BusResult::BadValue;
    s.position_mm = *counts / mech_.counts_per_mm * (map_.position_positive_up ? 1.0 : -1.0);
    if (std::fabs(s.position_mm) > std::max(1000.0, 10.0 * mech_.travel_max_mm))
      return BusResult::BadValue;
    if (map_.speed.present) {
      const auto rpm = decode(map_.speed, status_plan_.words(kSpeed));
      if (!rpm) return BusResult::BadValue;
      s.velocity_mm_s = mech_.mm_s_from_rpm(*rpm) * (map_.speed_positive_up ? 1.0 : -1.0);
      if (std::fabs(s.velocity_mm_s) > kMaxAbsSpeedMmS) return BusResult::BadValue;
    }
    if (map_.torque_actual.present) {
      const auto pct = decode(map_.torque_actual, status_plan_.words(kTorqueActual));
      if (!pct || std::fabs(*pct) > kMaxAbsTorquePct) return BusResult::BadValue;
      s.torque_pct = map_.torque_positive_down ? *pct : -*pct;
      // Moving up, the user back-drives the screw: the other friction direction.
      s.force_n = mech_.force_from_torque_pct(s.torque_pct, s.velocity_mm_s > 0.0);
    }
    if (map_.temperature.present) {
      const auto t = decode(map_.temperature, status_plan_.words(kTemperature));
      if (!t || *t < kMinTemperatureC || *t > kMaxTemperatureC) return BusResult::BadValue;
      s.temperature_c = *t;
    }
    if (map_.bus_voltage.present) {
      const auto v = decode(map_.bus_voltage, status_plan_.words(kBusVoltage));
      if (!v || *v < kMinBusVoltageV || *v > kMaxBusVoltageV) return BusResult::BadValue;
      s.bus_voltage_v = *v;
    }
    out = s;
    return BusResult::Ok;
  }

  Bus& bus_;
  int unit_;
  DriveMap map_;
  machine::Mechanics mech_;
  bool contiguous_ = false;
  bool fc23_ = false;
  int write_start_ = 0;
  std::vector<std::uint16_t> write_words_;
  ReadPlan status_plan_;
  ReadPlan setup_plan_;
  /// What the last successful configure() wrote (verify_setup compares).
  std::vector<SetupItem> armed_;
  std::array<std::uint16_t, 2> zero_control_{},
      zero_torque_{};  ///< control = 0, torque = 0, encoded
  /// What the last write put in FAULT_RESET; starts true so that the first
  /// reset request writes a 0 before its 1 (the drive may hold a 1 from before).
  bool last_reset_bit_ = true;
};

// ============================================================== load cell

enum CellIndex : std::size_t { kForce, kCellStatus, kCounter };

class ModbusLoadCell final : public LoadCell {
 public:
  ModbusLoadCell(Bus& bus, const MachineConfig& cfg)
      : bus_(bus), unit_(cfg.units.load_cell), map_(cfg.load_cell) {
    if (!map_.force.present)
      throw std::invalid_argument("load_cell.registers.force: the register is required");
    require_holding(map_.command, "load_cell.registers.command");
    if (map_.filter.present) require_holding(map_.filter, "load_cell.registers.filter");
    if (map_.counter_modulo < 1)
      throw std::invalid_argument("load_cell.counter_modulo: must be at least 1");
    plan_ = ReadPlan::batched({&map_.force, &map_.status, &map_.sample_counter});
    command_plan_ = ReadPlan::batched({&map_.command});
  }

  BusResult read(machine::LoadCellSample& out) override {
    const BusResult r = plan_.read(bus_, unit_);
    if (r != BusResult::Ok) return r;
    machine::LoadCellSample s;
    const auto f = decode(map_.force, plan_.words(kForce));
    if (!f || std::fabs(*f) > kMaxAbsLoadCellN) return BusResult::BadValue;
    s.force_n = map_.compression_positive ? *f : -*f;
    if (map_.status.present) {
      const auto sw = raw_integer(map_.status, plan_.words(kCellStatus));
      if (!sw || *sw < 0 || *sw > 0xFFFF) return BusResult::BadValue;
      s.stable = bit(*sw, map_.bit_stable);
      s.overload = bit(*sw, map_.bit_overload);
      s.adc_error = bit(*sw, map_.bit_adc_error);
      s.tare_busy = bit(*sw, map_.bit_tare_busy);
    }
    if (map_.sample_counter.present) {
      const auto c = raw_integer(map_.sample_counter, plan_.words(kCounter));
      if (!c || *c < 0) return BusResult::BadValue;
      s.counter = static_cast<std::uint32_t>(*c % map_.counter_modulo);
    }
    out = s;
    return BusResult::Ok;
  }

  BusResult tare() override { return command(map_.cmd_tare); }
  BusResult clear_overload() override { return command(map_.cmd_clear_overload); }
  BusResult start_command(CellCommand c) override {
    std::array<std::uint16_t, 2> w{};
    const int code = c == CellCommand::Tare ? map_.cmd_tare : map_.cmd_clear_overload;
    if (!encode(map_.command, code, w)) return BusResult::BadValue;
    return write_words(
        bus_, unit_, map_.command.address,
        std::span<const std::uint16_t>(w.data(), static_cast<std::size_t>(map_.command.words())));
  }
  Poll poll_command(BusResult& err) override {
    err = command_plan_.read(bus_, unit_);
    if (err != BusResult::Ok) return Poll::Failed;
    const auto v = raw_integer(map_.command, command_plan_.words(0));
    if (!v) {
      err = BusResult::BadValue;
      return Poll::Failed;
    }
    return *v == 0 ? Poll::Done : Poll::Busy;
  }

  BusResult set_filter(int level) override {
    if (!map_.filter.present || level < 0) return BusResult::BadValue;
    std::array<std::uint16_t, 2> w{};
    if (!encode(map_.filter, level, w)) return BusResult::BadValue;
    return write_words(
        bus_, unit_, map_.filter.address,
        std::span<const std::uint16_t>(w.data(), static_cast<std::size_t>(map_.filter.words())));
  }

 private:
  /// Writes COMMAND, then polls it (bounded) until the transmitter reads back 0.
  BusResult command(int code) {
    std::array<std::uint16_t, 2> w{};
    if (!encode(map_.command, code, w)) return BusResult::BadValue;
    BusResult r = write_words(
        bus_, unit_, map_.command.address,
        std::span<const std::uint16_t>(w.data(), static_cast<std::size_t>(map_.command.words())));
    if (r != BusResult::Ok) return r;
    const auto deadline = std::chrono::steady_clock::now() + kCommandTimeout;
    for (;;) {
      r = command_plan_.read(bus_, unit_);
      if (r == BusResult::Ok) {
        const auto v = raw_integer(map_.command, command_plan_.words(0));
        if (!v) return BusResult::BadValue;
        if (*v == 0) return BusResult::Ok;
      }
      if (std::chrono::steady_clock::now() >= deadline)
        return r == BusResult::Ok ? BusResult::Timeout : r;
      std::this_thread::sleep_for(kCommandPollInterval);
    }
  }

  Bus& bus_;
  int unit_;
  LoadCellMap map_;
  ReadPlan plan_;
  ReadPlan command_plan_;
};

}  // namespace

std::unique_ptr<ServoDrive> make_modbus_drive(Bus& bus, const MachineConfig& cfg) {
  return std::make_unique<ModbusDrive>(bus, cfg);
}

std::unique_ptr<LoadCell> make_modbus_load_cell(Bus& bus, const MachineConfig& cfg) {
  return std::make_unique<ModbusLoadCell>(bus, cfg);
}

}  // namespace soleus::drivers
