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

#include "sim_world.hpp"
#include "soleus/proving/judges.hpp"
#include "soleus/proving/world.hpp"

using namespace soleus;
using namespace soleus::proving;
using namespace soleus::proving::test;

namespace {

constexpr double kMaxLoadN = 1800;    // config/sim.toml [limits] max_load_n
constexpr double kLightLoadN = 100;   // [training] calibration_load_n: the first rep's light load
constexpr double kMaxSpeedMmS = 100;  // [limits] max_speed_mm_s
constexpr double kRpmPerMmS = 6.0;    // ICD: 600 rpm = 100 mm/s

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
  static const controller::Tempo tempos[] = {
      {4, 1, 4, 1}, {5, 0, 4, 1}, {4, 0, 5, 0}, {6, 1, 4, 1}, {5, 1, 5, 1}};
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
TEST_CASE(
    "hazard 11: a rep failed at 1800 N, 20 trials: the load falls to the light load within 0.8 s, "
    "descent within the set's SPEED_LIMIT + 10 %") {
  const int kTrials = 20;
  double worst_fall_s = 0, worst_speed_ratio = 0;
  for (int i = 0; i < kTrials; ++i) {
    const Case c = collapse_case(100 + static_cast<std::uint64_t>(i));
    const Outcome o = run_case(c, sim_world(120));
    INFO("seed " << c.seed << " tempo " << c.programme.tempo.to_string() << " collapse "
                 << c.athlete.traits.collapse_fraction << " fail_rep "
                 << c.athlete.traits.fail_rep);
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
      const bool actual_light = !s.enabled || s.ideal + o.pad_weight_n <= kLightLoadN + 20 ||
                                (s.speed_limited && s.v > 0);
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
  std::printf(
      "hazard 11: %d trials, the load at the light load at worst %.3f s after the collapse; "
      "descent at worst %.2f x the set's speed limit\n",
      kTrials, worst_fall_s, worst_speed_ratio);
}

namespace {

/// A strong athlete at the machine's maximum who lets go (leave kind) in rep
/// `leave_rep`, mid-rise or mid-lowering.
Case release_case(std::uint64_t seed, sim::Leave kind) {
  Case c = collapse_case(seed);
  auto& tr = c.athlete.traits;
  tr.fatigue = sim::FatigueKind::None;
  tr.leave = kind;
  tr.leave_rep = c.athlete.traits.fail_rep;
  return c;
}

}  // namespace

// Hazard 6: the member lets go at 1800 N, mid-rise or mid-lowering. The pad
// then falls as fast as the drive lets it: never faster than the set's
// speed limit (hazard 11's V) + 10 %, nor the machine's cap + 10 %.
TEST_CASE(
    "hazard 6: a release at 1800 N mid-rise and mid-lowering, 20 trials each: the pad's speed "
    "within the limit + 10 %") {
  double worst = 0;
  for (const sim::Leave kind : {sim::Leave::MidRise, sim::Leave::MidLowering}) {
    for (int i = 0; i < 20; ++i) {
      const Case c = release_case(300 + static_cast<std::uint64_t>(i), kind);
      const Outcome o = run_case(c, sim_world(120));
      INFO("seed " << c.seed << " " << sim::to_string(kind) << " tempo "
                   << c.programme.tempo.to_string());
      REQUIRE(o.error.empty());
      REQUIRE(o.athlete_events.left_s);
      REQUIRE(o.result);
      const double limit =
          set_speed_limit(c.athlete.top_mm - c.athlete.bottom_mm, c.programme.tempo);
      double fastest = 0;
      for (const auto& s : o.samples)
        if (s.enabled) fastest = std::max(fastest, static_cast<double>(std::fabs(s.v)));
      CHECK(fastest <= limit * 1.05 * 1.1);
      CHECK(fastest <= kMaxSpeedMmS * 1.1);
      worst = std::max(worst, fastest / limit);
      CHECK(o.result->reason == controller::StopReason::UserLeft);
      CHECK(judge_max_force(o).ok);
      CHECK(judge_end_of_range(o).ok);
    }
  }
  std::printf(
      "hazard 6: 40 releases at 1800 N, pad speed while enabled at worst %.2f x the set's speed "
      "limit\n",
      worst);
}

// Hazard 7, the state the world did not reach before: STO while a technician
// holds hold-to-move. The drive is disabled at once and stays so, also after
// STO is released and the control is still held, until a reset.
TEST_CASE("hazard 7: STO during hold-to-move: disabled at once, no motion until a reset") {
  Case c = collapse_case(400);
  c.athlete.traits.enabled = false;
  c.moves.push_back({1.0, 6.0, 120.0});  // held up towards 120 mm for 5 s
  c.faults.push_back({2.0, R"({"cmd":"fault","kind":"sto","on":true})"});
  c.faults.push_back({3.0, R"({"cmd":"fault","kind":"sto","on":false})"});
  WorldOptions wo = sim_world(8.0);
  const Outcome o = run_case(c, wo);
  REQUIRE(o.error.empty());
  // The move ran (the drive enabled, the pad rising) before the STO.
  bool moved = false;
  for (const auto& s : o.samples)
    if (s.t > 1.0 && s.t < 2.0 && s.enabled && s.v > 1.0) moved = true;
  CHECK(moved);
  double last_enabled = 0;
  for (const auto& s : o.samples)
    if (s.enabled) last_enabled = s.t;
  CHECK(last_enabled <= 2.0 + 0.002);  // the STO's own millisecond
  CHECK(std::any_of(o.events.begin(), o.events.end(), [](const controller::Event& e) {
    return e.code == controller::EventCode::Sto;
  }));
}

// Hazard 10, the ends of the travel: hold-to-move held towards both hard
// stops (the lower at 0 mm, the upper at travel_max 150 mm) stops short of
// them, and a move never pushes down.
TEST_CASE(
    "hazard 10: hold-to-move held towards both hard stops stops before them and never pushes "
    "down") {
  for (const double target : {-50.0, 400.0}) {
    Case c = collapse_case(401);
    c.athlete.traits.enabled = false;
    c.athlete.capacity_n = 0;  // nobody under the pad
    c.moves.push_back({1.0, 9.0, target});
    const Outcome o = run_case(c, sim_world(10.0));
    INFO("target " << target);
    REQUIRE(o.error.empty());
    double lo = 1e9, hi = -1e9, push_down = 0;
    for (const auto& s : o.samples) {
      if (s.t < 1.0) continue;
      lo = std::min(lo, static_cast<double>(s.pad));
      hi = std::max(hi, static_cast<double>(s.pad));
      if (s.enabled) push_down = std::max(push_down, static_cast<double>(s.ideal));
    }
    CHECK(hi <= 150.0 - 1.0);
    if (target > 100) CHECK(hi >= 140.0);  // it did go up
    CHECK(push_down <= 1.0);               // lifts or holds, never pushes down
    (void)lo;
  }
}

// Hazard 10, the user's floor at the machine's maximum: 20 members who rest
// on their heels at the bottom of a rep under 1800 N (a mid-set rest, the
// muscles off): the motor never presses the heel more than the floor's fade
// (3 mm, ~900 N on soleus-sim's heel stop) beyond the athlete's anatomical
// bottom while it pushes down.
TEST_CASE(
    "hazard 10: resting on the heels at 1800 N, 20 trials: the heel never pressed beyond the "
    "bottom by more than the fade") {
  double worst_mm = 0;
  int flagged = 0;
  for (int i = 0; i < 20; ++i) {
    Case c = collapse_case(500 + static_cast<std::uint64_t>(i));
    auto& tr = c.athlete.traits;
    tr.fatigue = sim::FatigueKind::None;
    tr.mid_rest_p = 1.0;
    tr.mid_rest_where = sim::RestWhere::Bottom;
    tr.mid_rest_min_s = 2.0;
    tr.mid_rest_max_s = 4.0;
    c.programme.target_reps = 4;
    const Outcome o = run_case(c, sim_world(120));
    INFO("seed " << c.seed);
    REQUIRE(o.error.empty());
    REQUIRE(!o.athlete_events.rests.empty());
    const Verdict v = judge_end_of_range(o);
    INFO(v.why);
    CHECK(v.ok);
    flagged += v.ok ? 0 : 1;
    for (const auto& s : o.samples)
      if (s.enabled && !s.away && s.motor > 100 && s.v <= 1.0)
        worst_mm = std::max(worst_mm, c.athlete.bottom_mm - static_cast<double>(s.heel));
  }
  std::printf(
      "hazard 10: 20 rests on the heels at 1800 N: the heel at worst %.2f mm below its bottom "
      "while the motor pushed (fade 3 mm); %d over\n",
      worst_mm, flagged);
}
