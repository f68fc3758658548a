#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "sim_test_util.hpp"
#include "soleus/sim/athlete_json.hpp"
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
  CHECK(r.m.athlete().contact_n() ==
        doctest::Approx(r.m.config().mechanics.pad_weight_n).epsilon(0.05));
  r.load(400);
  r.run_s(0.3);
  CHECK(r.m.athlete().phase() == AthletePhase::Waiting);
  r.run_s(0.4);
  CHECK(r.m.athlete().phase() == AthletePhase::Concentric);
}

TEST_CASE(
    "athlete: a tempo athlete against a constant load does full reps with the tempo's timing") {
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
  r.run_s(0.5 + 3.0 * 2 +
          3.0);  // two reps, then the third reaches the top (speed-capped at 100 mm/s)
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

// ---------------------------------------------------------------- traits (issue 9)
namespace {
AthleteSettings traited(double noise_n = 0) {
  AthleteSettings a;
  a.traits.enabled = true;
  a.noise_n = noise_n;
  a.tempo = Tempo{1.5, 0.5, 1.5, 0.5};
  return a;
}
/// Runs `s` seconds, calling f(machine) after every step.
template <typename F>
void run_each(Rig& r, double s, F&& f) {
  for (int i = 0; i < static_cast<int>(s * 1000); ++i) {
    r.m.step();
    f(r.m);
  }
}
double motor_n(Machine& m) { return m.plant().ideal_force_n(m.drive().torque_pct()); }
}  // namespace

TEST_CASE("traits: off by default, and the trait JSON round-trips") {
  AthleteSettings a;
  CHECK_FALSE(a.traits.enabled);
  Rig r(a);
  auto reply = r.m.control(boost::json::parse(
      R"({"cmd":"athlete","traits":{"effort":"follow","reaction_s":2.5,"fatigue":"fail_mid_rise","fail_mode":"sink","leave":"sit_back","mid_rest_where":"top"}})"));
  REQUIRE(reply["ok"].as_bool());
  const auto& t = r.m.athlete().settings().traits;
  CHECK(t.enabled);  // any trait given turns the model on
  CHECK(t.effort == Effort::Follow);
  CHECK(t.reaction_s == 2.5);
  CHECK(t.fatigue == FatigueKind::FailMidRise);
  CHECK(t.fail_mode == FailMode::Sink);
  CHECK(t.leave == Leave::SitBack);
  CHECK(t.mid_rest_where == RestWhere::Top);
  auto bad = r.m.control(boost::json::parse(R"({"cmd":"athlete","traits":{"effort":"lazy"}})"));
  CHECK_FALSE(bad["ok"].as_bool());
  auto unknown = r.m.control(boost::json::parse(R"({"cmd":"athlete","traits":{"bogus":1}})"));
  CHECK_FALSE(unknown["ok"].as_bool());
  CHECK(r.m.athlete().settings().traits.effort ==
        Effort::Follow);  // a refused request changes nothing
}

TEST_CASE("traits: reaction time, no motion before reaction_s, passive on the heels meanwhile") {
  AthleteSettings a = traited();
  a.traits.reaction_s = 2.0;
  Rig r(a);
  r.run_s(0.5);
  const double x0 = r.m.plant().state().x_mm;
  r.load(300);
  double max_x = 0, max_muscle = 0;
  run_each(r, 1.95, [&](Machine& m) {
    max_x = std::max(max_x, m.plant().state().x_mm);
    max_muscle = std::max(max_muscle, m.athlete().muscle_n());
  });
  CHECK(max_x <= x0 + 0.01);
  CHECK(max_muscle == 0);
  CHECK(r.m.athlete().phase() == AthletePhase::Waiting);
  // the heels carry the load: motor F·η + pad weight
  CHECK(r.m.athlete().contact_n() == doctest::Approx(300 * 0.9 + 78.5).epsilon(0.05));
  r.run_s(1.0);
  CHECK(r.m.athlete().phase() == AthletePhase::Concentric);
  REQUIRE(r.m.athlete().events().first_move_s);
  CHECK(*r.m.athlete().events().first_move_s == doctest::Approx(0.5 + 2.0).epsilon(0.01));
  CHECK(r.m.plant().state().x_mm > x0 + 5);
}

TEST_CASE(
    "traits: follow pushes the felt load plus its surplus, and rises only as fast as the brake "
    "allows") {
  AthleteSettings a = traited();
  a.traits.effort = Effort::Follow;
  a.traits.follow_surplus_n = 10;
  Rig r(a);
  r.m.drive().write_speed_limit(60);  // 10 mm/s with a 10 mm lead
  const double brake_mm_s = r.m.config().mechanics.mm_s_from_rpm(60);
  r.load(21.5);  // the calibration rep's light load
  double vmax = 0, excess_sum = 0;
  int n = 0;
  run_each(r, 6.0, [&](Machine& m) {
    const auto& ps = m.plant().state();
    vmax = std::max(vmax, ps.v_mm_s);
    if (m.athlete().phase() == AthletePhase::Concentric && ps.x_mm > 45 && ps.x_mm < 100) {
      excess_sum += m.athlete().contact_n() - (78.5 + 21.5 / 0.9);
      ++n;
    }
  });
  REQUIRE(n > 1000);
  CHECK(vmax < brake_mm_s * 1.3);
  CHECK(vmax > brake_mm_s * 0.7);
  // felt (pad + light load back-driving the screw) + surplus: it does not push against the brake
  CHECK(excess_sum / n == doctest::Approx(10.0).epsilon(0.3));
  // the brake carries the surplus: the motor pushes more than its command while it paces the rise
  CHECK(motor_n(r.m) < 21.5 + 15);
}

TEST_CASE("traits: follow does not chase a host's pacing brake either") {
  // The host adds 2 N per mm/s beyond 20 mm/s to its command, at most 50 N
  // (the controller's calibration-rep brake); the follower's estimate of the
  // load is held while the pad moves, so it settles a little above 20 mm/s.
  AthleteSettings a = traited();
  a.traits.effort = Effort::Follow;
  a.traits.follow_surplus_n = 10;
  Rig r(a);
  r.load(21.5);
  double vmax = 0, cmax = 0, brake_max = 0;
  for (int i = 0; i < 9000; ++i) {
    const double v = r.m.plant().state().v_mm_s;
    const double brake = std::min(2.0 * std::max(0.0, v - 20.0), 50.0);
    r.m.drive().write_torque_cmd((21.5 + brake) / r.m.plant().ideal_force_n(1.0), r.m.now_ms());
    r.m.step();
    if (r.m.athlete().phase() == AthletePhase::Concentric && r.m.plant().state().x_mm > 45 &&
        r.m.plant().state().x_mm < 110) {
      vmax = std::max(vmax, r.m.plant().state().v_mm_s);
      cmax = std::max(cmax, r.m.athlete().contact_n());
      brake_max = std::max(brake_max, brake);
    }
  }
  CHECK(vmax > 20);
  CHECK(vmax < 20 + 10 / 0.9 / 2 + 3);       // the surplus balanced by the brake
  CHECK(cmax < 78.5 + 21.5 / 0.9 + 10 + 5);  // felt + surplus, not the brake's 50 N
  CHECK(brake_max < 15);
  CAPTURE(to_string(r.m.athlete().phase()));
  CAPTURE(r.m.plant().state().x_mm);
  CHECK(r.m.athlete().reps().size() >= 1);
}

TEST_CASE("traits: a tempo tracker pushes against the same brake (the follower's contrast)") {
  AthleteSettings a = traited();
  Rig r(a);
  r.m.drive().write_speed_limit(60);
  r.load(21.5);
  double peak = 0;
  run_each(r, 3.0, [&](Machine& m) {
    if (m.athlete().phase() == AthletePhase::Concentric)
      peak = std::max(peak, m.athlete().contact_n());
  });
  CHECK(peak > 300);
}

TEST_CASE("traits: grind rises slowly at capacity under a near-maximal load") {
  AthleteSettings a = traited();
  a.traits.effort = Effort::Grind;
  a.capacity_n = 700;
  Rig r(a);
  r.load(500);  // felt rising: 78.5 + 500/0.9 ≈ 634 N, 91 % of capacity
  r.run_s(8.0);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(!reps.empty());
  CHECK(reps[0].peak_concentric_n == doctest::Approx(700).epsilon(0.03));
  // force-velocity: at capacity it rises at ~400·(1 − 634/700) ≈ 38 mm/s
  CHECK(reps[0].concentric_s > 2.2);  // slower than its 1.5 s tempo
  CHECK(reps[0].full);
}

TEST_CASE("traits: tempo scale and jitter change its own phase times, and exact without jitter") {
  AthleteSettings a = traited();
  a.traits.tempo_scale = 1.4;
  a.tempo = Tempo{2, 1, 2, 1};
  Rig r(a);
  r.load(300);
  r.run_s(0.2 + 6.5 * 4);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 3);
  for (const auto& rep : reps) {
    CHECK(rep.concentric_s == doctest::Approx(2.8).epsilon(0.06));
    CHECK(rep.eccentric_s == doctest::Approx(2.8).epsilon(0.06));
  }
  a.traits.tempo_scale = 1.0;
  a.traits.tempo_jitter = 0.4;
  Rig j(a);
  j.load(300);
  j.run_s(0.2 + 6.0 * 6);
  const auto& jr = j.m.athlete().reps();
  REQUIRE(jr.size() >= 5);
  double lo = 1e9, hi = 0;
  for (const auto& rep : jr) {
    lo = std::min(lo, rep.concentric_s);
    hi = std::max(hi, rep.concentric_s);
    CHECK(rep.concentric_s > 2.0 * 0.6 - 0.1);
    CHECK(rep.concentric_s < 2.0 * 1.4 + 0.2);
  }
  CHECK(hi - lo > 0.3);  // really irregular
}

