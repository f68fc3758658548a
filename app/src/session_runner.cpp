#include "soleus/app/session_runner.hpp"

#include <stdexcept>
#include <string>

#include "soleus/hmi/views.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/sessions.hpp"

namespace soleus::app::runner {

namespace json = boost::json;

namespace {

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
  hmi::SessionSummaryView summary;
  bool any = false;
  for (const StepOutcome& o : judge(plan, done)) {
    const bool apply = is_complete && o.progressed && !progressed_before;
    if (apply) {
      const Step* st = nullptr;
      for (const auto& s : plan.steps)
        if (s.id == o.step_id) st = &s;
      const int before = st ? st->level : 0;
      const double factor = st ? programme::level_load_factor(*st) : 1.0;
      storage::add_progress_level(db, plan.assignment_id, o.step_id, factor, now_ms);
      storage::record_audit(db, kRunner, "step_progress", o.step_id, "level",
                            std::to_string(before), std::to_string(before + 1));
      any = true;
    }
    summary.steps.push_back(
        {o.step_id, o.sets_done, o.sets_at_target, apply,
         is_complete || !o.progressed ? o.why : std::string("the session was not completed")});
  }
  const std::string state = is_complete ? "done" : "aborted";
  summary.state = state;
  summary.why = why;
  summary.sets = done.size();
  json::value rendered = hmi::to_json(summary);
  storage::finish_session(db, session_id, state, now_ms, progressed_before || any,
                          hmi::write_json(rendered));
  tx.commit();
  return json::object{
      {"session_id", session_id}, {"state", state}, {"summary", std::move(rendered)}};
}

}  // namespace soleus::app::runner
