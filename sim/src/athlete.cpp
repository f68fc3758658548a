#include "soleus/sim/athlete.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>

#include "soleus/common/tempo.hpp"

namespace soleus::sim {

namespace {
constexpr double kDt = 0.001;
constexpr double kHeelK = 300.0;       // N/mm: heels and ankle below the anatomical bottom
constexpr double kHeelC = 8.0;         // N/(mm/s)
constexpr double kTrackKp = 20.0;      // N/mm
constexpr double kRideFraction = 0.6;  // share of the felt load kept while lowering
constexpr double kTrackKd = 3.0;       // N/(mm/s)
constexpr double kReachMm = 2.5;       // "arrived" tolerance
constexpr double kUnloadedStopS = 0.5;
constexpr double kFullFraction = 0.9;
constexpr double kRangeJitterMm = 0.5;
constexpr double kTissueRefN = 1800.0;  // tissue_mm is the compression at this contact force
constexpr double kTwoPi = 2.0 * std::numbers::pi;
constexpr double kWobblyFraction =
    0.15;  // tremor ≥ this share of the rep's mean rising force = loss of control
constexpr double kStallHoldS = 3.0;  // a stalled athlete holds this long, then lowers and gives up
constexpr double kSinkMmS = 10.0;    // a failing athlete (fail_mode sink) sinks back this fast
constexpr double kFvMmS =
    400.0;  // force-velocity: the calves' force falls to 0 at this rising speed (linear)
constexpr double kSettleS = 1.0;
constexpr double kHoldGiveMm = 8.0;
constexpr double kReleaseS = 0.5;  // the hold is over: it eases off in this time       // a hold
                                   // that gives: it eases off this far above where it began //
                                   // sitting back down: puts its thighs under the pad in this time

/// Smooth point-to-point profile: raised-cosine velocity ramps of ta at both
/// ends, constant speed between. Returns (x, v, a) relative to the start.
void profile(double len, double dur, double t, double& x, double& v, double& a) {
  if (dur <= 0 || t >= dur) {
    x = len;
    v = a = 0;
    return;
  }
  if (t <= 0) {
    x = v = a = 0;
    return;
  }
  const double ta = std::min(0.25, dur / 4.0);
  const double vp = len / (dur - ta);
  auto ramp = [&](double tr, double& xr, double& vr, double& ar) {
    xr = vp * (tr / 2.0 - ta / (2.0 * std::numbers::pi) * std::sin(std::numbers::pi * tr / ta));
    vr = vp * (1.0 - std::cos(std::numbers::pi * tr / ta)) / 2.0;
    ar = vp * std::numbers::pi / (2.0 * ta) * std::sin(std::numbers::pi * tr / ta);
  };
  if (t < ta) {
    ramp(t, x, v, a);
  } else if (t <= dur - ta) {
    x = vp * ta / 2.0 + vp * (t - ta);
    v = vp;
    a = 0;
  } else {
    double xr, vr, ar;
    ramp(dur - t, xr, vr, ar);
    x = len - xr;
    v = vr;
    a = -ar;
  }
}
}  // namespace

const char* to_string(AthleteStyle s) {
  switch (s) {
    case AthleteStyle::Tempo: return "tempo";
    case AthleteStyle::PushHard: return "push_hard";
    case AthleteStyle::HalfRange: return "half_range";
    case AthleteStyle::Bounce: return "bounce";
    case AthleteStyle::LetGo: return "let_go";
    case AthleteStyle::ShrinkingRange: return "shrinking_range";
    case AthleteStyle::Relax: return "relax";
    case AthleteStyle::Isometric: return "isometric";
    case AthleteStyle::Assessment: return "assessment";
  }
  return "?";
}

bool parse_style(const std::string& text, AthleteStyle& out) {
  for (auto s : {AthleteStyle::Tempo, AthleteStyle::PushHard, AthleteStyle::HalfRange,
                 AthleteStyle::Bounce, AthleteStyle::LetGo, AthleteStyle::ShrinkingRange,
                 AthleteStyle::Relax, AthleteStyle::Isometric, AthleteStyle::Assessment}) {
    if (text == to_string(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

const char* to_string(Effort e) {
  switch (e) {
    case Effort::Track: return "track";
    case Effort::Follow: return "follow";
    case Effort::PushHard: return "push_hard";
    case Effort::Grind: return "grind";
  }
  return "?";
}
const char* to_string(FatigueKind f) {
  switch (f) {
    case FatigueKind::None: return "none";
    case FatigueKind::Gradual: return "gradual";
    case FatigueKind::Sudden: return "sudden";
    case FatigueKind::RangeFirst: return "range_first";
    case FatigueKind::HalfThenFull: return "half_then_full";
    case FatigueKind::FailMidRise: return "fail_mid_rise";
  }
  return "?";
}
const char* to_string(Leave l) {
  switch (l) {
    case Leave::None: return "none";
    case Leave::MidRise: return "mid_rise";
    case Leave::MidLowering: return "mid_lowering";
    case Leave::AtTop: return "at_top";
    case Leave::AtBottom: return "at_bottom";
    case Leave::StandUp: return "stand_up";
    case Leave::SitBack: return "sit_back";
  }
  return "?";
}
const char* to_string(RestWhere w) { return w == RestWhere::Top ? "top" : "bottom"; }
const char* to_string(FailMode m) {
  switch (m) {
    case FailMode::Stall: return "stall";
    case FailMode::Sink: return "sink";
    case FailMode::Collapse: return "collapse";
  }
  return "?";
}

namespace {
template <typename E, std::size_t N>
bool parse_enum(const std::string& text, E& out, const E (&all)[N]) {
  for (E e : all) {
    if (text == to_string(e)) {
      out = e;
      return true;
    }
  }
  return false;
}
}  // namespace

bool parse_effort(const std::string& text, Effort& out) {
  constexpr Effort all[] = {Effort::Track, Effort::Follow, Effort::PushHard, Effort::Grind};
  return parse_enum(text, out, all);
}
bool parse_fatigue(const std::string& text, FatigueKind& out) {
  constexpr FatigueKind all[] = {FatigueKind::None,         FatigueKind::Gradual,
                                 FatigueKind::Sudden,       FatigueKind::RangeFirst,
                                 FatigueKind::HalfThenFull, FatigueKind::FailMidRise};
  return parse_enum(text, out, all);
}
bool parse_leave(const std::string& text, Leave& out) {
  constexpr Leave all[] = {Leave::None,     Leave::MidRise, Leave::MidLowering, Leave::AtTop,
                           Leave::AtBottom, Leave::StandUp, Leave::SitBack};
  return parse_enum(text, out, all);
}
bool parse_rest_where(const std::string& text, RestWhere& out) {
  constexpr RestWhere all[] = {RestWhere::Top, RestWhere::Bottom};
  return parse_enum(text, out, all);
}
bool parse_fail_mode(const std::string& text, FailMode& out) {
  constexpr FailMode all[] = {FailMode::Stall, FailMode::Sink, FailMode::Collapse};
  return parse_enum(text, out, all);
}

double Athlete::fatigue() const {
  return s_.capacity_n > 0 ? std::clamp(1.0 - capacity_ / s_.capacity_n, 0.0, 1.0) : 0.0;
}

bool check_tempo(const Tempo& t, std::string& why) {
  const auto r =
      common::check_tempo(common::TempoSeconds{t.eccentric_s, t.bottom_s, t.concentric_s, t.top_s});
  if (!r) {
    why = r.message;
    return false;
  }
  // The athlete's own rule on top of the grammar: it cannot lower or rise in no time.
  if (t.eccentric_s < kMinMovingPhaseS || t.concentric_s < kMinMovingPhaseS) {
    why = "the athlete lowers and rises for at least 0.2 s each (the 1st and 3rd numbers)";
    return false;
  }
  return true;
}

bool parse_tempo(const std::string& text, Tempo& out, std::string& why) {
  const auto r = common::parse_tempo(text);
  if (!r) {
    why = r.message;
    return false;
  }
  const Tempo t{r.seconds.eccentric_s, r.seconds.bottom_s, r.seconds.concentric_s, r.seconds.top_s};
  if (!check_tempo(t, why)) return false;
  out = t;
  return true;
}

bool parse_tempo(const std::string& text, Tempo& out) {
  std::string why;
  return parse_tempo(text, out, why);
}

std::string to_string(const Tempo& t) {
  std::ostringstream os;
  os << t.eccentric_s << '-' << t.bottom_s << '-' << t.concentric_s << '-' << t.top_s;
  return os.str();
}

const char* to_string(AthletePhase p) {
  switch (p) {
    case AthletePhase::Waiting: return "waiting";
    case AthletePhase::Concentric: return "concentric";
    case AthletePhase::TopPause: return "top_pause";
    case AthletePhase::Eccentric: return "eccentric";
    case AthletePhase::BottomPause: return "bottom_pause";
    case AthletePhase::Stopping: return "stopping";
    case AthletePhase::Relaxed: return "relaxed";
    case AthletePhase::LetGo: return "let_go";
    case AthletePhase::Holding: return "holding";
  }
  return "?";
}

Athlete::Athlete(AthleteSettings s, AthleteBody body)
    : s_(s), body_(body), rng_(s.seed), capacity_(s.capacity_n) {
  fast_ = s.seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
  setup_tremor();
}

void Athlete::configure(const AthleteSettings& s, bool reset_capacity) {
  const bool reseed = s.seed != s_.seed;
  s_ = s;
  if (reseed) {
    rng_.seed(s.seed);
    fast_ = s.seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
  }
  if (reset_capacity) capacity_ = s.capacity_n;
  setup_tremor();
}

void Athlete::setup_tremor() {
  if (s_.traits.tremor_hz == tremor_hz_) return;
  tremor_hz_ = s_.traits.tremor_hz;
  tremor_rc_ = std::cos(kTwoPi * tremor_hz_ * kDt);
  tremor_rs_ = std::sin(kTwoPi * tremor_hz_ * kDt);
}

void Athlete::reset() {
  rng_.seed(s_.seed);
  capacity_ = s_.capacity_n;
  phase_ = AthletePhase::Waiting;
  reps_.clear();
  in_rep_ = false;
  loaded_s_ = unloaded_s_ = holding_s_ = hold_peak_cmd_n_ = 0;
  held_once_ = false;
  contact_ = muscle_ = heel_ = 0;
  noise_state_ = 0;
  fast_ = s_.seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
  events_ = AthleteEvents{};
  heel_mm_ = compression_mm_ = 0;
  resting_ = away_ = low_end_open_ = false;
  rest_len_s_ = 0;
  drop_at_ = -1;
  rest_from_s_ = -1;
  failing_ = sinking_ = finished_ = left_once_ = sudden_done_ = range_failed_ = started_ = false;
  stalled_in_row_ = 0;
  fail_t_ = away_until_ = still_since_ = settle_until_ = -1;
  tremor_c_ = 1;
  tremor_s_ = 0;
  tremor_amp_rep_ = 0;
  hold_ = HoldTruth{};
  hold_time_ = bout_start_s_ = hold_target_n_ = hold_res_peak_n_ = 0;
  give_up_from_s_ = release_from_s_ = -1;
  hold_over_ = false;
  bin_sum_ = 0;
  bin_n_ = 0;
  setup_tremor();
}

double Athlete::uniform01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

double Athlete::fast_uniform() {
  fast_ ^= fast_ >> 12;
  fast_ ^= fast_ << 25;
  fast_ ^= fast_ >> 27;
  return static_cast<double>((fast_ * 2685821657736338717ULL) >> 11) * 0x1.0p-52 - 1.0;
}

const Tempo& Athlete::tempo() const {
  return s_.style == AthleteStyle::Bounce ? s_.bounce_tempo : s_.tempo;
}

double Athlete::intended_fraction(int rep_number) const {
  switch (s_.style) {
    case AthleteStyle::HalfRange: return rep_number <= 1 ? 1.0 : s_.half_range_fraction;
    case AthleteStyle::ShrinkingRange:
      return std::max(s_.min_range_fraction, 1.0 - s_.shrink_per_rep * (rep_number - 1));
    default: return 1.0;
  }
}

double Athlete::capacity_at(double x_mm) const {
  // The calves run out of range just above the anatomical top.
  return capacity_ * std::clamp((s_.top_mm + 5.0 - x_mm) / 4.0, 0.0, 1.0);
}

double Athlete::feel_load(const AthleteInput& in, double v_dir) const {
  const double fm = in.motor_force_n, eta = body_.efficiency;
  double eff = fm;
  if (v_dir > 1.0) eff = fm > 0 ? fm / eta : fm * eta;  // rising: back-drives a resisting motor
  else if (v_dir < -1.0) eff = fm > 0 ? fm * eta : fm / eta;  // lowering: the motor drives
  return body_.pad_weight_n + eff;
}

Athlete::Target Athlete::trajectory(double t_s) const {
  Target tg;
  double x, v, a;
  profile(to_mm_ - from_mm_, duration_s_, t_s - phase_start_s_, x, v, a);
  tg.x = from_mm_ + x;
  tg.v = v;
  tg.a = a;
  return tg;
}

void Athlete::enter(AthletePhase p, double t_s, double x_mm) {
  const double spent = t_s - phase_start_s_;
  if (in_rep_) {
    switch (phase_) {
      case AthletePhase::Concentric: cur_.concentric_s += spent; break;
      case AthletePhase::TopPause: cur_.top_pause_s += spent; break;
      case AthletePhase::Eccentric:
      case AthletePhase::Stopping: cur_.eccentric_s += spent; break;
      default: break;
    }
  }
  if (phase_ == AthletePhase::BottomPause && !reps_.empty()) reps_.back().bottom_pause_s += spent;
  phase_ = p;
  phase_start_s_ = t_s;
  const Tempo& tp = tempo();
  switch (p) {
    case AthletePhase::Concentric: {
      const int number = static_cast<int>(reps_.size()) + 1;
      double frac = 1.0;
      if (s_.traits.enabled) {
        frac = cur_.intended_fraction;  // start_rep() chose it and rep_top_
        duration_s_ = own_conc_s_;
      } else {
        frac = intended_fraction(number);
        std::uniform_real_distribution<double> jitter(-kRangeJitterMm, kRangeJitterMm);
        rep_top_ = s_.bottom_mm + frac * (s_.top_mm - s_.bottom_mm) + jitter(rng_);
        duration_s_ = tp.concentric_s;
      }
      from_mm_ = x_mm;
      to_mm_ = rep_top_;
      in_rep_ = true;
      cur_ = RepTruth{};
      cur_.index = number;
      cur_.start_s = t_s;
      cur_.low_mm = x_mm;
      cur_.high_mm = x_mm;
      cur_.intended_fraction = frac;
      cur_.capacity_n = capacity_;
      cur_.heel_low_start_mm = cur_.heel_high_mm = cur_.heel_low_end_mm = heel_mm_;
      cur_.true_range_mm = s_.top_mm - s_.bottom_mm;
      conc_sum_ = 0;
      conc_n_ = 0;
      break;
    }
    case AthletePhase::TopPause:
    case AthletePhase::BottomPause:
      from_mm_ = to_mm_ = p == AthletePhase::TopPause ? rep_top_ : s_.bottom_mm + 0.5;
      duration_s_ = 0;
      break;
    case AthletePhase::Eccentric:
      from_mm_ = x_mm;
      to_mm_ = s_.style == AthleteStyle::Bounce && !s_.traits.enabled ? s_.bottom_mm - 4.0
                                                                      : s_.bottom_mm;
      duration_s_ = s_.traits.enabled ? own_ecc_s_ : tp.eccentric_s;
      break;
    case AthletePhase::Stopping:
      from_mm_ = x_mm;
      to_mm_ = s_.bottom_mm;
      duration_s_ = std::max(1.0, tp.eccentric_s);
      break;
    case AthletePhase::Holding:
      holding_s_ = 0;
      hold_peak_cmd_n_ = 0;
      held_once_ = true;
      break;
    case AthletePhase::LetGo: in_rep_ = false; break;  // the rep is abandoned
    default: break;
  }
}

void Athlete::finish_rep(double t_s) {
  if (!in_rep_) return;
  if (phase_ == AthletePhase::Eccentric || phase_ == AthletePhase::Stopping)
    cur_.eccentric_s += t_s - phase_start_s_;  // enter() no longer counts it: the rep is closed
  in_rep_ = false;
  const double span = std::max(1e-6, s_.top_mm - s_.bottom_mm);
  cur_.range_mm = cur_.high_mm - s_.bottom_mm;
  cur_.range_fraction = cur_.range_mm / span;
  cur_.full = cur_.range_fraction >= kFullFraction;
  cur_.mean_concentric_n = conc_n_ > 0 ? conc_sum_ / conc_n_ : 0.0;
  cur_.end_s = t_s;
  cur_.heel_low_end_mm = heel_mm_;
  if (s_.traits.enabled) {
    cur_.wobbly =
        cur_.wobbly || tremor_amp_rep_ >= kWobblyFraction * std::max(1.0, cur_.mean_concentric_n);
  }
  refresh_rep(cur_);
  reps_.push_back(cur_);
  low_end_open_ = true;
  if (s_.traits.enabled) {
    // Two reps in a row it could not finish rising: it gives up the set.
    stalled_in_row_ = cur_.stalled ? stalled_in_row_ + 1 : 0;
    if (stalled_in_row_ >= 2) finished_ = true;
  }
  if (!s_.traits.enabled) capacity_ *= (1.0 - std::clamp(s_.fatigue_rate, 0.0, 0.9));
  else if (s_.traits.fatigue == FatigueKind::Gradual)
    capacity_ *= (1.0 - std::clamp(s_.fatigue_rate, 0.0, 0.9));
}

std::optional<RepTruth> Athlete::open_rep() const {
  if (!in_rep_) return std::nullopt;
  RepTruth r = cur_;
  refresh_rep(r);
  r.full = false;
  return r;
}

void Athlete::refresh_rep(RepTruth& r) const {
  r.heel_rise_mm = r.heel_high_mm - r.heel_low_start_mm;
  r.heel_return_mm = r.heel_high_mm - r.heel_low_end_mm;
  const double tr = std::max(1e-6, r.true_range_mm);
  r.rise_fraction = r.heel_rise_mm / tr;
  r.return_fraction = r.heel_return_mm / tr;
  if (s_.traits.enabled)
    r.full = r.rise_fraction >= kFullFraction && r.return_fraction >= kFullFraction;
}

void Athlete::track_heel(double t_s, bool loaded) {
  (void)t_s;
  const double h = heel_mm_;
  if (in_rep_) {
    if (h > cur_.heel_high_mm) cur_.heel_high_mm = h;
    if (phase_ == AthletePhase::Concentric && h < cur_.heel_low_start_mm)
      cur_.heel_low_start_mm = h;
    if (loaded && !resting_) cur_.loaded_s += kDt;
  } else if (low_end_open_ && !reps_.empty()) {
    RepTruth& r = reps_.back();
    if (h < r.heel_low_end_mm) {
      r.heel_low_end_mm = h;
      refresh_rep(r);
    }
    if (loaded && !resting_ && phase_ == AthletePhase::BottomPause) r.loaded_s += kDt;
  }
}

double Athlete::trait_capacity_at(double heel) const {
  const AthleteTraits& tr = s_.traits;
  double c = capacity_ * std::clamp((s_.top_mm + 5.0 - heel) / 4.0, 0.0, 1.0);
  if (tr.sticking_fraction > 0 && tr.sticking_depth > 0) {
    const double span = s_.top_mm - s_.bottom_mm;
    const double d =
        std::fabs(heel - (s_.bottom_mm + tr.sticking_fraction * span)) / std::max(1.0, 0.1 * span);
    if (d < 1.0) c *= 1.0 - tr.sticking_depth * (1.0 - d);
  }
  return c;
}

void Athlete::go_away(double t_s) {
  const AthleteTraits& tr = s_.traits;
  if (in_rep_) finish_rep(t_s);  // the rep is abandoned where it is
  low_end_open_ = false;
  left_once_ = true;
  events_.left_s = t_s;
  events_.leave_kind = tr.leave;
  if (resting_) end_rest(t_s);
  away_ = true;
  away_until_ = tr.leave == Leave::SitBack ? t_s + tr.sit_back_after_s : -1;
  enter(AthletePhase::LetGo, t_s, heel_mm_);
}

void Athlete::end_rest(double t_s) {
  if (!resting_) return;
  resting_ = false;
  if (!events_.rests.empty() && events_.rests.back().second < 0) events_.rests.back().second = t_s;
}

void Athlete::start_rep(double t_s, double heel) {
  const AthleteTraits& tr = s_.traits;
  const int number = static_cast<int>(reps_.size()) + 1;
  const int leave_rep = std::max(1, tr.leave_rep);
  if ((tr.leave == Leave::StandUp || tr.leave == Leave::SitBack) && !left_once_ &&
      number >= leave_rep) {
    go_away(t_s);
    return;
  }
  // Per-rep draws, always the same number, so one trait does not shift another's.
  const double j = tr.tempo_jitter;
  auto jit = [&] { return 1.0 + j * (2.0 * uniform01() - 1.0); };
  const Tempo& tp = s_.tempo;
  own_conc_s_ = std::max(0.2, tp.concentric_s * tr.tempo_scale * jit());
  own_top_s_ = tp.top_s * tr.pause_scale * jit();
  own_ecc_s_ = std::max(0.2, tp.eccentric_s * tr.tempo_scale * jit());
  own_bottom_s_ = tp.bottom_s * tr.pause_scale * jit();
  const double range_u = 2.0 * uniform01() - 1.0;
  const double rest_u = uniform01(), rest_len_u = uniform01();
  const double drop_u = uniform01(), drop_at_u = uniform01(), drop_len_u = uniform01();
  event_frac_ = 0.3 + 0.4 * uniform01();
  rest_len_s_ = rest_u < tr.mid_rest_p
                    ? tr.mid_rest_min_s + rest_len_u * (tr.mid_rest_max_s - tr.mid_rest_min_s)
                    : 0.0;
  if (drop_u < tr.drop_p) {
    drop_at_ = own_ecc_s_ * (0.2 + 0.5 * drop_at_u);
    drop_len_ = 0.2 + 0.3 * drop_len_u;
  } else {
    drop_at_ = -1;
  }
  // Fatigue events that act from the start of a rep.
  const int fail = std::max(1, tr.fail_rep);
  double frac = 1.0;
  switch (tr.fatigue) {
    case FatigueKind::Sudden:
      if (number >= fail && !sudden_done_) {
        capacity_ *= tr.sudden_factor;
        sudden_done_ = true;
      }
      break;
    case FatigueKind::RangeFirst:
      if (number >= fail) {
        frac = std::max(s_.min_range_fraction, 1.0 - s_.shrink_per_rep * (number - fail + 1));
        if (frac <= s_.min_range_fraction && !range_failed_) {
          capacity_ *= tr.sudden_factor;  // the range is gone; now the force fails
          range_failed_ = true;
        }
      }
      break;
    case FatigueKind::HalfThenFull:
      if (number >= fail && number < fail + tr.half_reps) frac = s_.half_range_fraction;
      break;
    default: break;
  }
  if (frac < 0.9 && !events_.range_shrink_rep) events_.range_shrink_rep = number;
  const double span = s_.top_mm - s_.bottom_mm;
  // The anatomy caps an upward jitter: the calves reach top + 1 mm at most
  // at full force (capacity fades to 0 at top + 5).
  rep_top_ =
      std::min(s_.top_mm + 1.0, s_.bottom_mm + frac * span + tr.range_jitter * range_u * span);
  rep_low_ = heel;
  failing_ = sinking_ = false;
  fail_t_ = -1;
  still_since_ = -1;
  tremor_amp_rep_ = 0;
  low_end_open_ = false;
  cur_.intended_fraction = frac;
  if (!events_.first_move_s) events_.first_move_s = t_s;
  started_ = true;
  enter(AthletePhase::Concentric, t_s, heel);
}

double Athlete::step(const AthleteInput& in, std::int64_t now_ms) {
  const double t = static_cast<double>(now_ms) / 1000.0;
  if (s_.traits.enabled) return step_traits(in, t);
  const double x = in.x_mm, v = in.v_mm_s;
  heel_mm_ = x;
  // An isometric hold starts from wherever the pad is held (often resting on
  // the heels, where the hold commands no force yet): the athlete pushes as
  // soon as the drive holds the pad.
  // The assessment's athlete: its warm-up reps as tempo, then a maximal push
  // each time the drive holds the pad (a new push only after the drive was off).
  const bool assess = s_.style == AthleteStyle::Assessment;
  const bool iso = s_.style == AthleteStyle::Isometric ||
                   (assess && !in_rep_ && static_cast<int>(reps_.size()) >= s_.after_reps);
  if (assess && !in.drive_enabled && phase_ != AthletePhase::Holding) held_once_ = false;
  const bool loaded =
      assess && iso
          ? in.drive_enabled && (!held_once_ || phase_ == AthletePhase::Holding)
          : in.drive_enabled && ((iso && !held_once_) || in.commanded_force_n >= s_.start_load_n);
  if (loaded) {
    loaded_s_ += kDt;
    unloaded_s_ = 0;
  } else {
    unloaded_s_ += kDt;
    loaded_s_ = 0;
  }
  const Tempo& tp = tempo();
  const double tin = t - phase_start_s_;
  const bool bounce = s_.style == AthleteStyle::Bounce;

  // ---- phase transitions
  switch (phase_) {
    case AthletePhase::Waiting:
      if (loaded_s_ >= s_.start_delay_s)
        enter(iso ? AthletePhase::Holding : AthletePhase::Concentric, t, x);
      break;
    case AthletePhase::Holding:
      holding_s_ += kDt;
      capacity_ *= std::pow(1.0 - std::clamp(s_.fatigue_rate, 0.0, 0.9), kDt / 10.0);
      // The machine's resistance fading (the hold is over, the set unloads)
      // is felt: the athlete stops pushing.
      hold_peak_cmd_n_ = std::max(hold_peak_cmd_n_, in.commanded_force_n);
      if (unloaded_s_ > kUnloadedStopS ||
          (hold_peak_cmd_n_ > 100.0 && in.commanded_force_n < 0.5 * hold_peak_cmd_n_))
        enter(AthletePhase::Waiting, t, x);
      break;
    case AthletePhase::Relaxed:
    case AthletePhase::LetGo: break;
    case AthletePhase::Stopping:
      if (tin >= duration_s_ && x <= s_.bottom_mm + 3.0) {
        finish_rep(t);
        enter(AthletePhase::Waiting, t, x);
      }
      break;
    default:
      if (unloaded_s_ > kUnloadedStopS) {
        enter(AthletePhase::Stopping, t, x);
        break;
      }
      if (phase_ == AthletePhase::Concentric) {
        const bool reached = x >= rep_top_ - kReachMm;
        const bool pushes = s_.style == AthleteStyle::PushHard;
        if (reached && s_.style == AthleteStyle::LetGo &&
            static_cast<int>(reps_.size()) >= s_.after_reps)
          enter(AthletePhase::LetGo, t, x);
        else if (reached && (pushes || bounce || tin >= duration_s_ - 0.05))
          enter(AthletePhase::TopPause, t, x);
        else if (tin > std::max(6.0, 3.0 * tp.concentric_s))
          enter(AthletePhase::Eccentric, t, x);  // gives up: a partial rep
      } else if (phase_ == AthletePhase::TopPause) {
        if (tin >= tp.top_s) enter(AthletePhase::Eccentric, t, x);
      } else if (phase_ == AthletePhase::Eccentric) {
        const bool down = bounce ? (x <= s_.bottom_mm + 2.0 && v > -2.0 && tin > 0.1)
                                 : (tin >= duration_s_ && x <= s_.bottom_mm + 3.0);
        if (down) {
          finish_rep(t);
          if (s_.style == AthleteStyle::Relax && static_cast<int>(reps_.size()) >= s_.after_reps)
            enter(AthletePhase::Relaxed, t, x);
          else if (tp.bottom_s > 0) enter(AthletePhase::BottomPause, t, x);
          else enter(AthletePhase::Concentric, t, x);
        }
      } else if (phase_ == AthletePhase::BottomPause) {
        if (tin >= tp.bottom_s) enter(AthletePhase::Concentric, t, x);
      }
      break;
  }

  // ---- forces
  const double tp_in = t - phase_start_s_;
  double muscle = 0;
  bool active = true;
  switch (phase_) {
    case AthletePhase::Waiting:
    case AthletePhase::Relaxed:
    case AthletePhase::LetGo: active = false; break;
    case AthletePhase::Holding:
      muscle = s_.iso_fraction * capacity_ * std::min(1.0, tp_in / 1.0);
      // The assessment's athlete out-pushing the machine: its calves, rising,
      // obey the trait model's force-velocity relation (capacity_n is its
      // isometric maximum, at rest).
      if (s_.style == AthleteStyle::Assessment && v > 0) muscle *= std::max(0.2, 1.0 - v / kFvMmS);
      break;
    case AthletePhase::Concentric:
      if (s_.style == AthleteStyle::PushHard) {
        muscle = capacity_ * std::min(1.0, tp_in / 0.15);
        break;
      }
      [[fallthrough]];
    default: {
      const Target tg = trajectory(t);
      muscle = feel_load(in, tg.v) + body_.moving_mass_kg * tg.a / 1000.0 + kTrackKp * (tg.x - x) +
               kTrackKd * (tg.v - v);
      // A seated athlete lowering under control rides the pad: when the
      // machine lowers slower than the athlete planned, the athlete does not
      // drop their thighs away from it but keeps most of the load (a real
      // user's contact never falls to zero unless they let go).
      if (phase_ == AthletePhase::Eccentric)
        muscle = std::max(muscle, (bounce ? 0.5 : 1.0) * kRideFraction * feel_load(in, -2.0));
      if (bounce && phase_ == AthletePhase::Eccentric && x <= s_.bottom_mm + 2.0) muscle = 0;
      break;
    }
  }
  if (active) {
    // Low-pass filtered Gaussian noise with rms ≈ noise_n, plus the wobble.
    const double alpha = 1.0 / 30.0;
    noise_state_ +=
        alpha * (gauss_(rng_) * s_.noise_n * std::sqrt((2.0 - alpha) / alpha) - noise_state_);
    muscle += noise_state_;
    if (s_.wobble_n > 0)
      muscle += s_.wobble_n * std::sin(2.0 * std::numbers::pi * s_.wobble_hz * t);
  }
  muscle_ = std::clamp(muscle, 0.0, capacity_at(x));
  heel_ = 0;
  if (phase_ != AthletePhase::LetGo && x < s_.bottom_mm)
    heel_ = std::max(0.0, kHeelK * (s_.bottom_mm - x) - kHeelC * v);
  contact_ = phase_ == AthletePhase::LetGo ? 0.0 : muscle_ + heel_;

  // ---- ground truth of the rep in progress
  track_heel(t, loaded);
  if (in_rep_) {
    cur_.high_mm = std::max(cur_.high_mm, x);
    if (phase_ == AthletePhase::Concentric) {
      conc_sum_ += contact_;
      ++conc_n_;
      cur_.peak_concentric_n = std::max(cur_.peak_concentric_n, contact_);
    }
  }
  return contact_;
}

double Athlete::step_traits(const AthleteInput& in, double t) {
  if (s_.style == AthleteStyle::Isometric) return step_hold(in, t);
  const AthleteTraits& tr = s_.traits;
  const double x = in.x_mm, v = in.v_mm_s;
  const double c_mm_n = tr.tissue_mm / kTissueRefN;  // compression per N of contact
  const double heel = x + compression_mm_;           // the bone, from last step's compression
  heel_mm_ = heel;
  const bool loaded = in.drive_enabled && in.commanded_force_n >= s_.start_load_n;
  if (loaded) {
    loaded_s_ += kDt;
    unloaded_s_ = 0;
  } else {
    unloaded_s_ += kDt;
    loaded_s_ = 0;
  }
  const double tin = t - phase_start_s_;
  const double bottom_reached = s_.bottom_mm + 3.0;
  const int leave_rep = std::max(1, tr.leave_rep);
  const bool leave_now = tr.leave != Leave::None && !left_once_ &&
                         static_cast<int>(reps_.size()) + 1 >= leave_rep;  // in rep `leave_rep`

  // ---- phase transitions
  switch (phase_) {
    case AthletePhase::Waiting:
      if (loaded && loaded_s_ >= tr.reaction_s && settle_until_ < 0) {
        if (!started_ && tr.first_bottom_pause) {
          started_ = true;
          pause_len_s_ = std::max(1.0, s_.tempo.bottom_s * tr.pause_scale);
          rest_from_s_ = -1;
          enter(AthletePhase::BottomPause, t, heel);
        } else {
          start_rep(t, heel);
        }
      }
      break;
    case AthletePhase::Relaxed: break;
    case AthletePhase::LetGo:
      if (away_until_ >= 0 && t >= away_until_) {  // sits back down
        away_ = false;
        away_until_ = -1;
        events_.returned_s = t;
        loaded_s_ = 0;
        enter(AthletePhase::Waiting, t, heel);
        // It puts its thighs under the pad wherever the pad is: when the pad
        // is lower than its thighs' lowest, it lifts the pad up to it first.
        if (x < s_.bottom_mm) {
          settle_until_ = t + kSettleS;
          from_mm_ = x;
          to_mm_ = s_.bottom_mm + 0.5;
          duration_s_ = kSettleS;
        }
      }
      break;
    case AthletePhase::Stopping:
      if (tin >= duration_s_ && heel <= bottom_reached) {
        finish_rep(t);
        enter(finished_ ? AthletePhase::Relaxed : AthletePhase::Waiting, t, heel);
      }
      break;
    default:
      if (unloaded_s_ > kUnloadedStopS) {
        end_rest(t);
        enter(AthletePhase::Stopping, t, heel);
        break;
      }
      if (phase_ == AthletePhase::Concentric) {
        const double risen = (heel - rep_low_) / std::max(1.0, rep_top_ - rep_low_);
        const int number = static_cast<int>(reps_.size()) + 1;
        if (leave_now && tr.leave == Leave::MidRise && risen >= event_frac_) {
          go_away(t);
          break;
        }
        if (tr.fatigue == FatigueKind::FailMidRise && !failing_ &&
            number == std::max(1, tr.fail_rep) && risen >= event_frac_) {
          // The capacity falls below the load: with `stall` to within the
          // screw's static band (the pad sticks where it is), with `sink`
          // below what holds the pad (it sinks back), with `collapse` to
          // collapse_fraction of the load (the load pushes it down: the
          // failed rep of hazard 11).
          failing_ = true;
          fail_t_ = t;
          events_.stall_s = t;
          cur_.stalled = true;
          const double hold_lo = feel_load(in, -2.0), hold_hi = feel_load(in, 2.0);
          if (tr.fail_mode == FailMode::Stall) {
            capacity_ = std::max(0.0, 0.5 * (hold_lo + hold_hi));
          } else if (tr.fail_mode == FailMode::Sink) {
            capacity_ = std::max(0.0, hold_lo + 5.0);
            sinking_ = true;
          } else {
            capacity_ = std::max(0.0, std::clamp(tr.collapse_fraction, 0.0, 0.9) * hold_hi);
            sinking_ = true;
          }
        }
        if (failing_) {
          if (sinking_ ? heel <= s_.bottom_mm + 0.5 : t - fail_t_ >= kStallHoldS) {
            finished_ = true;  // gives up the set: lowers (stall) and rests on its heels
            if (sinking_) {
              finish_rep(t);
              enter(AthletePhase::Relaxed, t, heel);
            } else {
              enter(AthletePhase::Stopping, t, heel);
            }
          }
          break;
        }
        const bool reached = heel >= rep_top_ - kReachMm;
        if (reached && (tr.effort != Effort::Track || tin >= duration_s_ - 0.05)) {
          if (leave_now && tr.leave == Leave::AtTop) {
            go_away(t);
            break;
          }
          pause_len_s_ = own_top_s_;
          rest_from_s_ = -1;
          if (rest_len_s_ > 0 && tr.mid_rest_where == RestWhere::Top) {
            rest_from_s_ = t + own_top_s_;
            pause_len_s_ += rest_len_s_;
          }
          enter(AthletePhase::TopPause, t, heel);
          break;
        }
        // Gives up rising when stuck (a partial rep); grinders try longer. A
        // slow rise (the machine's brake) is not stuck.
        const double give_up = tr.effort == Effort::Grind ? 3.0 : 2.0;
        if (v > 2.0 || tin < 0.5) still_since_ = -1;
        else if (still_since_ < 0) still_since_ = t;
        if (still_since_ >= 0 && t - still_since_ > give_up) {
          cur_.stalled = true;
          if (!events_.stall_s) events_.stall_s = still_since_ >= 0 ? still_since_ : t;
          enter(AthletePhase::Eccentric, t, heel);
        }
      } else if (phase_ == AthletePhase::TopPause) {
        if (rest_from_s_ >= 0 && t >= rest_from_s_ && !resting_) {
          resting_ = true;
          cur_.mid_rest = true;
          events_.rests.emplace_back(t, -1.0);
        }
        if (tin >= pause_len_s_) {
          end_rest(t);
          enter(AthletePhase::Eccentric, t, heel);
        }
      } else if (phase_ == AthletePhase::Eccentric) {
        const double lowered = (rep_top_ - heel) / std::max(1.0, rep_top_ - s_.bottom_mm);
        if (leave_now && tr.leave == Leave::MidLowering && lowered >= event_frac_) {
          go_away(t);
          break;
        }
        const bool down =
            heel <= bottom_reached && (tr.effort == Effort::Follow || tin >= duration_s_);
        if (down) {
          finish_rep(t);
          if (finished_) {
            enter(AthletePhase::Relaxed, t, heel);
            break;
          }
          if (leave_now && tr.leave == Leave::AtBottom) {
            go_away(t);
            break;
          }
          pause_len_s_ = own_bottom_s_;
          rest_from_s_ = -1;
          if (rest_len_s_ > 0 && tr.mid_rest_where == RestWhere::Bottom) {
            rest_from_s_ = t + own_bottom_s_;
            pause_len_s_ += rest_len_s_;
          }
          if (pause_len_s_ > 0) enter(AthletePhase::BottomPause, t, heel);
          else start_rep(t, heel);
        }
      } else if (phase_ == AthletePhase::BottomPause) {
        if (rest_from_s_ >= 0 && t >= rest_from_s_ && !resting_) {
          resting_ = true;
          if (!reps_.empty()) reps_.back().mid_rest = true;
          events_.rests.emplace_back(t, -1.0);
        }
        if (tin >= pause_len_s_) {
          end_rest(t);
          start_rep(t, heel);
        }
      }
      break;
  }

  // ---- forces
  const double tp_in = t - phase_start_s_;
  double muscle = 0;
  bool active = true;
  auto track = [&] {
    const Target tg = trajectory(t);
    // The friction it expects is that of the way it means to move: along
    // its trajectory, or towards it once the trajectory has ended (else a
    // pad held in the screw's static band would never be pulled to target).
    return feel_load(in, tg.v + 5.0 * (tg.x - heel)) + body_.moving_mass_kg * tg.a / 1000.0 +
           kTrackKp * (tg.x - heel) + kTrackKd * (tg.v - v);
  };
  // Riding the pad down keeps a share of the machine's set load (the host's
  // command), not of the speed loop's momentary trims.
  auto feel_cmd = [&](double dir) {
    AthleteInput c = in;
    c.motor_force_n = in.commanded_force_n;
    return feel_load(c, dir);
  };
  // Follow's own speed: no faster than its tempo would move (the machine may brake it slower).
  const double own_v =
      std::max(5.0, 1.2 * std::fabs(to_mm_ - from_mm_) / std::max(0.2, duration_s_));
  // Follow's estimate of the load: what it feels (pad weight + the motor's
  // actual force with the friction of the way it moves) while the pad is
  // still, with a 0.2 s perception lag; held while the pad moves. A brake that
  // rises with speed (the drive's speed loop or the host's pacing brake) is
  // then not chased: it holds the follower at the pace it allows, and a load
  // that grows mid-motion slows it until it stops, feels again and goes on.
  auto follow_estimate = [&](double dir) {
    const double felt = feel_load(in, dir);
    if (tp_in < 0.0015) follow_est_ = felt;
    else if (std::fabs(v) < 2.0) follow_est_ += (felt - follow_est_) * (kDt / 0.2);
    return follow_est_;
  };
  switch (phase_) {
    case AthletePhase::Waiting:
      if (settle_until_ >= 0 && t < settle_until_ + 0.2) muscle = track();
      else active = false;
      break;
    case AthletePhase::Relaxed:
    case AthletePhase::LetGo: active = false; break;
    case AthletePhase::BottomPause:
      if (resting_) active = false;  // rests on its heels
      else muscle = track();
      break;
    case AthletePhase::Concentric:
      if (sinking_) {
        muscle = tr.fail_mode == FailMode::Collapse
                     ? capacity_
                     : feel_load(in, -2.0) + kTrackKd * (-kSinkMmS - v);
        break;
      }
      switch (tr.effort) {
        case Effort::Follow:
          muscle = follow_estimate(2.0) +
                   tr.follow_surplus_n * std::clamp((own_v - v) / (0.2 * own_v), -1.0, 1.0);
          break;
        case Effort::PushHard: muscle = capacity_ * std::min(1.0, tp_in / 0.15); break;
        case Effort::Grind: muscle = capacity_ * std::min(1.0, tp_in / 0.4); break;
        case Effort::Track: muscle = track(); break;
      }
      break;
    case AthletePhase::Eccentric:
      if (tr.effort == Effort::Follow) {
        muscle = follow_estimate(-2.0) -
                 tr.follow_surplus_n * std::clamp((v + own_v) / (0.2 * own_v), -1.0, 1.0);
      } else {
        muscle = std::max(track(), kRideFraction * feel_cmd(-2.0));
      }
      if (drop_at_ >= 0 && tp_in >= drop_at_ && tp_in < drop_at_ + drop_len_) {
        muscle *= 0.3;  // gives way
        if (in_rep_) cur_.wobbly = true;
      }
      break;
    default:  // TopPause, Stopping
      muscle = track();
      if (phase_ == AthletePhase::Stopping)
        muscle = std::max(muscle, kRideFraction * feel_cmd(-2.0));
      break;
  }
  if (active) {
    // Low-pass filtered noise (uniform, rms ≈ noise_n after the filter) plus the tremor.
    const double alpha = 1.0 / 30.0;
    noise_state_ += alpha * (fast_uniform() * 1.7320508075688772 * s_.noise_n *
                                 std::sqrt((2.0 - alpha) / alpha) -
                             noise_state_);
    muscle += noise_state_;
    if (tr.tremor_n > 0) {
      const double c = tremor_c_ * tremor_rc_ - tremor_s_ * tremor_rs_;
      tremor_s_ = tremor_s_ * tremor_rc_ + tremor_c_ * tremor_rs_;
      tremor_c_ = c;
      const double amp = tr.tremor_n * (1.0 + tr.tremor_growth * fatigue());
      if (in_rep_ && amp > tremor_amp_rep_) tremor_amp_rep_ = amp;
      muscle += amp * tremor_s_;
    }
  }
  double cap = trait_capacity_at(heel);
  if (v > 0) cap *= std::max(0.2, 1.0 - v / kFvMmS);  // force-velocity: slower when rising faster
  muscle_ = std::clamp(muscle, 0.0, cap);
  if (away_) {
    muscle_ = heel_ = contact_ = 0;
  } else {
    // Heels and ankle below the anatomical bottom (on the bone, behind the
    // thigh's soft tissue): h = K·(bottom − (x + c·(m + h))) − C·v.
    heel_ = 0;
    const bool gap =
        settle_until_ >= 0 && t < settle_until_ + 0.2 && x + c_mm_n * muscle_ < s_.bottom_mm - 1.0;
    if (settle_until_ >= 0 && t >= settle_until_ + 0.2) settle_until_ = -1;
    if (!gap && x + c_mm_n * muscle_ < s_.bottom_mm)
      heel_ = std::max(0.0, (kHeelK * (s_.bottom_mm - x - c_mm_n * muscle_) - kHeelC * v) /
                                (1.0 + kHeelK * c_mm_n));
    contact_ = muscle_ + heel_;
  }
  // The tissue follows the contact with a lag of about a step, as soft tissue
  // does: taken whole each step, the heel's height (from last step's
  // compression) and the muscle (from that height) flipped every ms between
  // two states ~330 N apart on the heel stop, a numerical limit cycle
  // (tests/proving: "regression: campaign seed 9170 ...").
  compression_mm_ += 0.5 * (c_mm_n * contact_ - compression_mm_);
  heel_mm_ = x + compression_mm_;

  // ---- ground truth
  track_heel(t, loaded);
  if (in_rep_) {
    cur_.high_mm = std::max(cur_.high_mm, x);
    if (phase_ == AthletePhase::Concentric) {
      conc_sum_ += contact_;
      ++conc_n_;
      cur_.peak_concentric_n = std::max(cur_.peak_concentric_n, contact_);
    }
  }
  return contact_;
}

// ---- isometric hold (trait mode, style isometric)
//
// The programme is a hold: the machine holds the pad (its resistance follows
// what the user pushes, up to the hold's load) and the athlete pushes against
// it. Traits act as follows (docs/simulator.md, "The hold"):
//  - reaction: passive on its heels for reaction_s after the drive enabled;
//  - effort: track holds with hold_fraction × capacity, push_hard with its
//    capacity, grind with 0.9 × capacity (ramped in over 1 s); follow pushes
//    just what holds the pad: what it felt when it began (pad weight + the
//    motor's force) + follow_surplus_n, and does not chase a resistance that
//    mirrors its own push;
//  - fatigue: gradual → capacity × (1 − fatigue_rate) per 10 s of holding;
//    sudden, range_first → capacity × sudden_factor after hold_fail_s of
//    holding; fail_mid_rise → gives the hold up after hold_fail_s (its force
//    fades over 1 s, `sink` 4 s), then rests on its heels; half_then_full has
//    no range to lose in a hold (none);
//  - tremor and noise as in reps; leaving after hold_leave_s of holding;
//  - the end of the machine's hold (the drive off for 0.5 s, or the
//    resistance fading below half its peak and below half of what it pushes,
//    for 0.3 s) is felt: it stops pushing and waits for the drive to go off.
void Athlete::end_bout(double t_s) {
  if (!hold_.bouts.empty() && hold_.bouts.back().second < 0) hold_.bouts.back().second = t_s;
}

double Athlete::step_hold(const AthleteInput& in, double t) {
  const AthleteTraits& tr = s_.traits;
  const double x = in.x_mm, v = in.v_mm_s;
  const double c_mm_n = tr.tissue_mm / kTissueRefN;
  const double heel = x + compression_mm_;
  heel_mm_ = heel;
  hold_.hold = true;
  if (in.drive_enabled) {
    loaded_s_ += kDt;
    unloaded_s_ = 0;
  } else {
    unloaded_s_ += kDt;
    loaded_s_ = 0;
  }
  if (hold_over_ && unloaded_s_ > kUnloadedStopS) hold_over_ = false;
  if (in.drive_enabled && hold_.force_n.empty() && bin_n_ == 0) hold_.bins_from_s = t;

  // ---- phase transitions
  switch (phase_) {
    case AthletePhase::Waiting:
      if (in.drive_enabled && !hold_over_ && loaded_s_ >= tr.reaction_s) {
        enter(AthletePhase::Holding, t, heel);
        bout_start_s_ = t;
        hold_.bouts.emplace_back(t, -1.0);
        if (!hold_.start_s) hold_.start_s = t;
        if (!events_.first_move_s) events_.first_move_s = t;
        follow_est_ = feel_load(in, 0.0);
        hold_res_peak_n_ = 0;
        hold_heel0_ = heel;
        release_from_s_ = -1;
        still_since_ = -1;
      }
      break;
    case AthletePhase::LetGo:
      if (away_until_ >= 0 &&
          t >= away_until_) {  // sits back down and, after its reaction, holds again
        away_ = false;
        away_until_ = -1;
        events_.returned_s = t;
        loaded_s_ = 0;
        enter(AthletePhase::Waiting, t, heel);
      }
      break;
    case AthletePhase::Holding: {
      hold_time_ += kDt;
      if (tr.fatigue == FatigueKind::Gradual)
        capacity_ *= std::pow(1.0 - std::clamp(s_.fatigue_rate, 0.0, 0.9), kDt / 10.0);
      const bool drop_kind =
          tr.fatigue == FatigueKind::Sudden || tr.fatigue == FatigueKind::RangeFirst;
      if (drop_kind && !sudden_done_ && hold_time_ >= tr.hold_fail_s) {
        capacity_ *= tr.sudden_factor;
        sudden_done_ = true;
        hold_.fail_s = t;
      }
      if (tr.fatigue == FatigueKind::FailMidRise && give_up_from_s_ < 0 &&
          hold_time_ >= tr.hold_fail_s) {
        give_up_from_s_ = t;
        hold_.fail_s = t;
        hold_.gave_up = true;
      }
      if (give_up_from_s_ >= 0 &&
          t - give_up_from_s_ >= (tr.fail_mode == FailMode::Sink ? 4.0 : 1.0)) {
        finished_ = true;  // gave up the hold: rests on its heels
        end_bout(t);
        enter(AthletePhase::Relaxed, t, heel);
        break;
      }
      if (tr.leave != Leave::None && !left_once_ && hold_time_ >= tr.hold_leave_s) {
        end_bout(t);
        go_away(t);
        break;
      }
      // The machine's hold is over: the drive is off, or its resistance faded
      // while it still pushes (the unload ramp).
      const double res = body_.pad_weight_n + in.commanded_force_n;
      hold_res_peak_n_ = std::max(hold_res_peak_n_, res);
      const bool fading =
          hold_res_peak_n_ > 100.0 && res < 0.5 * hold_res_peak_n_ && res < 0.5 * hold_target_n_;
      if (!fading) still_since_ = -1;
      else if (still_since_ < 0) still_since_ = t;
      if (release_from_s_ < 0 &&
          (unloaded_s_ > kUnloadedStopS || (still_since_ >= 0 && t - still_since_ >= 0.3))) {
        if (!hold_.end_s) hold_.end_s = t;
        release_from_s_ = t;  // eases off over kReleaseS
      }
      if (release_from_s_ >= 0 &&
          (t - release_from_s_ >= kReleaseS || unloaded_s_ > kUnloadedStopS)) {
        hold_over_ = in.drive_enabled;
        release_from_s_ = -1;
        end_bout(t);
        enter(AthletePhase::Waiting, t, heel);
      }
      break;
    }
    default: break;  // Relaxed: gave up
  }

  // ---- forces
  double muscle = 0;
  const bool active = phase_ == AthletePhase::Holding;
  if (active) {
    switch (tr.effort) {
      case Effort::Track:
        hold_target_n_ = std::clamp(tr.hold_fraction, 0.0, 1.0) * capacity_;
        break;
      case Effort::PushHard: hold_target_n_ = capacity_; break;
      case Effort::Grind: hold_target_n_ = 0.9 * capacity_; break;
      case Effort::Follow:
        hold_target_n_ = std::min(capacity_, follow_est_ + tr.follow_surplus_n);
        break;
    }
    muscle = hold_target_n_ * std::min(1.0, (t - bout_start_s_) / 1.0);
    // It means to hold still: when it out-pushes the hold's load, the pad
    // gives and it eases off to what holds its heel a little above where it
    // began (no higher than its top), so it pushes what the machine resists.
    const double cap_mm = std::min(hold_heel0_ + kHoldGiveMm, s_.top_mm + 1.0);
    if (heel > cap_mm - 2.0)
      muscle = std::min(muscle, feel_load(in, v) + kTrackKp * (cap_mm - heel) - kTrackKd * v);
    if (release_from_s_ >= 0) muscle *= std::max(0.0, 1.0 - (t - release_from_s_) / kReleaseS);
    if (give_up_from_s_ >= 0)
      muscle *=
          std::max(0.0, 1.0 - (t - give_up_from_s_) / (tr.fail_mode == FailMode::Sink ? 4.0 : 1.0));
    const double alpha = 1.0 / 30.0;
    noise_state_ += alpha * (fast_uniform() * 1.7320508075688772 * s_.noise_n *
                                 std::sqrt((2.0 - alpha) / alpha) -
                             noise_state_);
    muscle += noise_state_;
    if (tr.tremor_n > 0) {
      const double c = tremor_c_ * tremor_rc_ - tremor_s_ * tremor_rs_;
      tremor_s_ = tremor_s_ * tremor_rc_ + tremor_c_ * tremor_rs_;
      tremor_c_ = c;
      muscle += tr.tremor_n * (1.0 + tr.tremor_growth * fatigue()) * tremor_s_;
    }
  }
  double cap = trait_capacity_at(heel);
  if (v > 0) cap *= std::max(0.2, 1.0 - v / kFvMmS);
  muscle_ = std::clamp(muscle, 0.0, cap);
  if (away_) {
    muscle_ = heel_ = contact_ = 0;
  } else {
    heel_ = 0;
    if (x + c_mm_n * muscle_ < s_.bottom_mm)
      heel_ = std::max(0.0, (kHeelK * (s_.bottom_mm - x - c_mm_n * muscle_) - kHeelC * v) /
                                (1.0 + kHeelK * c_mm_n));
    contact_ = muscle_ + heel_;
  }
  compression_mm_ = c_mm_n * contact_;
  heel_mm_ = x + compression_mm_;

  // ---- ground truth: the contact force in bins from the drive's first enable
  if (hold_.bins_from_s > 0 || !hold_.force_n.empty() || bin_n_ > 0 || in.drive_enabled) {
    constexpr std::size_t kMaxBins = 12000;  // 20 min
    const int per_bin = static_cast<int>(std::lround(hold_.bin_s / kDt));
    if (hold_.force_n.size() < kMaxBins) {
      bin_sum_ += contact_;
      if (++bin_n_ >= per_bin) {
        hold_.force_n.push_back(static_cast<float>(bin_sum_ / bin_n_));
        bin_sum_ = 0;
        bin_n_ = 0;
      }
    }
  }
  return contact_;
}

std::optional<double> HoldTruth::mean_force(double a, double b) const {
  double sum = 0, w = 0;
  for (std::size_t k = 0; k < force_n.size(); ++k) {
    const double lo = bins_from_s + static_cast<double>(k) * bin_s, hi = lo + bin_s;
    if (hi <= a) continue;
    if (lo >= b) break;
    const double o = std::min(hi, b) - std::max(lo, a);
    if (o <= 0) continue;
    sum += o * force_n[k];
    w += o;
  }
  if (w <= 0) return std::nullopt;
  return sum / w;
}

double HoldTruth::held_within(double a, double b) const {
  double s = 0;
  for (const auto& [lo, hi] : bouts) {
    const double e = hi < 0 ? b : hi;
    s += std::max(0.0, std::min(e, b) - std::max(lo, a));
  }
  return s;
}

std::optional<double> HoldTruth::first_drop_s(double pct, double window_s, double from_s,
                                              double until_s) const {
  if (window_s <= 0) return std::nullopt;
  double best = 0;
  for (double w0 = from_s; w0 + window_s <= until_s + 1e-9; w0 += window_s) {
    const auto m = mean_force(w0, w0 + window_s);
    if (!m) break;
    if (best > 0 && *m < (1.0 - pct / 100.0) * best) return w0 + window_s;
    best = std::max(best, *m);
  }
  return std::nullopt;
}

int Athlete::full_reps() const {
  return static_cast<int>(
      std::count_if(reps_.begin(), reps_.end(), [](const RepTruth& r) { return r.full; }));
}
int Athlete::partial_reps() const { return static_cast<int>(reps_.size()) - full_reps(); }

double Athlete::best_mean_concentric_n(int skip) const {
  double best = 0;
  for (const auto& r : reps_)
    if (r.index > skip) best = std::max(best, r.mean_concentric_n);
  return best;
}

std::optional<int> Athlete::first_drop_rep(double pct, int skip) const {
  double best = 0;
  for (const auto& r : reps_) {
    if (r.index <= skip) continue;
    if (best > 0 && r.mean_concentric_n < best * (1.0 - pct / 100.0)) return r.index;
    best = std::max(best, r.mean_concentric_n);
  }
  return std::nullopt;
}

}  // namespace soleus::sim
