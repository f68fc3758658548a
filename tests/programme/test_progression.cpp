// Double progression and the change decision (programme::decide) on plain
// values: top of the range reached → load up and target back to the bottom;
// every set at the target → target +1 up to the top; the on-tempo condition;
// a PAIN stop changes nothing and flags; an incomplete session changes nothing.
#include <doctest/doctest.h>

#include "soleus/programme/rules.hpp"

using namespace soleus::programme;

namespace {

Plan double_plan(std::string increment = "load_pct", bool on_tempo = false) {
  Plan p;
  p.member_id = 1;
  p.assignment_id = 1;
  p.programme_id = 1;
  p.assessed_max_n = 1000.0;
  Step s;  // 2 sets, 10–15 reps at 60 % of max, +10 % when the top is reached
  s.id = 7;
  s.mode = "isotonic";
  s.sets = 2;
  s.target_reps = 10;
  s.rep_min = 10;
  s.rep_max = 15;
  s.load_pct = 60;
  s.progress_rule = "double";
  s.increment = std::move(increment);
  s.progress_amount = 10;
  s.progress_when = on_tempo ? "all_sets_target_on_tempo" : "all_sets_target";
  p.steps = {s};
  return p;
}

SetDone set_of(int index, int reps, const char* why = "target_reached", bool tempo = true) {
  SetDone d;
  d.set_id = index;
  d.step_id = 7;
  d.set_index = index;
  d.started_ms = 1'800'000'000'000 + index * 60'000;
  d.ended_ms = d.started_ms + 30'000;
  d.stop_reason = why;
  d.reps = reps;
  d.all_on_tempo = tempo;
  return d;
}

/// Applies a change to the plan, as the runner stores it.
void apply(Plan& p, const Change& c) {
  p.steps[0].level = c.level_after;
  p.steps[0].target = c.target_after;
}

}  // namespace

TEST_CASE("double progression: the target climbs one rep per successful session, then the load") {
  Plan p = double_plan();
  std::string err;
  auto rx = prescribe(p.steps[0], p.assessed_max_n, 5000, err);
  REQUIRE(rx);
  CHECK(rx->target_reps == 10);  // the bottom of the range first
  CHECK(rx->load_n == doctest::Approx(600));
  // Five successful sessions: 10 → 11 → … → 15.
  for (int target = 10; target < 15; ++target) {
    const Decision d = decide(p, {set_of(1, target), set_of(2, target)}, true);
    REQUIRE(d.changes.size() == 1);
    CHECK(d.changes[0].kind == "target_up");
    CHECK(d.changes[0].target_before == target);
    CHECK(d.changes[0].target_after == target + 1);
    CHECK(d.changes[0].level_after == 0);
    CHECK(d.changes[0].reason.find("target") != std::string::npos);
    apply(p, d.changes[0]);
    CHECK(prescribe(p.steps[0], p.assessed_max_n, 5000, err)->target_reps == target + 1);
  }
  // At the top: every set made 15 → load +10 %, target back to 10.
  const Decision top = decide(p, {set_of(1, 15), set_of(2, 15)}, true);
  CHECK(top.changes[0].kind == "load_up");
  CHECK(top.changes[0].level_after == 1);
  CHECK(top.changes[0].target_after == 10);
  CHECK(top.changes[0].reason.find("top of the range") != std::string::npos);
  apply(p, top.changes[0]);
  rx = prescribe(p.steps[0], p.assessed_max_n, 5000, err);
  CHECK(rx->load_n == doctest::Approx(660));
  CHECK(rx->target_reps == 10);
  CHECK(level_load_factor(p.steps[0]) == doctest::Approx(1.1));
}

TEST_CASE("double progression: a partial session changes nothing, and +N increments add newtons") {
  Plan p = double_plan("load_n");
  p.steps[0].load_pct.reset();
  p.steps[0].load_n = 500;
  p.steps[0].target = 12;
  // One set short of the target: nothing.
  Decision d = decide(p, {set_of(1, 12), set_of(2, 9, "force_drop")}, true);
  CHECK(d.changes[0].kind == "none");
  CHECK(d.changes[0].target_after == 12);
  CHECK(d.changes[0].reason == "1 of 2 sets reached the target of 12 reps");
  // Top reached in one set only: +1 rep (both reached the target), not load.
  d = decide(p, {set_of(1, 15), set_of(2, 12)}, true);
  CHECK(d.changes[0].kind == "target_up");
  CHECK(d.changes[0].target_after == 13);
  // Load up by +N.
  p.steps[0].target = 15;
  d = decide(p, {set_of(1, 15), set_of(2, 15)}, true);
  CHECK(d.changes[0].kind == "load_up");
  apply(p, d.changes[0]);
  std::string err;
  p.steps[0].progress_amount = 25;
  CHECK(prescribe(p.steps[0], std::nullopt, 5000, err)->load_n == doctest::Approx(525));
  CHECK(level_load_factor(p.steps[0]) == doctest::Approx(1.0));
}

TEST_CASE("double progression: with on tempo, the top must be reached with every rep on tempo") {
  Plan p = double_plan("load_pct", true);
  p.steps[0].target = 15;
  Decision d = decide(p, {set_of(1, 15), set_of(2, 15, "target_reached", false)}, true);
  CHECK(d.changes[0].kind == "none");
  CHECK(d.changes[0].level_after == 0);
  CHECK(d.changes[0].target_after == 15);
  CHECK(d.changes[0].reason.find("not every rep was on tempo") != std::string::npos);
  d = decide(p, {set_of(1, 15), set_of(2, 15)}, true);
  CHECK(d.changes[0].kind == "load_up");
  CHECK(d.changes[0].reason.find("on tempo") != std::string::npos);
}

TEST_CASE(
    "a PAIN stop changes nothing and flags the member, and an incomplete session changes nothing") {
  Plan p = double_plan();
  p.steps[0].target = 15;
  p.steps[0].level = 2;
  Decision d = decide(p, {set_of(1, 15), set_of(2, 4, "pain")}, true);
  CHECK(d.pain);
  CHECK(d.changes[0].kind == "pain");
  CHECK(d.changes[0].level_after == 2);
  CHECK(d.changes[0].target_after == 15);
  // Even when the pain set came first and every set "reached the top".
  d = decide(p, {set_of(1, 15, "pain"), set_of(2, 15)}, true);
  CHECK(d.pain);
  CHECK(d.changes[0].kind == "pain");
  // Incomplete: nothing, no flag.
  d = decide(p, {set_of(1, 15)}, false);
  CHECK_FALSE(d.pain);
  CHECK(d.changes[0].kind == "none");
  CHECK(d.changes[0].level_after == 2);
}

TEST_CASE("decide: the simple rules' changes are named by kind, with the level they earn") {
  Plan p = double_plan();
  p.steps[0].progress_rule = "reps";
  p.steps[0].progress_amount = 2;
  p.steps[0].target_reps = 10;
  Decision d = decide(p, {set_of(1, 10), set_of(2, 10)}, true);
  CHECK(d.changes[0].kind == "reps_up");
  CHECK(d.changes[0].level_after == 1);
  CHECK_FALSE(d.changes[0].target_before);
  p.steps[0].progress_rule = "load_n";
  d = decide(p, {set_of(1, 10), set_of(2, 8, "force_drop")}, true);
  CHECK(d.changes[0].kind == "none");
  CHECK(d.changes[0].reason == "1 of 2 sets reached the target");
  p.steps[0].progress_rule = "none";
  p.steps[0].progress_when = "never";
  d = decide(p, {set_of(1, 10), set_of(2, 10)}, true);
  CHECK(d.changes[0].kind == "none");
}
