#include "soleus/storage/staff.hpp"

#include "soleus/common/time.hpp"

namespace soleus::storage {
namespace {

StaffRow staff_from(Statement& st) {
  StaffRow r;
  r.id = st.int64(0);
  r.name = st.text(1);
  r.pin_hash = st.text(2);
  r.admin = st.int64(3) != 0;
  r.active = st.int64(4) != 0;
  r.created_ms = st.int64(5);
  r.updated_ms = st.int64(6);
  return r;
}

constexpr const char* kStaffColumns = "id, name, pin_hash, admin, active, created_ms, updated_ms";

std::string flag(bool b) { return b ? "1" : "0"; }

}  // namespace

std::int64_t add_staff(Database& db, const std::string& name, const std::string& pin_hash,
                       bool admin, const Actor& who) {
  Transaction tx(db);
  auto st = db.prepare(
      "INSERT INTO staff_accounts (name, pin_hash, admin, active, created_ms, updated_ms) "
      "VALUES (?1, ?2, ?3, 1, ?4, ?4)");
  st.bind(1, name).bind(2, pin_hash).bind(3, admin).bind(4, common::unix_ms_now());
  st.run();
  const std::int64_t id = db.last_insert_rowid();
  record_audit(db, who, "staff", id, "*", std::nullopt, name + (admin ? " (admin)" : ""));
  tx.commit();
  return id;
}

bool update_staff(Database& db, std::int64_t id, const StaffUpdate& u, const Actor& who) {
  Transaction tx(db);
  const auto before = get_staff(db, id);
  if (!before) return false;
  const std::int64_t now = common::unix_ms_now();
  auto set = [&](const char* col, const auto& value, const std::optional<std::string>& shown_before,
                 const std::optional<std::string>& shown_after) {
    auto st = db.prepare(std::string("UPDATE staff_accounts SET ") + col +
                         " = ?1, updated_ms = ?2 WHERE id = ?3");
    st.bind(1, value).bind(2, now).bind(3, id);
    st.run();
    record_audit(db, who, "staff", id, col, shown_before, shown_after);
  };
  if (u.name && *u.name != before->name) set("name", *u.name, before->name, *u.name);
  if (u.pin_hash) set("pin_hash", *u.pin_hash, std::string("(set)"), std::string("(set)"));
  if (u.admin && *u.admin != before->admin)
    set("admin", *u.admin, flag(before->admin), flag(*u.admin));
  if (u.active && *u.active != before->active)
    set("active", *u.active, flag(before->active), flag(*u.active));
  tx.commit();
  return true;
}

std::optional<StaffRow> get_staff(Database& db, std::int64_t id) {
  auto st =
      db.prepare(std::string("SELECT ") + kStaffColumns + " FROM staff_accounts WHERE id = ?1");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return staff_from(st);
}

std::vector<StaffRow> list_staff(Database& db) {
  auto st = db.prepare(std::string("SELECT ") + kStaffColumns +
                       " FROM staff_accounts ORDER BY name COLLATE NOCASE, id");
  std::vector<StaffRow> out;
  while (st.step()) out.push_back(staff_from(st));
  return out;
}

bool staff_name_taken(Database& db, const std::string& name,
                      std::optional<std::int64_t> except_id) {
  auto st = db.prepare(
      "SELECT count(*) FROM staff_accounts WHERE active = 1 AND name = ?1 COLLATE NOCASE "
      "AND (?2 IS NULL OR id <> ?2)");
  st.bind(1, name).bind(2, except_id);
  st.step();
  return st.int64(0) > 0;
}

std::vector<NamedAuditRow> query_audit_named(Database& db, const AuditFilter& f) {
  // The member a row concerns: the member itself, or one of their assignments
  // or sessions (entities other branches may audit). A row about a member who
  // was since erased still names them by id.
  auto st = db.prepare(R"sql(
    SELECT a.id, a.t_ms, a.actor_role, a.actor_id, a.entity, a.entity_id, a.field, a.before,
           a.after,
           CASE
             WHEN a.actor_role = 'staff' AND a.actor_id IS NULL THEN ?5
             WHEN a.actor_role = 'staff' THEN coalesce(s.name, 'staff #' || a.actor_id)
             WHEN a.actor_role = 'member' THEN coalesce(m.name, 'member #' || a.actor_id)
             ELSE a.actor_role
           END,
           CASE
             WHEN a.entity = 'member' THEN a.entity_id
             WHEN a.entity = 'assignment' THEN (SELECT member_id FROM assignments WHERE id = a.entity_id)
             WHEN a.entity = 'session' THEN (SELECT member_id FROM sessions WHERE id = a.entity_id)
           END AS about_member
    FROM audit a
    LEFT JOIN staff_accounts s ON a.actor_role = 'staff' AND s.id = a.actor_id
    LEFT JOIN members m ON a.actor_role = 'member' AND m.id = a.actor_id
    WHERE (?1 IS NULL OR (a.entity = 'member' AND a.entity_id = ?1)
           OR (a.entity = 'assignment' AND a.entity_id IN (SELECT id FROM assignments WHERE member_id = ?1))
           OR (a.entity = 'session' AND a.entity_id IN (SELECT id FROM sessions WHERE member_id = ?1)))
      AND (?2 IS NULL OR (a.actor_role = 'staff' AND a.actor_id = ?2))
      AND (?3 IS NULL OR a.id < ?3)
    ORDER BY a.id DESC LIMIT ?4)sql");
  st.bind(1, f.member_id)
      .bind(2, f.staff_id)
      .bind(3, f.before_id)
      .bind(4, f.limit)
      .bind(5, kSharedStaffName);
  std::vector<NamedAuditRow> out;
  while (st.step()) {
    NamedAuditRow n;
    n.row = read_audit_row(st);
    n.actor_name = st.text(9);
    n.member_id = st.opt_int64(10);
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace soleus::storage
