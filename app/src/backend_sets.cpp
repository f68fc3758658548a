// DaemonBackend: stored and running sets, the event log
#include "backend_internal.hpp"

namespace soleus::app {

std::optional<hmi::SetView> DaemonBackend::get_set(std::int64_t id) {
  if (!store_) return std::nullopt;
  std::optional<storage::SetRow> row;
  std::vector<storage::RepRow> reps;
  try {
    auto c = connect();
    row = storage::get_set(c.db, id);
    if (row) reps = storage::get_reps(c.db, id);
  } catch (const std::exception& e) {
    log::warn("api: reading set ", id, ": ", e.what());
  }
  const controller::Snapshot s = loop_.snapshot();
  const bool live = s.ctl.set_running && s.ctl.set_id == id;
  if (!row) {
    // Started but its row not committed yet: shown from what was asked.
    auto rec = book_.start_record(id);
    if (!rec || !live) return std::nullopt;
    row.emplace();
    row->id = id;
    row->started_ms = rec->started_ms;
    row->mode = std::string(rec->mode.view());
    row->tempo = std::string(rec->tempo.view());
    row->load_n = rec->load_n;
    if (rec->member_id) row->member_id = rec->member_id;
    if (rec->target_reps) row->target_reps = rec->target_reps;
    if (rec->hold_s > 0) row->hold_s = rec->hold_s;
  }
  // The stored row and its committed reps (views_from_storage.cpp), then the live state.
  hmi::SetView v = set_view(*row, reps);
  if (!row->stop_reason) {
    if (live) {
      if (s.ctl.range_note != controller::RangeNote::None)
        v.range_note = controller::to_string(s.ctl.range_note);
      if (s.ctl.range_age_days >= 0) v.range_age_days = s.ctl.range_age_days;
      switch (s.ctl.state) {
        case SetState::Ready:
        case SetState::Calibrating: v.state = "calibrating"; break;
        case SetState::Unloading: v.state = "unloading"; break;
        default: v.state = "active"; break;
      }
    } else if (book_.result(id) || book_.start_record(id)) {
      // Ended (its end record not committed yet), or ended in the loop a
      // moment ago with its result not drained yet (the main thread drains
      // every 20 ms): not "done" until the stop reason is on disk.
      v.state = "unloading";
    } else {
      v.state = "done";  // an earlier run's set that never got its end (daemon killed)
    }
  }
  return v;
}

hmi::Result DaemonBackend::set_trace(std::int64_t id) {
  if (!store_) return Result::not_found("no set " + std::to_string(id));
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (!storage::get_set(c.db, id)) return Result::not_found("no set " + std::to_string(id));
        const storage::SplitTrace st = storage::get_split_trace(c.db, id);
        hmi::SetTraceView v;
        v.set_id = id;
        for (const auto& r : st.reps) {
          hmi::TraceRepView rv;
          rv.seq = r.seq;
          rv.n = r.n;
          rv.partial = r.partial;
          for (const auto& p : r.points) {
            rv.t.push_back(p.t_s);
            rv.force_n.push_back(p.force_n);
            rv.position_mm.push_back(p.position_mm);
          }
          v.reps.push_back(std::move(rv));
        }
        for (const auto& p : st.between) {
          v.between_t.push_back(p.t_s);
          v.between_force_n.push_back(p.force_n);
          v.between_position_mm.push_back(p.position_mm);
        }
        return Result::ok(hmi::to_json(v));
      },
      "trace");
}

hmi::EventPage DaemonBackend::events(const hmi::EventQuery& q) {
  hmi::EventPage out;
  if (!store_) return out;
  try {
    auto c = connect();
    storage::EventFilter f;
    f.since_ms = q.since_ms;
    if (q.severity) {
      storage::Severity sv{};
      if (storage::parse_severity(*q.severity, sv)) f.min_severity = sv;
    }
    f.code = q.code;
    f.before_id = q.before_id;
    f.offset = q.offset;
    f.limit = q.limit;
    auto page = storage::query_events(c.db, f);
    for (const auto& r : page.rows) out.events.push_back(event_view(r));
    if (page.next && !page.rows.empty()) out.next_before = page.rows.back().id;
    storage::EventFilter all = f;
    all.before.reset();
    all.before_id.reset();
    all.offset = 0;
    out.total = storage::count_events(c.db, all);
  } catch (const std::exception& e) {
    log::warn("api: events query: ", e.what());
  }
  return out;
}

}  // namespace soleus::app
