// Issue 9's four failures, found by people outside the team against an
// independent model, as proving-ground cases: soleus-sim's machine and a trait
// athlete through the real drivers and controller on synthetic time. The load
// cell is mounted as that model read the ICD: tared with the pad on its stop,
// it carries the pad's weight in use and reads contact − 78.5 N.
#include <doctest/doctest.h>

#include <algorithm>

#include "sim_world.hpp"
#include "soleus/proving/campaign.hpp"
#include "soleus/proving/judges.hpp"
#include "soleus/proving/population.hpp"
#include "soleus/proving/world.hpp"

using namespace soleus;
using namespace soleus::proving;
using namespace soleus::proving::test;

namespace {

Case follower(double reaction_s, controller::Tempo tempo = {3, 1, 3, 1}) {
  Case c;
  c.seed = 4242;
  c.cell_pad_on_cell = true;
  auto& a = c.athlete;
  a.capacity_n = 1500;
  a.bottom_mm = 30;
  a.top_mm = 110;
  a.seed = 4242;
  a.traits.enabled = true;
  a.traits.effort = sim::Effort::Follow;
  a.traits.follow_surplus_n = 5;
  a.traits.reaction_s = reaction_s;
  a.tempo = {tempo.eccentric_s, tempo.bottom_s, tempo.concentric_s, tempo.top_s};
  c.programme.mode = controller::Mode::Isotonic;
  c.programme.load_n = 500;
  c.programme.tempo = tempo;
  c.programme.target_reps = 3;
  c.programme.set_id = 1;
  return c;
}

Outcome run(const Case& c) {
  Outcome out = run_case(c, sim_world(120));
  REQUIRE(out.error.empty());
  return out;
}

bool ended_user_left(const Outcome& o) {
  return o.result && o.result->reason == controller::StopReason::UserLeft;
}

std::string summary(const Outcome& o) {
  std::string s = o.result ? controller::to_string(o.result->reason) : std::string("no result");
  s += ", reps " + std::to_string(o.result ? o.result->reps : -1);
  return s + "; " + judge(o).why();
}

}  // namespace

TEST_CASE(
    "regression: a calm user sitting still for 3 s under the light first-rep load is not declared "
    "gone") {
  const Outcome o = run(follower(3.0));
  INFO(summary(o));
  REQUIRE(o.result);
  CHECK_FALSE(ended_user_left(o));
  CHECK(o.active_start_s.has_value());  // the calibration rep happened after the wait
}

TEST_CASE(
    "regression: a smooth first rep that follows the light load exactly does not end the set") {
  const Outcome o = run(follower(0.0));
  INFO(summary(o));
  REQUIRE(o.result);
  CHECK_FALSE(ended_user_left(o));
  CHECK(o.active_start_s.has_value());
  CHECK(judge_stop(o).ok);  // whatever ended it was true of the athlete
}

TEST_CASE("regression: relaxing on the heels in the bottom pause of 3-1-3-1 does not end the set") {
  Case c = follower(0.5);
  c.athlete.traits.effort = sim::Effort::Track;
  c.athlete.traits.mid_rest_p = 1.0;  // rests on its heels at the bottom after every rep, loaded
  c.athlete.traits.mid_rest_where = sim::RestWhere::Bottom;
  c.athlete.traits.mid_rest_min_s = 2;
  c.athlete.traits.mid_rest_max_s = 3;
  const Outcome o = run(c);
  INFO(summary(o));
  REQUIRE(o.result);
  CHECK_FALSE(ended_user_left(o));
  CHECK(judge_false_user_left(o).ok);
}

TEST_CASE(
    "regression: a user who stands up is declared gone within 0.5 s of the pad falling, and the "
    "unload never raises the force") {
  Case c = follower(0.5);
  c.athlete.traits.effort = sim::Effort::Track;
  c.programme.target_reps = 10;
  c.athlete.traits.leave = sim::Leave::AtTop;
  c.athlete.traits.leave_rep = 3;
  const Outcome o = run(c);
  INFO(summary(o));
  REQUIRE(o.result);
  CHECK(o.result->reason == controller::StopReason::UserLeft);
  REQUIRE(o.athlete_events.left_s);
  REQUIRE(o.unload_start_s);
  CHECK(*o.unload_start_s - *o.athlete_events.left_s <= 0.5);
  CHECK(judge_unload_never_rises(o).ok);
  CHECK(judge_max_force(o).ok);
}

