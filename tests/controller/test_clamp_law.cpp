// The final clamp and the load law.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "soleus/controller/clamp.hpp"
#include "soleus/controller/load_law.hpp"

using namespace soleus;
using namespace soleus::controller;

TEST_CASE("clamp: never above the max load nor the hard cap, whatever is asked") {
  machine::Limits lim;
  OutputClamp c(lim, 3, 3);
  double out = 0;
  for (int i = 0; i < 200; ++i) out = c.apply(5000, 80, 0, 20, 0.01);
  CHECK(out == doctest::Approx(1800));
  CHECK(c.flags().cap);
  lim.max_load_n = 9000;  // a configuration that slipped through: the hard cap still holds
  OutputClamp c2(lim, 3, 3);
  for (int i = 0; i < 500; ++i) out = c2.apply(1e6, 80, 0, 20, 0.01);
  CHECK(out == doctest::Approx(machine::kHardCapN));
  for (int i = 0; i < 500; ++i) out = c2.apply(-1e6, 80, 0, 20, 0.01);
  CHECK(out == doctest::Approx(-machine::kHardCapN));
}

TEST_CASE("clamp: slew limited in both directions, non-finite becomes zero") {
  machine::Limits lim;  // 6000 N/s
  OutputClamp c(lim, 3, 3);
  double prev = 0;
  for (int i = 0; i < 100; ++i) {
    double out = c.apply(i % 20 < 10 ? 1500 : -500, 80, 0, 20, 0.01);
    CHECK(std::abs(out - prev) <= 60.0 + 1e-9);
    prev = out;
  }
  c.reset(0);
  CHECK(c.apply(NAN, 80, 0, 20, 0.01) == 0);
  CHECK(c.flags().nonfinite);
}

TEST_CASE("clamp: the floor fades the downward force and never pushes below it") {
  machine::Limits lim;
  OutputClamp c(lim, 3.0, 3.0);
  c.reset(600);
  CHECK(c.apply(600, 25, 0, 20, 0.01) == doctest::Approx(600));  // 5 mm above: full
  c.reset(600);
  CHECK(c.apply(600, 21.5, 0, 20, 0.01) == doctest::Approx(300));  // half-way into the fade
  c.reset(600);
  CHECK(c.apply(600, 20, 0, 20, 0.01) == 0);  // at the floor: nothing, whatever the slew
  c.reset(600);
  CHECK(c.apply(600, 18, 0, 20, 0.01) == 0);  // below it
  c.reset(0);
  CHECK(c.apply(-200, 18, 0, 20, 0.01) ==
        doctest::Approx(-60));  // lifting is not affected (slew only)
  // Moving down fast: the force is kept low enough for the slew to reach zero at the floor.
  c.reset(1200);
  double out = c.apply(1200, 30, -100, 20, 0.01);  // 10 mm at 100 mm/s: 0.1 s × 6000 N/s
  CHECK(out <= 600.0 + 1e-9);
  // Without a user floor, the lower soft limit is the floor.
  c.reset(500);
  CHECK(c.apply(500, 2, 0, -1, 0.01) == 0);
}

TEST_CASE("clamp: the floor approach plans with the drive's armed slew, not max_slew") {
  // The reference drive's TORQUE_SLEW is armed at 0.2 %/ms (its resolution
  // floors 6000 N/s to it): about 3.6 kN/s downward. A pad 10 mm above the
  // floor falling at 100 mm/s has 0.1 s: 360 N can still be removed, not 600.
  machine::Limits lim;  // max_slew 6000 N/s
  OutputClamp c(lim, 3.0, 3.0);
  c.reset(1200);
  CHECK(c.apply(1200, 30, -100, 20, 0.01) == doctest::Approx(600));  // max_slew alone (before)
  c.set_drive_slew(3600);
  c.reset(1200);
  CHECK(c.apply(1200, 30, -100, 20, 0.01) == doctest::Approx(360));
  c.set_drive_slew(9000);  // a faster drive: max_slew still bounds the plan
  c.reset(1200);
  CHECK(c.apply(1200, 30, -100, 20, 0.01) == doctest::Approx(600));
}

