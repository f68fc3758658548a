#include <doctest/doctest.h>

#include "soleus/sim/plant.hpp"

using namespace soleus::sim;
namespace machine = soleus::machine;

namespace {
void run(Plant& p, double torque_pct, double user_n, int ms) {
  for (int i = 0; i < ms; ++i) p.step(torque_pct, user_n);
}
}  // namespace

TEST_CASE("plant: ideal screw force is T·2π/lead (1 Nm ≈ 628 N)") {
  soleus::machine::Mechanics m;
  Plant p(m);
  CHECK(p.ideal_force_n(100.0 / 3.18) == doctest::Approx(628.3).epsilon(0.001));
}

TEST_CASE("plant: friction depends on who drives (the ICD's mechanics table)") {
  soleus::machine::Mechanics m;  // 100 % = 3.18 Nm → 1998 N ideal; η = 0.9
  const double ideal = 1998.0, w = m.pad_weight_n;
  // To lift against the motor, the user must overcome F/η + weight ≈ 2298 N.
  SUBCASE("the user below F/η + W cannot lift, above F·η + W the pad does not sink") {
    Plant p(m, 50);
    run(p, 100, 2250, 500);
    CHECK(p.state().x_mm == doctest::Approx(50.0).epsilon(0.0001));
    CHECK(p.state().v_mm_s == 0.0);
  }
  SUBCASE("above F/η + W it rises") {
    Plant p(m, 50);
    run(p, 100, ideal / 0.9 + w + 50, 500);
    CHECK(p.state().x_mm > 50.5);
    // The motor's force at the pad while back-driven is F/η.
    CHECK(p.state().motor_force_n == doctest::Approx(ideal / 0.9).epsilon(0.01));
  }
  SUBCASE("below F·η + W the motor drives it down, with F·η at the pad") {
    Plant p(m, 50);
    run(p, 100, ideal * 0.9 + w - 50, 500);
    CHECK(p.state().x_mm < 49.5);
    CHECK(p.state().motor_force_n == doctest::Approx(ideal * 0.9).epsilon(0.01));
  }
}

TEST_CASE(
    "plant: with no torque the pad falls under its own weight and stops at the lower hard stop") {
  soleus::machine::Mechanics m;
  Plant p(m, 20);
  run(p, 0, 0, 100);
  // a = W/m ≈ 0.714 m/s² → after 0.1 s about 71 mm/s down.
  CHECK(p.state().v_mm_s == doctest::Approx(-71.4).epsilon(0.02));
  run(p, 0, 0, 1000);
  CHECK(p.state().x_mm == 0.0);
  CHECK(p.state().v_mm_s == 0.0);
  // The user holding exactly the pad's weight keeps it still.
  Plant q(m, 60);
  run(q, 0, m.pad_weight_n, 1000);
  CHECK(q.state().x_mm == doctest::Approx(60.0));
}

TEST_CASE("plant: the upper hard stop holds and reports the impact speed") {
  soleus::machine::Mechanics m;
  Plant p(m, 140);
  double impact = 0;
  for (int i = 0; i < 2000 && impact == 0; ++i) {
    p.step(0, 1500);
    impact = p.state().impact_mm_s;
  }
  CHECK(impact > 0);
  CHECK(p.state().x_mm == doctest::Approx(m.travel_max_mm));
}

TEST_CASE("plant: place() puts the pad at a height with a speed, and it goes on from there") {
  soleus::machine::Mechanics m;
  Plant p(m, 20);
  p.place(120, -150);
  CHECK(p.state().x_mm == 120);
  CHECK(p.state().v_mm_s == -150);
  run(p, 0, 0, 10);
  CHECK(p.state().v_mm_s == doctest::Approx(-150 - 7.1).epsilon(0.01));
  CHECK(p.state().x_mm < 120 - 1.5);
}