// Unsafe outcomes of the 1000-athlete run (seed 1), replayed from the
// population's own draws (if the population or the athlete model changes,
// these seeds may no longer reach the same situation; they still must pass).
namespace {
Outcome run_seed(std::uint64_t seed) {
  Outcome out = run_case(draw_case(seed), sim_world());
  REQUIRE(out.error.empty());
  return out;
}
}  // namespace

TEST_CASE(
    "regression: seeds 2 and 4, a stop while the user rises: the force never rises when the pad "
    "turns down") {
  // The friction flag fell to "down" as the pad slowed or turned during the
  // unload, and the driver asked 23 % more torque (seed 4: +60 N felt).
  for (std::uint64_t seed : {2u, 4u}) {
    CAPTURE(seed);
    const Outcome o = run_seed(seed);
    INFO(summary(o));
    REQUIRE(o.unload_start_s);
    CHECK(judge_unload_never_rises(o).ok);
  }
}

TEST_CASE(
    "regression: seeds 7 and 8, a user gives way under 1800 N: the pad never descends beyond the "
    "speed limit + 10 %") {
  // The drive's speed loop reacts within 1–2 ms while the pad accelerates at
  // up to (max load + pad) / mass ≈ 17 m/s²: it overshot SPEED_LIMIT by up to
  // 14 mm/s (113.8 mm/s for a 100 mm/s limit).
  for (std::uint64_t seed : {7u, 8u}) {
    CAPTURE(seed);
    const Outcome o = run_seed(seed);
    INFO(summary(o));
    CHECK(judge_pad_speed(o).ok);
  }
}

// Isometric holds (the population's seeds 1, 16 and 19 of --seed 1): the trait
// athlete did reps against the hold and the controller ended it by force_drop
// after ~13 s, "the truth has no force drop". Now the athlete holds, and the
// controller's stop and hold time agree with its truth. Seed 855: a user who
// out-pushed a light hold (the pad 8 mm above the hold's height) stands up;
// the pad falls 15 mm but never 5 mm below the hold's height at speed.
TEST_CASE("regression: isometric holds end as the athlete's truth says (seeds 1, 16, 19, 855)") {
  struct Want {
    std::uint64_t seed;
    controller::StopReason reason;
    controller::StopReason or_reason;
  };
  // Seed 16's user lets go 3 s into the hold: its true force has dropped by
  // the programme's 20 % (at 3.51 s) before the pad falls, so force_drop at
  // 3.52 s is as right as user_left (the judge accepts both).
  using R = controller::StopReason;
  for (const Want w :
       {Want{1, R::HoldComplete, R::HoldComplete}, Want{16, R::UserLeft, R::ForceDrop},
        Want{19, R::ForceDrop, R::ForceDrop}, Want{855, R::UserLeft, R::UserLeft}}) {
    CAPTURE(w.seed);
    const Case c = draw_case(w.seed);
    REQUIRE(c.programme.mode == controller::Mode::Isometric);
    const Outcome o = run(c);
    REQUIRE(o.result);
    CHECK((o.result->reason == w.reason || o.result->reason == w.or_reason));
    const Judgement j = judge(o);
    CHECK_MESSAGE(j.stop.ok, j.stop.why);
    CHECK_MESSAGE(j.tut.ok, j.tut.why);
    CHECK(j.false_left.ok);
  }
}

