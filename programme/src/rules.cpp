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
  if (level > 0 && s.progress_rule != "none") {
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

std::vector<StepOutcome> judge(const Plan& plan, const std::vector<SetDone>& done) {
  std::vector<StepOutcome> out;
  for (const Step& st : plan.steps) {
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
  return s.progress_rule == "load_pct" ? 1.0 + s.progress_amount / 100.0 : 1.0;
}

int sessions_per_week(const Plan& plan, std::int64_t now_ms) {
  if (plan.block_weeks && plan.after_block_sessions_per_week) {
    const std::int64_t block_ms = static_cast<std::int64_t>(*plan.block_weeks) * 7 * 86'400'000;
    if (now_ms - plan.assignment_started_ms >= block_ms) return *plan.after_block_sessions_per_week;
  }
  return plan.sessions_per_week;
}

}  // namespace soleus::programme
