#include "soleus/drivers/machine_config.hpp"

#include "soleus/common/log.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

namespace soleus::drivers {

using config::Section;

// ---------------------------------------------------------------- transport
TransportConfig TransportConfig::parse(const Section& s) {
  TransportConfig c;
  const std::string kind = s.choice("kind", {"rtu", "tcp"});
  c.kind = kind == "rtu" ? Kind::Rtu : Kind::Tcp;
  if (c.kind == Kind::Rtu) {
    c.device = s.string("device");
    if (c.device.empty() || c.device[0] != '/')
      s.fail("device", "must be an absolute device path, e.g. /dev/ttySOLEUS");
    c.baud = static_cast<int>(s.integer("baud", 115200, 1200, 1000000));
    static constexpr int kBauds[] = {1200,  2400,   4800,   9600,   19200, 38400,
                                     57600, 115200, 230400, 460800, 921600};
    if (std::find(std::begin(kBauds), std::end(kBauds), c.baud) == std::end(kBauds))
      s.fail("baud", std::to_string(c.baud) + " is not a standard baud rate");
    const std::string parity = s.choice("parity", "even", {"none", "even", "odd"});
    c.parity = parity == "none" ? 'N' : parity == "even" ? 'E' : 'O';
    c.data_bits = static_cast<int>(s.integer("data_bits", 8, 7, 8));
    c.stop_bits = static_cast<int>(s.integer("stop_bits", 1, 1, 2));
    c.rs485 = s.boolean("rs485", true);
    c.byte_timeout_ms = s.number("byte_timeout_ms", 2.0, 0.1, 100.0);
    c.response_timeout_ms = s.number("response_timeout_ms", 15.0, 0.5, 1000.0);
    c.retries = static_cast<int>(s.integer("retries", 0, 0, 5));
  } else {
    c.host = s.string("host");
    if (c.host.empty()) s.fail("host", "must not be empty");
    c.port = static_cast<int>(s.integer("port", 502, 1, 65535));
    c.response_timeout_ms = s.number("response_timeout_ms", 5.0, 0.5, 1000.0);
    c.retries = static_cast<int>(s.integer("retries", 1, 0, 5));
  }
  s.finish();
  return c;
}

UnitsConfig UnitsConfig::parse(const Section& s) {
  UnitsConfig u;
  u.drive = static_cast<int>(s.integer("drive", 1, 1, 247));
  u.load_cell = static_cast<int>(s.integer("load_cell", 2, 1, 247));
  if (u.drive == u.load_cell)
    s.fail("load_cell", "the drive and the load cell need different unit ids");
  s.finish();
  return u;
}

// ---------------------------------------------------------------- registers
namespace {

SignalSpec parse_signal(const Section& regs, std::string_view key, bool required) {
  SignalSpec sp;
  auto sec = regs.optional_section(key);
  if (!sec) {
    if (required) regs.fail(key, "required register is missing");
    return sp;
  }
  const Section& r = *sec;
  sp.present = true;
  const std::string table = r.choice("table", {"holding", "input", "coil", "discrete"});
  sp.table = table == "holding" ? Table::Holding
             : table == "input" ? Table::Input
             : table == "coil"  ? Table::Coil
                                : Table::Discrete;
  const std::string type = r.choice("type", "u16", {"u16", "s16", "u32", "s32", "f32"});
  sp.type = type == "u16"   ? ValueType::U16
            : type == "s16" ? ValueType::S16
            : type == "u32" ? ValueType::U32
            : type == "s32" ? ValueType::S32
                            : ValueType::F32;
  if ((sp.table == Table::Coil || sp.table == Table::Discrete) && sp.type != ValueType::U16)
    r.fail("type", "coils and discrete inputs are single bits: use type = \"u16\"");
  sp.address = static_cast<int>(r.integer("address", 0, 65535 - (sp.words() - 1)));
  const std::string order = r.choice("word_order", "high_first", {"high_first", "low_first"});
  sp.order = order == "high_first" ? WordOrder::HighFirst : WordOrder::LowFirst;
  sp.scale = r.number("scale", 1.0, -1e9, 1e9);
  if (sp.scale == 0.0) r.fail("scale", "must not be zero");
  sp.offset = r.number("offset", 0.0, -1e9, 1e9);
  r.finish();
  return sp;
}

struct Named {
  std::string key;
  const SignalSpec* spec;
};

/// Refuses two signals of one device that share a register of the same table.
void check_overlaps(const Section& regs, const std::vector<Named>& signals) {
  for (std::size_t i = 0; i < signals.size(); ++i) {
    const SignalSpec& a = *signals[i].spec;
    if (!a.present) continue;
    for (std::size_t j = i + 1; j < signals.size(); ++j) {
      const SignalSpec& b = *signals[j].spec;
      if (!b.present || a.table != b.table) continue;
      if (a.address < b.end() && b.address < a.end())
        regs.fail(signals[j].key, std::string("overlaps ") + regs.key_name(signals[i].key) + " (" +
                                      to_string(a.table) + " register " +
                                      std::to_string(b.address) + ")");
    }
  }
}

void require_writable(const Section& regs, std::string_view key, const SignalSpec& s) {
  if (s.present && s.table != Table::Holding)
    regs.fail(key, "is written by the host, so it must be a holding register");
}

int parse_bit(const Section& s, std::string_view key, int def,
              std::vector<std::pair<std::string, int>>& seen) {
  const int b = static_cast<int>(s.integer(key, def, 0, 15));
  for (auto& [k, v] : seen)
    if (v == b) s.fail(key, "bit " + std::to_string(b) + " is already used by " + s.key_name(k));
  seen.emplace_back(std::string(key), b);
  return b;
}

}  // namespace

std::string DriveMap::fault_name(int code) const {
  if (code == 0) return "none";
  auto it = fault_names.find(code);
  return it != fault_names.end() ? it->second : "fault " + std::to_string(code);
}

DriveMap DriveMap::parse(const Section& s) {
  DriveMap m;
  const Section regs = s.section("registers");
  m.control = parse_signal(regs, "control", true);
  m.torque_cmd = parse_signal(regs, "torque_cmd", true);
  m.speed_limit = parse_signal(regs, "speed_limit", true);
  m.torque_slew = parse_signal(regs, "torque_slew", true);
  m.comm_timeout = parse_signal(regs, "comm_timeout", true);
  m.torque_limit = parse_signal(regs, "torque_limit", true);
  m.status = parse_signal(regs, "status", true);
  m.fault_code = parse_signal(regs, "fault_code", true);
  m.position = parse_signal(regs, "position", true);
  m.speed = parse_signal(regs, "speed", true);
  m.torque_actual = parse_signal(regs, "torque_actual", true);
  m.temperature = parse_signal(regs, "temperature", false);
  m.bus_voltage = parse_signal(regs, "bus_voltage", false);
  regs.finish();
  for (auto [k, sp] : {std::pair<const char*, const SignalSpec*>{"control", &m.control},
                       {"torque_cmd", &m.torque_cmd},
                       {"speed_limit", &m.speed_limit},
                       {"torque_slew", &m.torque_slew},
                       {"comm_timeout", &m.comm_timeout},
                       {"torque_limit", &m.torque_limit}})
    require_writable(regs, k, *sp);
  if (m.control.type != ValueType::U16) regs.fail("control", "the control word must be a u16");
  if (m.status.table != Table::Input && m.status.table != Table::Holding)
    regs.fail("status", "the status word must be an input or holding register");
  if (m.status.type != ValueType::U16) regs.fail("status", "the status word must be a u16");

  const std::vector<Named> all = {{"control", &m.control},
                                  {"torque_cmd", &m.torque_cmd},
                                  {"speed_limit", &m.speed_limit},
                                  {"torque_slew", &m.torque_slew},
                                  {"comm_timeout", &m.comm_timeout},
                                  {"torque_limit", &m.torque_limit},
                                  {"status", &m.status},
                                  {"fault_code", &m.fault_code},
                                  {"position", &m.position},
                                  {"speed", &m.speed},
                                  {"torque_actual", &m.torque_actual},
                                  {"temperature", &m.temperature},
                                  {"bus_voltage", &m.bus_voltage}};
  check_overlaps(regs, all);

  m.status_mirror_address = static_cast<int>(s.integer("status_mirror_address", -1, -1, 65535));
  if (m.status_mirror_address >= 0) {
    // The mirror holds the block of status input registers, from the lowest to the highest.
    int lo = 65536, hi = -1;
    for (auto* sp : {&m.status, &m.fault_code, &m.position, &m.speed, &m.torque_actual,
                     &m.temperature, &m.bus_voltage}) {
      if (!sp->present) continue;
      if (sp->table != Table::Input)
        s.fail("status_mirror_address",
               "a status mirror needs every status signal in the input table");
      lo = std::min(lo, sp->address);
      hi = std::max(hi, sp->end());
    }
    const int mlo = m.status_mirror_address, mhi = mlo + (hi - lo);
    if (hi - lo > 125)
      s.fail("status_mirror_address",
             "the mirrored block (input " + std::to_string(lo) + ".." + std::to_string(hi - 1) +
                 ") is " + std::to_string(hi - lo) + " registers; one read holds at most 125");
    if (mhi > 65536) s.fail("status_mirror_address", "the mirrored block runs past register 65535");
    for (const auto& n : all) {
      const SignalSpec& sp = *n.spec;
      if (sp.present && sp.table == Table::Holding && sp.address < mhi && mlo < sp.end())
        s.fail("status_mirror_address", "the mirrored block overlaps " + regs.key_name(n.key));
    }
  }

  std::vector<std::pair<std::string, int>> seen;
  if (auto cb = s.optional_section("control_bits")) {
    m.bit_enable = parse_bit(*cb, "enable", 0, seen);
    m.bit_fault_reset = parse_bit(*cb, "fault_reset", 1, seen);
    m.bit_quick_stop = parse_bit(*cb, "quick_stop", 2, seen);
    cb->finish();
  }
  seen.clear();
  if (auto sb = s.optional_section("status_bits")) {
    m.bit_ready = parse_bit(*sb, "ready", 0, seen);
    m.bit_enabled = parse_bit(*sb, "enabled", 1, seen);
    m.bit_fault = parse_bit(*sb, "fault", 2, seen);
    m.bit_sto = parse_bit(*sb, "sto", 3, seen);
    m.bit_speed_limited = parse_bit(*sb, "speed_limited", 4, seen);
    m.bit_torque_limited = parse_bit(*sb, "torque_limited", 5, seen);
    sb->finish();
  }
  if (auto sg = s.optional_section("signs")) {
    m.torque_positive_down = sg->choice("torque_positive", "down", {"down", "up"}) == "down";
    m.position_positive_up = sg->choice("position_positive", "up", {"up", "down"}) == "up";
    m.speed_positive_up = sg->choice("speed_positive", "up", {"up", "down"}) == "up";
    sg->finish();
  }
  if (auto fc = s.optional_section("fault_codes")) {
    m.comm_loss_fault_code = static_cast<int>(fc->integer("comm_loss_code", 6, 1, 65535));
    if (auto names = fc->optional_section("names")) {
      for (const auto& k : names->keys()) {
        int code = -1;
        try {
          std::size_t used = 0;
          code = std::stoi(k, &used);
          if (used != k.size()) code = -1;
        } catch (...) {
          code = -1;
        }
        if (code < 1 || code > 65535)
          names->fail(k, "fault code keys must be numbers from 1 to 65535");
        m.fault_names[code] = names->string(k);
      }
      names->finish();
    }
    fc->finish();
  }
  s.finish();
  return m;
}

LoadCellMap LoadCellMap::parse(const Section& s) {
  LoadCellMap m;
  const Section regs = s.section("registers");
  m.force = parse_signal(regs, "force", true);
  m.status = parse_signal(regs, "status", true);
  m.sample_counter = parse_signal(regs, "sample_counter", true);
  m.command = parse_signal(regs, "command", true);
  m.filter = parse_signal(regs, "filter", false);
  regs.finish();
  require_writable(regs, "command", m.command);
  require_writable(regs, "filter", m.filter);
  if (m.status.type != ValueType::U16) regs.fail("status", "the status word must be a u16");
  check_overlaps(regs, {{"force", &m.force},
                        {"status", &m.status},
                        {"sample_counter", &m.sample_counter},
                        {"command", &m.command},
                        {"filter", &m.filter}});
  m.counter_modulo = static_cast<int>(s.integer("counter_modulo", 65536, 2, 65536));
  m.sample_rate_hz = s.number("sample_rate_hz", 200.0, 1.0, 100000.0);
  std::vector<std::pair<std::string, int>> seen;
  if (auto sb = s.optional_section("status_bits")) {
    m.bit_stable = parse_bit(*sb, "stable", 0, seen);
    m.bit_overload = parse_bit(*sb, "overload", 1, seen);
    m.bit_adc_error = parse_bit(*sb, "adc_error", 2, seen);
    m.bit_tare_busy = parse_bit(*sb, "tare_busy", 3, seen);
    sb->finish();
  }
  if (auto c = s.optional_section("commands")) {
    m.cmd_tare = static_cast<int>(c->integer("tare", 1, 1, 65535));
    m.cmd_clear_overload = static_cast<int>(c->integer("clear_overload", 2, 1, 65535));
    if (m.cmd_tare == m.cmd_clear_overload)
      c->fail("clear_overload", "must differ from commands.tare");
    c->finish();
  }
  if (auto sg = s.optional_section("signs")) {
    m.compression_positive =
        sg->choice("force_positive", "compression", {"compression", "tension"}) == "compression";
    sg->finish();
  }
  s.finish();
  return m;
}

// ---------------------------------------------------------------- mechanics
machine::Mechanics parse_mechanics(const Section& s) {
  machine::Mechanics m;
  m.rated_torque_nm = s.number("rated_torque_nm", 3.18, 0.01, 1000.0);
  m.screw_lead_mm = s.number("screw_lead_mm", 10.0, 0.1, 200.0);
  m.efficiency = s.number("efficiency", 0.90, 0.3, 1.0);
  m.counts_per_mm = s.number("counts_per_mm", 1000.0, 0.001, 1e7);
  m.pad_weight_n = s.number("pad_weight_n", 78.5, 0.0, 2000.0);
  m.moving_mass_kg = s.number("moving_mass_kg", 110.0, 1.0, 10000.0);
  m.travel_max_mm = s.number("travel_max_mm", 150.0, 10.0, 2000.0);
  s.finish();
  return m;
}

machine::Limits parse_limits(const Section& s) {
  machine::Limits l;
  l.max_load_n = s.number("max_load_n", 1800.0, 10.0, 1e6);
  if (l.max_load_n > machine::kHardCapN)
    s.fail("max_load_n", "is above the 2500 N hard cap that no configuration may exceed");
  l.max_speed_mm_s = s.number("max_speed_mm_s", 100.0, 1.0, 1000.0);
  l.max_slew_n_per_s = s.number("max_slew_n_per_s", 6000.0, 100.0, 1e6);
  if (s.has("watchdog_ms") && s.number("watchdog_ms", 0.0, 1e6) == 0.0)
    s.fail("watchdog_ms",
           "0 would switch the drive's communication watchdog off; it must always be armed");
  l.watchdog_ms = s.number("watchdog_ms", 100.0, 10.0, 65535.0);
  s.finish();
  return l;
}

double armed_torque_limit_pct(const SignalSpec& torque_limit, const machine::Mechanics& mech,
                              double force_n) {
  return floor_to_resolution(torque_limit, mech.torque_pct_for_force(force_n, true), false);
}

namespace {
std::string fmt_num(double v, int decimals) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(decimals) << v;
  return os.str();
}
}  // namespace

