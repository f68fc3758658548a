#pragma once
/// The moving part of the machine: knee pad, carriage and the motor's rotor
/// reflected through the ball screw, as one mass on a vertical axis.
/// Positions in mm above the lower hard stop, positive up.
///
/// Principle of operation (one call of step() per millisecond):
///  1. External forces on the pad: the user's contact force (up), the pad's
///     weight (down). The motor's ideal screw force is F = T·2π/lead (down for
///     positive torque).
///  2. Friction in the screw always opposes motion, so the force the motor
///     exerts at the pad depends on who drives: when the motor drives the
///     motion (or the pad moves the way the motor pushes) F·η; when the load
///     back-drives the motor, F/η. This is the ICD's mechanics table.
///  3. At rest, the pad stays stuck while the other forces lie between the two
///     (F·η … F/η): the screw's static band. With no torque the band is empty
///     and the pad moves freely (the user feels only the pad's weight).
///  4. Semi-implicit Euler at 1 kHz. The hard stops at 0 and travel_max are
///     inelastic constraints; the speed at an impact is reported.
#include "soleus/drivers/machine_config.hpp"

namespace soleus::sim {

struct PlantState {
  double x_mm = 0;    ///< pad height above the lower hard stop
  double v_mm_s = 0;  ///< positive up
  double a_mm_s2 = 0;
  double motor_force_n = 0;  ///< force the motor exerted on the pad this step, positive down
  double impact_mm_s = 0;    ///< speed of a hard-stop impact this step (0 = none)
};

class Plant {
 public:
  explicit Plant(const machine::Mechanics& m, double x0_mm = 30.0);

  /// Ideal screw force at the pad for a motor torque, N (positive down), without friction.
  double ideal_force_n(double torque_pct) const;
  /// Advances one step of `dt_s`. `torque_pct` positive pushes the pad down;
  /// `contact_n` is the user's force on the pad, positive up.
  void step(double torque_pct, double contact_n, double dt_s = 0.001);

  const PlantState& state() const { return s_; }
  void reset(double x0_mm);
  /// Puts the pad at a height, moving at a speed (tests: a pad already falling).
  void place(double x_mm, double v_mm_s);
  const machine::Mechanics& mechanics() const { return m_; }

 private:
  machine::Mechanics m_;
  PlantState s_;
};

}  // namespace soleus::sim
