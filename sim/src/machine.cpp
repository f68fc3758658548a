#include "soleus/sim/machine.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <span>
#include <utility>

#include "soleus/common/log.hpp"

namespace soleus::sim {

using drivers::SignalSpec;
using drivers::Table;
using drivers::ValueType;
using modbus::Exception;

namespace {

constexpr int kOddKinds = 4;  // BadCrc, WrongUnit, WrongTransaction, Exception

DriveSettings drive_settings(const drivers::MachineConfig& c) {
  DriveSettings s;
  s.bit_enable = c.drive.bit_enable;
  s.bit_fault_reset = c.drive.bit_fault_reset;
  s.bit_quick_stop = c.drive.bit_quick_stop;
  s.rated_torque_nm = c.mechanics.rated_torque_nm;
  return s;
}

LoadCellSettings cell_settings(const drivers::MachineConfig& c, std::uint64_t seed) {
  LoadCellSettings s;
  s.sample_rate_hz = c.load_cell.sample_rate_hz;
  s.counter_modulo = c.load_cell.counter_modulo;
  s.seed = seed + 7;
  return s;
}

AthleteBody body_of(const drivers::MachineConfig& c) {
  return AthleteBody{c.mechanics.moving_mass_kg, c.mechanics.pad_weight_n, c.mechanics.efficiency};
}

AthleteSettings seeded(AthleteSettings a, std::uint64_t seed) {
  if (a.seed == 1) a.seed = seed;
  return a;
}

/// Encodes `value` with the drivers' codec; a value the type cannot hold is
/// saturated, a non-finite one becomes a float NaN/infinity (f32) or the
/// type's largest value. The saturated raw value (or the float's bit pattern)
/// goes through the same codec with scale and offset taken out, so the word
/// order and the packing are always the drivers'.
void encode_saturating(const SignalSpec& s, double value, std::uint16_t* w) {
  const std::span<std::uint16_t> ws(w, 2);
  if (drivers::encode(s, value, ws)) return;
  SignalSpec raw = s;  // the same table, address and word order, in raw units
  raw.scale = 1.0;
  raw.offset = 0.0;
  if (s.type == ValueType::F32) {
    const float f = std::isnan(value)                  ? std::numeric_limits<float>::quiet_NaN()
                    : (value - s.offset) / s.scale > 0 ? std::numeric_limits<float>::infinity()
                                                       : -std::numeric_limits<float>::infinity();
    raw.type = ValueType::U32;  // the float's bits, which the codec refuses as a value
    drivers::encode(raw, static_cast<double>(std::bit_cast<std::uint32_t>(f)), ws);
    return;
  }
  double lo = 0, hi = 0;
  switch (s.type) {
    case ValueType::U16: hi = 65535; break;
    case ValueType::S16:
      lo = -32768;
      hi = 32767;
      break;
    case ValueType::U32: hi = 4294967295.0; break;
    case ValueType::S32:
      lo = -2147483648.0;
      hi = 2147483647.0;
      break;
    case ValueType::F32: break;
  }
  double r = std::isfinite(value) ? (value - s.offset) / s.scale : hi;
  if (!std::isfinite(r)) r = hi;
  // An integer within the type's range: the codec takes it as it is.
  drivers::encode(raw, std::clamp(std::nearbyint(r), lo, hi), ws);
}

}  // namespace

// ------------------------------------------------------------------ tables
Machine::Bank::Bank()
    : holding(65536, 0),
      input(65536, 0),
      coil(65536, 0),
      discrete(65536, 0),
      holding_kind(65536, 0),
      input_def(65536, 0),
      coil_def(65536, 0),
      discrete_def(65536, 0) {}

class Machine::Target : public modbus::RegisterTarget {
 public:
  Target(Machine& m, int unit_index) : m_(m), ui_(unit_index) {}
  Exception read_bits(Table table, int address, int count,
                      std::vector<std::uint8_t>& out) override {
    Bank& b = m_.bank(ui_);
    auto& def = table == Table::Coil ? b.coil_def : b.discrete_def;
    auto& val = table == Table::Coil ? b.coil : b.discrete;
    for (int i = 0; i < count; ++i)
      if (!def[static_cast<std::size_t>(address) + static_cast<std::size_t>(i)])
        return Exception::IllegalAddress;
    out.assign(val.begin() + address, val.begin() + address + count);
    return Exception::None;
  }
  Exception read_registers(Table table, int address, int count,
                           std::vector<std::uint16_t>& out) override {
    Bank& b = m_.bank(ui_);
    for (int i = 0; i < count; ++i) {
      const auto a = static_cast<std::size_t>(address) + static_cast<std::size_t>(i);
      if (table == Table::Holding ? b.holding_kind[a] == 0 : b.input_def[a] == 0)
        return Exception::IllegalAddress;
    }
    auto& val = table == Table::Holding ? b.holding : b.input;
    out.assign(val.begin() + address, val.begin() + address + count);
    return Exception::None;
  }
  Exception write_registers(int address, std::span<const std::uint16_t> values) override {
    return m_.write_holding(ui_, address, values);
  }
  Exception write_bits(int, std::span<const std::uint8_t>) override {
    return Exception::IllegalAddress;  // neither device has writable coils
  }

