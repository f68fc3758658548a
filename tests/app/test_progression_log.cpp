// Issue 13 §2 on a real SQLite file: a session's outcome updates the step's
// state (double progression's target and load level) and writes the change
// log with its reason; a PAIN stop changes nothing, logs "pain" and flags the
// member; the schedule reads the sessions attended. The rules themselves are
// tested on plain values in tests/programme/.
#include <doctest/doctest.h>

#include "soleus/app/session_runner.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/progression.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/test_support/process.hpp"

using namespace soleus;
using namespace soleus::app::runner;

namespace {

constexpr std::int64_t kDay = 86'400'000;

struct Fixture {
  test::TempDir dir;
  storage::Database db = storage::Database::open(dir.file("soleus.db"));
  std::int64_t member = 0, programme = 0;
  std::int64_t t = 20'000 * kDay + 9 * 3'600'000;  // synthetic wall time, ms
  std::int64_t next_set = 1;

  Fixture() {
    storage::migrate(db);
    const storage::Actor staff{"staff", std::nullopt};
    member = storage::add_member(db, "1042", "Ann", staff);
    storage::MemberUpdate u;
    u.assessed_max_n = 1000.0;
    storage::update_member(db, member, u, staff);
    storage::ProgrammeSpec p;
    p.name = "Double";
    p.block_weeks = 6;
    p.after_block_sessions_per_week = 3;
    p.block_every_other_day = true;
    storage::StepSpec a;  // 1 × 3–4 reps at 50 % of max, +10 % at the top
    a.sets = 1;
    a.target_reps = 3;
    a.rep_min = 3;
    a.rep_max = 4;
    a.load_pct_max = 50;
    a.progress_when = "all_sets_target";
    a.progress_rule = "load_pct";
    a.progress_double = true;
    a.progress_amount = 10;
    p.steps = {a};
    programme = storage::add_programme(db, p, staff);
    storage::assign_programme(db, member, programme, t, staff);
  }

  Plan plan() {
    auto p = load_plan(db, member);
    REQUIRE(p);
    return *p;
  }

  /// One session of one set, closed by the member; returns the session id.
  std::int64_t session(int reps, const char* reason = "target_reached") {
    const Plan p = plan();
    const std::int64_t s = open_session(db, p, t);
    auto st = db.prepare(
        "INSERT INTO sets (id, session_id, member_id, step_id, set_index, started_ms, ended_ms, "
        "mode, load_n, stop_reason, reps) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, 'isotonic', 500, "
        "?7, ?8)");
    st.bind(1, next_set++)
        .bind(2, s)
        .bind(3, member)
        .bind(4, p.steps[0].id)
        .bind(5, t)
        .bind(6, t + 30'000)
        .bind(7, reason)
        .bind(8, reps);
    st.run();
    close_session(db, s, p, t + 60'000, "ended by the member");
    t += 2 * kDay;
    return s;
  }
};

}  // namespace

TEST_CASE("runner: double progression stores the target and the load level, and logs why") {
  Fixture f;
  std::string why;
  Plan p = f.plan();
  REQUIRE(p.steps[0].progress_rule == "double");
  CHECK(p.steps[0].increment == "load_pct");
  CHECK(prescribe(p.steps[0], p.assessed_max_n, 5000, why)->target_reps == 3);

  const std::int64_t s1 = f.session(3);  // the target of 3 reached: target 4
  p = f.plan();
  CHECK(p.steps[0].target == 4);
  CHECK(p.steps[0].level == 0);
  auto rx = prescribe(p.steps[0], p.assessed_max_n, 5000, why);
  CHECK(rx->target_reps == 4);
  CHECK(rx->load_n == 500);
  auto log = storage::member_changes(f.db, f.member);
  REQUIRE(log.size() == 1);
  CHECK(log[0].change == "target_up");
  CHECK(log[0].session_id == s1);
  CHECK(log[0].target_before == 3);
  CHECK(log[0].target_after == 4);
  CHECK(log[0].reason.find("target of 3 reps") != std::string::npos);

  f.session(4);  // the top: load +10 %, target back to 3
  p = f.plan();
  CHECK(p.steps[0].level == 1);
  CHECK(p.steps[0].target == 3);
  rx = prescribe(p.steps[0], p.assessed_max_n, 5000, why);
  CHECK(rx->load_n == 550);
  CHECK(rx->target_reps == 3);
  log = storage::member_changes(f.db, f.member);
  REQUIRE(log.size() == 2);
  CHECK(log[0].change == "load_up");  // newest first
  CHECK(log[0].level_before == 0);
  CHECK(log[0].level_after == 1);
  CHECK(log[0].reason.find("top of the range") != std::string::npos);

  f.session(2, "force_drop");  // short of the target: nothing, with the reason
  log = storage::member_changes(f.db, f.member);
  REQUIRE(log.size() == 3);
  CHECK(log[0].change == "none");
  CHECK(log[0].reason == "0 of 1 sets reached the target of 3 reps");
  CHECK(f.plan().steps[0].level == 1);
  CHECK_FALSE(storage::member_flag(f.db, f.member));

  // The schedule reads the three sessions, two days apart, in week 1 and 2.
  const auto sched = programme::schedule(schedule_input(f.db, f.plan()), f.t);
  CHECK(sched.phase == "block");
  CHECK(sched.block_week == 1);
  CHECK(sched.this_week.done == 3);
  CHECK(sched.this_week.planned == 4);
}

TEST_CASE("runner: a PAIN stop changes nothing, logs pain and flags the member") {
  Fixture f;
  f.session(3);  // target 4
  const std::int64_t s = f.session(1, "pain");
  const Plan p = f.plan();
  CHECK(p.steps[0].target == 4);
  CHECK(p.steps[0].level == 0);
  const auto log = storage::member_changes(f.db, f.member);
  REQUIRE(log.size() == 2);
  CHECK(log[0].change == "pain");
  CHECK(log[0].reason.find("PAIN") != std::string::npos);
  const auto flag = storage::member_flag(f.db, f.member);
  REQUIRE(flag);
  CHECK(flag->reason == "pain");
  CHECK(flag->session_id == s);
  CHECK(storage::clear_member_flag(f.db, f.member));
  CHECK_FALSE(storage::member_flag(f.db, f.member));
  // The member's export holds the log (oldest first) and the flag.
  const auto ex = storage::export_member(f.db, f.member);
  REQUIRE(ex);
  REQUIRE(ex->changes.size() == 2);
  CHECK(ex->changes[0].change == "target_up");
  CHECK(ex->changes[1].change == "pain");
  CHECK_FALSE(ex->flag);  // cleared above
  // The member's erasure takes the log and the flag with it.
  storage::flag_member(f.db, f.member, "pain", f.t, std::nullopt);
  storage::erase_member(f.db, f.member, storage::Actor{"staff", std::nullopt});
  CHECK(f.db.scalar_int("SELECT count(*) FROM progression_log") == 0);
  CHECK(f.db.scalar_int("SELECT count(*) FROM member_flags") == 0);
}
