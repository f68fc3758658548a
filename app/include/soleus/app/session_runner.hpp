#pragma once
/// The programme-session runner: walks a logged-in member through the steps
/// and sets of their assigned programme, resolves loads given as % of the
/// assessed max, times the rest between sets, records the session and applies
/// each step's progression rule when the session ends.
///
/// The orchestration only: the rules (prescription, position, progression,
/// the block rule) are the pure functions of soleus_programme
/// (programme/include/soleus/programme/rules.hpp, re-exported below), and
/// every statement on the database is storage's (soleus/storage/sessions.hpp,
/// programmes.hpp). This maps storage's rows to the rules' types and back.
///
/// Principle of operation:
///  1. The database is the runner's only state. A session row is opened
///     (committed) before its first set; each set row carries the session,
///     the step and its 1-based index within the step. The runner's position
///     is derived from those rows every time it is asked: the first step with
///     fewer sets than prescribed, at the next index. So a crash, a restart or
///     a fault cannot make it repeat or skip a set: a set that began counts as
///     done, whatever ended it, and its stop reason is kept.
///  2. Nothing here starts a set. The caller (DaemonBackend) starts one only
///     on the member's press of Start (POST /session/next), through the same
///     checks as any set; the runner refuses while the rest between sets runs
///     or when the session is complete.
///  3. Rest is timed from the previous set's end (wall clock, from the set
///     row), so it survives a restart of the daemon too.
///  4. Progression: when a session ends, each step whose rule's condition
///     held (every prescribed set reached its target: target_reached or
///     hold_complete, and with `on tempo` every counted rep on tempo) earns
///     one level: load_n adds N, load_pct multiplies the load by (1 + x %),
///     reps adds reps, hold_s adds seconds, from the next session on. The
///     session row's `progressed` flag makes it happen once per session.
///     Issue 13: the decision is programme::decide() (double progression, a
///     PAIN stop changes nothing and flags the member); every step's change,
///     or the reason for none, goes to the change log (progression_log) once
///     per session, when it is complete or had a PAIN stop.
///  5. A session left open (the member walked away, the machine restarted)
///     closes itself after `idle_close_ms` without a set: as done (with
///     progression) when every set was performed, else as aborted.
#include <cstdint>
#include <optional>
#include <vector>

#include <boost/json.hpp>

#include "soleus/programme/rules.hpp"
#include "soleus/programme/schedule.hpp"
#include "soleus/storage/database.hpp"

namespace soleus::app::runner {

// The rules and their types, as the runner's callers have always named them.
using programme::complete;
using programme::judge;
using programme::locate;
using programme::Plan;
using programme::Position;
using programme::prescribe;
using programme::Prescription;
using programme::sessions_per_week;
using programme::SetDone;
using programme::Step;
using programme::StepOutcome;

// ---- database ---------------------------------------------------------------------------

/// The member's current assignment and programme; nullopt when none.
std::optional<Plan> load_plan(storage::Database& db, std::int64_t member_id);

struct OpenSession {
  std::int64_t id = 0;
  std::int64_t started_ms = 0;
  std::int64_t programme_id = 0;
};
/// The member's open session, if any.
std::optional<OpenSession> find_open(storage::Database& db, std::int64_t member_id);
/// Opens a session (committed on return).
std::int64_t open_session(storage::Database& db, const Plan& plan, std::int64_t now_ms);
/// The sets of a session, in order.
std::vector<SetDone> session_sets(storage::Database& db, std::int64_t session_id);
/// Closes the session: state done (complete) or aborted, applies progression
/// once when complete, stores and returns the summary. One transaction.
boost::json::object close_session(storage::Database& db, std::int64_t session_id, const Plan& plan,
                                  std::int64_t now_ms, const char* why);

/// The schedule's input for the plan's assignment: its frequency fields, the
/// member's latest assessment and the sessions attended (at least one set).
programme::ScheduleInput schedule_input(storage::Database& db, const Plan& plan);

}  // namespace soleus::app::runner
