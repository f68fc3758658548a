// Motion hazards of issue 10 (hazards 6, 7, 10, 11), each over seeded trials
// in the proving world: soleus-sim's drive, screw and athlete models stepped
// in-process through the daemon's drivers and controller on synthetic time.
// Every figure is judged from the models' truth (the drive model's actual
// torque and registers, the pad's true speed), never from the controller.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "soleus/proving/judges.hpp"
#include "soleus/proving/world.hpp"

using namespace soleus;
using namespace soleus::proving;

namespace {

constexpr double kMaxLoadN = 1800;     // config/sim.toml [limits] max_load_n
constexpr double kLightLoadN = 100;    // [training] calibration_load_n: the first rep's light load
constexpr double kMaxSpeedMmS = 100;   // [limits] max_speed_mm_s
constexpr double kRpmPerMmS = 6.0;     // ICD: 600 rpm = 100 mm/s

WorldOptions options(double max_s = 120) {
  WorldOptions o;
  o.config_path = SOLEUS_SOURCE_DIR "/config/sim.toml";
  o.max_s = max_s;
  return o;
}

/// The per-set SPEED_LIMIT the issue asks for, computed here from the set's
/// tempo and the athlete's true range (not from the controller's code): the
/// faster of its moving phases, with a margin of 200 % (a member may rise far
/// faster than the tempo: the drive's speed loop would brake them with up to
/// its torque limit), never above the machine's cap, never below 50 mm/s.
double set_speed_limit(double span_mm, const controller::Tempo& t) {
  double fastest = 1e9;
  for (double s : {t.concentric_s, t.eccentric_s})
    if (s > 0) fastest = std::min(fastest, s);
  if (t.concentric_s <= 0 || t.eccentric_s <= 0) return kMaxSpeedMmS;
  return std::clamp(span_mm / fastest * 3.0, 50.0, kMaxSpeedMmS);
}

/// A strong athlete who lifts the machine's maximum until rep `fail_rep`,
/// then collapses mid-rise to `fraction` of the load.
Case collapse_case(std::uint64_t seed) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 7;
  auto u = [&](double a, double b) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return a + (b - a) * static_cast<double>(x >> 11) / 9007199254740992.0;
  };
  Case c;
  c.seed = seed;
  auto& a = c.athlete;
  a.seed = seed;
  a.capacity_n = u(2300, 2800);
  a.bottom_mm = u(20, 35);
  a.top_mm = a.bottom_mm + u(60, 100);
  a.traits.enabled = true;
  a.traits.effort = sim::Effort::Track;
  a.traits.fatigue = sim::FatigueKind::FailMidRise;
  a.traits.fail_mode = sim::FailMode::Collapse;
  a.traits.collapse_fraction = u(0.15, 0.6);
  a.traits.fail_rep = 2 + static_cast<int>(u(0, 2.99));  // rep 1 is the calibration
  static const controller::Tempo tempos[] = {{4, 1, 4, 1}, {5, 0, 4, 1}, {4, 0, 5, 0}, {6, 1, 4, 1}, {5, 1, 5, 1}};
  const auto tempo = tempos[static_cast<std::size_t>(u(0, 4.99))];
  a.tempo = {tempo.eccentric_s, tempo.bottom_s, tempo.concentric_s, tempo.top_s};
  c.programme.mode = controller::Mode::Isotonic;
  c.programme.load_n = kMaxLoadN;
  c.programme.tempo = tempo;
  c.programme.target_reps = 10;
  return c;
}

}  // namespace

// Hazard 11: a member fails a rep at the machine's maximum and the load
// pushes them down. The load must fall to the first rep's light load as fast
// as the drive's armed slew allows, the pad's descent must stay within a
// SPEED_LIMIT armed in the drive for this set from its tempo and range, and
// the set must end.
TEST_CASE("hazard 11: a rep failed at 1800 N, 20 trials: the load falls to the light load within 0.8 s, descent within the set's SPEED_LIMIT + 10 %") {
  const int kTrials = 20;
  double worst_fall_s = 0, worst_speed_ratio = 0;
  for (int i = 0; i < kTrials; ++i) {
    const Case c = collapse_case(100 + static_cast<std::uint64_t>(i));
    const Outcome o = run_case(c, options());
    INFO("seed " << c.seed << " tempo " << c.programme.tempo.to_string() << " collapse "
                 << c.athlete.traits.collapse_fraction << " fail_rep " << c.athlete.traits.fail_rep);
    REQUIRE(o.error.empty());
    REQUIRE(o.athlete_events.stall_s);
    REQUIRE(o.result);
    const double tc = *o.athlete_events.stall_s;
    const double span = c.athlete.top_mm - c.athlete.bottom_mm;
    const double limit = set_speed_limit(span, c.programme.tempo);

    // 1. The load the controller writes (its command + the pad's weight)
    // reaches the light load (+ 20 N) within 0.8 s of the collapse: 0.25 s
    // to see it, then the slew. And so does the drive's actual force at the
    // pad (its torque as an ideal screw force, + down), except while the
    // drive's own speed loop brakes a pad the member pushes up at its
    // SPEED_LIMIT: that force is the member's push, met, not a load.
    double reached = -1;
    for (const auto& s : o.samples) {
      if (s.t < tc) continue;
      const bool cmd_light = !s.enabled || s.cmd + o.pad_weight_n <= kLightLoadN + 20;
      const bool actual_light =
          !s.enabled || s.ideal + o.pad_weight_n <= kLightLoadN + 20 || (s.speed_limited && s.v > 0);
      if (cmd_light && actual_light) {
        reached = s.t;
        break;
      }
    }
    REQUIRE(reached >= 0);
    worst_fall_s = std::max(worst_fall_s, reached - tc);
    CHECK(reached - tc <= 0.8);

    // 2. While the set's drive was enabled after the calibration rep, the
    // drive held this set's SPEED_LIMIT (its register, read from the model)
    // and the pad never descended faster than it + 10 %.
    REQUIRE(o.active_start_s);
    // (the calibrated range may differ from the truth by a few %: 5 % slack)
    double worst_down = 0, armed_max = 0;
    for (const auto& s : o.samples) {
      if (!s.enabled || s.t < *o.active_start_s + 0.1) continue;
      armed_max = std::max(armed_max, static_cast<double>(s.speed_limit_rpm) / kRpmPerMmS);
      worst_down = std::max(worst_down, static_cast<double>(-s.v));
    }
    CHECK(armed_max <= limit * 1.05);
    CHECK(worst_down <= limit * 1.05 * 1.1);
    worst_speed_ratio = std::max(worst_speed_ratio, worst_down / limit);

    // 3. The set ended by itself: a failed rep is a stall, with nothing unsafe.
    CHECK(o.result->reason == controller::StopReason::Stall);
    CHECK(judge_max_force(o).ok);
    CHECK(judge_unload_never_rises(o).ok);
  }
  std::printf("hazard 11: %d trials, the load at the light load at worst %.3f s after the collapse; descent at worst %.2f x the set's speed limit\n",
              kTrials, worst_fall_s, worst_speed_ratio);
}
