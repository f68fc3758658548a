#include "soleus/proving/judges.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include "soleus/common/format.hpp"

namespace soleus::proving {

Verdict failing(std::string why, double badness) {
  Verdict v;
  v.ok = false;
  v.why = std::move(why);
  v.badness = badness;
  return v;
}

using controller::Mode;
using controller::SetState;
using controller::StopReason;

namespace {

std::string f1(double v) { return common::format_fixed(v, 1); }
std::string f2(double v) { return common::format_fixed(v, 2); }

Verdict not_judged(std::string why) {
  Verdict v;
  v.judged = false;
  v.why = std::move(why);
  return v;
}

/// When the set ended: the first unloading cycle, else the result's end, else the end of the run.
double stop_time(const Outcome& o) {
  if (o.unload_start_s) return *o.unload_start_s;
  if (o.result) return o.result->t_end_s;
  return o.sim_s;
}

double fullness(const sim::RepTruth& t) { return std::min(t.rise_fraction, t.return_fraction); }

/// Truth reps of the set proper: begun once the controller was active (less
/// 0.3 s: a rise that began as the calibration closed) and before the stop.
/// With a stored range confirmed by the light first rep, that rep is one of
/// the set's (counted_from_s: from the start press); there is no calibration rep.
/// (An Outcome made without it, as the judges' own tests do: active_start_s.)
std::optional<double> counted_from(const Outcome& o) {
  return o.counted_from_s ? o.counted_from_s : o.active_start_s;
}

bool in_set(const Outcome& o, const sim::RepTruth& t) {
  const auto from = counted_from(o);
  if (!from) return false;
  return t.start_s >= *from - 0.3 && t.start_s < stop_time(o);
}

int calibration_reps(const Outcome& o) {
  const auto from = counted_from(o);
  int n = 0;
  for (const auto& t : o.truth)
    if (!from || t.start_s < *from - 0.3) ++n;
  return n;
}

bool is_fault_reason(StopReason r) {
  switch (r) {
    case StopReason::Estop:
    case StopReason::DriveFault:
    case StopReason::CommLoss:
    case StopReason::SensorFault:
    case StopReason::Overspeed:
    case StopReason::TravelLimit:
    case StopReason::StorageFault:
    case StopReason::Shutdown:
    case StopReason::UserStop:
    case StopReason::Pain:
    case StopReason::None: return true;
    default: return false;
  }
}

/// Did the pad fall after the user left: it sank fall_mm within 1 s.
bool pad_fell(const Outcome& o, double left_s, double fall_mm) {
  double at = -1, lowest = 1e9;
  for (const auto& s : o.samples) {
    if (s.t < left_s) continue;
    if (s.t > left_s + 1.0) break;
    if (at < 0) at = s.pad;
    lowest = std::min(lowest, static_cast<double>(s.pad));
  }
  return at >= 0 && at - lowest >= fall_mm;
}

/// The sim's first_drop_rep on a truth vector: 1-based index of the first rep
/// (after `skip`) whose mean concentric force is below (100 − pct) % of the best before it.
std::optional<int> first_drop(const std::vector<sim::RepTruth>& truth, double pct, int skip) {
  double best = 0;
  for (std::size_t i = static_cast<std::size_t>(std::max(skip, 0)); i < truth.size(); ++i) {
    const double m = truth[i].mean_concentric_n;
    if (best > 0 && m < (1.0 - pct / 100.0) * best) return static_cast<int>(i) + 1;
    best = std::max(best, m);
  }
  return std::nullopt;
}

}  // namespace

std::vector<RepMatch> match_reps(const Outcome& o, const JudgeRules& r) {
  std::vector<RepMatch> m;
  const double f = o.rep_rom_fraction;
  for (std::size_t i = 0; i < o.truth.size(); ++i) {
    const auto& t = o.truth[i];
    if (!in_set(o, t)) continue;
    RepMatch x;
    x.truth_index = static_cast<int>(i);
    const double fu = fullness(t);
    x.full = fu >= f + r.borderline;
    x.partial = fu < f - r.borderline;
    x.borderline = !x.full && !x.partial;
    m.push_back(x);
  }
  for (const auto& rep : o.reps) {
    if (!rep.counted) continue;
    int best = -1;
    double best_d = 1e9;
    for (std::size_t k = 0; k < m.size(); ++k) {
      if (m[k].controller_n != 0) continue;
      const auto& t = o.truth[static_cast<std::size_t>(m[k].truth_index)];
      if (rep.t_start_s < t.start_s - r.match_s ||
          rep.t_start_s > std::max(t.end_s, t.start_s + r.match_s))
        continue;
      const double dd = std::fabs(rep.t_start_s - t.start_s);
      if (dd < best_d) best_d = dd, best = static_cast<int>(k);
    }
    if (best >= 0) m[static_cast<std::size_t>(best)].controller_n = rep.n;
  }
  return m;
}

Verdict judge_counts(const Outcome& o, const JudgeRules& r) {
  if (o.c.programme.mode == Mode::Isometric) return not_judged("isometric hold: no reps");
  if (!o.result) return failing("no set result", 60);
  const auto m = match_reps(o, r);
  int counted_log = 0, matched = 0, missed = 0, partials = 0;
  std::ostringstream why;
  for (const auto& rep : o.reps) counted_log += rep.counted ? 1 : 0;
  for (const auto& x : m) {
    const auto& t = o.truth[static_cast<std::size_t>(x.truth_index)];
    if (x.controller_n) {
      ++matched;
      if (x.partial) {
        ++partials;
        why << "counted partial: truth rep " << t.index << " covered " << f2(fullness(t))
            << " of its range; ";
      }
    } else if (x.full && t.end_s < stop_time(o) - 0.05) {
      ++missed;
      why << "missed full rep: truth rep " << t.index << " (" << f2(fullness(t)) << " of range, at "
          << f1(t.start_s) << " s); ";
    }
  }
  const int phantom = counted_log - matched;
  if (phantom > 0) why << phantom << " counted rep(s) match no true rep; ";
  if (o.result->reps != counted_log)
    why << "result says " << o.result->reps << " reps, the rep log counted " << counted_log << "; ";
  const bool ok = missed == 0 && partials == 0 && phantom <= 0 && o.result->reps == counted_log;
  if (ok) return {};
  return failing(why.str(), 50 + 10.0 * (missed + partials + std::max(phantom, 0)));
}

Verdict judge_no_counted_partial(const Outcome& o, const JudgeRules& r) {
  if (o.c.programme.mode == Mode::Isometric) return not_judged("isometric hold: no reps");
  const auto m = match_reps(o, r);
  std::ostringstream why;
  int n = 0;
  for (const auto& x : m)
    if (x.controller_n && x.partial) {
      const auto& t = o.truth[static_cast<std::size_t>(x.truth_index)];
      why << "rep " << x.controller_n << " counted, truth rep " << t.index << " rose "
          << f2(t.rise_fraction) << " and returned " << f2(t.return_fraction) << " of its range; ";
      ++n;
    }
  if (n == 0) return {};
  return failing(why.str(), 300 + n);
}

Verdict judge_false_user_left(const Outcome& o, const JudgeRules&) {
  if (!o.result || o.result->reason != StopReason::UserLeft) return {};
  const double T = stop_time(o);
  const auto& ev = o.athlete_events;
  if (ev.left_s && *ev.left_s <= T + 0.05) {
    // A sit-back athlete who was back before the decision was not gone.
    if (ev.returned_s && *ev.returned_s < T - 0.5)
      return failing("user_left at " + f1(T) + " s, but the user sat back down at " +
                         f1(*ev.returned_s) + " s",
                     500);
    return {};
  }
  return failing("user_left at " + f1(T) + " s: the user never left" +
                     (ev.left_s ? " (left only at " + f1(*ev.left_s) + " s)" : std::string()),
                 500);
}

Verdict judge_stop(const Outcome& o, const JudgeRules& r) {
  if (!o.error.empty()) return failing("run error: " + o.error, 1000);
  if (!o.result)
    return failing("the set never ended (no result within " + f1(o.sim_s) + " s)", 200);
  const StopReason why = o.result->reason;
  const double T = stop_time(o);
  const auto& ev = o.athlete_events;
  const std::string name = controller::to_string(why);
  const bool iso = o.c.programme.mode == Mode::Isometric;

  // Leaving decides first: a user who left must be found, in time.
  if (ev.left_s && *ev.left_s < T) {
    const bool falls = pad_fell(o, *ev.left_s, r.fall_mm);
    const double limit = falls ? r.left_fall_s : r.left_s;
    const double late = T - *ev.left_s;
    const bool back_in_time =
        ev.returned_s && *ev.returned_s - *ev.left_s < limit && *ev.returned_s < T;
    if (why == StopReason::UserLeft) {
      if (late <= limit + o.period_s) return {};
      return failing("user_left " + f2(late) + " s after leaving (limit " + f1(limit) + " s" +
                         (falls ? ", the pad fell" : "") + ")",
                     100 + late);
    }
    if (!back_in_time && late > limit + o.period_s)
      return failing("the user left at " + f1(*ev.left_s) + " s" +
                         (falls ? " (the pad fell)" : "") + ", the set ended by " + name + " " +
                         f2(late) + " s later (user_left due within " + f1(limit) + " s)",
                     150 + late);
    // Ended for another reason before the leave had to be found: judge that reason below.
  } else if (why == StopReason::UserLeft) {
    return failing("user_left but the user never left", 500);
  }

  if (is_fault_reason(why)) return failing("stopped by " + name + " with no fault injected", 120);
  if (iso) return judge_hold_reason(o, r);

  // Truth reps of the set before the stop, in order.
  std::vector<const sim::RepTruth*> set;
  for (const auto& t : o.truth)
    if (in_set(o, t)) set.push_back(&t);
  auto last_k = [&](std::size_t k) {
    return std::vector<const sim::RepTruth*>(set.end() - static_cast<long>(std::min(k, set.size())),
                                             set.end());
  };
  const int counted = o.result->reps;
  switch (why) {
    case StopReason::TargetReached:
      if (iso) return failing("target_reached in an isometric hold", 100);
      if (counted == o.c.programme.target_reps) return {};
      return failing("target_reached with " + std::to_string(counted) + " of " +
                         std::to_string(o.c.programme.target_reps) + " reps",
                     100);
    case StopReason::HoldComplete:
      if (!iso) return failing("hold_complete in a rep set", 100);
      if (o.result->t_end_s - o.result->t_start_s >= o.c.programme.hold_s - 0.5) return {};
      return failing("hold_complete before the hold's time", 100);
    case StopReason::ForceDrop: {
      const int calib = calibration_reps(o);
      const auto d = first_drop(o.truth, o.c.programme.force_drop_pct, calib);
      if (!d)
        return failing(
            "force_drop at rep " + std::to_string(counted) + ": the truth has no force drop", 100);
      const int truth_rep = *d - calib;
      if (std::abs(counted - truth_rep) <= r.drop_reps) return {};
      return failing("force_drop at rep " + std::to_string(counted) + ", the truth's drop is rep " +
                         std::to_string(truth_rep),
                     100 + std::abs(counted - truth_rep));
    }
    case StopReason::RangeLoss: {
      if (ev.range_shrink_rep && !set.empty() && *ev.range_shrink_rep <= set.back()->index)
        return {};
      for (const auto* t : set)
        if (fullness(*t) < o.rep_rom_fraction - r.borderline || t->stalled) return {};
      // The rep it was still making when the set ended: never reaching the
      // top (pushed back down again and again by a load above what it can
      // lift there) is a true loss of range too.
      if (const auto& open = o.open_truth_at_stop;
          open && T - open->start_s > 2.0 &&
          open->rise_fraction < o.rep_rom_fraction - r.borderline)
        return {};
      // The calibration itself could not find a range (calibration_attempts).
      if (!o.active_start_s) {
        for (const auto& t : o.truth)
          if (t.start_s < T && fullness(t) < 0.9 * 0.9) return {};
        return failing("range_loss in calibration, but the truth's calibration rep(s) were full",
                       100);
      }
      return failing("range_loss but every true rep of the set was full", 100);
    }
    case StopReason::Stall: {
      if (ev.stall_s && *ev.stall_s < T) return {};
      for (const auto* t : set)
        if (t->stalled) return {};
      return failing("stall but the athlete never truly stalled" +
                         std::string(ev.rests.empty() ? "" : " (it rested mid-set)"),
                     100);
    }
    case StopReason::LossOfControl:
      for (const auto* t : last_k(3))
        if (t->wobbly) return {};
      return failing("loss_of_control but no true wobble in the last reps", 100);
    case StopReason::PaceLoss: {
      const double C = o.c.programme.tempo.concentric_s;
      for (const auto* t : last_k(3))
        if (t->stalled || (C > 0 && t->concentric_s > r.pace_factor * C)) return {};
      return failing("pace_loss but the last true rises kept the pace", 100);
    }
    default: return failing("unexpected stop reason " + name, 100);
  }
}

Verdict judge_tut(const Outcome& o, const JudgeRules& r) {
  if (o.c.programme.mode == Mode::Isometric) return judge_hold_tut(o, r);
  if (!o.result) return not_judged("no result");
  if (!judge_counts(o, r).ok) return not_judged("counts wrong");
  double truth = 0;
  for (const auto& x : match_reps(o, r))
    if (x.controller_n) truth += o.truth[static_cast<std::size_t>(x.truth_index)].loaded_s;
  const double err = std::fabs(o.result->tut_s - truth);
  if (err <= std::max(r.tut_fraction * truth, r.tut_abs_s)) return {};
  return failing(
      "TUT " + f2(o.result->tut_s) + " s, truly under load in counted reps " + f2(truth) + " s",
      10 + err);
}

Verdict judge_hold_reason(const Outcome& o, const JudgeRules& r) {
  if (!o.result)
    return failing("the set never ended (no result within " + f1(o.sim_s) + " s)", 200);
  const StopReason why = o.result->reason;
  const std::string name = controller::to_string(why);
  if (!o.active_start_s) return failing(name + " before the hold began", 100);
  const auto& h = o.hold;
  const double T = stop_time(o), from = *o.active_start_s, w = o.hold_window_s;
  const double p = o.c.programme.force_drop_pct, b = 100.0 * r.hold_borderline;
  const double tol = r.hold_drop_windows * w + o.period_s;
  // The true drops, from the athlete's force per window (aligned to the
  // controller's first active cycle), up to the stop: after it the unload
  // itself takes the force away.
  const auto clear = h.first_drop_s(p + b, w, from, T + o.period_s);  // clearly below the threshold
  const auto edge = h.first_drop_s(p - b, w, from, T + o.period_s);   // at least near it
  const bool missed = clear && T - *clear > tol;
  switch (why) {
    case StopReason::HoldComplete:
      if (o.result->t_end_s - o.result->t_start_s < o.c.programme.hold_s - 0.5)
        return failing("hold_complete before the hold's time", 100);
      if (missed)
        return failing(
            "hold_complete, but the true force dropped by " + f1(p) + " % at " + f1(*clear) + " s",
            100);
      return {};
    case StopReason::ForceDrop: {
      // Early by up to one window: the window after the stop, from the
      // athlete's own force until it felt the hold end (its release is no
      // drop), at least half a window of it.
      bool early = false;
      if (!edge) {
        const double release = h.end_s ? *h.end_s : 1e18;
        double best = 0, w0 = from;
        for (; w0 + w <= T + o.period_s + 1e-9; w0 += w)
          if (const auto m = h.mean_force(w0, w0 + w)) best = std::max(best, *m);
        const double e = std::min(w0 + w, release);
        if (e - w0 >= 0.5 * w)
          if (const auto m = h.mean_force(w0, e); m && *m < (1.0 - p / 100.0) * best) early = true;
      }
      if (!edge && !early) {
        const auto m = h.mean_force(T - w, T);
        return failing("force_drop in the hold at " + f1(T) +
                           " s: the true force had not dropped (last window " +
                           (m ? f1(*m) : std::string("?")) + " N)",
                       100);
      }
      if (missed)
        return failing("force_drop at " + f1(T) + " s, " + f2(T - *clear) +
                           " s after the true drop (limit " + f2(tol) + " s)",
                       100 + T - *clear);
      return {};
    }
    default: return failing(name + " in an isometric hold", 100);
  }
}

Verdict judge_hold_tut(const Outcome& o, const JudgeRules& r) {
  if (!o.result) return not_judged("no result");
  if (!o.active_start_s) return not_judged("the hold never began");
  const double T = stop_time(o);
  const double truth = o.hold.held_within(*o.active_start_s, T);
  const double err = std::fabs(o.result->tut_s - truth);
  // The controller judges a hold per window: it may credit up to one window
  // after the user stopped (the stop judge allows the same), so the
  // tolerance is 5 % or one window + one period, whichever is larger.
  if (err <= std::max({r.tut_fraction * truth, r.tut_abs_s,
                       r.hold_drop_windows * o.hold_window_s + o.period_s}))
    return {};
  return failing("hold TUT " + f2(o.result->tut_s) + " s, truly held (pushing) " + f2(truth) + " s",
                 10 + err);
}

Verdict judge_max_force(const Outcome& o, const JudgeRules& r) {
  // Two limits. The controller's command, which is the controller's own
  // doing, never exceeds the maximum load (1 N for float rounding). The true
  // force of the motor may exceed it by the supply's ripple on top of the
  // drive's clamp (the model's drive leaks the ripple's share of the bus
  // voltage into any torque, the clamped one too; no 100 Hz loop can act on a
  // 100 Hz ripple) and the judge's margin, never by more.
  const double cmd_limit = o.max_load_n + 1.0;
  for (const auto& s : o.samples) {
    if (s.enabled && s.cmd > cmd_limit)
      return failing("commanded motor force " + f1(s.cmd) + " N at " + f2(s.t) +
                         " s > the maximum load " + f1(o.max_load_n) + " N",
                     1000 + s.cmd - cmd_limit);
  }
  const double limit = o.max_load_n * (1 + o.ripple_fraction) + o.pad_weight_n + r.force_margin_n;
  double worst = -1e9, at = 0;
  for (const auto& s : o.samples) {
    const double f = s.motor + o.pad_weight_n;
    if (f > worst) worst = f, at = s.t;
  }
  if (worst <= limit) return {};
  return failing("machine force " + f1(worst) + " N at " + f2(at) + " s > " + f1(limit) + " N",
                 1000 + worst - limit);
}

Verdict judge_unload_never_rises(const Outcome& o, const JudgeRules& r) {
  if (!o.unload_start_s) return not_judged("no unload");
  // From the first write of an unloading command (one period after the
  // cycle that began the unload) until the drive is disabled.
  const double from = *o.unload_start_s + o.period_s;
  double min_up = 1e9, min_dn = 1e9, worst = 0, at = 0, base = 0;
  bool started = false;
  // The drive's speed cap is not the law. The pad's force follows the
  // drive's torque a step later, and the speed loop's integrator lets go over
  // some 20 ms (seed 490 of --seed 1): 30 ms after the cap are its too.
  constexpr float kCapSettleS = 0.030f;
  float cap_until = -1;
  for (const auto& s : o.samples) {
    if (s.t <= from) continue;
    // A new set (Start pressed again after a stop that never enabled the
    // drive, e.g. STO at the unload's start) is not this unload (campaign
    // seed 9248 judged the next set's calibration).
    using controller::SetState;
    if (s.state == SetState::Ready || s.state == SetState::Calibrating ||
        s.state == SetState::Active)
      break;
    if (!s.enabled) {
      if (started) break;
      continue;
    }
    started = true;
    if (s.speed_limited) cap_until = s.t + kCapSettleS;
    if (s.t <= cap_until) continue;
    const double f = s.motor;
    double* mn = s.v >= 0.05f ? &min_up : s.v <= -0.05f ? &min_dn : nullptr;
    if (!mn) continue;  // at rest: the screw's static band carries what the user pushes
    if (*mn < 1e9) {
      // Unloaded is the drive off: the pad's weight alone. A motor that lifted
      // (a load below the pad's weight) returning to 0 brings the user back
      // to that, not above it: only a rise above max(lowest so far, 0) counts.
      const double rise = f - std::max(*mn, 0.0);
      // The supply's ripple multiplies the torque by 1 ± r: a constant torque
      // spans 2·r·nominal, and the nominal is the lowest sample / (1 − r).
      const double rf = std::clamp(o.ripple_fraction, 0.0, 0.5);
      const double tol = r.unload_tol_n + 2.0 * rf / (1.0 - rf) * std::fabs(*mn);
      if (rise - tol > worst) worst = rise - tol, at = s.t, base = *mn;
    }
    *mn = std::min(*mn, f);
  }
  if (worst <= 0) return {};
  return failing("the machine's force rose during the unload: +" + f1(worst) +
                     " N beyond tolerance above " + f1(base) + " N at " + f2(at) + " s",
                 1000 + worst);
}

Verdict judge_pad_speed(const Outcome& o, const JudgeRules& r) {
  const double lim = o.speed_limit_mm_s * (1.0 + r.speed_margin);
  double worst = 0, at = 0;
  bool up = false;
  for (const auto& s : o.samples) {
    if (!s.enabled) continue;
    if (-s.v > lim && -s.v - lim > worst) worst = -s.v - lim, at = s.t, up = false;
    // Up: only where the machine's lift is what drives the pad (it lifts
    // more than the athlete pushes). A member who slams 3.3 kN up into a
    // pad the drive still lifts by 14 N for a ms (proving seed 7932 of
    // --seed 5001) is not the machine's drive; the drive then brakes.
    if (s.v > lim && s.motor < 0 && -s.motor > s.contact && s.v - lim > worst)
      worst = s.v - lim, at = s.t, up = true;
  }
  if (worst <= 0) return {};
  return failing(std::string("the pad ") + (up ? "rose under the machine's drive" : "descended") +
                     " at " + f1(lim + worst) + " mm/s at " + f2(at) + " s (limit " + f1(lim) + ")",
                 1000 + worst);
}

Verdict judge_end_of_range(const Outcome& o, double allow_mm, double push_n) {
  const double bottom = o.c.athlete.bottom_mm;
  double worst = 0, at = 0, force = 0;
  for (const auto& s : o.samples) {
    // A pad on its way up is not being pressed down: the motor's force then
    // brakes it (the drive's speed loop, or the load the user lifts).
    if (!s.enabled || s.away || s.motor <= push_n || s.v > 1.0) continue;
    const double below = bottom - s.heel;
    if (below > allow_mm && below > worst) worst = below, at = s.t, force = s.motor;
  }
  if (worst <= 0) return {};
  return failing("the motor pushed the heel " + f1(worst) + " mm below the athlete's bottom at " +
                     f2(at) + " s (motor " + f1(force) + " N down)",
                 1000 + worst);
}

Verdict judge_armed_while_enabled(const Outcome& o, const JudgeRules&) {
  // Every enable (the drive going from disabled to enabled) finds its setup
  // armed. A setup lost while enabled (soleus-sim's setup_lost: no gap, no
  // fault) can only be found by the read-back: the drive must then be
  // disabled within the read-back's period (1 s) + 200 ms + two cycles.
  const double lost_limit_s = 1.0 + 0.2 + 2 * o.period_s;
  bool prev_enabled = false;
  double bad_since = -1;
  for (const auto& s : o.samples) {
    std::string what;
    if (!(s.watchdog_ms > 0)) what = "its watchdog off (COMM_TIMEOUT 0)";
    else if (s.torque_limit_pct > o.armed_torque_limit_pct + 0.2)
      what = "TORQUE_LIMIT " + f1(s.torque_limit_pct) + " % > the armed " +
             f1(o.armed_torque_limit_pct) + " %";
    else if (s.speed_limit_rpm > o.armed_speed_limit_rpm + 1.0)
      what = "SPEED_LIMIT " + f1(s.speed_limit_rpm) + " rpm > the armed " +
             f1(o.armed_speed_limit_rpm) + " rpm";
    if (s.enabled && !what.empty()) {
      if (!prev_enabled)
        return failing("the drive was enabled at " + f2(s.t) + " s with " + what, 2000);
      if (bad_since < 0) bad_since = s.t;
      if (s.t - bad_since > lost_limit_s)
        return failing("the drive stayed enabled " + f2(s.t - bad_since) + " s with " + what +
                           " (since " + f2(bad_since) + " s)",
                       2000);
    } else {
      bad_since = -1;
    }
    prev_enabled = s.enabled;
  }
  return {};
}

double Judgement::badness() const {
  double b = 0;
  for (const Verdict* v : {&counts, &partial, &stop, &false_left, &tut, &force, &unload, &speed,
                           &armed, &end_of_range, &stored_light, &stored})
    if (!v->ok) b += v->badness;
  return b;
}

std::string Judgement::why() const {
  std::string s;
  auto add = [&](const char* k, const Verdict& v) {
    if (!v.ok)
      s += std::string(k) + ": " + v.why + (v.why.empty() || v.why.back() == ' ' ? "" : " ") + "| ";
  };
  add("UNSAFE force", force);
  add("UNSAFE unload", unload);
  add("UNSAFE speed", speed);
  add("UNSAFE armed", armed);
  add("UNSAFE end of range", end_of_range);
  add("UNSAFE stored range", stored_light);
  add("stored range", stored);
  add("false user_left", false_left);
  add("counted partial", partial);
  add("stop", stop);
  add("counts", counts);
  add("tut", tut);
  return s;
}

Judgement judge(const Outcome& o, const JudgeRules& r) {
  Judgement j;
  j.counts = judge_counts(o, r);
  j.partial = judge_no_counted_partial(o, r);
  j.stop = judge_stop(o, r);
  j.false_left = judge_false_user_left(o, r);
  j.tut = judge_tut(o, r);
  j.force = judge_max_force(o, r);
  j.unload = judge_unload_never_rises(o, r);
  j.speed = judge_pad_speed(o, r);
  j.armed = judge_armed_while_enabled(o, r);
  j.end_of_range = judge_end_of_range(o);
  JudgeRules light = r;
  light.stored_margin_mm = -1;  // the light-load part only
  j.stored_light = judge_stored_range(o, light);
  j.stored = judge_stored_range(o, r);
  return j;
}

Verdict judge_stored_range(const Outcome& o, const JudgeRules& r) {
  const auto& p = o.c.programme;
  if (!p.range || p.mode == Mode::Isometric) return {};
  for (const auto& s : o.samples) {
    if (!s.enabled || (s.state != SetState::Ready && s.state != SetState::Calibrating)) continue;
    if (s.cmd > r.light_motor_n)
      return failing("the controller asked " + std::to_string(static_cast<int>(s.cmd)) +
                         " N before the stored range was confirmed (light: " +
                         std::to_string(static_cast<int>(r.light_motor_n)) + " N)",
                     1000);
  }
  if (r.stored_margin_mm < 0) return {};
  if (!o.result || o.result->range_note != controller::RangeNote::Confirmed) return {};
  const sim::RepTruth* first = nullptr;
  for (const auto& t : o.truth)
    if (in_set(o, t)) {
      first = &t;
      break;
    }
  if (!first) return failing("confirmed a stored range, but the truth has no first rep", 100);
  const double tol = (1.0 - o.rep_rom_fraction) * p.range->span() + r.stored_margin_mm;
  const double db = first->low_mm - p.range->bottom_mm, dt = first->high_mm - p.range->top_mm;
  if (std::abs(db) <= tol && std::abs(dt) <= tol) return {};
  return failing("confirmed a stored range the first rep did not cover (bottom off by " +
                     std::to_string(db) + " mm, top by " + std::to_string(dt) + " mm)",
                 100);
}

}  // namespace soleus::proving
