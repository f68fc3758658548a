#include "soleus/app/views_from_storage.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <ranges>

#include "soleus/app/set_metrics.hpp"
#include "soleus/common/time.hpp"

namespace soleus::app {

namespace json = boost::json;

hmi::EventView event_view(const storage::EventRow& e) {
  hmi::EventView v;
  v.id = e.id;
  v.t_ms = e.t_ms;
  v.severity = storage::to_string(e.severity);
  v.code = e.code;
  v.message = e.message;
  v.set_id = e.set_id;
  v.context = e.context;
  return v;
}

hmi::RepView rep_view(const storage::RepRow& r) {
  hmi::RepView v;
  v.set_id = r.set_id;
  v.seq = r.seq;
  v.n = r.n;
  v.partial = r.partial;
  v.peak_force_n = r.peak_force_n;
  v.mean_force_n = r.mean_force_n;
  v.concentric_s = r.concentric_s;
  v.top_pause_s = r.top_pause_s;
  v.eccentric_s = r.eccentric_s;
  v.bottom_pause_s = r.bottom_pause_s;
  v.rom_mm = r.rom_mm;
  v.rom_pct = r.rom_pct;
  v.mean_velocity_mm_s = r.mean_velocity_mm_s;
  v.smoothness = r.smoothness;
  v.on_tempo = r.on_tempo;
  v.tempo_deviation_s = r.tempo_deviation_s;
  v.tut_s = r.tut_s;
  v.reversals = r.reversals;
  v.wobbly = r.wobbly;
  v.tempo = tempo_verdict(r.on_tempo, r.tempo_deviation_s);
  return v;
}

hmi::SetView set_view(const storage::SetRow& s) {
  hmi::SetView v;
  v.id = s.id;
  v.state = s.stop_reason ? "done" : "active";
  v.mode = s.mode;
  v.load_n = s.load_n;
  v.tempo = s.tempo;
  v.reps = s.reps;
  v.partial_reps = s.partial_reps;
  v.tut_s = s.tut_s;
  v.stop_reason = s.stop_reason;
  v.rep_log_known = false;
  v.member_id = s.member_id;
  v.target_reps = s.target_reps;
  v.hold_s = s.hold_s;
  v.started_ms = s.started_ms;
  v.ended_ms = s.ended_ms;
  v.session_id = s.session_id;
  v.force_drop_pct = s.force_drop_pct;
  v.eccentric_pct = s.eccentric_pct;
  v.range_bottom_mm = s.range_bottom_mm;
  v.range_top_mm = s.range_top_mm;
  if (s.range_bottom_mm || s.range_top_mm) v.range_calibrated = s.range_calibrated;
  v.range_note = s.range_note;
  v.range_age_days = s.range_age_days;
  if (s.ended_ms) v.duration_s = static_cast<double>(*s.ended_ms - s.started_ms) / 1000.0;
  return v;
}

hmi::SetView set_view(const storage::SetRow& s, const std::vector<storage::RepRow>& reps) {
  hmi::SetView v = set_view(s);
  v.rep_log_known = true;
  int counted = 0, partial = 0;
  double tut = 0;
  std::vector<double> mean_force;
  for (const auto& r : reps) {
    if (r.partial || r.n <= 0) {
      ++partial;
      continue;
    }
    ++counted;
    tut += r.tut_s;
    mean_force.push_back(r.mean_force_n);
    v.rep_log.push_back(rep_view(r));
  }
  // The first counted rep of a dynamic set runs under the ramp to the full
  // load after the calibration rep, or at the light first-rep load when a
  // stored range was confirmed: its force says nothing about fatigue, so the
  // figures start at the second counted rep (docs/api.md, "fatigue").
  if (s.mode != "isometric" && !mean_force.empty()) mean_force.erase(mean_force.begin());
  const FatigueMetrics fm = fatigue_metrics(mean_force);
  v.fatigue_index_pct = fm.fatigue_index_pct;
  v.decline_n_per_rep = fm.decline_n_per_rep;
  if (!s.stop_reason) {
    // While the set runs, the committed reps are the truth the API may show.
    v.reps = counted;
    v.partial_reps = partial;
    v.tut_s = tut;
  }
  return v;
}

hmi::MemberView member_view(const storage::MemberRow& m, bool has_pin,
                            std::optional<std::int64_t> programme_id) {
  hmi::MemberView v;
  v.id = m.id;
  v.number = m.number;
  v.name = m.name;
  v.has_pin = has_pin;
  v.assessed_max_n = m.assessed_max_n;
  v.assessed_ms = m.assessed_ms;
  v.assessed_method = m.assessed_method;
  v.assessment_assigned_ms = m.assessment_assigned_ms;
  v.rom_bottom_mm = m.rom_bottom_mm;
  v.rom_top_mm = m.rom_top_mm;
  v.rom_measured_ms = m.rom_measured_ms;
  v.programme_id = programme_id;
  v.created_ms = m.created_ms;
  return v;
}

hmi::MemberView member_view(const storage::MemberRow& m, std::optional<std::int64_t> programme_id) {
  return member_view(m, m.pin_hash.has_value() && !m.pin_hash->empty(), programme_id);
}

hmi::MemberView member_view(const storage::MemberExport& ex) {
  std::optional<std::int64_t> programme_id;
  for (const auto& a : ex.assignments)
    if (!a.ended_ms) programme_id = a.programme_id;
  return member_view(ex.member, ex.has_pin, programme_id);
}

hmi::HistorySetView history_set_view(const storage::SetRow& s) {
  hmi::HistorySetView v;
  v.set_id = s.id;
  v.mode = s.mode;
  v.load_n = s.load_n;
  v.reps = s.reps;
  v.tut_s = s.tut_s;
  v.stop_reason = s.stop_reason;
  v.partial_reps = s.partial_reps;
  v.started_ms = s.started_ms;
  return v;
}

hmi::HistorySetView history_set_view(const storage::SetRow& s,
                                     const std::vector<storage::RepRow>& reps) {
  hmi::HistorySetView v = history_set_view(s);
  int counted = 0, on_tempo = 0;
  for (const auto& r : reps)
    if (!r.partial && r.n > 0) {
      ++counted;
      if (r.on_tempo) ++on_tempo;
    }
  if (counted > 0) v.on_tempo_pct = 100.0 * on_tempo / counted;
  return v;
}

void summarise(hmi::HistoryEntryView& e, const std::vector<std::vector<storage::RepRow>>& reps) {
  e.reps = 0;
  e.load_x_reps_n = 0;
  e.max_load_n = 0;
  e.tut_s = 0;
  int counted = 0, on_tempo = 0;
  for (const auto& s : e.sets) {
    e.reps += s.reps;
    e.load_x_reps_n += s.load_n * s.reps;
    e.max_load_n = std::max(e.max_load_n, s.load_n);
    e.tut_s += s.tut_s;
  }
  for (const auto& set_reps : reps)
    for (const auto& r : set_reps)
      if (!r.partial && r.n > 0) {
        ++counted;
        if (r.on_tempo) ++on_tempo;
      }
  e.on_tempo_pct.reset();
  if (counted > 0) e.on_tempo_pct = 100.0 * on_tempo / counted;
}

hmi::AssignmentView assignment_view(const storage::AssignmentRow& a) {
  return {a.id, a.programme_id, a.programme, a.started_ms, a.ended_ms};
}

hmi::SessionRecordView session_record_view(const storage::SessionSummaryRow& s) {
  return {s.id, s.started_ms, s.ended_ms, s.state};
}

hmi::StepView step_view(const storage::StepRow& s) {
  hmi::StepView v;
  v.step_id = s.id;
  v.mode = s.mode;
  v.sets = s.sets;
  v.target_reps = s.target_reps;
  v.hold_s = s.hold_s;
  v.load_n = s.load_n;
  v.load_pct = s.load_pct_max;
  v.tempo = s.tempo;
  v.rest_s = s.rest_s;
  v.force_drop_pct = s.force_drop_pct;
  v.eccentric_pct = s.eccentric_pct;
  v.progression = {s.progress_rule, s.progress_amount,
                   s.progress_when == "all_sets_target_on_tempo", std::nullopt};
  if (s.progress_double) {  // stored as the increment's rule plus the flag (schema 4)
    v.progression.rule = "double";
    v.progression.increment = s.progress_rule;
  }
  v.rep_min = s.rep_min;
  v.rep_max = s.rep_max;
  return v;
}

hmi::ProgrammeView programme_view(const storage::ProgrammeRow& p,
                                  const std::vector<storage::StepRow>& steps) {
  hmi::ProgrammeView v;
  v.id = p.id;
  v.name = p.name;
  v.description = p.notes;
  v.sessions_per_week = p.sessions_per_week;
  v.block_weeks = p.block_weeks;
  v.after_block_sessions_per_week = p.after_block_sessions_per_week;
  v.block_every_other_day = p.block_every_other_day;
  for (const auto& s : steps) v.steps.push_back(step_view(s));
  return v;
}

hmi::StorageHealthView storage_health_view(const storage::StorageHealth& h) {
  hmi::StorageHealthView v;
  v.ok = h.ok;
  v.open = h.open;
  v.last_error = h.last_error;
  v.pending_records = static_cast<std::uint64_t>(h.pending_records);
  v.records_committed = h.records_committed;
  v.samples_committed = h.samples_committed;
  v.transactions = h.transactions;
  v.traces_dropped = h.traces_dropped;
  v.records_overflowed = h.records_overflowed;
  v.records_lost = h.records_lost;
  v.faults = h.faults;
  return v;
}

hmi::OdometerView odometer_view(const storage::Odometer& o) {
  return {o.reps, o.sets, o.motor_on_s / 3600.0, o.highest_force_n, o.since_ms};
}

std::string export_json(const storage::MemberExport& ex) {
  // Times in Unix ms, as everywhere else.
  json::object root;
  hmi::MemberView mv = member_view(ex);
  if (ex.flag) {
    mv.flagged = true;
    mv.flag_reason = ex.flag->reason;
  }
  root["member"] = hmi::to_json(mv);
  std::vector<hmi::AssignmentView> assignments;
  assignments.reserve(ex.assignments.size());
  for (const auto& a : ex.assignments) assignments.push_back(assignment_view(a));
  root["assignments"] = hmi::to_json(assignments);
  std::vector<hmi::SessionRecordView> sessions;
  sessions.reserve(ex.sessions.size());
  for (const auto& s : ex.sessions) sessions.push_back(session_record_view(s));
  root["sessions"] = hmi::to_json(sessions);
  json::array sets;
  for (const auto& e : ex.sets) {
    json::object so = hmi::to_json(set_view(e.set, e.reps)).as_object();
    if (!e.trace.empty()) {
      json::array tr;
      tr.reserve(e.trace.size());
      for (const auto& p : e.trace)  // [t_s, force_n, position_mm]
        tr.push_back(
            json::array{hmi::number(p.t_s), hmi::number(p.force_n), hmi::number(p.position_mm)});
      so["trace"] = std::move(tr);
    }
    sets.push_back(std::move(so));
  }
  root["sets"] = std::move(sets);
  std::vector<hmi::ProgressionChangeView> changes;  // issue 13: the rules' change log
  for (const auto& r : ex.changes)
    changes.push_back({r.id, r.t_ms, r.session_id, r.step_id, r.change, r.level_before,
                       r.level_after, r.target_before, r.target_after, r.reason});
  root["progression"] = hmi::to_json(changes);
  root["exported_ms"] = ex.exported_ms;
  return hmi::write_json(root);
}

std::string export_sets_csv(const storage::MemberExport& ex) {
  std::vector<hmi::SetView> sets;
  for (const auto& set : std::ranges::reverse_view(ex.sets))
    sets.push_back(set_view(set.set, set.reps));  // with the fatigue index from its reps
  return hmi::sets_csv(sets);                     // newest first, as the store lists them
}

std::string export_reps_csv(const storage::MemberExport& ex) {
  std::vector<hmi::RepView> reps;
  for (const auto& e : ex.sets)  // oldest first, as a spreadsheet reads
    for (const auto& r : e.reps) reps.push_back(rep_view(r));
  return hmi::reps_csv(reps);
}

std::string member_csv(const storage::MemberExport& ex, std::optional<std::int64_t> from_ms,
                       std::optional<std::int64_t> to_ms, std::size_t* data_rows) {
  const auto& m = ex.member;
  const auto set_head = hmi::set_csv_header();
  const auto rep_head = hmi::rep_csv_header();
  std::vector<std::string> head = {"member_number", "member_name"};
  for (const auto& c : set_head) head.push_back(c == "id" ? "set_id" : c);
  for (std::size_t i = 1; i < rep_head.size(); ++i)
    head.push_back("rep_" + rep_head[i]);  // rep_head[0] is set_id
  std::string out = hmi::csv_line(head);
  std::size_t rows = 0;
  for (const auto& e : ex.sets) {  // oldest first
    if (from_ms && e.set.started_ms < *from_ms) continue;
    if (to_ms && e.set.started_ms >= *to_ms) continue;
    std::vector<std::string> front = {m.number, m.name};
    const auto set_cells = hmi::csv_cells(set_view(e.set));
    front.insert(front.end(), set_cells.begin(), set_cells.end());
    if (e.reps.empty()) {
      auto cells = front;
      cells.resize(head.size());
      out += hmi::csv_line(cells);
      ++rows;
    }
    for (const auto& r : e.reps) {
      auto cells = front;
      const auto rep_cells = hmi::csv_cells(rep_view(r));
      cells.insert(cells.end(), rep_cells.begin() + 1, rep_cells.end());
      out += hmi::csv_line(cells);
      ++rows;
    }
  }
  if (data_rows) *data_rows = rows;
  return out;
}

}  // namespace soleus::app
