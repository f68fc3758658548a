#pragma once
/// Programme sessions as the session runner keeps them (app/'s
/// session_runner.hpp holds the principle): the member's active assignment
/// with its programme, the open session, the sets performed in a session,
/// progression levels and the closing of a session. The database is the
/// runner's only state; these are its reads and writes.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"

namespace soleus::storage {

/// The member's current assignment, its programme (not archived) and the
/// member's assessed max.
struct ActiveAssignmentRow {
  std::int64_t assignment_id = 0;
  std::int64_t started_ms = 0;
  std::int64_t programme_id = 0;
  std::string programme_name;
  int sessions_per_week = 2;
  std::optional<int> block_weeks;
  std::optional<int> after_block_sessions_per_week;
  std::optional<double> assessed_max_n;
  bool block_every_other_day = false;
  std::optional<std::int64_t> assessed_ms;
};
/// nullopt when the member has no current assignment to a programme that is not archived.
std::optional<ActiveAssignmentRow> active_assignment(Database& db, std::int64_t member_id);

/// A session row (table sessions).
struct SessionRow {
  std::int64_t id = 0;
  std::int64_t started_ms = 0;
  std::int64_t programme_id = 0;       ///< 0: none recorded
  std::string state;                   ///< open | done | aborted
  bool progressed = false;             ///< the progression was applied (once)
  std::optional<std::string> summary;  ///< JSON text, when closed by the runner
};
/// The member's open session (the latest, if several).
std::optional<SessionRow> find_open_session(Database& db, std::int64_t member_id);
std::optional<SessionRow> get_session(Database& db, std::int64_t session_id);
/// Inserts an open session; returns its id.
std::int64_t insert_session(Database& db, std::int64_t member_id, std::int64_t assignment_id,
                            std::int64_t programme_id, std::int64_t started_ms);
/// Closes a session: its state, end, progressed flag and summary (JSON text).
void finish_session(Database& db, std::int64_t session_id, const std::string& state,
                    std::int64_t ended_ms, bool progressed, const std::string& summary);

/// A set performed in a session.
struct SessionSetRow {
  std::int64_t set_id = 0;
  std::int64_t step_id = 0;  ///< 0: none (the step was deleted since)
  int set_index = 0;         ///< 0: none
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> ended_ms;
  std::optional<std::string> stop_reason;
  int reps = 0;
  bool all_on_tempo = true;  ///< no counted rep off tempo
};
/// The session's sets by start time, then id.
std::vector<SessionSetRow> sets_of_session(Database& db, std::int64_t session_id);

/// One more progression level for the step in the assignment: level + 1 and
/// the stored load factor multiplied by `load_factor` (a first level starts
/// at level 1, factor `load_factor`).
void add_progress_level(Database& db, std::int64_t assignment_id, std::int64_t step_id,
                        double load_factor, std::int64_t now_ms);

}  // namespace soleus::storage
