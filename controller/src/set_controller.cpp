#include "soleus/controller/set_controller.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace soleus::controller {

std::optional<FieldError> validate(const SetParams& p, const TrainingConfig& training,
                                   const machine::Limits& limits,
                                   const machine::Mechanics& mechanics) {
  auto err = [](const char* field, const std::string& msg) {
    return std::optional<FieldError>(FieldError{field, msg});
  };
  double max_load = std::min(limits.max_load_n, machine::kHardCapN);
  if (!std::isfinite(p.load_n) || p.load_n < training.min_load_n || p.load_n > max_load) {
    std::ostringstream os;
    os << "must be within " << training.min_load_n << ".." << max_load << " N";
    return err("load_n", os.str());
  }
  const double ph[4] = {p.tempo.eccentric_s, p.tempo.bottom_s, p.tempo.concentric_s, p.tempo.top_s};
  for (double d : ph)
    if (!std::isfinite(d) || d < 0 || d > 60)
      return err("tempo", "each phase must be within 0..60 s");
  if (p.mode == Mode::Isometric) {
    if (p.target_reps != 0) return err("target_reps", "not allowed in isometric mode; give hold_s");
    if (!std::isfinite(p.hold_s) || p.hold_s <= 0 || p.hold_s > 600)
      return err("hold_s", "must be within 0..600 s (exclusive of 0) in isometric mode");
  } else {
    if (p.hold_s != 0) return err("hold_s", "only allowed in isometric mode");
    if (p.target_reps < 1 || p.target_reps > 100)
      return err("target_reps", "must be within 1..100");
    if (p.tempo.cycle_s() <= 0) return err("tempo", "must not be all zero for a dynamic set");
  }
  if (!std::isfinite(p.force_drop_pct) || p.force_drop_pct < 5 || p.force_drop_pct > 50)
    return err("force_drop_pct", "must be within 5..50 %");
  if (!std::isfinite(p.eccentric_pct) || p.eccentric_pct < 0 || p.eccentric_pct > 100)
    return err("eccentric_pct", "must be within 0..100 %");
  if (p.mode == Mode::Eccentric && p.load_n * (1 + p.eccentric_pct / 100.0) > max_load) {
    std::ostringstream os;
    os << "load_n × (1 + eccentric_pct/100) = " << p.load_n * (1 + p.eccentric_pct / 100.0)
       << " N exceeds the maximum load " << max_load << " N";
    return err("eccentric_pct", os.str());
  }
  // A stored range (p.range) is not refused here: one that cannot be used
  // (outside the soft limits, too small, too old) is ignored by start_set,
  // which calibrates and says why.
  if (!std::isfinite(p.range_age_days)) return err("range_age_days", "must be a number");
  if (p.hold_height_mm) {
    double h = *p.hold_height_mm;
    if (!std::isfinite(h) || h < 0 || h > mechanics.travel_max_mm)
      return err("hold_height_mm", "must lie within the travel");
  }
  return std::nullopt;
}

SetController::SetController(const ControlConfig& control, const TrainingConfig& training,
                             const machine::Mechanics& mechanics, const machine::Limits& limits,
                             EventSink& sink)
    : ccfg_(control),
      tcfg_(training),
      mech_(mechanics),
      limits_(limits),
      sink_(sink),
      sup_(control),
      clamp_(limits, training.floor_fade_mm, control.soft_travel_margin_mm),
      law_(training, mechanics, control.ramp_in_s),
      rom_(training, control.still_mm_s),
      reps_(training, control.still_mm_s),
      fatigue_(training) {
  // A velocity gain acts on the moving mass with (at least) one period of delay:
  // gain × period / mass must stay well below 1 or the loop oscillates.
  const double k = control.period_s() / std::max(mechanics.moving_mass_kg, 1.0) * 1000.0;
  if (training.brake_gain_n_per_mm_s * k > 0.5)
    throw std::invalid_argument(
        "training.brake_gain_n_per_mm_s: too high for loop_hz and moving_mass_kg "
        "(gain × period / mass must be ≤ 0.5)");
  if (training.hold_damping_n_per_mm_s * k > 0.5)
    throw std::invalid_argument(
        "training.hold_damping_n_per_mm_s: too high for loop_hz and moving_mass_kg "
        "(gain × period / mass must be ≤ 0.5)");
  // The floor's fade is damped by a lead of its height by the velocity.
  clamp_.set_floor_damping(training.floor_lead_s, training.floor_fade_mm);
  clamp_.set_floor_restore(training.floor_restore_s);
  speed_nominal_mm_s_ = limits.max_speed_mm_s;
  status_.state = SetState::Fault;
}

double SetController::set_speed_limit(double span_mm, const Tempo& tempo,
                                      const TrainingConfig& tcfg, const machine::Limits& limits) {
  const double cap = limits.max_speed_mm_s;
  const double fastest = std::min(tempo.concentric_s, tempo.eccentric_s);
  if (!(fastest > 0) || !(span_mm > 0) || !std::isfinite(span_mm)) return cap;
  const double v = span_mm / fastest * (1.0 + tcfg.set_speed_margin);
  return std::clamp(v, std::min(tcfg.set_speed_min_mm_s, cap), cap);
}

void SetController::emit(EventCode code, Severity sev, double t, std::string_view text,
                         double value) {
  Event e;
  e.t_s = t;
  e.severity = sev;
  e.code = code;
  e.set_id = status_.set_id;
  e.value = value;
  e.set_text(text);
  sink_.on_event(e);
}

void SetController::set_armed(bool armed) { sup_.set_armed(armed); }

bool SetController::idle_like() const {
  return state_ == SetState::Idle || state_ == SetState::Rest;
}

SetState SetController::resting_state() const {
  if (sup_.ok()) return state_;
  std::uint32_t all = sup_.latched() | sup_.present();
  return (all & bit(Fault::Sto)) ? SetState::Estop : SetState::Fault;
}

