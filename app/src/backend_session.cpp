// DaemonBackend: programme sessions
#include "backend_internal.hpp"

namespace soleus::app {

// ---- programme sessions ------------------------------------------------------------------------

namespace {
/// A session with no set for this long closes itself (the member walked away).
constexpr std::int64_t kSessionIdleCloseMs = std::int64_t{4} * 3600 * 1000;

/// The runner's step and prescription as the session's step card.
hmi::StepCardView step_card(const runner::Step& st, std::size_t index, std::size_t count,
                            int set_index, const runner::Prescription& rx) {
  hmi::StepCardView v;
  v.index = index;
  v.count = count;
  v.step_id = st.id;
  v.mode = st.mode;
  v.sets = st.sets;
  v.set = set_index;
  v.load_n = rx.load_n;
  v.load_basis = rx.basis;
  v.tempo = st.tempo;
  v.rest_s = st.rest_s;
  v.force_drop_pct = st.force_drop_pct;
  v.eccentric_pct = st.eccentric_pct;
  v.target_reps = rx.target_reps;
  v.hold_s = rx.hold_s;
  return v;
}
}  // namespace

hmi::Result DaemonBackend::session(std::int64_t member_id, hmi::SessionAction action) {
  using A = hmi::SessionAction;
  std::lock_guard session_lock(session_mutex_);  // one runner decision at a time
  // The latest set's rows (start, end, reps) committed before the runner reads them.
  if (store_) store_->flush(1000ms);
  const controller::Snapshot snap = loop_.snapshot();
  controller::SetParams p;
  std::int64_t session_id = 0, step_id = 0;
  int set_index = 0;
  bool start_now = false;
  auto r = with_db(
      [&]() -> Result {
        auto c = connect();
        if (!storage::get_member(c.db, member_id))
          return Result::not_found("no member " + std::to_string(member_id));
        const std::int64_t now = common::unix_ms_now();
        auto plan = runner::load_plan(c.db, member_id);
        runner::OpenSession open{};  // id 0: none
        if (auto o = runner::find_open(c.db, member_id)) open = *o;
        std::vector<runner::SetDone> done;
        auto running = [&](const runner::SetDone& d) {
          return !d.ended_ms && snap.ctl.set_running && snap.ctl.set_id == d.set_id;
        };
        if (open.id) {
          done = runner::session_sets(c.db, open.id);
          std::int64_t last = open.started_ms;
          bool busy = false;
          for (const auto& d : done) {
            last = std::max(last, d.ended_ms.value_or(d.started_ms));
            busy = busy || running(d);
          }
          const bool other_programme = !plan || plan->programme_id != open.programme_id;
          if (!busy && (now - last > kSessionIdleCloseMs || other_programme)) {
            // Closed as it stands: done with progression if every set was performed, else aborted.
            runner::close_session(c.db, open.id, other_programme ? runner::Plan{} : *plan, now,
                                  other_programme ? "the programme changed" : "left open");
            log::info("session ", open.id, " of member ", member_id, " closed (",
                      other_programme ? "programme changed" : "idle", ")");
            open = {};
            done.clear();
          }
        }
        if (action == A::End) {
          if (!open.id)
            return Result::ok(json::object{{"ended", false}, {"message", "no open session"}});
          for (const auto& d : done)
            if (running(d))
              return Result::conflict("a set of this session is running: stop it first", "state");
          json::object out = runner::close_session(c.db, open.id, plan ? *plan : runner::Plan{},
                                                   now, "ended by the member");
          out["ended"] = true;
          return Result::ok(std::move(out));
        }
        if (!plan) return Result::not_found("no programme is assigned to this member");
        if (plan->steps.empty()) return Result::not_found("the assigned programme has no steps");
        if (!open.id && (action == A::Start || action == A::NextSet)) {
          open =
              runner::OpenSession{runner::open_session(c.db, *plan, now), now, plan->programme_id};
          log::info("session ", open.id, " of member ", member_id, " opened");
        }
        const runner::Position pos = runner::locate(*plan, done);
        std::string state = open.id ? "ready" : "not_started";
        double rest_remaining = 0;
        bool busy = false;
        for (const auto& d : done) busy = busy || running(d);
        if (busy) state = "set_running";
        else if (runner::complete(*plan, pos)) state = "complete";
        else if (pos.last_end_ms) {
          rest_remaining = std::max(0.0, (static_cast<double>(*pos.last_end_ms) +
                                          pos.rest_s * 1000.0 - static_cast<double>(now)) /
                                             1000.0);
          if (rest_remaining > 0) state = "rest";
        }
        const std::int64_t open_id = open.id;
        hmi::SessionView card;
        if (open_id) card.session_id = open_id;
        card.state = state;
        card.programme_id = plan->programme_id;
        card.programme = plan->programme_name;
        card.sessions_per_week = runner::sessions_per_week(*plan, now);
        card.rest_remaining_s = std::ceil(rest_remaining * 10) / 10;
        for (const auto& d : done) {
          std::size_t idx = 0;
          for (std::size_t i = 0; i < plan->steps.size(); ++i)
            if (plan->steps[i].id == d.step_id) idx = i;
          // A set that ended without a stop reason (cut by a crash) says so.
          std::optional<std::string> why = d.stop_reason;
          if (!why && !running(d)) why = "shutdown";
          card.sets_done.push_back({d.set_id, idx, d.set_index, d.reps, why});
        }
        if (!runner::complete(*plan, pos)) {
          const runner::Step& st = plan->steps[pos.step];
          std::string why;
          auto rx =
              runner::prescribe(st, plan->assessed_max_n, cfg_.machine.limits.max_load_n, why);
          if (!rx) return Result::invalid("load_pct", why);
          card.step = step_card(st, pos.step, plan->steps.size(), pos.set_index, *rx);
          if (action == A::NextSet) {
            if (state == "set_running") return Result::conflict("a set is running", "state");
            if (state == "rest")
              return Result::conflict(
                  "rest: " + std::to_string(static_cast<int>(std::ceil(rest_remaining))) +
                      " s before the next set",
                  "rest_remaining_s");
            if (!controller::parse_mode(st.mode, p.mode))
              return Result::invalid("mode", "bad mode in the programme");
            const auto tempo = common::parse_tempo(st.tempo);
            if (!tempo)
              return Result::invalid("tempo", "bad tempo in the programme: " + tempo.message);
            p.tempo = controller::Tempo{tempo.seconds.eccentric_s, tempo.seconds.bottom_s,
                                        tempo.seconds.concentric_s, tempo.seconds.top_s};
            p.load_n = rx->load_n;
            p.target_reps = rx->target_reps.value_or(0);
            p.hold_s = rx->hold_s.value_or(0);
            p.force_drop_pct = st.force_drop_pct;
            p.eccentric_pct = st.eccentric_pct;
            p.member_id = member_id;
            session_id = open_id;
            step_id = st.id;
            set_index = pos.set_index;
            start_now = true;
          }
        } else if (action == A::NextSet) {
          return Result::conflict("every set of today's session is done: end the session", "state");
        }
        return Result::ok(hmi::to_json(card));
      },
      "session");
  if (r.outcome != hmi::Outcome::Ok || !start_now) return r;
  // A new press of Start: the same checks as any set.
  return start_params(p, session_id, step_id, set_index);
}

}  // namespace soleus::app
