// Named staff accounts (issue 13) and the audit trail with names: by member,
// by person, paged newest first.
#include <doctest/doctest.h>

#include "soleus/storage/members.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/storage/staff.hpp"

using namespace soleus::storage;

namespace {
const std::string kHash =
    "pbkdf2-sha256$100000$00112233445566778899aabbccddeeff$" + std::string(64, 'a');
}  // namespace

TEST_CASE("staff accounts: create, rename, PIN, deactivate, audited, never the hash") {
  auto db = Database::open(":memory:");
  migrate(db);
  const Actor maint{"maintenance", std::nullopt};
  const auto ann = add_staff(db, "Ann Physio", kHash, true, maint);
  const auto bob = add_staff(db, "Bob", kHash, false, {"staff", ann});
  auto all = list_staff(db);
  REQUIRE(all.size() == 2);
  CHECK(all[0].name == "Ann Physio");  // by name
  CHECK(all[0].admin);
  CHECK_FALSE(all[1].admin);
  CHECK(all[1].active);
  // An active name is unique, whatever its case; a deactivated one frees it.
  CHECK(staff_name_taken(db, "bob"));
  CHECK_FALSE(staff_name_taken(db, "bob", bob));
  CHECK_THROWS_AS(add_staff(db, "BOB", kHash, false, maint), SqliteError);
  StaffUpdate u;
  u.name = "Bob Smith";
  u.pin_hash = kHash + "x";
  REQUIRE(update_staff(db, bob, u, {"staff", ann}));
  StaffUpdate off;
  off.active = false;
  REQUIRE(update_staff(db, bob, off, maint));
  CHECK_FALSE(get_staff(db, bob)->active);
  CHECK_FALSE(staff_name_taken(db, "Bob Smith"));
  CHECK(add_staff(db, "Bob Smith", kHash, false, maint) > bob);
  CHECK_FALSE(update_staff(db, 999, u, maint));
  // Each change audited, by whom; the PIN shown as "(set)".
  AuditFilter f;
  f.limit = 100;
  int pin_rows = 0, renames = 0;
  for (const auto& n : query_audit_named(db, f)) {
    CHECK(n.row.after.value_or("").find("pbkdf2") == std::string::npos);
    CHECK(n.row.before.value_or("").find("pbkdf2") == std::string::npos);
    if (n.row.field == "pin_hash") {
      ++pin_rows;
      CHECK(n.actor_name == "Ann Physio");
    }
    if (n.row.field == "name") {
      ++renames;
      CHECK(n.row.before == std::optional<std::string>("Bob"));
      CHECK(n.row.after == std::optional<std::string>("Bob Smith"));
    }
  }
  CHECK(pin_rows == 1);
  CHECK(renames == 1);
  // Accounts are never deleted: the audit refers to them.
  CHECK_THROWS_AS(db.exec("DELETE FROM staff_accounts WHERE id = 1"), SqliteError);
}

TEST_CASE("audit with names: filtered by member (and the member's assignment) and by person") {
  auto db = Database::open(":memory:");
  migrate(db);
  const Actor maint{"maintenance", std::nullopt};
  const auto ann = add_staff(db, "Ann", kHash, true, maint);
  const auto bob = add_staff(db, "Bob", kHash, false, maint);
  const Actor by_ann{"staff", ann}, by_bob{"staff", bob}, shared{"staff", std::nullopt};
  const auto m1 = add_member(db, "1", "Cy", by_ann);
  const auto m2 = add_member(db, "2", "Di", by_bob);
  ProgrammeSpec p;
  p.name = "Calf";
  StepSpec s;
  s.mode = "isotonic";
  s.sets = 1;
  s.target_reps = 3;
  s.load_n = 300;
  s.tempo = "1-0-1-0";
  p.steps.push_back(s);
  const auto pid = add_programme(db, p, by_ann);
  const auto asg = assign_programme(db, m1, pid, 1000, by_bob);
  record_audit(db, by_ann, "assignment", asg, "note", std::nullopt, "started");
  MemberUpdate u;
  u.name = "Cy B";
  update_member(db, m1, u, shared);
  update_member(db, m2, u, {"member", m2});

  AuditFilter f;
  f.member_id = m1;
  const auto rows = query_audit_named(db, f);
  // Cy's rows: created (Ann), programme (Bob), the assignment's row (Ann), renamed (shared PIN).
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].row.field == "name");
  CHECK(rows[0].actor_name == kSharedStaffName);
  CHECK(rows[1].row.entity == "assignment");
  CHECK(rows[1].member_id == std::optional<std::int64_t>(m1));
  CHECK(rows[2].row.field == "programme");
  CHECK(rows[2].actor_name == "Bob");
  CHECK(rows[3].actor_name == "Ann");
  for (std::size_t i = 1; i < rows.size(); ++i) CHECK(rows[i].row.id < rows[i - 1].row.id);

  AuditFilter by_person;
  by_person.staff_id = bob;
  for (const auto& n : query_audit_named(db, by_person)) CHECK(n.actor_name == "Bob");
  CHECK(query_audit_named(db, by_person).size() == 2);  // Di created, Cy's programme

  AuditFilter mine;
  mine.member_id = m2;
  const auto di = query_audit_named(db, mine);
  REQUIRE(di.size() == 2);
  CHECK(di[0].actor_name == "Cy B");  // a member's own change: their name (member m2 is "Cy B")

  // Paging: before the oldest row of a page gives the next page, no overlap.
  AuditFilter page;
  page.limit = 3;
  const auto p1 = query_audit_named(db, page);
  REQUIRE(p1.size() == 3);
  page.before_id = p1.back().row.id;
  const auto p2 = query_audit_named(db, page);
  REQUIRE_FALSE(p2.empty());
  CHECK(p2.front().row.id < p1.back().row.id);
}
