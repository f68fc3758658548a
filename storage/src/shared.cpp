#include "soleus/storage/shared.hpp"

#include <functional>
#include <string_view>

#include "soleus/common/log.hpp"
#include "soleus/common/time.hpp"
#include "soleus/storage/members.hpp"

namespace soleus::storage::shared {

namespace {

// ---- rendering: each kind's data as one JSON object, built by SQLite ----------

constexpr std::string_view kMemberData = R"sql(
SELECT json_object('number', number, 'name', name, 'pin_hash', pin_hash,
  'rom_bottom_mm', rom_bottom_mm, 'rom_top_mm', rom_top_mm, 'rom_measured_ms', rom_measured_ms,
  'assessed_max_n', assessed_max_n, 'assessed_ms', assessed_ms, 'assessed_method', assessed_method,
  'assessment_assigned_ms', assessment_assigned_ms, 'created_ms', created_ms, 'updated_ms', updated_ms,
  'flag', json((SELECT json_object('reason', reason, 't_ms', t_ms) FROM member_flags f
                WHERE f.member_id = m.id)))
FROM members m WHERE uid = ?1)sql";

constexpr std::string_view kStepColumns =
    "mode, sets, target_reps, hold_s, load_n, load_pct_max, tempo, rest_s, force_drop_pct, "
    "eccentric_pct, progress_when, progress_load_pct, progress_rule, progress_amount, rep_min, "
    "rep_max, progress_double";

constexpr std::string_view kProgrammeData = R"sql(
SELECT json_object('name', name, 'notes', notes, 'sessions_per_week', sessions_per_week,
  'block_weeks', block_weeks, 'after_block_sessions_per_week', after_block_sessions_per_week,
  'block_every_other_day', block_every_other_day, 'archived', archived,
  'created_ms', created_ms, 'updated_ms', updated_ms,
  'steps', json((SELECT json_group_array(json(x)) FROM (SELECT json_object('position', position,
    'mode', mode, 'sets', sets, 'target_reps', target_reps, 'hold_s', hold_s, 'load_n', load_n,
    'load_pct_max', load_pct_max, 'tempo', tempo, 'rest_s', rest_s, 'force_drop_pct', force_drop_pct,
    'eccentric_pct', eccentric_pct, 'progress_when', progress_when,
    'progress_load_pct', progress_load_pct, 'progress_rule', progress_rule,
    'progress_amount', progress_amount, 'rep_min', rep_min, 'rep_max', rep_max,
    'progress_double', progress_double) AS x
    FROM programme_steps WHERE programme_id = p.id ORDER BY position))))
FROM programmes p WHERE uid = ?1)sql";

constexpr std::string_view kAssignmentData = R"sql(
SELECT json_object('member', m.uid, 'programme', p.uid, 'started_ms', a.started_ms,
  'ended_ms', a.ended_ms, 'created_ms', a.created_ms)
FROM assignments a JOIN members m ON m.id = a.member_id JOIN programmes p ON p.id = a.programme_id
WHERE a.uid = ?1)sql";

// A member's progression state per assignment: what the runner reads to
// prescribe the next session (each step's level, load factor and current
// target). The sessions that count for the schedule come with the sets.
constexpr std::string_view kProgressionData = R"sql(
SELECT json_object('assignment', a.uid, 'steps', json((SELECT json_group_array(json(x)) FROM
  (SELECT json_object('position', ps.position, 'level', sp.level, 'load_factor', sp.load_factor,
     'target_reps', sp.target_reps, 'updated_ms', sp.updated_ms) AS x
   FROM step_progress sp JOIN programme_steps ps ON ps.id = sp.step_id
   WHERE sp.assignment_id = a.id ORDER BY ps.position))))
FROM assignments a WHERE a.uid = ?1)sql";

constexpr std::string_view kAssessmentData = R"sql(
SELECT json_object('member', m.uid, 't_ms', s.t_ms, 'method', s.method, 'complete', s.complete,
  'max_n', s.max_n, 'beyond_range', s.beyond_range, 'spread_pct', s.spread_pct,
  'trials', json(s.trials), 'curve', json(s.curve), 'note', s.note)
FROM assessments s JOIN members m ON m.id = s.member_id WHERE s.uid = ?1)sql";

constexpr std::string_view kStaffData = R"sql(
SELECT json_object('name', name, 'pin_hash', pin_hash, 'admin', admin, 'active', active,
  'created_ms', created_ms, 'updated_ms', updated_ms)
FROM staff_accounts WHERE uid = ?1)sql";

std::string_view data_sql(std::string_view kind) {
  if (kind == "member") return kMemberData;
  if (kind == "programme") return kProgrammeData;
  if (kind == "assignment") return kAssignmentData;
  if (kind == "progression") return kProgressionData;
  if (kind == "assessment") return kAssessmentData;
  if (kind == "staff") return kStaffData;
  return {};
}

std::optional<std::string> render(Database& db, std::string_view kind, const std::string& uid) {
  const auto sql = data_sql(kind);
  if (sql.empty()) return std::nullopt;
  auto st = db.prepare(sql);
  st.bind(1, uid);
  if (!st.step() || st.is_null(0)) return std::nullopt;
  return st.text(0);
}

std::optional<std::int64_t> id_by_uid(Database& db, std::string_view table,
                                      const std::string& uid) {
  auto st = db.prepare("SELECT id FROM " + std::string(table) + " WHERE uid = ?1");
  st.bind(1, uid);
  if (!st.step()) return std::nullopt;
  return st.int64(0);
}

std::string_view table_of(std::string_view kind) {
  if (kind == "member") return "members";
  if (kind == "programme") return "programmes";
  if (kind == "assignment" || kind == "progression") return "assignments";
  if (kind == "assessment") return "assessments";
  if (kind == "staff") return "staff_accounts";
  return {};
}