DriveLimitCheck check_drive_limits(const DriveMap& drive, const machine::Mechanics& mech,
                                   const machine::Limits& limits) {
  DriveLimitCheck c;
  // What ServoDrive::configure() will write: DriveSetup::from_limits() caps
  // the force at limits.max_load_n, converted back-driven and floored.
  c.torque_limit_pct = armed_torque_limit_pct(drive.torque_limit, mech, limits.max_load_n);
  // The most the motor can push the pad down onto the user at that limit
  // (the ICD's "down": F = T·2π/lead·η).
  c.force_at_limit_down_n = mech.force_from_torque_pct(c.torque_limit_pct, false);
  // A load is held with the motor driving the screw: the same conversion.
  c.continuous_down_n = mech.force_from_torque_pct(100.0, false);
  const std::string load = "max_load_n = " + fmt_num(limits.max_load_n, 1) + " N";
  if (!(c.torque_limit_pct <= machine::kMaxTorqueLimitPct)) {
    // Largest load whose TORQUE_LIMIT stays within the peak.
    const double fits_n = mech.force_from_torque_pct(machine::kMaxTorqueLimitPct, true);
    c.error = load + " would arm TORQUE_LIMIT at " + fmt_num(c.torque_limit_pct, 1) +
              " % of rated torque, above the motor's " + fmt_num(machine::kMaxTorqueLimitPct, 0) +
              " % peak (with mechanics.rated_torque_nm = " + fmt_num(mech.rated_torque_nm, 3) +
              " Nm, screw_lead_mm = " + fmt_num(mech.screw_lead_mm, 2) +
              ", efficiency = " + fmt_num(mech.efficiency, 2) +
              "): check that mechanics.rated_torque_nm is the motor's "
              "rated (continuous) torque, or lower max_load_n to at most " +
              fmt_num(fits_n, 0) + " N";
  } else if (!(c.force_at_limit_down_n <= machine::kHardCapN)) {
    c.error = load + " would arm TORQUE_LIMIT at " + fmt_num(c.torque_limit_pct, 1) +
              " % of rated torque, where the motor pushes " + fmt_num(c.force_at_limit_down_n, 0) +
              " N down at the pad: above the 2500 N hard cap that no configuration may exceed";
  }
  if (c.error.empty() &&
      limits.max_load_n > c.continuous_down_n * (1.0 + kContinuousRatingTolerance)) {
    c.warning = "limits.max_load_n = " + fmt_num(limits.max_load_n, 1) +
                " N is above the drive's continuous rating at the pad (" +
                fmt_num(mech.rated_torque_nm, 3) +
                " Nm, held driving down: " + fmt_num(c.continuous_down_n, 0) + " N, +" +
                fmt_num(kContinuousRatingTolerance * 100.0, 0) +
                " % rounding allowed): long sets near it may overheat the motor (the drive's I²t)";
  }
  return c;
}

MachineConfig MachineConfig::parse(const Section& root) {
  MachineConfig c;
  c.transport = TransportConfig::parse(root.section("transport"));
  c.units =
      root.optional_section("units") ? UnitsConfig::parse(root.section("units")) : UnitsConfig{};
  c.drive = DriveMap::parse(root.section("drive"));
  c.load_cell = LoadCellMap::parse(root.section("load_cell"));
  c.mechanics = parse_mechanics(root.section("mechanics"));
  c.limits = parse_limits(root.section("limits"));
  // The torque limit register must be able to hold the torque for max load,
  // as the drivers arm it.
  const DriveLimitCheck lim = check_drive_limits(c.drive, c.mechanics, c.limits);
  if (!lim.error.empty()) root.section("limits").fail("max_load_n", lim.error);
  std::uint16_t words[2];
  if (!encode(c.drive.torque_limit, lim.torque_limit_pct, words))
    root.section("limits").fail(
        "max_load_n", "needs a torque limit that the drive's TORQUE_LIMIT register cannot hold");
  if (!lim.warning.empty()) {
    log::warn(root.file(), ": ", lim.warning);
    c.warnings.push_back(lim.warning);
  }
  return c;
}

}  // namespace soleus::drivers
