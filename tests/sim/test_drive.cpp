#include <doctest/doctest.h>

#include <cmath>

#include "sim_test_util.hpp"
#include "soleus/sim/drive_model.hpp"
#include "soleus/sim/plant.hpp"

using namespace soleus::sim;
namespace machine = soleus::machine;

namespace {
constexpr std::uint16_t kEnable = 1, kReset = 2, kQuickStop = 4;

/// Steps a drive `n` ms from `t` with a fixed motor speed; returns the new time.
std::int64_t run(DriveModel& d, std::int64_t t, int n, double rpm = 0) {
  for (int i = 0; i < n; ++i) d.step(rpm, ++t);
  return t;
}
}  // namespace

TEST_CASE("drive: power-up register values are the documented defaults") {
  DriveModel d;
  CHECK(d.torque_limit_pct() == doctest::Approx(300.0));
  CHECK(d.comm_timeout_ms() == 0);
  CHECK(d.speed_limit_rpm() == doctest::Approx(3000.0));
  CHECK(d.ready());
  CHECK_FALSE(d.enabled());
}

TEST_CASE("drive: ENABLE takes a 0→1 edge and removes torque when cleared") {
  DriveModel d;
  d.write_control(kEnable, 0);
  CHECK(d.enabled());
  d.write_torque_cmd(20, 0);
  run(d, 0, 10);
  CHECK(d.torque_pct() == doctest::Approx(20.0));
  d.write_control(0, 10);
  CHECK_FALSE(d.enabled());
  CHECK(d.torque_pct() == 0.0);
}

TEST_CASE(
    "drive: watchdog faults with code 6 after COMM_TIMEOUT without CONTROL or TORQUE_CMD writes") {
  DriveModel d;
  d.write_comm_timeout(100);
  d.write_control(kEnable, 0);
  d.write_torque_cmd(30, 0);
  std::int64_t t = run(d, 0, 99);
  CHECK(d.enabled());
  CHECK(d.fault_code() == 0);
  // A torque write feeds the watchdog.
  d.write_torque_cmd(30, t);
  t = run(d, t, 99);
  CHECK(d.enabled());
  t = run(d, t, 1);
  CHECK(d.fault_code() == 6);
  CHECK(d.fault());
  CHECK_FALSE(d.ready());
  CHECK_FALSE(d.enabled());
  CHECK(d.torque_pct() == 0.0);
}

TEST_CASE("drive: watchdog is inactive while disabled and when 0") {
  DriveModel d;
  d.write_comm_timeout(50);
  run(d, 0, 500);
  CHECK(d.fault_code() == 0);
  DriveModel d2;
  d2.write_control(kEnable, 0);
  run(d2, 0, 5000);
  CHECK(d2.enabled());
}

TEST_CASE("drive: FAULT_RESET acts only on a 0→1 edge with ENABLE clear") {
  DriveModel d;
  d.write_control(kEnable, 0);
  d.raise_fault(1);
  CHECK(d.fault_code() == 1);
  d.write_control(kEnable | kReset, 1);  // ENABLE set: refused
  CHECK(d.fault_code() == 1);
  d.write_control(kReset, 2);  // bit already 1: no edge
  CHECK(d.fault_code() == 1);
  d.write_control(0, 3);
  d.write_control(kReset, 4);  // edge with ENABLE clear
  CHECK(d.fault_code() == 0);
  CHECK(d.ready());
  CHECK_FALSE(d.enabled());
  d.write_control(kEnable, 5);  // ENABLE was clear before: an edge
  CHECK(d.enabled());
}

TEST_CASE("drive: a fault latches and the host cannot enable until reset") {
  DriveModel d;
  d.raise_fault(5);
  d.write_control(kEnable, 0);
  CHECK_FALSE(d.enabled());
  d.raise_fault(7);  // first fault wins
  CHECK(d.fault_code() == 5);
}

TEST_CASE(
    "drive: STO removes torque at once, blocks enabling, and needs a new ENABLE edge after "
    "release") {
  DriveModel d;
  d.write_control(kEnable, 0);
  d.write_torque_cmd(50, 0);
  run(d, 0, 20);
  REQUIRE(d.torque_pct() == doctest::Approx(50.0));
  d.set_sto(true);
  CHECK(d.sto());
  CHECK_FALSE(d.enabled());
  CHECK(d.torque_pct() == 0.0);
  CHECK(d.ready());  // STO is not a fault
  d.write_control(0, 21);
  d.write_control(kEnable, 22);
  CHECK_FALSE(d.enabled());
  d.set_sto(false);
  run(d, 22, 10);
  CHECK_FALSE(d.enabled());  // ENABLE still 1, no edge: stays off
  d.write_control(0, 40);
  d.write_control(kEnable, 41);
  CHECK(d.enabled());
}

TEST_CASE("drive: TORQUE_LIMIT clamps every command, both signs, and sets TORQUE_LIMITED") {
  DriveModel d;
  d.write_torque_limit(50);
  d.write_control(kEnable, 0);
  d.write_torque_cmd(80, 0);
  run(d, 0, 50);
  CHECK(d.torque_pct() == doctest::Approx(50.0));
  CHECK(d.torque_limited());
  d.write_torque_cmd(-80, 50);
  run(d, 50, 50);
  CHECK(d.torque_pct() == doctest::Approx(-50.0));
  CHECK(d.torque_limited());
  d.write_torque_cmd(40, 100);
  run(d, 100, 50);
  CHECK(d.torque_pct() == doctest::Approx(40.0));
  CHECK_FALSE(d.torque_limited());
}