std::optional<FieldError> SetController::start_set(const SetParams& params, double t) {
  // value 1: "not now" (the machine's state; the same programme may start
  // later); value 0 below: the programme itself is refused.
  auto refuse = [&](const char* field, const char* msg) {
    emit(EventCode::SetRefused, Severity::Warning, t, msg, 1);
    return std::optional<FieldError>(FieldError{field, msg});
  };
  if (!sup_.ok()) return refuse("state", "a fault or e-stop is latched; reset first");
  if (sup_.present() & (bit(Fault::StaleCell) | bit(Fault::CommLoss)))
    return refuse("state", "the load cell is silent or stale; wait for it, or call maintenance");
  bool holding = state_ == SetState::Ready && activity_ == Activity::Move && !move_auto_;
  if (!idle_like() && !holding) return refuse("state", "a set or move is in progress");
  if (auto e = validate(params, tcfg_, limits_, mech_)) {
    emit(EventCode::SetRefused, Severity::Warning, t, e->field + ": " + e->message);
    return e;
  }
  params_ = params;
  activity_ = Activity::Set;
  state_ = SetState::Ready;
  ramp_ = 0;
  settle_since_ = -1;
  set_start_t_ = t;
  calibration_tries_ = 0;
  range_calibrated_ = false;
  tissue_mm_per_n_ = -1;
  tissue_still_since_ = -1;
  tissue_rise_max_ = -1e9;
  tissue_offset_mm_ = 0;
  hold_elapsed_ = window_sum_ = window_t_ = 0;
  window_n_ = 0;
  hold_rest_n_ = hold_push_since_ = hold_fall_since_ = -1;
  hold_held_mm_ = -1e9;
  hold_pushed_ = false;
  hold_peak_filt_n_ = hold_peak_n_ = 0;
  hold_beyond_ = false;
  moving_ = false;
  failed_since_ = -1;
  failed_rep_ = false;
  // The set's SPEED_LIMIT, armed before its first enable: the travel's (the
  // calibration rep, or the confirmation of a stored range, then narrows it). An
  // isometric hold has no moving phases: the machine's cap (the fall of a
  // let-go pad is how presence finds it).
  // A stored range is only confirmed by the light first rep, which runs as a
  // calibration rep: with the travel's.
  speed_nominal_mm_s_ =
      params.mode == Mode::Isometric
          ? limits_.max_speed_mm_s
          : set_speed_limit(mech_.travel_max_mm - 2.0 * ccfg_.soft_travel_margin_mm, params.tempo,
                            tcfg_, limits_);
  law_.begin(params, drive_.position_mm);
  fatigue_.begin(params);
  status_ = ControllerStatus{};
  status_.set_id = params.set_id;
  status_.mode = params.mode;
  status_.set_running = true;
  std::ostringstream os;
  os << to_string(params.mode) << " " << params.load_n << " N, tempo " << params.tempo.to_string();
  if (params.mode == Mode::Isometric) os << ", hold " << params.hold_s << " s";
  else os << ", " << params.target_reps << " reps";
  emit(EventCode::SetStarted, Severity::Info, t, os.str(), params.load_n);
  plan_range(params, t);
  return std::nullopt;
}

bool SetController::within_soft_limits(const Range& r) const {
  const double lo = ccfg_.soft_travel_margin_mm;
  const double hi = mech_.travel_max_mm - ccfg_.soft_travel_margin_mm;
  return std::isfinite(r.bottom_mm) && std::isfinite(r.top_mm) && r.bottom_mm >= lo &&
         r.top_mm <= hi && r.span() >= tcfg_.min_range_mm;
}

// Principle of operation 4a: whether the stored range is tried, and why not.
void SetController::plan_range(const SetParams& params, double t) {
  stored_.reset();
  held_reps_.clear();
  light_before_t_ = -1e9;
  status_.range_age_days = params.range ? params.range_age_days : -1;
  std::ostringstream os;
  os.precision(4);
  RangeNote note = RangeNote::NoStoredRange;
  if (!params.range) {
    os << "calibrating: no stored range";
  } else if (!within_soft_limits(*params.range)) {
    note = RangeNote::OutsideLimits;
    os << "calibrating: the stored range " << params.range->bottom_mm << ".."
       << params.range->top_mm << " mm is outside the soft limits";
  } else if (!(params.range_age_days <= tcfg_.stored_range_max_age_days)) {
    note = RangeNote::Stale;
    os << "calibrating: your stored range is " << std::floor(params.range_age_days)
       << " days old (limit " << tcfg_.stored_range_max_age_days << ")";
  } else {
    note = RangeNote::Checking;
    os << "stored range " << params.range->bottom_mm << ".." << params.range->top_mm
       << " mm: the light first rep checks it";
  }
  if (params.mode == Mode::Isometric) {
    // No rep to check it with: an isometric hold uses a usable stored range
    // as it is (its floor only ever lightens), and says nothing otherwise.
    status_.range_note = RangeNote::None;
    if (note == RangeNote::Checking) {
      status_.range_known = true;
      status_.range = *params.range;
      status_.floor_mm = params.range->bottom_mm;
    }
    return;
  }
  status_.range_note = note;
  if (note == RangeNote::Checking) {
    // Counted against it from the start: a member may begin the rep during
    // the ramp-in (RangeOfMotion finds the range from the return's low, but
    // a rep counts from where its rise began).
    stored_ = *params.range;
    reps_.begin(*stored_, params.tempo, t, drive_.position_mm, drive_.position_mm, t);
  }
  emit(EventCode::StoredRange, Severity::Info, t, os.str(),
       params.range ? std::floor(params.range_age_days) : -1.0);
}

// Principle of operation 4a: the light first rep has found `found`; it
// confirms the stored range, or the set calibrates from it.
void SetController::check_stored_range(double t, double pos, const Range& found) {
  const Range st = *stored_;
  stored_.reset();
  const double tol = (1.0 - tcfg_.rep_rom_fraction) * st.span();
  const bool same =
      std::abs(found.bottom_mm - st.bottom_mm) <= tol && std::abs(found.top_mm - st.top_mm) <= tol;
  std::ostringstream os;
  os.precision(4);
  if (same && reps_.counted() >= 1) {
    // From here on the set runs as after a calibration: the reps, the floor
    // (hazard 10) and the speed limit go by the range this light rep found
    // (within the tolerance of the stored one); the stored range only let
    // this first rep count.
    status_.range_note = RangeNote::Confirmed;
    status_.range = found;
    status_.range_known = true;
    law_.set_range(found);
    reps_.set_range(found);
    // The light rep is the one that counted; a rise begun since (the load
    // ramping in) is the first loaded rep, as after a calibration.
    double light_start = -1e9;
    for (const RepRecord& r : held_reps_)
      if (r.counted) light_start = std::max(light_start, r.t_start_s);
    if (reps_.open_counted()) light_start = std::max(light_start, reps_.attempt_start_s());
    light_before_t_ = light_start + 1e-6;
    for (RepRecord r : held_reps_) {
      r.set_id = params_.set_id;
      sink_.on_rep(r);
    }
    held_reps_.clear();
    status_.reps = reps_.counted();
    status_.partial_reps = reps_.partials();
    status_.tut_s = reps_.tut_s();
    os << "stored range confirmed by the first rep (" << found.bottom_mm << ".." << found.top_mm
       << " mm): it counts";
    emit(EventCode::StoredRange, Severity::Info, t, os.str(), status_.range_age_days);
    enter_active(t, pos);
    if (reps_.counted() >= params_.target_reps) {
      if (reps_.flush(t)) {
        RepRecord r = reps_.last();
        r.set_id = params_.set_id;
        sink_.on_rep(r);
        status_.reps = reps_.counted();
        status_.tut_s = reps_.tut_s();
      }
      stop(StopReason::TargetReached, t);
    }
    return;
  }
  held_reps_.clear();
  status_.range_note = RangeNote::NotConfirmed;
  os << "the first rep did not confirm your stored range (" << st.bottom_mm << ".." << st.top_mm
     << " mm): calibrated from it";
  emit(EventCode::StoredRange, Severity::Info, t, os.str(), status_.range_age_days);
}

