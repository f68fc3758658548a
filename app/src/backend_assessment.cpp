// DaemonBackend: the guided strength assessment (docs/assessment.md). The
// steps and the result are programme::assessment's; this file runs them as
// ordinary sets (start_params: the same checks and clamps as any set), takes
// each set's result from the SetBook, and stores every assessment.
#include "backend_internal.hpp"
#include "soleus/common/format.hpp"
#include "soleus/storage/assessments.hpp"

namespace soleus::app {

namespace pa = programme::assessment;

struct DaemonBackend::AssessmentState {
  explicit AssessmentState(const pa::Config& c, std::int64_t now) : run(c, now) {}
  pa::Run run;
  bool recorded = false;
  std::optional<std::int64_t> assessment_id;
  std::int64_t sets_started = 0;
};

namespace {

/// The assessment's rests are timed on the monotonic clock: a wall clock that
/// is set or stalls never shortens nor stretches a rest. (Rows keep Unix time.)
std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

json::array trials_json(const std::vector<pa::Trial>& trials) {
  json::array a;
  for (const auto& t : trials)
    a.push_back(
        json::object{{"pct_of_range", t.pct_of_range},
                     {"force_n", t.force_n ? json::value(*t.force_n) : json::value(nullptr)},
                     {"beyond_range", t.beyond_range}});
  return a;
}

json::object result_json(const pa::Result& r) {
  return json::object{
      {"complete", r.complete},
      {"refused", r.refused},
      {"max_n", r.max_n ? json::value(*r.max_n) : json::value(nullptr)},
      {"beyond_range", r.beyond_range},
      {"spread_pct", r.spread_pct ? json::value(*r.spread_pct) : json::value(nullptr)},
      {"note", r.note},
  };
}

}  // namespace

void DaemonBackend::settle_assessment(std::int64_t member_id, AssessmentState& a) {
  const std::int64_t now = steady_ms();
  if (auto id = a.run.running_set()) {
    if (auto res = book_.result(*id)) {
      pa::SetOutcome o;
      o.stop_reason = controller::to_string(res->reason);
      o.peak_force_n = res->peak_force_n;
      o.beyond_range = res->beyond_range;
      if (res->range.span() > 0) {
        o.range_bottom_mm = res->range.bottom_mm;
        o.range_top_mm = res->range.top_mm;
      }
      a.run.on_set_end(o, now);
      log::info("assessment of member ", member_id, ": set ", *id, " ended (", o.stop_reason,
                res->mode == controller::Mode::Isometric
                    ? ", peak " + common::format_fixed(o.peak_force_n, 1) + " N" +
                          (o.beyond_range ? ", beyond range" : "")
                    : std::string(),
                ")");
    } else {
      const auto snap = loop_.snapshot();
      // Started and gone without a result (the loop restarted, a fault cut it).
      if (!(snap.ctl.set_running && snap.ctl.set_id == *id) && snap.ctl.set_id != *id)
        a.run.abandon("the set was lost");
    }
  }
  if (!a.run.finished() || a.recorded) return;
  const pa::Result r = a.run.result();
  if (r.refused) return;  // the screen offers a retry; recorded when the member ends it
  storage::AssessmentRow row;
  row.member_id = member_id;
  row.t_ms = common::unix_ms_now();
  row.method = "isometric";
  row.complete = r.complete;
  row.max_n = r.max_n;
  row.beyond_range = r.beyond_range;
  row.spread_pct = r.spread_pct;
  row.trials_json = json::serialize(trials_json(a.run.trials()));
  row.note = r.note;
  auto rec = with_db(
      [&]() -> Result {
        auto c = connect();
        a.assessment_id =
            storage::record_assessment(c.db, row, storage::Actor{"member", member_id});
        return Result::ok();
      },
      "assessment");
  if (rec.outcome == hmi::Outcome::Ok) {
    a.recorded = true;
    log::info("assessment of member ", member_id, " recorded: ", r.note);
  }
}

json::object DaemonBackend::assessment_card(std::int64_t member_id, const AssessmentState* a) {
  const std::int64_t now = steady_ms();
  const auto& cfg = a ? a->run.config() : cfg_.assessment;
  json::object o{{"member_id", member_id},
                 {"active", a != nullptr && !a->recorded},
                 {"warmup_reps", cfg.warmup_reps},
                 {"warmup_load_n", cfg.warmup_pct / 100.0 * cfg_.machine.limits.max_load_n},
                 {"trials_total", cfg.trials},
                 {"push_s", cfg.push_s},
                 {"rest_s", cfg.rest_s},
                 {"max_spread_pct", cfg.max_spread_pct},
                 {"max_load_n", cfg_.machine.limits.max_load_n}};
  std::optional<std::int64_t> assigned;
  std::optional<double> current_max;
  with_db(
      [&]() -> Result {
        auto c = connect();
        assigned = storage::assessment_assigned_ms(c.db, member_id);
        if (auto m = storage::get_member(c.db, member_id)) current_max = m->assessed_max_n;
        return Result::ok();
      },
      "assessment");
  o["assigned"] = assigned.has_value();
  o["assessed_max_n"] = current_max ? json::value(*current_max) : json::value(nullptr);
  if (!a) {
    o["step"] = "none";
    o["next"] = "none";
    o["result"] = nullptr;
    o["trials"] = json::array{};
    return o;
  }
  const auto& run = a->run;
  o["step"] = pa::to_string(run.step(now));
  const pa::Next n = run.next(now);
  o["next"] = n.kind == pa::Next::Kind::Warmup  ? "warmup"
              : n.kind == pa::Next::Kind::Trial ? "trial"
              : n.kind == pa::Next::Kind::Wait  ? "wait"
                                                : "none";
  o["rest_remaining_s"] = n.kind == pa::Next::Kind::Wait ? n.rest_remaining_s : 0.0;
  o["set_running"] = run.running_set().has_value();
  o["set_id"] = run.running_set() ? json::value(*run.running_set()) : json::value(nullptr);
  o["trial"] = run.trials_done() + (run.running_set() && run.warmed_up() ? 1 : 0);
  o["trials_done"] = run.trials_done();
  o["retries"] = run.retries();
  if (run.warmed_up()) {
    o["range"] = json::object{{"bottom_mm", run.range_bottom_mm()}, {"top_mm", run.range_top_mm()}};
    o["hold_height_mm"] =
        run.range_bottom_mm() + 0.5 * (run.range_top_mm() - run.range_bottom_mm());
  } else {
    o["range"] = nullptr;
    o["hold_height_mm"] = nullptr;
  }
  o["trials"] = trials_json(run.trials());
  o["result"] = run.finished() ? json::value(result_json(run.result())) : json::value(nullptr);
  o["assessment_id"] = a->assessment_id ? json::value(*a->assessment_id) : json::value(nullptr);
  return o;
}

hmi::Result DaemonBackend::assessment(std::int64_t member_id, hmi::AssessmentAction action) {
  using A = hmi::AssessmentAction;
  std::lock_guard lock(assessment_mutex_);
  {
    auto r = with_db(
        [&]() -> Result {
          auto c = connect();
          if (!storage::get_member(c.db, member_id))
            return Result::not_found("no member " + std::to_string(member_id));
          return Result::ok();
        },
        "assessment");
    if (r.outcome != hmi::Outcome::Ok) return r;
  }
  const std::int64_t now = steady_ms();
  std::shared_ptr<AssessmentState> a;
  if (auto it = assessments_.find(member_id); it != assessments_.end()) a = it->second;
  if (a) settle_assessment(member_id, *a);
  auto fresh = [&] {
    a = std::make_shared<AssessmentState>(cfg_.assessment, now);
    assessments_[member_id] = a;
    log::info("assessment of member ", member_id, " begun");
  };
  switch (action) {
    case A::Get: break;
    case A::Start:
      if (!a || a->recorded) fresh();
      break;
    case A::Retry:
      if (!a || !a->run.retry(now)) return Result::conflict("no refused result to retry", "state");
      log::info("assessment of member ", member_id, ": retry ", a->run.retries());
      break;
    case A::End: {
      if (!a) return Result::ok(assessment_card(member_id, nullptr));
      if (a->run.running_set())
        return Result::conflict("a set of the assessment is running: stop it first", "state");
      if (!a->recorded && a->sets_started > 0) {
        const bool refused = a->run.finished() && a->run.result().refused;
        if (!refused) a->run.abandon("ended by the member");
        const pa::Result r = a->run.result();
        storage::AssessmentRow row;
        row.member_id = member_id;
        row.t_ms = common::unix_ms_now();
        row.complete = false;
        row.spread_pct = r.spread_pct;
        row.trials_json = json::serialize(trials_json(a->run.trials()));
        // Declined the retry: kept as incomplete, with the spread and why.
        row.note = refused ? "incomplete, no retry: " + r.note : r.note;
        auto rec = with_db(
            [&]() -> Result {
              auto c = connect();
              a->assessment_id =
                  storage::record_assessment(c.db, row, storage::Actor{"member", member_id});
              return Result::ok();
            },
            "assessment");
        if (rec.outcome != hmi::Outcome::Ok) return rec;
      }
      json::object card = assessment_card(member_id, a.get());
      card["active"] = false;
      assessments_.erase(member_id);
      return Result::ok(std::move(card));
    }
    case A::Next: {
      if (!a || a->recorded) fresh();
      const pa::Next n = a->run.next(now);
      if (n.kind == pa::Next::Kind::None)
        return Result::conflict(
            a->run.running_set() ? "a set of the assessment is running" : "the assessment is over",
            "state");
      if (n.kind == pa::Next::Kind::Wait)
        return Result::conflict(
            "rest: " + std::to_string(static_cast<int>(std::ceil(n.rest_remaining_s))) +
                " s before the next push",
            "rest_remaining_s");
      const auto& cfg = a->run.config();
      controller::SetParams p;
      p.member_id = member_id;
      if (n.kind == pa::Next::Kind::Warmup) {
        p.mode = controller::Mode::Isotonic;
        p.load_n = cfg.warmup_pct / 100.0 * cfg_.machine.limits.max_load_n;
        p.target_reps = cfg.warmup_reps;
        const auto tempo = common::parse_tempo(cfg.warmup_tempo);
        p.tempo = controller::Tempo{tempo.seconds.eccentric_s, tempo.seconds.bottom_s,
                                    tempo.seconds.concentric_s, tempo.seconds.top_s};
      } else {
        // A maximal push: the hold's force limit is the machine's max load
        // (the clamp's, the drive's TORQUE_LIMIT); a member who out-pushes it
        // raises the pad and the result says "beyond the machine's range".
        p.mode = controller::Mode::Isometric;
        p.load_n = cfg_.machine.limits.max_load_n;
        p.hold_s = cfg.push_s;
        p.hold_height_mm = n.hold_height_mm;
        p.force_drop_pct = 50;
        p.tempo = controller::Tempo{0, 0, 0, 0};
      }
      auto r = start_params(p, 0, 0, 0, /*stored_range=*/false);
      if (r.outcome != hmi::Outcome::Created) return r;
      a->run.on_set_start(r.id, now);
      ++a->sets_started;
      log::info("assessment of member ", member_id, ": set ", r.id,
                n.kind == pa::Next::Kind::Warmup ? " (warm-up)"
                                                 : " (push " + std::to_string(n.trial) + ")");
      json::object card = assessment_card(member_id, a.get());
      card["set_id"] = r.id;
      return Result::ok(std::move(card));
    }
  }
  return Result::ok(assessment_card(member_id, a.get()));
}

hmi::Result DaemonBackend::member_assessments(std::int64_t member_id) {
  return with_member(
      member_id,
      [&](Conn& c) -> Result {
        json::array out;
        for (const auto& r : storage::member_assessments(c.db, member_id)) {
          json::value trials = json::parse(r.trials_json);
          json::value curve = json::parse(r.curve_json);
          out.push_back(json::object{
              {"id", r.id},
              {"t_ms", r.t_ms},
              {"method", r.method},
              {"complete", r.complete},
              {"max_n", r.max_n ? json::value(*r.max_n) : json::value(nullptr)},
              {"beyond_range", r.beyond_range},
              {"spread_pct", r.spread_pct ? json::value(*r.spread_pct) : json::value(nullptr)},
              {"trials", std::move(trials)},
              {"curve", std::move(curve)},
              {"note", r.note},
          });
        }
        return Result::ok(json::object{{"assessments", std::move(out)}});
      },
      "assessments");
}

hmi::Result DaemonBackend::assign_assessment(std::int64_t member_id, bool assign) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (!storage::assign_assessment(c.db, member_id, assign, common::unix_ms_now(),
                                        storage::Actor{"staff", std::nullopt}))
          return Result::not_found("no member " + std::to_string(member_id));
        const auto when = storage::assessment_assigned_ms(c.db, member_id);
        return Result::ok(
            json::object{{"member_id", member_id},
                         {"assigned", when.has_value()},
                         {"assigned_ms", when ? json::value(*when) : json::value(nullptr)}});
      },
      "assessment");
}

}  // namespace soleus::app
