#include "soleus/storage/members.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <ranges>
#include <sstream>

#include "soleus/common/time.hpp"
#include "soleus/storage/queries.hpp"

namespace soleus::storage {

namespace json = boost::json;

namespace {

std::optional<std::string> show(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  std::ostringstream os;
  os.precision(10);
  os << *v;
  return os.str();
}

MemberRow read_member(const Statement& st) {
  MemberRow m;
  m.id = st.int64(0);
  m.number = st.text(1);
  m.name = st.text(2);
  m.pin_hash = st.opt_text(3);
  m.rom_bottom_mm = st.opt_real(4);
  m.rom_top_mm = st.opt_real(5);
  m.rom_measured_ms = st.opt_int64(6);
  m.assessed_max_n = st.opt_real(7);
  m.assessed_ms = st.opt_int64(8);
  m.created_ms = st.int64(9);
  m.updated_ms = st.int64(10);
  m.assessed_method = st.opt_text(11);
  m.assessment_assigned_ms = st.opt_int64(12);
  return m;
}

constexpr const char* kMemberColumns =
    "id, number, name, pin_hash, rom_bottom_mm, rom_top_mm, rom_measured_ms, assessed_max_n, "
    "assessed_ms, created_ms, updated_ms, assessed_method, assessment_assigned_ms";

/// Schema 4's step columns: the rep range and the double-progression flag.
void set_step_range(Database& db, std::int64_t programme_id, int position, const StepSpec& s) {
  auto st = db.prepare(
      "UPDATE programme_steps SET rep_min = ?3, rep_max = ?4, progress_double = ?5 "
      "WHERE programme_id = ?1 AND position = ?2");
  st.bind(1, programme_id)
      .bind(2, position)
      .bind(3, s.rep_min)
      .bind(4, s.rep_max)
      .bind(5, s.progress_double ? 1 : 0);
  st.run();
}

}  // namespace

void record_audit(Database& db, const Actor& who, std::string_view entity,
                  std::optional<std::int64_t> entity_id, std::string_view field,
                  const std::optional<std::string>& before,
                  const std::optional<std::string>& after) {
  auto st = db.prepare(
      "INSERT INTO audit (t_ms, actor_role, actor_id, entity, entity_id, field, before, after) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  st.bind(1, common::unix_ms_now())
      .bind(2, who.role)
      .bind(3, who.id)
      .bind(4, entity)
      .bind(5, entity_id)
      .bind(6, field)
      .bind(7, before)
      .bind(8, after);
  st.run();
}

std::vector<AuditRow> query_audit(Database& db, std::string_view entity,
                                  std::optional<std::int64_t> entity_id, int limit) {
  auto st = db.prepare(
      "SELECT id, t_ms, actor_role, actor_id, entity, entity_id, field, before, after FROM audit "
      "WHERE (?1 = '' OR entity = ?1) AND (?2 IS NULL OR entity_id = ?2) "
      "ORDER BY id DESC LIMIT ?3");
  st.bind(1, entity).bind(2, entity_id).bind(3, limit);
  std::vector<AuditRow> out;
  while (st.step()) out.push_back(read_audit_row(st));
  return out;
}

AuditRow read_audit_row(Statement& st) {
  AuditRow a;
  a.id = st.int64(0);
  a.t_ms = st.int64(1);
  a.actor_role = st.text(2);
  a.actor_id = st.opt_int64(3);
  a.entity = st.text(4);
  a.entity_id = st.opt_int64(5);
  a.field = st.text(6);
  a.before = st.opt_text(7);
  a.after = st.opt_text(8);
  return a;
}

std::int64_t add_member(Database& db, const std::string& number, const std::string& name,
                        const Actor& who) {
  Transaction tx(db);
  auto st = db.prepare(
      "INSERT INTO members (number, name, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?3)");
  st.bind(1, number).bind(2, name).bind(3, common::unix_ms_now());
  st.run();
  std::int64_t id = db.last_insert_rowid();
  record_audit(db, who, "member", id, "*", std::nullopt, "created");
  tx.commit();
  return id;
}

std::optional<MemberRow> get_member(Database& db, std::int64_t id) {
  auto st = db.prepare(std::string("SELECT ") + kMemberColumns + " FROM members WHERE id = ?1");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_member(st);
}

std::optional<MemberRow> find_member_by_number(Database& db, const std::string& number) {
  auto st = db.prepare(std::string("SELECT ") + kMemberColumns + " FROM members WHERE number = ?1");
  st.bind(1, number);
  if (!st.step()) return std::nullopt;
  return read_member(st);
}

std::vector<MemberRow> list_members(Database& db) {
  auto st = db.prepare(std::string("SELECT ") + kMemberColumns + " FROM members ORDER BY number");
  std::vector<MemberRow> out;
  while (st.step()) out.push_back(read_member(st));
  return out;
}

bool set_member_number(Database& db, std::int64_t id, const std::string& number, const Actor& who) {
  Transaction tx(db);
  auto before = get_member(db, id);
  if (!before) return false;
  auto st = db.prepare("UPDATE members SET number = ?1, updated_ms = ?2 WHERE id = ?3");
  st.bind(1, number).bind(2, common::unix_ms_now()).bind(3, id);
  st.run();
  record_audit(db, who, "member", id, "number", before->number, number);
  tx.commit();
  return true;
}

bool update_member(Database& db, std::int64_t id, const MemberUpdate& u, const Actor& who) {
  Transaction tx(db);
  auto before = get_member(db, id);
  if (!before) return false;
  const std::int64_t now = common::unix_ms_now();
  bool changed = false;
  auto set_col = [&](const char* col, auto&& value, const std::optional<std::string>& shown_before,
                     const std::optional<std::string>& shown_after) {
    auto st = db.prepare(std::string("UPDATE members SET ") + col + " = ?1 WHERE id = ?2");
    st.bind(1, value).bind(2, id);
    st.run();
    if (shown_before != shown_after) {
      record_audit(db, who, "member", id, col, shown_before, shown_after);
      changed = true;
    }
  };
  if (u.name) set_col("name", *u.name, before->name, *u.name);
  if (u.pin_hash && *u.pin_hash != before->pin_hash) {
    // The audit never holds the hash: only that a PIN was set, changed or removed.
    std::optional<std::string> was =
        before->pin_hash ? std::optional<std::string>("(set)") : std::nullopt;
    std::optional<std::string> now_shown =
        !*u.pin_hash ? std::nullopt
                     : std::optional<std::string>(before->pin_hash ? "(changed)" : "(set)");
    set_col("pin_hash", *u.pin_hash, was, now_shown);
  }
  if (u.rom_bottom_mm || u.rom_top_mm) {
    // Both columns change together (a CHECK requires both or neither).
    auto st = db.prepare(
        "UPDATE members SET rom_bottom_mm = ?1, rom_top_mm = ?2, rom_measured_ms = ?3 "
        "WHERE id = ?4");
    auto b = u.rom_bottom_mm ? *u.rom_bottom_mm : before->rom_bottom_mm;
    auto t = u.rom_top_mm ? *u.rom_top_mm : before->rom_top_mm;
    st.bind(1, b)
        .bind(2, t)
        .bind(3, b ? std::optional<std::int64_t>(now) : std::nullopt)
        .bind(4, id);
    st.run();
    if (show(b) != show(before->rom_bottom_mm)) {
      record_audit(db, who, "member", id, "rom_bottom_mm", show(before->rom_bottom_mm), show(b));
      changed = true;
    }
    if (show(t) != show(before->rom_top_mm)) {
      record_audit(db, who, "member", id, "rom_top_mm", show(before->rom_top_mm), show(t));
      changed = true;
    }
  }
  if (u.assessed_max_n) {
    set_col("assessed_max_n", *u.assessed_max_n, show(before->assessed_max_n),
            show(*u.assessed_max_n));
    auto st = db.prepare(
        "UPDATE members SET assessed_ms = ?1, assessed_method = CASE WHEN ?1 IS NULL THEN NULL "
        "ELSE 'manual' END WHERE id = ?2");
    st.bind(1, *u.assessed_max_n ? std::optional<std::int64_t>(now) : std::nullopt).bind(2, id);
    st.run();
    if (*u.assessed_max_n && show(*u.assessed_max_n) != show(before->assessed_max_n)) {
      // Typed in by staff: kept with the assessments (method manual), for the trend.
      auto a = db.prepare(
          "INSERT INTO assessments (member_id, t_ms, method, complete, max_n, note) "
          "VALUES (?1, ?2, 'manual', 1, ?3, 'entered by staff')");
      a.bind(1, id).bind(2, now).bind(3, **u.assessed_max_n);
      a.run();
    }
  }
  if (changed) {
    auto st = db.prepare("UPDATE members SET updated_ms = ?1 WHERE id = ?2");
    st.bind(1, now).bind(2, id);
    st.run();
  }
  tx.commit();
  return true;
}

void insert_steps(Database& db, std::int64_t programme_id, const std::vector<StepSpec>& steps,
                  int first_position) {
  auto step = db.prepare(
      "INSERT INTO programme_steps (programme_id, position, mode, sets, target_reps, hold_s, "
      "load_n, load_pct_max, tempo, rest_s, force_drop_pct, eccentric_pct, progress_when, "
      "progress_load_pct, progress_rule, progress_amount) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
  int pos = first_position;
  for (const auto& s : steps) {
    step.bind(1, programme_id)
        .bind(2, ++pos)
        .bind(3, s.mode)
        .bind(4, s.sets)
        .bind(5, s.target_reps)
        .bind(6, s.hold_s)
        .bind(7, s.load_n)
        .bind(8, s.load_pct_max)
        .bind(9, s.tempo)
        .bind(10, s.rest_s)
        .bind(11, s.force_drop_pct)
        .bind(12, s.eccentric_pct)
        .bind(13, s.progress_when)
        .bind(14, s.progress_load_pct)
        .bind(15, s.progress_rule)
        .bind(16, s.progress_amount);
    step.run();
    step.reset();
    set_step_range(db, programme_id, pos, s);
  }
}

void replace_steps(Database& db, std::int64_t programme_id, const std::vector<StepSpec>& steps) {
  auto count = db.prepare("SELECT count(*) FROM programme_steps WHERE programme_id = ?1");
  count.bind(1, programme_id);
  count.step();
  const std::size_t have = static_cast<std::size_t>(count.int64(0));
  auto up = db.prepare(
      "UPDATE programme_steps SET mode = ?3, sets = ?4, target_reps = ?5, hold_s = ?6, "
      "load_n = ?7, load_pct_max = ?8, tempo = ?9, rest_s = ?10, force_drop_pct = ?11, "
      "eccentric_pct = ?12, progress_when = ?13, progress_load_pct = ?14, progress_rule = ?15, "
      "progress_amount = ?16 WHERE programme_id = ?1 AND position = ?2");
  for (std::size_t i = 0; i < steps.size() && i < have; ++i) {
    const StepSpec& s = steps[i];
    up.bind(1, programme_id)
        .bind(2, static_cast<int>(i + 1))
        .bind(3, s.mode)
        .bind(4, s.sets)
        .bind(5, s.target_reps)
        .bind(6, s.hold_s)
        .bind(7, s.load_n)
        .bind(8, s.load_pct_max)
        .bind(9, s.tempo)
        .bind(10, s.rest_s)
        .bind(11, s.force_drop_pct)
        .bind(12, s.eccentric_pct)
        .bind(13, s.progress_when)
        .bind(14, s.progress_load_pct)
        .bind(15, s.progress_rule)
        .bind(16, s.progress_amount);
    up.run();
    up.reset();
    set_step_range(db, programme_id, static_cast<int>(i + 1), s);
  }
  auto del = db.prepare("DELETE FROM programme_steps WHERE programme_id = ?1 AND position > ?2");
  del.bind(1, programme_id).bind(2, static_cast<int>(steps.size()));
  del.run();
  if (steps.size() > have) {
    std::vector<StepSpec> extra(steps.begin() + static_cast<std::ptrdiff_t>(have), steps.end());
    insert_steps(db, programme_id, extra, static_cast<int>(have));
  }
}

std::int64_t add_programme(Database& db, const ProgrammeSpec& p, const Actor& who) {
  Transaction tx(db);
  const std::int64_t now = common::unix_ms_now();
  auto st = db.prepare(
      "INSERT INTO programmes (name, notes, sessions_per_week, block_weeks, "
      "after_block_sessions_per_week, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)");
  st.bind(1, p.name)
      .bind(2, p.notes)
      .bind(3, p.sessions_per_week)
      .bind(4, p.block_weeks)
      .bind(5, p.after_block_sessions_per_week)
      .bind(6, now);
  st.run();
  std::int64_t id = db.last_insert_rowid();
  if (p.block_every_other_day) {
    auto eod = db.prepare("UPDATE programmes SET block_every_other_day = 1 WHERE id = ?1");
    eod.bind(1, id);
    eod.run();
  }
  insert_steps(db, id, p.steps);
  record_audit(db, who, "programme", id, "*", std::nullopt,
               p.name + " (" + std::to_string(p.steps.size()) + " steps)");
  tx.commit();
  return id;
}

std::int64_t assign_programme(Database& db, std::int64_t member_id, std::int64_t programme_id,
                              std::int64_t start_ms, const Actor& who) {
  Transaction tx(db);
  const std::int64_t now = common::unix_ms_now();
  std::optional<std::string> previous;
  {
    auto cur = db.prepare(
        "SELECT programme_id FROM assignments WHERE member_id = ?1 AND ended_ms IS NULL");
    cur.bind(1, member_id);
    if (cur.step()) previous = std::to_string(cur.int64(0));
  }
  auto end =
      db.prepare("UPDATE assignments SET ended_ms = ?1 WHERE member_id = ?2 AND ended_ms IS NULL");
  end.bind(1, now).bind(2, member_id);
  end.run();
  auto st = db.prepare(
      "INSERT INTO assignments (member_id, programme_id, started_ms, created_ms) "
      "VALUES (?1, ?2, ?3, ?4)");
  st.bind(1, member_id).bind(2, programme_id).bind(3, start_ms).bind(4, now);
  st.run();
  std::int64_t id = db.last_insert_rowid();
  record_audit(db, who, "member", member_id, "programme", previous, std::to_string(programme_id));
  tx.commit();
  return id;
}

std::optional<MemberExport> export_member(Database& db, std::int64_t member_id,
                                          bool include_traces) {
  auto m = get_member(db, member_id);
  if (!m) return std::nullopt;
  MemberExport out;
  out.has_pin = m->pin_hash.has_value();  // the hash itself is a secret, not personal data
  out.member = std::move(*m);
  out.member.pin_hash.reset();
  {
    auto st = db.prepare(
        "SELECT a.id, a.programme_id, p.name, a.started_ms, a.ended_ms FROM assignments a "
        "JOIN programmes p ON p.id = a.programme_id WHERE a.member_id = ?1 ORDER BY a.id");
    st.bind(1, member_id);
    while (st.step())
      out.assignments.push_back(
          {st.int64(0), st.int64(1), st.text(2), st.int64(3), st.opt_int64(4)});
  }
  {
    auto st = db.prepare(
        "SELECT id, started_ms, ended_ms, state FROM sessions WHERE member_id = ?1 ORDER BY id");
    st.bind(1, member_id);
    while (st.step())
      out.sessions.push_back({st.int64(0), st.int64(1), st.opt_int64(2), st.text(3)});
  }
  out.changes = member_changes(db, member_id, 1'000'000);
  std::reverse(out.changes.begin(), out.changes.end());  // oldest first, as the sets
  out.flag = member_flag(db, member_id);
  SetFilter f;
  f.member_id = member_id;
  f.limit = 100000;
  auto rows = query_sets(db, f);
  for (auto& row : std::ranges::reverse_view(rows)) {
    ExportSet e;
    e.reps = get_reps(db, row.id);
    if (include_traces) e.trace = get_set_trace(db, row.id);
    e.set = std::move(row);
    out.sets.push_back(std::move(e));
  }
  out.exported_ms = common::unix_ms_now();
  return out;
}

EraseResult erase_member(Database& db, std::int64_t member_id, const Actor& who) {
  EraseResult r;
  Transaction tx(db);
  if (!get_member(db, member_id)) return r;
  r.found = true;
  auto count = [&](const char* sql) {
    auto st = db.prepare(sql);
    st.bind(1, member_id);
    return st.step() ? st.int64(0) : 0;
  };
  // Sets are found by member and by session (a set may carry only one of them).
  const char* kSetsOf =
      "(SELECT id FROM sets WHERE member_id = ?1 "
      " OR session_id IN (SELECT id FROM sessions WHERE member_id = ?1))";
  r.sets = count((std::string("SELECT count(*) FROM ") + kSetsOf).c_str());
  r.reps = count((std::string("SELECT count(*) FROM reps WHERE set_id IN ") + kSetsOf).c_str());
  r.traces =
      count((std::string("SELECT count(*) FROM rep_traces WHERE set_id IN ") + kSetsOf).c_str());
  r.sessions = count("SELECT count(*) FROM sessions WHERE member_id = ?1");
  {
    // Cascades (foreign keys are on) take reps and traces with their sets.
    auto st = db.prepare(std::string("DELETE FROM sets WHERE id IN ") + kSetsOf);
    st.bind(1, member_id);
    st.run();
    auto del = db.prepare("DELETE FROM members WHERE id = ?1");  // cascades sessions, assignments
    del.bind(1, member_id);
    del.run();
  }
  const json::object what{
      {"sets", r.sets}, {"reps", r.reps}, {"sessions", r.sessions}, {"traces", r.traces}};
  record_audit(db, who, "member", member_id, "*", json::serialize(what), "erased on request");
  tx.commit();
  return r;
}

}  // namespace soleus::storage
