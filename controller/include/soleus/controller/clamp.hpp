#pragma once
/// The final clamp: the last thing every motor force command passes through.
///
/// Principle of operation:
///  1. A command that is not finite becomes zero.
///  2. The floor: below the floor the motor never pushes down (positive
///     force). The floor is the user's calibrated bottom, and never lower than
///     the lower soft travel limit. Within floor_fade_mm above it the downward
///     force fades linearly to zero, and while the pad moves down the force is
///     also kept low enough that the slew limit can bring it to zero before the
///     floor is reached (F ≤ slew × distance / speed). Upward (negative) force
///     is not affected: the floor never pulls the user down.
///     Leaving the floor, the load it took away comes back over
///     floor_restore_s (in time, not in height): a user who rises off the
///     floor with less than the load is not thrown back onto it by a load
///     that returns within a few mm (a limit cycle at the bottom).
///  3. The magnitude is capped at min(limits.max_load_n, kHardCapN).
///  4. The change from the previous command is limited to max_slew × dt,
///     except a reduction demanded by the floor, which the command shows at
///     once (the drive's own TORQUE_SLEW shapes it physically).
///  The result is what goes into DriveCommand::force_n. reset() is used after
///  the drive was disabled, so that the slew starts from zero.
#include <algorithm>

#include "soleus/machine/units.hpp"

namespace soleus::controller {

class OutputClamp {
 public:
  OutputClamp(const machine::Limits& limits, double floor_fade_mm, double lower_soft_limit_mm);
  /// Damping of the floor's fade (docs/controller.md, "The final clamp and
  /// the floor"): the height the fade is judged at leads by `lead_s` ×
  /// velocity, at most `max_lead_mm` up. 0 disables it.
  void set_floor_damping(double lead_s, double max_lead_mm) {
    damping_s_ = lead_s;
    damping_zone_mm_ = max_lead_mm;
  }

  /// Time over which the load the floor took away comes back once the pad
  /// leaves the floor's fade (0: at once, by height alone).
  void set_floor_restore(double restore_s) { restore_s_ = restore_s; }
  /// The slew the drive was armed with and read back (force per second at the
  /// pad, the slower direction): the floor approach plans with the smaller of
  /// it and max_slew (0: max_slew alone).
  void set_drive_slew(double n_per_s) { drive_slew_ = n_per_s; }
  double plan_slew() const { return drive_slew_ > 0 ? std::min(drive_slew_, slew_) : slew_; }

  /// Returns the command to write. `floor_mm` is the user's bottom (use a
  /// negative value when none is known; the lower soft limit still applies).
  double apply(double force_n, double position_mm, double velocity_mm_s, double floor_mm,
               double dt_s);
  /// Forgets the previous command (the drive is disabled; its torque is zero).
  void reset(double force_n = 0) {
    last_ = force_n;
    restoring_ = false;
  }
  double last() const { return last_; }
  double cap_n() const { return cap_; }

  /// What limited the last command (diagnostics and tests).
  struct Flags {
    bool nonfinite = false;
    bool floor = false;
    bool restore = false;  ///< the load the floor took away is still coming back
    bool cap = false;
    bool slew = false;
  };
  const Flags& flags() const { return flags_; }

 private:
  double cap_;
  double slew_;
  double damping_s_ = 0, damping_zone_mm_ = 0;
  double restore_s_ = 0;
  double drive_slew_ = 0;
  bool restoring_ = false;
  double ceiling_ = 0;  ///< while restoring: the most the load may be
  double fade_mm_;
  double lower_soft_mm_;
  double last_ = 0;
  Flags flags_;
};

}  // namespace soleus::controller
