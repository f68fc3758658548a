#include "soleus/programme/rules.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace soleus::programme {

namespace {

std::string num(double v) {
  std::ostringstream o;
  o.precision(4);
  o << v;
  return o.str();
}

bool reached_target(const SetDone& s) {
  return s.stop_reason && (*s.stop_reason == "target_reached" || *s.stop_reason == "hold_complete");
}

}  // namespace

std::optional<Prescription> prescribe(const Step& s, std::optional<double> assessed_max_n,
                                      double max_load_n, std::string& error) {
  Prescription p;
  const int level = std::max(0, s.level);
  if (s.load_n) {
    p.load_n = *s.load_n;
    p.basis = num(*s.load_n) + " N";
  } else if (s.load_pct) {
    if (!assessed_max_n || *assessed_max_n <= 0) {
      error = "the step's load is " + num(*s.load_pct) +
              " % of the assessed max, and this member has none yet: staff must enter it";
      return std::nullopt;
    }
    p.load_n = *assessed_max_n * *s.load_pct / 100.0;
    p.basis = num(*s.load_pct) + " % of " + num(*assessed_max_n) + " N assessed max";
  } else {
    error = "the step has no load";
    return std::nullopt;
  }
  p.target_reps = s.target_reps;
  p.hold_s = s.hold_s;
  if (s.progress_rule == "double") {
    p.target_reps = double_target(s);
    if (level > 0 && s.increment == "load_n") {
      p.load_n += level * s.progress_amount;
      p.basis += " + " + num(level * s.progress_amount) + " N progression";
    } else if (level > 0 && s.increment == "load_pct") {
      const double f = std::pow(1.0 + s.progress_amount / 100.0, level);
      p.load_n *= f;
      p.basis += " × " + num(f) + " progression";
    }
  } else if (level > 0 && s.progress_rule != "none") {
    const double a = s.progress_amount;
    if (s.progress_rule == "load_n") {
      p.load_n += level * a;
      p.basis += " + " + num(level * a) + " N progression";
    } else if (s.progress_rule == "load_pct") {
      const double f = std::pow(1.0 + a / 100.0, level);
      p.load_n *= f;
      p.basis += " × " + num(f) + " progression";
    } else if (s.progress_rule == "reps" && p.target_reps) {
      p.target_reps = std::min(100, *p.target_reps + static_cast<int>(std::lround(level * a)));
    } else if (s.progress_rule == "hold_s" && p.hold_s) {
      p.hold_s = std::min(600.0, *p.hold_s + level * a);
    }
  }
  p.load_n = std::round(p.load_n);
  if (p.load_n > max_load_n) {
    p.load_n = max_load_n;
    p.basis += ", capped at the machine's " + num(max_load_n) + " N";
  }
  if (p.load_n < 1) p.load_n = 1;
  return p;
}

Position locate(const Plan& plan, const std::vector<SetDone>& done) {
  Position pos;
  // Latest set: its end (or start, when cut by a crash) starts the rest.
  const SetDone* latest = nullptr;
  for (const auto& s : done)
    if (!latest || s.started_ms >= latest->started_ms) latest = &s;
  if (latest) {
    pos.last_end_ms = latest->ended_ms.value_or(latest->started_ms);
    for (const auto& st : plan.steps)
      if (st.id == latest->step_id) pos.rest_s = st.rest_s;
  }
  for (pos.step = 0; pos.step < plan.steps.size(); ++pos.step) {
    const Step& st = plan.steps[pos.step];
    int performed = 0;
    for (const auto& s : done)
      if (s.step_id == st.id) performed = std::max(performed, s.set_index);
    if (performed < st.sets) {
      pos.set_index = performed + 1;
      return pos;
    }
  }
  pos.set_index = 0;
  return pos;
}

bool complete(const Plan& plan, const Position& p) { return p.step >= plan.steps.size(); }

namespace {

/// Double progression for one step of a complete session without PAIN.
Change double_step(const Step& st, const std::vector<SetDone>& done) {
  Change c;
  c.step_id = st.id;
  c.level_before = c.level_after = std::max(0, st.level);
  const int target = double_target(st);
  const int top = st.rep_max.value_or(target);
  const int bottom = st.rep_min.value_or(target);
  c.target_before = c.target_after = target;
  int sets = 0, at_top = 0, at_target = 0;
  bool on_tempo = true;
  for (const auto& s : done) {
    if (s.step_id != st.id) continue;
    ++sets;
    if (s.reps >= top) ++at_top;
    if (s.reps >= target || reached_target(s)) ++at_target;
    on_tempo = on_tempo && s.all_on_tempo;
  }
  const bool tempo_rule = st.progress_when == "all_sets_target_on_tempo";
  const std::string range = std::to_string(bottom) + "–" + std::to_string(top);
  if (sets < st.sets) {
    c.reason = std::to_string(sets) + " of " + std::to_string(st.sets) + " sets performed";
  } else if (at_top >= st.sets && (!tempo_rule || on_tempo)) {
    c.kind = "load_up";
    c.level_after = c.level_before + 1;
    c.target_after = bottom;
    c.reason = "every set reached the top of the range (" + std::to_string(top) + " reps" +
               (tempo_rule ? ", every rep on tempo" : "") + "): load +" + num(st.progress_amount) +
               (st.increment == "load_pct" ? " %" : " N") + ", target back to " +
               std::to_string(bottom) + " reps";
  } else if (at_top >= st.sets) {
    c.reason =
        "every set reached the top of the range, but not every rep was on tempo: "
        "the load stays";
  } else if (at_target >= st.sets && target < top) {
    c.kind = "target_up";
    c.target_after = target + 1;
    c.reason = "every set reached the target of " + std::to_string(target) + " reps: target " +
               std::to_string(target + 1) + " (range " + range + ")";
  } else {
    c.reason = std::to_string(at_target) + " of " + std::to_string(st.sets) +
               " sets reached the target of " + std::to_string(target) + " reps";
  }
  return c;
}

}  // namespace