TEST_CASE("traits: pause scale lengthens the pauses") {
  AthleteSettings a = traited();
  a.traits.pause_scale = 2.0;
  Rig r(a);
  r.load(300);
  r.run_s(0.2 + 6.0 * 3);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 2);
  CHECK(reps[0].top_pause_s == doctest::Approx(1.0).epsilon(0.05));
  CHECK(reps[0].bottom_pause_s == doctest::Approx(1.0).epsilon(0.05));
}

TEST_CASE(
    "traits: a mid-set rest holds still, loaded, at the bottom on its heels, then continues") {
  AthleteSettings a = traited();
  a.traits.mid_rest_p = 1.0;
  a.traits.mid_rest_min_s = 3.0;
  a.traits.mid_rest_max_s = 3.0;
  Rig r(a);
  r.load(300);
  bool rest_seen = false;
  double rest_x_lo = 1e9, rest_x_hi = -1e9, rest_muscle = 0;
  run_each(r, 0.1 + 4.0 + 3.0 + 4.0, [&](Machine& m) {
    if (m.athlete().resting()) {
      rest_seen = true;
      rest_x_lo = std::min(rest_x_lo, m.plant().state().x_mm);
      rest_x_hi = std::max(rest_x_hi, m.plant().state().x_mm);
      rest_muscle = std::max(rest_muscle, m.athlete().muscle_n());
    }
  });
  CHECK(rest_seen);
  CHECK(rest_muscle == 0);             // relaxed, the heels carry the load
  CHECK(rest_x_hi - rest_x_lo < 2.0);  // still
  const auto& ev = r.m.athlete().events();
  REQUIRE(ev.rests.size() >= 1);
  CHECK(ev.rests[0].second - ev.rests[0].first == doctest::Approx(3.0).epsilon(0.01));
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 2);
  CHECK(reps[0].mid_rest);
  CHECK(reps[0].loaded_s ==
        doctest::Approx(1.5 + 0.5 + 1.5 + 0.5).epsilon(0.05));  // the rest is not TUT
  CHECK(reps[1].start_s > ev.rests[0].second - 0.01);
}