bool SetController::stop(StopReason reason, double t, std::string_view detail) {
  bool running =
      activity_ != Activity::None &&
      (state_ == SetState::Ready || state_ == SetState::Calibrating || state_ == SetState::Active);
  if (!running) return state_ == SetState::Unloading;
  if (activity_ == Activity::Set && status_.stop_reason == StopReason::None) {
    status_.stop_reason = reason;
    // A rep whose return was completed by the pad falling after the user let
    // go (counted within the let-go time + 0.3 s before user_left, while
    // falling at nearly the drive's speed limit) is not a rep: it is logged
    // as partial.
    if (reason == StopReason::UserLeft && status_.state == SetState::Active &&
        reps_.open_counted() && t - reps_.counted_at_s() < ccfg_.let_go_ms / 1000.0 + 0.3 &&
        reps_.counted_at_velocity() < -0.8 * speed_limit_mm_s()) {
      reps_.revoke_open_count();
      status_.reps = reps_.counted();
    }
    // After the target the next rise is not part of the set; otherwise the open attempt is logged.
    if (reason != StopReason::TargetReached) flush_rep(t);
    emit(EventCode::SetEnded,
         reason == StopReason::UserStop || reason == StopReason::Pain || is_immediate(reason)
             ? Severity::Warning
             : Severity::Info,
         t,
         detail.empty() ? std::string(to_string(reason))
                        : std::string(to_string(reason)) + ": " + std::string(detail),
         status_.reps);
  }
  if (reason == StopReason::UserStop || reason == StopReason::Pain)
    emit(EventCode::StopRequested, Severity::Info, t, to_string(reason));
  // Nothing to unload when the drive was never enabled (a start that waited
  // for the pad to settle): finish at once, never enable to unload.
  if (is_immediate(reason) || (!drive_.enabled && !last_cmd_.enable)) {
    ramp_ = 0;
    clamp_.reset(0);
    finish(t);
  } else {
    begin_unload(t);
  }
  return true;
}

void SetController::begin_unload(double t) {
  (void)t;
  // The unload starts from the force applied now: the drive's actual force
  // when it lags a higher command (its TORQUE_SLEW), so that it never goes on
  // rising towards a command written before the stop.
  if (state_ != SetState::Unloading) {
    // The commands go on with the friction assumption of the last one written
    // (see hold_unload(), step 5). The drive's actual force is reported with the
    // friction of its direction of motion (the driver converts its torque with
    // "user driving up" while the velocity is > 0); in the commands' terms the
    // same torque is that force × η² (reported up, commanded down) or ÷ η²
    // (reported down, commanded up).
    unload_up_ = last_cmd_.back_driven;
    double applied = drive_.enabled ? drive_.force_n : 0.0;
    const bool reported_up = drive_.velocity_mm_s > 0.0;
    const double eta2 = mech_.efficiency * mech_.efficiency;
    if (reported_up && !unload_up_) applied *= eta2;
    if (!reported_up && unload_up_) applied /= eta2;
    unload_prev_ = unload_prev_ >= 0 ? std::clamp(applied, 0.0, unload_prev_)
                                     : std::clamp(applied, unload_prev_, 0.0);
    clamp_.reset(unload_prev_);
  }
  if (activity_ == Activity::Move && !move_auto_) ramp_ = std::min(ramp_, 1.0);
  state_ = SetState::Unloading;
  status_.state = SetState::Unloading;
  settle_since_ = -1;
  moving_ = false;
}

void SetController::flush_rep(double t) {
  if (activity_ != Activity::Set || status_.state != SetState::Active ||
      params_.mode == Mode::Isometric)
    return;
  if (reps_.flush(t)) {
    RepRecord r = reps_.last();
    r.set_id = params_.set_id;
    sink_.on_rep(r);
    status_.partial_reps = reps_.partials();
    status_.reps = reps_.counted();
    status_.tut_s = reps_.tut_s();
  }
}

void SetController::finish(double t) {
  if (activity_ == Activity::Set) {
    SetResult r;
    r.set_id = params_.set_id;
    r.mode = params_.mode;
    r.reason = status_.stop_reason;
    r.reps = status_.reps;
    r.partial_reps = status_.partial_reps;
    r.tut_s = status_.tut_s;
    r.t_start_s = set_start_t_;
    r.t_end_s = t;
    r.best_output = fatigue_.best();
    r.last_output = fatigue_.last();
    r.range = status_.range;
    r.range_calibrated = range_calibrated_;
    r.range_note = status_.range_note;
    r.range_age_days = status_.range_age_days;
    // A good calibration (docs/controller.md, "The member's stored range").
    const StopReason why = status_.stop_reason;
    const bool bad_end = why == StopReason::Pain || why == StopReason::LossOfControl ||
                         why == StopReason::Estop || why == StopReason::DriveFault ||
                         why == StopReason::CommLoss || why == StopReason::SensorFault ||
                         why == StopReason::Overspeed || why == StopReason::TravelLimit;
    r.range_save = range_calibrated_ && within_soft_limits(status_.range) && !bad_end;
    if (params_.mode == Mode::Isometric) {
      r.hold_mm = hold_mm_;
      r.peak_force_n = hold_peak_n_;
      r.beyond_range = hold_beyond_;
    }
    sink_.on_set_result(r);
    emit(EventCode::Unloaded, Severity::Info, t, "unloaded; drive disabled");
    state_ = SetState::Rest;
  } else {
    if (activity_ == Activity::Move)
      emit(EventCode::MoveEnded, Severity::Info, t, "move ended; drive disabled");
    state_ = SetState::Idle;
  }
  activity_ = Activity::None;
  status_.set_running = false;
  moving_ = false;
  ramp_ = 0;
  failed_rep_ = false;
  speed_nominal_mm_s_ = limits_.max_speed_mm_s;
}

