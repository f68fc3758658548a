#include "soleus/app/session_runner.hpp"

#include <stdexcept>
#include <string>

#include "soleus/hmi/views.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/progression.hpp"
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
  if (r.progress_double) {  // stored as the increment's rule plus the flag (schema 4)
    st.progress_rule = "double";
    st.increment = r.progress_rule;
  }
  st.rep_min = r.rep_min;
  st.rep_max = r.rep_max;
  st.target = r.target;
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
  plan.block_every_other_day = a->block_every_other_day;
  plan.assessed_ms = a->assessed_ms;
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
  const programme::Decision decision = programme::decide(plan, done, is_complete);
  // Decided once: a complete session, or one with a PAIN stop, writes its
  // changes (and the reasons for no change) to the log.
  const bool decide_now = !progressed_before && (is_complete || decision.pain);
  hmi::SessionSummaryView summary;
  bool any = false;
  const auto outcomes = judge(plan, done);
  for (std::size_t i = 0; i < decision.changes.size() && i < plan.steps.size(); ++i) {
    const programme::Change& c = decision.changes[i];
    const Step& st = plan.steps[i];
    const bool changed = c.kind != "none" && c.kind != "pain";
    const bool apply = decide_now && changed;
    if (apply && c.level_after > c.level_before) {
      storage::add_progress_level(db, plan.assignment_id, c.step_id,
                                  programme::level_load_factor(st), now_ms);
      storage::record_audit(db, kRunner, "step_progress", c.step_id, "level",
                            std::to_string(c.level_before), std::to_string(c.level_after));
    }
    if (apply && c.target_after != c.target_before)
      storage::set_step_target(db, plan.assignment_id, c.step_id, c.target_after, now_ms);
    if (decide_now) {
      storage::ChangeRow row;
      row.t_ms = now_ms;
      row.member_id = plan.member_id;
      row.assignment_id = plan.assignment_id;
      row.session_id = session_id;
      row.step_id = c.step_id;
      row.change = c.kind;
      row.level_before = c.level_before;
      row.level_after = changed ? c.level_after : c.level_before;
      row.target_before = c.target_before;
      row.target_after = changed ? c.target_after : c.target_before;
      row.reason = c.reason;
      storage::insert_change(db, row);
    }
    any = any || apply;
    summary.steps.push_back(
        {c.step_id, outcomes[i].sets_done, outcomes[i].sets_at_target, apply,
         is_complete || decision.pain ? c.reason : std::string("the session was not completed")});
  }
  if (decide_now && decision.pain)
    storage::flag_member(db, plan.member_id, "pain", now_ms, session_id);
  any = any || decide_now;
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

programme::ScheduleInput schedule_input(storage::Database& db, const Plan& plan) {
  programme::ScheduleInput in;
  in.assignment_started_ms = plan.assignment_started_ms;
  in.sessions_per_week = plan.sessions_per_week;
  in.block_weeks = plan.block_weeks;
  in.after_block_sessions_per_week = plan.after_block_sessions_per_week;
  in.block_every_other_day = plan.block_every_other_day;
  in.assessed_ms = plan.assessed_ms;
  in.session_starts_ms = storage::attended_session_starts(db, plan.assignment_id);
  return in;
}

}  // namespace soleus::app::runner
