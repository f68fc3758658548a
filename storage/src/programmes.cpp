#include "soleus/storage/programmes.hpp"

#include <stdexcept>
#include <string>

namespace soleus::storage {

namespace {

constexpr const char* kProgrammeColumns =
    "id, name, notes, sessions_per_week, block_weeks, after_block_sessions_per_week, "
    "block_every_other_day";

ProgrammeRow read_programme(const Statement& p) {
  ProgrammeRow r;
  r.id = p.int64(0);
  r.name = p.text(1);
  r.notes = p.text(2);
  r.sessions_per_week = p.int32(3);
  if (!p.is_null(4)) r.block_weeks = p.int32(4);
  if (!p.is_null(5)) r.after_block_sessions_per_week = p.int32(5);
  r.block_every_other_day = p.int64(6) != 0;
  return r;
}

const char* column_of(ProgrammeField f) {
  switch (f) {
    case ProgrammeField::Name: return "name";
    case ProgrammeField::Notes: return "notes";
    case ProgrammeField::SessionsPerWeek: return "sessions_per_week";
    case ProgrammeField::BlockWeeks: return "block_weeks";
    case ProgrammeField::AfterBlockSessionsPerWeek: return "after_block_sessions_per_week";
    case ProgrammeField::BlockEveryOtherDay: return "block_every_other_day";
  }
  throw std::logic_error("unknown programme field");
}

}  // namespace

std::optional<ProgrammeRow> get_programme(Database& db, std::int64_t id) {
  auto p = db.prepare(std::string("SELECT ") + kProgrammeColumns +
                      " FROM programmes WHERE id = ?1 AND archived = 0");
  p.bind(1, id);
  if (!p.step()) return std::nullopt;
  return read_programme(p);
}

std::vector<ProgrammeRow> list_programmes(Database& db) {
  auto p = db.prepare(std::string("SELECT ") + kProgrammeColumns +
                      " FROM programmes WHERE archived = 0 ORDER BY name, id");
  std::vector<ProgrammeRow> out;
  while (p.step()) out.push_back(read_programme(p));
  return out;
}

std::vector<StepRow> programme_steps(Database& db, std::int64_t programme_id,
                                     std::optional<std::int64_t> assignment_id) {
  // Without an assignment ?2 is NULL: no step_progress row matches, every level is 0.
  auto s = db.prepare(
      "SELECT s.id, s.position, s.mode, s.sets, s.target_reps, s.hold_s, s.load_n, "
      "s.load_pct_max, s.tempo, s.rest_s, s.force_drop_pct, s.eccentric_pct, s.progress_when, "
      "s.progress_load_pct, s.progress_rule, s.progress_amount, coalesce(sp.level, 0), "
      "s.rep_min, s.rep_max, s.progress_double, sp.target_reps "
      "FROM programme_steps s "
      "LEFT JOIN step_progress sp ON sp.step_id = s.id AND sp.assignment_id = ?2 "
      "WHERE s.programme_id = ?1 ORDER BY s.position");
  s.bind(1, programme_id).bind(2, assignment_id);
  std::vector<StepRow> out;
  while (s.step()) {
    StepRow st;
    st.id = s.int64(0);
    st.position = s.int32(1);
    st.mode = s.text(2);
    st.sets = s.int32(3);
    if (!s.is_null(4)) st.target_reps = s.int32(4);
    st.hold_s = s.opt_real(5);
    st.load_n = s.opt_real(6);
    st.load_pct_max = s.opt_real(7);
    st.tempo = s.text(8);
    st.rest_s = s.real(9);
    st.force_drop_pct = s.real(10);
    st.eccentric_pct = s.real(11);
    st.progress_when = s.text(12);
    st.progress_load_pct = s.real(13);
    st.progress_rule = s.text(14);
    st.progress_amount = s.real(15);
    st.level = s.int32(16);
    if (!s.is_null(17)) st.rep_min = s.int32(17);
    if (!s.is_null(18)) st.rep_max = s.int32(18);
    st.progress_double = s.int64(19) != 0;
    if (!s.is_null(20)) st.target = s.int32(20);
    out.push_back(std::move(st));
  }
  return out;
}

void set_programme_field(Database& db, std::int64_t programme_id, ProgrammeField field,
                         const FieldValue& value, std::int64_t now_ms) {
  auto st = db.prepare(std::string("UPDATE programmes SET ") + column_of(field) +
                       " = ?1, updated_ms = ?2 WHERE id = ?3");
  if (const auto* t = std::get_if<std::string>(&value)) st.bind(1, *t);
  else if (const auto* n = std::get_if<std::int64_t>(&value)) st.bind(1, *n);
  else st.bind_null(1);
  st.bind(2, now_ms).bind(3, programme_id);
  st.run();
}

void archive_programme(Database& db, std::int64_t programme_id, std::int64_t now_ms,
                       const Actor& who) {
  Transaction tx(db);
  auto st = db.prepare("UPDATE programmes SET archived = 1, updated_ms = ?1 WHERE id = ?2");
  st.bind(1, now_ms).bind(2, programme_id);
  st.run();
  auto end = db.prepare(
      "UPDATE assignments SET ended_ms = ?1 WHERE programme_id = ?2 AND ended_ms IS NULL");
  end.bind(1, now_ms).bind(2, programme_id);
  end.run();
  record_audit(db, who, "programme", programme_id, "archived", "0", "1");
  tx.commit();
}

std::optional<std::int64_t> current_programme_id(Database& db, std::int64_t member_id) {
  auto st = db.prepare(
      "SELECT programme_id FROM assignments WHERE member_id = ?1 AND ended_ms IS NULL "
      "ORDER BY id DESC LIMIT 1");
  st.bind(1, member_id);
  if (st.step()) return st.int64(0);
  return std::nullopt;
}

void end_assignment(Database& db, std::int64_t member_id, std::int64_t now_ms, const Actor& who) {
  Transaction tx(db);
  const auto before = current_programme_id(db, member_id);
  auto st =
      db.prepare("UPDATE assignments SET ended_ms = ?1 WHERE member_id = ?2 AND ended_ms IS NULL");
  st.bind(1, now_ms).bind(2, member_id);
  st.run();
  record_audit(db, who, "member", member_id, "programme",
               before ? std::optional<std::string>(std::to_string(*before)) : std::nullopt,
               std::nullopt);
  tx.commit();
}

}  // namespace soleus::storage