std::optional<std::string> text_at(Database& db, const std::string& json, const char* path) {
  auto st = db.prepare("SELECT json_extract(?1, ?2)");
  st.bind(1, json).bind(2, path);
  if (!st.step() || st.is_null(0)) return std::nullopt;
  return st.text(0);
}

// ---- applying ----------------------------------------------------------------

// What a writer returns for a record of an erased member: dropped, not parked.
constexpr const char* kErased = "(its member was erased)";

bool erased_member(Database& db, const std::string& uid) {
  auto st =
      db.prepare("SELECT 1 FROM fleet_records WHERE kind = 'member' AND uid = ?1 AND deleted = 1");
  st.bind(1, uid);
  return st.step();
}

// A record's data written into the tables; "" when done, else what it waits for.
using Writer = std::function<std::string(Database&, const Record&)>;

std::string write_member(Database& db, const Record& r) {
  auto st = db.prepare(R"sql(
INSERT INTO members (uid, number, name, pin_hash, rom_bottom_mm, rom_top_mm, rom_measured_ms,
  assessed_max_n, assessed_ms, assessed_method, assessment_assigned_ms, created_ms, updated_ms)
VALUES (?1, json_extract(?2, '$.number'), coalesce(json_extract(?2, '$.name'), ''),
  json_extract(?2, '$.pin_hash'), json_extract(?2, '$.rom_bottom_mm'),
  json_extract(?2, '$.rom_top_mm'), json_extract(?2, '$.rom_measured_ms'),
  json_extract(?2, '$.assessed_max_n'), json_extract(?2, '$.assessed_ms'),
  json_extract(?2, '$.assessed_method'), json_extract(?2, '$.assessment_assigned_ms'),
  json_extract(?2, '$.created_ms'), json_extract(?2, '$.updated_ms'))
ON CONFLICT (uid) DO UPDATE SET number = excluded.number, name = excluded.name,
  pin_hash = excluded.pin_hash, rom_bottom_mm = excluded.rom_bottom_mm,
  rom_top_mm = excluded.rom_top_mm, rom_measured_ms = excluded.rom_measured_ms,
  assessed_max_n = excluded.assessed_max_n, assessed_ms = excluded.assessed_ms,
  assessed_method = excluded.assessed_method,
  assessment_assigned_ms = excluded.assessment_assigned_ms, updated_ms = excluded.updated_ms)sql");
  st.bind(1, r.uid).bind(2, r.data);
  st.run();
  const auto id = id_by_uid(db, "members", r.uid);
  if (text_at(db, r.data, "$.flag")) {
    auto f = db.prepare(
        "INSERT INTO member_flags (member_id, reason, t_ms) VALUES (?1, json_extract(?2, "
        "'$.flag.reason'), json_extract(?2, '$.flag.t_ms')) ON CONFLICT (member_id) DO UPDATE "
        "SET reason = excluded.reason, t_ms = excluded.t_ms");
    f.bind(1, *id).bind(2, r.data);
    f.run();
  } else {
    auto f = db.prepare("DELETE FROM member_flags WHERE member_id = ?1");
    f.bind(1, *id);
    f.run();
  }
  return {};
}

std::string write_programme(Database& db, const Record& r) {
  auto st = db.prepare(R"sql(
INSERT INTO programmes (uid, name, notes, sessions_per_week, block_weeks,
  after_block_sessions_per_week, block_every_other_day, archived, created_ms, updated_ms)
VALUES (?1, json_extract(?2, '$.name'), coalesce(json_extract(?2, '$.notes'), ''),
  json_extract(?2, '$.sessions_per_week'), json_extract(?2, '$.block_weeks'),
  json_extract(?2, '$.after_block_sessions_per_week'),
  coalesce(json_extract(?2, '$.block_every_other_day'), 0),
  coalesce(json_extract(?2, '$.archived'), 0), json_extract(?2, '$.created_ms'),
  json_extract(?2, '$.updated_ms'))
ON CONFLICT (uid) DO UPDATE SET name = excluded.name, notes = excluded.notes,
  sessions_per_week = excluded.sessions_per_week, block_weeks = excluded.block_weeks,
  after_block_sessions_per_week = excluded.after_block_sessions_per_week,
  block_every_other_day = excluded.block_every_other_day, archived = excluded.archived,
  updated_ms = excluded.updated_ms)sql");
  st.bind(1, r.uid).bind(2, r.data);
  st.run();
  const auto id = *id_by_uid(db, "programmes", r.uid);
  // Each position keeps its row (and id): members' progression and sessions refer to it.
  std::string cols(kStepColumns);
  std::string sel, upd;
  std::size_t start = 0;
  while (start < cols.size()) {
    auto end = cols.find(',', start);
    if (end == std::string::npos) end = cols.size();
    std::string c = cols.substr(start, end - start);
    while (!c.empty() && c.front() == ' ') c.erase(0, 1);
    sel += ", json_extract(value, '$." + c + "')";
    upd += std::string(upd.empty() ? "" : ", ") + c + " = excluded." + c;
    start = end + 1;
  }
  auto steps = db.prepare("INSERT INTO programme_steps (programme_id, position, " + cols +
                          ") SELECT ?1, json_extract(value, '$.position')" + sel +
                          " FROM json_each(?2, '$.steps') WHERE true "
                          "ON CONFLICT (programme_id, position) DO UPDATE SET " +
                          upd);
  steps.bind(1, id).bind(2, r.data);
  steps.run();
  auto del = db.prepare(
      "DELETE FROM programme_steps WHERE programme_id = ?1 AND position NOT IN "
      "(SELECT json_extract(value, '$.position') FROM json_each(?2, '$.steps'))");
  del.bind(1, id).bind(2, r.data);
  del.run();
  return {};
}

