// The data side: migration of the committed v1 fixture, member export and
// erasure with the audit trail, online backup while writing, the events
// query's plan and paging, and trace retention.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "soleus/app/views_from_storage.hpp"
#include "soleus/storage/assessments.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/open.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/sessions.hpp"
#include "soleus/storage/writer.hpp"
#include "storage_test_util.hpp"
#include "writer_test_util.hpp"

using namespace soleus::storage;
using namespace soleus::storage::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

TEST_CASE("migrations: the schema-v1 fixture is migrated to the newest with its data kept") {
  TempDir dir;
  const auto path = dir.file("v1.db");
  fs::copy_file(std::string(SOLEUS_SOURCE_DIR) + "/tests/storage/fixtures/schema-v1.db", path);
  {
    auto db = Database::open(path, Database::Access::ReadOnly);
    REQUIRE(schema_version(db) == 1);
  }
  auto cfg = test_config(path);
  auto opened = open_store(cfg);
  CHECK(opened.migration.from == 1);
  CHECK(opened.migration.to == kSchemaVersion);
  CHECK_FALSE(opened.moved_to);
  auto& db = opened.db;
  CHECK(schema_version(db) == kSchemaVersion);
  // The fixture's rows, unchanged.
  auto m = find_member_by_number(db, "1001");
  REQUIRE(m);
  CHECK(m->name == "Fixture Member");
  CHECK(m->assessed_max_n == std::optional<double>(1500));
  auto sets = query_sets(db, SetFilter{m->id, {}, {}, {}, 10, {}});
  REQUIRE(sets.size() == 1);
  CHECK(sets[0].stop_reason == std::optional<std::string>("force_drop"));
  auto reps = get_reps(db, sets[0].id);
  REQUIRE(reps.size() == 3);
  CHECK(reps[1].peak_force_n == doctest::Approx(812.5));
  CHECK(reps[2].partial);
  CHECK(reps[0].reversals == 0);  // new column, default
  CHECK_FALSE(reps[0].wobbly);
  CHECK(get_rep_trace(db, sets[0].id, 1).size() == 50);
  CHECK(db.scalar_int("SELECT count(*) FROM events") == 2);
  CHECK(db.scalar_int("SELECT count(*) FROM programme_steps") == 1);
  CHECK(db.scalar_int("SELECT count(*) FROM audit") == 1);
  CHECK(read_odometer(db).reps == 2);
  CHECK(check_integrity(db).ok);
  // And it takes the new columns.
  db.exec("UPDATE reps SET wobbly = 1 WHERE seq = 1");
  // Migration 3: release 1's "+5 % when every set reached its target on tempo"
  // is the rule load_pct, amount 5.
  auto st = db.prepare("SELECT progress_rule, progress_amount, progress_when FROM programme_steps");
  REQUIRE(st.step());
  CHECK(st.text(0) == "load_pct");
  CHECK(st.real(1) == doctest::Approx(5));
  CHECK(st.text(2) == "all_sets_target_on_tempo");
}

TEST_CASE("query_sets: only the sets that ended with the stop reasons asked for, newest first") {
  TempDir dir;
  auto opened = open_store(test_config(dir.file("s.db")));
  auto& db = opened.db;
  db.exec(
      "INSERT INTO sets (id, started_ms, stop_reason) VALUES (1, 1000, 'pain'), "
      "(2, 2000, 'target_reached'), (3, 3000, 'loss_of_control'), (4, 4000, NULL), "
      "(5, 5000, 'pain')");
  SetFilter f;
  f.stop_reasons = {"pain", "loss_of_control"};
  std::vector<std::int64_t> ids;
  for (const auto& r : query_sets(db, f)) ids.push_back(r.id);
  CHECK(ids == std::vector<std::int64_t>{5, 3, 1});
  f.stop_reasons = {"target_reached"};
  f.limit = 1;
  REQUIRE(query_sets(db, f).size() == 1);
  CHECK(query_sets(db, f)[0].id == 2);
  f.stop_reasons.clear();  // any, running ones too
  f.limit = 100;
  CHECK(query_sets(db, f).size() == 5);
}

