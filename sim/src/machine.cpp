#include "soleus/sim/machine.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <utility>

#include "soleus/common/log.hpp"
#include "soleus/sim/athlete_json.hpp"

namespace soleus::sim {

namespace json = boost::json;
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

void split32(const SignalSpec& s, std::uint32_t v, std::uint16_t* w) {
  const auto hi = static_cast<std::uint16_t>(v >> 16), lo = static_cast<std::uint16_t>(v & 0xFFFF);
  w[0] = s.order == drivers::WordOrder::HighFirst ? hi : lo;
  w[1] = s.order == drivers::WordOrder::HighFirst ? lo : hi;
}

/// Encodes `value`; a value the type cannot hold is saturated, a non-finite
/// one becomes a float NaN/infinity (f32) or the type's largest value.
void encode_saturating(const SignalSpec& s, double value, std::uint16_t* w) {
  if (drivers::encode(s, value, std::span<std::uint16_t>(w, 2))) return;
  if (s.type == ValueType::F32) {
    const float f = std::isnan(value) ? std::numeric_limits<float>::quiet_NaN()
                    : (value - s.offset) / s.scale > 0 ? std::numeric_limits<float>::infinity()
                                                       : -std::numeric_limits<float>::infinity();
    split32(s, std::bit_cast<std::uint32_t>(f), w);
    return;
  }
  double lo = 0, hi = 0;
  switch (s.type) {
    case ValueType::U16: hi = 65535; break;
    case ValueType::S16: lo = -32768; hi = 32767; break;
    case ValueType::U32: hi = 4294967295.0; break;
    case ValueType::S32: lo = -2147483648.0; hi = 2147483647.0; break;
    case ValueType::F32: break;
  }
  double raw = std::isfinite(value) ? (value - s.offset) / s.scale : hi;
  if (!std::isfinite(raw)) raw = hi;
  const auto r = static_cast<std::int64_t>(std::clamp(std::nearbyint(raw), lo, hi));
  if (s.words() == 1)
    w[0] = static_cast<std::uint16_t>(r & 0xFFFF);
  else
    split32(s, static_cast<std::uint32_t>(r & 0xFFFFFFFF), w);
}

double num(const json::value& v) {
  if (v.is_double()) return v.as_double();
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_bool()) return v.as_bool() ? 1.0 : 0.0;
  throw std::invalid_argument("expected a number");
}

double num_in(const json::object& o, const char* key, double def, double lo, double hi) {
  auto it = o.find(key);
  if (it == o.end()) return def;
  double v = 0;
  try {
    v = num(it->value());
  } catch (const std::exception&) {
    throw std::invalid_argument(std::string("\"") + key + "\" must be a number");
  }
  if (!(v >= lo && v <= hi))
    throw std::invalid_argument(std::string("\"") + key + "\" must be within " + std::to_string(lo) +
                                " .. " + std::to_string(hi));
  return v;
}

bool flag(const json::object& o, const char* key, bool def) {
  auto it = o.find(key);
  if (it == o.end()) return def;
  if (!it->value().is_bool()) throw std::invalid_argument(std::string("\"") + key + "\" must be true or false");
  return it->value().as_bool();
}

Tempo tempo_of(const json::value& v, const char* key) {
  Tempo t;
  if (v.is_string()) {
    if (!parse_tempo(std::string(v.as_string()), t))
      throw std::invalid_argument(std::string("\"") + key + "\" must look like \"3-1-3-1\" (E-B-C-T seconds)");
    return t;
  }
  if (v.is_array() && v.as_array().size() == 4) {
    const auto& a = v.as_array();
    std::string text = std::to_string(num(a[0])) + "-" + std::to_string(num(a[1])) + "-" +
                       std::to_string(num(a[2])) + "-" + std::to_string(num(a[3]));
    if (parse_tempo(text, t)) return t;
  }
  throw std::invalid_argument(std::string("\"") + key + "\" must be \"E-B-C-T\" or [E, B, C, T]");
}

json::object tempo_json(const Tempo& t) {
  return {{"eccentric_s", t.eccentric_s}, {"bottom_s", t.bottom_s}, {"concentric_s", t.concentric_s},
          {"top_s", t.top_s}, {"text", to_string(t)}};
}

}  // namespace

