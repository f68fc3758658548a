#include "soleus/sim/plant.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace soleus::sim {

namespace {
constexpr double kStillMmS = 0.05;  // below this the pad counts as at rest
}

Plant::Plant(const machine::Mechanics& m, double x0_mm) : m_(m) { reset(x0_mm); }

void Plant::reset(double x0_mm) {
  s_ = PlantState{};
  s_.x_mm = std::clamp(x0_mm, 0.0, m_.travel_max_mm);
}

void Plant::place(double x_mm, double v_mm_s) {
  reset(x_mm);
  s_.v_mm_s = v_mm_s;
}

double Plant::ideal_force_n(double torque_pct) const {
  const double nm = torque_pct / 100.0 * m_.rated_torque_nm;
  return nm * 2.0 * std::numbers::pi / (m_.screw_lead_mm / 1000.0);
}

void Plant::step(double torque_pct, double contact_n, double dt_s) {
  const double eta = m_.efficiency;
  const double fm = -ideal_force_n(torque_pct);  // motor's ideal force, positive UP
  const double f_ext = contact_n - m_.pad_weight_n;
  const double mass = m_.moving_mass_kg;
  double f_motor = 0;  // effective motor force on the pad, positive up
  double v = s_.v_mm_s;

  if (std::fabs(v) < kStillMmS) {
    // At rest: can the screw (between fm·η and fm/η) hold the other forces?
    const double a1 = fm * eta, a2 = fm / eta;
    const double lo = std::min(a1, a2), hi = std::max(a1, a2);
    const double needed = -f_ext;
    if (needed >= lo && needed <= hi) {
      f_motor = needed;
      v = 0;
    } else {
      // Breaks away; the limit reached is the one on the side it moves to.
      f_motor = needed > hi ? hi : lo;
    }
  } else {
    const bool motor_drives = fm * v > 0;
    f_motor = motor_drives ? fm * eta : fm / eta;
  }

  double a = (f_ext + f_motor) / mass * 1000.0;  // mm/s²
  double v_new = v + a * dt_s;
  // A reversal passes through rest, where the static band decides (next step).
  if (v != 0 && v_new * v < 0) v_new = 0;
  double x_new = s_.x_mm + v_new * dt_s;

  s_.impact_mm_s = 0;
  if (x_new <= 0.0) {
    if (s_.v_mm_s < 0) s_.impact_mm_s = -s_.v_mm_s;
    x_new = 0.0;
    v_new = std::max(0.0, v_new);
  } else if (x_new >= m_.travel_max_mm) {
    if (s_.v_mm_s > 0) s_.impact_mm_s = s_.v_mm_s;
    x_new = m_.travel_max_mm;
    v_new = std::min(0.0, v_new);
  }
  s_.a_mm_s2 = (v_new - s_.v_mm_s) / dt_s;
  s_.x_mm = x_new;
  s_.v_mm_s = v_new;
  s_.motor_force_n = -f_motor;
}

}  // namespace soleus::sim