TEST_CASE("migrations: the schema-v2 fixture is migrated to the newest with its data kept") {
  TempDir dir;
  const auto path = dir.file("v2.db");
  fs::copy_file(std::string(SOLEUS_SOURCE_DIR) + "/tests/storage/fixtures/schema-v2.db", path);
  {
    auto db = Database::open(path, Database::Access::ReadOnly);
    REQUIRE(schema_version(db) == 2);
  }
  auto opened = open_store(test_config(path));
  CHECK(opened.migration.from == 2);
  CHECK(opened.migration.to == kSchemaVersion);
  auto& db = opened.db;
  auto sets = query_sets(db, SetFilter{1, {}, {}, {}, 10, {}});
  REQUIRE(sets.size() == 1);
  auto reps = get_reps(db, sets[0].id);
  REQUIRE(reps.size() == 3);
  CHECK(reps[2].reversals == 3);  // release 2's columns kept
  CHECK(reps[2].wobbly);
  // step_progress keeps its factor and gains a level (0: release 2 counted none).
  auto sp = db.prepare("SELECT load_factor, level FROM step_progress");
  REQUIRE(sp.step());
  CHECK(sp.real(0) == doctest::Approx(1.05));
  CHECK(sp.int64(1) == 0);
  // Sessions take the runner's columns.
  db.exec("UPDATE sessions SET programme_id = 1, summary = '{\"state\":\"done\"}' WHERE id = 1");
  CHECK_THROWS(db.exec("UPDATE sessions SET summary = 'not json' WHERE id = 1"));
  CHECK(check_integrity(db).ok);
}

TEST_CASE("migrations: the schema-v3 fixture is migrated to the newest with its data kept") {
  TempDir dir;
  const auto path = dir.file("v3.db");
  fs::copy_file(std::string(SOLEUS_SOURCE_DIR) + "/tests/storage/fixtures/schema-v3.db", path);
  {
    auto db = Database::open(path, Database::Access::ReadOnly);
    REQUIRE(schema_version(db) == 3);
  }
  auto opened = open_store(test_config(path));
  CHECK(opened.migration.from == 3);
  CHECK(opened.migration.to == kSchemaVersion);
  auto& db = opened.db;
  // Release 3's rows kept: the level earned, the session's programme and summary.
  auto sp = db.prepare("SELECT load_factor, level, target_reps FROM step_progress");
  REQUIRE(sp.step());
  CHECK(sp.real(0) == doctest::Approx(1.05));
  CHECK(sp.int64(1) == 1);
  CHECK(sp.is_null(2));  // migration 4: no double-progression target yet (rep_min applies)
  CHECK(db.scalar_int("SELECT programme_id FROM sessions WHERE id = 1") == 1);
  CHECK(db.scalar_int("SELECT json_extract(summary, '$.sets') FROM sessions WHERE id = 1") == 1);
  // Migration 4's defaults: a step is not double progression and has no range,
  // a programme's block is per week, nothing is logged and nobody is flagged.
  auto st = db.prepare(
      "SELECT progress_rule, progress_double, rep_min IS NULL, rep_max IS NULL "
      "FROM programme_steps");
  REQUIRE(st.step());
  CHECK(st.text(0) == "load_pct");
  CHECK(st.int64(1) == 0);
  CHECK(st.int64(2) == 1);
  CHECK(st.int64(3) == 1);
  CHECK(db.scalar_int("SELECT block_every_other_day FROM programmes WHERE id = 1") == 0);
  CHECK(db.scalar_int("SELECT count(*) FROM progression_log") == 0);
  CHECK(db.scalar_int("SELECT count(*) FROM member_flags") == 0);
  // And it takes the new rows; the range's CHECKs hold.
  db.exec("UPDATE programme_steps SET rep_min = 10, rep_max = 15, progress_double = 1");
  CHECK_THROWS(db.exec("UPDATE programme_steps SET rep_min = 0"));
  CHECK_THROWS(db.exec("UPDATE programmes SET block_every_other_day = 2"));
  db.exec(
      "INSERT INTO progression_log (t_ms, member_id, change, level_before, level_after, reason) "
      "VALUES (1, 1, 'target_up', 0, 0, 'every set reached the target')");
  CHECK_THROWS(
      db.exec("INSERT INTO progression_log (t_ms, member_id, change, level_before, level_after, "
              "reason) VALUES (1, 1, 'sideways', 0, 0, 'x')"));
  db.exec("INSERT INTO member_flags (member_id, reason, t_ms) VALUES (1, 'pain', 1)");
  CHECK(check_integrity(db).ok);
}