void SetController::reset_faults(double t) { sup_.request_reset(t); }

bool SetController::hold_to_move(double target_mm, double t) {
  bool holding = state_ == SetState::Ready && activity_ == Activity::Move;
  if (!sup_.ok() || !(idle_like() || holding) || !std::isfinite(target_mm)) {
    emit(EventCode::CommandRefused, Severity::Warning, t,
         "hold-to-move refused: not idle or not ready");
    return false;
  }
  double lo = ccfg_.soft_travel_margin_mm + 1.0;
  double hi = mech_.travel_max_mm - ccfg_.soft_travel_margin_mm - 1.0;
  move_target_ = std::clamp(target_mm, lo, hi);
  move_deadline_ = t + ccfg_.hold_to_move_timeout_ms / 1000.0;
  move_auto_ = false;
  if (!holding || !moving_)
    emit(EventCode::MoveStarted, Severity::Info, t, "hold-to-move", move_target_);
  if (!holding) {
    activity_ = Activity::Move;
    state_ = SetState::Ready;
    ramp_ = 0;
    status_.set_running = false;
  }
  moving_ = true;
  return true;
}

bool SetController::return_to_rest(double t) {
  bool holding = state_ == SetState::Ready && activity_ == Activity::Move;
  if (!sup_.ok() || !(idle_like() || holding)) {
    emit(EventCode::CommandRefused, Severity::Warning, t, "return-to-rest refused: not idle");
    return false;
  }
  if (!holding) ramp_ = 0;
  activity_ = Activity::Move;
  state_ = SetState::Ready;
  move_target_ = ccfg_.rest_position_mm;
  move_auto_ = true;
  moving_ = true;
  rest_still_since_ = -1;
  status_.set_running = false;
  emit(EventCode::MoveStarted, Severity::Info, t, "return to rest", move_target_);
  return true;
}

double SetController::recent_force_drop(double t, double window_s) const {
  // Oldest first: the ring's next slot holds the oldest entry.
  double peak = 0, drop = 0;
  for (std::size_t i = 0; i < recent_force_.size(); ++i) {
    const auto& r = recent_force_[(recent_next_ + i) % recent_force_.size()];
    if (!(t - r.t <= window_s + 1e-9)) continue;
    peak = std::max(peak, r.force_n);
    if (peak > 0) drop = std::max(drop, (peak - r.force_n) / peak);
  }
  return drop;
}

double SetController::floor_allowance(double /*load_n*/) const {
  // Less the fade: a top that was short for another reason than tissue (the
  // user stopped early) lowers the floor by that much less; the load then
  // fades over the last few mm above the bone's light-load bottom.
  return std::clamp(tissue_offset_mm_ - tcfg_.floor_fade_mm, 0.0, tcfg_.tissue_max_mm);
}

void SetController::measure_tissue(double t, double pos, double vel) {
  // The thighs compress between the pad and the bone at any height; the
  // ankle gives only at the bottom. So the compression is read at the top of
  // the first loaded rep: its height below the light-load top, per N more
  // load, is this user's tissue compliance (bounded by the config, and only
  // when the top is within what tissue could explain, so a rep that stuck
  // part way says nothing). From then on the pad's height plus that
  // compression at the set's load is the bone's height for the rep counter,
  // and the floor sinks by as much: the heel's own light-load bottom, at
  // any load. Until then both stay as found at the light load.
  (void)t;
  if (tissue_mm_per_n_ >= 0 || !status_.range_known) return;
  const double dF = params_.load_n - tcfg_.calibration_load_n;
  if (dF < 100.0) {
    tissue_mm_per_n_ = 0;
    return;
  }
  if (!reps_.attempt_open()) return;
  if (reps_.attempt_start_s() < light_before_t_) return;  // the confirming rep: light
  tissue_rise_max_ = std::max(tissue_rise_max_, pos);
  const bool turned = vel < -ccfg_.still_mm_s;
  const bool paused = std::abs(vel) < ccfg_.still_mm_s;
  if (paused && tissue_still_since_ < 0) tissue_still_since_ = t;
  if (!paused) tissue_still_since_ = -1;
  if (!turned && !(tissue_still_since_ >= 0 && t - tissue_still_since_ >= 0.3)) return;
  const double c_max = tcfg_.tissue_max_mm_per_kn / 1000.0;
  const double short_mm = status_.range.top_mm - tissue_rise_max_;
  if (short_mm > std::min(c_max * dF, tcfg_.tissue_max_mm) + 2.0) {
    if (turned) tissue_rise_max_ = -1e9;  // stuck part way: try the next rep
    return;
  }
  tissue_mm_per_n_ = std::clamp(short_mm / dF, 0.0, c_max);
  tissue_offset_mm_ = std::min(tissue_mm_per_n_ * dF, tcfg_.tissue_max_mm);
}

void SetController::enter_active(double t, double pos) {
  state_ = SetState::Active;
  if (params_.mode != Mode::Isometric && status_.range_known)
    speed_nominal_mm_s_ = set_speed_limit(status_.range.span(), params_.tempo, tcfg_, limits_);
  if (params_.mode == Mode::Isometric) {
    hold_mm_ = params_.hold_height_mm.value_or(pos);
    law_.set_hold_height(hold_mm_);
    status_.phase = Phase::Hold;
    status_.cue_phase = Phase::Hold;
    return;
  }
  cue_.begin(params_.tempo, t);
}

// The cycle (principle of operation in the header; docs/controller.md, "The
// cycle"). The steps run in this order every cycle, whatever the state; only
// step 2 depends on it.
machine::DriveCommand SetController::update(const machine::MachineInputs& in) {
  const Cycle c = read_inputs(in);                // 0. the inputs, last good values
  const SupervisorReport rep = supervise(in, c);  // 1. the supervisor judges first
  CycleOutput o;
  o.floor = set_floor();
  switch (state_) {  // 2. the state's step
    case SetState::Idle:
    case SetState::Rest:
    case SetState::Fault:
    case SetState::Estop: break;  // disabled: nothing is asked of the drive
    case SetState::Ready: update_ready(c, o); break;
    case SetState::Calibrating: update_calibrating(c, o); break;
    case SetState::Active: update_active(c, o); break;
    case SetState::Unloading: update_unloading(c, o); break;
  }
  gate_enable(rep, o);                                     // 3. the latch and torque-off faults
  final_clamp(c, o);                                       // 4. the final clamp
  floor_catch(c, o);                                       // 4b. the floor catch (hazard 10)
  hold_unload(o);                                          // 5. an unload never raises the force
  const machine::DriveCommand cmd = make_command(rep, o);  // 6. the command, QUICK_STOP
  publish_status(o);                                       // 7. the status
  return cmd;
}

