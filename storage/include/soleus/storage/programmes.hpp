#pragma once
/// Programmes and their steps as the API and the session runner read them,
/// the staff's field-by-field changes, archiving, and a member's current
/// assignment. (Creating programmes, replacing their steps and assigning them
/// are in members.hpp, with the audit trail they share.)
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "soleus/storage/database.hpp"
#include "soleus/storage/members.hpp"

namespace soleus::storage {

/// A programme row (table programmes), without its steps.
struct ProgrammeRow {
  std::int64_t id = 0;
  std::string name;
  std::string notes;
  int sessions_per_week = 2;
  std::optional<int> block_weeks;
  std::optional<int> after_block_sessions_per_week;
  bool block_every_other_day = false;
};

/// A step row (table programme_steps), with the progression level an
/// assignment earned on it (step_progress; 0 when read without one).
struct StepRow {
  std::int64_t id = 0;
  int position = 0;
  std::string mode;
  int sets = 1;
  std::optional<int> target_reps;
  std::optional<double> hold_s;
  std::optional<double> load_n;
  std::optional<double> load_pct_max;
  std::string tempo;
  double rest_s = 90;
  double force_drop_pct = 20;
  double eccentric_pct = 0;
  std::string progress_when = "never";
  double progress_load_pct = 0;
  std::string progress_rule = "none";
  double progress_amount = 0;
  int level = 0;
  std::optional<int> rep_min, rep_max;  ///< double progression's rep range
  bool progress_double = false;         ///< progress_rule is then the load increment's kind
  std::optional<int> target;            ///< the assignment's current target (double), if any
};

/// The programme, unless there is none or it is archived.
std::optional<ProgrammeRow> get_programme(Database& db, std::int64_t id);
/// The programmes that are not archived, by name then id.
std::vector<ProgrammeRow> list_programmes(Database& db);
/// The programme's steps by position; with `assignment_id`, each step's level
/// earned in that assignment.
std::vector<StepRow> programme_steps(Database& db, std::int64_t programme_id,
                                     std::optional<std::int64_t> assignment_id = std::nullopt);

/// The programme fields staff change one by one.
enum class ProgrammeField {
  Name,
  Notes,
  SessionsPerWeek,
  BlockWeeks,
  AfterBlockSessionsPerWeek,
  BlockEveryOtherDay
};
/// A field's new value: null, text or an integer.
using FieldValue = std::variant<std::monostate, std::string, std::int64_t>;
/// Sets one field and updated_ms (no transaction of its own, no audit row:
/// the caller records what it shows as before and after).
void set_programme_field(Database& db, std::int64_t programme_id, ProgrammeField field,
                         const FieldValue& value, std::int64_t now_ms);
/// Archives the programme and ends every current assignment to it, in one
/// transaction, audited (field "archived", 0 → 1).
void archive_programme(Database& db, std::int64_t programme_id, std::int64_t now_ms,
                       const Actor& who);

/// The programme of the member's current assignment (the latest one not
/// ended), archived or not; nullopt when none.
std::optional<std::int64_t> current_programme_id(Database& db, std::int64_t member_id);
/// Ends the member's current assignment, if any, in one transaction, audited
/// (entity "member", field "programme", the programme id → null).
void end_assignment(Database& db, std::int64_t member_id, std::int64_t now_ms, const Actor& who);

}  // namespace soleus::storage
