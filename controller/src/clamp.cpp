#include "soleus/controller/clamp.hpp"

#include <algorithm>
#include <cmath>

namespace soleus::controller {

OutputClamp::OutputClamp(const machine::Limits& limits, double floor_fade_mm,
                         double lower_soft_limit_mm)
    : cap_(std::min(limits.max_load_n, machine::kHardCapN)),
      slew_(limits.max_slew_n_per_s),
      fade_mm_(floor_fade_mm),
      lower_soft_mm_(lower_soft_limit_mm) {}

double OutputClamp::apply(double force_n, double position_mm, double velocity_mm_s, double floor_mm,
                          double dt_s) {
  flags_ = {};
  double f = force_n;
  // 1. Not finite: nothing.
  if (!std::isfinite(f)) {
    flags_.nonfinite = true;
    f = 0;
  }
  // 2. The floor: downward force fades to zero above it and is zero below it.
  // `floor_allows(F)`: the most of a downward F the floor allows here (also
  // applied after the slew, which may hold a downward force it must not).
  // `fade` false: only what the floor allows absolutely (nothing at or below
  // it, the slew's plan while coming down), not the fade's proportion again.
  auto floor_allows = [&](double F, bool fade = true) {
    const double d = position_mm - std::max(floor_mm, lower_soft_mm_);  // NaN anywhere: nothing
    if (!std::isfinite(d) || d <= 0) return 0.0;
    double allowed = F;
    if (!fade) {
      const double down = -velocity_mm_s;
      if (down > 0 && std::isfinite(down)) allowed = std::min(allowed, plan_slew() * d / down);
      return allowed;
    }
    // The fade, with damping: the height it is judged at leads by the
    // velocity (a pad coming down fades early, one rising off the floor
    // finds the load again early), so that a user weaker than the load is
    // not bounced between the floor and the load.
    const double lead =
        damping_s_ > 0 && std::isfinite(velocity_mm_s) ? damping_s_ * velocity_mm_s : 0.0;
    const double d_eff = std::min(d + lead, d + damping_zone_mm_);
    if (d_eff < fade_mm_) allowed = F * std::max(0.0, d_eff) / fade_mm_;
    const double down = -velocity_mm_s;
    if (down > 0 && std::isfinite(down)) allowed = std::min(allowed, plan_slew() * d / down);
    return allowed;
  };
  if (f > 0) {
    const double allowed = floor_allows(f);
    if (allowed < f) {
      flags_.floor = true;
      f = allowed;
    }
    // Leaving the floor: the load it took away comes back at f / restore_s.
    if (restore_s_ > 0) {
      if (flags_.floor) {
        restoring_ = true;
        ceiling_ = f;
      } else if (restoring_) {
        ceiling_ += f / restore_s_ * (std::isfinite(dt_s) ? std::max(dt_s, 0.0) : 0.0);
        if (ceiling_ >= f) {
          restoring_ = false;
        } else {
          f = ceiling_;
          flags_.restore = true;
        }
      }
    }
  } else {
    restoring_ = false;  // no downward load: nothing to restore
  }
  // 3. Max load and hard cap.
  if (f > cap_) {
    f = cap_;
    flags_.cap = true;
  } else if (f < -cap_) {
    f = -cap_;
    flags_.cap = true;
  }
  // 4. Slew (a period that is not a finite, non-negative number allows no
  // change that the slew would limit).
  double step = slew_ * (std::isfinite(dt_s) ? std::max(dt_s, 0.0) : 0.0);
  if (f > last_ + step) {
    f = last_ + step;
    flags_.slew = true;
  } else if (f < last_ - step && !(flags_.floor && f >= 0)) {
    // (A reduction demanded by the floor is not held back: the drive's own
    // TORQUE_SLEW shapes it, and the anticipation above keeps it feasible.)
    f = last_ - step;
    flags_.slew = true;
  }
  // The slew must never push the command back above the cap (e.g. after a cap change),
  // nor hold a downward force that the floor does not allow here (a lift asked
  // while the last command pushed down, the pad at or below the floor).
  f = std::clamp(f, -cap_, cap_);
  if (f > 0) {
    const double allowed = floor_allows(f, false);
    if (allowed < f) {
      f = allowed;
      flags_.floor = true;
    }
  }
  last_ = f;
  return f;
}

}  // namespace soleus::controller