std::string write_assignment(Database& db, const Record& r) {
  const auto member_uid = text_at(db, r.data, "$.member");
  const auto programme_uid = text_at(db, r.data, "$.programme");
  if (!member_uid || !programme_uid) return "its member and programme (missing in the data)";
  const auto member = id_by_uid(db, "members", *member_uid);
  if (!member) return erased_member(db, *member_uid) ? kErased : "member " + *member_uid;
  const auto programme = id_by_uid(db, "programmes", *programme_uid);
  if (!programme) return "programme " + *programme_uid;
  auto st = db.prepare(R"sql(
INSERT INTO assignments (uid, member_id, programme_id, started_ms, ended_ms, created_ms)
VALUES (?1, ?3, ?4, json_extract(?2, '$.started_ms'), json_extract(?2, '$.ended_ms'),
  json_extract(?2, '$.created_ms'))
ON CONFLICT (uid) DO UPDATE SET member_id = excluded.member_id,
  programme_id = excluded.programme_id, started_ms = excluded.started_ms,
  ended_ms = excluded.ended_ms)sql");
  st.bind(1, r.uid).bind(2, r.data).bind(3, *member).bind(4, *programme);
  st.run();
  return {};
}

std::string write_progression(Database& db, const Record& r) {
  const auto assignment = id_by_uid(db, "assignments", r.uid);
  if (!assignment) return "assignment " + r.uid;
  auto st = db.prepare(R"sql(
INSERT INTO step_progress (assignment_id, step_id, load_factor, level, target_reps, updated_ms)
SELECT ?1, ps.id, coalesce(json_extract(j.value, '$.load_factor'), 1),
  coalesce(json_extract(j.value, '$.level'), 0), json_extract(j.value, '$.target_reps'),
  coalesce(json_extract(j.value, '$.updated_ms'), 0)
FROM json_each(?2, '$.steps') j
JOIN assignments a ON a.id = ?1
JOIN programme_steps ps ON ps.programme_id = a.programme_id
  AND ps.position = json_extract(j.value, '$.position')
WHERE true
ON CONFLICT (assignment_id, step_id) DO UPDATE SET load_factor = excluded.load_factor,
  level = excluded.level, target_reps = excluded.target_reps, updated_ms = excluded.updated_ms)sql");
  st.bind(1, *assignment).bind(2, r.data);
  st.run();
  return {};
}

std::string write_assessment(Database& db, const Record& r) {
  const auto member_uid = text_at(db, r.data, "$.member");
  if (!member_uid) return "its member (missing in the data)";
  const auto member = id_by_uid(db, "members", *member_uid);
  if (!member) return erased_member(db, *member_uid) ? kErased : "member " + *member_uid;
  auto st = db.prepare(R"sql(
INSERT INTO assessments (uid, member_id, t_ms, method, complete, max_n, beyond_range, spread_pct,
  trials, curve, note)
VALUES (?1, ?3, json_extract(?2, '$.t_ms'), json_extract(?2, '$.method'),
  json_extract(?2, '$.complete'), json_extract(?2, '$.max_n'),
  coalesce(json_extract(?2, '$.beyond_range'), 0), json_extract(?2, '$.spread_pct'),
  coalesce(json_extract(?2, '$.trials'), '[]'), coalesce(json_extract(?2, '$.curve'), '[]'),
  coalesce(json_extract(?2, '$.note'), ''))
ON CONFLICT (uid) DO UPDATE SET member_id = excluded.member_id, t_ms = excluded.t_ms,
  method = excluded.method, complete = excluded.complete, max_n = excluded.max_n,
  beyond_range = excluded.beyond_range, spread_pct = excluded.spread_pct,
  trials = excluded.trials, curve = excluded.curve, note = excluded.note)sql");
  st.bind(1, r.uid).bind(2, r.data).bind(3, *member);
  st.run();
  return {};
}

std::string write_staff(Database& db, const Record& r) {
  auto st = db.prepare(R"sql(
INSERT INTO staff_accounts (uid, name, pin_hash, admin, active, created_ms, updated_ms)
VALUES (?1, json_extract(?2, '$.name'), json_extract(?2, '$.pin_hash'),
  coalesce(json_extract(?2, '$.admin'), 0), coalesce(json_extract(?2, '$.active'), 1),
  json_extract(?2, '$.created_ms'), json_extract(?2, '$.updated_ms'))
ON CONFLICT (uid) DO UPDATE SET name = excluded.name, pin_hash = excluded.pin_hash,
  admin = excluded.admin, active = excluded.active, updated_ms = excluded.updated_ms)sql");
  st.bind(1, r.uid).bind(2, r.data);
  st.run();
  return {};
}

// A tombstone: the record's rows go. A member's erasure takes everything of
// theirs, as erase_member() does, and is audited without personal data.
void erase(Database& db, const Record& r) {
  if (r.kind == "member") {
    // What waits for the member goes with them: their sets and records.
    auto parked = db.prepare(
        "DELETE FROM fleet_parked WHERE (kind = 'set' AND json_extract(payload, '$.member') = ?1) "
        "OR json_extract(payload, '$.data.member') = ?1");
    parked.bind(1, r.uid);
    parked.run();
    const auto id = id_by_uid(db, "members", r.uid);
    if (!id) return;
    auto sets = db.prepare(
        "DELETE FROM sets WHERE member_id = ?1 OR session_id IN "
        "(SELECT id FROM sessions WHERE member_id = ?1)");
    sets.bind(1, *id);
    sets.run();
    auto del = db.prepare("DELETE FROM members WHERE id = ?1");
    del.bind(1, *id);
    del.run();
    record_audit(db, Actor{"system", std::nullopt}, "member", *id, "*", std::nullopt,
                 "erased on request on machine " + r.machine + " (fleet tombstone)");
    return;
  }
  const auto table = table_of(r.kind);
  if (table.empty() || r.kind == "progression") return;
  auto del = db.prepare("DELETE FROM " + std::string(table) + " WHERE uid = ?1");
  del.bind(1, r.uid);
  del.run();
}

