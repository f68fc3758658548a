#include "soleus/sim/control_channel.hpp"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "soleus/common/log.hpp"
#include "soleus/sim/athlete_json.hpp"
#include "soleus/sim/machine.hpp"

namespace soleus::sim {

namespace json = boost::json;

namespace {

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
    throw std::invalid_argument(std::string("\"") + key + "\" must be within " +
                                std::to_string(lo) + " .. " + std::to_string(hi));
  return v;
}

bool flag(const json::object& o, const char* key, bool def) {
  auto it = o.find(key);
  if (it == o.end()) return def;
  if (!it->value().is_bool())
    throw std::invalid_argument(std::string("\"") + key + "\" must be true or false");
  return it->value().as_bool();
}

Tempo tempo_of(const json::value& v, const char* key) {
  Tempo t;
  std::string why;
  if (v.is_string()) {
    if (!parse_tempo(std::string(v.as_string()), t, why))
      throw std::invalid_argument(std::string("\"") + key +
                                  "\" must look like \"3-1-3-1\" (E-B-C-T seconds): " + why);
    return t;
  }
  if (v.is_array() && v.as_array().size() == 4) {
    const auto& a = v.as_array();
    t = Tempo{num(a[0]), num(a[1]), num(a[2]), num(a[3])};
    if (check_tempo(t, why)) return t;
    throw std::invalid_argument(std::string("\"") + key + "\" as [E, B, C, T]: " + why);
  }
  throw std::invalid_argument(std::string("\"") + key + "\" must be \"E-B-C-T\" or [E, B, C, T]");
}

json::object tempo_json(const Tempo& t) {
  return {{"eccentric_s", t.eccentric_s},
          {"bottom_s", t.bottom_s},
          {"concentric_s", t.concentric_s},
          {"top_s", t.top_s},
          {"text", to_string(t)}};
}

}  // namespace

// ------------------------------------------------------------------ the Machine's entry points
json::object Machine::control(const json::value& request) {
  return ControlChannel(*this).handle(request);
}

std::string Machine::control_line(const std::string& line) {
  return ControlChannel(*this).handle_line(line);
}

json::object Machine::truth(double drop_pct, int skip_reps) const {
  return ControlChannel::truth(*this, drop_pct, skip_reps);
}

json::object Machine::state() const { return ControlChannel::state(*this); }

// ------------------------------------------------------------------ requests
std::string ControlChannel::handle_line(const std::string& line) {
  json::object reply;
  try {
    reply = handle(json::parse(line));
  } catch (const std::exception& e) {
    reply = {{"ok", false}, {"error", std::string("not JSON: ") + e.what()}};
  }
  return json::serialize(reply);
}

