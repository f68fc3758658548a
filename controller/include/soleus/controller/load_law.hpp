#pragma once
/// The load law: what force the motor should put on the pad this cycle.
///
/// Principle of operation:
///  1. The felt load is what the user should feel at the pad. The motor's
///     part is felt − pad weight (the pad's own weight is compensated), and
///     the friction of the screw is compensated by telling the drive the
///     direction of travel (back_driven, with hysteresis), because the
///     screw's efficiency differs up and down (see the ICD).
///  2. Isotonic: felt = base load. The base load moves towards its target
///     (calibration load, then the set's load) at load / ramp_in_s per second.
///  3. Eccentric: felt = base × (1 + e·w), where w goes smoothly (a
///     smoothstep of a rate-limited ramp over eccentric_blend_s) to 1 while
///     the user is at the top or lowering, and back to 0 at the bottom.
///  4. Pacing brake: while rising faster than range / C × (1 + margin), add
///     gain × excess, at most brake_max_fraction × base; it never adds load
///     otherwise. While lowering faster than range / E × (1 + margin), take
///     load away the same way (never below zero): a fast drop is caught.
///     During calibration both limits are calibration_speed_mm_s.
///  4b. A failed rep (LawInput::drop_to_light_n_per_s): the base falls to the
///     light load at the drive's slew, whatever the ramp-in rate.
///  5. Isometric: felt = load-cell force (feed-forward) + stiffness × (pos −
///     hold height) + damping × velocity, within [0, load]: the pad holds its
///     height until the user pushes more than the load.
///  6. Ramp: motor = ramp × (felt − pad weight); at ramp 0 the user feels only
///     the pad, as with the drive disabled. The final clamp comes after.
#include "soleus/controller/config.hpp"
#include "soleus/controller/types.hpp"
#include "soleus/machine/units.hpp"

namespace soleus::controller {

struct LawInput {
  double dt_s = 0;
  double position_mm = 0;
  double velocity_mm_s = 0;
  double cell_force_n = 0;
  Phase phase = Phase::None;  ///< the user's live phase (RepCounter)
  bool calibrating = false;
  double ramp = 1;  ///< 0–1
  /// The set is stopping: nothing in the law may raise the load (the base
  /// does not move up, no pacing brake is added, the eccentric blend only
  /// falls, and the felt load never exceeds the previous cycle's).
  bool unloading = false;
  /// A failed rep (hazard 11): > 0 drops the base load to the first rep's
  /// light load (calibration_load_n) at this rate, N/s (the drive's armed
  /// slew): the load that pushes a user down goes as fast as the drive lets it.
  double drop_to_light_n_per_s = 0;
};

struct LawOutput {
  double felt_n = 0;   ///< what the user should feel (ramp applied)
  double motor_n = 0;  ///< the motor's force at the pad, positive down (before the clamp)
  bool back_driven = false;
  double brake_n = 0;           ///< pacing brake (+) or drop catch (−) included in felt
  double eccentric_weight = 0;  ///< w of the eccentric overload, 0–1
};

class LoadLaw {
 public:
  LoadLaw(const TrainingConfig& cfg, const machine::Mechanics& mech, double ramp_in_s);
  void begin(const SetParams& params, double position_mm);
  void set_range(const Range& r) { range_ = r; }
  void set_hold_height(double mm) { hold_mm_ = mm; }
  double hold_height() const { return hold_mm_; }
  LawOutput update(const LawInput& in);
  /// Hold-to-move / return-to-rest: a slow speed controller that never pushes
  /// down (the pad descends under its own weight) and lifts with at most max_lift_n.
  double move_force(double target_mm, double position_mm, double velocity_mm_s, double speed_mm_s,
                    double max_lift_n) const;
  double pad_weight_n() const { return pad_n_; }

 private:
  TrainingConfig cfg_;
  double pad_n_;
  double ramp_in_s_;
  SetParams p_;
  Range range_;
  double base_ = 0;
  double ecc_s_ = 0;
  double hold_mm_ = 0;
  bool up_ = false;
  double last_felt_ = 0;
  bool unloading_ = false;
};

}  // namespace soleus::controller