Writer writer_of(std::string_view kind) {
  if (kind == "member") return write_member;
  if (kind == "programme") return write_programme;
  if (kind == "assignment") return write_assignment;
  if (kind == "progression") return write_progression;
  if (kind == "assessment") return write_assessment;
  if (kind == "staff") return write_staff;
  return {};
}

std::string version_text(std::int64_t hlc, const std::string& machine) {
  return "{\"hlc\":" + std::to_string(hlc) + ",\"machine\":\"" + machine + "\"}";
}

void set_applying(Database& db, bool on) {
  db.exec(on ? "UPDATE fleet_state SET applying = 1" : "UPDATE fleet_state SET applying = 0");
}

// The loser of a concurrent edit, in the audit trail with its values.
void audit_loser(Database& db, const Record& loser, const std::string& loser_data,
                 std::int64_t win_hlc, const std::string& win_machine) {
  const auto table = table_of(loser.kind);
  const auto id = table.empty() ? std::nullopt : id_by_uid(db, table, loser.uid);
  // The PIN hash is a secret: shown as "(set)" like every audit row shows it.
  auto scrub = db.prepare(
      "SELECT CASE WHEN json_extract(?1, '$.pin_hash') IS NULL THEN json(?1) "
      "ELSE json_set(?1, '$.pin_hash', '(set)') END");
  scrub.bind(1, loser_data);
  scrub.step();
  const std::string before = "{\"uid\":\"" + loser.uid +
                             "\",\"lost\":" + version_text(loser.hlc, loser.machine) +
                             ",\"data\":" + scrub.text(0) + "}";
  record_audit(db, Actor{"system", std::nullopt}, loser.kind, id, "fleet_conflict", before,
               "won: " + version_text(win_hlc, win_machine));
  log::warn("fleet: concurrent edits of ", loser.kind, " ", loser.uid, ": the version of machine ",
            loser.machine, " lost to machine ", win_machine, " (audited)");
}

bool seen(Database& db, const Record& r) {
  {
    // A read first: outgoing() asks often, and a write would sync the file each time.
    auto q = db.prepare(
        "SELECT 1 FROM fleet_seen WHERE kind = ?1 AND uid = ?2 AND hlc = ?3 AND machine = ?4");
    q.bind(1, r.kind).bind(2, r.uid).bind(3, r.hlc).bind(4, r.machine);
    if (q.step()) return true;
  }
  auto st = db.prepare(
      "INSERT INTO fleet_seen (kind, uid, hlc, machine) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT DO NOTHING");
  st.bind(1, r.kind).bind(2, r.uid).bind(3, r.hlc).bind(4, r.machine);
  st.run();
  return db.changes() == 0;
}

void park(Database& db, const std::string& kind, const std::string& uid, const std::string& payload,
          const std::string& waits_for) {
  auto st = db.prepare(
      "INSERT INTO fleet_parked (kind, uid, payload, waits_for, t_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT (kind, uid) DO UPDATE SET payload = excluded.payload, "
      "waits_for = excluded.waits_for, t_ms = excluded.t_ms");
  st.bind(1, kind).bind(2, uid).bind(3, payload).bind(4, waits_for).bind(5, common::unix_ms_now());
  st.run();
}

void unpark(Database& db, const std::string& kind, const std::string& uid) {
  auto st = db.prepare("DELETE FROM fleet_parked WHERE kind = ?1 AND uid = ?2");
  st.bind(1, kind).bind(2, uid);
  st.run();
}

// The payload of a parked record: the record's fields as one JSON object.
std::string park_payload(Database& db, const Record& r) {
  auto st = db.prepare(
      "SELECT json_object('hlc', ?1, 'machine', ?2, 'base_hlc', ?3, 'base_machine', ?4, "
      "'deleted', ?5, 'data', json(?6))");
  st.bind(1, r.hlc).bind(2, r.machine).bind(3, r.base_hlc).bind(4, r.base_machine);
  st.bind(5, r.deleted).bind(6, r.data);
  st.step();
  return st.text(0);
}