TEST_CASE(
    "regression: a grinder (tests/e2e's) is not ended by loss_of_control, and every full rep "
    "counts") {
  // tests/e2e "traits: a grinder rises slowly near its maximum": capacity 900 N
  // against 700 N, tempo 2-0.5-2-0.5, 4 reps; the daemon ended it with
  // loss_of_control after 3 reps although the athlete never wobbled.
  Case c;
  c.seed = 4343;
  auto& a = c.athlete;
  a.capacity_n = 900;
  a.bottom_mm = 30;
  a.top_mm = 130;
  a.seed = 4343;
  a.tempo = {2, 0.5, 2, 0.5};
  a.traits.enabled = true;
  a.traits.effort = sim::Effort::Grind;
  c.programme.mode = controller::Mode::Isotonic;
  c.programme.load_n = 700;
  c.programme.tempo = {2, 0.5, 2, 0.5};
  c.programme.target_reps = 4;
  c.programme.set_id = 1;
  const Outcome o = run(c);
  std::string reps;
  for (const auto& r : o.reps)
    reps += " [n " + std::to_string(r.n) + " rev " + std::to_string(r.reversals) + " smooth " +
            std::to_string(r.smoothness) + "]";
  INFO(summary(o) << reps);
  REQUIRE(o.result);
  CHECK(o.result->reason == controller::StopReason::TargetReached);
  CHECK(o.result->reps == 4);
  CHECK(judge_stop(o).ok);
}

TEST_CASE(
    "regression: campaign seeds 724, 949, 1543, 1806, a member slackens at once under load at the "
    "bottom: the heel is never pressed beyond the fade") {
  // soleus-fault-campaign --sets 2000 --seed 1 found these four: a member
  // holding 800-1600 N at the bottom of a rep gives way at once; the host's
  // command is at 0 within 20 ms, but the drive's torque falls only at its
  // TORQUE_SLEW (~3.6 kN/s), and the pad drove the heel 3.1-3.9 mm below
  // its anatomical bottom (the fade is 3 mm).
  WorldOptions wo = sim_world(150);
  for (const std::uint64_t seed : {724u, 949u, 1543u, 1806u}) {
    const Case c = draw_campaign_case(seed);
    const Outcome o = run_case(c, wo);
    REQUIRE(o.error.empty());
    const CampaignVerdict v = judge_campaign(o);
    CAPTURE(seed);
    CHECK_MESSAGE(v.end_of_range.ok, v.end_of_range.why);
    CHECK_MESSAGE(!v.unsafe(), v.why());
  }
}

TEST_CASE(
    "regression: campaign seed 9170, an athlete resting on the heels under 1700 N: the contact "
    "force does not alternate from ms to ms") {
  // soleus-sim's trait athlete took the heel's height for its muscle from the
  // last step's tissue compression: on the stiff heel stop (300 N/mm) that
  // loop flipped every ms between two states 330 N apart (heel 44.1 / 46.0
  // mm), and the 100 Hz loop read only one of them. The compression now
  // follows the contact with a 1 ms lag (damped), as soft tissue does.
  const Outcome o = run_case(draw_campaign_case(9170), sim_world(150));
  REQUIRE(o.error.empty());
  // The mean change from one ms to the next (a stick-slip of the screw still
  // makes single steps of ~170 N through the heel's damping; the flip made
  // every step one of ~330 N).
  double sum = 0;
  int n = 0;
  for (std::size_t i = 1; i < o.samples.size(); ++i) {
    const auto& a = o.samples[i - 1];
    const auto& b = o.samples[i];
    // On the heel stop (the bone below its anatomical bottom), the pad still.
    const double bottom = o.c.athlete.bottom_mm;
    if (b.t < 20 || b.t > 27 || std::abs(a.v) > 0.5 || std::abs(b.v) > 0.5 || a.away || b.away)
      continue;
    if (std::min(a.heel, b.heel) >= bottom + 2.5) continue;
    sum += std::abs(b.contact - a.contact);
    ++n;
  }
  REQUIRE(n > 500);
  INFO("mean ms-to-ms change of contact with the pad still, the heel at its bottom: "
       << sum / n << " N over " << n << " ms");
  CHECK(sum / n < 100.0);  // 55 N now; 322 N with the flip
}