// 0. The cycle's time step and inputs. A failed read is replaced by the last
// good value; the cell's good readings feed the floor catch's ring.
SetController::Cycle SetController::read_inputs(const machine::MachineInputs& in) {
  Cycle c;
  c.t = in.t_s;
  c.dt = first_ ? ccfg_.period_s() : std::clamp(c.t - last_t_, 0.0, 0.25);
  first_ = false;
  last_t_ = c.t;
  if (in.drive_ok) drive_ = in.drive;
  if (in.cell_ok) cell_ = in.cell;
  c.pos = drive_.position_mm;
  c.vel = drive_.velocity_mm_s;
  c.force = cell_.force_n;
  if (in.cell_ok) {
    recent_force_[recent_next_] = {c.t, c.force};
    recent_next_ = (recent_next_ + 1) % recent_force_.size();
  }
  c.drive_enabled = drive_.enabled;
  return c;
}

// 1. The supervisor judges first: its events, a trip or the user leaving stop
// the set; STO, a drive fault or a QUICK_STOP fault end an unload at once.
SupervisorReport SetController::supervise(const machine::MachineInputs& in, const Cycle& c) {
  const double t = c.t;
  SupervisorContext ctx;
  ctx.enable_commanded = last_cmd_.enable && !last_cmd_.quick_stop;
  // Presence is judged whenever a set expects the user on the pad: from the
  // drive's enable (ramp-in, the light first rep) to the stop.
  ctx.loaded =
      activity_ == Activity::Set && drive_.enabled &&
      (state_ == SetState::Ready || state_ == SetState::Calibrating || state_ == SetState::Active);
  ctx.moving_mass_kg = mech_.moving_mass_kg;
  ctx.efficiency = mech_.efficiency;
  ctx.commanded_force_n = last_cmd_.enable ? last_cmd_.force_n : 0.0;
  ctx.bottom_mm = status_.range_known ? status_.range.bottom_mm : -1.0;
  ctx.pad_weight_n = mech_.pad_weight_n;
  ctx.travel_max_mm = mech_.travel_max_mm;
  ctx.max_load_n = limits_.max_load_n;
  ctx.at_rest = !last_cmd_.enable && !drive_.enabled && !moving_ &&
                (state_ == SetState::Idle || state_ == SetState::Rest ||
                 state_ == SetState::Fault || state_ == SetState::Estop);
  SupervisorReport rep = sup_.update(in, ctx);
  for (int i = 0; i < sup_.event_count(); ++i) {
    const auto& e = sup_.events()[i];
    emit(e.code, e.severity, t, e.text, e.value);
  }
  if (rep.trip != StopReason::None) stop(rep.trip, t);
  if (rep.user_left) {
    emit(EventCode::UserLeft, Severity::Warning, t,
         rep.left_on_stop ? "nobody under the pad: it rests on its lower stop"
                          : "nobody holds the pad: it moves as if nothing touched it");
    stop(StopReason::UserLeft, t);
  }
  // STO or a drive fault (category 0), or a fault that takes QUICK_STOP: no
  // controlled unload, the torque goes now (docs/safety.md, stop categories).
  if ((rep.remove_torque_now || rep.quick_stop) && state_ == SetState::Unloading) {
    ramp_ = 0;
    clamp_.reset(0);
    finish(t);
  }
  return rep;
}

// The clamp's floor for this cycle (-1: none), judged in the state after step 1.
double SetController::set_floor() const {
  double floor = status_.range_known ? status_.range.bottom_mm : -1.0;
  // Under the set's load the thighs compress more than at the light load the
  // bottom was found with: the floor sinks by what the user's own rests show.
  if (status_.range_known && params_.mode != Mode::Isometric &&
      (state_ == SetState::Active || state_ == SetState::Unloading))
    floor -= floor_allowance(params_.load_n);
  return floor;
}

// 2. Ready: a set's enable and ramp-in (then Calibrating or Active), or a move.
void SetController::update_ready(const Cycle& c, CycleOutput& o) {
  const double t = c.t, dt = c.dt, pos = c.pos, vel = c.vel, force = c.force;
  o.enable = true;
  if (activity_ == Activity::Move) {
    update_move(c, o);
    return;
  }
  // The drive is not enabled on a pad moving faster than its speed loop
  // can hold within the limit (a pad still falling after a fault stop:
  // the fault campaign saw 150-240 mm/s): the start waits for it to
  // settle, at most kSettleWaitS.
  if (!c.drive_enabled && std::abs(vel) > kStartSpeedFraction * speed_limit_mm_s()) {
    o.enable = false;
    if (t - set_start_t_ > kSettleWaitS)
      stop(StopReason::Stall, t, "the pad did not settle after Start");
    return;
  }
  if (c.drive_enabled) ramp_ = std::min(1.0, ramp_ + dt / ccfg_.ramp_in_s);
  // A stored range on trial: the rep is counted against it from the ramp-in.
  if (stored_ && reps_.update(t, pos, vel, force)) held_reps_.push_back(reps_.last());
  if (ramp_ >= 1.0) {
    if (params_.mode == Mode::Isometric) {
      if (status_.range_known) law_.set_range(status_.range);
      enter_active(t, pos);
    } else {
      // The light first rep: a calibration rep, also counted against a
      // stored range on trial (principle of operation 4a).
      state_ = SetState::Calibrating;
      rom_.begin(t, pos);
      calib_motion_t_ = t;
    }
  }
  {
    bool light = params_.mode != Mode::Isometric;  // calibration comes next
    o.law = law_.update({dt, pos, vel, force, Phase::None, light, ramp_});
  }
  o.motor = o.law.motor_n;
}