TEST_CASE("traits: a mid-set rest at the top holds the pad up with muscle") {
  AthleteSettings a = traited();
  a.traits.mid_rest_p = 1.0;
  a.traits.mid_rest_where = RestWhere::Top;
  a.traits.mid_rest_min_s = 2.0;
  a.traits.mid_rest_max_s = 2.0;
  Rig r(a);
  r.load(300);
  double rest_x_lo = 1e9, rest_muscle_lo = 1e9;
  run_each(r, 0.1 + 1.6 + 0.5 + 2.0, [&](Machine& m) {
    if (m.athlete().resting()) {
      rest_x_lo = std::min(rest_x_lo, m.plant().state().x_mm);
      rest_muscle_lo = std::min(rest_muscle_lo, m.athlete().muscle_n());
    }
  });
  CHECK(rest_x_lo > a.top_mm - 5);
  CHECK(rest_muscle_lo > 300 * 0.9 + 78.5 - 20);
  CHECK(r.m.athlete().events().rests.size() == 1);
}

TEST_CASE("traits: range jitter varies the heel's high point rep to rep") {
  AthleteSettings a = traited();
  a.traits.range_jitter = 0.05;
  a.tempo = Tempo{1, 0, 1, 0.2};
  Rig r(a);
  r.load(300);
  r.run_s(0.2 + 2.2 * 10);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 8);
  double lo = 1e9, hi = -1e9;
  for (const auto& rep : reps) {
    lo = std::min(lo, rep.heel_high_mm);
    hi = std::max(hi, rep.heel_high_mm);
    CHECK(rep.heel_high_mm < a.top_mm + 5.5);  // never beyond the anatomy
  }
  CHECK(hi - lo > 3.0);
  CHECK(hi - lo < 11.0);
}

TEST_CASE(
    "traits: thigh tissue compresses under load: the pad sits lower under more load, the heel does "
    "not") {
  struct Rest {
    double pad, heel, contact;
  };
  auto rest = [](double load, double tissue) {
    AthleteSettings a = traited();
    a.traits.tissue_mm = tissue;
    a.traits.reaction_s = 30;  // stays passive on its heels
    Rig r(a);
    r.load(load);
    r.run_s(2.0);
    return Rest{r.m.plant().state().x_mm, r.m.athlete().heel_mm(), r.m.athlete().contact_n()};
  };
  const Rest light = rest(21.5, 10), heavy = rest(1500, 10), bare = rest(1500, 0);
  for (const Rest& x : {light, heavy, bare}) {
    // the bone rests where the heels stop it: bottom − contact / 300 N/mm (heel spring)
    CHECK(x.heel == doctest::Approx(30.0 - x.contact / 300.0).epsilon(0.003));
  }
  // pad = heel − 10 mm × contact / 1800 N
  CHECK(light.heel - light.pad == doctest::Approx(10.0 * light.contact / 1800.0).epsilon(0.01));
  CHECK(heavy.heel - heavy.pad == doctest::Approx(10.0 * heavy.contact / 1800.0).epsilon(0.01));
  CHECK(bare.heel == doctest::Approx(bare.pad));
  CHECK(heavy.contact > 1400);
  CHECK(light.pad - heavy.pad > 7.0 + 4.0);  // tissue ≈ 7.5 mm more, heels ≈ 4.5 mm more
}