TEST_CASE("drive: TORQUE_SLEW limits the change per millisecond") {
  DriveModel d;
  d.write_torque_slew(1.0);
  d.write_control(kEnable, 0);
  d.write_torque_cmd(50, 0);
  run(d, 0, 10);
  CHECK(d.torque_pct() == doctest::Approx(10.0));
  run(d, 10, 40);
  CHECK(d.torque_pct() == doctest::Approx(50.0));
  d.write_torque_slew(0);  // 0 = no slew limit
  d.write_torque_cmd(-20, 50);
  run(d, 50, 1);
  CHECK(d.torque_pct() == doctest::Approx(-20.0));
}

TEST_CASE(
    "drive: QUICK_STOP ramps torque to zero within 10 ms whatever TORQUE_SLEW says, then disables, "
    "enabling again takes a new edge") {
  DriveModel d;
  d.write_torque_slew(0.2);  // 0.2 %/ms: 150 % would take 750 ms at this slew
  d.write_control(kEnable, 0);
  d.write_torque_cmd(150, 0);
  run(d, 0, 800);
  REQUIRE(d.torque_pct() == doctest::Approx(150.0));
  d.write_control(kEnable | kQuickStop, 800);
  CHECK(d.quick_stopping());
  run(d, 800, 5);
  CHECK(d.enabled());
  CHECK(d.torque_pct() > 0.0);  // a ramp, not a step
  CHECK(d.torque_pct() < 100.0);
  run(d, 805, 5);  // 10 ms after the request (ICD)
  CHECK_FALSE(d.enabled());
  CHECK(d.torque_pct() == 0.0);
  d.write_control(kEnable, 820);  // ENABLE was already 1: no edge
  CHECK_FALSE(d.enabled());
  d.write_control(0, 821);
  d.write_control(kEnable, 822);
  CHECK(d.enabled());
}

namespace {
/// Drive + plant with a constant user force; returns the speed (rpm) after `ms`.
double settle(DriveModel& d, Plant& p, const soleus::machine::Mechanics& m, double user_n, int ms,
              std::int64_t& t) {
  for (int i = 0; i < ms; ++i) {
    d.step(m.rpm_from_mm_s(p.state().v_mm_s), ++t);
    p.step(d.torque_pct(), user_n);
  }
  return m.rpm_from_mm_s(p.state().v_mm_s);
}
}  // namespace

TEST_CASE("drive: the speed loop holds |speed| within SPEED_LIMIT, braking upward motion") {
  soleus::machine::Mechanics m;
  DriveModel d;
  Plant p(m, 10.0);
  d.write_speed_limit(300);  // 50 mm/s
  d.write_control(kEnable, 0);
  d.write_torque_cmd(10, 0);  // ~200 N down, the user pushes 1200 N up
  std::int64_t t = 0;
  const double rpm = settle(d, p, m, 1200, 600, t);
  CHECK(rpm == doctest::Approx(300).epsilon(0.03));
  CHECK(d.speed_limited());
  CHECK(d.torque_pct() > 10.0);  // braking adds downward torque beyond the command
  CHECK(d.fault_code() == 0);
}

TEST_CASE("drive: the speed loop brakes a falling pad too (motor pushing down, no user)") {
  soleus::machine::Mechanics m;
  DriveModel d;
  Plant p(m, 140.0);
  d.write_speed_limit(120);  // 20 mm/s
  d.write_control(kEnable, 0);
  d.write_torque_cmd(30, 0);  // ~600 N down
  std::int64_t t = 0;
  const double rpm = settle(d, p, m, 0, 800, t);
  CHECK(rpm == doctest::Approx(-120).epsilon(0.03));
  CHECK(d.speed_limited());
  CHECK(d.torque_pct() < 30.0);
}

TEST_CASE(
    "drive: speed-loop braking is clamped by TORQUE_LIMIT, beyond the margin it faults with 7") {
  soleus::machine::Mechanics m;
  DriveModel d;
  Plant p(m, 5.0);
  d.write_speed_limit(120);
  d.write_torque_limit(10);  // ~200 N of braking at most
  d.write_control(kEnable, 0);
  std::int64_t t = 0;
  settle(d, p, m, 2000, 1500, t);
  CHECK(d.fault_code() == 7);
  CHECK_FALSE(d.enabled());
}

TEST_CASE(
    "drive: supply ripple shows on the bus and ripples the torque by its share of the bus "
    "voltage") {
  DriveSettings s;
  DriveModel plain(s);
  s.ripple_v = 16.25;  // 5 % of 325 V
  DriveModel rippled(s);
  std::int64_t t = 0;
  for (DriveModel* d : {&plain, &rippled}) {
    d->write_control(0, 0);
    d->write_control(kEnable, 0);
    d->write_torque_cmd(50, 0);
  }
  double lo = 1e9, hi = -1e9, vlo = 1e9, vhi = -1e9, plain_lo = 1e9, plain_hi = -1e9;
  for (int i = 0; i < 200; ++i) {
    ++t;
    plain.step(0, t);
    rippled.step(0, t);
    plain.write_torque_cmd(50, t);
    rippled.write_torque_cmd(50, t);
    if (i < 50) continue;
    lo = std::min(lo, rippled.torque_pct());
    hi = std::max(hi, rippled.torque_pct());
    vlo = std::min(vlo, rippled.bus_voltage_v());
    vhi = std::max(vhi, rippled.bus_voltage_v());
    plain_lo = std::min(plain_lo, plain.torque_pct());
    plain_hi = std::max(plain_hi, plain.torque_pct());
  }
  CHECK(plain_hi - plain_lo < 1e-9);
  CHECK(hi == doctest::Approx(52.5).epsilon(0.01));
  CHECK(lo == doctest::Approx(47.5).epsilon(0.01));
  CHECK(vhi - vlo > 2 * 16.25 * 0.9);
}