// 2. Ready with a move: hold-to-move (held while refreshed) or return-to-rest.
void SetController::update_move(const Cycle& c, CycleOutput& o) {
  const double t = c.t, pos = c.pos, vel = c.vel;
  if (c.drive_enabled) ramp_ = 1;
  if (!move_auto_ && moving_ && t > move_deadline_) {  // the control was released
    moving_ = false;
    move_target_ = pos;
    emit(EventCode::MoveEnded, Severity::Info, t, "hold-to-move released; holding", pos);
  }
  o.motor = ramp_ *
            law_.move_force(move_target_, pos, vel, ccfg_.move_speed_mm_s, ccfg_.move_max_force_n);
  if (move_auto_) {
    // At rest when at the rest position and still. A move never pushes
    // down, so a pad that stays still above it (friction, an obstruction)
    // has gone as low as it will: after a second, that is rest too.
    const bool still = std::abs(vel) < ccfg_.still_mm_s;
    const bool there = pos <= move_target_ + 1.0 && still;
    if (still && rest_still_since_ < 0) rest_still_since_ = t;
    if (!still) rest_still_since_ = -1;
    const double held_s = rest_still_since_ < 0 ? 0 : t - rest_still_since_;
    if ((there && held_s > 0.3) || held_s > 1.0) begin_unload(t);
  }
  o.floor = -1;
}

// 2. Calibrating: the light first rep finds the range (or ends the set).
void SetController::update_calibrating(const Cycle& c, CycleOutput& o) {
  const double t = c.t, dt = c.dt, pos = c.pos, vel = c.vel, force = c.force;
  o.enable = true;
  auto s = rom_.update(t, pos, vel);
  if (stored_) {
    // The stored range on trial: the rep is counted against it too; its
    // records wait for the verdict.
    if (reps_.update(t, pos, vel, force)) held_reps_.push_back(reps_.last());
  }
  if (s == RangeOfMotion::Status::Done && stored_) {
    check_stored_range(t, pos, rom_.range());
    if (state_ != SetState::Calibrating) {  // confirmed: Active (or the target was 1 rep)
      o.law = law_.update({dt, pos, vel, force, Phase::None, true, ramp_});
      o.motor = o.law.motor_n;
      return;
    }
  }
  if (s == RangeOfMotion::Status::Done) {
    Range r = rom_.range();
    status_.range = r;
    status_.range_known = true;
    range_calibrated_ = true;
    law_.set_range(r);
    reps_.begin(r, params_.tempo, t, pos, rom_.end_low_mm(), rom_.end_low_departure_s());
    std::ostringstream os;
    os << "range " << r.bottom_mm << ".." << r.top_mm << " mm";
    emit(EventCode::Calibrated, Severity::Info, t, os.str(), r.span());
    enter_active(t, pos);
  } else if (s == RangeOfMotion::Status::TooSmall) {
    if (++calibration_tries_ >= tcfg_.calibration_attempts) {
      stop(StopReason::RangeLoss, t);
    } else {
      emit(EventCode::CalibrationRetry, Severity::Warning, t,
           "calibration rep too small; do one full slow rep", rom_.range().span());
      rom_.begin(t, pos);
      if (stored_) {
        reps_.begin(*stored_, params_.tempo, t, pos, pos, t);
        held_reps_.clear();
      }
    }
  }
  // A calibration rep that never happens ends the set like an idle one.
  if (std::abs(vel) > ccfg_.still_mm_s) calib_motion_t_ = t;
  if (state_ == SetState::Calibrating && t - calib_motion_t_ > tcfg_.idle_timeout_s)
    stop(StopReason::Stall, t);
  o.law = law_.update({dt, pos, vel, force, Phase::None, state_ == SetState::Calibrating, ramp_});
  o.motor = o.law.motor_n;
}

// 2. Active: an isometric hold, or reps.
void SetController::update_active(const Cycle& c, CycleOutput& o) {
  o.enable = true;
  if (params_.mode == Mode::Isometric) update_hold(c, o);
  else update_reps(c, o);
}

// 2. Active, isometric: the hold's clock, fatigue windows, a let-go hold.
void SetController::update_hold(const Cycle& c, CycleOutput& o) {
  const double t = c.t, dt = c.dt, pos = c.pos, vel = c.vel, force = c.force;
  if (drive_.enabled) hold_elapsed_ += dt;
  // The hold's clock starts at the user's push: a user who still sits
  // when the hold begins (the law holds the pad with nothing until they
  // push) is not yet holding. A push is the cell, low-passed over 0.3 s
  // (a tremor is not a push), above its value at the hold's start by
  // max(let_go_force_n, 10 % of the load) for 0.2 s; the clock then
  // counts from that crossing. Looked for once: a user pushing from the
  // start keeps the clock from the hold's start, and a push that cannot
  // be told from sitting still (holding only the pad) leaves it there too,
  // and so does one not seen within idle_timeout_s (a slow creep late in
  // a light hold is not its start).
  if (hold_rest_n_ < 0) hold_rest_n_ = hold_filt_n_ = force;
  hold_filt_n_ += (force - hold_filt_n_) * std::min(1.0, dt / 0.3);
  // The hold's peak force (the assessment's measure): the cell over 0.1 s,
  // short enough for a maximal push of a few seconds, long enough to ignore
  // a single noisy read. Out-pushed: the pad well above the hold height with
  // the cell at the limit (the motor, torque-limited, yields; the over-force
  // trip ignores a rising pad, see docs/assessment.md).
  hold_peak_filt_n_ += (force - hold_peak_filt_n_) * std::min(1.0, dt / 0.1);
  hold_peak_n_ = std::max(hold_peak_n_, hold_peak_filt_n_);
  if (hold_peak_n_ >= kBeyondRangeFraction * params_.load_n ||
      (pos > hold_mm_ + kBeyondRangeRiseMm && hold_peak_filt_n_ >= 0.9 * params_.load_n))
    hold_beyond_ = true;
  if (!hold_pushed_ && hold_elapsed_ > tcfg_.idle_timeout_s) hold_pushed_ = true;
  if (!hold_pushed_) {
    const double margin = std::max(ccfg_.let_go_force_n, 0.1 * params_.load_n);
    if (hold_filt_n_ >= hold_rest_n_ + margin) {
      if (hold_push_since_ < 0) hold_push_since_ = t;
      if (t - hold_push_since_ >= 0.2) {
        hold_pushed_ = true;
        hold_elapsed_ = t - hold_push_since_;
      }
    } else {
      hold_push_since_ = -1;
    }
  }
  // A user who lets go of a loaded hold: the law follows the cell, so it
  // asks for nothing more once they are gone and presence (which needs a
  // command pushing down) cannot tell; but the pad, pushed down by the
  // last cycles' load, falls away. Falling (faster than 10 × still_mm_s)
  // more than 5 mm below where the cell last read a force (a user who
  // out-pushed the load held it above the hold's height) with the cell
  // below let_go_force_n for 0.1 s: nobody holds it.
  if (hold_held_mm_ < -1e8) hold_held_mm_ = pos;
  if (force >= ccfg_.let_go_force_n) hold_held_mm_ = pos;
  const bool falls =
      vel < -10.0 * ccfg_.still_mm_s && pos < hold_held_mm_ - 5.0 && force < ccfg_.let_go_force_n;
  if (!falls) hold_fall_since_ = -1;
  else if (hold_fall_since_ < 0) hold_fall_since_ = t;
  window_sum_ += force * dt;
  window_t_ += dt;
  StopReason r = StopReason::None;
  if (window_t_ >= tcfg_.hold_window_s) {
    r = fatigue_.on_hold_window(window_sum_ / window_t_);
    window_sum_ = window_t_ = 0;
  }
  status_.hold_elapsed_s = hold_elapsed_;
  status_.tut_s = hold_elapsed_;
  if (hold_elapsed_ >= params_.hold_s - 1e-9) r = StopReason::HoldComplete;
  o.law = law_.update({dt, pos, vel, force, Phase::Hold, false, ramp_});
  o.motor = o.law.motor_n;
  if (hold_fall_since_ >= 0 && t - hold_fall_since_ >= 0.1 - 1e-9) {
    emit(EventCode::UserLeft, Severity::Warning, t,
         "nobody holds the pad: it falls away from the hold");
    stop(StopReason::UserLeft, t);
  } else if (r != StopReason::None) {
    stop(r, t);
  }
}

