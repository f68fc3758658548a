#include "soleus/app/json_views.hpp"

#include <cmath>

namespace soleus::app {

namespace json = boost::json;
using namespace controller;

namespace {
double r3(double v) { return std::round(v * 1000.0) / 1000.0; }
}  // namespace

json::object to_json(const Event& e) {
  json::object o;
  o["t_s"] = r3(e.t_s);
  o["severity"] = to_string(e.severity);
  o["code"] = to_string(e.code);
  o["message"] = std::string(e.text_view());
  o["value"] = e.value;
  if (e.set_id) o["set_id"] = e.set_id;
  return o;
}

json::object to_json(const RepRecord& r) {
  json::object o;
  o["set_id"] = r.set_id;
  o["seq"] = r.seq;
  o["n"] = r.n;
  o["counted"] = r.counted;
  o["peak_force_n"] = r3(r.peak_force_n);
  o["mean_force_n"] = r3(r.mean_force_n);
  o["concentric_s"] = r3(r.concentric_s);
  o["top_pause_s"] = r3(r.top_pause_s);
  o["eccentric_s"] = r3(r.eccentric_s);
  o["bottom_pause_s"] = r3(r.bottom_pause_s);
  o["rom_mm"] = r3(r.rom_mm);
  o["rom_pct"] = r3(r.rom_pct);
  o["mean_velocity_mm_s"] = r3(r.mean_velocity_mm_s);
  o["smoothness"] = r3(r.smoothness);
  o["on_tempo"] = r.on_tempo;
  o["tempo_deviation_s"] = r3(r.tempo_deviation_s);
  o["tut_s"] = r3(r.tut_s);
  return o;
}

json::object to_json(const SetResult& r) {
  json::object o;
  o["set_id"] = r.set_id;
  o["mode"] = to_string(r.mode);
  o["stop_reason"] = to_string(r.reason);
  o["reps"] = r.reps;
  o["partial_reps"] = r.partial_reps;
  o["tut_s"] = r3(r.tut_s);
  o["duration_s"] = r3(r.t_end_s - r.t_start_s);
  o["best_output"] = r3(r.best_output);
  o["last_output"] = r3(r.last_output);
  o["range_bottom_mm"] = r3(r.range.bottom_mm);
  o["range_top_mm"] = r3(r.range.top_mm);
  o["range_calibrated"] = r.range_calibrated;
  return o;
}

json::object to_json(const TraceSample& t) {
  json::object o;
  o["t_s"] = t.t_s;
  o["position_mm"] = t.position_mm;
  o["velocity_mm_s"] = t.velocity_mm_s;
  o["force_n"] = t.force_n;
  o["motor_n"] = t.motor_n;
  o["load_n"] = t.load_n;
  o["state"] = to_string(t.state);
  o["phase"] = to_string(t.phase);
  return o;
}

json::object status_json(const Snapshot& s) {
  json::object o;
  o["state"] = to_string(s.ctl.state);
  o["position_mm"] = r3(s.drive.position_mm);
  o["velocity_mm_s"] = r3(s.drive.velocity_mm_s);
  o["force_n"] = r3(s.cell.force_n);
  o["load_n"] = r3(s.ctl.load_n);
  if (s.ctl.set_running || s.ctl.set_id) o["set_id"] = s.ctl.set_id;
  else o["set_id"] = nullptr;
  o["phase"] = to_string(s.ctl.cue_phase);
  o["phase_progress"] = r3(s.ctl.cue_progress);
  o["reps"] = s.ctl.reps;
  o["tut_s"] = r3(s.ctl.tut_s);
  if (s.ctl.set_running && s.ctl.state == SetState::Active && s.ctl.resting)
    o["rest_remaining_s"] = r3(s.ctl.rest_remaining_s);
  else
    o["rest_remaining_s"] = nullptr;
  json::array faults;
  for (int i = 0; i < s.fault_count; ++i) {
    const auto& f = s.faults[static_cast<std::size_t>(i)];
    json::object fo;
    fo["code"] = to_string(f.fault);
    std::string msg = message(f.fault);
    if (f.fault == Fault::DriveFault && s.drive_fault_name[0])
      msg = std::string("drive fault ") + std::to_string(s.drive_fault_code) + " (" +
            s.drive_fault_name.data() + "): " + msg;
    fo["message"] = msg;
    fo["since"] = r3(f.since_s);
    faults.push_back(std::move(fo));
  }
  o["faults"] = std::move(faults);
  json::object loop;
  loop["hz"] = s.loop.hz;
  loop["p50_ms"] = r3(s.loop.p50_ms);
  loop["p99_ms"] = r3(s.loop.p99_ms);
  loop["max_ms"] = r3(s.loop.max_ms);
  loop["overruns"] = s.loop.overruns;
  loop["cycles"] = s.loop.cycles;
  o["loop"] = std::move(loop);
  return o;
}

}  // namespace soleus::app