int double_target(const Step& s) {
  const int lo = s.rep_min.value_or(s.target_reps.value_or(1));
  const int hi = std::max(lo, s.rep_max.value_or(lo));
  return std::clamp(s.target.value_or(lo), lo, hi);
}

Decision decide(const Plan& plan, const std::vector<SetDone>& done, bool session_complete) {
  Decision d;
  for (const auto& s : done) d.pain = d.pain || s.pain();
  const auto outcomes = judge(plan, done);
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& st = plan.steps[i];
    Change c;
    c.step_id = st.id;
    c.level_before = c.level_after = std::max(0, st.level);
    if (st.progress_rule == "double") c.target_before = c.target_after = double_target(st);
    if (d.pain) {
      c.kind = "pain";
      c.reason = "a set ended with PAIN: nothing changes, and staff are told";
    } else if (!session_complete) {
      c.reason = "the session was not completed: nothing changes";
    } else if (st.progress_rule == "double") {
      c = double_step(st, done);
    } else if (outcomes[i].progressed) {
      c.level_after = c.level_before + 1;
      c.kind = st.progress_rule == "reps"     ? "reps_up"
               : st.progress_rule == "hold_s" ? "hold_up"
                                              : "load_up";
      c.reason = outcomes[i].why;
    } else {
      c.reason = outcomes[i].why;
    }
    d.changes.push_back(std::move(c));
  }
  return d;
}

std::vector<StepOutcome> judge(const Plan& plan, const std::vector<SetDone>& done) {
  std::vector<StepOutcome> out;
  for (const Step& st : plan.steps) {
    if (st.progress_rule == "double") {
      StepOutcome o;
      o.step_id = st.id;
      for (const auto& s : done)
        if (s.step_id == st.id) {
          ++o.sets_done;
          if (reached_target(s)) ++o.sets_at_target;
        }
      const Change c = double_step(st, done);
      o.progressed = c.kind != "none";
      o.why = c.reason;
      out.push_back(std::move(o));
      continue;
    }
    StepOutcome o;
    o.step_id = st.id;
    bool on_tempo = true;
    for (const auto& s : done) {
      if (s.step_id != st.id) continue;
      ++o.sets_done;
      if (reached_target(s)) ++o.sets_at_target;
      on_tempo = on_tempo && s.all_on_tempo;
    }
    if (st.progress_rule == "none" || st.progress_when == "never") {
      o.why = "no progression rule";
    } else if (o.sets_done < st.sets) {
      o.why = std::to_string(o.sets_done) + " of " + std::to_string(st.sets) + " sets performed";
    } else if (o.sets_at_target < st.sets) {
      o.why = std::to_string(o.sets_at_target) + " of " + std::to_string(st.sets) +
              " sets reached the target";
    } else if (st.progress_when == "all_sets_target_on_tempo" && !on_tempo) {
      o.why = "every set reached the target, but not every rep was on tempo";
    } else {
      o.progressed = true;
      o.why = "every set reached the target" +
              std::string(st.progress_when == "all_sets_target_on_tempo" ? " on tempo" : "") +
              ": " + st.progress_rule + " +" + num(st.progress_amount) + " from the next session";
    }
    out.push_back(std::move(o));
  }
  return out;
}

double level_load_factor(const Step& s) {
  const bool pct =
      s.progress_rule == "load_pct" || (s.progress_rule == "double" && s.increment == "load_pct");
  return pct ? 1.0 + s.progress_amount / 100.0 : 1.0;
}

int sessions_per_week(const Plan& plan, std::int64_t now_ms) {
  if (plan.block_weeks && plan.after_block_sessions_per_week) {
    const std::int64_t block_ms = static_cast<std::int64_t>(*plan.block_weeks) * 7 * 86'400'000;
    if (now_ms - plan.assignment_started_ms >= block_ms) return *plan.after_block_sessions_per_week;
  }
  return plan.sessions_per_week;
}

}  // namespace soleus::programme
