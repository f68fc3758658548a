// The programme rules on plain values: loads as % of the assessed max with
// the machine's cap, progression levels, where a session stands from its
// sets, which steps earned a level, and the block rule. The plan is the one
// tests/app/test_session_runner.cpp stores and loads: the same programme
// ("Soleus base"), built here without a database.
#include <doctest/doctest.h>

#include "soleus/programme/rules.hpp"

using namespace soleus::programme;

namespace {

constexpr std::int64_t kT0 = 1'800'000'000'000;  // synthetic wall time, ms

struct Fixture {
  std::int64_t t = kT0;
  std::int64_t next_set = 1;
  Plan p;

  explicit Fixture(const char* progress_when = "all_sets_target_on_tempo") {
    p.member_id = 1;
    p.assignment_id = 1;
    p.assignment_started_ms = t;
    p.programme_id = 1;
    p.programme_name = "Soleus base";
    p.sessions_per_week = 3;
    p.block_weeks = 6;
    p.after_block_sessions_per_week = 3;
    p.assessed_max_n = 1500.0;
    Step a;  // 2 × 12 at 60 % of max, +5 % when every set reached target
    a.id = 1;
    a.position = 1;
    a.mode = "isotonic";
    a.sets = 2;
    a.target_reps = 12;
    a.load_pct = 60;
    a.tempo = "3-1-3-1";
    a.rest_s = 90;
    a.progress_when = progress_when;
    a.progress_rule = "load_pct";
    a.progress_amount = 5;
    Step b;  // 1 × 30 s hold at 800 N, +5 s
    b.id = 2;
    b.position = 2;
    b.mode = "isometric";
    b.sets = 1;
    b.hold_s = 30.0;
    b.load_n = 800.0;
    b.tempo = "3-1-3-1";
    b.rest_s = 0;
    b.progress_when = "all_sets_target";
    b.progress_rule = "hold_s";
    b.progress_amount = 5;
    p.steps = {a, b};
  }

  const Plan& plan() const { return p; }

  /// A set of the session as the runner reads it back from the store.
  SetDone set(const Step& st, int index, const char* reason, int reps, bool on_tempo = true,
              bool ended = true) {
    SetDone d;
    d.set_id = next_set++;
    d.step_id = st.id;
    d.set_index = index;
    d.started_ms = t;
    if (ended) d.ended_ms = t + 60'000;
    if (ended && reason) d.stop_reason = reason;
    d.reps = reps;
    d.all_on_tempo = on_tempo;
    t += 60'000;
    return d;
  }
};

}  // namespace

TEST_CASE("runner: loads as % of the assessed max, with the machine's cap") {
  Fixture f;
  const Plan& p = f.plan();
  REQUIRE(p.steps.size() == 2);
  std::string why;
  auto rx = prescribe(p.steps[0], p.assessed_max_n, 2000, why);
  REQUIRE(rx);
  CHECK(rx->load_n == 900);  // 60 % of 1500 N
  CHECK(rx->target_reps == 12);
  CHECK(rx->basis.find("60 % of 1500 N") != std::string::npos);
  rx = prescribe(p.steps[0], p.assessed_max_n, 850, why);
  REQUIRE(rx);
  CHECK(rx->load_n == 850);
  CHECK(rx->basis.find("capped") != std::string::npos);
  CHECK_FALSE(prescribe(p.steps[0], std::nullopt, 2000, why));
  CHECK(why.find("assessed max") != std::string::npos);
}

TEST_CASE("runner: the block rule lowers the frequency after the block") {
  Fixture f;
  const Plan p = f.plan();
  CHECK(sessions_per_week(p, f.t) == 3);
  CHECK(sessions_per_week(p, p.assignment_started_ms + 6LL * 7 * 86'400'000) == 3);
  Plan q = p;
  q.sessions_per_week = 4;
  CHECK(sessions_per_week(q, q.assignment_started_ms + 5LL * 7 * 86'400'000) == 4);
  CHECK(sessions_per_week(q, q.assignment_started_ms + 6LL * 7 * 86'400'000) == 3);
}