// Applies `r` (seen before or not); in the caller's transaction, applying on.
ApplyResult apply_in(Database& db, const Record& r) {
  ApplyResult res;
  const auto local = local_record(db, r.kind, r.uid);
  const auto remote_v = std::make_pair(r.hlc, r.machine);
  // A tombstone is final: an erasure wins over every version, earlier or
  // later (an edit made elsewhere at the same time loses to it), and nothing
  // brings an erased record back.
  if (local && local->deleted && !r.deleted) {
    res.outcome = Outcome::Older;
    res.why = "erased";
    log::info("fleet: ", r.kind, " ", r.uid, " from machine ", r.machine,
              " not applied: it was erased");
    return res;
  }
  if (local && !(r.deleted && !local->deleted)) {
    const auto local_v = std::make_pair(local->hlc, local->machine);
    if (remote_v == local_v) {
      res.outcome = Outcome::Duplicate;  // our own publication, or the same version again
      return res;
    }
    if (remote_v < local_v) {
      // Older: it loses. Unless it is what our version was based on (a
      // late copy of an ancestor), that is a concurrent edit lost.
      const bool ancestor = local->base_hlc && *local->base_hlc == r.hlc && local->base_machine &&
                            *local->base_machine == r.machine;
      if (!ancestor && !r.deleted && r.data != local->data) {
        audit_loser(db, r, r.data, local->hlc, local->machine);
        res.conflict = true;
      }
      // The broker keeps the last copy published on the topic, not the
      // newest version: this older one may now be the retained copy, and a
      // machine that subscribes later would take it (and keep it). Our
      // newer version goes out again, whoever wrote it; to the machines
      // that have it, a duplicate.
      auto again = db.prepare("UPDATE fleet_records SET pending = 1 WHERE kind = ?1 AND uid = ?2");
      again.bind(1, r.kind).bind(2, r.uid);
      again.run();
      res.outcome = Outcome::Older;
      return res;
    }
  }
  // Newer: it wins. The local version loses if the remote one was not based on it.
  if (!r.deleted) {
    const auto write = writer_of(r.kind);
    if (!write) {
      res.why = "unknown kind '" + r.kind + "'";
      return res;
    }
    std::string waits;
    db.exec("SAVEPOINT fleet_write");
    try {
      waits = write(db, r);
      db.exec("RELEASE fleet_write");
    } catch (const SqliteError& e) {
      // A rule of this store refuses it (e.g. a member number or an active
      // staff name taken here by another record): kept, with the reason,
      // and tried again when records change.
      db.exec("ROLLBACK TO fleet_write");
      db.exec("RELEASE fleet_write");
      if (e.code() != 19 /* SQLITE_CONSTRAINT */) throw;
      std::string why = e.what();  // the statement, then ": " and SQLite's message
      if (const auto c = why.find("constraint failed"); c != std::string::npos)
        if (const auto colon = why.rfind(": ", c); colon != std::string::npos)
          why.erase(0, colon + 2);
      waits = "a rule of this store: " + why;
      log::warn("fleet: ", r.kind, " ", r.uid, " from machine ", r.machine,
                " cannot be applied here: ", why, " (kept until it can)");
    }
    if (waits == kErased) {
      res.outcome = Outcome::Older;
      res.why = kErased;
      return res;
    }
    if (!waits.empty()) {
      park(db, r.kind, r.uid, park_payload(db, r), waits);
      res.outcome = Outcome::Parked;
      res.why = "waits for " + waits;
      return res;
    }
  }
  // An erasure older than our version: our edit was made concurrently with it.
  const bool erasure_beats_newer = r.deleted && local && !local->deleted &&
                                   std::make_pair(local->hlc, local->machine) > remote_v;
  if (local) {
    const bool based_on_local = r.base_hlc && *r.base_hlc == local->hlc && r.base_machine &&
                                *r.base_machine == local->machine;
    if (!based_on_local && !local->deleted && local->data != "{}" && local->data != r.data) {
      // Lost to an erasure: audited without the erased values.
      Record loser = *local;
      audit_loser(db, loser, r.deleted ? std::string("{}") : local->data, r.hlc, r.machine);
      res.conflict = true;
    }
  }
  if (r.deleted) erase(db, r);
  auto st = db.prepare(R"sql(
INSERT INTO fleet_records (kind, uid, hlc, machine, base_hlc, base_machine, deleted, pending)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)
ON CONFLICT (kind, uid) DO UPDATE SET hlc = excluded.hlc, machine = excluded.machine,
  base_hlc = excluded.base_hlc, base_machine = excluded.base_machine,
  deleted = excluded.deleted, pending = 0)sql");
  st.bind(1, r.kind).bind(2, r.uid).bind(3, r.hlc).bind(4, r.machine);
  st.bind(5, r.base_hlc).bind(6, r.base_machine).bind(7, r.deleted);
  st.run();
  if (erasure_beats_newer) {
    // Our newer version may be the broker's retained copy: publish the
    // tombstone again, newer than it, so that a machine connecting later
    // receives the erasure, not the member.
    db.exec(
        "UPDATE fleet_state SET hlc = max(hlc + 1, "
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 65536)");
    auto again = db.prepare(
        "UPDATE fleet_records SET base_hlc = hlc, base_machine = machine, "
        "hlc = max((SELECT hlc FROM fleet_state), ?3 + 1), machine = (SELECT machine FROM "
        "fleet_state), "
        "pending = 1 WHERE kind = ?1 AND uid = ?2");
    again.bind(1, r.kind).bind(2, r.uid).bind(3, local->hlc);
    again.run();
    db.exec(
        "UPDATE fleet_state SET hlc = max(hlc, (SELECT max(hlc) FROM fleet_records WHERE pending = "
        "1))");
  }
  unpark(db, r.kind, r.uid);
  res.outcome = Outcome::Applied;
  return res;
}

std::optional<Record> parked_record(Database& db, const std::string& kind, const std::string& uid,
                                    const std::string& payload) {
  auto st = db.prepare(
      "SELECT json_extract(?1, '$.hlc'), json_extract(?1, '$.machine'), "
      "json_extract(?1, '$.base_hlc'), json_extract(?1, '$.base_machine'), "
      "json_extract(?1, '$.deleted'), json(json_extract(?1, '$.data'))");
  st.bind(1, payload);
  if (!st.step()) return std::nullopt;
  Record r;
  r.kind = kind;
  r.uid = uid;
  r.hlc = st.int64(0);
  r.machine = st.text(1);
  r.base_hlc = st.opt_int64(2);
  r.base_machine = st.opt_text(3);
  r.deleted = st.int64(4) != 0;
  r.data = st.text(5);
  return r;
}

ApplyResult import_in(Database& db, const std::string& origin, std::int64_t origin_id,
                      const std::string& data, const SetIdSource& set_ids);

