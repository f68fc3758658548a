// The block rule as a schedule (programme::schedule) on fake dates: every
// other day for a 6-week block, then 3 a week; next due, this week's count,
// the block's week, adherence per week, the consecutive-day note and the
// reassessment due at each block's end.
#include <doctest/doctest.h>

#include "soleus/programme/schedule.hpp"

using namespace soleus::programme;

namespace {

constexpr std::int64_t kDay0 = 20'000;                           // 2024-10-04, a UTC day number
constexpr std::int64_t kStart = kDay0 * kDayMs + 9 * 3'600'000;  // assigned at 09:00 UTC

std::int64_t at(std::int64_t day, int hour = 10) {
  return (kDay0 + day) * kDayMs + hour * 3'600'000;
}
std::int64_t midnight(std::int64_t day) { return (kDay0 + day) * kDayMs; }

ScheduleInput standard() {
  ScheduleInput in;
  in.assignment_started_ms = kStart;
  in.sessions_per_week = 3;
  in.block_weeks = 6;
  in.after_block_sessions_per_week = 3;
  in.block_every_other_day = true;
  in.assessed_ms = kStart - kDayMs;  // assessed the day before
  return in;
}

}  // namespace

TEST_CASE("schedule: the first day of the block") {
  const Schedule s = schedule(standard(), kStart + 60'000);
  CHECK(s.phase == "block");
  CHECK(s.block_week == 1);
  CHECK(s.block_weeks == 6);
  CHECK(s.sessions_per_week == doctest::Approx(3.5));
  CHECK(s.next_due_ms == midnight(0));  // due today
  CHECK(s.this_week.planned == 4);
  CHECK(s.this_week.done == 0);
  REQUIRE(s.adherence.size() == 1);
  CHECK(s.adherence[0].week_start_ms == midnight(0));
  CHECK_FALSE(s.consecutive_day_note);
  CHECK_FALSE(s.reassessment_due);
  CHECK(s.reassessment_due_ms == midnight(42));
}

TEST_CASE("schedule: every other day through a 6-week block, into maintenance") {
  ScheduleInput in = standard();
  // The member follows the plan exactly: days 0, 2, 4, … 40.
  for (std::int64_t d = 0; d < 42; d += 2) {
    const Schedule before = schedule(in, at(d, 8));
    CHECK(before.next_due_ms == midnight(d));  // due today
    in.session_starts_ms.push_back(at(d));
    const Schedule after = schedule(in, at(d, 12));
    CHECK(after.next_due_ms == midnight(d + 2));
    CHECK(after.phase == "block");
    CHECK(after.block_week == d / 7 + 1);
    CHECK_FALSE(after.consecutive_day_note);
  }
  // Weeks alternate 4 and 3 planned sessions; every one was done.
  const Schedule end = schedule(in, at(41, 20));
  REQUIRE(end.adherence.size() == 6);
  for (std::size_t w = 0; w < 6; ++w) {
    CHECK(end.adherence[w].planned == (w % 2 == 0 ? 4 : 3));
    CHECK(end.adherence[w].done == end.adherence[w].planned);
    CHECK(end.adherence[w].week_start_ms == midnight(static_cast<std::int64_t>(w) * 7));
  }
  CHECK_FALSE(end.reassessment_due);
  // Day 42: maintenance, 3 a week, reassessment due (assessed before the block's end).
  const Schedule m = schedule(in, at(42));
  CHECK(m.phase == "maintenance");
  CHECK_FALSE(m.block_week);
  CHECK(m.sessions_per_week == doctest::Approx(3));
  CHECK(m.this_week.planned == 3);
  CHECK(m.this_week.done == 0);
  CHECK(m.adherence.size() == 7);
  CHECK(m.next_due_ms == midnight(42));
  CHECK(m.reassessment_due);
  CHECK(m.reassessment_due_ms == midnight(42));
  // Maintenance: every 2 days (7 / 3), and once 3 are done the next week's first day.
  in.session_starts_ms.push_back(at(42));
  CHECK(schedule(in, at(42, 12)).next_due_ms == midnight(44));
  in.session_starts_ms.push_back(at(44));
  in.session_starts_ms.push_back(at(46));
  const Schedule full = schedule(in, at(46, 12));
  CHECK(full.this_week.done == 3);
  CHECK(full.next_due_ms == midnight(49));
  // Training on consecutive days in maintenance: no note.
  in.session_starts_ms.push_back(at(47));
  CHECK_FALSE(schedule(in, at(47, 12)).consecutive_day_note);
}

TEST_CASE("schedule: missed sessions are due today, and adherence counts what was done") {
  ScheduleInput in = standard();
  in.session_starts_ms = {at(0), at(4)};  // missed day 2
  const Schedule s = schedule(in, at(10));
  CHECK(s.next_due_ms == midnight(10));  // overdue since day 6: due today, not in the past
  REQUIRE(s.adherence.size() == 2);
  CHECK(s.adherence[0].planned == 4);
  CHECK(s.adherence[0].done == 2);
  CHECK(s.adherence[1].planned == 3);
  CHECK(s.adherence[1].done == 0);
  CHECK(s.this_week.done == 0);
  CHECK(s.block_week == 2);
  // Two sessions the same day count twice in the week, and the next is 2 days on.
  in.session_starts_ms.push_back(at(10, 8));
  in.session_starts_ms.push_back(at(10, 18));
  const Schedule twice = schedule(in, at(10, 19));
  CHECK(twice.this_week.done == 2);
  CHECK(twice.next_due_ms == midnight(12));
}

TEST_CASE("schedule: consecutive days in the first block give a gentle note, recently only") {
  ScheduleInput in = standard();
  in.session_starts_ms = {at(2), at(3)};
  CHECK(schedule(in, at(3, 12)).consecutive_day_note);
  CHECK(schedule(in, at(4, 12)).consecutive_day_note);  // yesterday and the day before
  CHECK_FALSE(schedule(in, at(5, 12)).consecutive_day_note);
  in.session_starts_ms = {at(1), at(3)};
  CHECK_FALSE(schedule(in, at(3, 12)).consecutive_day_note);
  // Next due after a consecutive day: 2 days after the latest.
  in.session_starts_ms = {at(2), at(3)};
  CHECK(schedule(in, at(3, 12)).next_due_ms == midnight(5));
}

TEST_CASE("schedule: reassessment due at the end of each block until an assessment after it") {
  ScheduleInput in = standard();
  CHECK_FALSE(reassessment_due(in, midnight(42) - 1));
  CHECK(reassessment_due(in, midnight(42)));
  in.assessed_ms.reset();  // never assessed: due as well
  CHECK(reassessment_due(in, midnight(43)));
  in.assessed_ms = midnight(43) + 5;  // reassessed on day 43
  Schedule s = schedule(in, at(50));
  CHECK_FALSE(s.reassessment_due);
  CHECK(s.reassessment_due_ms == midnight(84));  // the end of the next 6 weeks
  s = schedule(in, at(84));
  CHECK(s.reassessment_due);
  CHECK(s.reassessment_due_ms == midnight(84));
}

TEST_CASE("schedule: sessions per week without the every-other-day rule, and without a block") {
  ScheduleInput in = standard();
  in.block_every_other_day = false;
  in.sessions_per_week = 2;
  in.session_starts_ms = {at(0)};
  Schedule s = schedule(in, at(0, 12));
  CHECK(s.sessions_per_week == doctest::Approx(2));
  CHECK(s.this_week.planned == 2);
  CHECK(s.next_due_ms == midnight(3));  // every 7 / 2 = 3 days
  in.session_starts_ms.push_back(at(3));
  CHECK(schedule(in, at(3, 12)).next_due_ms == midnight(7));  // plan met: next week
  ScheduleInput none = in;
  none.block_weeks.reset();
  s = schedule(none, at(100));
  CHECK_FALSE(s.phase);
  CHECK_FALSE(s.block_week);
  CHECK_FALSE(s.reassessment_due);
  CHECK_FALSE(s.reassessment_due_ms);
  CHECK(s.adherence.size() == 15);
  CHECK(planned_in_week(none, 0) == 2);
}