TEST_CASE("traits: heel truth: full reps judged on the bone's travel, not the pad's") {
  AthleteSettings a = traited();
  a.traits.tissue_mm = 12;
  Rig r(a);
  r.load(900);
  r.run_s(0.2 + 4.0 * 3);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 2);
  const auto& rep = reps[1];
  CHECK(rep.true_range_mm == doctest::Approx(100));
  CHECK(rep.heel_rise_mm == doctest::Approx(rep.heel_high_mm - rep.heel_low_start_mm));
  CHECK(rep.rise_fraction >= 0.95);
  CHECK(rep.return_fraction >= 0.95);
  CHECK(rep.full);
  // the pad's top is lower than the heel's by the compression under ~900 N
  CHECK(rep.heel_high_mm - rep.high_mm > 4.0);
  CHECK(rep.end_s > rep.start_s + 3.0);
}

TEST_CASE("traits: gradual fatigue loses capacity per rep, sudden at fail_rep") {
  AthleteSettings a = traited();
  a.traits.fatigue = FatigueKind::Gradual;
  a.fatigue_rate = 0.1;
  a.capacity_n = 1000;
  Rig r(a);
  r.load(200);
  r.run_s(0.2 + 4.0 * 3 + 0.5);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 3);
  CHECK(reps[0].capacity_n == doctest::Approx(1000));
  CHECK(reps[1].capacity_n == doctest::Approx(900));
  CHECK(reps[2].capacity_n == doctest::Approx(810));

  AthleteSettings b = traited();
  b.traits.fatigue = FatigueKind::Sudden;
  b.traits.fail_rep = 3;
  b.traits.sudden_factor = 0.4;
  b.traits.effort = Effort::PushHard;
  b.capacity_n = 1000;
  Rig s(b);
  s.m.drive().write_speed_limit(300);
  s.load(200);
  s.run_s(0.2 + 4.0 * 4);
  const auto& sr = s.m.athlete().reps();
  REQUIRE(sr.size() >= 3);
  CHECK(sr[0].capacity_n == doctest::Approx(1000));
  CHECK(sr[1].capacity_n == doctest::Approx(1000));
  CHECK(sr[2].capacity_n == doctest::Approx(400));
  CHECK(sr[2].mean_concentric_n < 0.6 * sr[1].mean_concentric_n);
  const auto drop = s.m.athlete().first_drop_rep(20);
  REQUIRE(drop);
  CHECK(*drop == 3);
}

TEST_CASE("traits: range_first shrinks the range from fail_rep before the force fails") {
  AthleteSettings a = traited();
  a.traits.fatigue = FatigueKind::RangeFirst;
  a.traits.fail_rep = 3;
  a.shrink_per_rep = 0.15;
  a.min_range_fraction = 0.55;
  a.traits.sudden_factor = 0.5;
  a.capacity_n = 1000;
  Rig r(a);
  r.load(200);
  r.run_s(0.2 + 4.0 * 6);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 5);
  CHECK(reps[0].full);
  CHECK(reps[1].full);
  CHECK(reps[2].intended_fraction == doctest::Approx(0.85));
  CHECK(reps[3].intended_fraction == doctest::Approx(0.70));
  CHECK(reps[4].intended_fraction == doctest::Approx(0.55));
  CHECK(reps[2].rise_fraction == doctest::Approx(0.85).epsilon(0.05));
  CHECK_FALSE(reps[3].full);
  CHECK(reps[3].capacity_n == doctest::Approx(1000));  // the range goes first
  CHECK(reps[4].capacity_n == doctest::Approx(500));   // then the force
  REQUIRE(r.m.athlete().events().range_shrink_rep);
  CHECK(*r.m.athlete().events().range_shrink_rep == 3);
}

TEST_CASE(
    "traits: half_then_full does half reps for half_reps reps from fail_rep, then full again") {
  AthleteSettings a = traited();
  a.traits.fatigue = FatigueKind::HalfThenFull;
  a.traits.fail_rep = 2;
  a.traits.half_reps = 2;
  Rig r(a);
  r.load(300);
  r.run_s(0.2 + 4.0 * 5);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() >= 4);
  CHECK(reps[0].full);
  CHECK_FALSE(reps[1].full);
  CHECK_FALSE(reps[2].full);
  CHECK(reps[1].rise_fraction == doctest::Approx(0.5).epsilon(0.08));
  CHECK(reps[3].full);
  REQUIRE(r.m.athlete().events().range_shrink_rep);
  CHECK(*r.m.athlete().events().range_shrink_rep == 2);
}

TEST_CASE("traits: fail_mid_rise with stall holds where it is, then gives up") {
  AthleteSettings a = traited();
  a.traits.fatigue = FatigueKind::FailMidRise;
  a.traits.fail_rep = 2;
  a.traits.fail_mode = FailMode::Stall;
  Rig r(a);
  r.load(400);
  r.run_s(0.2 + 4.0);  // rep 1 done, rep 2 begins
  double stall_x = -1;
  bool held = true;
  run_each(r, 6.0, [&](Machine& m) {
    const auto& ev = m.athlete().events();
    if (!ev.stall_s) return;
    const double since = static_cast<double>(m.now_ms()) / 1000.0 - *ev.stall_s;
    if (since > 0.3 && since < 2.9) {
      if (stall_x < 0) stall_x = m.plant().state().x_mm;
      if (std::fabs(m.plant().state().x_mm - stall_x) > 1.0) held = false;
    }
  });
  REQUIRE(r.m.athlete().events().stall_s);
  CHECK(stall_x > a.bottom_mm + 20);
  CHECK(stall_x < a.top_mm - 20);
  CHECK(held);
  const auto& reps = r.m.athlete().reps();
  REQUIRE(reps.size() == 2);
  CHECK(reps[1].stalled);
  CHECK_FALSE(reps[1].full);
  CHECK(r.m.athlete().phase() == AthletePhase::Relaxed);
}