// Parked records and sets whose references may have arrived: until nothing moves.
void retry_parked(Database& db, const SetIdSource& set_ids) {
  for (int round = 0; round < 8; ++round) {
    struct P {
      std::string kind, uid, payload;
    };
    std::vector<P> parked;
    {
      auto st = db.prepare("SELECT kind, uid, payload FROM fleet_parked ORDER BY t_ms");
      while (st.step()) parked.push_back({st.text(0), st.text(1), st.text(2)});
    }
    bool moved = false;
    for (const auto& p : parked) {
      if (p.kind == "set") {
        const auto slash = p.uid.find('/');
        const auto id_pos = p.uid.rfind('/');
        if (slash == std::string::npos || id_pos == std::string::npos) continue;
        const auto res = import_in(db, p.uid.substr(0, slash), std::stoll(p.uid.substr(id_pos + 1)),
                                   p.payload, set_ids);
        if (res.outcome != Outcome::Parked) {
          unpark(db, p.kind, p.uid);
          moved = true;
        }
        continue;
      }
      const auto r = parked_record(db, p.kind, p.uid, p.payload);
      if (!r) continue;
      const auto res = apply_in(db, *r);
      if (res.outcome != Outcome::Parked) {
        unpark(db, p.kind, p.uid);
        moved = true;
      }
    }
    if (!moved) return;
  }
}

// ---- sets --------------------------------------------------------------------

constexpr std::string_view kSetData = R"sql(
SELECT json_object(
  'set', json_object('started_ms', s.started_ms, 'ended_ms', s.ended_ms, 'set_index', s.set_index,
    'mode', s.mode, 'load_n', s.load_n, 'tempo', s.tempo, 'target_reps', s.target_reps,
    'hold_s', s.hold_s, 'force_drop_pct', s.force_drop_pct, 'eccentric_pct', s.eccentric_pct,
    'stop_reason', s.stop_reason, 'reps', s.reps, 'partial_reps', s.partial_reps, 'tut_s', s.tut_s,
    'best_output', s.best_output, 'last_output', s.last_output,
    'range_bottom_mm', s.range_bottom_mm, 'range_top_mm', s.range_top_mm,
    'range_calibrated', s.range_calibrated, 'range_note', s.range_note,
    'range_age_days', s.range_age_days),
  'member', m.uid,
  'session', CASE WHEN se.id IS NULL THEN NULL ELSE json_object('id', se.id,
    'started_ms', se.started_ms, 'ended_ms', se.ended_ms, 'state', se.state,
    'assignment', a.uid, 'programme', sp.uid) END,
  'programme', p.uid,
  'step_position', ps.position,
  'reps', json((SELECT json_group_array(json(x)) FROM (SELECT json_object('seq', seq, 'n', n,
    'partial', partial, 't_start_s', t_start_s, 'peak_force_n', peak_force_n,
    'mean_force_n', mean_force_n, 'concentric_s', concentric_s, 'top_pause_s', top_pause_s,
    'eccentric_s', eccentric_s, 'bottom_pause_s', bottom_pause_s, 'rom_mm', rom_mm,
    'rom_pct', rom_pct, 'mean_velocity_mm_s', mean_velocity_mm_s, 'smoothness', smoothness,
    'on_tempo', on_tempo, 'tempo_deviation_s', tempo_deviation_s, 'tut_s', tut_s,
    'reversals', reversals, 'wobbly', wobbly) AS x FROM reps WHERE set_id = s.id ORDER BY seq))))
FROM sets s
JOIN members m ON m.id = s.member_id
LEFT JOIN sessions se ON se.id = s.session_id
LEFT JOIN assignments a ON a.id = se.assignment_id
LEFT JOIN programmes sp ON sp.id = se.programme_id
LEFT JOIN programme_steps ps ON ps.id = s.step_id
LEFT JOIN programmes p ON p.id = ps.programme_id
WHERE s.id = ?1 AND s.origin_machine IS NULL)sql";

