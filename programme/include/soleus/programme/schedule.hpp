#pragma once
/// The block rule as a schedule (issue 13 §2), a pure function of the
/// assignment, the programme's frequency fields, the days the member trained
/// and "now": the phase (block or maintenance), the block's week, the next
/// session due, this week's count against plan, adherence per week since the
/// assignment started, the consecutive-day note and whether a reassessment is
/// due. No SQL, no JSON: app/ reads the store into ScheduleInput.
///
/// Calendar (docs/programmes.md, "The schedule"):
///  - Days are UTC calendar days. Week 1 is the assignment's first day and
///    the 6 days after it; week k starts 7 (k-1) days later.
///  - With `block_weeks`, weeks 1..block_weeks are the block; after it comes
///    maintenance, at after_block_sessions_per_week (sessions_per_week when
///    that is not set). Without `block_weeks` there is no block: phase null,
///    sessions_per_week throughout.
///  - In the block, `block_every_other_day` plans a session every other day
///    from the first day (4 sessions in odd weeks, 3 in even ones: 3.5 a
///    week); otherwise sessions_per_week.
///  - A session counts as done on the day it started when at least one set
///    was performed in it (ScheduleInput::session_days holds those).
///  - Next due: every other day in the block (2 days after the latest
///    session); otherwise every 7 / N days (rounded down, at least 1), moved
///    to the next week's first day when this week's plan is met. Never
///    before today; after today when the member trained today.
///  - Reassessment due: at the end of each block of block_weeks (the block,
///    then each maintenance period of the same length), when now is past
///    that end and the latest assessment is older than it, or missing.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace soleus::programme {

inline constexpr std::int64_t kDayMs = 86'400'000;

struct ScheduleInput {
  std::int64_t assignment_started_ms = 0;
  int sessions_per_week = 2;
  std::optional<int> block_weeks;
  std::optional<int> after_block_sessions_per_week;
  bool block_every_other_day = false;
  /// Start times (Unix ms) of the assignment's sessions with at least one set.
  std::vector<std::int64_t> session_starts_ms;
  /// The member's latest assessment (members.assessed_ms); nullopt: none.
  std::optional<std::int64_t> assessed_ms;
};

struct WeekCount {
  std::int64_t week_start_ms = 0;  ///< UTC midnight of the week's first day
  int planned = 0;
  int done = 0;
};

struct Schedule {
  std::optional<std::string> phase;  ///< "block" | "maintenance"; nullopt without a block
  std::optional<int> block_week;     ///< 1-based week of the block; nullopt in maintenance
  std::optional<int> block_weeks;
  double sessions_per_week = 0;  ///< planned now: 3.5 for every other day
  std::int64_t next_due_ms = 0;  ///< UTC midnight of the day the next session is due
  WeekCount this_week;
  std::vector<WeekCount> adherence;  ///< week 1 first, up to this week
  bool consecutive_day_note = false;
  bool reassessment_due = false;
  /// The block end the reassessment is (or next falls) due at; nullopt without a block.
  std::optional<std::int64_t> reassessment_due_ms;
};

/// Sessions planned in week `week` (0-based from the assignment's first day).
int planned_in_week(const ScheduleInput& in, std::int64_t week);

Schedule schedule(const ScheduleInput& in, std::int64_t now_ms);

/// Just whether a reassessment is due (the members list asks this per member).
bool reassessment_due(const ScheduleInput& in, std::int64_t now_ms);

}  // namespace soleus::programme