TEST_CASE("members: changes are audited with before and after, never the PIN hash") {
  auto db = Database::open(":memory:");
  migrate(db);
  Actor staff{"staff", 3};
  auto id = add_member(db, "42", "Ann", staff);
  MemberUpdate u;
  u.name = "Ann B";
  u.pin_hash = std::optional<std::string>("$scrypt$secret-hash");
  u.rom_bottom_mm = std::optional<double>(12);
  u.rom_top_mm = std::optional<double>(118);
  u.assessed_max_n = std::optional<double>(1400);
  REQUIRE(update_member(db, id, u, staff));
  auto m = get_member(db, id);
  REQUIRE(m);
  CHECK(m->name == "Ann B");
  CHECK(m->rom_top_mm == std::optional<double>(118));
  CHECK(m->rom_measured_ms.has_value());
  auto audit = query_audit(db, "member", id);
  std::map<std::string, AuditRow> by_field;
  for (const auto& a : audit) by_field[a.field] = a;
  CHECK(by_field.at("name").before == std::optional<std::string>("Ann"));
  CHECK(by_field.at("name").after == std::optional<std::string>("Ann B"));
  CHECK(by_field.at("name").actor_role == "staff");
  CHECK(by_field.at("name").actor_id == std::optional<std::int64_t>(3));
  CHECK(by_field.at("pin_hash").after == std::optional<std::string>("(set)"));
  CHECK(by_field.at("assessed_max_n").after == std::optional<std::string>("1400"));
  CHECK(by_field.count("*") == 1);  // the creation
  for (const auto& a : audit) CHECK(a.after.value_or("").find("secret") == std::string::npos);
  // An update that changes nothing writes no audit row.
  const auto before = query_audit(db).size();
  MemberUpdate same;
  same.name = "Ann B";
  update_member(db, id, same, staff);
  CHECK(query_audit(db).size() == before);
  CHECK_FALSE(update_member(db, 999, same, staff));
}

