#include "soleus/programme/assessment.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace soleus::programme::assessment {

namespace {
std::string pct_text(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
}  // namespace

Result judge(const std::vector<Trial>& trials, const Config& cfg) {
  Result r;
  bool any_beyond = false;
  for (const auto& t : trials) any_beyond = any_beyond || t.beyond_range;
  if (static_cast<int>(trials.size()) < cfg.trials && !any_beyond) {
    r.note = "incomplete: " + std::to_string(trials.size()) + " of " + std::to_string(cfg.trials) +
             " pushes done";
    return r;
  }
  bool beyond = false;
  double best = 0, worst = 1e300;
  for (const auto& t : trials) {
    if (t.beyond_range || !t.force_n) {
      beyond = true;
      continue;
    }
    best = std::max(best, *t.force_n);
    worst = std::min(worst, *t.force_n);
  }
  if (beyond) {
    // "≥ max load": the machine cannot measure more; no number, no spread.
    r.complete = true;
    r.beyond_range = true;
    r.note = "beyond the machine's range: at least the max load";
    return r;
  }
  if (!(best > 0)) {
    r.note = "no force measured";
    return r;
  }
  const double spread = (best - worst) / best * 100.0;
  r.spread_pct = std::round(spread * 10.0) / 10.0;
  if (spread > cfg.max_spread_pct) {
    r.refused = true;
    r.note = "the pushes disagree by " + pct_text(spread) + " % (more than " +
             pct_text(cfg.max_spread_pct) + " %): retry";
    return r;
  }
  r.complete = true;
  r.max_n = std::round(best * 10.0) / 10.0;
  r.note = "best of " + std::to_string(trials.size()) + " pushes";
  return r;
}

bool normal_end(const std::string& reason, bool isometric) {
  if (isometric) return reason == "hold_complete" || reason == "force_drop";
  return reason == "target_reached";
}

const char* to_string(Step s) {
  switch (s) {
    case Step::Warmup: return "warmup";
    case Step::Rest: return "rest";
    case Step::Trial: return "trial";
    case Step::Done: return "done";
  }
  return "done";
}

Next Run::next(std::int64_t now_ms) const {
  Next n;
  if (finished_ || running_) return n;
  if (!warmed_up()) {
    n.kind = Next::Kind::Warmup;
    return n;
  }
  const double rest =
      (static_cast<double>(last_end_ms_) + cfg_.rest_s * 1000.0 - static_cast<double>(now_ms)) /
      1000.0;
  if (rest > 0) {
    n.kind = Next::Kind::Wait;
    n.rest_remaining_s = std::ceil(rest * 10.0) / 10.0;
    return n;
  }
  n.kind = Next::Kind::Trial;
  n.trial = trials_done() + 1;
  n.pct_of_range = 50;
  n.hold_height_mm = range_bottom_mm_ + 0.5 * (range_top_mm_ - range_bottom_mm_);
  return n;
}

Step Run::step(std::int64_t now_ms) const {
  if (finished_) return Step::Done;
  if (!warmed_up()) return Step::Warmup;
  if (running_) return Step::Trial;
  return next(now_ms).kind == Next::Kind::Wait ? Step::Rest : Step::Trial;
}

void Run::on_set_start(std::int64_t set_id, std::int64_t) { running_ = set_id; }

void Run::on_set_end(const SetOutcome& o, std::int64_t now_ms) {
  const bool warmup = !warmed_up();
  running_.reset();
  last_end_ms_ = now_ms;
  // Out-pushed: the pad rose under the member's push until the hold ended,
  // or the machine stopped it (its travel limit, or its speed trip when the
  // pad ran away): the machine's range is the answer either way.
  const bool beyond_ok = !warmup && o.beyond_range &&
                         (o.stop_reason == "travel_limit" || o.stop_reason == "overspeed");
  if (!normal_end(o.stop_reason, !warmup) && !beyond_ok) {
    abandon("stopped: " + o.stop_reason);
    return;
  }
  if (warmup) {
    if (!o.range_bottom_mm || !o.range_top_mm || *o.range_top_mm - *o.range_bottom_mm < 10) {
      abandon("the warm-up found no range");
      return;
    }
    range_bottom_mm_ = *o.range_bottom_mm;
    range_top_mm_ = *o.range_top_mm;
    return;
  }
  Trial t;
  t.pct_of_range = 50;
  t.beyond_range = o.beyond_range;
  if (!o.beyond_range) t.force_n = std::round(o.peak_force_n * 10.0) / 10.0;
  trials_.push_back(t);
  // Beyond the machine's range once is the result: no more maximal pushes
  // that cannot give a number.
  if (trials_done() >= cfg_.trials || t.beyond_range) finished_ = true;
}

void Run::abandon(const std::string& why) {
  if (finished_) return;
  running_.reset();
  finished_ = true;
  stopped_why_ = why;
}

bool Run::retry(std::int64_t now_ms) {
  if (!finished_ || !stopped_why_.empty() || !result().refused) return false;
  trials_.clear();
  finished_ = false;
  ++retries_;
  last_end_ms_ = now_ms - static_cast<std::int64_t>(cfg_.rest_s * 1000.0);  // no rest first
  return true;
}

Result Run::result() const {
  if (!stopped_why_.empty()) {
    Result r;
    r.note = "incomplete: " + stopped_why_;
    return r;
  }
  return judge(trials_, cfg_);
}

}  // namespace soleus::programme::assessment
