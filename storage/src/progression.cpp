#include "soleus/storage/progression.hpp"

namespace soleus::storage {

void set_step_target(Database& db, std::int64_t assignment_id, std::int64_t step_id,
                     std::optional<int> target, std::int64_t now_ms) {
  auto up = db.prepare(
      "INSERT INTO step_progress (assignment_id, step_id, load_factor, updated_ms, level, "
      "target_reps) VALUES (?1, ?2, 1, ?3, 0, ?4) ON CONFLICT (assignment_id, step_id) DO UPDATE "
      "SET target_reps = ?4, updated_ms = ?3");
  up.bind(1, assignment_id).bind(2, step_id).bind(3, now_ms).bind(4, target);
  up.run();
}

void insert_change(Database& db, const ChangeRow& c) {
  auto st = db.prepare(
      "INSERT INTO progression_log (t_ms, member_id, assignment_id, session_id, step_id, change, "
      "level_before, level_after, target_before, target_after, reason) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  st.bind(1, c.t_ms)
      .bind(2, c.member_id)
      .bind(3, c.assignment_id)
      .bind(4, c.session_id)
      .bind(5, c.step_id)
      .bind(6, c.change)
      .bind(7, c.level_before)
      .bind(8, c.level_after)
      .bind(9, c.target_before)
      .bind(10, c.target_after)
      .bind(11, c.reason);
  st.run();
}

std::vector<ChangeRow> member_changes(Database& db, std::int64_t member_id, int limit) {
  auto st = db.prepare(
      "SELECT id, t_ms, member_id, assignment_id, session_id, step_id, change, level_before, "
      "level_after, target_before, target_after, reason FROM progression_log "
      "WHERE member_id = ?1 ORDER BY id DESC LIMIT ?2");
  st.bind(1, member_id).bind(2, limit);
  std::vector<ChangeRow> out;
  while (st.step()) {
    ChangeRow c;
    c.id = st.int64(0);
    c.t_ms = st.int64(1);
    c.member_id = st.int64(2);
    c.assignment_id = st.opt_int64(3);
    c.session_id = st.opt_int64(4);
    c.step_id = st.opt_int64(5);
    c.change = st.text(6);
    c.level_before = st.int32(7);
    c.level_after = st.int32(8);
    if (!st.is_null(9)) c.target_before = st.int32(9);
    if (!st.is_null(10)) c.target_after = st.int32(10);
    c.reason = st.text(11);
    out.push_back(std::move(c));
  }
  return out;
}

void flag_member(Database& db, std::int64_t member_id, const std::string& reason, std::int64_t t_ms,
                 std::optional<std::int64_t> session_id) {
  auto st = db.prepare(
      "INSERT INTO member_flags (member_id, reason, t_ms, session_id) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (member_id) DO UPDATE SET reason = ?2, t_ms = ?3, session_id = ?4");
  st.bind(1, member_id).bind(2, reason).bind(3, t_ms).bind(4, session_id);
  st.run();
}

bool clear_member_flag(Database& db, std::int64_t member_id) {
  const bool had = member_flag(db, member_id).has_value();
  auto st = db.prepare("DELETE FROM member_flags WHERE member_id = ?1");
  st.bind(1, member_id);
  st.run();
  return had;
}

std::optional<FlagRow> member_flag(Database& db, std::int64_t member_id) {
  auto st = db.prepare("SELECT reason, t_ms, session_id FROM member_flags WHERE member_id = ?1");
  st.bind(1, member_id);
  if (!st.step()) return std::nullopt;
  return FlagRow{st.text(0), st.int64(1), st.opt_int64(2)};
}

std::vector<std::int64_t> attended_session_starts(Database& db, std::int64_t assignment_id) {
  auto st = db.prepare(
      "SELECT s.started_ms FROM sessions s WHERE s.assignment_id = ?1 AND EXISTS "
      "(SELECT 1 FROM sets WHERE sets.session_id = s.id) ORDER BY s.started_ms");
  st.bind(1, assignment_id);
  std::vector<std::int64_t> out;
  while (st.step()) out.push_back(st.int64(0));
  return out;
}

}  // namespace soleus::storage