// 2. Active, reps: the rep counter, tempo cue, fatigue, rest, stall and a failed rep.
void SetController::update_reps(const Cycle& c, CycleOutput& o) {
  const double t = c.t, dt = c.dt, pos = c.pos, vel = c.vel, force = c.force;
  measure_tissue(t, pos, vel);
  StopReason r = StopReason::None;
  bool started = !reps_.attempt_open();
  reps_.hold_count(sup_.absence_suspected());
  if (reps_.update(t, pos + tissue_offset_mm_, vel, force)) {
    RepRecord rec = reps_.last();
    rec.set_id = params_.set_id;
    sink_.on_rep(rec);
    status_.tut_s = reps_.tut_s();
    // The confirming rep ran at the light load: not a measure of fatigue.
    if (rec.t_start_s >= light_before_t_) r = fatigue_.on_rep(rec);
    if (reps_.counted() >= params_.target_reps) r = StopReason::TargetReached;
  }
  if (reps_.counted_now() && reps_.counted() >= params_.target_reps) reps_.final_rep();
  if (started && reps_.attempt_open()) cue_.anchor(reps_.attempt_start_s());
  cue_.update(t);
  status_.reps = reps_.counted();
  status_.partial_reps = reps_.partials();
  status_.phase = reps_.phase();
  status_.cue_phase = cue_.phase();
  status_.cue_progress = cue_.progress();
  // A mid-set rest: held at a top or a low (or paused while lowering)
  // longer than the tempo's pause + tolerance. Neither a stall nor
  // user_left until it exceeds rest_limit_s; the status counts it down.
  const double rest_s =
      std::max(0.0, reps_.paused_s(t) - reps_.prescribed_pause_s() - tcfg_.tempo_tolerance_s);
  const bool resting = rest_s > 0;
  status_.resting = resting;
  status_.rest_remaining_s =
      resting ? std::max(0.0, std::min(tcfg_.rest_limit_s - rest_s,
                                       tcfg_.idle_timeout_s - reps_.seconds_idle(t)))
              : 0.0;
  std::string_view why;
  if (r == StopReason::None) {
    if (resting && rest_s > tcfg_.rest_limit_s) {
      r = StopReason::Stall;
      why = "rested longer than rest_limit_s";
    } else if (reps_.seconds_idle(t) > tcfg_.idle_timeout_s) {
      r = StopReason::Stall;
      why = "no rep begun for idle_timeout_s";
    }
  }
  // A failed rep (hazard 11): a rise of a quarter of the range or more
  // but short of a rep (not a bounce off the floor), turned without a
  // pause at its high, that the load pushes back down at 60 % of the
  // set's speed limit or more (a collapse falls at the drive's limit
  // within a few cycles; nobody lowers that fast on purpose) and faster
  // than the tempo's lowering (+ brake_margin), while the user still
  // pushes (a user who let go is presence's to find), for failed_rep_s.
  // The set ends as a stall, and its unload first drops the load to the
  // light load at the drive's slew (Unloading, below).
  {
    const double span = status_.range.span();
    const double e_s = params_.tempo.eccentric_s;
    const double catch_v =
        std::max(e_s > 0 && span > 0 ? span / e_s * (1.0 + tcfg_.brake_margin) : 0.0,
                 0.6 * speed_nominal_mm_s_);
    const bool pushing = force >= std::max(ccfg_.let_go_force_n, 0.1 * params_.load_n);
    const bool heavy = params_.load_n > 1.5 * tcfg_.calibration_load_n;
    const bool mid_rise = reps_.attempt_short() && reps_.attempt_rise_mm() >= 0.25 * span;
    if (heavy && pushing && mid_rise && !reps_.attempt_paused_at_high(0.15) && vel < -catch_v) {
      if (failed_since_ < 0) failed_since_ = t;
    } else {
      failed_since_ = -1;
    }
    if (r == StopReason::None && failed_since_ >= 0 &&
        t - failed_since_ >= tcfg_.failed_rep_s - 1e-9) {
      r = StopReason::Stall;
      why = "failed rep: the load pushed a rise back down";
      failed_rep_ = true;
    }
  }
  o.law = law_.update({dt, pos, vel, force, reps_.phase(), false, ramp_});
  o.motor = o.law.motor_n;
  if (r != StopReason::None) stop(r, t, why);
}

