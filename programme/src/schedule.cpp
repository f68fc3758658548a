#include "soleus/programme/schedule.hpp"

#include <algorithm>
#include <set>

namespace soleus::programme {

namespace {

std::int64_t day_of(std::int64_t ms) {
  return ms >= 0 ? ms / kDayMs : -((-ms + kDayMs - 1) / kDayMs);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

bool in_block(const ScheduleInput& in, std::int64_t week) {
  return in.block_weeks && week < *in.block_weeks;
}

int per_week_after(const ScheduleInput& in) {
  return in.block_weeks ? in.after_block_sessions_per_week.value_or(in.sessions_per_week)
                        : in.sessions_per_week;
}

}  // namespace

int planned_in_week(const ScheduleInput& in, std::int64_t week) {
  if (week < 0) return 0;
  if (in_block(in, week))
    return in.block_every_other_day ? (week % 2 == 0 ? 4 : 3) : in.sessions_per_week;
  return per_week_after(in);
}

bool reassessment_due(const ScheduleInput& in, std::int64_t now_ms) {
  return schedule(in, now_ms).reassessment_due;
}

Schedule schedule(const ScheduleInput& in, std::int64_t now_ms) {
  Schedule s;
  const std::int64_t day0 = day_of(in.assignment_started_ms);
  const std::int64_t today = day_of(now_ms);
  const std::int64_t week_now = std::max<std::int64_t>(0, floor_div(today - day0, 7));
  std::set<std::int64_t> days;  // days trained
  for (const auto t : in.session_starts_ms) days.insert(day_of(t));

  // Phase, week, frequency.
  s.block_weeks = in.block_weeks;
  if (in.block_weeks) {
    if (in_block(in, week_now)) {
      s.phase = "block";
      s.block_week = static_cast<int>(week_now + 1);
    } else {
      s.phase = "maintenance";
    }
  }
  if (in_block(in, week_now) && in.block_every_other_day) s.sessions_per_week = 3.5;
  else s.sessions_per_week = planned_in_week(in, week_now);

  // Adherence: every week from the first to this one.
  for (std::int64_t w = 0; w <= week_now; ++w) {
    WeekCount c;
    c.week_start_ms = (day0 + 7 * w) * kDayMs;
    c.planned = planned_in_week(in, w);
    for (const auto t : in.session_starts_ms) {
      const std::int64_t d = day_of(t);
      if (d >= day0 + 7 * w && d < day0 + 7 * (w + 1)) ++c.done;
    }
    s.adherence.push_back(c);
  }
  s.this_week = s.adherence.back();

  // Next due.
  const bool trained_today = days.count(today) > 0;
  const bool any = !days.empty();
  const std::int64_t last = any ? *days.rbegin() : day0;
  const std::int64_t earliest = std::max(day0, trained_today ? today + 1 : today);
  auto week_of = [&](std::int64_t d) { return floor_div(d - day0, 7); };
  auto done_in_week = [&](std::int64_t w) {
    int n = 0;
    for (const auto t : in.session_starts_ms)
      if (week_of(day_of(t)) == w) ++n;
    return n;
  };
  std::int64_t due = earliest;
  if (any) {
    const std::int64_t w_last = week_of(last);
    if (in_block(in, w_last) && in.block_every_other_day) {
      due = last + 2;
    } else {
      const int n = std::max(1, planned_in_week(in, w_last));
      due = last + std::max<std::int64_t>(1, 7 / n);
    }
  }
  due = std::max(due, earliest);
  // A week whose plan is met: the next week's first day (a few weeks at most).
  for (int guard = 0; guard < 8; ++guard) {
    const std::int64_t w = week_of(due);
    if (in_block(in, w) && in.block_every_other_day) break;  // the grid of days decides
    const int planned = planned_in_week(in, w);
    if (planned <= 0 || done_in_week(w) < planned) break;
    due = day0 + 7 * (w + 1);
  }
  s.next_due_ms = due * kDayMs;

  // Consecutive days in the first block: the latest session's day and the
  // day before, recently (the latest is today or yesterday).
  if (any && last >= today - 1 && in_block(in, week_of(last)) && days.count(last - 1))
    s.consecutive_day_note = true;

  // Reassessment: the ends of blocks of block_weeks.
  if (in.block_weeks) {
    const std::int64_t len_ms = static_cast<std::int64_t>(*in.block_weeks) * 7 * kDayMs;
    const std::int64_t start_ms = day0 * kDayMs;
    const std::int64_t passed = now_ms >= start_ms ? (now_ms - start_ms) / len_ms : 0;
    if (passed >= 1) {
      const std::int64_t end_ms = start_ms + passed * len_ms;
      if (!in.assessed_ms || *in.assessed_ms < end_ms) {
        s.reassessment_due = true;
        s.reassessment_due_ms = end_ms;
      }
    }
    if (!s.reassessment_due) s.reassessment_due_ms = start_ms + (passed + 1) * len_ms;
  }
  return s;
}

}  // namespace soleus::programme