TEST_CASE(
    "clamp: leaving the floor, the load it took comes back over floor_restore_s, not within its "
    "few mm") {
  machine::Limits lim;  // 6000 N/s slew
  OutputClamp c(lim, 3.0, 3.0);
  c.set_floor_restore(0.5);
  c.reset(0);
  CHECK(c.apply(480, 20, 0, 20, 0.01) == 0);  // on the floor
  // Risen 5 mm above the floor in one cycle: by height alone the load would be
  // back whole (the slew would allow 60 N); it comes back at 480 N / 0.5 s.
  double out = c.apply(480, 25, 80, 20, 0.01);
  CHECK(out == doctest::Approx(9.6));
  CHECK(c.flags().restore);
  double t = 0.01;
  while (out < 480 - 1e-9 && t < 2) {
    const double prev = out;
    out = c.apply(480, 30, 0, 20, 0.01);
    CHECK(out - prev <= 9.6 + 1e-9);
    t += 0.01;
  }
  CHECK(t == doctest::Approx(0.5).epsilon(0.05));
  CHECK_FALSE(c.flags().restore);
  // Restoring only ever lowers what is asked; a lift is not affected.
  c.reset(0);
  c.apply(480, 20, 0, 20, 0.01);
  CHECK(c.apply(5, 30, 0, 20, 0.01) <= 5);
  CHECK(c.apply(-40, 30, 0, 20, 0.01) == doctest::Approx(-40));
  // 0: by height alone, as before.
  OutputClamp h(lim, 3.0, 3.0);
  h.reset(0);
  h.apply(480, 20, 0, 20, 0.01);
  CHECK(h.apply(480, 25, 80, 20, 0.01) == doctest::Approx(60));  // only the slew holds it
}

namespace {
LawInput input(double v, Phase ph = Phase::Concentric, double pos = 60) {
  LawInput in;
  in.dt_s = 0.01;
  in.position_mm = pos;
  in.velocity_mm_s = v;
  in.phase = ph;
  in.ramp = 1;
  return in;
}
SetParams set(Mode m, double load, double ecc = 0) {
  SetParams p;
  p.mode = m;
  p.load_n = load;
  p.eccentric_pct = ecc;
  p.target_reps = 5;
  p.tempo = {3, 1, 3, 1};
  p.range = Range{20, 100};
  return p;
}
}  // namespace

TEST_CASE("load law: isotonic compensates the pad weight and picks the friction direction") {
  TrainingConfig t;
  machine::Mechanics m;
  LoadLaw law(t, m, 0.5);
  law.begin(set(Mode::Isotonic, 600), 20);
  law.set_range({20, 100});
  LawOutput o;
  for (int i = 0; i < 100; ++i) o = law.update(input(10));
  CHECK(o.felt_n == doctest::Approx(600));
  CHECK(o.motor_n == doctest::Approx(600 - m.pad_weight_n));
  CHECK(o.back_driven);
  o = law.update(input(-10, Phase::Eccentric));
  CHECK_FALSE(o.back_driven);
  o = law.update(input(-1.5, Phase::Eccentric));  // inside the hysteresis: stays down
  CHECK_FALSE(o.back_driven);
  // At rest or creeping up, "the user drives": the motor is asked F·η, which
  // never gives the user more than F (F/η would give F/η² if the user creeps).
  o = law.update(input(0, Phase::BottomPause));
  CHECK(o.back_driven);
  o = law.update(input(-10, Phase::Eccentric));
  o = law.update(input(0.5, Phase::Concentric));
  CHECK(o.back_driven);
}

