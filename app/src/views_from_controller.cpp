#include "soleus/app/views_from_controller.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <string>

#include "soleus/app/backend.hpp"
#include "soleus/app/views_from_storage.hpp"  // wall_ms_of_loop_time

namespace soleus::app {

namespace json = boost::json;
using namespace controller;

hmi::EventView event_view(const Event& e) {
  hmi::EventView v;
  v.t_ms = wall_ms_of_loop_time(e.t_s);
  v.severity = to_string(e.severity);
  v.code = to_string(e.code);
  v.message = std::string(e.text_view());
  if (e.set_id) v.set_id = e.set_id;
  if (e.value != 0) v.context = hmi::write_json(json::object{{"value", e.value}});
  return v;
}

storage::EventRecord event_record(const Event& e) {
  storage::EventRecord r;
  r.t_ms = wall_ms_of_loop_time(e.t_s);
  r.severity = e.severity == Severity::Error     ? storage::Severity::Error
               : e.severity == Severity::Warning ? storage::Severity::Warning
                                                 : storage::Severity::Info;
  r.code.assign(to_string(e.code));
  r.message = e.text_view();
  if (auto ctx = event_view(e).context) r.context.assign(*ctx);  // the views' one context
  r.set_id = e.set_id;
  return r;
}

storage::RepRecord rep_record(const RepRecord& x) {
  storage::RepRecord r;
  r.set_id = x.set_id;
  r.seq = x.seq;
  r.n = x.n;
  r.partial = !x.counted;
  r.t_start_s = x.t_start_s;
  r.peak_force_n = x.peak_force_n;
  r.mean_force_n = x.mean_force_n;
  r.concentric_s = x.concentric_s;
  r.top_pause_s = x.top_pause_s;
  r.eccentric_s = x.eccentric_s;
  r.bottom_pause_s = x.bottom_pause_s;
  r.rom_mm = x.rom_mm;
  r.rom_pct = x.rom_pct;
  r.mean_velocity_mm_s = x.mean_velocity_mm_s;
  r.smoothness = x.smoothness;
  r.on_tempo = x.on_tempo;
  r.tempo_deviation_s = x.tempo_deviation_s;
  r.tut_s = x.tut_s;
  r.reversals = x.reversals;
  r.wobbly = x.wobbly;
  return r;
}

hmi::RepView rep_view(const RepRecord& r) { return app::rep_view(rep_record(r)); }

hmi::RepFeedbackView rep_feedback_view(const RepRecord& r) {
  const hmi::RepView v = rep_view(r);  // the tempo verdict as the rep_log has it
  return {v.set_id, v.seq, v.n, v.partial, v.on_tempo, v.tempo, v.tempo_deviation_s, v.rom_pct};
}

hmi::SetView set_view(const SetResult& r, const std::optional<storage::SetStartRecord>& start) {
  hmi::SetView v;
  if (start) {
    v.load_n = start->load_n;
    v.tempo = std::string(start->tempo.view());
    if (start->member_id) v.member_id = start->member_id;
    if (start->session_id) v.session_id = start->session_id;
    if (start->target_reps) v.target_reps = start->target_reps;
    if (start->hold_s > 0) v.hold_s = start->hold_s;
    v.force_drop_pct = start->force_drop_pct;
    v.eccentric_pct = start->eccentric_pct;
  }
  v.id = r.set_id;
  v.state = "done";
  v.mode = to_string(r.mode);
  v.stop_reason = to_string(r.reason);
  v.reps = r.reps;
  v.partial_reps = r.partial_reps;
  v.tut_s = r.tut_s;
  v.rep_log_known = false;  // the reps went out one by one
  v.started_ms = wall_ms_of_loop_time(r.t_start_s);
  v.ended_ms = wall_ms_of_loop_time(r.t_end_s);
  v.duration_s = r.t_end_s - r.t_start_s;
  v.best_output = r.best_output;
  v.last_output = r.last_output;
  v.range_bottom_mm = r.range.bottom_mm;
  v.range_top_mm = r.range.top_mm;
  v.range_calibrated = r.range_calibrated;
  if (r.range_note != RangeNote::None) v.range_note = to_string(r.range_note);
  if (r.range_age_days >= 0) v.range_age_days = r.range_age_days;
  return v;
}

std::vector<hmi::FaultView> fault_views(const Snapshot& s) {
  std::vector<hmi::FaultView> out;
  for (int i = 0; i < s.fault_count; ++i) {
    const auto& f = s.faults[static_cast<std::size_t>(i)];
    std::string msg = message(f.fault);
    if (f.fault == Fault::DriveFault && s.drive_fault_name[0])
      msg = std::string("drive fault ")
                .append(std::to_string(s.drive_fault_code))
                .append(" (")
                .append(s.drive_fault_name.data())
                .append("): ")
                .append(msg);
    out.push_back({to_string(f.fault), msg, wall_ms_of_loop_time(f.since_s)});
  }
  return out;
}

hmi::StatusView status_view(const Snapshot& s) {
  hmi::StatusView v;
  v.state = to_string(s.ctl.state);
  v.position_mm = s.drive.position_mm;
  v.force_n = s.cell.force_n;
  v.load_n = s.ctl.load_n;
  if (s.ctl.set_running) v.set_id = s.ctl.set_id;
  v.faults = fault_views(s);
  v.loop.hz = s.loop.p50_ms > 0 ? 1000.0 / s.loop.p50_ms : s.loop.hz;  // measured
  v.loop.p99_ms = s.loop.p99_ms;
  v.loop.overruns = s.loop.overruns;
  v.loop.p50_ms = s.loop.p50_ms;
  v.loop.max_ms = s.loop.max_ms;
  v.loop.cycles = s.loop.cycles;
  v.velocity_mm_s = s.drive.velocity_mm_s;
  v.phase = to_string(s.ctl.cue_phase);
  v.phase_progress = s.ctl.cue_progress;
  v.reps = s.ctl.reps;
  v.tut_s = s.ctl.tut_s;
  if (s.ctl.set_running && s.ctl.state == SetState::Active && s.ctl.resting)
    v.rest_remaining_s = s.ctl.rest_remaining_s;
  if (s.ctl.set_running && s.ctl.range_note != RangeNote::None)
    v.range_note = to_string(s.ctl.range_note);
  if (s.ctl.set_running && s.ctl.range_age_days >= 0) v.range_age_days = s.ctl.range_age_days;
  return v;
}

hmi::LiveFrame live_frame(const Snapshot& s) {
  hmi::LiveFrame f;
  f.t_ms = wall_ms_of_loop_time(s.t_s);
  f.force_n = s.cell.force_n;
  f.position_mm = s.drive.position_mm;
  f.velocity_mm_s = s.drive.velocity_mm_s;
  f.load_n = s.ctl.load_n;
  f.state = to_string(s.ctl.state);
  f.phase = to_string(s.ctl.cue_phase);
  f.phase_progress = s.ctl.cue_progress;
  f.reps = s.ctl.reps;
  f.tut_s = s.ctl.tut_s;
  f.faults = fault_views(s);
  if (s.ctl.set_running) f.set_id = s.ctl.set_id;
  if (s.ctl.range_known) {
    f.range_bottom_mm = s.ctl.range.bottom_mm;
    f.range_top_mm = s.ctl.range.top_mm;
  }
  if (s.ctl.set_running && s.ctl.state == SetState::Active && s.ctl.resting)
    f.rest_remaining_s = s.ctl.rest_remaining_s;
  if (s.ctl.set_running && s.ctl.range_note != RangeNote::None)
    f.range_note = to_string(s.ctl.range_note);
  if (s.ctl.set_running && s.ctl.range_age_days >= 0) f.range_age_days = s.ctl.range_age_days;
  return f;
}

json::value trace_json(const TraceSample& t) {
  auto raw = [](double v) { return std::isfinite(v) ? json::value(v) : json::value(nullptr); };
  return json::object{{"t_s", raw(t.t_s)},
                      {"position_mm", raw(t.position_mm)},
                      {"velocity_mm_s", raw(t.velocity_mm_s)},
                      {"force_n", raw(t.force_n)},
                      {"motor_n", raw(t.motor_n)},
                      {"load_n", raw(t.load_n)},
                      {"state", to_string(t.state)},
                      {"phase", to_string(t.phase)}};
}

hmi::DiagnosticsView diagnostics_view(const controller::Snapshot& s) {
  hmi::DiagnosticsView v;
  auto& g = v.signals;
  g.drive_ready = s.drive.ready;
  g.drive_enabled = s.drive.enabled;
  g.drive_fault = s.drive.fault;
  g.drive_sto = s.drive.sto;
  g.drive_speed_limited = s.drive.speed_limited;
  g.drive_torque_limited = s.drive.torque_limited;
  g.drive_fault_code = s.drive.fault_code;
  g.drive_position_mm = s.drive.position_mm;
  g.drive_velocity_mm_s = s.drive.velocity_mm_s;
  g.drive_torque_pct = s.drive.torque_pct;
  g.drive_force_n = s.drive.force_n;
  g.drive_temperature_c = s.drive.temperature_c;
  g.drive_bus_voltage_v = s.drive.bus_voltage_v;
  g.cell_force_n = s.cell.force_n;
  g.cell_stable = s.cell.stable;
  g.cell_overload = s.cell.overload;
  g.cell_adc_error = s.cell.adc_error;
  g.cell_tare_busy = s.cell.tare_busy;
  g.cell_counter = s.cell.counter;
  g.span_factor = s.force_gain;
  v.bus = {s.io.cycles,      s.io.transactions, s.io.timeouts, s.io.crc_errors, s.io.drive_errors,
           s.io.cell_errors, s.io.reconnects,   s.io.bytes_tx, s.io.bytes_rx,   s.comm_good};
  auto& l = v.loop;
  l.hz = s.loop.p50_ms > 0 ? 1000.0 / s.loop.p50_ms : s.loop.hz;
  l.configured_hz = s.loop.hz;
  l.p50_ms = s.loop.p50_ms;
  l.p99_ms = s.loop.p99_ms;
  l.max_ms = s.loop.max_ms;
  l.recent_p50_ms = s.loop.recent_p50_ms;
  l.recent_p99_ms = s.loop.recent_p99_ms;
  l.recent_max_ms = s.loop.recent_max_ms;
  l.recent_s = s.loop.recent_s;
  l.overruns = s.loop.overruns;
  l.cycles = s.loop.cycles;
  l.commands_dropped = s.loop.commands_dropped;
  l.trace_dropped = s.loop.trace_dropped;
  l.events_lost = s.loop.events_lost;
  l.reps_lost = s.loop.reps_lost;
  l.results_lost = s.loop.results_lost;
  v.state = controller::to_string(s.ctl.state);
  v.armed = s.armed;
  return v;
}

}  // namespace soleus::app
