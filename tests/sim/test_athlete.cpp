#include <doctest/doctest.h>

#include <cmath>

#include "sim_test_util.hpp"
#include "soleus/sim/machine.hpp"

using namespace soleus::sim;

namespace {
/// A host that enables the drive and holds a constant force (N, down) at the pad.
struct Rig {
  explicit Rig(AthleteSettings a) : m(test::load_config(), a, 7) {}
  void load(double force_n) {
    m.drive().write_control(0, m.now_ms());
    m.drive().write_control(1, m.now_ms());
    m.drive().write_torque_cmd(force_n / m.plant().ideal_force_n(1.0), m.now_ms());
  }
  void run_s(double s) {
    for (int i = 0; i < static_cast<int>(s * 1000); ++i) m.step();
  }
  Machine m;
};
}  // namespace

TEST_CASE("athlete: parses tempos and styles") {
  Tempo t;
  CHECK(parse_tempo("3-1-3-1", t));
  CHECK(t.eccentric_s == 3);
  CHECK(t.concentric_s == 3);
  CHECK(parse_tempo("2.5-0-1.5-0.5", t));
  CHECK(t.top_s == 0.5);
  CHECK_FALSE(parse_tempo("3-1-3", t));
  CHECK_FALSE(parse_tempo("3-1-0-1", t));  // no zero-length concentric
  CHECK_FALSE(parse_tempo("3-1-3-1x", t));
  AthleteStyle s;
  CHECK(parse_style("push_hard", s));
  CHECK(s == AthleteStyle::PushHard);
  CHECK_FALSE(parse_style("lazy", s));
}

TEST_CASE("athlete: waits relaxed on its heels until load comes on") {
  Rig r(AthleteSettings{});
  r.run_s(2.0);
  CHECK(r.m.athlete().phase() == AthletePhase::Waiting);
  // The pad rests on the thighs: the contact carries the pad's weight.
  CHECK(r.m.athlete().contact_n() == doctest::Approx(r.m.config().mechanics.pad_weight_n).epsilon(0.05));
  r.load(400);
  r.run_s(0.3);
  CHECK(r.m.athlete().phase() == AthletePhase::Waiting);
  r.run_s(0.4);
  CHECK(r.m.athlete().phase() == AthletePhase::Concentric);
}

TEST_CASE("athlete: a tempo athlete against a constant load does full reps with the tempo's timing") {
  AthleteSettings a;
  a.tempo = Tempo{2, 0.5, 2, 0.5};
  a.capacity_n = 1500;
  Rig r(a);
  r.load(500);
  r.run_s(0.5 + 5.0 * 6 + 1.0);  // six reps of 5 s
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 6);
  for (const auto& rep : reps) {
    CHECK(rep.full);
    CHECK(rep.range_fraction == doctest::Approx(1.0).epsilon(0.03));
    CHECK(rep.concentric_s == doctest::Approx(2.0).epsilon(0.1));
    CHECK(rep.eccentric_s == doctest::Approx(2.0).epsilon(0.1));
    CHECK(rep.top_pause_s == doctest::Approx(0.5).epsilon(0.1));
    // Pushing just as hard as needed: load + weight, back-driving the screw (F/η).
    CHECK(rep.mean_concentric_n == doctest::Approx(500 / 0.9 + 78.5).epsilon(0.06));
  }
  CHECK(reps[1].bottom_pause_s == doctest::Approx(0.5).epsilon(0.1));
  CHECK(r.m.athlete().partial_reps() == 0);
}

TEST_CASE("athlete: stops doing reps when the load goes away") {
  AthleteSettings a;
  a.tempo = Tempo{1, 0, 1, 0};
  Rig r(a);
  r.load(300);
  r.run_s(3.3);
  r.m.drive().write_control(0, r.m.now_ms());
  r.run_s(3.0);
  CHECK(r.m.athlete().phase() == AthletePhase::Waiting);
  const auto n = r.m.athlete().reps().size();
  r.run_s(2.0);
  CHECK(r.m.athlete().reps().size() == n);
}

TEST_CASE("athlete: half_range does an honest full first rep, then half-range partials") {
  AthleteSettings a;
  a.style = AthleteStyle::HalfRange;
  a.tempo = Tempo{1.5, 0.5, 1.5, 0.5};
  Rig r(a);
  r.load(400);
  r.run_s(0.5 + 4.0 * 5);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 4);
  CHECK(reps[0].full);
  for (std::size_t i = 1; i < reps.size(); ++i) {
    CHECK_FALSE(reps[i].full);
    CHECK(reps[i].range_fraction == doctest::Approx(0.5).epsilon(0.08));
  }
  CHECK(r.m.athlete().full_reps() == 1);
}

TEST_CASE("athlete: shrinking_range loses range rep by rep") {
  AthleteSettings a;
  a.style = AthleteStyle::ShrinkingRange;
  a.shrink_per_rep = 0.05;
  a.tempo = Tempo{1, 0, 1, 0};
  Rig r(a);
  r.load(300);
  r.run_s(0.5 + 2.0 * 6 + 0.5);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 5);
  CHECK(reps[0].full);
  CHECK(reps[1].full);  // 95 %
  for (std::size_t i = 1; i < reps.size(); ++i) CHECK(reps[i].range_mm < reps[i - 1].range_mm);
  CHECK_FALSE(reps[3].full);  // 85 %
}

