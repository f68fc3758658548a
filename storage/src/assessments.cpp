#include "soleus/storage/assessments.hpp"

#include "soleus/common/format.hpp"

namespace soleus::storage {

std::int64_t record_assessment(Database& db, const AssessmentRow& a, const Actor& who) {
  Transaction tx(db);
  auto st = db.prepare(
      "INSERT INTO assessments (member_id, t_ms, method, complete, max_n, beyond_range, "
      "spread_pct, trials, curve, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  st.bind(1, a.member_id)
      .bind(2, a.t_ms)
      .bind(3, a.method)
      .bind(4, a.complete)
      .bind(5, a.max_n)
      .bind(6, a.beyond_range)
      .bind(7, a.spread_pct)
      .bind(8, a.trials_json)
      .bind(9, a.curve_json)
      .bind(10, a.note);
  st.run();
  const std::int64_t id = db.last_insert_rowid();
  if (a.complete && a.max_n) {
    const auto before = get_member(db, a.member_id);
    auto up = db.prepare(
        "UPDATE members SET assessed_max_n = ?1, assessed_ms = ?2, assessed_method = ?3, "
        "updated_ms = ?2 WHERE id = ?4");
    up.bind(1, *a.max_n).bind(2, a.t_ms).bind(3, a.method).bind(4, a.member_id);
    up.run();
    std::optional<std::string> was;
    if (before && before->assessed_max_n) was = common::format_fixed(*before->assessed_max_n, 1);
    record_audit(db, who, "member", a.member_id, "assessed_max_n", was,
                 common::format_fixed(*a.max_n, 1) + " (" + a.method + ")");
  }
  auto clear = db.prepare("UPDATE members SET assessment_assigned_ms = NULL WHERE id = ?1");
  clear.bind(1, a.member_id);
  clear.run();
  tx.commit();
  return id;
}

std::vector<AssessmentRow> member_assessments(Database& db, std::int64_t member_id) {
  auto st = db.prepare(
      "SELECT id, member_id, t_ms, method, complete, max_n, beyond_range, spread_pct, trials, "
      "curve, note FROM assessments WHERE member_id = ?1 ORDER BY t_ms DESC, id DESC");
  st.bind(1, member_id);
  std::vector<AssessmentRow> out;
  while (st.step()) {
    AssessmentRow r;
    r.id = st.int64(0);
    r.member_id = st.int64(1);
    r.t_ms = st.int64(2);
    r.method = st.text(3);
    r.complete = st.int64(4) != 0;
    r.max_n = st.opt_real(5);
    r.beyond_range = st.int64(6) != 0;
    r.spread_pct = st.opt_real(7);
    r.trials_json = st.text(8);
    r.curve_json = st.text(9);
    r.note = st.text(10);
    out.push_back(std::move(r));
  }
  return out;
}

bool assign_assessment(Database& db, std::int64_t member_id, bool assign, std::int64_t now_ms,
                       const Actor& who) {
  Transaction tx(db);
  const auto before = assessment_assigned_ms(db, member_id);
  if (!get_member(db, member_id)) return false;
  auto st = db.prepare("UPDATE members SET assessment_assigned_ms = ?1 WHERE id = ?2");
  st.bind(1, assign ? std::optional<std::int64_t>(before.value_or(now_ms)) : std::nullopt)
      .bind(2, member_id);
  st.run();
  if (assign != before.has_value())
    record_audit(db, who, "member", member_id, "assessment",
                 before ? std::optional<std::string>("assigned") : std::nullopt,
                 assign ? std::optional<std::string>("assigned") : std::nullopt);
  tx.commit();
  return true;
}

std::optional<std::int64_t> assessment_assigned_ms(Database& db, std::int64_t member_id) {
  auto st = db.prepare("SELECT assessment_assigned_ms FROM members WHERE id = ?1");
  st.bind(1, member_id);
  if (!st.step()) return std::nullopt;
  return st.opt_int64(0);
}

std::optional<std::string> assessed_method(Database& db, std::int64_t member_id) {
  auto st = db.prepare("SELECT assessed_method FROM members WHERE id = ?1");
  st.bind(1, member_id);
  if (!st.step()) return std::nullopt;
  return st.opt_text(0);
}

}  // namespace soleus::storage
