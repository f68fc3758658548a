#include "soleus/controller/motion.hpp"

#include <algorithm>
#include <cmath>

namespace soleus::controller {

// ---------------------------------------------------------------- RangeOfMotion

RangeOfMotion::RangeOfMotion(const TrainingConfig& cfg, double still_mm_s)
    : cfg_(cfg), still_(still_mm_s) {}

void RangeOfMotion::begin(double t, double pos) {
  min_ = max_ = pos;
  top_ = false;
  end_min_ = pos;
  end_depart_t_ = t;
  still_since_ = -1;
  range_ = {};
}

double RangeOfMotion::lowest_mm() const { return top_ ? std::min(min_, end_min_) : min_; }

RangeOfMotion::Status RangeOfMotion::update(double t, double pos, double vel) {
  if (!top_) {
    if (pos < min_) {
      min_ = pos;
      max_ = pos;  // a top must follow its bottom
    }
    max_ = std::max(max_, pos);
    if (max_ - pos > cfg_.segment_min_mm && max_ - min_ > cfg_.segment_min_mm) {
      top_ = true;
      end_min_ = pos;
      end_depart_t_ = t;
      still_since_ = -1;
    }
    return Status::Running;
  }
  if (pos < end_min_) end_min_ = pos;
  if (pos <= end_min_ + cfg_.pause_band_mm) end_depart_t_ = t;
  if (std::abs(vel) < still_) {
    if (still_since_ < 0) still_since_ = t;
  } else {
    still_since_ = -1;
  }
  bool came_back = (max_ - pos) >= 0.5 * (max_ - min_);
  bool rested = came_back && still_since_ >= 0 && t - still_since_ >= 0.3;
  bool rising_again = pos > end_min_ + cfg_.segment_min_mm;
  if (!rested && !rising_again) return Status::Running;
  range_ = {std::min(min_, end_min_), max_};
  return range_.span() < cfg_.min_range_mm ? Status::TooSmall : Status::Done;
}

// ---------------------------------------------------------------- RepCounter

void RepCounter::Wobble::feed(double pos, double h) {
  if (up) {
    if (pos > ext) ext = pos;
    else if (pos < ext - h) {
      path += ext - leg_start;
      leg_start = ext;
      ext = pos;
      up = false;
      ++reversals;
    }
  } else {
    if (pos < ext) ext = pos;
    else if (pos > ext + h) {
      path += leg_start - ext;
      leg_start = ext;
      ext = pos;
      up = true;
      ++reversals;
    }
  }
}

RepCounter::RepCounter(const TrainingConfig& cfg, double still_mm_s)
    : cfg_(cfg), still_(still_mm_s) {}

void RepCounter::begin(const Range& range, const Tempo& tempo, double t, double pos, double low_mm,
                       double low_departure_s) {
  range_ = range;
  tempo_ = tempo;
  close_after_s_ = tempo.bottom_s + cfg_.tempo_tolerance_s;
  h_ = std::max(cfg_.segment_min_mm, cfg_.segment_fraction * range.span());
  up_ = false;
  new_extreme(std::min(low_mm, pos), low_departure_s);
  // The low is known with its departure time: arrival and departure are that
  // time, not 0 (the loop's clock is monotonic time since boot).
  arr_t_ = dep_t_ = low_departure_s;
  arr_pos_ = ext_;
  arr_set_ = dep_set_ = true;
  open_ = has_top_ = counted_flag_ = false;
  start_t_ = t;
  next_.reset(ext_);
  next_rise_ = {};
  not_rising_t_ = low_departure_s;
  was_rising_ = false;
  last_motion_t_ = t;
  seq_ = counted_ = partials_ = 0;
  counted_now_ = false;
  tut_s_ = 0;
  phase_ = Phase::BottomPause;
  last_ = {};
  if (pos > ext_) next_.feed(pos, cfg_.wobble_hysteresis_mm);
}

void RepCounter::new_extreme(double pos, double t) {
  ext_ = pos;
  ext_t_ = t;
  arr_t_ = dep_t_ = arr_pos_ = 0;
  arr_set_ = dep_set_ = false;
  turn_set_ = false;
}

double RepCounter::arrival() const { return arr_set_ ? arr_t_ : ext_t_; }
double RepCounter::departure() const {
  return dep_set_ ? std::max(dep_t_, arrival()) : std::max(ext_t_, arrival());
}

bool RepCounter::in_top_zone() const {
  return up_ && ext_ >= range_.top_mm - (1.0 - cfg_.rep_rom_fraction) * range_.span();
}

double RepCounter::seconds_without_progress(double t) const {
  if (!up_ || !open_ || in_top_zone()) return 0;
  return t - progress_t_;
}

double RepCounter::paused_s(double t) const {
  if (up_) return open_ ? t - progress_t_ : 0;
  return arr_set_ ? t - arr_t_ : 0;
}

double RepCounter::prescribed_pause_s() const {
  if (up_) return tempo_.top_s;
  return tempo_.bottom_s;
}

bool RepCounter::update(double t, double pos, double vel, double force) {
  bool closed = false;
  counted_now_ = false;
  const double band = cfg_.pause_band_mm;
  const double f = cfg_.rep_rom_fraction;
  const double span = range_.span();
  const bool still = std::abs(vel) <= still_;

  if (open_) cur_.feed(pos, cfg_.wobble_hysteresis_mm);

  if (up_) {
    // Concentric samples: moving up, and not yet arrived at the top (a pad
    // shaking in the top pause is not rising).
    if (vel > still_ && !arr_set_) cur_rise_.add(force);
    if (pos > ext_) {
      // A new high: an earlier pause more than a band below it was not the top.
      if (arr_set_ && pos > arr_pos_ + band) arr_set_ = dep_set_ = false;
      ext_ = pos;
      ext_t_ = t;
      if (pos > progress_mark_ + cfg_.stall_progress_mm) {
        progress_mark_ = pos;
        progress_t_ = t;
      }
    }
    if (still && pos >= ext_ - band) {
      if (!arr_set_) {
        arr_set_ = true;
        arr_t_ = t;
        arr_pos_ = pos;
      }
      dep_set_ = true;
      dep_t_ = t;
    }
    if (pos < ext_ - h_) {  // the top is confirmed
      has_top_ = true;
      top_pos_ = ext_;
      top_arrival_t_ = arrival();
      top_depart_t_ = departure();
      up_ = false;
      new_extreme(pos, t);
      next_.reset(pos);
      next_rise_ = {};
      snap_reversals_ = cur_.reversals;
      snap_path_ = cur_.total_path();
    }
    if (up_) {
      if (vel > still_) phase_ = Phase::Concentric;
      else if (pos >= ext_ - band) phase_ = Phase::TopPause;
      else phase_ = Phase::Eccentric;
    } else {
      phase_ = Phase::Eccentric;
    }
    return closed;
  }

  next_.feed(pos, cfg_.wobble_hysteresis_mm);
  if (pos < ext_) {
    if (arr_set_ && pos < arr_pos_ - band) arr_set_ = dep_set_ = false;
    ext_ = pos;
    ext_t_ = t;
    next_.reset(pos);
    next_rise_ = {};
    if (open_) {
      snap_reversals_ = cur_.reversals;
      snap_path_ = cur_.total_path();
    }
  }
  if (still && pos <= ext_ + band) {
    if (!arr_set_) {
      arr_set_ = true;
      arr_t_ = t;
      arr_pos_ = pos;
    }
    dep_set_ = true;
    dep_t_ = t;
  }
  // The next concentric begins when the pad last turns upwards near the low
  // (within half the hysteresis): a pad jiggling or bouncing at the bottom
  // (tremor, a rest on the heels, an undershoot) is not rising yet.
  const bool rising = vel > still_;
  if (rising && !was_rising_ && pos <= ext_ + 0.5 * h_) {
    turn_t_ = not_rising_t_;
    turn_set_ = true;
    next_rise_ = {};
    // Reversals before this turn (a bounce off the floor) belong to the
    // bottom pause, not to the rep's moving phases: its path starts afresh
    // from the low.
    next_.reset(ext_);
    next_.feed(pos, cfg_.wobble_hysteresis_mm);
  }
  if (pos <= ext_ + band && !rising) next_rise_ = {};
  else if (rising) next_rise_.add(force);
  // A return that may be a fall (the supervisor suspects the user let go)
  // does not count yet: it counts once the doubt clears, or never.
  if (open_ && has_top_ && !counted_flag_ && !hold_count_ && top_pos_ - start_pos_ >= f * span &&
      top_pos_ - pos >= f * span) {
    counted_flag_ = true;
    ++counted_;
    counted_now_ = true;
    count_t_ = t;
    count_v_ = vel;
  }
  if (pos > ext_ + h_) {  // the next rise is confirmed
    const double depart = turn_set_ ? std::max(departure(), turn_t_) : departure();
    if (open_) {
      close(depart);
      closed = true;
    }
    last_motion_t_ = t;
    open_ = true;
    has_top_ = false;
    counted_flag_ = false;
    start_pos_ = ext_;
    start_t_ = depart;
    cur_ = next_;
    cur_rise_ = next_rise_;
    up_ = true;
    new_extreme(pos, t);
    progress_mark_ = pos;
    progress_t_ = t;
  } else if (open_ && has_top_ && arr_set_ && still && pos <= ext_ + band &&
             t - arr_t_ >= close_after_s_ - 1e-9) {
    last_motion_t_ = t;
    close(t);
    closed = true;
    open_ = false;
  }
  was_rising_ = rising;
  if (!rising) not_rising_t_ = t;
  if (up_) phase_ = Phase::Concentric;
  else if (vel < -still_) phase_ = Phase::Eccentric;
  else if (vel > still_) phase_ = Phase::Concentric;
  else if (pos <= ext_ + band) phase_ = Phase::BottomPause;
  return closed;
}

bool RepCounter::flush(double t) {
  if (!open_) return false;
  if (!has_top_) {  // stopped during a rise: the high so far is its top
    has_top_ = true;
    top_pos_ = ext_;
    top_arrival_t_ = arrival();
    top_depart_t_ = t;
    snap_reversals_ = cur_.reversals + 1;  // close() removes the top's reversal
    snap_path_ = cur_.total_path();
    new_extreme(top_pos_, t);
    arr_set_ = true;
    arr_t_ = t;
  }
  close(t);
  open_ = false;
  return true;
}

void RepCounter::close(double t_depart) {
  RepRecord r;
  r.seq = ++seq_;
  r.counted = counted_flag_;
  r.n = counted_flag_ ? counted_ : 0;
  if (!counted_flag_) ++partials_;
  r.t_start_s = start_t_;
  r.concentric_s = std::max(0.0, top_arrival_t_ - start_t_);
  r.top_pause_s = std::max(0.0, top_depart_t_ - top_arrival_t_);
  r.eccentric_s = std::max(0.0, arrival() - top_depart_t_);
  r.bottom_pause_s = std::max(0.0, t_depart - arrival());
  double rise = top_pos_ - start_pos_;
  double ret = top_pos_ - ext_;
  r.rom_mm = std::max(0.0, std::min(rise, ret));
  r.rom_pct = range_.span() > 0 ? 100.0 * r.rom_mm / range_.span() : 0;
  r.peak_force_n = cur_rise_.n ? cur_rise_.peak : 0;
  r.mean_force_n = cur_rise_.n ? cur_rise_.sum / cur_rise_.n : 0;
  r.mean_velocity_mm_s = r.concentric_s > 0 ? rise / r.concentric_s : 0;
  double net = std::max(0.0, rise) + std::max(0.0, ret);
  r.reversals = std::max(0, snap_reversals_ - 1);
  r.smoothness = snap_path_ > 1e-9 ? std::clamp(net / snap_path_, 0.0, 1.0) : 1.0;
  r.wobbly = r.reversals >= cfg_.wobble_reversals || r.smoothness < cfg_.min_smoothness;
  // Tempo: the phase deviation of largest magnitude; a free concentric (C = 0) is not judged.
  double dev[4] = {tempo_.concentric_s > 0 ? r.concentric_s - tempo_.concentric_s : 0,
                   r.top_pause_s - tempo_.top_s, r.eccentric_s - tempo_.eccentric_s,
                   r.bottom_pause_s - tempo_.bottom_s};
  double worst = 0;
  for (double d : dev)
    if (std::abs(d) > std::abs(worst)) worst = d;
  r.tempo_deviation_s = worst;
  r.on_tempo = std::abs(worst) <= cfg_.tempo_tolerance_s;
  r.tut_s = r.concentric_s + r.top_pause_s + r.eccentric_s + r.bottom_pause_s;
  if (r.counted) tut_s_ += r.tut_s;
  last_ = r;
}

// ---------------------------------------------------------------- TempoCue

void TempoCue::update(double t) {
  double c = tempo_.cycle_s();
  if (c <= 0) {
    phase_ = Phase::None;
    progress_ = 0;
    return;
  }
  double x = std::fmod(std::max(0.0, t - anchor_), c);
  const double d[4] = {tempo_.concentric_s, tempo_.top_s, tempo_.eccentric_s, tempo_.bottom_s};
  const Phase p[4] = {Phase::Concentric, Phase::TopPause, Phase::Eccentric, Phase::BottomPause};
  for (int i = 0; i < 4; ++i) {
    if (x < d[i] || i == 3) {
      phase_ = p[i];
      progress_ = d[i] > 0 ? std::clamp(x / d[i], 0.0, 1.0) : 1.0;
      return;
    }
    x -= d[i];
  }
}

}  // namespace soleus::controller