TEST_CASE(
    "assessments: kept newest first, a complete one becomes the assessed max with its "
    "date and method, an incomplete or beyond-range one changes nothing") {
  auto db = Database::open(":memory:");
  migrate(db);
  Actor staff{"staff", 3};
  const auto id = add_member(db, "42", "Ann", staff);
  CHECK_FALSE(assessment_assigned_ms(db, id));
  REQUIRE(assign_assessment(db, id, true, 1000, staff));
  CHECK(assessment_assigned_ms(db, id) == std::optional<std::int64_t>(1000));
  CHECK_FALSE(assign_assessment(db, 999, true, 1000, staff));
  AssessmentRow a;
  a.member_id = id;
  a.t_ms = 2000;
  a.complete = false;
  a.note = "incomplete: stopped: pain";
  a.trials_json = R"([{"pct_of_range":50,"force_n":900.5,"beyond_range":false}])";
  record_assessment(db, a, Actor{"member", id});
  CHECK_FALSE(get_member(db, id)->assessed_max_n);
  CHECK_FALSE(assessment_assigned_ms(db, id));  // any assessment ends the assignment
  a.t_ms = 3000;
  a.complete = true;
  a.max_n = 1234.5;
  a.spread_pct = 3.2;
  record_assessment(db, a, Actor{"member", id});
  auto m = get_member(db, id);
  CHECK(m->assessed_max_n == std::optional<double>(1234.5));
  CHECK(m->assessed_ms == std::optional<std::int64_t>(3000));
  CHECK(assessed_method(db, id) == std::optional<std::string>("isometric"));
  a.t_ms = 4000;
  a.max_n.reset();
  a.beyond_range = true;
  a.spread_pct.reset();
  record_assessment(db, a, Actor{"member", id});
  CHECK(get_member(db, id)->assessed_max_n == std::optional<double>(1234.5));
  // Staff typing a max: method manual, kept with the assessments.
  MemberUpdate u;
  u.assessed_max_n = std::optional<double>(1500);
  REQUIRE(update_member(db, id, u, staff));
  CHECK(assessed_method(db, id) == std::optional<std::string>("manual"));
  const auto all = member_assessments(db, id);
  REQUIRE(all.size() == 4);
  CHECK(all[1].t_ms == 4000);
  CHECK(all[1].beyond_range);
  CHECK_FALSE(all[1].max_n);
  CHECK(all[2].max_n == std::optional<double>(1234.5));
  CHECK(all[3].trials_json.find("900.5") != std::string::npos);
  CHECK(all[0].method == "manual");
  CHECK_THROWS(db.exec("UPDATE assessments SET trials = 'not json' WHERE id = 1"));
  // Erasure takes them with the member.
  CHECK(erase_member(db, id, staff).found);
  CHECK(member_assessments(db, id).empty());
}

TEST_CASE("programmes: a programme with a progression rule, assigned and audited") {
  auto db = Database::open(":memory:");
  migrate(db);
  Actor staff{"staff", 1};
  ProgrammeSpec p;
  p.name = "Soleus 6-week";
  p.sessions_per_week = 2;
  p.block_weeks = 6;
  p.after_block_sessions_per_week = 3;
  StepSpec s;
  s.load_pct_max = 70;
  s.load_n.reset();
  s.progress_when = "all_sets_target_on_tempo";
  s.progress_load_pct = 5;
  p.steps.push_back(s);
  StepSpec hold;
  hold.mode = "isometric";
  hold.target_reps.reset();
  hold.hold_s = 30;
  hold.load_n = 900;
  p.steps.push_back(hold);
  auto pid = add_programme(db, p, staff);
  CHECK(db.scalar_int("SELECT count(*) FROM programme_steps") == 2);
  auto mid = add_member(db, "7", "Bo", staff);
  assign_programme(db, mid, pid, 0, staff);
  auto pid2 = add_programme(db, p, staff);
  assign_programme(db, mid, pid2, 0, staff);
  CHECK(db.scalar_int("SELECT count(*) FROM assignments WHERE ended_ms IS NULL") == 1);
  auto audit = query_audit(db, "member", mid);
  REQUIRE(!audit.empty());
  CHECK(audit.front().field == "programme");
  CHECK(audit.front().before == std::optional<std::string>(std::to_string(pid)));
  // A step that breaks the rules is refused, and the whole programme with it.
  ProgrammeSpec bad = p;
  bad.steps[1].hold_s.reset();  // isometric without a hold time
  CHECK_THROWS_AS(add_programme(db, bad, staff), SqliteError);
  CHECK(db.scalar_int("SELECT count(*) FROM programmes") == 2);
}