// ------------------------------------------------------------------ tables
Machine::Bank::Bank()
    : holding(65536, 0), input(65536, 0), coil(65536, 0), discrete(65536, 0), holding_kind(65536, 0),
      input_def(65536, 0), coil_def(65536, 0), discrete_def(65536, 0) {}

class Machine::Target : public modbus::RegisterTarget {
 public:
  Target(Machine& m, int unit_index) : m_(m), ui_(unit_index) {}
  Exception read_bits(Table table, int address, int count, std::vector<std::uint8_t>& out) override {
    Bank& b = m_.bank(ui_);
    auto& def = table == Table::Coil ? b.coil_def : b.discrete_def;
    auto& val = table == Table::Coil ? b.coil : b.discrete;
    for (int i = 0; i < count; ++i)
      if (!def[static_cast<std::size_t>(address + i)]) return Exception::IllegalAddress;
    out.assign(val.begin() + address, val.begin() + address + count);
    return Exception::None;
  }
  Exception read_registers(Table table, int address, int count, std::vector<std::uint16_t>& out) override {
    Bank& b = m_.bank(ui_);
    for (int i = 0; i < count; ++i) {
      const auto a = static_cast<std::size_t>(address + i);
      if (table == Table::Holding ? b.holding_kind[a] == 0 : b.input_def[a] == 0) return Exception::IllegalAddress;
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
    const auto a = static_cast<std::size_t>(s.address + i);
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
    (s.table == Table::Coil ? b.coil : b.discrete)[static_cast<std::size_t>(s.address)] = value != 0 ? 1 : 0;
    return;
  }
  std::uint16_t w[2] = {0, 0};
  encode_saturating(s, value, w);
  auto& tab = s.table == Table::Holding ? b.holding : b.input;
  for (int i = 0; i < s.words(); ++i) tab[static_cast<std::size_t>(s.address + i)] = w[i];
}

// ------------------------------------------------------------------ life
Machine::Machine(const drivers::MachineConfig& cfg, const AthleteSettings& athlete, std::uint64_t seed)
    : cfg_(cfg),
      athlete_settings_(seeded(athlete, seed)),
      seed_(seed),
      drive_(drive_settings(cfg)),
      cell_(cell_settings(cfg, seed)),
      athlete_(athlete_settings_, body_of(cfg)),
      plant_(cfg.mechanics, athlete_settings_.bottom_mm),
      rng_(seed * 31 + 17) {
  const auto& d = cfg_.drive;
  for (const SignalSpec* s : {&d.control, &d.torque_cmd, &d.speed_limit, &d.torque_slew, &d.comm_timeout, &d.torque_limit})
    define(drive_bank_, *s, true);
  for (const SignalSpec* s : {&d.status, &d.fault_code, &d.position, &d.speed, &d.torque_actual, &d.temperature, &d.bus_voltage})
    define(drive_bank_, *s, false);
  if (d.status_mirror_address >= 0) {
    mirror_lo_ = 65536;
    mirror_hi_ = -1;
    for (const SignalSpec* s : {&d.status, &d.fault_code, &d.position, &d.speed, &d.torque_actual, &d.temperature, &d.bus_voltage}) {
      if (!s->present || s->table != Table::Input) continue;
      mirror_lo_ = std::min(mirror_lo_, s->address);
      mirror_hi_ = std::max(mirror_hi_, s->end());
    }
    for (int a = d.status_mirror_address; a < d.status_mirror_address + (mirror_hi_ - mirror_lo_); ++a)
      drive_bank_.holding_kind[static_cast<std::size_t>(a)] = 2;
  }
  const auto& c = cfg_.load_cell;
  define(cell_bank_, c.command, true);
  define(cell_bank_, c.filter, true);
  for (const SignalSpec* s : {&c.force, &c.status, &c.sample_counter}) define(cell_bank_, *s, false);
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
  in.commanded_force_n = drive_.enabled() ? plant_.ideal_force_n(std::clamp(drive_.torque_cmd_pct(), -lim, lim)) : 0.0;
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
    log::notice("soleus-sim: drive fault ", drive_.fault_code(), " (", cfg_.drive.fault_name(drive_.fault_code()),
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
    if (b.holding_kind[static_cast<std::size_t>(address + i)] != 1) return Exception::IllegalAddress;
  auto word = [&](int a) -> std::uint16_t {
    return (a >= address && a < address + n) ? values[static_cast<std::size_t>(a - address)]
                                             : b.holding[static_cast<std::size_t>(a)];
  };
  enum Kind { Control, TorqueCmd, SpeedLimit, Slew, CommTimeout, TorqueLimit, CellCommand, CellFilter };
  std::vector<std::pair<Kind, const SignalSpec*>> sigs;
  if (ui == 0) {
    const auto& d = cfg_.drive;
    sigs = {{Control, &d.control},     {TorqueCmd, &d.torque_cmd},     {SpeedLimit, &d.speed_limit},
            {Slew, &d.torque_slew},    {CommTimeout, &d.comm_timeout}, {TorqueLimit, &d.torque_limit}};
  } else {
    sigs = {{CellCommand, &cfg_.load_cell.command}, {CellFilter, &cfg_.load_cell.filter}};
  }
  std::vector<std::pair<Kind, double>> apply;
  for (auto [kind, s] : sigs) {
    if (!s->present || s->address >= address + n || s->end() <= address) continue;
    std::uint16_t w[2] = {word(s->address), s->words() == 2 ? word(s->address + 1) : std::uint16_t{0}};
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
  for (int i = 0; i < n; ++i) b.holding[static_cast<std::size_t>(address + i)] = values[static_cast<std::size_t>(i)];
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
        cell_.write_command(static_cast<int>(std::lround(x)), cfg_.load_cell.cmd_tare, cfg_.load_cell.cmd_clear_overload);
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
    if (t.odd == OddReply::Exception) t.pdu = modbus::exception_pdu(pdu.empty() ? 0 : pdu[0], Exception::DeviceFailure);
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

// ------------------------------------------------------------------ control channel
std::string Machine::control_line(const std::string& line) {
  json::object reply;
  try {
    reply = control(json::parse(line));
  } catch (const std::exception& e) {
    reply = {{"ok", false}, {"error", std::string("not JSON: ") + e.what()}};
  }
  return json::serialize(reply);
}

json::object Machine::control(const json::value& request) {
  try {
    if (!request.is_object()) throw std::invalid_argument("a request is a JSON object with \"cmd\"");
    const json::object& req = request.as_object();
    auto it = req.find("cmd");
    if (it == req.end() || !it->value().is_string()) throw std::invalid_argument("missing \"cmd\"");
    const std::string cmd(it->value().as_string());
    if (cmd == "ping") {
      std::lock_guard lk(mutex_);
      return {{"ok", true}, {"time_s", static_cast<double>(now_ms_) / 1000.0}};
    }
    if (cmd == "truth") {
      const double pct = num_in(req, "drop_pct", 20.0, 0.0, 100.0);
      const int skip = static_cast<int>(num_in(req, "skip_reps", 0, 0, 1e6));
      std::lock_guard lk(mutex_);
      json::object o = truth(pct, skip);
      o["ok"] = true;
      return o;
    }
    if (cmd == "state") {
      std::lock_guard lk(mutex_);
      json::object o = state();
      o["ok"] = true;
      return o;
    }
    if (cmd == "athlete") {
      std::lock_guard lk(mutex_);
      return athlete_cmd(req);
    }
    if (cmd == "fault") {
      std::lock_guard lk(mutex_);
      return fault_cmd(req);
    }
    if (cmd == "bench") {
      std::lock_guard lk(mutex_);
      return bench_cmd(req);
    }
    if (cmd == "noise") {
      std::lock_guard lk(mutex_);
      return noise_cmd(req);
    }
    if (cmd == "reset") {
      std::lock_guard lk(mutex_);
      reset_locked();
      log::notice("soleus-sim: reset at t=", static_cast<double>(now_ms_) / 1000.0, " s");
      return {{"ok", true}};
    }
    if (cmd == "help") {
      return {{"ok", true},
              {"commands", json::array{"ping", "truth", "state", "athlete", "fault", "bench", "noise", "reset", "help"}},
              {"fault_kinds", json::array{"sto", "drive_fault", "cell_freeze", "cell_value_freeze", "adc_error", "overload", "drop",
                                          "outage", "power_cycle", "setup_lost", "nan_force", "bad_crc", "wrong_unit", "wrong_tid",
                                          "exception", "clear"}}};
    }
    throw std::invalid_argument("unknown cmd \"" + cmd + "\" (try {\"cmd\":\"help\"})");
  } catch (const std::exception& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
}

json::object Machine::fault_cmd(const json::object& req) {
  auto it = req.find("kind");
  if (it == req.end() || !it->value().is_string()) throw std::invalid_argument("fault needs \"kind\"");
  const std::string kind(it->value().as_string());
  for (const auto& kv : req) {
    const std::string k(kv.key());
    if (k != "cmd" && k != "kind" && k != "on" && k != "code" && k != "p" && k != "seconds" && k != "count")
      throw std::invalid_argument("unknown key \"" + k + "\" for fault");
  }
  if (kind == "sto") {
    drive_.set_sto(flag(req, "on", true));
  } else if (kind == "drive_fault") {
    const int code = static_cast<int>(num_in(req, "code", -1, 1, 65535));
    if (code < 1) throw std::invalid_argument("drive_fault needs \"code\" (1..65535)");
    drive_.raise_fault(code);
  } else if (kind == "cell_freeze") {
    cell_.set_frozen(flag(req, "on", true));
  } else if (kind == "cell_value_freeze") {
    cell_.set_value_frozen(flag(req, "on", true));
  } else if (kind == "adc_error") {
    cell_.set_adc_error(flag(req, "on", true));
  } else if (kind == "overload") {
    cell_.force_overload();
  } else if (kind == "nan_force") {
    cell_.set_nan(flag(req, "on", true));
  } else if (kind == "drop") {
    drop_p_ = num_in(req, "p", -1, 0.0, 1.0);
    if (drop_p_ < 0) throw std::invalid_argument("drop needs \"p\" (0..1)");
  } else if (kind == "setup_lost") {
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
  } else if (kind == "power_cycle") {
    power_cycle_drive(num_in(req, "seconds", kDriveBootS, 0.0, 60.0));
  } else if (kind == "outage") {
    const double s = num_in(req, "seconds", -1, 0.0, 3600.0);
    if (s < 0) throw std::invalid_argument("outage needs \"seconds\"");
    outage_until_ms_ = now_ms_ + static_cast<std::int64_t>(std::lround(s * 1000.0));
  } else if (kind == "bad_crc" || kind == "wrong_unit" || kind == "wrong_tid" || kind == "exception") {
    const int k = kind == "bad_crc" ? 0 : kind == "wrong_unit" ? 1 : kind == "wrong_tid" ? 2 : 3;
    // "p": every reply from now on is odd with this probability (0 ends it);
    // "count": the next N replies are (without "p", the default: 1).
    if (req.contains("p")) odd_p_[k] = num_in(req, "p", 0, 0.0, 1.0);
    if (req.contains("count") || !req.contains("p")) odd_left_[k] = static_cast<int>(num_in(req, "count", 1, 0, 1e6));
  } else if (kind == "clear") {
    drive_.set_sto(false);
    cell_.set_frozen(false);
    cell_.set_value_frozen(false);
    cell_.set_adc_error(false);
    cell_.set_nan(false);
    drop_p_ = 0;
    outage_until_ms_ = -1;
    for (int& n : odd_left_) n = 0;
    for (double& p : odd_p_) p = 0;
  } else {
    throw std::invalid_argument("unknown fault kind \"" + kind + "\"");
  }
  update_registers();
  log::notice("soleus-sim: fault ", json::serialize(req), " at t=", static_cast<double>(now_ms_) / 1000.0, " s");
  return {{"ok", true}};
}

json::object Machine::bench_cmd(const json::object& req) {
  for (const auto& kv : req) {
    const std::string k(kv.key());
    if (k == "cmd") continue;
    if (k == "seated") {
      if (!kv.value().is_bool()) throw std::invalid_argument("\"seated\" must be true or false");
      bench_seated_ = kv.value().get_bool();
    } else if (k == "weight_n") {
      bench_weight_n_ = num_in(req, "weight_n", 0, 0, 5000);
    } else if (k == "cell_gain") {
      bench_cell_gain_ = num_in(req, "cell_gain", 1, 0.5, 2.0);
    } else if (k == "cell_mount") {
      const std::string m = kv.value().is_string() ? std::string(kv.value().as_string()) : "";
      if (m != "contact" && m != "pad_on_cell")
        throw std::invalid_argument("\"cell_mount\" must be \"contact\" or \"pad_on_cell\"");
      cell_pad_on_cell_ = m == "pad_on_cell";
    } else {
      throw std::invalid_argument("unknown key \"" + k + "\" for bench (seated, weight_n, cell_gain, cell_mount)");
    }
  }
  log::notice("soleus-sim: bench ", json::serialize(req), " at t=", static_cast<double>(now_ms_) / 1000.0, " s");
  return {{"ok", true}, {"seated", bench_seated_}, {"weight_n", bench_weight_n_},
          {"cell_gain", bench_cell_gain_}, {"cell_mount", cell_pad_on_cell_ ? "pad_on_cell" : "contact"}};
}

json::object Machine::noise_cmd(const json::object& req) {
  NoiseSettings n = noise_;
  for (const auto& kv : req) {
    const std::string k(kv.key());
    if (k == "cmd") continue;
    if (k == "cell_noise_n") n.cell_noise_n = num_in(req, "cell_noise_n", 0, 0, 50);
    else if (k == "cell_drift_n_per_s") n.cell_drift_n_per_s = num_in(req, "cell_drift_n_per_s", 0, 0, 5);
    else if (k == "cell_drift_max_n") n.cell_drift_max_n = num_in(req, "cell_drift_max_n", 0, 0, 500);
    else if (k == "drive_ripple_v") n.drive_ripple_v = num_in(req, "drive_ripple_v", 0, 0, 100);
    else
      throw std::invalid_argument("unknown key \"" + k +
                                  "\" for noise (cell_noise_n, cell_drift_n_per_s, cell_drift_max_n, drive_ripple_v)");
  }
  noise_ = n;
  apply_noise();
  return {{"ok", true}, {"noise", noise_json()}};
}

json::object Machine::noise_json() const {
  return {{"cell_noise_n", noise_.cell_noise_n},
          {"cell_drift_n_per_s", noise_.cell_drift_n_per_s},
          {"cell_drift_max_n", noise_.cell_drift_max_n},
          {"drive_ripple_v", noise_.drive_ripple_v}};
}

json::object Machine::athlete_cmd(const json::object& req) {
  AthleteSettings s = athlete_settings_;
  bool reset_capacity = false;
  for (const auto& kv : req) {
    const std::string k(kv.key());
    const json::value& v = kv.value();
    if (k == "cmd" || k == "reset") continue;
    if (k == "style") {
      if (!v.is_string() || !parse_style(std::string(v.as_string()), s.style))
        throw std::invalid_argument("\"style\" must be one of tempo, push_hard, half_range, bounce, let_go, shrinking_range, relax, isometric");
    } else if (k == "capacity_n") {
      s.capacity_n = num_in(req, "capacity_n", 0, 0, 10000);
      reset_capacity = true;
    } else if (k == "fatigue_rate") {
      s.fatigue_rate = num_in(req, "fatigue_rate", 0, 0, 0.9);
    } else if (k == "tempo") {
      s.tempo = tempo_of(v, "tempo");
    } else if (k == "bounce_tempo") {
      s.bounce_tempo = tempo_of(v, "bounce_tempo");
    } else if (k == "bottom_mm") {
      s.bottom_mm = num_in(req, "bottom_mm", 0, 0, cfg_.mechanics.travel_max_mm);
    } else if (k == "top_mm") {
      s.top_mm = num_in(req, "top_mm", 0, 0, cfg_.mechanics.travel_max_mm);
    } else if (k == "start_load_n") {
      s.start_load_n = num_in(req, "start_load_n", 0, 0, 5000);
    } else if (k == "start_delay_s") {
      s.start_delay_s = num_in(req, "start_delay_s", 0, 0, 60);
    } else if (k == "after_reps") {
      s.after_reps = static_cast<int>(num_in(req, "after_reps", 0, 0, 1000));
    } else if (k == "half_range_fraction") {
      s.half_range_fraction = num_in(req, "half_range_fraction", 0, 0.05, 1);
    } else if (k == "shrink_per_rep") {
      s.shrink_per_rep = num_in(req, "shrink_per_rep", 0, 0, 1);
    } else if (k == "min_range_fraction") {
      s.min_range_fraction = num_in(req, "min_range_fraction", 0, 0.05, 1);
    } else if (k == "iso_fraction") {
      s.iso_fraction = num_in(req, "iso_fraction", 0, 0, 1);
    } else if (k == "noise_n") {
      s.noise_n = num_in(req, "noise_n", 0, 0, 500);
    } else if (k == "wobble_n") {
      s.wobble_n = num_in(req, "wobble_n", 0, 0, 2000);
    } else if (k == "wobble_hz") {
      s.wobble_hz = num_in(req, "wobble_hz", 0, 0.1, 50);
    } else if (k == "seed") {
      s.seed = static_cast<std::uint64_t>(num_in(req, "seed", 1, 0, 9.0e15));
    } else if (k == "traits") {
      if (!v.is_object()) throw std::invalid_argument("\"traits\" must be an object");
      apply_traits_json(v.as_object(), s.traits);
    } else {
      throw std::invalid_argument("unknown athlete setting \"" + k + "\"");
    }
  }
  if (s.top_mm - s.bottom_mm < 10.0)
    throw std::invalid_argument("top_mm must be at least 10 mm above bottom_mm");
  athlete_settings_ = s;
  athlete_.configure(s, reset_capacity);
  if (flag(req, "reset", false)) athlete_.reset();
  return {{"ok", true}, {"athlete", settings_json()}};
}

json::object Machine::settings_json() const {
  // The settings as the athlete command takes them (one list of fields), with
  // the tempos spelled out for readers.
  const AthleteSettings& s = athlete_settings_;
  json::object o = athlete_request_json(s);
  o["tempo"] = tempo_json(s.tempo);
  o["bounce_tempo"] = tempo_json(s.bounce_tempo);
  return o;
}

json::object Machine::truth(double drop_pct, int skip_reps) const {
  json::array reps, partials;
  for (const RepTruth& r : athlete_.reps()) {
    json::object o{{"index", r.index},
                   {"full", r.full},
                   {"start_s", r.start_s},
                   {"low_mm", r.low_mm},
                   {"high_mm", r.high_mm},
                   {"range_mm", r.range_mm},
                   {"range_fraction", r.range_fraction},
                   {"intended_fraction", r.intended_fraction},
                   {"peak_concentric_n", r.peak_concentric_n},
                   {"mean_concentric_n", r.mean_concentric_n},
                   {"concentric_s", r.concentric_s},
                   {"top_pause_s", r.top_pause_s},
                   {"eccentric_s", r.eccentric_s},
                   {"bottom_pause_s", r.bottom_pause_s},
                   {"capacity_n", r.capacity_n},
                   {"heel_low_start_mm", r.heel_low_start_mm},
                   {"heel_high_mm", r.heel_high_mm},
                   {"heel_low_end_mm", r.heel_low_end_mm},
                   {"heel_rise_mm", r.heel_rise_mm},
                   {"heel_return_mm", r.heel_return_mm},
                   {"true_range_mm", r.true_range_mm},
                   {"rise_fraction", r.rise_fraction},
                   {"return_fraction", r.return_fraction},
                   {"end_s", r.end_s},
                   {"loaded_s", r.loaded_s},
                   {"wobbly", r.wobbly},
                   {"stalled", r.stalled},
                   {"mid_rest", r.mid_rest}};
    if (!r.full) partials.push_back({{"index", r.index}, {"range_mm", r.range_mm}, {"range_fraction", r.range_fraction}});
    reps.push_back(std::move(o));
  }
  json::object o{{"time_s", static_cast<double>(now_ms_) / 1000.0},
                 {"style", to_string(athlete_settings_.style)},
                 {"phase", to_string(athlete_.phase())},
                 {"full_reps", athlete_.full_reps()},
                 {"partial_reps", athlete_.partial_reps()},
                 {"reps_total", static_cast<std::int64_t>(athlete_.reps().size())},
                 {"capacity_n", athlete_.capacity_n()},
                 {"initial_capacity_n", athlete_settings_.capacity_n},
                 {"best_mean_concentric_n", athlete_.best_mean_concentric_n(skip_reps)},
                 {"drop_pct", drop_pct},
                 {"skip_reps", skip_reps},
                 {"partials", std::move(partials)},
                 {"reps", std::move(reps)}};
  if (auto r = athlete_.first_drop_rep(drop_pct, skip_reps)) o["first_drop_rep"] = *r;
  else o["first_drop_rep"] = nullptr;
  const AthleteEvents& ev = athlete_.events();
  auto opt = [](const auto& x) { return x ? json::value(*x) : json::value(nullptr); };
  json::array rests;
  for (const auto& [a, b] : ev.rests) rests.push_back(json::array{a, b < 0 ? json::value(nullptr) : json::value(b)});
  o["events"] = json::object{{"left_s", opt(ev.left_s)},
                             {"returned_s", opt(ev.returned_s)},
                             {"leave_kind", to_string(ev.leave_kind)},
                             {"stall_s", opt(ev.stall_s)},
                             {"range_shrink_rep", opt(ev.range_shrink_rep)},
                             {"first_move_s", opt(ev.first_move_s)},
                             {"rests", std::move(rests)}};
  if (const HoldTruth& h = athlete_.hold(); h.hold) {
    json::array bouts;
    for (const auto& [a, b] : h.bouts) bouts.push_back(json::array{a, b < 0 ? json::value(nullptr) : json::value(b)});
    json::array force;
    for (float f : h.force_n) force.push_back(std::round(f * 10.0) / 10.0);
    o["hold"] = json::object{{"start_s", opt(h.start_s)},
                             {"end_s", opt(h.end_s)},
                             {"fail_s", opt(h.fail_s)},
                             {"gave_up", h.gave_up},
                             {"bouts", std::move(bouts)},
                             {"bin_s", h.bin_s},
                             {"bins_from_s", h.bins_from_s},
                             {"force_n", std::move(force)},
                             {"first_drop_s", opt(h.first_drop_s(drop_pct, 1.0, h.bins_from_s, 1e9))}};
  } else {
    o["hold"] = nullptr;
  }
  o["traits_enabled"] = athlete_settings_.traits.enabled;
  o["heel_mm"] = athlete_.heel_mm();
  o["tissue_compression_mm"] = athlete_.tissue_compression_mm();
  o["fatigue"] = athlete_.fatigue();
  o["resting"] = athlete_.resting();
  o["away"] = athlete_.away();
  return o;
}

json::object Machine::registers_json(int ui) const {
  sync_registers();
  const Bank& b = ui == 0 ? drive_bank_ : cell_bank_;
  json::object holding, input, coils, discrete;
  for (std::size_t a = 0; a < 65536; ++a) {
    if (b.holding_kind[a]) holding[std::to_string(a)] = b.holding[a];
    if (b.input_def[a]) input[std::to_string(a)] = b.input[a];
    if (b.coil_def[a]) coils[std::to_string(a)] = b.coil[a];
    if (b.discrete_def[a]) discrete[std::to_string(a)] = b.discrete[a];
  }
  json::object o{{"unit", ui == 0 ? cfg_.units.drive : cfg_.units.load_cell}, {"holding", std::move(holding)}, {"input", std::move(input)}};
  if (!coils.empty()) o["coils"] = std::move(coils);
  if (!discrete.empty()) o["discrete"] = std::move(discrete);
  return o;
}

json::object Machine::state() const {
  const PlantState& ps = plant_.state();
  const auto& mech = cfg_.mechanics;
  json::object pad{{"position_mm", ps.x_mm},
                   {"velocity_mm_s", ps.v_mm_s},
                   {"accel_mm_s2", ps.a_mm_s2},
                   {"motor_force_n", ps.motor_force_n},
                   {"contact_force_n", athlete_.contact_n()},
                   {"muscle_force_n", athlete_.muscle_n()},
                   {"heel_force_n", athlete_.heel_n()}};
  json::object drive{{"ready", drive_.ready()},
                     {"enabled", drive_.enabled()},
                     {"fault", drive_.fault()},
                     {"fault_code", drive_.fault_code()},
                     {"fault_name", cfg_.drive.fault_name(drive_.fault_code())},
                     {"sto", drive_.sto()},
                     {"speed_limited", drive_.speed_limited()},
                     {"torque_limited", drive_.torque_limited()},
                     {"quick_stopping", drive_.quick_stopping()},
                     {"control", drive_.control()},
                     {"torque_cmd_pct", drive_.torque_cmd_pct()},
                     {"torque_pct", drive_.torque_pct()},
                     {"torque_force_n", plant_.ideal_force_n(drive_.torque_pct())},
                     {"torque_limit_pct", drive_.torque_limit_pct()},
                     {"speed_limit_rpm", drive_.speed_limit_rpm()},
                     {"torque_slew_pct_ms", drive_.torque_slew_pct_ms()},
                     {"comm_timeout_ms", drive_.comm_timeout_ms()},
                     {"last_command_age_ms", now_ms_ - drive_.last_command_ms()},
                     {"speed_rpm", mech.rpm_from_mm_s(ps.v_mm_s)},
                     {"temperature_c", drive_.temperature_c()},
                     {"bus_voltage_v", drive_.bus_voltage_v()}};
  json::object cell{{"force_n", std::isfinite(cell_.force_n()) ? json::value(cell_.force_n()) : json::value(nullptr)},
                    {"stable", cell_.stable()},
                    {"overload", cell_.overload()},
                    {"adc_error", cell_.adc_error()},
                    {"tare_busy", cell_.tare_busy()},
                    {"counter", cell_.counter()},
                    {"frozen", cell_.frozen()},
                    {"value_frozen", cell_.value_frozen()},
                    {"nan_force", cell_.nan_injected()},
                    {"filter", cell_.filter()},
                    {"tare_n", cell_.tare_n()},
                    {"command", cell_.command()}};
  const double outage_left = outage_until_ms_ > now_ms_ ? static_cast<double>(outage_until_ms_ - now_ms_) / 1000.0 : 0.0;
  cell["drift_n"] = cell_.drift_n();
  json::object faults{{"drop_p", drop_p_},
                      {"outage_s_left", outage_left},
                      {"bad_crc", odd_left_[0]},
                      {"wrong_unit", odd_left_[1]},
                      {"wrong_tid", odd_left_[2]},
                      {"exception", odd_left_[3]},
                      {"odd_p", json::object{{"bad_crc", odd_p_[0]}, {"wrong_unit", odd_p_[1]},
                                             {"wrong_tid", odd_p_[2]}, {"exception", odd_p_[3]}}}};
  json::object counters{{"requests", counters_.requests},         {"replies", counters_.replies},
                        {"exceptions", counters_.exceptions},     {"dropped", counters_.dropped},
                        {"outage_ignored", counters_.outage_ignored}, {"odd_replies", counters_.odd_replies},
                        {"drive_power_cycles", counters_.drive_power_cycles},
                        {"unknown_unit", counters_.unknown_unit}, {"bad_frames", counters_.bad_frames}};
  json::object athlete{{"phase", to_string(athlete_.phase())},
                       {"capacity_n", athlete_.capacity_n()},
                       {"rep_top_mm", athlete_.rep_top_mm()},
                       {"heel_mm", athlete_.heel_mm()},
                       {"tissue_compression_mm", athlete_.tissue_compression_mm()},
                       {"resting", athlete_.resting()},
                       {"away", athlete_.away()},
                       {"reps_total", static_cast<std::int64_t>(athlete_.reps().size())},
                       {"settings", settings_json()}};
  return {{"time_s", static_cast<double>(now_ms_) / 1000.0},
          {"pad", std::move(pad)},
          {"drive", std::move(drive)},
          {"load_cell", std::move(cell)},
          {"athlete", std::move(athlete)},
          {"faults", std::move(faults)},
          {"noise", noise_json()},
          {"counters", std::move(counters)},
          {"registers", json::object{{"drive", registers_json(0)}, {"load_cell", registers_json(1)}}}};
}

}  // namespace soleus::sim
