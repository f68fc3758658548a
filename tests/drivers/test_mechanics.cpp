// Mechanics of the reference machine (ICD): torque ↔ force at the pad with
// friction opposing motion, rated torque in N, rpm ↔ mm/s.
#include <doctest/doctest.h>

#include <initializer_list>

#include "soleus/machine/units.hpp"

using soleus::machine::Mechanics;

TEST_CASE("mechanics: 1 Nm is about 565.5 N down and 698.1 N up") {
  const Mechanics m;  // defaults are the reference machine
  const double one_nm_pct = 100.0 / m.rated_torque_nm;
  CHECK(m.force_from_torque_pct(one_nm_pct, false) == doctest::Approx(565.5).epsilon(0.0005));
  CHECK(m.force_from_torque_pct(one_nm_pct, true) == doctest::Approx(698.1).epsilon(0.0005));
}

TEST_CASE("mechanics: rated torque is about 1798 N down and 2220 N up") {
  const Mechanics m;
  CHECK(m.force_from_torque_pct(100.0, false) == doctest::Approx(1798.3).epsilon(0.001));
  CHECK(m.force_from_torque_pct(100.0, true) == doctest::Approx(2220.1).epsilon(0.001));
  CHECK(m.force_from_torque_pct(300.0, false) == doctest::Approx(5395).epsilon(0.001));
}

TEST_CASE("mechanics: torque for a force inverts force for a torque, per direction") {
  const Mechanics m;
  for (double f : {-500.0, 0.0, 50.0, 1800.0, 2500.0}) {
    CHECK(m.force_from_torque_pct(m.torque_pct_for_force(f, false), false) == doctest::Approx(f));
    CHECK(m.force_from_torque_pct(m.torque_pct_for_force(f, true), true) == doctest::Approx(f));
  }
  // Back-driven, a torque resists more: the same force needs less torque.
  CHECK(m.torque_pct_for_force(1800.0, true) < m.torque_pct_for_force(1800.0, false));
  CHECK(m.torque_pct_for_force(1800.0, true) == doctest::Approx(81.08).epsilon(0.001));
}

TEST_CASE("mechanics: 600 rpm is 100 mm/s of pad travel") {
  const Mechanics m;
  CHECK(m.mm_s_from_rpm(600.0) == doctest::Approx(100.0));
  CHECK(m.rpm_from_mm_s(100.0) == doctest::Approx(600.0));
  CHECK(m.mm_s_from_rpm(-3000.0) == doctest::Approx(-500.0));
}