TEST_CASE("load law: the pacing brake only adds load while rising faster than the tempo") {
  TrainingConfig t;
  machine::Mechanics m;
  LoadLaw law(t, m, 0.5);
  law.begin(set(Mode::Isotonic, 600), 20);
  for (int i = 0; i < 100; ++i) law.update(input(0));
  // Tempo speed 80 mm / 3 s = 26.7 mm/s, +25 % = 33.3 mm/s before braking.
  CHECK(law.update(input(30)).brake_n == 0);
  auto o = law.update(input(60));
  CHECK(o.brake_n == doctest::Approx(2 * (60 - 80.0 / 3 * 1.25)));
  CHECK(o.felt_n == doctest::Approx(600 + o.brake_n));
  CHECK(law.update(input(500)).brake_n == doctest::Approx(300));  // at most half the load
  // Lowering too fast takes load away instead (a drop is caught), never below
  // the pad's own weight (the motor does not lift to catch it).
  auto d = law.update(input(-60, Phase::Eccentric));
  CHECK(d.brake_n < 0);
  CHECK(d.felt_n < 600);
  CHECK(law.update(input(-5000, Phase::Eccentric)).felt_n == doctest::Approx(m.pad_weight_n));
}

TEST_CASE("load law: eccentric overload changes smoothly at the top and back at the bottom") {
  TrainingConfig t;
  machine::Mechanics m;
  LoadLaw law(t, m, 0.5);
  law.begin(set(Mode::Eccentric, 500, 40), 20);
  for (int i = 0; i < 200; ++i) law.update(input(0, Phase::Concentric));
  CHECK(law.update(input(0, Phase::Concentric)).felt_n == doctest::Approx(500));
  double prev = 500, max_step = 0;
  for (int i = 0; i < 100; ++i) {
    double f = law.update(input(0, i < 50 ? Phase::TopPause : Phase::Eccentric)).felt_n;
    max_step = std::max(max_step, std::abs(f - prev));
    prev = f;
  }
  CHECK(prev == doctest::Approx(700));
  // 200 N over 0.5 s with a smoothstep: the largest step is 1.5 × the mean step (4 N per 10 ms).
  CHECK(max_step <= 6.0 + 1e-6);
  CHECK(max_step > 0);
  for (int i = 0; i < 100; ++i) prev = law.update(input(0, Phase::BottomPause)).felt_n;
  CHECK(prev == doctest::Approx(500));
}

TEST_CASE("load law: isometric holds against the user's force up to the load") {
  TrainingConfig t;
  machine::Mechanics m;
  LoadLaw law(t, m, 0.5);
  SetParams p = set(Mode::Isometric, 800);
  p.target_reps = 0;
  p.hold_s = 30;
  law.begin(p, 40);
  for (int i = 0; i < 200; ++i) law.update(input(0, Phase::Hold, 40));
  LawInput in = input(0, Phase::Hold, 41);
  in.cell_force_n = 500;
  CHECK(law.update(in).felt_n == doctest::Approx(500 + 20 * 1));  // feed-forward + stiffness
  in.cell_force_n = 1500;
  CHECK(law.update(in).felt_n == doctest::Approx(800));  // the force limit of the hold
  in.cell_force_n = 0;
  in.position_mm = 35;
  CHECK(law.update(in).felt_n == doctest::Approx(0));  // below the height: no push down
}

TEST_CASE("load law: ramp between only-the-pad and the law") {
  TrainingConfig t;
  machine::Mechanics m;
  LoadLaw law(t, m, 0.5);
  law.begin(set(Mode::Isotonic, 600), 20);
  for (int i = 0; i < 100; ++i) law.update(input(0));
  LawInput in = input(0);
  in.ramp = 0;
  CHECK(law.update(in).motor_n == 0);
  in.ramp = 0.5;
  CHECK(law.update(in).motor_n == doctest::Approx(0.5 * (600 - m.pad_weight_n)));
}

TEST_CASE("move: never pushes down, lifts within its limit") {
  TrainingConfig t;
  machine::Mechanics m;
  LoadLaw law(t, m, 0.5);
  CHECK(law.move_force(10, 80, 0, 20, 250) <= 0);
  CHECK(law.move_force(10, 80, -50, 20, 250) <= 0);
  CHECK(law.move_force(120, 20, 0, 20, 250) >= -250);
  CHECK(law.move_force(120, 20, 0, 20, 250) < -m.pad_weight_n);  // lifts more than the pad
}

