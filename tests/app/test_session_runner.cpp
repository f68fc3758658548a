// The programme-session runner's decisions on a real (in-memory) SQLite
// database, on synthetic time: where a session stands, the rest, progression
// once per completed session, and resuming after a crash without repeating or
// losing a set. The rules alone (loads as % of the assessed max, the block
// rule, ...) are tested on plain values in tests/programme/test_rules.cpp.
#include <doctest/doctest.h>

#include "soleus/app/session_runner.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/schema.hpp"

using namespace soleus;
using namespace soleus::app::runner;
namespace json = boost::json;

namespace {

struct Fixture {
  storage::Database db = storage::Database::open(":memory:");
  std::int64_t member = 0, programme = 0;
  std::int64_t t = 1'800'000'000'000;  // synthetic wall time, ms
  std::int64_t next_set = 1;

  explicit Fixture(const char* progress_when = "all_sets_target_on_tempo") {
    storage::migrate(db);
    const storage::Actor staff{"staff", std::nullopt};
    member = storage::add_member(db, "1042", "Ann", staff);
    storage::MemberUpdate u;
    u.assessed_max_n = 1500.0;
    storage::update_member(db, member, u, staff);
    storage::ProgrammeSpec p;
    p.name = "Soleus base";
    p.block_weeks = 6;
    p.after_block_sessions_per_week = 3;
    p.sessions_per_week = 3;
    storage::StepSpec a;  // 2 × 12 at 60 % of max, +5 % when every set reached target
    a.sets = 2;
    a.target_reps = 12;
    a.load_pct_max = 60;
    a.rest_s = 90;
    a.progress_when = progress_when;
    a.progress_rule = "load_pct";
    a.progress_amount = 5;
    storage::StepSpec b;  // 1 × 30 s hold at 800 N, +5 s
    b.mode = "isometric";
    b.sets = 1;
    b.target_reps.reset();
    b.hold_s = 30.0;
    b.load_n = 800.0;
    b.rest_s = 0;
    b.progress_when = "all_sets_target";
    b.progress_rule = "hold_s";
    b.progress_amount = 5;
    p.steps = {a, b};
    programme = storage::add_programme(db, p, staff);
    storage::assign_programme(db, member, programme, t, staff);
  }

  Plan plan() {
    auto p = load_plan(db, member);
    REQUIRE(p);
    return *p;
  }

