#pragma once
/// Members, programmes and the audit trail: the synchronous changes staff and
/// members make through the API (not the control loop's stream, which goes
/// through the Writer). Each change and its audit rows commit in one
/// transaction, so there is never a change without its record of who made it.
/// Also a member's data export (as rows) and erasure on request.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"
#include "soleus/storage/progression.hpp"
#include "soleus/storage/queries.hpp"

namespace soleus::storage {

/// Who makes a change (the audit trail's "who").
struct Actor {
  std::string role = "system";     ///< member | staff | maintenance | system
  std::optional<std::int64_t> id;  ///< member or staff id when known
};

struct MemberRow {
  std::int64_t id = 0;
  std::string number;
  std::string name;
  std::optional<std::string> pin_hash;
  std::optional<double> rom_bottom_mm, rom_top_mm;
  std::optional<std::int64_t> rom_measured_ms;
  std::optional<double> assessed_max_n;
  std::optional<std::int64_t> assessed_ms;
  std::int64_t created_ms = 0, updated_ms = 0;
  std::optional<std::string> assessed_method;          ///< isometric | submaximal | manual
  std::optional<std::int64_t> assessment_assigned_ms;  ///< staff assigned an assessment (pending)
};

/// A change to a member: only the fields that are set change. For the
/// nullable columns, an inner nullopt clears the value.
struct MemberUpdate {
  std::optional<std::string> name;
  std::optional<std::optional<std::string>> pin_hash;
  std::optional<std::optional<double>> rom_bottom_mm, rom_top_mm;  ///< both or neither
  std::optional<std::optional<double>> assessed_max_n;
};

/// Creates a member (audited as entity "member", field "*"). Throws SqliteError
/// (SQLITE_CONSTRAINT for a duplicate number or bad values).
std::int64_t add_member(Database& db, const std::string& number, const std::string& name,
                        const Actor& who);
/// Applies `u`, writing one audit row per field whose value changes (a PIN
/// hash is shown as "(set)" / null, never the hash). False if no such member.
bool update_member(Database& db, std::int64_t id, const MemberUpdate& u, const Actor& who);
std::optional<MemberRow> get_member(Database& db, std::int64_t id);
std::optional<MemberRow> find_member_by_number(Database& db, const std::string& number);
/// Every member, by number.
std::vector<MemberRow> list_members(Database& db);
/// Gives the member another number (audited as field "number", old → new), in
/// one transaction. False if no such member. Throws SqliteError
/// (SQLITE_CONSTRAINT when the number is taken).
bool set_member_number(Database& db, std::int64_t id, const std::string& number, const Actor& who);

/// One step of a programme (see programme_steps in the schema).
struct StepSpec {
  std::string mode = "isotonic";
  int sets = 3;
  std::optional<int> target_reps = 12;
  std::optional<double> hold_s;
  std::optional<double> load_n;
  std::optional<double> load_pct_max;
  std::string tempo = "3-1-3-1";
  double rest_s = 90;
  double force_drop_pct = 20;
  double eccentric_pct = 0;
  std::string progress_when = "never";  ///< never | all_sets_target | all_sets_target_on_tempo
  double progress_load_pct = 0;         ///< e.g. 5 (rule load_pct; kept for schema 1-2 readers)
  std::string progress_rule = "none";   ///< none | load_n | load_pct | reps | hold_s
  double progress_amount = 0;           ///< N, %, reps or s per successful session
  std::optional<int> rep_min, rep_max;  ///< double progression's rep range (schema 4)
  bool progress_double = false;         ///< double progression; progress_rule is its increment
};

struct ProgrammeSpec {
  std::string name;
  std::string notes;
  int sessions_per_week = 2;
  std::optional<int> block_weeks;                    ///< e.g. 6
  std::optional<int> after_block_sessions_per_week;  ///< e.g. 3
  bool block_every_other_day = false;                ///< the block plans every other day
  std::vector<StepSpec> steps;
};

/// Creates a programme and its steps in one transaction (audited). Throws
/// SqliteError with SQLITE_CONSTRAINT when a step breaks the schema's rules.
std::int64_t add_programme(Database& db, const ProgrammeSpec& p, const Actor& who);
/// Inserts `steps` as the programme's steps first_position+1.. (no transaction of its own).
void insert_steps(Database& db, std::int64_t programme_id, const std::vector<StepSpec>& steps,
                  int first_position = 0);
/// Makes `steps` the programme's steps, keeping the row (and id) of each
/// position that remains, so that members' progression and open sessions
/// still refer to them; extra positions are added, missing ones deleted.
void replace_steps(Database& db, std::int64_t programme_id, const std::vector<StepSpec>& steps);
/// Ends the member's current assignment (if any) and starts a new one (audited).
std::int64_t assign_programme(Database& db, std::int64_t member_id, std::int64_t programme_id,
                              std::int64_t start_ms, const Actor& who);

struct AuditRow {
  std::int64_t id = 0;
  std::int64_t t_ms = 0;
  std::string actor_role;
  std::optional<std::int64_t> actor_id;
  std::string entity;
  std::optional<std::int64_t> entity_id;
  std::string field;
  std::optional<std::string> before, after;
};

/// The audit row in a statement's columns 0–8, in the table's order: id, t_ms,
/// actor_role, actor_id, entity, entity_id, field, before, after.
AuditRow read_audit_row(Statement& st);

/// Appends one audit row (for changes made elsewhere, e.g. limits or calibration).
void record_audit(Database& db, const Actor& who, std::string_view entity,
                  std::optional<std::int64_t> entity_id, std::string_view field,
                  const std::optional<std::string>& before,
                  const std::optional<std::string>& after);
/// Newest first; entity empty = every entity.
std::vector<AuditRow> query_audit(Database& db, std::string_view entity = {},
                                  std::optional<std::int64_t> entity_id = {}, int limit = 100);

/// A programme assignment of the export.
struct AssignmentRow {
  std::int64_t id = 0;
  std::int64_t programme_id = 0;
  std::string programme;  ///< its name
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> ended_ms;
};

/// A programme session of the export.
struct SessionSummaryRow {
  std::int64_t id = 0;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> ended_ms;
  std::string state;
};

/// One set of the export with every rep attempt (partials too) and, when
/// asked, its trace.
struct ExportSet {
  SetRow set;
  std::vector<RepRow> reps;
  std::vector<TracePoint> trace;  ///< empty unless include_traces
};

/// Everything stored about one member, as rows (rendered in app/:
/// views_from_storage.cpp). The PIN hash is not part of it: has_pin says
/// whether there is one.
struct MemberExport {
  MemberRow member;  ///< pin_hash cleared
  bool has_pin = false;
  std::vector<AssignmentRow> assignments;
  std::vector<SessionSummaryRow> sessions;
  std::vector<ExportSet> sets;     ///< oldest first
  std::vector<ChangeRow> changes;  ///< the programme rules' change log, oldest first (schema 4)
  std::optional<FlagRow> flag;     ///< flagged for staff (a PAIN stop), if so
  std::int64_t exported_ms = 0;
};
/// nullopt when there is no such member.
std::optional<MemberExport> export_member(Database& db, std::int64_t member_id,
                                          bool include_traces = false);

struct EraseResult {
  bool found = false;
  std::int64_t sets = 0, reps = 0, sessions = 0, traces = 0;
};
/// Erases a member and everything of theirs (assignments, sessions, sets,
/// reps, traces) in one transaction, and records the erasure in the audit
/// trail: who, when, which member id, and how many rows, but none of the
/// erased personal data. Events (the machine's log) are kept; they hold no
/// personal data.
EraseResult erase_member(Database& db, std::int64_t member_id, const Actor& who);

}  // namespace soleus::storage
