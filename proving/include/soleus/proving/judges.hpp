#pragma once
/// The judges: each compares what the controller reported (reps, set result)
/// with the ground truth of the models (the athlete's truth and events, the
/// machine's forces and speeds), never with the controller's own beliefs.
/// The controller's state is used only to know WHEN the set ran, calibrated
/// and unloaded. Each judge is a pure function of an Outcome; the rules and
/// tolerances are in docs/proving-ground.md.
#include <string>
#include <vector>

#include "soleus/proving/world.hpp"

namespace soleus::proving {

struct Verdict {
  bool judged = true;  ///< false: the judge did not apply (e.g. counts of an isometric hold)
  bool ok = true;
  std::string why;     ///< what was wrong (or why it was not judged)
  double badness = 0;  ///< for ranking the worst cases (larger = worse)
};

/// A verdict that failed, with why and how bad (for ranking the worst cases).
Verdict failing(std::string why, double badness);

/// Tolerances, with the values docs/proving-ground.md states.
struct JudgeRules {
  double borderline =
      0.03;  ///< reps within ±this of rep_rom_fraction (fraction of the true range) are not judged
  double match_s = 1.5;      ///< a controller rep matches the truth rep it started within this of
  double drop_reps = 1;      ///< force_drop within ±this many reps of the truth
  double left_s = 5.0;       ///< user_left within this of leaving
  double left_fall_s = 0.5;  ///< ... within this when the pad falls
  double fall_mm = 10;       ///< the pad "falls": it sinks this far within 1 s after the user left
  double tut_fraction = 0.05;  ///< TUT within 5 %
  double tut_abs_s = 0.2;      ///< ... or this many s (a set of one short rep)
  double force_margin_n = 50;  ///< machine force ≤ max load + pad + this
  double unload_tol_n =
      5;  ///< a rise during an unload above this (+ the supply ripple's share) is unsafe
  double speed_margin = 0.10;  ///< pad speed ≤ limit × (1 + this)
  double pace_factor =
      1.35;  ///< pace_loss is right when a true rise took > this × C (the rule's 1.5 less 10 %)
  // Isometric holds (docs/proving-ground.md, "Holds").
  double hold_drop_windows =
      1;  ///< force_drop within this many hold windows (+ one period) after the true drop
  double hold_borderline =
      0.03;  ///< true window means within ±this × best of the drop threshold are not judged
  /// The most the controller may ask of the motor (its command at the pad,
  /// + down) before a stored range is confirmed: calibration_load_n × (1 +
  /// brake_max_fraction) of the reference configuration (100 N × 1.5). (The
  /// drive's own SPEED_LIMIT loop may brake a fast rise harder, as in any
  /// calibration rep: hazard 11's, judged by the pad's speed.)
  double light_motor_n = 150;
  double stored_margin_mm = 3;  ///< a confirmed range within its tolerance + this of the truth
};

/// Truth reps that belong to the set: started after the calibration rep
/// (controller state active) and before the unload began.
struct RepMatch {
  int truth_index = -1;  ///< index into Outcome::truth
  int controller_n = 0;  ///< counted-rep number, 0 = not counted
  bool borderline = false;
  bool full = false;     ///< clearly full (both ways ≥ threshold + borderline)
  bool partial = false;  ///< clearly partial
};
std::vector<RepMatch> match_reps(const Outcome& o, const JudgeRules& r = {});

Verdict judge_counts(const Outcome& o, const JudgeRules& r = {});
/// Counted partials only (a subset of judge_counts, reported on its own).
Verdict judge_no_counted_partial(const Outcome& o, const JudgeRules& r = {});
Verdict judge_stop(const Outcome& o, const JudgeRules& r = {});
/// The stop reason of an isometric hold once leaving is settled (judge_stop
/// calls it): hold_complete on time with no clear true drop missed,
/// force_drop from the athlete's true force per hold window.
Verdict judge_hold_reason(const Outcome& o, const JudgeRules& r = {});
/// TUT of an isometric hold: the controller's hold time against the time the
/// athlete truly pushed within the hold (from the first active cycle to the stop).
Verdict judge_hold_tut(const Outcome& o, const JudgeRules& r = {});
/// A user_left with no true leaving before it.
Verdict judge_false_user_left(const Outcome& o, const JudgeRules& r = {});
Verdict judge_tut(const Outcome& o, const JudgeRules& r = {});
Verdict judge_max_force(const Outcome& o, const JudgeRules& r = {});
Verdict judge_unload_never_rises(const Outcome& o, const JudgeRules& r = {});
Verdict judge_pad_speed(const Outcome& o, const JudgeRules& r = {});
/// The crush at the end of range (hazard 10), from the athlete's truth: while
/// the drive is enabled, its motor pushes down (more than `push_n` at the
/// pad) and the pad is not rising, the athlete's heel (bone) is never pressed more than `allow_mm`
/// below its anatomical bottom (soleus-sim's heel stop is 300 N/mm: 1 mm is
/// 300 N into the end of range). The floor's fade (3 mm) should have taken
/// the motor's force away before: the allowance is the fade.
Verdict judge_end_of_range(const Outcome& o, double allow_mm = 3.0, double push_n = 100.0);
/// Whenever the drive model becomes enabled, its own watchdog (COMM_TIMEOUT)
/// is on and its TORQUE_LIMIT and SPEED_LIMIT are no higher than the
/// controller arms: after a drive restart (power-up defaults: watchdog off,
/// 300 %, 3000 rpm) the drive must be armed again before it is enabled. A
/// setup lost while enabled must see the drive disabled within 1.2 s + two
/// cycles (the read-back's period + the QUICK_STOP figure).
Verdict judge_armed_while_enabled(const Outcome& o, const JudgeRules& r = {});
/// A member's stored range (issue 13): with one offered, the controller never
/// asks the motor for more than the light load until the first rep has been judged
/// (states ready and calibrating: unsafe otherwise); and a range the
/// controller confirmed was the athlete's (the first rep of the set, from the
/// truth, within the full-range rule's tolerance + stored_margin_mm of it).
Verdict judge_stored_range(const Outcome& o, const JudgeRules& r = {});

/// All judges of one case.
struct Judgement {
  Verdict counts, partial, stop, false_left, tut, force, unload, speed, armed, end_of_range;
  Verdict stored_light, stored;  ///< judge_stored_range: the light first rep (unsafe), the verdict
  bool unsafe() const {
    return !force.ok || !unload.ok || !speed.ok || !armed.ok || !end_of_range.ok ||
           !stored_light.ok;
  }
  bool failed() const {
    return !counts.ok || !partial.ok || !stop.ok || !false_left.ok || !tut.ok || !stored.ok ||
           unsafe();
  }
  double badness() const;
  std::string why() const;
};
Judgement judge(const Outcome& o, const JudgeRules& r = {});

}  // namespace soleus::proving