TEST_CASE("traits: fail_mid_rise with sink slowly sinks back to the heels") {
  AthleteSettings a = traited();
  a.traits.fatigue = FatigueKind::FailMidRise;
  a.traits.fail_rep = 1;
  a.traits.fail_mode = FailMode::Sink;
  Rig r(a);
  r.load(400);
  double vmin = 0;
  run_each(r, 10.0, [&](Machine& m) {
    if (m.athlete().events().stall_s && m.athlete().phase() == AthletePhase::Concentric)
      vmin = std::min(vmin, m.plant().state().v_mm_s);
  });
  REQUIRE(r.m.athlete().events().stall_s);
  CHECK(vmin < -5);
  CHECK(vmin > -20);  // slowly
  CHECK(r.m.athlete().phase() == AthletePhase::Relaxed);
  CHECK(r.m.plant().state().x_mm < a.bottom_mm);
  REQUIRE(r.m.athlete().reps().size() == 1);
  CHECK(r.m.athlete().reps()[0].stalled);
}

TEST_CASE("traits: tremor is a force oscillation that grows with fatigue") {
  // It rests at the top of its first rep (the pad held still) so the swing of
  // its force is the tremor's. A sudden fatigue at rep 1 halves its capacity.
  auto swing = [](double sudden_factor) {
    AthleteSettings a = traited();
    a.traits.tremor_n = 20;
    a.traits.tremor_hz = 6;
    a.traits.tremor_growth = 4;
    a.traits.fatigue = FatigueKind::Sudden;
    a.traits.fail_rep = 1;
    a.traits.sudden_factor = sudden_factor;
    a.traits.mid_rest_p = 1;
    a.traits.mid_rest_where = RestWhere::Top;
    a.traits.mid_rest_min_s = a.traits.mid_rest_max_s = 60;
    a.capacity_n = 1500;
    Rig r(a);
    r.load(300);
    r.run_s(4.0);
    REQUIRE(r.m.athlete().resting());
    double lo = 1e9, hi = -1e9;
    run_each(r, 1.0, [&](Machine& m) {
      lo = std::min(lo, m.athlete().muscle_n());
      hi = std::max(hi, m.athlete().muscle_n());
    });
    return hi - lo;
  };
  const double fresh = swing(1.0);  // fatigue 0: ±20 N
  const double tired = swing(0.5);  // fatigue 0.5: ±20·(1 + 4·0.5) = ±60 N
  CHECK(fresh > 2 * 20 * 0.6);
  CHECK(fresh < 2 * 20 * 1.5);
  CHECK(tired > 2 * 60 * 0.6);
  CHECK(tired < 2 * 60 * 1.5);
  CHECK(tired > 2 * fresh);
}

TEST_CASE("traits: a drop gives way during the lowering, and the rep is wobbly") {
  AthleteSettings a = traited();
  a.traits.drop_p = 1.0;
  Rig r(a);
  r.m.drive().write_speed_limit(1200);  // 200 mm/s: the brake lets the drop show
  r.load(600);
  double vmin = 0;
  run_each(r, 0.1 + 4.0, [&](Machine& m) { vmin = std::min(vmin, m.plant().state().v_mm_s); });
  const auto& reps = r.m.athlete().reps();
  REQUIRE(!reps.empty());
  CHECK(reps[0].wobbly);
  CHECK(vmin < -100);  // planned lowering is 100 mm / 1.5 s ≈ 70 mm/s at most

  AthleteSettings b = traited();
  Rig q(b);
  q.m.drive().write_speed_limit(1200);
  q.load(600);
  double qmin = 0;
  run_each(q, 0.1 + 4.0, [&](Machine& m) { qmin = std::min(qmin, m.plant().state().v_mm_s); });
  REQUIRE(!q.m.athlete().reps().empty());
  CHECK_FALSE(q.m.athlete().reps()[0].wobbly);
  CHECK(qmin > -90);
}

TEST_CASE("traits: the sticking point takes capacity near its height") {
  AthleteSettings a = traited();
  a.traits.effort = Effort::PushHard;
  a.traits.sticking_fraction = 0.5;  // heel at 80 mm
  a.traits.sticking_depth = 0.5;
  a.capacity_n = 800;
  Rig r(a);
  r.m.drive().write_speed_limit(60);  // paced at 10 mm/s: no momentum carries it through
  r.load(400);                        // felt rising ≈ 523 N; at the sticking point it has 400 N
  double muscle_at_60 = 0;
  run_each(r, 14.0, [&](Machine& m) {
    const double h = m.athlete().heel_mm();
    if (m.athlete().phase() == AthletePhase::Concentric && h > 59 && h < 61)
      muscle_at_60 = m.athlete().muscle_n();
  });
  CHECK(muscle_at_60 >
        700);  // away from the point it pushes near capacity (less its force-velocity loss)
  REQUIRE(!r.m.athlete().reps().empty());
  const auto& rep = r.m.athlete().reps()[0];
  CHECK_FALSE(rep.full);
  CHECK(rep.heel_high_mm > 70);  // it gets into the zone (70..90 mm) ...
  CHECK(rep.heel_high_mm < 80);  // ... but not past where 800·(1 − 0.5·(1 − d)) < 523 N
  CHECK(rep.stalled);            // it gave up rising

  a.traits.sticking_depth = 0;
  Rig q(a);
  q.m.drive().write_speed_limit(60);
  q.load(400);
  q.run_s(23.0);
  REQUIRE(!q.m.athlete().reps().empty());
  CHECK(q.m.athlete().reps()[0].full);
}

