#include "soleus/storage/sessions.hpp"

namespace soleus::storage {

namespace {

constexpr const char* kSessionColumns =
    "id, started_ms, coalesce(programme_id, 0), state, progressed, summary";

SessionRow read_session(const Statement& st) {
  SessionRow s;
  s.id = st.int64(0);
  s.started_ms = st.int64(1);
  s.programme_id = st.int64(2);
  s.state = st.text(3);
  s.progressed = st.int64(4) != 0;
  s.summary = st.opt_text(5);
  return s;
}

}  // namespace

std::optional<ActiveAssignmentRow> active_assignment(Database& db, std::int64_t member_id) {
  auto a = db.prepare(
      "SELECT a.id, a.started_ms, p.id, p.name, p.sessions_per_week, p.block_weeks, "
      "p.after_block_sessions_per_week, m.assessed_max_n, p.block_every_other_day, m.assessed_ms "
      "FROM assignments a "
      "JOIN programmes p ON p.id = a.programme_id JOIN members m ON m.id = a.member_id "
      "WHERE a.member_id = ?1 AND a.ended_ms IS NULL AND p.archived = 0 "
      "ORDER BY a.id DESC LIMIT 1");
  a.bind(1, member_id);
  if (!a.step()) return std::nullopt;
  ActiveAssignmentRow r;
  r.assignment_id = a.int64(0);
  r.started_ms = a.int64(1);
  r.programme_id = a.int64(2);
  r.programme_name = a.text(3);
  r.sessions_per_week = a.int32(4);
  if (!a.is_null(5)) r.block_weeks = a.int32(5);
  if (!a.is_null(6)) r.after_block_sessions_per_week = a.int32(6);
  r.assessed_max_n = a.opt_real(7);
  r.block_every_other_day = a.int64(8) != 0;
  r.assessed_ms = a.opt_int64(9);
  return r;
}

std::optional<SessionRow> find_open_session(Database& db, std::int64_t member_id) {
  auto st = db.prepare(std::string("SELECT ") + kSessionColumns +
                       " FROM sessions WHERE member_id = ?1 AND state = 'open' "
                       "ORDER BY id DESC LIMIT 1");
  st.bind(1, member_id);
  if (!st.step()) return std::nullopt;
  return read_session(st);
}

std::optional<SessionRow> get_session(Database& db, std::int64_t session_id) {
  auto st = db.prepare(std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE id = ?1");
  st.bind(1, session_id);
  if (!st.step()) return std::nullopt;
  return read_session(st);
}

std::int64_t insert_session(Database& db, std::int64_t member_id, std::int64_t assignment_id,
                            std::int64_t programme_id, std::int64_t started_ms) {
  auto st = db.prepare(
      "INSERT INTO sessions (member_id, assignment_id, programme_id, started_ms, state) "
      "VALUES (?1, ?2, ?3, ?4, 'open')");
  st.bind(1, member_id).bind(2, assignment_id).bind(3, programme_id).bind(4, started_ms);
  st.run();
  return db.last_insert_rowid();
}

void finish_session(Database& db, std::int64_t session_id, const std::string& state,
                    std::int64_t ended_ms, bool progressed, const std::string& summary) {
  auto up = db.prepare(
      "UPDATE sessions SET state = ?1, ended_ms = ?2, progressed = ?3, summary = ?4 WHERE id = ?5");
  up.bind(1, state).bind(2, ended_ms).bind(3, progressed).bind(4, summary).bind(5, session_id);
  up.run();
}

std::vector<SessionSetRow> sets_of_session(Database& db, std::int64_t session_id) {
  auto st = db.prepare(
      "SELECT s.id, coalesce(s.step_id, 0), coalesce(s.set_index, 0), s.started_ms, s.ended_ms, "
      "s.stop_reason, s.reps, NOT EXISTS (SELECT 1 FROM reps r WHERE r.set_id = s.id "
      "AND r.partial = 0 AND r.on_tempo = 0) FROM sets s WHERE s.session_id = ?1 "
      "ORDER BY s.started_ms, s.id");
  st.bind(1, session_id);
  std::vector<SessionSetRow> out;
  while (st.step()) {
    SessionSetRow d;
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

void add_progress_level(Database& db, std::int64_t assignment_id, std::int64_t step_id,
                        double load_factor, std::int64_t now_ms) {
  auto up = db.prepare(
      "INSERT INTO step_progress (assignment_id, step_id, load_factor, updated_ms, level) "
      "VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (assignment_id, step_id) DO UPDATE SET "
      "level = level + 1, load_factor = load_factor * ?3, updated_ms = ?4");
  up.bind(1, assignment_id).bind(2, step_id).bind(3, load_factor).bind(4, now_ms);
  up.run();
}

}  // namespace soleus::storage