  /// A set of the session as the daemon's writer stores it.
  std::int64_t add_set(std::int64_t session, const Step& st, int index, const char* reason,
                       int reps, bool on_tempo = true, bool ended = true) {
    const std::int64_t id = next_set++;
    auto s = db.prepare(
        "INSERT INTO sets (id, session_id, member_id, step_id, set_index, started_ms, ended_ms, "
        "mode, load_n, stop_reason, reps) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 900, ?9, ?10)");
    s.bind(1, id)
        .bind(2, session)
        .bind(3, member)
        .bind(4, st.id)
        .bind(5, index)
        .bind(6, t)
        .bind(7, ended ? std::optional<std::int64_t>(t + 60'000) : std::nullopt)
        .bind(8, st.mode)
        .bind(9, ended ? std::optional<std::string>(reason) : std::nullopt)
        .bind(10, reps);
    s.run();
    for (int n = 1; n <= reps; ++n) {
      auto r = db.prepare(
          "INSERT INTO reps (set_id, seq, n, t_start_s, peak_force_n, mean_force_n, concentric_s, "
          "top_pause_s, eccentric_s, bottom_pause_s, rom_mm, rom_pct, mean_velocity_mm_s, "
          "smoothness, on_tempo, tempo_deviation_s, tut_s) "
          "VALUES (?1, ?2, ?2, 0, 900, 800, 3, 1, 3, 1, 100, 95, 30, 0.9, ?3, 0.1, 8)");
      r.bind(1, id).bind(2, n).bind(3, on_tempo || n != reps);
      r.run();
    }
    t += 60'000;
    return id;
  }
};

}  // namespace

TEST_CASE("runner: walks the steps and sets in order, and a completed session progresses once") {
  Fixture f;
  Plan p = f.plan();
  const std::int64_t s = open_session(f.db, p, f.t);
  CHECK(find_open(f.db, f.member)->id == s);
  Position pos = locate(p, session_sets(f.db, s));
  CHECK(pos.step == 0);
  CHECK(pos.set_index == 1);
  CHECK_FALSE(pos.last_end_ms);

  f.add_set(s, p.steps[0], 1, "target_reached", 12);
  pos = locate(p, session_sets(f.db, s));
  CHECK(pos.step == 0);
  CHECK(pos.set_index == 2);
  REQUIRE(pos.last_end_ms);
  CHECK(*pos.last_end_ms == f.t);
  CHECK(pos.rest_s == 90);  // the rest after a set of step 1

  f.add_set(s, p.steps[0], 2, "target_reached", 12);
  pos = locate(p, session_sets(f.db, s));
  CHECK(pos.step == 1);
  CHECK(pos.set_index == 1);
  f.add_set(s, p.steps[1], 1, "hold_complete", 0);
  pos = locate(p, session_sets(f.db, s));
  CHECK(complete(p, pos));

  json::object r = close_session(f.db, s, p, f.t, "ended by the member");
  CHECK(r.at("state").as_string() == "done");
  CHECK_FALSE(find_open(f.db, f.member));
  // Next session: step 1 at 60 % × 1.05, the hold 5 s longer.
  p = f.plan();
  CHECK(p.steps[0].level == 1);
  CHECK(p.steps[1].level == 1);
  std::string why;
  CHECK(prescribe(p.steps[0], p.assessed_max_n, 2000, why)->load_n == 945);
  CHECK(*prescribe(p.steps[1], p.assessed_max_n, 2000, why)->hold_s == doctest::Approx(35));
  // Closing again changes nothing (progression applied once).
  r = close_session(f.db, s, f.plan(), f.t, "again");
  CHECK(r.at("state").as_string() == "done");
  CHECK(f.plan().steps[0].level == 1);
  // Audited, by the system.
  CHECK(f.db.scalar_int("SELECT count(*) FROM audit WHERE entity = 'step_progress' AND "
                        "actor_role = 'system'") == 2);
}

TEST_CASE("runner: no progression when a set missed its target, or a rep was off tempo") {
  SUBCASE("missed target") {
    Fixture f;
    const Plan p = f.plan();
    const auto s = open_session(f.db, p, f.t);
    f.add_set(s, p.steps[0], 1, "target_reached", 12);
    f.add_set(s, p.steps[0], 2, "force_drop", 9);
    f.add_set(s, p.steps[1], 1, "hold_complete", 0);
    const auto out = judge(p, session_sets(f.db, s));
    CHECK_FALSE(out[0].progressed);
    CHECK(out[0].why == "1 of 2 sets reached the target");
    CHECK(out[1].progressed);
    close_session(f.db, s, p, f.t, "end");
    CHECK(f.plan().steps[0].level == 0);
    CHECK(f.plan().steps[1].level == 1);
  }
  SUBCASE("off tempo, with an on-tempo rule") {
    Fixture f;
    const Plan p = f.plan();
    const auto s = open_session(f.db, p, f.t);
    f.add_set(s, p.steps[0], 1, "target_reached", 12);
    f.add_set(s, p.steps[0], 2, "target_reached", 12, /*on_tempo=*/false);
    const auto out = judge(p, session_sets(f.db, s));
    CHECK_FALSE(out[0].progressed);
    CHECK(out[0].why.find("not every rep was on tempo") != std::string::npos);
  }
  SUBCASE("off tempo, with a target-only rule") {
    Fixture f("all_sets_target");
    const Plan p = f.plan();
    const auto s = open_session(f.db, p, f.t);
    f.add_set(s, p.steps[0], 1, "target_reached", 12);
    f.add_set(s, p.steps[0], 2, "target_reached", 12, /*on_tempo=*/false);
    CHECK(judge(p, session_sets(f.db, s))[0].progressed);
  }
}

TEST_CASE("runner: a session cut by a crash resumes at the next set and never repeats one") {
  Fixture f;
  const Plan p = f.plan();
  const auto s = open_session(f.db, p, f.t);
  f.add_set(s, p.steps[0], 1, "target_reached", 12);
  // Set 2 began, then the daemon died: no end record.
  f.add_set(s, p.steps[0], 2, nullptr, 4, true, /*ended=*/false);
  const Position pos = locate(p, session_sets(f.db, s));
  CHECK(pos.step == 1);  // set 2 of step 1 counts as performed: not repeated
  CHECK(pos.set_index == 1);
  REQUIRE(pos.last_end_ms);  // rest runs from the cut set's start
  // An aborted session does not progress.
  const auto sets = session_sets(f.db, s);
  CHECK_FALSE(judge(p, sets)[0].progressed);
  json::object r = close_session(f.db, s, p, f.t, "left open");
  CHECK(r.at("state").as_string() == "aborted");
  CHECK(f.plan().steps[0].level == 0);
}

TEST_CASE(
    "runner: the plan carries the programme's frequency, its block rule and the assessed max") {
  // The rules themselves are tests/programme's; this is the store's rows mapped onto them.
  Fixture f;
  const Plan p = f.plan();
  CHECK(p.member_id == f.member);
  CHECK(p.programme_id == f.programme);
  CHECK(p.programme_name == "Soleus base");
  CHECK(p.assignment_started_ms == f.t);
  CHECK(p.sessions_per_week == 3);
  CHECK(p.block_weeks == 6);
  CHECK(p.after_block_sessions_per_week == 3);
  CHECK(p.assessed_max_n == 1500.0);
  REQUIRE(p.steps.size() == 2);
  CHECK(p.steps[0].position == 1);
  CHECK(p.steps[0].load_pct == 60.0);
  CHECK_FALSE(p.steps[0].load_n);
  CHECK(p.steps[0].tempo == "3-1-3-1");
  CHECK(p.steps[0].progress_rule == "load_pct");
  CHECK(p.steps[1].mode == "isometric");
  CHECK(p.steps[1].hold_s == 30.0);
  CHECK_FALSE(p.steps[1].target_reps);
  CHECK(p.steps[1].load_n == 800.0);
  CHECK(p.steps[1].level == 0);
}