TEST_CASE("programmes: read back, changed field by field, unassigned and archived") {
  auto db = Database::open(":memory:");
  migrate(db);
  Actor staff{"staff", 1};
  ProgrammeSpec p;
  p.name = "B";
  p.block_weeks = 6;
  StepSpec s;
  s.load_pct_max = 70;
  s.progress_when = "all_sets_target";
  s.progress_rule = "load_n";
  s.progress_amount = 10;
  p.steps = {s, s};
  const auto b = add_programme(db, p, staff);
  p.name = "A";
  const auto a = add_programme(db, p, staff);
  auto list = list_programmes(db);
  REQUIRE(list.size() == 2);
  CHECK(list[0].id == a);  // by name
  CHECK(list[1].block_weeks == 6);
  CHECK_FALSE(list[1].after_block_sessions_per_week);
  auto steps = programme_steps(db, b);
  REQUIRE(steps.size() == 2);
  CHECK(steps[1].position == 2);
  CHECK(steps[0].load_pct_max == 70.0);
  CHECK(steps[0].progress_rule == "load_n");
  CHECK(steps[0].level == 0);

  set_programme_field(db, b, ProgrammeField::Notes, std::string("calves"), 5);
  set_programme_field(db, b, ProgrammeField::BlockWeeks, FieldValue{}, 5);
  set_programme_field(db, b, ProgrammeField::SessionsPerWeek, std::int64_t{4}, 5);
  auto got = get_programme(db, b);
  REQUIRE(got);
  CHECK(got->notes == "calves");
  CHECK_FALSE(got->block_weeks);
  CHECK(got->sessions_per_week == 4);

  const auto m = add_member(db, "7", "Bo", staff);
  CHECK(list_members(db).size() == 1);
  CHECK(set_member_number(db, m, "8", staff));
  CHECK(get_member(db, m)->number == "8");
  CHECK_FALSE(set_member_number(db, 999, "9", staff));
  CHECK_FALSE(current_programme_id(db, m));
  const auto asg = assign_programme(db, m, b, 1000, staff);
  CHECK(current_programme_id(db, m) == b);
  REQUIRE(active_assignment(db, m));
  CHECK(active_assignment(db, m)->assignment_id == asg);

  // A session: opened, its level earned once, closed with its summary.
  const auto sid = insert_session(db, m, asg, b, 2000);
  CHECK(find_open_session(db, m)->id == sid);
  CHECK(sets_of_session(db, sid).empty());
  add_progress_level(db, asg, steps[0].id, 1.0, 3000);
  add_progress_level(db, asg, steps[0].id, 1.0, 3000);
  CHECK(programme_steps(db, b, asg)[0].level == 2);
  CHECK(programme_steps(db, b)[0].level == 0);  // without the assignment
  finish_session(db, sid, "done", 4000, true, R"({"state":"done"})");
  CHECK_FALSE(find_open_session(db, m));
  const auto closed = get_session(db, sid);
  REQUIRE(closed);
  CHECK(closed->state == "done");
  CHECK(closed->progressed);
  CHECK(closed->summary == std::optional<std::string>(R"({"state":"done"})"));

  end_assignment(db, m, 5000, staff);
  CHECK_FALSE(current_programme_id(db, m));
  CHECK(query_audit(db, "member", m).front().before ==
        std::optional<std::string>(std::to_string(b)));
  assign_programme(db, m, b, 6000, staff);
  archive_programme(db, b, 7000, staff);
  CHECK_FALSE(get_programme(db, b));
  CHECK_FALSE(current_programme_id(db, m));
  CHECK(list_programmes(db).size() == 1);
  CHECK(query_audit(db, "programme", b).front().field == "archived");
}

