#pragma once
/// The programme-session runner: walks a logged-in member through the steps
/// and sets of their assigned programme, resolves loads given as % of the
/// assessed max, times the rest between sets, records the session and applies
/// each step's progression rule when the session ends.
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
///  5. A session left open (the member walked away, the machine restarted)
///     closes itself after `idle_close_ms` without a set: as done (with
///     progression) when every set was performed, else as aborted.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "soleus/storage/database.hpp"

namespace soleus::app::runner {

/// One programme step with the member's progression state.
struct Step {
  std::int64_t id = 0;
  int position = 0;
  std::string mode;
  int sets = 1;
  std::optional<int> target_reps;
  std::optional<double> hold_s;
  std::optional<double> load_n;    ///< newtons ...
  std::optional<double> load_pct;  ///< ... or % of the assessed max
  std::string tempo;
  double rest_s = 90;
  double force_drop_pct = 20;
  double eccentric_pct = 0;
  std::string progress_when = "never";  ///< never | all_sets_target | all_sets_target_on_tempo
  std::string progress_rule = "none";   ///< none | load_n | load_pct | reps | hold_s
  double progress_amount = 0;
  int level = 0;  ///< progression levels earned (step_progress)
};

/// What the member follows today.
struct Plan {
  std::int64_t member_id = 0;
  std::int64_t assignment_id = 0;
  std::int64_t assignment_started_ms = 0;
  std::int64_t programme_id = 0;
  std::string programme_name;
  int sessions_per_week = 2;
  std::optional<int> block_weeks;
  std::optional<int> after_block_sessions_per_week;
  std::optional<double> assessed_max_n;
  std::vector<Step> steps;
};

/// A step's prescription for the next set, progression applied.
struct Prescription {
  double load_n = 0;
  std::optional<int> target_reps;
  std::optional<double> hold_s;
  std::string basis;  ///< how the load was found, in words ("70 % of 1500 N assessed max")
};

/// nullopt + `error` when the load cannot be resolved (a % step without an assessed max).
std::optional<Prescription> prescribe(const Step& s, std::optional<double> assessed_max_n,
                                      double max_load_n, std::string& error);

/// A set performed in a session.
struct SetDone {
  std::int64_t set_id = 0;
  std::int64_t step_id = 0;  ///< 0: the step was deleted since
  int set_index = 0;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> ended_ms;  ///< nullopt: running, or cut by a crash
  std::optional<std::string> stop_reason;
  int reps = 0;
  bool all_on_tempo = true;  ///< every counted rep on tempo
};

/// Where the session stands.
struct Position {
  std::size_t step = 0;  ///< index into Plan::steps; == steps.size(): every set done
  int set_index = 1;     ///< the next set within that step, 1-based
  std::optional<std::int64_t> last_end_ms;  ///< end (or start, if cut) of the latest set
  double rest_s = 0;     ///< the rest after the latest set (its step's rest_s)
};

/// The next set of the session from its performed sets (see 1. above).
Position locate(const Plan& plan, const std::vector<SetDone>& done);
/// Whether every prescribed set has been performed.
bool complete(const Plan& plan, const Position& p);

/// Progression decision for one step.
struct StepOutcome {
  std::int64_t step_id = 0;
  int sets_done = 0;
  int sets_at_target = 0;
  bool progressed = false;
  std::string why;  ///< in words, for the summary
};
std::vector<StepOutcome> judge(const Plan& plan, const std::vector<SetDone>& done);

/// Sessions per week the programme asks for now (the block rule applied).
int sessions_per_week(const Plan& plan, std::int64_t now_ms);

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
boost::json::object close_session(storage::Database& db, std::int64_t session_id,
                                  const Plan& plan, std::int64_t now_ms, const char* why);

}  // namespace soleus::app::runner
