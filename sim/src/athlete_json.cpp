#include "soleus/sim/athlete_json.hpp"

#include <cmath>
#include <stdexcept>

namespace soleus::sim {

namespace json = boost::json;

namespace {

double number(const json::value& v, const std::string& key) {
  if (v.is_double()) return v.as_double();
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  throw std::invalid_argument("trait \"" + key + "\" must be a number");
}

double in_range(const json::value& v, const std::string& key, double lo, double hi) {
  const double x = number(v, key);
  if (!(x >= lo && x <= hi))
    throw std::invalid_argument("trait \"" + key + "\" must be within " + std::to_string(lo) +
                                " .. " + std::to_string(hi));
  return x;
}

int integer(const json::value& v, const std::string& key, int lo, int hi) {
  const double x = in_range(v, key, lo, hi);
  if (x != std::floor(x))
    throw std::invalid_argument("trait \"" + key + "\" must be a whole number");
  return static_cast<int>(x);
}

bool boolean(const json::value& v, const std::string& key) {
  if (v.is_bool()) return v.as_bool();
  throw std::invalid_argument("trait \"" + key + "\" must be true or false");
}

template <typename E>
E enumerated(const json::value& v, const std::string& key, bool (*parse)(const std::string&, E&),
             const char* names) {
  E out{};
  if (!v.is_string() || !parse(std::string(v.as_string()), out))
    throw std::invalid_argument("trait \"" + key + "\" must be one of " + names);
  return out;
}

}  // namespace

json::object traits_json(const AthleteTraits& t) {
  return {{"enabled", t.enabled},
          {"reaction_s", t.reaction_s},
          {"first_bottom_pause", t.first_bottom_pause},
          {"effort", to_string(t.effort)},
          {"follow_surplus_n", t.follow_surplus_n},
          {"tempo_scale", t.tempo_scale},
          {"tempo_jitter", t.tempo_jitter},
          {"pause_scale", t.pause_scale},
          {"mid_rest_p", t.mid_rest_p},
          {"mid_rest_where", to_string(t.mid_rest_where)},
          {"mid_rest_min_s", t.mid_rest_min_s},
          {"mid_rest_max_s", t.mid_rest_max_s},
          {"range_jitter", t.range_jitter},
          {"tissue_mm", t.tissue_mm},
          {"fatigue", to_string(t.fatigue)},
          {"fail_rep", t.fail_rep},
          {"sudden_factor", t.sudden_factor},
          {"half_reps", t.half_reps},
          {"fail_mode", to_string(t.fail_mode)},
          {"collapse_fraction", t.collapse_fraction},
          {"tremor_n", t.tremor_n},
          {"tremor_hz", t.tremor_hz},
          {"tremor_growth", t.tremor_growth},
          {"sticking_fraction", t.sticking_fraction},
          {"sticking_depth", t.sticking_depth},
          {"drop_p", t.drop_p},
          {"leave", to_string(t.leave)},
          {"leave_rep", t.leave_rep},
          {"sit_back_after_s", t.sit_back_after_s},
          {"hold_fraction", t.hold_fraction},
          {"hold_fail_s", t.hold_fail_s},
          {"hold_leave_s", t.hold_leave_s}};
}

void apply_traits_json(const json::object& o, AthleteTraits& out) {
  AthleteTraits t = out;
  bool enabled_given = false;
  for (const auto& kv : o) {
    const std::string k(kv.key());
    const json::value& v = kv.value();
    if (k == "enabled") {
      t.enabled = boolean(v, k);
      enabled_given = true;
    } else if (k == "reaction_s") t.reaction_s = in_range(v, k, 0, 60);
    else if (k == "first_bottom_pause") t.first_bottom_pause = boolean(v, k);
    else if (k == "effort")
      t.effort = enumerated<Effort>(v, k, parse_effort, "track, follow, push_hard, grind");
    else if (k == "follow_surplus_n") t.follow_surplus_n = in_range(v, k, 0, 500);
    else if (k == "tempo_scale") t.tempo_scale = in_range(v, k, 0.1, 5);
    else if (k == "tempo_jitter") t.tempo_jitter = in_range(v, k, 0, 0.9);
    else if (k == "pause_scale") t.pause_scale = in_range(v, k, 0, 10);
    else if (k == "mid_rest_p") t.mid_rest_p = in_range(v, k, 0, 1);
    else if (k == "mid_rest_where")
      t.mid_rest_where = enumerated<RestWhere>(v, k, parse_rest_where, "top, bottom");
    else if (k == "mid_rest_min_s") t.mid_rest_min_s = in_range(v, k, 0, 120);
    else if (k == "mid_rest_max_s") t.mid_rest_max_s = in_range(v, k, 0, 120);
    else if (k == "range_jitter") t.range_jitter = in_range(v, k, 0, 0.3);
    else if (k == "tissue_mm") t.tissue_mm = in_range(v, k, 0, 40);
    else if (k == "fatigue")
      t.fatigue = enumerated<FatigueKind>(
          v, k, parse_fatigue, "none, gradual, sudden, range_first, half_then_full, fail_mid_rise");
    else if (k == "fail_rep") t.fail_rep = integer(v, k, 0, 1000);
    else if (k == "sudden_factor") t.sudden_factor = in_range(v, k, 0, 1);
    else if (k == "half_reps") t.half_reps = integer(v, k, 0, 1000);
    else if (k == "collapse_fraction") t.collapse_fraction = in_range(v, k, 0, 0.9);
    else if (k == "fail_mode")
      t.fail_mode = enumerated<FailMode>(v, k, parse_fail_mode, "stall, sink, collapse");
    else if (k == "tremor_n") t.tremor_n = in_range(v, k, 0, 2000);
    else if (k == "tremor_hz") t.tremor_hz = in_range(v, k, 0.1, 50);
    else if (k == "tremor_growth") t.tremor_growth = in_range(v, k, 0, 100);
    else if (k == "sticking_fraction") t.sticking_fraction = in_range(v, k, 0, 1);
    else if (k == "sticking_depth") t.sticking_depth = in_range(v, k, 0, 0.9);
    else if (k == "drop_p") t.drop_p = in_range(v, k, 0, 1);
    else if (k == "leave")
      t.leave = enumerated<Leave>(
          v, k, parse_leave, "none, mid_rise, mid_lowering, at_top, at_bottom, stand_up, sit_back");
    else if (k == "leave_rep") t.leave_rep = integer(v, k, 0, 1000);
    else if (k == "sit_back_after_s") t.sit_back_after_s = in_range(v, k, 0, 600);
    else if (k == "hold_fraction") t.hold_fraction = in_range(v, k, 0.05, 1);
    else if (k == "hold_fail_s") t.hold_fail_s = in_range(v, k, 0, 3600);
    else if (k == "hold_leave_s") t.hold_leave_s = in_range(v, k, 0, 3600);
    else throw std::invalid_argument("unknown trait \"" + k + "\"");
  }
  if (t.mid_rest_max_s < t.mid_rest_min_s)
    throw std::invalid_argument("trait \"mid_rest_max_s\" must be at least mid_rest_min_s");
  if (!enabled_given && !o.empty()) t.enabled = true;
  out = t;
}

json::object athlete_request_json(const AthleteSettings& s) {
  return {{"style", to_string(s.style)},
          {"capacity_n", s.capacity_n},
          {"fatigue_rate", s.fatigue_rate},
          {"tempo",
           json::array{s.tempo.eccentric_s, s.tempo.bottom_s, s.tempo.concentric_s, s.tempo.top_s}},
          {"bottom_mm", s.bottom_mm},
          {"top_mm", s.top_mm},
          {"start_load_n", s.start_load_n},
          {"start_delay_s", s.start_delay_s},
          {"after_reps", s.after_reps},
          {"half_range_fraction", s.half_range_fraction},
          {"shrink_per_rep", s.shrink_per_rep},
          {"min_range_fraction", s.min_range_fraction},
          {"bounce_tempo", json::array{s.bounce_tempo.eccentric_s, s.bounce_tempo.bottom_s,
                                       s.bounce_tempo.concentric_s, s.bounce_tempo.top_s}},
          {"iso_fraction", s.iso_fraction},
          {"noise_n", s.noise_n},
          {"wobble_n", s.wobble_n},
          {"wobble_hz", s.wobble_hz},
          {"seed", s.seed},
          {"traits", traits_json(s.traits)}};
}

std::pair<std::string, json::value> trait_assignment(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument("--trait takes KEY=VALUE, e.g. effort=follow or reaction_s=2.5");
  const std::string key = text.substr(0, eq), val = text.substr(eq + 1);
  if (val == "true") return {key, json::value(true)};
  if (val == "false") return {key, json::value(false)};
  std::size_t used = 0;
  double d = 0;
  try {
    d = std::stod(val, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (!val.empty() && used == val.size()) return {key, json::value(d)};
  return {key, json::value(json::string(val))};
}

}  // namespace soleus::sim