TEST_CASE("members: export (JSON and CSV) and erasure on request, recorded in the audit") {
  TempDir dir;
  const auto path = dir.file("m.db");
  Writer w(test_config(path));
  REQUIRE(w.start().ok);
  std::int64_t ann, bo;
  {
    auto db = Database::open(path);
    ann = add_member(db, "100", "Ann", Actor{"staff", 1});
    bo = add_member(db, "200", "Bo", Actor{"staff", 1});
  }
  const auto session = w.allocate_session_id();
  w.push(SessionStartRecord{session, ann, 0, 0});
  const auto s1 = w.allocate_set_id();
  push_set(w, s1, 3, ann, session);
  const auto s2 = w.allocate_set_id();
  push_set(w, s2, 2, ann, session);
  const auto s3 = w.allocate_set_id();
  push_set(w, s3, 4, bo);
  w.event(Severity::Info, "set_ended", "kept after erasure", {}, s1);
  REQUIRE(w.flush(10s));

  auto db = Database::open(path);
  auto ex = export_member(db, ann);
  REQUIRE(ex);
  auto j = json::parse(soleus::app::export_json(*ex)).as_object();
  CHECK(j.at("member").at("number").as_string() == "100");
  CHECK(j.at("member").at("has_pin").as_bool() == false);
  CHECK(j.at("sessions").as_array().size() == 1);
  auto& sets = j.at("sets").as_array();
  REQUIRE(sets.size() == 2);
  CHECK(sets[0].at("id").as_int64() == s1);  // oldest first
  CHECK(sets[0].at("rep_log").as_array().size() == 3);
  CHECK(sets[1].at("rep_log").as_array().size() == 2);
  // to_number: the one serializer writes 801.0 as 801 (an integer to a JSON reader).
  CHECK(sets[0].at("rep_log").as_array()[0].at("peak_force_n").to_number<double>() ==
        doctest::Approx(801));
  auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  CHECK(lines(soleus::app::export_sets_csv(*ex)) == 1 + 2);
  CHECK(lines(soleus::app::export_reps_csv(*ex)) == 1 + 5);
  CHECK(soleus::app::export_sets_csv(*ex).find("target_reached") != std::string::npos);
  auto with_traces = export_member(db, ann, true);
  CHECK(json::parse(soleus::app::export_json(*with_traces))
            .at("sets")
            .as_array()[0]
            .at("trace")
            .as_array()
            .size() == 3 * 800);
  CHECK_FALSE(export_member(db, 999));

  auto er = erase_member(db, ann, Actor{"staff", 9});
  CHECK(er.found);
  CHECK(er.sets == 2);
  CHECK(er.reps == 5);
  CHECK(er.sessions == 1);
  CHECK(er.traces >= 2);
  CHECK_FALSE(get_member(db, ann));
  CHECK(db.scalar_int("SELECT count(*) FROM sets WHERE member_id IS NOT " + std::to_string(bo)) ==
        0);
  CHECK(db.scalar_int("SELECT count(*) FROM reps") == 4);  // Bo's stay
  CHECK(db.scalar_int("SELECT count(*) FROM rep_traces WHERE set_id IN (" + std::to_string(s1) +
                      "," + std::to_string(s2) + ")") == 0);
  CHECK(db.scalar_int("SELECT count(*) FROM sessions") == 0);
  CHECK(db.scalar_int("SELECT count(*) FROM events WHERE code = 'set_ended'") == 1);
  auto audit = query_audit(db, "member", ann);
  REQUIRE(!audit.empty());
  CHECK(audit.front().after == std::optional<std::string>("erased on request"));
  CHECK(audit.front().actor_id == std::optional<std::int64_t>(9));
  CHECK(json::parse(*audit.front().before).at("reps").as_int64() == 5);
  // The audit keeps that an erasure happened, not the erased data.
  CHECK(db.scalar_int("SELECT count(*) FROM audit WHERE coalesce(before, '') || "
                      "coalesce(after, '') LIKE '%Ann%'") == 0);
  CHECK_FALSE(erase_member(db, ann, Actor{"staff", 9}).found);
  w.stop();
}