TEST_CASE(
    "load law: while unloading nothing raises the felt load, not the base ramp, the brake nor the "
    "eccentric blend") {
  // Issue 9: a stop right after the light first rep saw the base load go on
  // ramping from the calibration load towards the set's load while the unload
  // ramp fell: the force on the thighs rose by more than half for a moment.
  TrainingConfig t;
  machine::Mechanics m;
  LoadLaw law(t, m, 1.5);
  law.begin(set(Mode::Eccentric, 1200, 40), 20);
  law.set_range({20, 100});
  LawInput cal = input(0, Phase::None);
  cal.calibrating = true;
  for (int i = 0; i < 200; ++i) law.update(cal);  // base at the calibration load
  double prev = law.update(cal).felt_n;
  CHECK(prev == doctest::Approx(t.calibration_load_n));
  // The stop: the set's own load is the law's target now, and the user rises
  // fast at the top (the brake would add load) into the eccentric phase
  // (the blend would add 40 %). None of it may show while unloading.
  for (int i = 0; i < 300; ++i) {
    LawInput in = input(i < 100 ? 80.0 : -10.0, i < 100 ? Phase::Concentric : Phase::Eccentric);
    in.unloading = true;
    in.ramp = std::max(0.0, 1.0 - i * 0.01);
    const LawOutput o = law.update(in);
    REQUIRE(o.felt_n <= prev + 1e-9);
    CHECK(o.brake_n <= 0);
    prev = o.felt_n;
  }
}

TEST_CASE(
    "clamp: property over random inputs, NaN and +-inf: never above the cap, never below the "
    "floor's allowance, slew held") {
  // Issue 10, hazard 5: 200 000 random commands, positions, velocities, floors
  // and periods (NaN and +-inf among them), against the clamp's contract.
  machine::Limits lim;  // 1800 N cap, 6000 N/s
  OutputClamp c(lim, 3.0, 3.0);
  c.set_floor_damping(0.05, 3.0);
  c.set_floor_restore(0.5);
  c.set_drive_slew(3600);
  unsigned long long x = 88172645463325252ull;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  auto pick = [&](double lo, double hi) {
    const auto r = next() % 1000;
    if (r < 10) return std::numeric_limits<double>::quiet_NaN();
    if (r < 20) return std::numeric_limits<double>::infinity();
    if (r < 30) return -std::numeric_limits<double>::infinity();
    return lo + (hi - lo) * static_cast<double>(next() % 1000001) / 1e6;
  };
  double prev = 0;
  for (int i = 0; i < 200000; ++i) {
    const double f = pick(-5000, 5000), pos = pick(-10, 160), vel = pick(-300, 300),
                 floor = pick(-5, 60);
    const double dt = (next() % 50 == 0) ? pick(0, 0.05) : 0.01;
    const double out = c.apply(f, pos, vel, floor, dt);
    REQUIRE(std::isfinite(out));
    CHECK(std::fabs(out) <= 1800.0 + 1e-9);
    // A non-finite command goes to nothing (through the slew: never growing).
    if (!std::isfinite(f)) CHECK(std::fabs(out) <= std::fabs(prev) + 1e-9);
    // Never more than asked in the same direction (the clamp only lowers).
    if (std::isfinite(f) && f >= 0) CHECK(out <= std::max(f, prev) + 1e-9);
    // Downward force at or below the floor (or the lower soft limit): none.
    if (std::isfinite(pos) && out > 0)
      CHECK(pos > std::max(std::isfinite(floor) ? floor : -1e9, 3.0));
    // Rises are slew-limited; a period that is not a finite, non-negative
    // number allows no rise at all.
    const double allowed_dt = std::isfinite(dt) && dt >= 0 ? dt : 0.0;
    if (out > prev) CHECK(out - prev <= 6000.0 * allowed_dt + 1e-6);
    prev = out;
  }
}
