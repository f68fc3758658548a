#include "soleus/app/session_runner.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "soleus/storage/members.hpp"

namespace soleus::app::runner {

namespace json = boost::json;

namespace {

std::string num(double v) {
  std::ostringstream o;
  o.precision(4);
  o << v;
  return o.str();
}

bool reached_target(const SetDone& s) {
  return s.stop_reason && (*s.stop_reason == "target_reached" || *s.stop_reason == "hold_complete");
}

const storage::Actor kRunner{"system", std::nullopt};

}  // namespace

std::optional<Prescription> prescribe(const Step& s, std::optional<double> assessed_max_n,
                                      double max_load_n, std::string& error) {
  Prescription p;
  const int level = std::max(0, s.level);
  if (s.load_n) {
    p.load_n = *s.load_n;
    p.basis = num(*s.load_n) + " N";
  } else if (s.load_pct) {
    if (!assessed_max_n || *assessed_max_n <= 0) {
      error = "the step's load is " + num(*s.load_pct) +
              " % of the assessed max, and this member has none yet: staff must enter it";
      return std::nullopt;
    }
    p.load_n = *assessed_max_n * *s.load_pct / 100.0;
    p.basis = num(*s.load_pct) + " % of " + num(*assessed_max_n) + " N assessed max";
  } else {
    error = "the step has no load";
    return std::nullopt;
  }
  p.target_reps = s.target_reps;
  p.hold_s = s.hold_s;
  if (level > 0 && s.progress_rule != "none") {
    const double a = s.progress_amount;
    if (s.progress_rule == "load_n") {
      p.load_n += level * a;
      p.basis += " + " + num(level * a) + " N progression";
    } else if (s.progress_rule == "load_pct") {
      const double f = std::pow(1.0 + a / 100.0, level);
      p.load_n *= f;
      p.basis += " × " + num(f) + " progression";
    } else if (s.progress_rule == "reps" && p.target_reps) {
      p.target_reps = std::min(100, *p.target_reps + static_cast<int>(std::lround(level * a)));
    } else if (s.progress_rule == "hold_s" && p.hold_s) {
      p.hold_s = std::min(600.0, *p.hold_s + level * a);
    }
  }
  p.load_n = std::round(p.load_n);
  if (p.load_n > max_load_n) {
    p.load_n = max_load_n;
    p.basis += ", capped at the machine's " + num(max_load_n) + " N";
  }
  if (p.load_n < 1) p.load_n = 1;
  return p;
}

Position locate(const Plan& plan, const std::vector<SetDone>& done) {
  Position pos;
  // Latest set: its end (or start, when cut by a crash) starts the rest.
  const SetDone* latest = nullptr;
  for (const auto& s : done)
    if (!latest || s.started_ms >= latest->started_ms) latest = &s;
  if (latest) {
    pos.last_end_ms = latest->ended_ms.value_or(latest->started_ms);
    for (const auto& st : plan.steps)
      if (st.id == latest->step_id) pos.rest_s = st.rest_s;
  }
  for (pos.step = 0; pos.step < plan.steps.size(); ++pos.step) {
    const Step& st = plan.steps[pos.step];
    int performed = 0;
    for (const auto& s : done)
      if (s.step_id == st.id) performed = std::max(performed, s.set_index);
    if (performed < st.sets) {
      pos.set_index = performed + 1;
      return pos;
    }
  }
  pos.set_index = 0;
  return pos;
}

bool complete(const Plan& plan, const Position& p) { return p.step >= plan.steps.size(); }

std::vector<StepOutcome> judge(const Plan& plan, const std::vector<SetDone>& done) {
  std::vector<StepOutcome> out;
  for (const Step& st : plan.steps) {
    StepOutcome o;
    o.step_id = st.id;
    bool on_tempo = true;
    for (const auto& s : done) {
      if (s.step_id != st.id) continue;
      ++o.sets_done;
      if (reached_target(s)) ++o.sets_at_target;
      on_tempo = on_tempo && s.all_on_tempo;
    }
    if (st.progress_rule == "none" || st.progress_when == "never") {
      o.why = "no progression rule";
    } else if (o.sets_done < st.sets) {
      o.why = std::to_string(o.sets_done) + " of " + std::to_string(st.sets) + " sets performed";
    } else if (o.sets_at_target < st.sets) {
      o.why = std::to_string(o.sets_at_target) + " of " + std::to_string(st.sets) +
              " sets reached the target";
    } else if (st.progress_when == "all_sets_target_on_tempo" && !on_tempo) {
      o.why = "every set reached the target, but not every rep was on tempo";
    } else {
      o.progressed = true;
      o.why = "every set reached the target" +
              std::string(st.progress_when == "all_sets_target_on_tempo" ? " on tempo" : "") +
              ": " + st.progress_rule + " +" + num(st.progress_amount) + " from the next session";
    }
    out.push_back(std::move(o));
  }
  return out;
}

int sessions_per_week(const Plan& plan, std::int64_t now_ms) {
  if (plan.block_weeks && plan.after_block_sessions_per_week) {
    const std::int64_t block_ms = static_cast<std::int64_t>(*plan.block_weeks) * 7 * 86'400'000;
    if (now_ms - plan.assignment_started_ms >= block_ms) return *plan.after_block_sessions_per_week;
  }
  return plan.sessions_per_week;
}

// ---- database ---------------------------------------------------------------------------

std::optional<Plan> load_plan(storage::Database& db, std::int64_t member_id) {
  auto a = db.prepare(
      "SELECT a.id, a.started_ms, p.id, p.name, p.sessions_per_week, p.block_weeks, "
      "p.after_block_sessions_per_week, m.assessed_max_n FROM assignments a "
      "JOIN programmes p ON p.id = a.programme_id JOIN members m ON m.id = a.member_id "
      "WHERE a.member_id = ?1 AND a.ended_ms IS NULL AND p.archived = 0 "
      "ORDER BY a.id DESC LIMIT 1");
  a.bind(1, member_id);
  if (!a.step()) return std::nullopt;
  Plan plan;
  plan.member_id = member_id;
  plan.assignment_id = a.int64(0);
  plan.assignment_started_ms = a.int64(1);
  plan.programme_id = a.int64(2);
  plan.programme_name = a.text(3);
  plan.sessions_per_week = a.int32(4);
  if (!a.is_null(5)) plan.block_weeks = a.int32(5);
  if (!a.is_null(6)) plan.after_block_sessions_per_week = a.int32(6);
  plan.assessed_max_n = a.opt_real(7);
  auto s = db.prepare(
      "SELECT s.id, s.position, s.mode, s.sets, s.target_reps, s.hold_s, s.load_n, "
      "s.load_pct_max, s.tempo, s.rest_s, s.force_drop_pct, s.eccentric_pct, s.progress_when, "
      "s.progress_rule, s.progress_amount, coalesce(sp.level, 0) FROM programme_steps s "
      "LEFT JOIN step_progress sp ON sp.step_id = s.id AND sp.assignment_id = ?2 "
      "WHERE s.programme_id = ?1 ORDER BY s.position");
  s.bind(1, plan.programme_id).bind(2, plan.assignment_id);
  while (s.step()) {
    Step st;
    st.id = s.int64(0);
    st.position = s.int32(1);
    st.mode = s.text(2);
    st.sets = s.int32(3);
    if (!s.is_null(4)) st.target_reps = s.int32(4);
    st.hold_s = s.opt_real(5);
    st.load_n = s.opt_real(6);
    st.load_pct = s.opt_real(7);
    st.tempo = s.text(8);
    st.rest_s = s.real(9);
    st.force_drop_pct = s.real(10);
    st.eccentric_pct = s.real(11);
    st.progress_when = s.text(12);
    st.progress_rule = s.text(13);
    st.progress_amount = s.real(14);
    st.level = s.int32(15);
    plan.steps.push_back(std::move(st));
  }
  return plan;
}

std::optional<OpenSession> find_open(storage::Database& db, std::int64_t member_id) {
  auto st = db.prepare(
      "SELECT id, started_ms, coalesce(programme_id, 0) FROM sessions "
      "WHERE member_id = ?1 AND state = 'open' ORDER BY id DESC LIMIT 1");
  st.bind(1, member_id);
  if (!st.step()) return std::nullopt;
  return OpenSession{st.int64(0), st.int64(1), st.int64(2)};
}

std::int64_t open_session(storage::Database& db, const Plan& plan, std::int64_t now_ms) {
  auto st = db.prepare(
      "INSERT INTO sessions (member_id, assignment_id, programme_id, started_ms, state) "
      "VALUES (?1, ?2, ?3, ?4, 'open')");
  st.bind(1, plan.member_id).bind(2, plan.assignment_id).bind(3, plan.programme_id).bind(4, now_ms);
  st.run();
  return db.last_insert_rowid();
}

std::vector<SetDone> session_sets(storage::Database& db, std::int64_t session_id) {
  auto st = db.prepare(
      "SELECT s.id, coalesce(s.step_id, 0), coalesce(s.set_index, 0), s.started_ms, s.ended_ms, "
      "s.stop_reason, s.reps, NOT EXISTS (SELECT 1 FROM reps r WHERE r.set_id = s.id "
      "AND r.partial = 0 AND r.on_tempo = 0) FROM sets s WHERE s.session_id = ?1 "
      "ORDER BY s.started_ms, s.id");
  st.bind(1, session_id);
  std::vector<SetDone> out;
  while (st.step()) {
    SetDone d;
    d.set_id = st.int64(0);
    d.step_id = st.int64(1);
    d.set_index = st.int32(2);
    d.started_ms = st.int64(3);
    d.ended_ms = st.opt_int64(4);
    if (!st.is_null(5)) d.stop_reason = st.text(5);
    d.reps = st.int32(6);
    d.all_on_tempo = st.int64(7) != 0;
    out.push_back(std::move(d));
  }
  return out;
}

json::object close_session(storage::Database& db, std::int64_t session_id, const Plan& plan,
                           std::int64_t now_ms, const char* why) {
  storage::Transaction tx(db);
  auto cur = db.prepare("SELECT state, progressed, summary FROM sessions WHERE id = ?1");
  cur.bind(1, session_id);
  if (!cur.step()) throw std::runtime_error("no session " + std::to_string(session_id));
  if (cur.text(0) != "open") {  // closed already: the same answer again, nothing applied twice
    json::object o{{"session_id", session_id}, {"state", cur.text(0)}};
    if (!cur.is_null(2)) o["summary"] = json::parse(cur.text(2));
    return o;
  }
  const bool progressed_before = cur.int64(1) != 0;
  const auto done = session_sets(db, session_id);
  const Position pos = locate(plan, done);
  const bool is_complete = !plan.steps.empty() && complete(plan, pos);
  json::array steps;
  bool any = false;
  for (const StepOutcome& o : judge(plan, done)) {
    const bool apply = is_complete && o.progressed && !progressed_before;
    if (apply) {
      const Step* st = nullptr;
      for (const auto& s : plan.steps)
        if (s.id == o.step_id) st = &s;
      const int before = st ? st->level : 0;
      auto up = db.prepare(
          "INSERT INTO step_progress (assignment_id, step_id, load_factor, updated_ms, level) "
          "VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (assignment_id, step_id) DO UPDATE SET "
          "level = level + 1, load_factor = load_factor * ?3, updated_ms = ?4");
      const double factor =
          st && st->progress_rule == "load_pct" ? 1.0 + st->progress_amount / 100.0 : 1.0;
      up.bind(1, plan.assignment_id).bind(2, o.step_id).bind(3, factor).bind(4, now_ms);
      up.run();
      storage::record_audit(db, kRunner, "step_progress", o.step_id, "level",
                            std::to_string(before), std::to_string(before + 1));
      any = true;
    }
    steps.push_back(json::object{{"step_id", o.step_id},
                                 {"sets_done", o.sets_done},
                                 {"sets_at_target", o.sets_at_target},
                                 {"progressed", apply},
                                 {"why", is_complete || !o.progressed
                                             ? o.why
                                             : std::string("the session was not completed")}});
  }
  const std::string state = is_complete ? "done" : "aborted";
  json::object summary{{"state", state}, {"why", why}, {"sets", done.size()},
                       {"steps", std::move(steps)}};
  auto up = db.prepare(
      "UPDATE sessions SET state = ?1, ended_ms = ?2, progressed = ?3, summary = ?4 WHERE id = ?5");
  up.bind(1, state).bind(2, now_ms).bind(3, progressed_before || any)
      .bind(4, json::serialize(summary)).bind(5, session_id);
  up.run();
  tx.commit();
  return json::object{{"session_id", session_id}, {"state", state}, {"summary", std::move(summary)}};
}

}  // namespace soleus::app::runner