TEST_CASE("athlete: push_hard pushes at its capacity and fatigues, truth finds the force drop") {
  AthleteSettings a;
  a.style = AthleteStyle::PushHard;
  a.capacity_n = 1200;
  a.fatigue_rate = 0.05;
  a.tempo = Tempo{1.5, 0.5, 1.5, 0.5};
  Rig r(a);
  r.m.drive().write_speed_limit(300);  // the drive paces it at 50 mm/s
  r.load(400);
  r.run_s(0.5 + 5.0 * 8);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 7);
  CHECK(reps[0].mean_concentric_n > 1000);
  CHECK(reps[0].peak_concentric_n == doctest::Approx(1200).epsilon(0.05));
  CHECK(reps[3].mean_concentric_n < reps[0].mean_concentric_n);
  CHECK(r.m.athlete().capacity_n() < 1200 * 0.75);
  // 0.95^n < 0.8 first at n = 5: the 6th rep pushes with 1200·0.95^5.
  const auto drop = r.m.athlete().first_drop_rep(20);
  REQUIRE(drop);
  CHECK(*drop >= 5);
  CHECK(*drop <= 7);
  // Leaving out a calibration rep moves the best one rep later, and the drop with it.
  const auto drop_skip = r.m.athlete().first_drop_rep(20, 1);
  REQUIRE(drop_skip);
  CHECK(*drop_skip >= *drop);
  CHECK(*drop_skip <= *drop + 1);
  for (const auto& rep : reps) CHECK(rep.full);
}

TEST_CASE("athlete: relax goes limp at the bottom after N reps and rests on its heels") {
  AthleteSettings a;
  a.style = AthleteStyle::Relax;
  a.after_reps = 2;
  a.tempo = Tempo{1, 0.5, 1, 0.5};
  Rig r(a);
  r.load(600);
  r.run_s(0.5 + 3.0 * 3);
  CHECK(r.m.athlete().phase() == AthletePhase::Relaxed);
  CHECK(r.m.athlete().reps().size() == 2);
  const auto& ps = r.m.plant().state();
  CHECK(ps.x_mm < a.bottom_mm);
  CHECK(ps.x_mm > a.bottom_mm - 5);
  CHECK(r.m.athlete().muscle_n() == 0);
  // The heels carry the load (motor F·η + pad weight), and the load cell sees it.
  CHECK(r.m.athlete().heel_n() == doctest::Approx(600 * 0.9 + 78.5).epsilon(0.05));
  CHECK(r.m.cell().force_n() == doctest::Approx(600 * 0.9 + 78.5).epsilon(0.05));
}

TEST_CASE("athlete: let_go leaves the pad at the top after N reps, no contact at all") {
  AthleteSettings a;
  a.style = AthleteStyle::LetGo;
  a.after_reps = 2;
  a.tempo = Tempo{1, 0.5, 1, 0.5};
  Rig r(a);
  r.m.drive().write_speed_limit(600);
  r.load(300);
  r.run_s(0.5 + 3.0 * 2 + 3.0);  // two reps, then the third reaches the top (speed-capped at 100 mm/s)
  CHECK(r.m.athlete().phase() == AthletePhase::LetGo);
  CHECK(r.m.athlete().contact_n() == 0);
  r.run_s(3.0);
  CHECK(r.m.plant().state().x_mm == 0.0);  // the motor pushed the pad to the lower stop
  CHECK(std::fabs(r.m.cell().force_n()) < 3.0);
  CHECK(r.m.athlete().full_reps() == 2);
}

TEST_CASE("athlete: bounce does fast reps and lands on its heels") {
  AthleteSettings a;
  a.style = AthleteStyle::Bounce;
  Rig r(a);
  r.m.drive().write_speed_limit(1200);
  r.load(300);
  r.run_s(0.5 + 6.0);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 4);
  for (const auto& rep : reps) {
    CHECK(rep.concentric_s < 1.2);
    CHECK(rep.bottom_pause_s == 0);
  }
}

TEST_CASE("athlete: isometric pushes a fraction of capacity against a held pad") {
  AthleteSettings a;
  a.style = AthleteStyle::Isometric;
  a.capacity_n = 1000;
  a.iso_fraction = 0.6;
  Rig r(a);
  r.load(1200);  // more than it pushes: the pad stays down
  r.run_s(3.0);
  CHECK(r.m.athlete().phase() == AthletePhase::Holding);
  CHECK(r.m.athlete().muscle_n() == doctest::Approx(600).epsilon(0.05));
}

TEST_CASE("athlete: the same seed gives the same reps") {
  AthleteSettings a;
  a.tempo = Tempo{1, 0, 1, 0};
  Rig r1(a), r2(a);
  r1.load(300);
  r2.load(300);
  r1.run_s(5);
  r2.run_s(5);
  REQUIRE(r1.m.athlete().reps().size() == r2.m.athlete().reps().size());
  REQUIRE(!r1.m.athlete().reps().empty());
  CHECK(r1.m.athlete().reps()[0].mean_concentric_n == r2.m.athlete().reps()[0].mean_concentric_n);
  CHECK(r1.m.plant().state().x_mm == r2.m.plant().state().x_mm);
}
