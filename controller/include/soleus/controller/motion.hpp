#pragma once
/// Range of motion, rep counting and the tempo cue: plain classes fed one
/// sample at a time (time, pad position, velocity, load-cell force).
#include <algorithm>

#include "soleus/controller/config.hpp"
#include "soleus/controller/types.hpp"

namespace soleus::controller {

/// The calibration rep: finds the user's bottom and top.
///
/// Principle of operation:
///  1. Track the lowest position, and the highest position reached after it
///     (a new low restarts the high, so a top always follows a bottom).
///  2. A fall of more than segment_min_mm from that high confirms the top.
///  3. Then track the return's low. The rep is done when the user is still
///     for 0.3 s after coming back at least half-way, or rises again by
///     segment_min_mm (the next rep has begun).
///  4. The range is [the lower of both lows, the high]. A range smaller than
///     min_range_mm is reported TooSmall (the caller retries).
class RangeOfMotion {
 public:
  enum class Status { Running, Done, TooSmall };
  RangeOfMotion(const TrainingConfig& cfg, double still_mm_s);
  void begin(double t, double pos);
  Status update(double t, double pos, double vel);
  Range range() const { return range_; }
  /// The return's low and the last time the pad was at it (for RepCounter::begin).
  double end_low_mm() const { return end_min_; }
  double end_low_departure_s() const { return end_depart_t_; }
  /// The lowest position seen so far (a floor while calibrating).
  double lowest_mm() const;

 private:
  TrainingConfig cfg_;
  double still_;
  double min_ = 0, max_ = 0;
  bool top_ = false;
  double end_min_ = 0, end_depart_t_ = 0;
  double still_since_ = -1;
  Range range_;
};

/// Counts honest reps and measures each one.
///
/// Principle of operation:
///  1. A zig-zag filter with a large hysteresis H = max(segment_min_mm,
///     segment_fraction × range) splits the motion into rises and falls; a
///     reversal smaller than H is wobble, not a new rep.
///  2. A rep attempt opens when the pad rises H above a low (the concentric
///     began when the pad last left that low's pause band). Its top is
///     confirmed when the pad falls H below the high.
///  3. It counts, at once, when both the rise and the return have covered
///     rep_rom_fraction of the calibrated range (bottom → top → bottom).
///  4. It closes, and its record is produced, when the next rise is
///     confirmed, or when the pad has paused at the low for longer than the
///     tempo's bottom pause + tolerance, or at the set's end (flush). An
///     attempt that did not count is logged as partial.
///  5. Phase times come from the turning points: the arrival at a turning
///     point is the first still sample (|v| ≤ still) within pause_band_mm of
///     its extreme, the departure the last one (the extreme's own time when
///     the pad never stopped, as in a bounce). Concentric = top arrival − bottom departure;
///     top pause, eccentric and bottom pause likewise.
///  6. Force samples while rising (v > still) give peak and mean concentric
///     force. A small zig-zag (wobble_hysteresis_mm) counts reversals inside
///     the moving phases and the travelled path; smoothness = net / path.
class RepCounter {
 public:
  RepCounter(const TrainingConfig& cfg, double still_mm_s);
  /// Starts counting with a range and tempo. `low_mm` / `low_departure_s`
  /// is the last low seen (the pad's position and now when unknown).
  void begin(const Range& range, const Tempo& tempo, double t, double pos, double low_mm,
             double low_departure_s);
  /// Judges the reps from now on against `range` (a stored range confirmed by
  /// the rep just measured: SetController 4a), keeping the count and the
  /// open attempt.
  void set_range(const Range& range) {
    range_ = range;
    h_ = std::max(cfg_.segment_min_mm, cfg_.segment_fraction * range.span());
  }
  /// One sample. Returns true when an attempt closed; its record is last().
  bool update(double t, double pos, double vel, double force);
  /// The open attempt counted, at this time and pad velocity (the return's
  /// 90 % was crossed then).
  bool open_counted() const { return open_ && counted_flag_; }
  double counted_at_s() const { return count_t_; }
  double counted_at_velocity() const { return count_v_; }
  /// Takes back the open attempt's count (it will be logged as partial):
  /// its return was the pad falling after the user let go.
  void revoke_open_count() {
    if (!open_counted()) return;
    counted_flag_ = false;
    --counted_;
  }
  /// Closes an open attempt at the set's end. Returns true when one was logged.
  bool flush(double t);
  /// While set, a completed return does not count yet (the supervisor
  /// suspects the user let go: the return may be the pad falling).
  void hold_count(bool hold) { hold_count_ = hold; }
  /// The last rep of the set: close it as soon as the prescribed bottom pause is done.
  void final_rep() { close_after_s_ = tempo_.bottom_s; }