// 2. Unloading: the ramp falls to zero over unload_s (the law only lightens),
// zero is held for unload_settle_ms, then the drive is disabled and the set finished.
void SetController::update_unloading(const Cycle& c, CycleOutput& o) {
  const double t = c.t, dt = c.dt, pos = c.pos, vel = c.vel, force = c.force;
  o.enable = true;
  ramp_ = std::max(0.0, ramp_ - dt / ccfg_.unload_s);
  if (activity_ == Activity::Move) {
    o.motor = ramp_ * law_.move_force(pos, pos, vel, ccfg_.move_speed_mm_s, ccfg_.move_max_force_n);
    o.floor = -1;
  } else {
    const double slew = drive_slew_ > 0 ? std::min(drive_slew_, limits_.max_slew_n_per_s)
                                        : limits_.max_slew_n_per_s;
    o.law = law_.update(
        {dt, pos, vel, force, status_.phase, false, ramp_, true, failed_rep_ ? slew : 0.0});
    o.motor = o.law.motor_n;
  }
  if (ramp_ <= 0 && std::abs(clamp_.last()) < 1.0) {
    if (settle_since_ < 0) settle_since_ = t;
    if ((t - settle_since_) * 1000.0 >= ccfg_.unload_settle_ms) {
      o.enable = false;
      o.motor = 0;
      finish(t);
    }
  }
}

// 3. No enable without an OK latch; torque removed at once on STO / drive fault.
void SetController::gate_enable(const SupervisorReport& rep, CycleOutput& o) {
  if (!sup_.ok() && state_ != SetState::Unloading) o.enable = false;
  if (rep.remove_torque_now || rep.quick_stop) o.enable = false;
  if (!o.enable) {
    o.motor = 0;
    clamp_.reset(0);
  }
}

// 4. The final clamp (floor, max load, hard cap, slew) has the last word on the
// law's force; nothing when disabled.
void SetController::final_clamp(const Cycle& c, CycleOutput& o) {
  o.out = o.enable ? clamp_.apply(o.motor, c.pos, c.vel, o.floor, c.dt) : 0.0;
}

// 4b. The floor catch (hazard 10). The clamp's floor may cut the command
// to nothing within a cycle, but the drive sheds torque only at its
// TORQUE_SLEW (~3.6 kN/s on the reference drive: ~0.4 s from 1500 N). A
// member holding a heavy load at the bottom who gives way at once lets the
// pad fall onto the floor meanwhile, and the drive drives the heel beyond
// its end of range (the fault campaign: 3-4 mm, ~1 kN). When the member's
// force fell by more than floor_catch_drop from a peak within the last
// 0.1 s (it comes back as the falling pad presses the thighs; a
// member who still pushes, lowering a load heavier than they are onto the
// floor, is the clamp's approach plan's: torque off would launch them up),
// the pad falls faster than floor_catch_mm_s with the floor cutting the
// command, and the drive still pushes more than max(floor_catch_n, a
// quarter of the load) and twice what the floor allows, ENABLE goes off
// for this cycle: torque
// off at once (category 0 for the torque, not for the set). The next cycle
// enables again (read back first, ControlLoop) at the command the floor
// allows, 0 while the pad falls; the load comes back over floor_restore_s
// as the member rises off the floor. The set goes on.
void SetController::floor_catch(const Cycle& c, CycleOutput& o) {
  const double t = c.t, vel = c.vel;
  if (o.enable && activity_ == Activity::Set &&
      (state_ == SetState::Active || state_ == SetState::Unloading) && clamp_.flags().floor &&
      drive_.enabled && vel < -tcfg_.floor_catch_mm_s &&
      recent_force_drop(t, kFloorCatchWindowS) > tcfg_.floor_catch_drop &&
      drive_.force_n > std::max(tcfg_.floor_catch_n, 0.25 * params_.load_n) &&
      drive_.force_n > 2.0 * std::max(o.out, 0.0)) {
    emit(EventCode::FloorCatch, Severity::Info, t,
         "the pad fell into the floor under load: torque off at once", drive_.force_n);
    o.enable = false;
    o.motor = 0;
    o.out = 0;
    clamp_.reset(0);
  }
}

// 5. Every unload ramps down from the force applied when it began: while
// unloading, the command's magnitude never grows and its sign never flips,
// whatever the law, the floor or the slew would ask (the law itself only
// lightens too; this is the last word).
void SetController::hold_unload(CycleOutput& o) {
  o.driving_up = o.law.back_driven;
  if (state_ == SetState::Unloading && o.enable) {
    o.out = unload_prev_ >= 0 ? std::clamp(o.out, 0.0, unload_prev_)
                              : std::clamp(o.out, unload_prev_, 0.0);
    clamp_.reset(o.out);
    // The screw's friction compensation (the driver asks F·η of the motor
    // while the user drives up, F/η while it drives down) keeps the last
    // command's assumption and may only turn to "user driving up", the lower
    // torque for a push down, never back: a flag falling to "down" when the
    // pad slows or turns down during the stop would ask 1/η² = 23 % more
    // torque for the same force, and the user lowering would feel the pad
    // press harder (proving ground, seeds 2 and 4). So the torque never grows.
    if (o.out > 0 && o.law.back_driven) unload_up_ = true;
    o.driving_up = unload_up_;
  }
  unload_prev_ = o.out;
}

// 6. The command to write next, remembered for the next cycle.
machine::DriveCommand SetController::make_command(const SupervisorReport& rep,
                                                  const CycleOutput& o) {
  machine::DriveCommand cmd;
  cmd.enable = o.enable;
  cmd.force_n = o.out;
  cmd.back_driven = o.driving_up;
  cmd.fault_reset = rep.fault_reset_pulse && !o.enable;
  // QUICK_STOP: ENABLE and QUICK_STOP together while the drive still reports
  // enabled (it ramps to zero within 10 ms, then disables itself; ENABLE
  // staying on makes no new enable edge); ENABLE off once it is disabled, or
  // at once after a category 0 fault.
  cmd.quick_stop = rep.quick_stop && !rep.remove_torque_now && !o.enable && drive_.enabled;
  if (cmd.quick_stop) {
    cmd.enable = true;
    cmd.force_n = 0;
    cmd.fault_reset = false;
  }
  last_cmd_ = cmd;
  return cmd;
}

// 7. The live status, published in the loop's snapshot.
void SetController::publish_status(const CycleOutput& o) {
  status_.state = (state_ == SetState::Idle || state_ == SetState::Rest ||
                   state_ == SetState::Fault || state_ == SetState::Estop)
                      ? resting_state()
                      : state_;
  status_.load_n = o.enable ? law_.pad_weight_n() + o.motor : 0;
  status_.motor_force_n = o.out;
  status_.floor_mm = o.floor;
  status_.eccentric_weight = o.law.eccentric_weight;
  status_.brake_n = o.law.brake_n;
  status_.moving = moving_;
}

}  // namespace soleus::controller