TEST_CASE("backup: sqlite3_backup while the writer writes gives a valid copy") {
  TempDir dir;
  const auto path = dir.file("live.db");
  Writer w(test_config(path));
  REQUIRE(w.start().ok);
  std::atomic<bool> stop{false};
  std::atomic<int> sets_pushed{0};
  std::thread producer([&] {
    while (!stop.load()) {
      push_set(w, w.allocate_set_id(), 3);
      if (w.flush(5s)) ++sets_pushed;
    }
  });
  REQUIRE(wait_until([&] { return sets_pushed.load() >= 2; }));
  std::int64_t last_reps = -1;
  for (int i = 0; i < 3; ++i) {
    const auto copy = dir.file("copy" + std::to_string(i) + ".db");
    auto r = backup_database(path, copy);
    CHECK(r.check.ok);
    CHECK(r.pages > 0);
    auto c = Database::open(copy, Database::Access::ReadOnly);
    const auto reps = c.scalar_int("SELECT count(*) FROM reps");
    CHECK(reps >= 6);
    CHECK(reps % 3 == 0);  // whole transactions only
    CHECK(reps >= last_reps);
    last_reps = reps;
    CHECK(c.scalar_text("PRAGMA journal_mode") == "delete");
  }
  stop = true;
  producer.join();
  w.stop();
  CHECK(check_integrity(path).ok);
}

TEST_CASE("events: the query is indexed and pages walk the whole log once") {
  auto db = Database::open(":memory:");
  migrate(db);
  {
    Transaction tx(db);
    auto st =
        db.prepare("INSERT INTO events (t_ms, severity, code, message) VALUES (?1, ?2, ?3, 'm')");
    for (int i = 0; i < 20000; ++i) {
      // Several events share a millisecond: the cursor needs the id too.
      st.bind(1, static_cast<std::int64_t>(1'700'000'000'000 + i / 3))
          .bind(2, i % 50 == 0  ? 2
                   : i % 7 == 0 ? 1
                                : 0)
          .bind(3, i % 100 == 0 ? "comm_loss" : "set_started");
      st.run();
      st.reset();
    }
    tx.commit();
  }
  auto plan = [&](const EventFilter& f) {
    std::string s;
    for (const auto& l : explain_events_query(db, f)) s += l + "\n";
    return s;
  };
  EventFilter all;
  CHECK(plan(all).find("USING INDEX events_time") != std::string::npos);
  CHECK(plan(all).find("TEMP B-TREE") == std::string::npos);  // no sort: the index gives the order
  EventFilter by_code;
  by_code.code = "comm_loss";
  CHECK(plan(by_code).find("USING INDEX events_code_time") != std::string::npos);
  CHECK(plan(by_code).find("TEMP B-TREE") == std::string::npos);
  EventFilter errors;
  errors.min_severity = Severity::Error;
  CHECK(plan(errors).find("USING INDEX events_severity_time") != std::string::npos);
  errors.before = EventCursor{1'700'000'005'000, 15000};  // the next page keeps its index
  CHECK(plan(errors).find("USING INDEX events_severity_time (severity=? AND t_ms<?)") !=
        std::string::npos);
  EventFilter since;
  since.since_ms = 1'700'000'006'000;
  since.before = EventCursor{1'700'000'006'500, 19000};
  CHECK(plan(since).find("USING INDEX events_time") != std::string::npos);
  CHECK(plan(since).find("SCAN events") == std::string::npos);  // a range, not a scan

  // Paging through every error, 37 at a time: each once, newest first.
  std::set<std::int64_t> seen;
  std::optional<EventCursor> cursor;
  std::int64_t prev_t = INT64_MAX;
  int pages = 0;
  do {
    EventFilter f;
    f.min_severity = Severity::Warning;
    f.limit = 37;
    f.before = cursor;
    auto page = query_events(db, f);
    for (const auto& e : page.rows) {
      CHECK(seen.insert(e.id).second);
      CHECK(e.t_ms <= prev_t);
      CHECK(e.severity != Severity::Info);
      prev_t = e.t_ms;
    }
    cursor = page.next;
    ++pages;
  } while (cursor && pages < 1000);
  CHECK(static_cast<std::int64_t>(seen.size()) ==
        db.scalar_int("SELECT count(*) FROM events WHERE severity >= 1"));

  EventFilter warnings;
  warnings.min_severity = Severity::Warning;
  CHECK(count_events(db, warnings) == static_cast<std::int64_t>(seen.size()));
  // The API's paging by id alone gives the same pages as the cursor.
  {
    EventFilter f;
    f.code = "comm_loss";
    f.limit = 30;
    auto p1 = query_events(db, f);
    REQUIRE(p1.next);
    f.before_id = p1.next->id;
    auto p2 = query_events(db, f);
    f.before_id.reset();
    f.before = p1.next;
    auto p2c = query_events(db, f);
    REQUIRE(p2.rows.size() == p2c.rows.size());
    CHECK(p2.rows.front().id == p2c.rows.front().id);
    CHECK(p2.rows.front().t_ms <= p1.rows.back().t_ms);
    CHECK(plan(f).find("USING INDEX events_code_time") != std::string::npos);
    // Offset paging reaches the same rows, the slow way.
    EventFilter o;
    o.code = "comm_loss";
    o.limit = 30;
    o.offset = 30;
    CHECK(query_events(db, o).rows.front().id == p2.rows.front().id);
  }
  EventFilter window;
  window.since_ms = 1'700'000'000'100;
  window.until_ms = 1'700'000'000'110;
  window.code = "set_started";
  window.limit = 1000;
  auto page = query_events(db, window);
  CHECK(page.rows.size() == 30 - 1);  // 10 ms × 3 events, one of them comm_loss (i = 300)
  CHECK_FALSE(page.next);
  std::vector<soleus::hmi::EventView> views;
  views.reserve(page.rows.size());
  for (const auto& e : page.rows) views.push_back(soleus::app::event_view(e));
  CHECK(soleus::hmi::events_csv(views).find("set_started") != std::string::npos);
  CHECK(soleus::hmi::to_json(soleus::app::event_view(page.rows[0])).at("severity").is_string());
  EventFilter zero;
  zero.limit = 0;
  CHECK_THROWS_AS(query_events(db, zero), std::invalid_argument);
  EventFilter far;
  far.offset = 200000;
  CHECK_THROWS_AS(query_events(db, far), std::invalid_argument);
}

