#include "soleus/controller/load_law.hpp"

#include <algorithm>
#include <cmath>

namespace soleus::controller {

LoadLaw::LoadLaw(const TrainingConfig& cfg, const machine::Mechanics& mech, double ramp_in_s)
    : cfg_(cfg), pad_n_(mech.pad_weight_n), ramp_in_s_(ramp_in_s) {}

void LoadLaw::begin(const SetParams& params, double position_mm) {
  p_ = params;
  base_ = 0;
  ecc_s_ = 0;
  up_ = true;
  last_felt_ = 0;
  unloading_ = false;
  hold_mm_ = params.hold_height_mm.value_or(position_mm);
  range_ = params.range.value_or(Range{});
}

LawOutput LoadLaw::update(const LawInput& in) {
  LawOutput out;
  const double v = in.velocity_mm_s;
  // 1. Friction direction with hysteresis. At rest or creeping, the screw's
  // static band allows either; "the user drives" asks the motor for F·η,
  // which gives the user at most F whichever way the pad then goes (the
  // other assumption, F/η, gives F/η² = +23 % if the user creeps up). So
  // "the motor drives" only once the pad truly descends.
  if (v < -cfg_.friction_deadband_mm_s) up_ = false;
  else if (v > -0.5 * cfg_.friction_deadband_mm_s) up_ = true;
  out.back_driven = up_;

  // 2. Base load towards its target.
  double target = in.calibrating ? cfg_.calibration_load_n : p_.load_n;
  if (in.unloading) target = std::min(target, base_);  // 7. never up while stopping
  double rate = std::max(std::max(p_.load_n, cfg_.calibration_load_n), 200.0) / ramp_in_s_;
  if (in.drop_to_light_n_per_s > 0) {  // 4b. a failed rep
    target = std::min(target, cfg_.calibration_load_n);
    rate = std::max(rate, in.drop_to_light_n_per_s);
  }
  double step = rate * in.dt_s;
  base_ = base_ < target ? std::min(target, base_ + step) : std::max(target, base_ - step);

  double felt = base_;
  if (p_.mode == Mode::Isometric && !in.calibrating) {
    // 5. Isometric hold: feed-forward of the user's force plus a soft position loop.
    double f = in.cell_force_n + cfg_.hold_stiffness_n_per_mm * (in.position_mm - hold_mm_) +
               cfg_.hold_damping_n_per_mm_s * v;
    felt = std::clamp(f, 0.0, base_);
  } else {
    // 3. Eccentric overload, changed smoothly at the top and back at the bottom.
    if (p_.mode == Mode::Eccentric && !in.calibrating) {
      double goal = (in.phase == Phase::TopPause || in.phase == Phase::Eccentric) && !in.unloading
                        ? 1.0
                        : 0.0;
      double ds = in.dt_s / cfg_.eccentric_blend_s;
      ecc_s_ = ecc_s_ < goal ? std::min(goal, ecc_s_ + ds) : std::max(goal, ecc_s_ - ds);
      double w = ecc_s_ * ecc_s_ * (3.0 - 2.0 * ecc_s_);
      out.eccentric_weight = w;
      felt = base_ * (1.0 + p_.eccentric_pct / 100.0 * w);
    }
    // 4. Pacing brake (rising too fast) and drop catch (lowering too fast).
    double span = range_.span();
    double up_limit = 0, down_limit = 0;
    if (in.calibrating) {
      up_limit = down_limit = cfg_.calibration_speed_mm_s;
    } else if (span > 0) {
      if (p_.tempo.concentric_s > 0)
        up_limit = span / p_.tempo.concentric_s * (1 + cfg_.brake_margin);
      if (p_.tempo.eccentric_s > 0)
        down_limit = span / p_.tempo.eccentric_s * (1 + cfg_.brake_margin);
    }
    if (up_limit > 0 && v > up_limit && !in.unloading) {
      out.brake_n =
          std::min(cfg_.brake_gain_n_per_mm_s * (v - up_limit), cfg_.brake_max_fraction * base_);
    } else if (down_limit > 0 && v < -down_limit) {
      // Never below the pad's own weight (the motor never lifts to catch a
      // drop; the drive's SPEED_LIMIT caps the speed): a pad that nobody
      // holds then still falls like one, which presence relies on.
      const double room = std::max(0.0, felt - std::min(felt, pad_n_));
      out.brake_n = -std::min(cfg_.brake_gain_n_per_mm_s * (-v - down_limit), room);
    }
    felt += out.brake_n;
  }
  // 7. While stopping, the felt load never rises above the previous cycle's.
  if (in.unloading) {
    if (unloading_) felt = std::min(felt, last_felt_);
    unloading_ = true;
  } else {
    unloading_ = false;
  }
  last_felt_ = felt;
  // 6. Ramp between "only the pad" and the law.
  double r = std::clamp(in.ramp, 0.0, 1.0);
  out.motor_n = r * (felt - pad_n_);
  out.felt_n = pad_n_ + out.motor_n;
  return out;
}

double LoadLaw::move_force(double target_mm, double position_mm, double velocity_mm_s,
                           double speed_mm_s, double max_lift_n) const {
  constexpr double kPositionGain = 2.0;  // 1/s: speed asked per mm of distance
  constexpr double kSpeedGain = 1.5;     // N per mm/s of speed error
  double v_des = std::clamp(kPositionGain * (target_mm - position_mm), -speed_mm_s, speed_mm_s);
  double motor = -pad_n_ + kSpeedGain * (velocity_mm_s - v_des);
  return std::clamp(motor, -max_lift_n, 0.0);
}

}  // namespace soleus::controller
