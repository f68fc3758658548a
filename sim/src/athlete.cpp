#include "soleus/sim/athlete.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>

namespace soleus::sim {

namespace {
constexpr double kDt = 0.001;
constexpr double kHeelK = 300.0;   // N/mm: heels and ankle below the anatomical bottom
constexpr double kHeelC = 8.0;     // N/(mm/s)
constexpr double kTrackKp = 20.0;  // N/mm
constexpr double kRideFraction = 0.6;  // share of the felt load kept while lowering
constexpr double kTrackKd = 3.0;   // N/(mm/s)
constexpr double kReachMm = 2.5;   // "arrived" tolerance
constexpr double kUnloadedStopS = 0.5;
constexpr double kFullFraction = 0.9;
constexpr double kRangeJitterMm = 0.5;

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
  }
  return "?";
}

bool parse_style(const std::string& text, AthleteStyle& out) {
  for (auto s : {AthleteStyle::Tempo, AthleteStyle::PushHard, AthleteStyle::HalfRange,
                 AthleteStyle::Bounce, AthleteStyle::LetGo, AthleteStyle::ShrinkingRange,
                 AthleteStyle::Relax, AthleteStyle::Isometric}) {
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
const char* to_string(FailMode m) { return m == FailMode::Stall ? "stall" : "sink"; }

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
  constexpr FatigueKind all[] = {FatigueKind::None, FatigueKind::Gradual, FatigueKind::Sudden,
                                 FatigueKind::RangeFirst, FatigueKind::HalfThenFull, FatigueKind::FailMidRise};
  return parse_enum(text, out, all);
}
bool parse_leave(const std::string& text, Leave& out) {
  constexpr Leave all[] = {Leave::None, Leave::MidRise, Leave::MidLowering, Leave::AtTop,
                           Leave::AtBottom, Leave::StandUp, Leave::SitBack};
  return parse_enum(text, out, all);
}
bool parse_rest_where(const std::string& text, RestWhere& out) {
  constexpr RestWhere all[] = {RestWhere::Top, RestWhere::Bottom};
  return parse_enum(text, out, all);
}
bool parse_fail_mode(const std::string& text, FailMode& out) {
  constexpr FailMode all[] = {FailMode::Stall, FailMode::Sink};
  return parse_enum(text, out, all);
}

double Athlete::fatigue() const {
  return s_.capacity_n > 0 ? std::clamp(1.0 - capacity_ / s_.capacity_n, 0.0, 1.0) : 0.0;
}

bool parse_tempo(const std::string& text, Tempo& out) {
  double v[4];
  std::istringstream is(text);
  for (int i = 0; i < 4; ++i) {
    if (!(is >> v[i]) || v[i] < 0 || v[i] > 60) return false;
    if (i < 3) {
      char dash = 0;
      if (!(is >> dash) || dash != '-') return false;
    }
  }
  std::string rest;
  if (is >> rest) return false;
  if (v[0] < 0.2 || v[2] < 0.2) return false;
  out = Tempo{v[0], v[1], v[2], v[3]};
  return true;
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
    : s_(s), body_(body), rng_(s.seed), capacity_(s.capacity_n) {}

void Athlete::configure(const AthleteSettings& s, bool reset_capacity) {
  const bool reseed = s.seed != s_.seed;
  s_ = s;
  if (reseed) rng_.seed(s.seed);
  if (reset_capacity) capacity_ = s.capacity_n;
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
  if (v_dir > 1.0) eff = fm > 0 ? fm / eta : fm * eta;        // rising: back-drives a resisting motor
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
      const double frac = intended_fraction(number);
      std::uniform_real_distribution<double> jitter(-kRangeJitterMm, kRangeJitterMm);
      rep_top_ = s_.bottom_mm + frac * (s_.top_mm - s_.bottom_mm) + jitter(rng_);
      from_mm_ = x_mm;
      to_mm_ = rep_top_;
      duration_s_ = tp.concentric_s;
      in_rep_ = true;
      cur_ = RepTruth{};
      cur_.index = number;
      cur_.start_s = t_s;
      cur_.low_mm = x_mm;
      cur_.high_mm = x_mm;
      cur_.intended_fraction = frac;
      cur_.capacity_n = capacity_;
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
      to_mm_ = s_.style == AthleteStyle::Bounce ? s_.bottom_mm - 4.0 : s_.bottom_mm;
      duration_s_ = tp.eccentric_s;
      break;
    case AthletePhase::Stopping:
      from_mm_ = x_mm;
      to_mm_ = s_.bottom_mm;
      duration_s_ = std::max(1.0, tp.eccentric_s);
      break;
    case AthletePhase::Holding: holding_s_ = 0; hold_peak_cmd_n_ = 0; held_once_ = true; break;
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
  reps_.push_back(cur_);
  capacity_ *= (1.0 - std::clamp(s_.fatigue_rate, 0.0, 0.9));
}

double Athlete::step(const AthleteInput& in, std::int64_t now_ms) {
  const double t = static_cast<double>(now_ms) / 1000.0;
  const double x = in.x_mm, v = in.v_mm_s;
  // An isometric hold starts from wherever the pad is held (often resting on
  // the heels, where the hold commands no force yet): the athlete pushes as
  // soon as the drive holds the pad.
  const bool loaded =
      in.drive_enabled && ((s_.style == AthleteStyle::Isometric && !held_once_) ||
                           in.commanded_force_n >= s_.start_load_n);
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
        enter(s_.style == AthleteStyle::Isometric ? AthletePhase::Holding : AthletePhase::Concentric, t, x);
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
          else if (tp.bottom_s > 0)
            enter(AthletePhase::BottomPause, t, x);
          else
            enter(AthletePhase::Concentric, t, x);
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
      break;
    case AthletePhase::Concentric:
      if (s_.style == AthleteStyle::PushHard) {
        muscle = capacity_ * std::min(1.0, tp_in / 0.15);
        break;
      }
      [[fallthrough]];
    default: {
      const Target tg = trajectory(t);
      muscle = feel_load(in, tg.v) + body_.moving_mass_kg * tg.a / 1000.0 +
               kTrackKp * (tg.x - x) + kTrackKd * (tg.v - v);
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
    noise_state_ += alpha * (gauss_(rng_) * s_.noise_n * std::sqrt((2.0 - alpha) / alpha) - noise_state_);
    muscle += noise_state_;
    if (s_.wobble_n > 0) muscle += s_.wobble_n * std::sin(2.0 * std::numbers::pi * s_.wobble_hz * t);
  }
  muscle_ = std::clamp(muscle, 0.0, capacity_at(x));
  heel_ = 0;
  if (phase_ != AthletePhase::LetGo && x < s_.bottom_mm)
    heel_ = std::max(0.0, kHeelK * (s_.bottom_mm - x) - kHeelC * v);
  contact_ = phase_ == AthletePhase::LetGo ? 0.0 : muscle_ + heel_;

  // ---- ground truth of the rep in progress
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

int Athlete::full_reps() const {
  return static_cast<int>(std::count_if(reps_.begin(), reps_.end(), [](const RepTruth& r) { return r.full; }));
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
