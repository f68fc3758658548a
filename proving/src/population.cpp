#include "soleus/proving/population.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace soleus::proving {

std::uint64_t Draw::next() {
  std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
double Draw::u01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
double Draw::uniform(double lo, double hi) { return lo + (hi - lo) * u01(); }
int Draw::integer(int lo, int hi) {
  return lo + static_cast<int>(
                  std::min<std::uint64_t>(static_cast<std::uint64_t>(hi - lo),
                                          static_cast<std::uint64_t>(u01() * (hi - lo + 1))));
}
bool Draw::chance(double p) { return u01() < p; }

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

Case draw_case(std::uint64_t seed, const PopulationOptions& opt) {
  using sim::Effort;
  using sim::FatigueKind;
  using sim::Leave;
  Draw d(seed);
  Case c;
  c.seed = seed;
  auto& a = c.athlete;
  auto& t = a.traits;
  auto& p = c.programme;
  auto& L = c.traits;
  t.enabled = true;
  a.seed = d.next();

  // ---- programme: mode, tempo, reps
  const double mode_u = d.u01();
  p.mode = mode_u < 0.75   ? controller::Mode::Isotonic
           : mode_u < 0.90 ? controller::Mode::Eccentric
                           : controller::Mode::Isometric;
  static const char* const kTempos[] = {"3-1-3-1", "3-1-3-1", "3-1-3-1", "2-1-2-1", "2-0.5-2-0.5",
                                        "4-1-2-1", "3-0-1-0", "1-0-1-0", "2-1-1-1", "3-2-3-2"};
  const char* tempo = kTempos[d.integer(0, 9)];
  p.tempo = *controller::Tempo::parse(tempo);
  p.target_reps = d.chance(0.6) ? d.integer(8, 15) : d.integer(3, 15);
  const double hold_s = d.uniform(30, 60);
  const double ecc_pct = d.uniform(10, 50);
  p.force_drop_pct = d.chance(0.7) ? 20 : d.uniform(10, 40);
  if (p.mode == controller::Mode::Isometric) {
    p.target_reps = 0;
    p.hold_s = std::round(hold_s);
    p.tempo = controller::Tempo{};
    L.emplace_back("mode:isometric");
  } else {
    L.push_back(std::string("mode:") + controller::to_string(p.mode));
    L.push_back(std::string("tempo:") + tempo);
    if (p.mode == controller::Mode::Eccentric) p.eccentric_pct = std::round(ecc_pct);
  }
  a.tempo = sim::Tempo{p.tempo.eccentric_s, p.tempo.bottom_s, p.tempo.concentric_s, p.tempo.top_s};

  // ---- body
  a.capacity_n = d.uniform(500, 2500);
  a.bottom_mm = d.uniform(5, 45);
  const double range = d.uniform(40, 130);
  a.top_mm = std::min(a.bottom_mm + range, opt.travel_max_mm - opt.top_margin_mm);
  if (a.top_mm - a.bottom_mm < 40) a.bottom_mm = a.top_mm - 40;
  const double rng_span = a.top_mm - a.bottom_mm;
  L.emplace_back(rng_span < 70    ? "range:40-70mm"
                 : rng_span < 100 ? "range:70-100mm"
                                  : "range:100-130mm");
  L.emplace_back(a.bottom_mm < 20 ? "bottom:5-20mm" : "bottom:20-45mm");
  t.tissue_mm = d.uniform(2, 15);
  L.emplace_back(t.tissue_mm < 6    ? "tissue:2-6mm"
                 : t.tissue_mm < 10 ? "tissue:6-10mm"
                                    : "tissue:10-15mm");

  // ---- reaction
  t.reaction_s = d.uniform(0, 4);
  L.emplace_back(t.reaction_s < 1   ? "reaction:0-1s"
                 : t.reaction_s < 2 ? "reaction:1-2s"
                                    : "reaction:2-4s");
  t.first_bottom_pause = d.chance(0.25);
  if (t.first_bottom_pause) L.emplace_back("start:bottom_pause");

  // ---- effort and load
  const double eu = d.u01();
  t.effort = eu < 0.35  ? Effort::Track
             : eu < 0.6 ? Effort::Follow
             : eu < 0.8 ? Effort::PushHard
                        : Effort::Grind;
  t.follow_surplus_n = d.uniform(3, 30);
  const double rel_light = d.uniform(0.1, 0.7);
  const double rel_grind = d.uniform(0.7, 0.95);
  const double rel_iso = d.uniform(0.3, 0.9);
  double rel = t.effort == Effort::Grind ? rel_grind : rel_light;
  if (p.mode == controller::Mode::Isometric) rel = rel_iso;
  // The controller refuses an eccentric programme whose lowering load would
  // exceed the maximum (as a member's programme would be refused); the
  // population draws only programmes a member could start.
  const double load_max = p.mode == controller::Mode::Eccentric
                              ? std::floor(opt.max_load_n / (1 + p.eccentric_pct / 100))
                              : opt.max_load_n;
  p.load_n = std::round(std::clamp(rel * a.capacity_n, 50.0, load_max));
  L.push_back(std::string("effort:") + sim::to_string(t.effort));
  const double load_rel = p.load_n / a.capacity_n;
  L.emplace_back(load_rel < 0.3   ? "load:<30%"
                 : load_rel < 0.6 ? "load:30-60%"
                 : load_rel < 0.8 ? "load:60-80%"
                                  : "load:80-95%");

  // ---- tempo compliance, pauses, rests
  const double tu = d.u01();
  const double sc10 = d.uniform(0.9, 1.1), sc40 = d.uniform(0.6, 1.4);
  if (tu < 0.2) {
    t.tempo_scale = 1, t.tempo_jitter = 0;
    L.emplace_back("compliance:exact");
  } else if (tu < 0.55) {
    t.tempo_scale = sc10, t.tempo_jitter = 0.1;
    L.emplace_back("compliance:10%");
  } else if (tu < 0.85) {
    t.tempo_scale = sc40, t.tempo_jitter = 0.4;
    L.emplace_back("compliance:40%");
  } else {
    t.tempo_scale = sc40, t.tempo_jitter = 0.6;
    L.emplace_back("compliance:irregular");
  }
  t.pause_scale = d.uniform(0.3, 2.0);
  L.emplace_back(t.pause_scale < 0.7   ? "pauses:short"
                 : t.pause_scale > 1.4 ? "pauses:long"
                                       : "pauses:as_told");
  const bool rests = d.chance(0.3);
  const double rest_p = d.uniform(0.1, 0.4);
  const bool rest_top = d.chance(0.5);
  if (rests) {
    t.mid_rest_p = rest_p;
    t.mid_rest_where = rest_top ? sim::RestWhere::Top : sim::RestWhere::Bottom;
    t.mid_rest_min_s = 2, t.mid_rest_max_s = 5;
    L.emplace_back(rest_top ? "mid_rest:top" : "mid_rest:bottom");
  }

  // ---- range jitter
  const bool jit = d.chance(0.6);
  const double jv = d.uniform(0.005, 0.05);
  if (jit) {
    t.range_jitter = jv;
    L.emplace_back("range_jitter");
  }

  // ---- fatigue
  const double fu = d.u01();
  const int fail_rep = d.integer(2, std::max(3, p.target_reps + 1));
  const double rate = d.uniform(0.01, 0.08);
  const double sudden = d.uniform(0.3, 0.7);
  const double shrink = d.uniform(0.05, 0.15);
  const int half_reps = d.integer(2, 4);
  const double half_frac = d.uniform(0.4, 0.6);
  const bool sink = d.chance(0.5);
  t.fail_rep = fail_rep;
  if (fu < 0.3) {
    t.fatigue = FatigueKind::None;
  } else if (fu < 0.5) {
    t.fatigue = FatigueKind::Gradual;
    a.fatigue_rate = rate;
  } else if (fu < 0.6) {
    t.fatigue = FatigueKind::Sudden;
    t.sudden_factor = sudden;
  } else if (fu < 0.7) {
    t.fatigue = FatigueKind::RangeFirst;
    a.shrink_per_rep = shrink;
    t.sudden_factor = sudden;
  } else if (fu < 0.8) {
    t.fatigue = FatigueKind::HalfThenFull;
    t.half_reps = half_reps;
    a.half_range_fraction = half_frac;
  } else {
    t.fatigue = FatigueKind::FailMidRise;
    t.fail_mode = sink ? sim::FailMode::Sink : sim::FailMode::Stall;
  }
  std::string fl = std::string("fatigue:") + sim::to_string(t.fatigue);
  if (t.fatigue == FatigueKind::FailMidRise) fl += sink ? "/sink" : "/stall";
  L.push_back(fl);

  // ---- control
  const bool tremor = d.chance(0.4);
  const double tr_n = d.uniform(5, 60), tr_hz = d.uniform(4, 10), tr_g = d.uniform(0, 3);
  if (tremor) {
    t.tremor_n = tr_n, t.tremor_hz = tr_hz, t.tremor_growth = tr_g;
    L.emplace_back(tr_n < 25 ? "tremor:5-25N" : "tremor:25-60N");
  }
  const bool sticking = d.chance(0.3);
  const double st_f = d.uniform(0.2, 0.8), st_d = d.uniform(0.1, 0.5);
  if (sticking) {
    t.sticking_fraction = st_f, t.sticking_depth = st_d;
    L.emplace_back("sticking_point");
  }
  const bool drops = d.chance(0.25);
  const double drop_p = d.uniform(0.1, 0.5);
  if (drops) {
    t.drop_p = drop_p;
    L.emplace_back("eccentric_drop");
  }

  // ---- leaving
  const double lu = d.u01();
  const int leave_rep = d.integer(1, std::max(2, p.target_reps + 1));
  const double away_s = d.uniform(1, 10);
  static const Leave kLeaves[] = {Leave::MidRise,  Leave::MidLowering, Leave::AtTop,
                                  Leave::AtBottom, Leave::StandUp,     Leave::SitBack};
  if (lu >= 0.55) {
    t.leave = kLeaves[std::min(5, static_cast<int>((lu - 0.55) / 0.075))];
    t.leave_rep = p.mode == controller::Mode::Isometric ? 1 : leave_rep;
    t.sit_back_after_s = away_s;
    L.push_back(std::string("leave:") + sim::to_string(t.leave));
  } else {
    L.emplace_back("leave:none");
  }

  // ---- machine noise
  c.noise.cell_noise_n = d.uniform(0.2, 2.0);
  const bool drift = d.chance(0.5);
  const double drift_v = d.uniform(0.05, 0.5);
  const bool ripple = d.chance(0.5);
  const double ripple_v = d.uniform(1, 16);
  c.noise.cell_drift_n_per_s = drift ? drift_v : 0;
  c.noise.drive_ripple_v = ripple ? ripple_v : 0;
  if (drift) L.emplace_back("noise:cell_drift");
  if (ripple) L.emplace_back("noise:supply_ripple");
  // ---- isometric hold (drawn last, so the draws above stay those of each seed)
  const double hold_frac = d.uniform(0.4, 0.9);
  const double hold_fail = d.uniform(5, p.hold_s > 0 ? p.hold_s + 10 : 40);
  const double hold_leave = d.uniform(3, p.hold_s > 0 ? p.hold_s + 5 : 40);
  if (p.mode == controller::Mode::Isometric) {
    a.style = sim::AthleteStyle::Isometric;  // the athlete holds (trait model, docs/simulator.md)
    t.hold_fraction = hold_frac;
    t.hold_fail_s = hold_fail;
    t.hold_leave_s = hold_leave;
  }
  // ---- the member's stored range (issue 13; drawn after the hold, so the
  // draws above stay those of each seed). A dynamic set gets: none (40 %);
  // fresh (25 %: the athlete's own range, 0–29 days old: the light first rep
  // should confirm it and count); stale (15 %: the same range, 31–120 days
  // old: calibrate, "N days old"); wrong (20 %: recent, but the athlete's
  // range has changed since, one end or both moved by 12–30 mm, up or down:
  // the first rep must not confirm it, the set calibrates from it).
  const double su = d.u01();
  const double age_fresh = d.uniform(0, 29.9), age_stale = d.uniform(31, 120);
  const double jitter_b = d.uniform(-2, 2), jitter_t = d.uniform(-2, 2);
  const double shift = d.uniform(12, 30);
  const int which = d.integer(0, 2);  // 0: bottom, 1: top, 2: both
  const bool up = d.chance(0.5);
  if (p.mode != controller::Mode::Isometric) {
    controller::Range r{a.bottom_mm + jitter_b, a.top_mm + jitter_t};
    if (su < 0.40) {
      L.emplace_back("stored:none");
    } else if (su < 0.65) {
      p.range = r;
      p.range_age_days = age_fresh;
      L.emplace_back("stored:fresh");
    } else if (su < 0.80) {
      p.range = r;
      p.range_age_days = age_stale;
      L.emplace_back("stored:stale");
    } else {
      const double s = up ? shift : -shift;
      if (which != 1) r.bottom_mm += s;
      if (which != 0) r.top_mm += s;
      // Kept inside the travel (a range outside the soft limits is another case: ignored).
      r.bottom_mm = std::max(r.bottom_mm, 4.0);
      r.top_mm = std::min(r.top_mm, opt.travel_max_mm - 4.0);
      if (r.top_mm - r.bottom_mm < 30) r.top_mm = r.bottom_mm + 30;
      p.range = r;
      p.range_age_days = age_fresh;
      L.emplace_back("stored:wrong");
    }
  }
  (void)fmt;
  return c;
}

}  // namespace soleus::proving