namespace {
/// Runs a traited athlete that leaves in rep 3; returns the time contact first
/// went to exactly 0 and stayed there until `until_s` (or -1).
struct LeaveRun {
  double left_at = -1;     ///< first time contact was 0
  bool zero_after = true;  ///< contact stayed exactly 0 from then on (until sit-back)
  AthletePhase phase_at_leave = AthletePhase::Waiting;
  double x_at_leave = 0, v_at_leave = 0;
};
LeaveRun run_leave(Leave kind, double seconds, Rig** keep = nullptr) {
  AthleteSettings a = traited();
  a.traits.leave = kind;
  a.traits.leave_rep = 3;
  a.traits.sit_back_after_s = 2.0;
  static std::unique_ptr<Rig> rig;
  rig = std::make_unique<Rig>(a);
  Rig& r = *rig;
  r.m.drive().write_speed_limit(600);
  r.load(300);
  LeaveRun out;
  AthletePhase prev = AthletePhase::Waiting;
  double prev_x = 0, prev_v = 0;
  run_each(r, seconds, [&](Machine& m) {
    const double c = m.athlete().contact_n();
    if (out.left_at < 0 && c == 0.0) {
      out.left_at = static_cast<double>(m.now_ms()) / 1000.0;
      out.phase_at_leave = prev;
      out.x_at_leave = prev_x;
      out.v_at_leave = prev_v;
    } else if (out.left_at >= 0 && c != 0.0 && !m.athlete().events().returned_s) {
      out.zero_after = false;
    }
    prev = m.athlete().phase();
    prev_x = m.plant().state().x_mm;
    prev_v = m.plant().state().v_mm_s;
  });
  if (keep) *keep = &r;
  return out;
}
}  // namespace

TEST_CASE(
    "traits: leaving mid-rise, mid-lowering, at the top and at the bottom: contact exactly 0 from "
    "left_s") {
  struct Case {
    Leave kind;
    AthletePhase phase;
  };
  for (auto c : {Case{Leave::MidRise, AthletePhase::Concentric},
                 Case{Leave::MidLowering, AthletePhase::Eccentric},
                 Case{Leave::AtTop, AthletePhase::Concentric},
                 Case{Leave::AtBottom, AthletePhase::Eccentric}}) {
    CAPTURE(to_string(c.kind));
    Rig* r = nullptr;
    const LeaveRun lr = run_leave(c.kind, 0.1 + 4.0 * 2 + 6.0, &r);
    REQUIRE(lr.left_at > 0);
    CHECK(lr.zero_after);
    CHECK(lr.phase_at_leave == c.phase);
    const auto& ev = r->m.athlete().events();
    REQUIRE(ev.left_s);
    CHECK(*ev.left_s == doctest::Approx(lr.left_at).epsilon(1e-6));
    CHECK(ev.leave_kind == c.kind);
    CHECK(r->m.athlete().away());
    const auto& reps = r->m.athlete().reps();
    REQUIRE(reps.size() == 3);  // the third rep is recorded up to where it was abandoned
    CHECK(reps[0].full);
    CHECK(reps[1].full);
    CHECK(reps[2].end_s == doctest::Approx(lr.left_at).epsilon(1e-6));
    if (c.kind == Leave::MidRise) {
      CHECK(lr.x_at_leave > 45);
      CHECK(lr.x_at_leave < 105);
      CHECK(lr.v_at_leave > 10);
      CHECK_FALSE(reps[2].full);
    } else if (c.kind == Leave::MidLowering) {
      CHECK(lr.x_at_leave > 45);
      CHECK(lr.x_at_leave < 105);
      CHECK(lr.v_at_leave < -10);
    } else if (c.kind == Leave::AtTop) {
      CHECK(lr.x_at_leave > 125);
    } else {
      CHECK(lr.x_at_leave < 35);
      CHECK(reps[2].full);
    }
    CHECK(r->m.plant().state().x_mm == 0.0);  // the motor took the pad to its stop
  }
}

