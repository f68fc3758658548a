// Whole sets on the plant model, sample by sample at 100 Hz.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "rig.hpp"

using namespace soleus::controller;
using namespace soleus::controller::test;

TEST_CASE("strong athlete: 15 reps counted, target reached, TUT within 5 % of the prescription") {
  Rig rig;
  rig.boot();
  REQUIRE(rig.state() == SetState::Idle);
  auto p = Rig::isotonic(600, 15);
  REQUIRE_FALSE(rig.ctl->start_set(p, rig.t));
  bool ended = rig.run_until([&] { return !rig.sink.results.empty(); }, 200);
  REQUIRE(ended);
  const auto& r = rig.sink.results.back();
  CHECK(r.reason == StopReason::TargetReached);
  CHECK(r.reps == 15);
  CHECK(rig.sink.counted() == 15);
  CHECK(r.partial_reps == 0);
  CHECK(r.tut_s == doctest::Approx(15 * 8.0).epsilon(0.05));
  CHECK(r.range_calibrated);
  CHECK(r.range.bottom_mm == doctest::Approx(20).epsilon(0.1));
  CHECK(r.range.top_mm == doctest::Approx(100).epsilon(0.05));
  for (auto& rep : rig.sink.reps) {
    CHECK(rep.mean_force_n == doctest::Approx(600).epsilon(0.1));
    CHECK(rep.on_tempo);
  }
  CHECK(rig.state() == SetState::Rest);
  CHECK_FALSE(rig.cmd.enable);
}
TEST_CASE("debug dump" * doctest::skip()) {
  Rig rig;
  rig.boot();
  auto p = Rig::isotonic(600, 15);
  rig.ctl->start_set(p, rig.t);
  rig.run_until([&] { return !rig.sink.results.empty(); }, 200);
  for (auto& r : rig.sink.reps)
    MESSAGE(r.seq << " n" << r.n << " c" << r.counted << " conc " << r.concentric_s << " top " << r.top_pause_s
            << " ecc " << r.eccentric_s << " bot " << r.bottom_pause_s << " rom " << r.rom_mm << " F " << r.mean_force_n
            << " pk " << r.peak_force_n << " v " << r.mean_velocity_mm_s << " sm " << r.smoothness << " rev " << r.reversals
            << " dev " << r.tempo_deviation_s);
  for (auto& e : rig.sink.events) MESSAGE(e.t_s << " " << to_string(e.code) << " " << e.text_view());
}
