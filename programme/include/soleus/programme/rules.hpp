#pragma once
/// The programme rules, as pure functions over plain values: a step's
/// prescription for the next set (loads given in N or as % of the assessed
/// max, progression levels applied, the machine's cap), where a session stands
/// from the sets it holds, whether each step earned a progression level, and
/// the sessions per week the block rule asks for.
///
/// They know no SQL, no HTTP and no JSON: app/'s session runner
/// (app/include/soleus/app/session_runner.hpp) reads the store into these
/// types, calls the rules, and writes the outcome back.
///
/// Rules (the runner's principle of operation holds the whole story):
///  - A set that began counts as performed, whatever ended it: the next set
///    is the first step with fewer sets than prescribed, at the next index.
///  - Rest runs from the latest set's end (or its start, when a crash cut it).
///  - A step progresses when every prescribed set reached its target
///    (target_reached or hold_complete), and with `on tempo` every counted
///    rep was on tempo. One level per successful session: load_n adds N,
///    load_pct multiplies the load by (1 + x %), reps adds reps, hold_s adds
///    seconds.
///  - Double progression (rule "double", issue 13): the step has a rep range
///    (rep_min–rep_max) and a current target within it. When every set of a
///    session reached the top of the range (and, with `on tempo`, every
///    counted rep was on tempo) the load rises by one increment (`increment`:
///    load_n adds N, load_pct multiplies by 1 + x %) and the target goes back
///    to rep_min. Otherwise, when every set reached the current target, the
///    target rises by one rep, up to rep_max. See decide().
///  - A session in which a set ended with PAIN changes nothing and flags the
///    member for staff.
///  - After `block_weeks` from the assignment's start, the frequency becomes
///    `after_block_sessions_per_week` (when both are given).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace soleus::programme {

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
  std::string progress_rule = "none";   ///< none | load_n | load_pct | reps | hold_s | double
  double progress_amount = 0;
  int level = 0;  ///< progression levels earned (double: load increments earned)
  // Double progression (progress_rule "double"):
  std::optional<int> rep_min;        ///< bottom of the rep range
  std::optional<int> rep_max;        ///< top of the rep range
  std::string increment = "load_n";  ///< the load increment's kind: load_n | load_pct
  std::optional<int> target;         ///< the member's current target; nullopt: rep_min
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
  bool block_every_other_day = false;       ///< the block plans every other day (schema 4)
  std::optional<std::int64_t> assessed_ms;  ///< the latest assessment, for reassessment due
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
  /// Whether the set ended with the member's PAIN stop.
  bool pain() const { return stop_reason && *stop_reason == "pain"; }
};

/// Where the session stands.
struct Position {
  std::size_t step = 0;  ///< index into Plan::steps; == steps.size(): every set done
  int set_index = 1;     ///< the next set within that step, 1-based
  std::optional<std::int64_t> last_end_ms;  ///< end (or start, if cut) of the latest set
  double rest_s = 0;                        ///< the rest after the latest set (its step's rest_s)
};

/// The next set of the session from its performed sets.
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

/// The factor one more progression level multiplies a step's stored load
/// factor by: 1 + x % for the load_pct rule, 1 for every other rule.
double level_load_factor(const Step& s);

/// The current target of a double-progression step: its stored target, or
/// rep_min, kept within the range.
int double_target(const Step& s);

/// What a rule changed (or did not) for one step at the end of a session,
/// with its reason in words: the change log's row.
struct Change {
  std::int64_t step_id = 0;
  /// load_up | target_up | reps_up | hold_up | none | pain
  std::string kind = "none";
  int level_before = 0, level_after = 0;
  std::optional<int> target_before, target_after;  ///< double progression only
  std::string reason;
};

/// The rules' decision at the end of a session.
struct Decision {
  std::vector<Change> changes;  ///< one per step of the plan
  bool pain = false;            ///< a set ended with PAIN: nothing changed, flag the member
};

/// Every step's change at the end of a session. `session_complete`: every
/// prescribed set was performed (an incomplete session changes nothing). A
/// session with a PAIN stop changes nothing (kind "pain" for every step).
Decision decide(const Plan& plan, const std::vector<SetDone>& done, bool session_complete);

/// Sessions per week the programme asks for now (the block rule applied).
int sessions_per_week(const Plan& plan, std::int64_t now_ms);

}  // namespace soleus::programme