TEST_CASE(
    "traits: stand_up leaves at the bottom for good, and sit_back returns after sit_back_after_s") {
  Rig* r = nullptr;
  const LeaveRun up = run_leave(Leave::StandUp, 0.1 + 4.0 * 2 + 8.0, &r);
  REQUIRE(up.left_at > 0);
  CHECK(up.zero_after);
  CHECK(up.x_at_leave < 35);
  CHECK(r->m.athlete().reps().size() == 2);
  CHECK_FALSE(r->m.athlete().events().returned_s);
  CHECK(r->m.athlete().contact_n() == 0.0);

  const LeaveRun back = run_leave(Leave::SitBack, 0.1 + 4.0 * 2 + 1.0, &r);
  REQUIRE(back.left_at > 0);
  CHECK(back.zero_after);
  const auto& ev = r->m.athlete().events();
  REQUIRE(ev.left_s);
  CHECK_FALSE(ev.returned_s);
  r->run_s(1.2);
  REQUIRE(r->m.athlete().events().returned_s);
  CHECK(*r->m.athlete().events().returned_s - *ev.left_s == doctest::Approx(2.0).epsilon(0.01));
  CHECK(r->m.athlete().contact_n() > 0);  // sits back: the pad rests on its thighs again
  // loaded, it resumes its reps
  r->run_s(5.0);
  CHECK(r->m.athlete().reps().size() >= 3);
}

TEST_CASE("traits: first_bottom_pause starts with a pause at the bottom") {
  AthleteSettings a = traited();
  a.traits.first_bottom_pause = true;
  a.tempo = Tempo{1.5, 2.0, 1.5, 0.5};
  Rig r(a);
  r.load(300);
  r.run_s(1.5);
  CHECK(r.m.athlete().phase() == AthletePhase::BottomPause);
  CHECK(r.m.plant().state().x_mm < a.bottom_mm + 2);
  r.run_s(1.0);
  CHECK(r.m.athlete().phase() == AthletePhase::Concentric);
}

TEST_CASE("traits: the same seed gives the same truth, and another seed does not") {
  auto run = [](std::uint64_t seed) {
    AthleteSettings a = traited(3);
    a.seed = seed;
    a.traits.tempo_jitter = 0.3;
    a.traits.range_jitter = 0.05;
    a.traits.mid_rest_p = 0.5;
    a.traits.drop_p = 0.3;
    a.traits.tremor_n = 10;
    a.traits.tissue_mm = 8;
    Rig r(a);
    r.load(400);
    r.run_s(25);
    return r.m.truth();
  };
  const auto a = run(11), b = run(11), c = run(12);
  CHECK(boost::json::serialize(a) == boost::json::serialize(b));
  CHECK(boost::json::serialize(a) != boost::json::serialize(c));
}

TEST_CASE("traits: truth JSON carries the heel fields and the events") {
  AthleteSettings a = traited();
  a.traits.leave = Leave::AtTop;
  a.traits.leave_rep = 2;
  Rig r(a);
  r.load(300);
  r.run_s(8);
  auto t = r.m.control(boost::json::parse(R"({"cmd":"truth"})"));
  REQUIRE(t["ok"].as_bool());
  const auto& rep = t["reps"].as_array().at(0).as_object();
  for (const char* k : {"heel_low_start_mm", "heel_high_mm", "heel_low_end_mm", "heel_rise_mm",
                        "heel_return_mm", "true_range_mm", "rise_fraction", "return_fraction",
                        "end_s", "loaded_s", "wobbly", "stalled", "mid_rest"})
    CHECK(rep.contains(k));
  const auto& ev = t["events"].as_object();
  CHECK(ev.at("leave_kind").as_string() == "at_top");
  CHECK(ev.at("left_s").is_double());
  CHECK(ev.at("returned_s").is_null());
  CHECK(ev.at("first_move_s").is_double());
  CHECK(t["away"].as_bool());
}

TEST_CASE(
    "machine noise: the noise command sets cell noise, drift and drive ripple, kept across reset") {
  Rig r(AthleteSettings{});
  auto reply = r.m.control(boost::json::parse(
      R"({"cmd":"noise","cell_noise_n":1.5,"cell_drift_n_per_s":0.4,"cell_drift_max_n":5,"drive_ripple_v":8})"));
  REQUIRE(reply["ok"].as_bool());
  CHECK(r.m.cell().settings().drift_n_per_s == doctest::Approx(0.4));
  CHECK(r.m.cell().settings().noise_n == doctest::Approx(1.5));
  CHECK(r.m.drive().settings().ripple_v == doctest::Approx(8));
  r.m.control(boost::json::parse(R"({"cmd":"reset"})"));
  CHECK(r.m.noise().cell_drift_n_per_s == doctest::Approx(0.4));
  CHECK(r.m.cell().settings().drift_n_per_s == doctest::Approx(0.4));
  CHECK(r.m.drive().settings().ripple_v == doctest::Approx(8));
  CHECK_FALSE(r.m.control(boost::json::parse(R"({"cmd":"noise","cell_drift_n_per_s":-1})"))["ok"]
                  .as_bool());
  CHECK_FALSE(r.m.control(boost::json::parse(R"({"cmd":"noise","hum":1})"))["ok"].as_bool());
  auto st = r.m.control(boost::json::parse(R"({"cmd":"state"})"));
  CHECK(st["noise"].as_object().at("drive_ripple_v").as_double() == 8);
}