  const RepRecord& last() const { return last_; }
  int counted() const { return counted_; }
  int partials() const { return partials_; }
  /// A rep became counted on the last sample (the full return was reached).
  bool counted_now() const { return counted_now_; }
  Phase phase() const { return phase_; }
  /// Time of the open attempt's concentric start, or of the last rise.
  double attempt_start_s() const { return start_t_; }
  bool attempt_open() const { return open_; }
  /// An open attempt whose high so far (or confirmed top) is short of
  /// rep_rom_fraction of the range: a rise that has not (yet) made a rep.
  bool attempt_short() const {
    return open_ &&
           (has_top_ ? top_pos_ : ext_) - start_pos_ < cfg_.rep_rom_fraction * range_.span();
  }
  /// The open attempt's rise so far (to its high), mm.
  double attempt_rise_mm() const { return open_ ? (has_top_ ? top_pos_ : ext_) - start_pos_ : 0.0; }
  /// The open attempt's high was held still for at least `s` (a top pause:
  /// the user chose to turn there).
  bool attempt_paused_at_high(double s) const {
    if (!open_) return false;
    if (has_top_) return top_depart_t_ - top_arrival_t_ >= s;
    return arr_set_ && dep_set_ && dep_t_ - arr_t_ >= s;
  }
  /// Time without upward progress during a rise below the top zone (stall rule).
  double seconds_without_progress(double t) const;
  /// How long the pad has been held without moving on: while rising, the
  /// time without upward progress (at a top, in a stall); at a low (or
  /// paused while lowering), the time since it arrived there. 0 while moving.
  double paused_s(double t) const;
  /// The pause the tempo prescribes where the pad is held: T at a top (in the
  /// top zone), B at a low, 0 below the top zone while rising.
  double prescribed_pause_s() const;
  /// The pad is in a rise (from a low until its top is confirmed).
  bool rising() const { return up_; }
  /// Rising and at or above the top zone (the top of a rep that would count).
  bool in_top_zone() const;
  /// Time since a rep attempt last began or ended (idle rule): wriggling
  /// at the bottom without ever rising a rep's hysteresis is idle too.
  double seconds_idle(double t) const { return t - last_motion_t_; }
  double tut_s() const { return tut_s_; }
  double hysteresis_mm() const { return h_; }
  const Range& range() const { return range_; }

 private:
  struct Wobble {
    bool up = true;
    double ext = 0, leg_start = 0, path = 0;
    int reversals = 0;
    void reset(double pos) { *this = Wobble{true, pos, pos, 0, 0}; }
    void feed(double pos, double h);
    double total_path() const {
      return path + (ext > leg_start ? ext - leg_start : leg_start - ext);
    }
  };
  struct Rise {
    double sum = 0, peak = 0;
    int n = 0;
    void add(double f) {
      sum += f;
      ++n;
      if (n == 1 || f > peak) peak = f;
    }
  };
  void close(double t_depart);
  void new_extreme(double pos, double t);
  double arrival() const;
  double departure() const;

  TrainingConfig cfg_;
  double still_;
  Range range_;
  Tempo tempo_;
  double h_ = 8;
  // zig-zag state
  bool up_ = false;
  double ext_ = 0, ext_t_ = 0;                  ///< the running extreme and when it was reached
  double arr_t_ = 0, arr_pos_ = 0, dep_t_ = 0;  ///< first / last still sample within the band
  bool arr_set_ = false, dep_set_ = false;
  /// The last upward turn near the low (a local minimum within h/2 of it),
  /// and the state that finds it: the concentric begins at the later of
  /// this turn and the departure from the low's pause band.
  double turn_t_ = 0, not_rising_t_ = 0;
  double count_t_ = 0, count_v_ = 0;
  bool turn_set_ = false, was_rising_ = false;
  double close_after_s_ = 1.5;
  // the open attempt
  bool open_ = false, has_top_ = false, counted_flag_ = false;
  bool hold_count_ = false;
  double start_pos_ = 0, start_t_ = 0, top_pos_ = 0, top_arrival_t_ = 0, top_depart_t_ = 0;
  Wobble cur_, next_;
  int snap_reversals_ = 0;
  double snap_path_ = 0;
  Rise cur_rise_, next_rise_;
  double progress_mark_ = 0, progress_t_ = 0;
  double last_motion_t_ = 0;
  // results
  int seq_ = 0, counted_ = 0, partials_ = 0;
  bool counted_now_ = false;
  double tut_s_ = 0;
  Phase phase_ = Phase::None;
  RepRecord last_;
};

/// The live pacing cue: where the user should be in the tempo.
///
/// Principle of operation:
///  1. A metronome runs the rep's phases in order C, T, E, B from an anchor.
///  2. The anchor is moved to the start of every rep the user begins, so the
///     cue shows the rest of this rep's prescription; if the user waits, the
///     metronome runs on into the next concentric ("rise now").
///  3. progress is the fraction of the current cue phase elapsed, 0–1.
class TempoCue {
 public:
  void begin(const Tempo& tempo, double t) {
    tempo_ = tempo;
    anchor_ = t;
    update(t);
  }
  void anchor(double t) { anchor_ = t; }
  void update(double t);
  Phase phase() const { return phase_; }
  double progress() const { return progress_; }

 private:
  Tempo tempo_;
  double anchor_ = 0;
  Phase phase_ = Phase::None;
  double progress_ = 0;
};

}  // namespace soleus::controller
