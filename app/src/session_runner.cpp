#include "soleus/app/session_runner.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "soleus/storage/members.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/sessions.hpp"

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

Step to_step(const storage::StepRow& r) {
  Step st;
  st.id = r.id;
  st.position = r.position;
  st.mode = r.mode;
  st.sets = r.sets;
  st.target_reps = r.target_reps;
  st.hold_s = r.hold_s;
  st.load_n = r.load_n;
  st.load_pct = r.load_pct_max;
  st.tempo = r.tempo;
  st.rest_s = r.rest_s;
  st.force_drop_pct = r.force_drop_pct;
  st.eccentric_pct = r.eccentric_pct;
  st.progress_when = r.progress_when;
  st.progress_rule = r.progress_rule;
  st.progress_amount = r.progress_amount;
  st.level = r.level;
  return st;
}

SetDone to_set_done(const storage::SessionSetRow& r) {
  SetDone d;
  d.set_id = r.set_id;
  d.step_id = r.step_id;
  d.set_index = r.set_index;
  d.started_ms = r.started_ms;
  d.ended_ms = r.ended_ms;
  d.stop_reason = r.stop_reason;
  d.reps = r.reps;
  d.all_on_tempo = r.all_on_tempo;
  return d;
}

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
  const auto a = storage::active_assignment(db, member_id);
  if (!a) return std::nullopt;
  Plan plan;
  plan.member_id = member_id;
  plan.assignment_id = a->assignment_id;
  plan.assignment_started_ms = a->started_ms;
  plan.programme_id = a->programme_id;
  plan.programme_name = a->programme_name;
  plan.sessions_per_week = a->sessions_per_week;
  plan.block_weeks = a->block_weeks;
  plan.after_block_sessions_per_week = a->after_block_sessions_per_week;
  plan.assessed_max_n = a->assessed_max_n;
  for (const auto& r : storage::programme_steps(db, plan.programme_id, plan.assignment_id))
    plan.steps.push_back(to_step(r));
  return plan;
}

std::optional<OpenSession> find_open(storage::Database& db, std::int64_t member_id) {
  const auto s = storage::find_open_session(db, member_id);
  if (!s) return std::nullopt;
  return OpenSession{s->id, s->started_ms, s->programme_id};
}

std::int64_t open_session(storage::Database& db, const Plan& plan, std::int64_t now_ms) {
  return storage::insert_session(db, plan.member_id, plan.assignment_id, plan.programme_id, now_ms);
}

std::vector<SetDone> session_sets(storage::Database& db, std::int64_t session_id) {
  std::vector<SetDone> out;
  for (const auto& r : storage::sets_of_session(db, session_id)) out.push_back(to_set_done(r));
  return out;
}

json::object close_session(storage::Database& db, std::int64_t session_id, const Plan& plan,
                           std::int64_t now_ms, const char* why) {
  storage::Transaction tx(db);
  const auto cur = storage::get_session(db, session_id);
  if (!cur) throw std::runtime_error("no session " + std::to_string(session_id));
  if (cur->state != "open") {  // closed already: the same answer again, nothing applied twice
    json::object o{{"session_id", session_id}, {"state", cur->state}};
    if (cur->summary) o["summary"] = json::parse(*cur->summary);
    return o;
  }
  const bool progressed_before = cur->progressed;
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
      const double factor =
          st && st->progress_rule == "load_pct" ? 1.0 + st->progress_amount / 100.0 : 1.0;
      storage::add_progress_level(db, plan.assignment_id, o.step_id, factor, now_ms);
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
  storage::finish_session(db, session_id, state, now_ms, progressed_before || any,
                          json::serialize(summary));
  tx.commit();
  return json::object{{"session_id", session_id}, {"state", state}, {"summary", std::move(summary)}};
}

}  // namespace soleus::app::runner