TEST_CASE("retention: old traces are deleted, sets, reps and events are kept") {
  auto db = Database::open(":memory:");
  migrate(db);
  db.exec("INSERT INTO sets (id, started_ms) VALUES (1, 0), (2, 0)");
  db.exec(
      "INSERT INTO reps (set_id, seq, n, t_start_s, peak_force_n, mean_force_n, "
      "concentric_s, top_pause_s, eccentric_s, bottom_pause_s, rom_mm, rom_pct, "
      "mean_velocity_mm_s, smoothness, on_tempo, tempo_deviation_s, tut_s) "
      "VALUES (1, 1, 1, 0,0,0,0,0,0,0,0,0,0,0,0,0,0)");
  db.exec("INSERT INTO events (t_ms, severity, code) VALUES (0, 0, 'old')");
  auto st = db.prepare(
      "INSERT INTO rep_traces (set_id, created_ms, t0_s, t1_s, samples, time_scale_s, "
      "force_scale_n, position_scale_mm, data) VALUES (?1, ?2, 0, 1, 0, 0.001, 0.1, 0.01, x'')");
  for (int i = 0; i < 4500; ++i) {  // more than one delete batch
    st.bind(1, 1).bind(2, static_cast<std::int64_t>(1000));
    st.run();
    st.reset();
  }
  st.bind(1, 2).bind(2, static_cast<std::int64_t>(5000));
  st.run();
  CHECK(purge_traces(db, 2000, 1'000'000) == 4500);
  CHECK(db.scalar_int("SELECT count(*) FROM rep_traces") == 1);
  CHECK(db.scalar_int("SELECT count(*) FROM reps") == 1);
  CHECK(db.scalar_int("SELECT count(*) FROM sets") == 2);
  CHECK(db.scalar_int("SELECT count(*) FROM events") == 1);
}
