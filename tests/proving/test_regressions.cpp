// Issue 9's four failures, found by people outside the team against an
// independent model, as proving-ground cases: soleus-sim's machine and a trait
// athlete through the real drivers and controller on synthetic time. The load
// cell is mounted as that model read the ICD: tared with the pad on its stop,
// it carries the pad's weight in use and reads contact − 78.5 N.
#include <doctest/doctest.h>

#include <algorithm>

#include "soleus/proving/judges.hpp"
#include "soleus/proving/world.hpp"

using namespace soleus;
using namespace soleus::proving;

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
  WorldOptions o;
  o.config_path = SOLEUS_SOURCE_DIR "/config/sim.toml";
  o.max_s = 120;
  Outcome out = run_case(c, o);
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

TEST_CASE("regression: a calm user sitting still for 3 s under the light first-rep load is not declared gone") {
  const Outcome o = run(follower(3.0));
  INFO(summary(o));
  REQUIRE(o.result);
  CHECK_FALSE(ended_user_left(o));
  CHECK(o.active_start_s.has_value());  // the calibration rep happened after the wait
}

TEST_CASE("regression: a smooth first rep that follows the light load exactly does not end the set") {
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

TEST_CASE("regression: a user who stands up is declared gone within 0.5 s of the pad falling, and the unload never raises the force") {
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

TEST_CASE("regression: a grinder (tests/e2e's) is not ended by loss_of_control, and every full rep counts") {
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