ApplyResult import_in(Database& db, const std::string& origin, std::int64_t origin_id,
                      const std::string& data, const SetIdSource& set_ids) {
  ApplyResult res;
  {
    auto st = db.prepare("SELECT 1 FROM sets WHERE origin_machine = ?1 AND origin_set_id = ?2");
    st.bind(1, origin).bind(2, origin_id);
    if (st.step()) {
      res.outcome = Outcome::Duplicate;
      return res;
    }
  }
  const auto member_uid = text_at(db, data, "$.member");
  if (!member_uid) {
    res.why = "a set without its member's uid";
    return res;
  }
  const auto member = id_by_uid(db, "members", *member_uid);
  if (!member) {
    const auto tomb = local_record(db, "member", *member_uid);
    if (tomb && tomb->deleted) {
      res.outcome = Outcome::Older;  // the member was erased: their sets are not kept
      res.why = "member erased";
      return res;
    }
    park(db, "set", origin + "/set/" + std::to_string(origin_id), data, "member " + *member_uid);
    res.outcome = Outcome::Parked;
    res.why = "waits for member " + *member_uid;
    return res;
  }
  // The id: the writer's (SetIdSource), else the table's next rowid (NULL).
  // A writer that is not open gives none: the set waits (parked) rather
  // than take a rowid the writer's counter may hand out again.
  const std::int64_t id = set_ids ? set_ids() : 0;
  if (set_ids && id <= 0) {
    park(db, "set", origin + "/set/" + std::to_string(origin_id), data, "the store's writer");
    res.outcome = Outcome::Parked;
    res.why = "waits for the store's writer";
    return res;
  }
  // The session: one row per session of the origin, done (never resumed here).
  std::optional<std::int64_t> session;
  if (const auto sid = text_at(db, data, "$.session.id")) {
    auto find =
        db.prepare("SELECT id FROM sessions WHERE origin_machine = ?1 AND origin_session_id = ?2");
    find.bind(1, origin).bind(2, static_cast<std::int64_t>(std::stoll(*sid)));
    if (find.step()) {
      session = find.int64(0);
      auto upd = db.prepare(
          "UPDATE sessions SET ended_ms = max(coalesce(ended_ms, 0), "
          "coalesce(json_extract(?2, '$.session.ended_ms'), json_extract(?2, '$.set.ended_ms'))) "
          "WHERE id = ?1");
      upd.bind(1, *session).bind(2, data);
      upd.run();
    } else {
      auto ins = db.prepare(R"sql(
INSERT INTO sessions (member_id, assignment_id, programme_id, started_ms, ended_ms, state,
  progressed, origin_machine, origin_session_id)
VALUES (?1, (SELECT id FROM assignments WHERE uid = json_extract(?2, '$.session.assignment')),
  (SELECT id FROM programmes WHERE uid = json_extract(?2, '$.session.programme')),
  json_extract(?2, '$.session.started_ms'),
  coalesce(json_extract(?2, '$.session.ended_ms'), json_extract(?2, '$.set.ended_ms')),
  'done', 1, ?3, ?4))sql");
      ins.bind(1, *member)
          .bind(2, data)
          .bind(3, origin)
          .bind(4, static_cast<std::int64_t>(std::stoll(*sid)));
      ins.run();
      session = db.last_insert_rowid();
    }
  }
  auto set = db.prepare(R"sql(
INSERT INTO sets (id, session_id, member_id, step_id, set_index, started_ms, ended_ms, mode, load_n,
  tempo, target_reps, hold_s, force_drop_pct, eccentric_pct, stop_reason, reps, partial_reps,
  tut_s, best_output, last_output, range_bottom_mm, range_top_mm, range_calibrated, range_note,
  range_age_days, origin_machine, origin_set_id)
SELECT ?6, ?1, ?2, (SELECT ps.id FROM programme_steps ps JOIN programmes p ON p.id = ps.programme_id
    WHERE p.uid = json_extract(?3, '$.programme')
      AND ps.position = json_extract(?3, '$.step_position')),
  json_extract(?3, '$.set.set_index'), json_extract(?3, '$.set.started_ms'),
  json_extract(?3, '$.set.ended_ms'), json_extract(?3, '$.set.mode'),
  json_extract(?3, '$.set.load_n'), coalesce(json_extract(?3, '$.set.tempo'), ''),
  json_extract(?3, '$.set.target_reps'), json_extract(?3, '$.set.hold_s'),
  json_extract(?3, '$.set.force_drop_pct'), json_extract(?3, '$.set.eccentric_pct'),
  json_extract(?3, '$.set.stop_reason'), coalesce(json_extract(?3, '$.set.reps'), 0),
  coalesce(json_extract(?3, '$.set.partial_reps'), 0), coalesce(json_extract(?3, '$.set.tut_s'), 0),
  json_extract(?3, '$.set.best_output'), json_extract(?3, '$.set.last_output'),
  json_extract(?3, '$.set.range_bottom_mm'), json_extract(?3, '$.set.range_top_mm'),
  coalesce(json_extract(?3, '$.set.range_calibrated'), 0), json_extract(?3, '$.set.range_note'),
  json_extract(?3, '$.set.range_age_days'), ?4, ?5)sql");
  set.bind(1, session).bind(2, *member).bind(3, data).bind(4, origin).bind(5, origin_id);
  if (id > 0) set.bind(6, id);
  else set.bind_null(6);
  set.run();
  const auto set_id = db.last_insert_rowid();
  auto reps = db.prepare(R"sql(
INSERT INTO reps (set_id, seq, n, partial, t_start_s, peak_force_n, mean_force_n, concentric_s,
  top_pause_s, eccentric_s, bottom_pause_s, rom_mm, rom_pct, mean_velocity_mm_s, smoothness,
  on_tempo, tempo_deviation_s, tut_s, reversals, wobbly)
SELECT ?1, json_extract(value, '$.seq'), json_extract(value, '$.n'),
  coalesce(json_extract(value, '$.partial'), 0), json_extract(value, '$.t_start_s'),
  json_extract(value, '$.peak_force_n'), json_extract(value, '$.mean_force_n'),
  json_extract(value, '$.concentric_s'), json_extract(value, '$.top_pause_s'),
  json_extract(value, '$.eccentric_s'), json_extract(value, '$.bottom_pause_s'),
  json_extract(value, '$.rom_mm'), json_extract(value, '$.rom_pct'),
  json_extract(value, '$.mean_velocity_mm_s'), json_extract(value, '$.smoothness'),
  json_extract(value, '$.on_tempo'), json_extract(value, '$.tempo_deviation_s'),
  json_extract(value, '$.tut_s'), coalesce(json_extract(value, '$.reversals'), 0),
  coalesce(json_extract(value, '$.wobbly'), 0)
FROM json_each(?2, '$.reps'))sql");
  reps.bind(1, set_id).bind(2, data);
  reps.run();
  res.outcome = Outcome::Applied;
  return res;
}

}  // namespace

void set_machine(Database& db, const std::string& machine) {
  Transaction tx(db);
  auto st = db.prepare("UPDATE fleet_state SET machine = ?1");
  st.bind(1, machine);
  st.run();
  auto claim = db.prepare("UPDATE fleet_records SET machine = ?1 WHERE machine = ''");
  claim.bind(1, machine);
  claim.run();
  tx.commit();
}

std::int64_t clock(Database& db) { return db.scalar_int("SELECT hlc FROM fleet_state"); }