TEST_CASE("traits: athlete_request_json replays the settings through the athlete command") {
  AthleteSettings a = traited(2);
  a.capacity_n = 930;
  a.tempo = Tempo{3, 1, 3, 1};
  a.seed = 123456789;
  a.traits.effort = Effort::Grind;
  a.traits.reaction_s = 1.75;
  a.traits.fatigue = FatigueKind::HalfThenFull;
  a.traits.fail_mode = FailMode::Sink;
  a.traits.leave = Leave::MidLowering;
  a.traits.leave_rep = 7;
  a.traits.mid_rest_where = RestWhere::Top;
  a.traits.tissue_mm = 6.5;
  boost::json::object req = athlete_request_json(a);
  req["cmd"] = "athlete";
  Rig r(AthleteSettings{});
  auto reply = r.m.control(req);
  REQUIRE(reply["ok"].as_bool());
  CHECK(boost::json::serialize(athlete_request_json(r.m.athlete().settings())) ==
        boost::json::serialize(athlete_request_json(a)));
}

TEST_CASE(
    "traits: an isometric hold pushes after its reaction, fails at hold_fail_s, and records the "
    "truth") {
  AthleteSettings a = traited();
  a.style = AthleteStyle::Isometric;
  a.capacity_n = 1000;
  a.traits.reaction_s = 1.0;
  a.traits.hold_fraction = 0.6;
  a.traits.fatigue = FatigueKind::Sudden;
  a.traits.sudden_factor = 0.5;
  a.traits.hold_fail_s = 5.0;
  Rig r(a);
  r.run_s(0.5);
  r.load(1200);  // more than it pushes: the pad stays on the heels
  r.run_s(0.9);
  CHECK(r.m.athlete().phase() == AthletePhase::Waiting);  // its reaction
  CHECK(r.m.athlete().muscle_n() == 0);
  r.run_s(2.0);
  CHECK(r.m.athlete().phase() == AthletePhase::Holding);  // not reps
  CHECK(r.m.athlete().reps().empty());
  CHECK(r.m.athlete().muscle_n() == doctest::Approx(600).epsilon(0.03));
  const HoldTruth& h = r.m.athlete().hold();
  REQUIRE(h.start_s);
  CHECK(*h.start_s == doctest::Approx(1.5).epsilon(0.01));
  r.run_s(5.0);  // 5 s of holding: the force fails to half
  REQUIRE(h.fail_s);
  CHECK(*h.fail_s == doctest::Approx(6.5).epsilon(0.01));
  CHECK(r.m.athlete().muscle_n() == doctest::Approx(300).epsilon(0.05));
  // Its true force per bin is the contact: against this rigid 1200 N the heels
  // carry what the calves no longer push, so the contact does not fall (a
  // hold's drop shows where the machine follows the push, as the controller's does).
  CHECK(*h.mean_force(7.0, 8.0) == doctest::Approx(r.m.athlete().contact_n()).epsilon(0.02));
  CHECK_FALSE(h.first_drop_s(20, 1.0, h.bins_from_s, 100));
  // The drive goes off: it stops pushing.
  r.m.drive().write_control(0, r.m.now_ms());
  r.run_s(1.5);
  CHECK(r.m.athlete().phase() == AthletePhase::Waiting);
  REQUIRE(h.end_s);
  // It felt the hold end (the command gone) and eased off for at most 0.5 s.
  CHECK(*h.end_s == doctest::Approx(8.7).epsilon(0.01));
  CHECK(h.held_within(0, 100) >= *h.end_s - 1.5);
  CHECK(h.held_within(0, 100) <= *h.end_s - 1.5 + 0.5);
  auto truth = r.m.control(boost::json::parse(R"({"cmd":"truth"})"));
  CHECK(truth["hold"].as_object().at("start_s").as_double() == doctest::Approx(1.5).epsilon(0.01));
}

TEST_CASE(
    "traits: a hold athlete lets go after hold_leave_s, and a follower pushes only what holds the "
    "pad") {
  AthleteSettings a = traited();
  a.style = AthleteStyle::Isometric;
  a.traits.leave = Leave::StandUp;
  a.traits.hold_leave_s = 3.0;
  Rig r(a);
  r.load(1200);
  r.run_s(2.0);
  CHECK(r.m.athlete().phase() == AthletePhase::Holding);
  r.run_s(2.0);
  CHECK(r.m.athlete().away());
  REQUIRE(r.m.athlete().events().left_s);
  CHECK(*r.m.athlete().events().left_s == doctest::Approx(3.0).epsilon(0.01));
  CHECK(r.m.athlete().contact_n() == 0);

  AthleteSettings f = traited();
  f.style = AthleteStyle::Isometric;
  f.traits.effort = Effort::Follow;
  f.traits.follow_surplus_n = 10;
  Rig rf(f);
  const double x0 = rf.m.plant().state().x_mm;
  rf.load(0);  // the drive enabled with no force: only the pad's weight resists
  rf.run_s(3.0);
  CHECK(rf.m.athlete().phase() == AthletePhase::Holding);
  // It pushed the pad's weight + 10 N, the pad gave, and it eased off to
  // what holds the pad a few mm up.
  CHECK(rf.m.plant().state().x_mm > x0 + 3);
  CHECK(rf.m.plant().state().x_mm < x0 + 10);
  CHECK(rf.m.athlete().muscle_n() == doctest::Approx(78.5).epsilon(0.1));
}