TEST_CASE("rules: each progression rule applies its levels, and the cap and the floor hold") {
  Fixture f;
  std::string why;
  Step a = f.plan().steps[0];  // 60 % of 1500 N, +5 % a level
  a.level = 2;
  auto rx = prescribe(a, 1500.0, 2000, why);
  REQUIRE(rx);
  CHECK(rx->load_n == 992);  // 900 × 1.05² = 992.25, rounded
  CHECK(rx->basis.find("progression") != std::string::npos);
  CHECK(level_load_factor(a) == doctest::Approx(1.05));

  Step n = a;  // +20 N a level
  n.progress_rule = "load_n";
  n.progress_amount = 20;
  CHECK(prescribe(n, 1500.0, 2000, why)->load_n == 940);
  CHECK(level_load_factor(n) == 1.0);

  Step r = a;  // +2 reps a level, at most 100
  r.progress_rule = "reps";
  r.progress_amount = 2;
  CHECK(*prescribe(r, 1500.0, 2000, why)->target_reps == 16);
  r.level = 60;
  CHECK(*prescribe(r, 1500.0, 2000, why)->target_reps == 100);

  Step h = f.plan().steps[1];  // 30 s hold, +5 s a level, at most 600 s
  h.level = 1;
  CHECK(*prescribe(h, 1500.0, 2000, why)->hold_s == doctest::Approx(35));
  h.level = 200;
  CHECK(*prescribe(h, 1500.0, 2000, why)->hold_s == doctest::Approx(600));
  CHECK(prescribe(h, std::nullopt, 2000, why)->load_n == 800);  // in N: no assessed max needed

  Step none = a;  // no rule: levels change nothing
  none.progress_rule = "none";
  CHECK(prescribe(none, 1500.0, 2000, why)->load_n == 900);

  Step tiny = h;  // never below 1 N
  tiny.load_n = 0.2;
  tiny.level = 0;
  CHECK(prescribe(tiny, std::nullopt, 2000, why)->load_n == 1);

  Step empty = h;
  empty.load_n.reset();
  CHECK_FALSE(prescribe(empty, 1500.0, 2000, why));
  CHECK(why == "the step has no load");
}

TEST_CASE(
    "rules: a session walks the steps and sets in order, and the rest follows the latest set") {
  Fixture f;
  const Plan& p = f.plan();
  std::vector<SetDone> done;
  Position pos = locate(p, done);
  CHECK(pos.step == 0);
  CHECK(pos.set_index == 1);
  CHECK_FALSE(pos.last_end_ms);

  done.push_back(f.set(p.steps[0], 1, "target_reached", 12));
  pos = locate(p, done);
  CHECK(pos.step == 0);
  CHECK(pos.set_index == 2);
  REQUIRE(pos.last_end_ms);
  CHECK(*pos.last_end_ms == f.t);
  CHECK(pos.rest_s == 90);

  done.push_back(f.set(p.steps[0], 2, "target_reached", 12));
  done.push_back(f.set(p.steps[1], 1, "hold_complete", 0));
  pos = locate(p, done);
  CHECK(complete(p, pos));
  CHECK(pos.rest_s == 0);  // the hold step's rest

  const auto out = judge(p, done);
  REQUIRE(out.size() == 2);
  CHECK(out[0].progressed);
  CHECK(out[0].sets_at_target == 2);
  CHECK(out[0].why.find("on tempo") != std::string::npos);
  CHECK(out[1].progressed);
}

TEST_CASE("rules: a set cut by a crash counts as performed, and the rest runs from its start") {
  Fixture f;
  const Plan& p = f.plan();
  std::vector<SetDone> done{f.set(p.steps[0], 1, "target_reached", 12)};
  const std::int64_t cut_start = f.t;
  done.push_back(f.set(p.steps[0], 2, nullptr, 4, true, /*ended=*/false));
  const Position pos = locate(p, done);
  CHECK(pos.step == 1);
  CHECK(pos.set_index == 1);
  REQUIRE(pos.last_end_ms);
  CHECK(*pos.last_end_ms == cut_start);
  const auto out = judge(p, done);
  CHECK_FALSE(out[0].progressed);
  CHECK(out[0].why == "1 of 2 sets reached the target");
  CHECK_FALSE(out[1].progressed);
  CHECK(out[1].why == "0 of 1 sets performed");
}

TEST_CASE("rules: progression needs every set at target, and on tempo when the rule says so") {
  SUBCASE("off tempo, with an on-tempo rule") {
    Fixture f;
    const Plan& p = f.plan();
    const std::vector<SetDone> done{f.set(p.steps[0], 1, "target_reached", 12),
                                    f.set(p.steps[0], 2, "target_reached", 12, false)};
    CHECK(judge(p, done)[0].why == "every set reached the target, but not every rep was on tempo");
  }
  SUBCASE("off tempo, with a target-only rule") {
    Fixture f("all_sets_target");
    const Plan& p = f.plan();
    const std::vector<SetDone> done{f.set(p.steps[0], 1, "target_reached", 12),
                                    f.set(p.steps[0], 2, "target_reached", 12, false)};
    CHECK(judge(p, done)[0].progressed);
  }
  SUBCASE("no rule") {
    Fixture f;
    Plan p = f.plan();
    p.steps[0].progress_when = "never";
    const std::vector<SetDone> done{f.set(p.steps[0], 1, "target_reached", 12),
                                    f.set(p.steps[0], 2, "target_reached", 12)};
    CHECK_FALSE(judge(p, done)[0].progressed);
    CHECK(judge(p, done)[0].why == "no progression rule");
  }
}