json::object ControlChannel::handle(const json::value& request) {
  try {
    if (!request.is_object())
      throw std::invalid_argument("a request is a JSON object with \"cmd\"");
    const json::object& req = request.as_object();
    auto it = req.find("cmd");
    if (it == req.end() || !it->value().is_string()) throw std::invalid_argument("missing \"cmd\"");
    const std::string cmd(it->value().as_string());
    if (cmd == "ping") {
      std::lock_guard lk(m_.mutex_);
      return {{"ok", true}, {"time_s", static_cast<double>(m_.now_ms_) / 1000.0}};
    }
    if (cmd == "truth") {
      const double pct = num_in(req, "drop_pct", 20.0, 0.0, 100.0);
      const int skip = static_cast<int>(num_in(req, "skip_reps", 0, 0, 1e6));
      std::lock_guard lk(m_.mutex_);
      json::object o = truth(m_, pct, skip);
      o["ok"] = true;
      return o;
    }
    if (cmd == "state") {
      std::lock_guard lk(m_.mutex_);
      json::object o = state(m_);
      o["ok"] = true;
      return o;
    }
    if (cmd == "athlete") {
      std::lock_guard lk(m_.mutex_);
      return athlete_cmd(req);
    }
    if (cmd == "fault") {
      std::lock_guard lk(m_.mutex_);
      return fault_cmd(req);
    }
    if (cmd == "bench") {
      std::lock_guard lk(m_.mutex_);
      return bench_cmd(req);
    }
    if (cmd == "noise") {
      std::lock_guard lk(m_.mutex_);
      return noise_cmd(req);
    }
    if (cmd == "reset") {
      std::lock_guard lk(m_.mutex_);
      m_.reset_locked();
      log::notice("soleus-sim: reset at t=", static_cast<double>(m_.now_ms_) / 1000.0, " s");
      return {{"ok", true}};
    }
    if (cmd == "help") {
      return {{"ok", true},
              {"commands", json::array{"ping", "truth", "state", "athlete", "fault", "bench",
                                       "noise", "reset", "help"}},
              {"fault_kinds",
               json::array{"sto", "drive_fault", "cell_freeze", "cell_value_freeze", "adc_error",
                           "overload", "drop", "outage", "power_cycle", "setup_lost", "nan_force",
                           "bad_crc", "wrong_unit", "wrong_tid", "exception", "clear"}}};
    }
    throw std::invalid_argument("unknown cmd \"" + cmd + "\" (try {\"cmd\":\"help\"})");
  } catch (const std::exception& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
}

json::object ControlChannel::fault_cmd(const json::object& req) {
  auto it = req.find("kind");
  if (it == req.end() || !it->value().is_string())
    throw std::invalid_argument("fault needs \"kind\"");
  const std::string kind(it->value().as_string());
  for (const auto& kv : req) {
    const std::string k(kv.key());
    if (k != "cmd" && k != "kind" && k != "on" && k != "code" && k != "p" && k != "seconds" &&
        k != "count")
      throw std::invalid_argument("unknown key \"" + k + "\" for fault");
  }
  if (kind == "sto") {
    m_.drive_.set_sto(flag(req, "on", true));
  } else if (kind == "drive_fault") {
    const int code = static_cast<int>(num_in(req, "code", -1, 1, 65535));
    if (code < 1) throw std::invalid_argument("drive_fault needs \"code\" (1..65535)");
    m_.drive_.raise_fault(code);
  } else if (kind == "cell_freeze") {
    m_.cell_.set_frozen(flag(req, "on", true));
  } else if (kind == "cell_value_freeze") {
    m_.cell_.set_value_frozen(flag(req, "on", true));
  } else if (kind == "adc_error") {
    m_.cell_.set_adc_error(flag(req, "on", true));
  } else if (kind == "overload") {
    m_.cell_.force_overload();
  } else if (kind == "nan_force") {
    m_.cell_.set_nan(flag(req, "on", true));
  } else if (kind == "drop") {
    m_.drop_p_ = num_in(req, "p", -1, 0.0, 1.0);
    if (m_.drop_p_ < 0) throw std::invalid_argument("drop needs \"p\" (0..1)");
  } else if (kind == "setup_lost") {
    m_.lose_drive_setup();
  } else if (kind == "power_cycle") {
    m_.power_cycle_drive(num_in(req, "seconds", kDriveBootS, 0.0, 60.0));
  } else if (kind == "outage") {
    const double s = num_in(req, "seconds", -1, 0.0, 3600.0);
    if (s < 0) throw std::invalid_argument("outage needs \"seconds\"");
    m_.outage_until_ms_ = m_.now_ms_ + static_cast<std::int64_t>(std::lround(s * 1000.0));
  } else if (kind == "bad_crc" || kind == "wrong_unit" || kind == "wrong_tid" ||
             kind == "exception") {
    const int k = kind == "bad_crc" ? 0 : kind == "wrong_unit" ? 1 : kind == "wrong_tid" ? 2 : 3;
    // "p": every reply from now on is odd with this probability (0 ends it);
    // "count": the next N replies are (without "p", the default: 1).
    if (req.contains("p")) m_.odd_p_[k] = num_in(req, "p", 0, 0.0, 1.0);
    if (req.contains("count") || !req.contains("p"))
      m_.odd_left_[k] = static_cast<int>(num_in(req, "count", 1, 0, 1e6));
  } else if (kind == "clear") {
    m_.drive_.set_sto(false);
    m_.cell_.set_frozen(false);
    m_.cell_.set_value_frozen(false);
    m_.cell_.set_adc_error(false);
    m_.cell_.set_nan(false);
    m_.drop_p_ = 0;
    m_.outage_until_ms_ = -1;
    for (int& n : m_.odd_left_) n = 0;
    for (double& p : m_.odd_p_) p = 0;
  } else {
    throw std::invalid_argument("unknown fault kind \"" + kind + "\"");
  }
  m_.update_registers();
  log::notice("soleus-sim: fault ", json::serialize(req),
              " at t=", static_cast<double>(m_.now_ms_) / 1000.0, " s");
  return {{"ok", true}};
}

json::object ControlChannel::bench_cmd(const json::object& req) {
  for (const auto& kv : req) {
    const std::string k(kv.key());
    if (k == "cmd") continue;
    if (k == "seated") {
      if (!kv.value().is_bool()) throw std::invalid_argument("\"seated\" must be true or false");
      m_.bench_seated_ = kv.value().get_bool();
    } else if (k == "weight_n") {
      m_.bench_weight_n_ = num_in(req, "weight_n", 0, 0, 5000);
    } else if (k == "cell_gain") {
      m_.bench_cell_gain_ = num_in(req, "cell_gain", 1, 0.5, 2.0);
    } else if (k == "cell_mount") {
      const std::string m = kv.value().is_string() ? std::string(kv.value().as_string()) : "";
      if (m != "contact" && m != "pad_on_cell")
        throw std::invalid_argument("\"cell_mount\" must be \"contact\" or \"pad_on_cell\"");
      m_.cell_pad_on_cell_ = m == "pad_on_cell";
    } else {
      throw std::invalid_argument("unknown key \"" + k +
                                  "\" for bench (seated, weight_n, cell_gain, cell_mount)");
    }
  }
  log::notice("soleus-sim: bench ", json::serialize(req),
              " at t=", static_cast<double>(m_.now_ms_) / 1000.0, " s");
  return {{"ok", true},
          {"seated", m_.bench_seated_},
          {"weight_n", m_.bench_weight_n_},
          {"cell_gain", m_.bench_cell_gain_},
          {"cell_mount", m_.cell_pad_on_cell_ ? "pad_on_cell" : "contact"}};
}

json::object ControlChannel::noise_cmd(const json::object& req) {
  NoiseSettings n = m_.noise_;
  for (const auto& kv : req) {
    const std::string k(kv.key());
    if (k == "cmd") continue;
    if (k == "cell_noise_n") n.cell_noise_n = num_in(req, "cell_noise_n", 0, 0, 50);
    else if (k == "cell_drift_n_per_s")
      n.cell_drift_n_per_s = num_in(req, "cell_drift_n_per_s", 0, 0, 5);
    else if (k == "cell_drift_max_n")
      n.cell_drift_max_n = num_in(req, "cell_drift_max_n", 0, 0, 500);
    else if (k == "drive_ripple_v") n.drive_ripple_v = num_in(req, "drive_ripple_v", 0, 0, 100);
    else
      throw std::invalid_argument(
          "unknown key \"" + k +
          "\" for noise (cell_noise_n, cell_drift_n_per_s, cell_drift_max_n, drive_ripple_v)");
  }
  m_.noise_ = n;
  m_.apply_noise();
  return {{"ok", true}, {"noise", noise_json(m_)}};
}

json::object ControlChannel::noise_json(const Machine& m) {
  return {{"cell_noise_n", m.noise_.cell_noise_n},
          {"cell_drift_n_per_s", m.noise_.cell_drift_n_per_s},
          {"cell_drift_max_n", m.noise_.cell_drift_max_n},
          {"drive_ripple_v", m.noise_.drive_ripple_v}};
}

json::object ControlChannel::athlete_cmd(const json::object& req) {
  AthleteSettings s = m_.athlete_settings_;
  bool reset_capacity = false;
  for (const auto& kv : req) {
    const std::string k(kv.key());
    const json::value& v = kv.value();
    if (k == "cmd" || k == "reset") continue;
    if (k == "style") {
      if (!v.is_string() || !parse_style(std::string(v.as_string()), s.style))
        throw std::invalid_argument(
            "\"style\" must be one of tempo, push_hard, half_range, bounce, let_go, "
            "shrinking_range, relax, isometric");
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
      s.bottom_mm = num_in(req, "bottom_mm", 0, 0, m_.cfg_.mechanics.travel_max_mm);
    } else if (k == "top_mm") {
      s.top_mm = num_in(req, "top_mm", 0, 0, m_.cfg_.mechanics.travel_max_mm);
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
  m_.athlete_settings_ = s;
  m_.athlete_.configure(s, reset_capacity);
  if (flag(req, "reset", false)) m_.athlete_.reset();
  return {{"ok", true}, {"athlete", settings_json(m_)}};
}

json::object ControlChannel::settings_json(const Machine& m) {
  // The settings as the athlete command takes them (one list of fields), with
  // the tempos spelled out for readers.
  const AthleteSettings& s = m.athlete_settings_;
  json::object o = athlete_request_json(s);
  o["tempo"] = tempo_json(s.tempo);
  o["bounce_tempo"] = tempo_json(s.bounce_tempo);
  return o;
}

json::object ControlChannel::truth(const Machine& m, double drop_pct, int skip_reps) {
  json::array reps, partials;
  for (const RepTruth& r : m.athlete_.reps()) {
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
    if (!r.full)
      partials.push_back(
          {{"index", r.index}, {"range_mm", r.range_mm}, {"range_fraction", r.range_fraction}});
    reps.push_back(std::move(o));
  }
  json::object o{{"time_s", static_cast<double>(m.now_ms_) / 1000.0},
                 {"style", to_string(m.athlete_settings_.style)},
                 {"phase", to_string(m.athlete_.phase())},
                 {"full_reps", m.athlete_.full_reps()},
                 {"partial_reps", m.athlete_.partial_reps()},
                 {"reps_total", static_cast<std::int64_t>(m.athlete_.reps().size())},
                 {"capacity_n", m.athlete_.capacity_n()},
                 {"initial_capacity_n", m.athlete_settings_.capacity_n},
                 {"best_mean_concentric_n", m.athlete_.best_mean_concentric_n(skip_reps)},
                 {"drop_pct", drop_pct},
                 {"skip_reps", skip_reps},
                 {"partials", std::move(partials)},
                 {"reps", std::move(reps)}};
  if (auto r = m.athlete_.first_drop_rep(drop_pct, skip_reps)) o["first_drop_rep"] = *r;
  else o["first_drop_rep"] = nullptr;
  const AthleteEvents& ev = m.athlete_.events();
  auto opt = [](const auto& x) { return x ? json::value(*x) : json::value(nullptr); };
  json::array rests;
  for (const auto& [a, b] : ev.rests)
    rests.push_back(json::array{a, b < 0 ? json::value(nullptr) : json::value(b)});
  o["events"] = json::object{{"left_s", opt(ev.left_s)},
                             {"returned_s", opt(ev.returned_s)},
                             {"leave_kind", to_string(ev.leave_kind)},
                             {"stall_s", opt(ev.stall_s)},
                             {"range_shrink_rep", opt(ev.range_shrink_rep)},
                             {"first_move_s", opt(ev.first_move_s)},
                             {"rests", std::move(rests)}};
  if (const HoldTruth& h = m.athlete_.hold(); h.hold) {
    json::array bouts;
    for (const auto& [a, b] : h.bouts)
      bouts.push_back(json::array{a, b < 0 ? json::value(nullptr) : json::value(b)});
    json::array force;
    for (float f : h.force_n) force.push_back(std::round(f * 10.0) / 10.0);
    o["hold"] =
        json::object{{"start_s", opt(h.start_s)},
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
  o["traits_enabled"] = m.athlete_settings_.traits.enabled;
  o["heel_mm"] = m.athlete_.heel_mm();
  o["tissue_compression_mm"] = m.athlete_.tissue_compression_mm();
  o["fatigue"] = m.athlete_.fatigue();
  o["resting"] = m.athlete_.resting();
  o["away"] = m.athlete_.away();
  return o;
}

json::object ControlChannel::registers_json(const Machine& m, int ui) {
  m.sync_registers();
  const Machine::Bank& b = ui == 0 ? m.drive_bank_ : m.cell_bank_;
  json::object holding, input, coils, discrete;
  for (std::size_t a = 0; a < 65536; ++a) {
    if (b.holding_kind[a]) holding[std::to_string(a)] = b.holding[a];
    if (b.input_def[a]) input[std::to_string(a)] = b.input[a];
    if (b.coil_def[a]) coils[std::to_string(a)] = b.coil[a];
    if (b.discrete_def[a]) discrete[std::to_string(a)] = b.discrete[a];
  }
  json::object o{{"unit", ui == 0 ? m.cfg_.units.drive : m.cfg_.units.load_cell},
                 {"holding", std::move(holding)},
                 {"input", std::move(input)}};
  if (!coils.empty()) o["coils"] = std::move(coils);
  if (!discrete.empty()) o["discrete"] = std::move(discrete);
  return o;
}

json::object ControlChannel::state(const Machine& m) {
  const PlantState& ps = m.plant_.state();
  const auto& mech = m.cfg_.mechanics;
  json::object pad{{"position_mm", ps.x_mm},
                   {"velocity_mm_s", ps.v_mm_s},
                   {"accel_mm_s2", ps.a_mm_s2},
                   {"motor_force_n", ps.motor_force_n},
                   {"contact_force_n", m.athlete_.contact_n()},
                   {"muscle_force_n", m.athlete_.muscle_n()},
                   {"heel_force_n", m.athlete_.heel_n()}};
  json::object drive{{"ready", m.drive_.ready()},
                     {"enabled", m.drive_.enabled()},
                     {"fault", m.drive_.fault()},
                     {"fault_code", m.drive_.fault_code()},
                     {"fault_name", m.cfg_.drive.fault_name(m.drive_.fault_code())},
                     {"sto", m.drive_.sto()},
                     {"speed_limited", m.drive_.speed_limited()},
                     {"torque_limited", m.drive_.torque_limited()},
                     {"quick_stopping", m.drive_.quick_stopping()},
                     {"control", m.drive_.control()},
                     {"torque_cmd_pct", m.drive_.torque_cmd_pct()},
                     {"torque_pct", m.drive_.torque_pct()},
                     {"torque_force_n", m.plant_.ideal_force_n(m.drive_.torque_pct())},
                     {"torque_limit_pct", m.drive_.torque_limit_pct()},
                     {"speed_limit_rpm", m.drive_.speed_limit_rpm()},
                     {"torque_slew_pct_ms", m.drive_.torque_slew_pct_ms()},
                     {"comm_timeout_ms", m.drive_.comm_timeout_ms()},
                     {"last_command_age_ms", m.now_ms_ - m.drive_.last_command_ms()},
                     {"speed_rpm", mech.rpm_from_mm_s(ps.v_mm_s)},
                     {"temperature_c", m.drive_.temperature_c()},
                     {"bus_voltage_v", m.drive_.bus_voltage_v()}};
  const double force_n = m.cell_.force_n();
  json::object cell{
      {"force_n", std::isfinite(force_n) ? json::value(force_n) : json::value(nullptr)},
      {"stable", m.cell_.stable()},
      {"overload", m.cell_.overload()},
      {"adc_error", m.cell_.adc_error()},
      {"tare_busy", m.cell_.tare_busy()},
      {"counter", m.cell_.counter()},
      {"frozen", m.cell_.frozen()},
      {"value_frozen", m.cell_.value_frozen()},
      {"nan_force", m.cell_.nan_injected()},
      {"filter", m.cell_.filter()},
      {"tare_n", m.cell_.tare_n()},
      {"command", m.cell_.command()}};
  const double outage_left = m.outage_until_ms_ > m.now_ms_
                                 ? static_cast<double>(m.outage_until_ms_ - m.now_ms_) / 1000.0
                                 : 0.0;
  cell["drift_n"] = m.cell_.drift_n();
  json::object faults{{"drop_p", m.drop_p_},
                      {"outage_s_left", outage_left},
                      {"bad_crc", m.odd_left_[0]},
                      {"wrong_unit", m.odd_left_[1]},
                      {"wrong_tid", m.odd_left_[2]},
                      {"exception", m.odd_left_[3]},
                      {"odd_p", json::object{{"bad_crc", m.odd_p_[0]},
                                             {"wrong_unit", m.odd_p_[1]},
                                             {"wrong_tid", m.odd_p_[2]},
                                             {"exception", m.odd_p_[3]}}}};
  json::object counters{{"requests", m.counters_.requests},
                        {"replies", m.counters_.replies},
                        {"exceptions", m.counters_.exceptions},
                        {"dropped", m.counters_.dropped},
                        {"outage_ignored", m.counters_.outage_ignored},
                        {"odd_replies", m.counters_.odd_replies},
                        {"drive_power_cycles", m.counters_.drive_power_cycles},
                        {"unknown_unit", m.counters_.unknown_unit},
                        {"bad_frames", m.counters_.bad_frames}};
  json::object athlete{{"phase", to_string(m.athlete_.phase())},
                       {"capacity_n", m.athlete_.capacity_n()},
                       {"rep_top_mm", m.athlete_.rep_top_mm()},
                       {"heel_mm", m.athlete_.heel_mm()},
                       {"tissue_compression_mm", m.athlete_.tissue_compression_mm()},
                       {"resting", m.athlete_.resting()},
                       {"away", m.athlete_.away()},
                       {"reps_total", static_cast<std::int64_t>(m.athlete_.reps().size())},
                       {"settings", settings_json(m)}};
  return {{"time_s", static_cast<double>(m.now_ms_) / 1000.0},
          {"pad", std::move(pad)},
          {"drive", std::move(drive)},
          {"load_cell", std::move(cell)},
          {"athlete", std::move(athlete)},
          {"faults", std::move(faults)},
          {"noise", noise_json(m)},
          {"counters", std::move(counters)},
          {"registers",
           json::object{{"drive", registers_json(m, 0)}, {"load_cell", registers_json(m, 1)}}}};
}

}  // namespace soleus::sim
