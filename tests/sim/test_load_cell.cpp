#include <doctest/doctest.h>

#include <cmath>

#include "soleus/sim/load_cell_model.hpp"

using namespace soleus::sim;

namespace {
std::int64_t run(LoadCellModel& c, std::int64_t t, int ms, double force) {
  for (int i = 0; i < ms; ++i) c.step(force, ++t);
  return t;
}
}  // namespace

TEST_CASE("load cell: the sample counter counts 200 samples a second and wraps at the modulo") {
  LoadCellModel c;
  const auto t = run(c, 0, 1000, 0);
  CHECK(c.counter() == 200);
  LoadCellSettings s;
  s.counter_modulo = 16;
  LoadCellModel w(s);
  run(w, 0, 100, 0);  // 20 samples
  CHECK(w.counter() == 4);
  (void)t;
}

TEST_CASE("load cell: reads the contact force after power-up, tare zeroes the present force") {
  LoadCellModel c;
  std::int64_t t = run(c, 0, 200, 500);
  CHECK(c.force_n() == doctest::Approx(500).epsilon(0.01));
  CHECK(c.stable());
  REQUIRE(c.write_command(1, 1, 2));
  CHECK(c.command() == 1);
  t = run(c, t, 5, 500);
  CHECK(c.tare_busy());
  t = run(c, t, 100, 500);
  CHECK_FALSE(c.tare_busy());
  CHECK(c.command() == 0);
  CHECK(std::fabs(c.force_n()) < 2.0);
  t = run(c, t, 100, 700);
  CHECK(c.force_n() == doctest::Approx(200).epsilon(0.02));
}

TEST_CASE("load cell: overload latches beyond 5 kN until command 2 clears it") {
  LoadCellModel c;
  std::int64_t t = run(c, 0, 20, 5100);
  CHECK(c.overload());
  t = run(c, t, 100, 100);
  CHECK(c.overload());
  REQUIRE(c.write_command(2, 1, 2));
  t = run(c, t, 10, 100);
  CHECK_FALSE(c.overload());
  CHECK(c.command() == 0);
}

TEST_CASE("load cell: refuses unknown commands and filter levels beyond 9") {
  LoadCellModel c;
  CHECK_FALSE(c.write_command(7, 1, 2));
  CHECK(c.write_filter(9));
  CHECK_FALSE(c.write_filter(10));
  CHECK(c.filter() == 9);
}

TEST_CASE("load cell: freeze stops the counter and the value, ADC error and NaN are reported") {
  LoadCellModel c;
  std::int64_t t = run(c, 0, 100, 300);
  const auto n = c.counter();
  c.set_frozen(true);
  t = run(c, t, 100, 900);
  CHECK(c.counter() == n);
  CHECK(c.force_n() == doctest::Approx(300).epsilon(0.02));
  c.set_frozen(false);
  c.set_adc_error(true);
  t = run(c, t, 200, 900);
  CHECK(c.adc_error());
  CHECK(c.counter() != n);
  CHECK_FALSE(c.stable());
  c.set_adc_error(false);
  c.set_nan(true);
  run(c, t, 10, 900);
  CHECK(std::isnan(c.force_n()));
}

TEST_CASE(
    "load cell: a value freeze holds FORCE while the counter goes on, and lets go when cleared") {
  LoadCellModel c;
  std::int64_t t = run(c, 0, 100, 300);
  c.set_value_frozen(true);
  const double held = c.force_n();
  const auto n = c.counter();
  t = run(c, t, 500, 900);
  CHECK(c.value_frozen());
  CHECK(c.counter() == (n + 100) % 65536);  // 200 samples a second: 100 in 500 ms
  CHECK(c.force_n() == held);
  c.set_value_frozen(false);
  run(c, t, 100, 900);
  CHECK(c.force_n() == doctest::Approx(900).epsilon(0.02));
}

TEST_CASE("load cell: a heavier filter smooths a step more slowly") {
  LoadCellModel a, b;
  a.write_filter(0);
  b.write_filter(9);
  run(a, 0, 100, 0);
  run(b, 0, 100, 0);
  run(a, 100, 20, 1000);
  run(b, 100, 20, 1000);
  CHECK(a.force_n() == doctest::Approx(1000).epsilon(0.01));
  CHECK(b.force_n() < 600);
}

TEST_CASE("load cell: drift stays within its rate and its bound, and none by default") {
  LoadCellSettings s;
  s.noise_n = 0;
  LoadCellModel still(s);
  s.drift_n_per_s = 0.5;
  s.drift_max_n = 3;
  LoadCellModel drifting(s);
  double prev = 0, max_rate = 0, max_abs = 0, first_10s = 0;
  for (std::int64_t ms = 1; ms <= 120000; ++ms) {
    still.step(100, ms);
    drifting.step(100, ms);
    if (ms % 5 == 0) {
      const double f = drifting.force_n();
      if (ms > 5) max_rate = std::max(max_rate, std::fabs(f - prev) * 200.0);
      prev = f;
      max_abs = std::max(max_abs, std::fabs(f - 100));
      if (ms == 10000) first_10s = std::fabs(f - 100);
    }
  }
  CHECK(still.force_n() == doctest::Approx(100).epsilon(1e-9));
  CHECK(max_rate <= 0.5 + 1e-6);
  CHECK(max_abs <= 3.0 + 1e-6);
  CHECK(max_abs > 1.0);  // it does drift
  CHECK(first_10s < 0.5 * 10 + 1e-6);
}

TEST_CASE("load cell: STABLE needs 20 samples within 2 N (fixed ring)") {
  LoadCellSettings s;
  s.noise_n = 0;
  LoadCellModel c(s);
  std::int64_t ms = 0;
  for (int i = 0; i < 19; ++i) c.step(100, ms += 5);
  CHECK_FALSE(c.stable());
  c.step(100, ms += 5);
  CHECK(c.stable());
  c.step(103, ms += 5);
  CHECK_FALSE(c.stable());
  for (int i = 0; i < 18; ++i) c.step(103, ms += 5);
  CHECK_FALSE(c.stable());  // one 100 N sample is still among the last 20
  c.step(103, ms += 5);
  CHECK(c.stable());
}