 private:
  Machine& m_;
  int ui_;
};

void Machine::define(Bank& b, const SignalSpec& s, bool writable) {
  if (!s.present) return;
  for (int i = 0; i < s.words(); ++i) {
    const auto a = static_cast<std::size_t>(s.address) + static_cast<std::size_t>(i);
    switch (s.table) {
      case Table::Holding: b.holding_kind[a] = writable ? 1 : 2; break;
      case Table::Input: b.input_def[a] = 1; break;
      case Table::Coil: b.coil_def[a] = 1; break;
      case Table::Discrete: b.discrete_def[a] = 1; break;
    }
  }
}

void Machine::put(Bank& b, const SignalSpec& s, double value) const {
  if (!s.present) return;
  if (s.table == Table::Coil || s.table == Table::Discrete) {
    (s.table == Table::Coil ? b.coil : b.discrete)[static_cast<std::size_t>(s.address)] =
        value != 0 ? 1 : 0;
    return;
  }
  std::uint16_t w[2] = {0, 0};
  encode_saturating(s, value, w);
  auto& tab = s.table == Table::Holding ? b.holding : b.input;
  for (int i = 0; i < s.words(); ++i)
    tab[static_cast<std::size_t>(s.address) + static_cast<std::size_t>(i)] = w[i];
}

// ------------------------------------------------------------------ life
Machine::Machine(const drivers::MachineConfig& cfg, const AthleteSettings& athlete,
                 std::uint64_t seed)
    : cfg_(cfg),
      athlete_settings_(seeded(athlete, seed)),
      seed_(seed),
      drive_(drive_settings(cfg)),
      cell_(cell_settings(cfg, seed)),
      athlete_(athlete_settings_, body_of(cfg)),
      plant_(cfg.mechanics, athlete_settings_.bottom_mm),
      rng_(seed * 31 + 17) {
  const auto& d = cfg_.drive;
  for (const SignalSpec* s : {&d.control, &d.torque_cmd, &d.speed_limit, &d.torque_slew,
                              &d.comm_timeout, &d.torque_limit})
    define(drive_bank_, *s, true);
  for (const SignalSpec* s : {&d.status, &d.fault_code, &d.position, &d.speed, &d.torque_actual,
                              &d.temperature, &d.bus_voltage})
    define(drive_bank_, *s, false);
  if (d.status_mirror_address >= 0) {
    mirror_lo_ = 65536;
    mirror_hi_ = -1;
    for (const SignalSpec* s : {&d.status, &d.fault_code, &d.position, &d.speed, &d.torque_actual,
                                &d.temperature, &d.bus_voltage}) {
      if (!s->present || s->table != Table::Input) continue;
      mirror_lo_ = std::min(mirror_lo_, s->address);
      mirror_hi_ = std::max(mirror_hi_, s->end());
    }
    for (int a = d.status_mirror_address; a < d.status_mirror_address + (mirror_hi_ - mirror_lo_);
         ++a)
      drive_bank_.holding_kind[static_cast<std::size_t>(a)] = 2;
  }
  const auto& c = cfg_.load_cell;
  define(cell_bank_, c.command, true);
  define(cell_bank_, c.filter, true);
  for (const SignalSpec* s : {&c.force, &c.status, &c.sample_counter})
    define(cell_bank_, *s, false);
  reset_locked();
}

void Machine::reset_locked() {
  drive_ = DriveModel(drive_settings(cfg_));
  cell_ = LoadCellModel(cell_settings(cfg_, seed_));
  apply_noise();
  athlete_.configure(athlete_settings_, true);
  athlete_.reset();
  plant_.reset(athlete_settings_.bottom_mm);
  drop_p_ = 0;
  bench_seated_ = true;
  bench_weight_n_ = 0;
  bench_cell_gain_ = 1;
  cell_pad_on_cell_ = false;
  outage_until_ms_ = -1;
  for (int& n : odd_left_) n = 0;
  for (double& p : odd_p_) p = 0;
  counters_ = SimCounters{};
  drive_boot_until_ms_ = -1;
  drive_power_up_registers();
  put(cell_bank_, cfg_.load_cell.command, 0);
  put(cell_bank_, cfg_.load_cell.filter, 0);
  update_registers();
}

void Machine::drive_power_up_registers() {
  // Host-written registers back to their power-up values (ICD, "Power-up").
  const auto& d = cfg_.drive;
  const double ts = d.torque_positive_down ? 1.0 : -1.0;
  put(drive_bank_, d.control, 0);
  put(drive_bank_, d.torque_cmd, 0 * ts);
  put(drive_bank_, d.speed_limit, drive_.speed_limit_rpm());
  put(drive_bank_, d.torque_slew, drive_.torque_slew_pct_ms());
  put(drive_bank_, d.comm_timeout, drive_.comm_timeout_ms());
  put(drive_bank_, d.torque_limit, drive_.torque_limit_pct());
}

void Machine::power_cycle_drive(double boot_s) {
  // A brown-out that reset the drive's logic (ICD, "Power-up"): torque off at
  // once (the screw back-drives), no answer while it boots, then every
  // holding register at its default and READY with no fault. Nothing in the
  // status word says it restarted.
  drive_ = DriveModel(drive_settings(cfg_));
  apply_noise();
  drive_power_up_registers();
  drive_boot_until_ms_ = now_ms_ + static_cast<std::int64_t>(std::lround(boot_s * 1000.0));
  ++counters_.drive_power_cycles;
}

void Machine::lose_drive_setup() {
  // The setup registers back at their power-up values with no gap in the
  // answers and no fault (not a failure the ICD names; the host's periodic
  // read-back is what finds it).
  drive_.write_speed_limit(DriveDefaults::kSpeedLimitRpm);
  drive_.write_torque_slew(DriveDefaults::kTorqueSlewPctPerMs);
  drive_.write_comm_timeout(DriveDefaults::kCommTimeoutMs);
  drive_.write_torque_limit(DriveDefaults::kTorqueLimitPct);
  const auto& d = cfg_.drive;
  put(drive_bank_, d.speed_limit, drive_.speed_limit_rpm());
  put(drive_bank_, d.torque_slew, drive_.torque_slew_pct_ms());
  put(drive_bank_, d.comm_timeout, drive_.comm_timeout_ms());
  put(drive_bank_, d.torque_limit, drive_.torque_limit_pct());
}

void Machine::set_force_source(ForceSource source) {
  std::lock_guard lk(mutex_);
  force_source_ = std::move(source);
}

void Machine::set_noise(const NoiseSettings& n) {
  std::lock_guard lk(mutex_);
  noise_ = n;
  apply_noise();
}

void Machine::apply_noise() {
  cell_.set_noise(noise_.cell_noise_n, noise_.cell_drift_n_per_s, noise_.cell_drift_max_n);
  drive_.set_ripple_v(noise_.drive_ripple_v);
}

NoiseSettings Machine::noise() const {
  std::lock_guard lk(mutex_);
  return noise_;
}

std::int64_t Machine::now_ms() const {
  std::lock_guard lk(mutex_);
  return now_ms_;
}

void Machine::step() {
  std::lock_guard lk(mutex_);
  step_locked();
}

int Machine::advance_to(std::int64_t ms, int max_steps) {
  std::lock_guard lk(mutex_);
  int n = 0;
  while (now_ms_ < ms && n < max_steps) {
    step_locked();
    ++n;
  }
  return n;
}

void Machine::step_locked() {
  ++now_ms_;
  const auto& mech = cfg_.mechanics;
  const PlantState& ps = plant_.state();
  const int fault_before = drive_.fault_code();
  drive_.step(mech.rpm_from_mm_s(ps.v_mm_s), now_ms_);

  AthleteInput in;
  in.x_mm = ps.x_mm;
  in.v_mm_s = ps.v_mm_s;
  in.motor_force_n = plant_.ideal_force_n(drive_.torque_pct());
  in.drive_enabled = drive_.enabled();
  const double lim = drive_.torque_limit_pct();
  in.commanded_force_n =
      drive_.enabled() ? plant_.ideal_force_n(std::clamp(drive_.torque_cmd_pct(), -lim, lim)) : 0.0;
  double contact = 0, support = 0;
  if (force_source_) {
    const OutsideForces f = force_source_(in, now_ms_);
    contact = f.contact_n;
    support = f.support_n;
  } else {
    contact = athlete_.step(in, now_ms_);
  }
  if (!bench_seated_) contact = 0;  // nobody on the machine
  contact -= bench_weight_n_;       // a calibration weight pulls the pad down

  plant_.step(drive_.torque_pct(), contact + support);
  if (plant_.state().impact_mm_s > travel_fault_mm_s_ && drive_.enabled())
    drive_.raise_fault(static_cast<int>(DriveFault::TravelLimit));
  double through_cell = contact;
  if (cell_pad_on_cell_) {
    // Tared with the pad on its lower stop: once lifted off it (within 0.5 mm)
    // the pad's own weight hangs on the cell.
    through_cell -= mech.pad_weight_n * std::clamp(plant_.state().x_mm / 0.5, 0.0, 1.0);
  }
  cell_.step(through_cell * bench_cell_gain_, now_ms_);
  if (drive_.fault_code() != fault_before && drive_.fault_code() != 0)
    log::notice("soleus-sim: drive fault ", drive_.fault_code(), " (",
                cfg_.drive.fault_name(drive_.fault_code()),
                ") at t=", static_cast<double>(now_ms_) / 1000.0, " s");
  regs_stale_ = true;
}

void Machine::update_registers() const {
  regs_stale_ = false;
  const auto& d = cfg_.drive;
  const auto& mech = cfg_.mechanics;
  const PlantState& ps = plant_.state();
  std::uint32_t sw = 0;
  auto set = [&sw](bool on, int b) {
    if (on) sw |= 1u << b;
  };
  set(drive_.ready(), d.bit_ready);
  set(drive_.enabled(), d.bit_enabled);
  set(drive_.fault(), d.bit_fault);
  set(drive_.sto(), d.bit_sto);
  set(drive_.speed_limited(), d.bit_speed_limited);
  set(drive_.torque_limited(), d.bit_torque_limited);
  const double ts = d.torque_positive_down ? 1.0 : -1.0;
  const double xs = d.position_positive_up ? 1.0 : -1.0;
  const double vs = d.speed_positive_up ? 1.0 : -1.0;
  put(drive_bank_, d.status, sw);
  put(drive_bank_, d.fault_code, drive_.fault_code());
  put(drive_bank_, d.position, xs * ps.x_mm * mech.counts_per_mm);
  put(drive_bank_, d.speed, vs * mech.rpm_from_mm_s(ps.v_mm_s));
  put(drive_bank_, d.torque_actual, ts * drive_.torque_pct());
  put(drive_bank_, d.temperature, drive_.temperature_c());
  put(drive_bank_, d.bus_voltage, drive_.bus_voltage_v());
  if (d.status_mirror_address >= 0)
    std::copy(drive_bank_.input.begin() + mirror_lo_, drive_bank_.input.begin() + mirror_hi_,
              drive_bank_.holding.begin() + d.status_mirror_address);

  const auto& c = cfg_.load_cell;
  std::uint32_t cw = 0;
  auto cset = [&cw](bool on, int b) {
    if (on) cw |= 1u << b;
  };
  cset(cell_.stable(), c.bit_stable);
  cset(cell_.overload(), c.bit_overload);
  cset(cell_.adc_error(), c.bit_adc_error);
  cset(cell_.tare_busy(), c.bit_tare_busy);
  put(cell_bank_, c.force, (c.compression_positive ? 1.0 : -1.0) * cell_.force_n());
  put(cell_bank_, c.status, cw);
  put(cell_bank_, c.sample_counter, cell_.counter());
  put(cell_bank_, c.command, cell_.command());
}

// ------------------------------------------------------------------ writes
Exception Machine::write_holding(int ui, int address, std::span<const std::uint16_t> values) {
  Bank& b = bank(ui);
  const int n = static_cast<int>(values.size());
  for (int i = 0; i < n; ++i)
    if (b.holding_kind[static_cast<std::size_t>(address) + static_cast<std::size_t>(i)] != 1)
      return Exception::IllegalAddress;
  auto word = [&](int a) -> std::uint16_t {
    return (a >= address && a < address + n) ? values[static_cast<std::size_t>(a - address)]
                                             : b.holding[static_cast<std::size_t>(a)];
  };
  enum Kind {
    Control,
    TorqueCmd,
    SpeedLimit,
    Slew,
    CommTimeout,
    TorqueLimit,
    CellCommand,
    CellFilter
  };
  std::vector<std::pair<Kind, const SignalSpec*>> sigs;
  if (ui == 0) {
    const auto& d = cfg_.drive;
    sigs = {{Control, &d.control},  {TorqueCmd, &d.torque_cmd},     {SpeedLimit, &d.speed_limit},
            {Slew, &d.torque_slew}, {CommTimeout, &d.comm_timeout}, {TorqueLimit, &d.torque_limit}};
  } else {
    sigs = {{CellCommand, &cfg_.load_cell.command}, {CellFilter, &cfg_.load_cell.filter}};
  }
  std::vector<std::pair<Kind, double>> apply;
  for (auto [kind, s] : sigs) {
    if (!s->present || s->address >= address + n || s->end() <= address) continue;
    std::uint16_t w[2] = {word(s->address),
                          s->words() == 2 ? word(s->address + 1) : std::uint16_t{0}};
    std::span<const std::uint16_t> ws(w, static_cast<std::size_t>(s->words()));
    const auto v = kind == Control ? drivers::decode_raw(*s, ws) : drivers::decode(*s, ws);
    if (!v) return Exception::IllegalValue;
    const double x = *v;
    switch (kind) {
      case SpeedLimit:
      case Slew:
      case CommTimeout:
        if (x < 0 || x > 65535) return Exception::IllegalValue;
        break;
      case TorqueLimit:
        if (x < 0 || x > drive_.settings().max_torque_pct + 1e-9) return Exception::IllegalValue;
        break;
      case CellCommand: {
        const int cmd = static_cast<int>(std::lround(x));
        if (cmd != 0 && cmd != cfg_.load_cell.cmd_tare && cmd != cfg_.load_cell.cmd_clear_overload)
          return Exception::IllegalValue;
        break;
      }
      case CellFilter:
        if (x < 0 || x > 9) return Exception::IllegalValue;
        break;
      default: break;
    }
    apply.emplace_back(kind, x);
  }
  for (int i = 0; i < n; ++i)
    b.holding[static_cast<std::size_t>(address) + static_cast<std::size_t>(i)] =
        values[static_cast<std::size_t>(i)];
  const double ts = cfg_.drive.torque_positive_down ? 1.0 : -1.0;
  for (auto [kind, x] : apply) {
    switch (kind) {
      case Control: drive_.write_control(static_cast<std::uint16_t>(x), now_ms_); break;
      case TorqueCmd: drive_.write_torque_cmd(ts * x, now_ms_); break;
      case SpeedLimit: drive_.write_speed_limit(x); break;
      case Slew: drive_.write_torque_slew(x); break;
      case CommTimeout: drive_.write_comm_timeout(x); break;
      case TorqueLimit: drive_.write_torque_limit(x); break;
      case CellCommand:
        cell_.write_command(static_cast<int>(std::lround(x)), cfg_.load_cell.cmd_tare,
                            cfg_.load_cell.cmd_clear_overload);
        break;
      case CellFilter: cell_.write_filter(static_cast<int>(std::lround(x))); break;
    }
  }
  update_registers();
  return Exception::None;
}

// ------------------------------------------------------------------ Modbus
Transaction Machine::transact(std::uint8_t unit, std::span<const std::uint8_t> pdu, bool tcp) {
  std::lock_guard lk(mutex_);
  Transaction t;
  t.unit = unit;
  ++counters_.requests;
  if (outage_until_ms_ >= 0 && now_ms_ < outage_until_ms_) {
    ++counters_.outage_ignored;
    return t;
  }
  if (unit == 0) return t;  // broadcast: not used on this bus, no reply
  const int ui = unit == cfg_.units.drive ? 0 : unit == cfg_.units.load_cell ? 1 : -1;
  if (ui == 0 && drive_boot_until_ms_ >= 0 && now_ms_ < drive_boot_until_ms_) {
    ++counters_.outage_ignored;  // the drive is booting: it hears nothing
    return t;
  }
  if (ui < 0) {
    ++counters_.unknown_unit;
    if (!tcp || pdu.empty()) return t;
    t.reply = true;
    t.pdu = modbus::exception_pdu(pdu[0], Exception::GatewayTargetFailed);
    ++counters_.replies;
    return t;
  }
  sync_registers();
  Target target(*this, ui);
  t.pdu = modbus::handle_pdu(target, pdu);
  if (t.pdu.size() == 2 && (t.pdu[0] & 0x80)) ++counters_.exceptions;
  if (drop_p_ > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < drop_p_) {
    ++counters_.dropped;
    return t;
  }
  // Odd replies: first the counted ones, then those drawn at a rate (the
  // generator is drawn only while a rate is set, so runs without one replay
  // as before).
  for (int k = 0; k < kOddKinds && t.odd == OddReply::None; ++k) {
    if (odd_left_[k] <= 0) continue;
    --odd_left_[k];
    t.odd = static_cast<OddReply>(k + 1);
  }
  for (int k = 0; k < kOddKinds && t.odd == OddReply::None; ++k)
    if (odd_p_[k] > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < odd_p_[k])
      t.odd = static_cast<OddReply>(k + 1);
  if (t.odd != OddReply::None) {
    if (t.odd == OddReply::Exception)
      t.pdu = modbus::exception_pdu(pdu.empty() ? 0 : pdu[0], Exception::DeviceFailure);
    ++counters_.odd_replies;
  }
  t.reply = true;
  ++counters_.replies;
  return t;
}

void Machine::note_bad_frame() {
  std::lock_guard lk(mutex_);
  ++counters_.bad_frames;
}

SimCounters Machine::counters() const {
  std::lock_guard lk(mutex_);
  return counters_;
}

std::uint16_t Machine::reg(int unit, Table table, int address) const {
  sync_registers();
  const Bank& b = unit == cfg_.units.drive ? drive_bank_ : cell_bank_;
  const auto a = static_cast<std::size_t>(address);
  switch (table) {
    case Table::Holding: return b.holding[a];
    case Table::Input: return b.input[a];
    case Table::Coil: return b.coil[a];
    case Table::Discrete: return b.discrete[a];
  }
  return 0;
}

}  // namespace soleus::sim
