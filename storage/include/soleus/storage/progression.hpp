#pragma once
/// What the programme rules change and what the schedule reads (schema 4,
/// issue 13 §2): a double-progression step's current target per assignment,
/// the change log (every change a rule made, or did not, with its reason),
/// the member's flag for staff (a PAIN stop), and the days an assignment's
/// sessions were attended (adherence is derived from them).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"

namespace soleus::storage {

/// Sets the assignment's current target of a step (upsert into step_progress).
void set_step_target(Database& db, std::int64_t assignment_id, std::int64_t step_id,
                     std::optional<int> target, std::int64_t now_ms);

/// A row of progression_log.
struct ChangeRow {
  std::int64_t id = 0;
  std::int64_t t_ms = 0;
  std::int64_t member_id = 0;
  std::optional<std::int64_t> assignment_id, session_id, step_id;
  std::string change;  ///< load_up | target_up | reps_up | hold_up | none | pain
  int level_before = 0, level_after = 0;
  std::optional<int> target_before, target_after;
  std::string reason;
};
/// Appends a change (no transaction of its own).
void insert_change(Database& db, const ChangeRow& c);
/// The member's changes, newest first.
std::vector<ChangeRow> member_changes(Database& db, std::int64_t member_id, int limit = 100);

/// A member's flag for staff.
struct FlagRow {
  std::string reason;  ///< "pain"
  std::int64_t t_ms = 0;
  std::optional<std::int64_t> session_id;
};
/// Flags the member (the latest reason and time win).
void flag_member(Database& db, std::int64_t member_id, const std::string& reason, std::int64_t t_ms,
                 std::optional<std::int64_t> session_id);
/// Clears the flag; false when there was none.
bool clear_member_flag(Database& db, std::int64_t member_id);
std::optional<FlagRow> member_flag(Database& db, std::int64_t member_id);

/// Start times of the assignment's sessions in which at least one set was
/// performed, oldest first: the schedule's "done".
std::vector<std::int64_t> attended_session_starts(Database& db, std::int64_t assignment_id);

}  // namespace soleus::storage