std::optional<Record> local_record(Database& db, const std::string& kind, const std::string& uid) {
  auto st = db.prepare(
      "SELECT hlc, machine, base_hlc, base_machine, deleted FROM fleet_records "
      "WHERE kind = ?1 AND uid = ?2");
  st.bind(1, kind).bind(2, uid);
  if (!st.step()) return std::nullopt;
  Record r;
  r.kind = kind;
  r.uid = uid;
  r.hlc = st.int64(0);
  r.machine = st.text(1);
  r.base_hlc = st.opt_int64(2);
  r.base_machine = st.opt_text(3);
  r.deleted = st.int64(4) != 0;
  if (!r.deleted) {
    // A row gone without its own tombstone (deleted with an erased member
    // while a remote record was applied) is gone: published as a tombstone.
    if (auto data = render(db, kind, uid)) r.data = std::move(*data);
    else r.deleted = true;
  }
  return r;
}

std::vector<Record> pending_records(Database& db, std::size_t max) {
  std::vector<std::pair<std::string, std::string>> keys;
  {
    auto st = db.prepare(
        "SELECT kind, uid FROM fleet_records WHERE pending = 1 AND machine <> '' "
        "ORDER BY hlc LIMIT ?1");
    st.bind(1, static_cast<std::int64_t>(max));
    while (st.step()) keys.emplace_back(st.text(0), st.text(1));
  }
  std::vector<Record> out;
  for (const auto& [kind, uid] : keys)
    if (auto r = local_record(db, kind, uid)) {
      // Our own version, about to go out: its echo from the broker (which may
      // come after a newer version from another machine) is no news.
      seen(db, *r);
      out.push_back(std::move(*r));
    }
  return out;
}

void mark_published(Database& db, const std::string& kind, const std::string& uid,
                    std::int64_t hlc) {
  auto st =
      db.prepare("UPDATE fleet_records SET pending = 0 WHERE kind = ?1 AND uid = ?2 AND hlc = ?3");
  st.bind(1, kind).bind(2, uid).bind(3, hlc);
  st.run();
}

ApplyResult apply_record(Database& db, const Record& r, std::int64_t clock_after,
                         const SetIdSource& set_ids) {
  Transaction tx(db);
  ApplyResult res;
  if (seen(db, r)) {
    res.outcome = Outcome::Duplicate;
    return res;  // rolled back: nothing changed
  }
  set_applying(db, true);
  res = apply_in(db, r);
  if (res.outcome == Outcome::Applied) retry_parked(db, set_ids);
  if (res.outcome == Outcome::Parked) {
    // Not seen yet as far as retries go: the retry applies it from fleet_parked.
  }
  auto clk = db.prepare("UPDATE fleet_state SET hlc = max(hlc, ?1)");
  clk.bind(1, clock_after);
  clk.run();
  set_applying(db, false);
  if (res.outcome == Outcome::Refused) return res;  // rolled back
  tx.commit();
  return res;
}

std::optional<std::string> set_data(Database& db, std::int64_t set_id) {
  auto st = db.prepare(kSetData);
  st.bind(1, set_id);
  if (!st.step() || st.is_null(0)) return std::nullopt;
  return st.text(0);
}

std::vector<std::int64_t> own_sets_after(Database& db, std::int64_t after_id, std::size_t max) {
  auto st = db.prepare(
      "SELECT id FROM sets WHERE id > ?1 AND origin_machine IS NULL AND member_id IS NOT NULL "
      "AND ended_ms IS NOT NULL ORDER BY id LIMIT ?2");
  st.bind(1, after_id).bind(2, static_cast<std::int64_t>(max));
  std::vector<std::int64_t> ids;
  while (st.step()) ids.push_back(st.int64(0));
  return ids;
}

std::size_t retry_parked_records(Database& db, const SetIdSource& set_ids) {
  if (db.scalar_int("SELECT count(*) FROM fleet_parked") == 0) return 0;
  Transaction tx(db);
  set_applying(db, true);
  retry_parked(db, set_ids);
  set_applying(db, false);
  const auto left = static_cast<std::size_t>(db.scalar_int("SELECT count(*) FROM fleet_parked"));
  tx.commit();
  return left;
}

ApplyResult import_set(Database& db, const std::string& origin, std::int64_t origin_id,
                       const std::string& data, const SetIdSource& set_ids) {
  Transaction tx(db);
  set_applying(db, true);
  auto res = import_in(db, origin, origin_id, data, set_ids);
  set_applying(db, false);
  if (res.outcome == Outcome::Refused) return res;
  tx.commit();
  return res;
}

std::map<std::string, std::int64_t> peer_watermarks(Database& db) {
  std::map<std::string, std::int64_t> m;
  auto st = db.prepare("SELECT machine, caught_up_to FROM fleet_peers");
  while (st.step()) m[st.text(0)] = st.int64(1);
  return m;
}

void raise_peer_watermark(Database& db, const std::string& machine, std::int64_t upto) {
  auto st = db.prepare(
      "INSERT INTO fleet_peers (machine, caught_up_to) VALUES (?1, ?2) ON CONFLICT (machine) "
      "DO UPDATE SET caught_up_to = max(caught_up_to, excluded.caught_up_to)");
  st.bind(1, machine).bind(2, upto);
  st.run();
}

}  // namespace soleus::storage::shared

namespace soleus::storage::shared {

std::optional<std::string> json_get(Database& db, const std::string& json, const char* path) {
  auto st = db.prepare(
      "SELECT CASE json_type(?1, ?2) WHEN 'object' THEN json_extract(?1, ?2) "
      "WHEN 'array' THEN json_extract(?1, ?2) ELSE json_extract(?1, ?2) END");
  st.bind(1, json).bind(2, path);
  if (!st.step() || st.is_null(0)) return std::nullopt;
  return st.text(0);
}

std::string json_put(Database& db, const std::string& json, const char* path,
                     const std::optional<std::string>& value) {
  auto st = db.prepare("SELECT json_set(?1, ?2, ?3)");
  st.bind(1, json).bind(2, path).bind(3, value);
  st.step();
  return st.text(0);
}

}  // namespace soleus::storage::shared
