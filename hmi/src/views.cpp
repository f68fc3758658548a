// The one renderer of each resource (views.hpp), the one JSON serializer
// (write_json) and the exports' CSV rows.
#include "soleus/hmi/views.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>

#include "soleus/common/time.hpp"

namespace soleus::hmi {

namespace json = boost::json;

namespace {

double r3(double v) { return std::round(v * 1000.0) / 1000.0; }

template <class T>
json::value opt(const std::optional<T>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::value faults_json(const std::vector<FaultView>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& f : v) a.push_back(to_json(f));
  return a;
}

/// `s` as well-formed UTF-8: each invalid byte becomes U+FFFD. Error
/// messages quote what the client sent (method, path, query keys), and a
/// JSON reply must be UTF-8 (RFC 8259) even when the request was not.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b < 0x80) n = 1;
    else if (b >= 0xC2 && b <= 0xDF) n = 2;
    else if (b >= 0xE0 && b <= 0xEF)
      n = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b <= 0xF4)
      n = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    bool ok = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    }
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

/// Shortest round-trip text of a finite double ("500", "12.5").
void append_double(double d, std::string& out) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

void write_json_to(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; return;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case json::kind::int64: out += std::to_string(v.get_int64()); return;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); return;
    case json::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      append_double(d, out);
      return;
    }
    case json::kind::string:
      out += json::serialize(json::string_view(valid_utf8(v.get_string())));
      return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_json_to(e, out);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string_view(valid_utf8(kv.key())));
        out += ':';
        write_json_to(kv.value(), out);
      }
      out += '}';
      return;
    }
  }
}

/// A stored context: JSON text parsed, else kept as a string; null when absent.
json::value context_json(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec) return json::value(*text);
  return v;
}

}  // namespace

// ---- JSON ------------------------------------------------------------------------

json::value number(double v) {
  if (!std::isfinite(v)) return nullptr;
  return r3(v);
}

json::value number(const std::optional<double>& v) { return v ? number(*v) : json::value(nullptr); }

namespace {
/// A number unrounded (a calibration factor, a configured rate); null if not finite.
json::value exact(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}
}  // namespace

json::value to_json(const FaultView& v) {
  return json::object{{"code", v.code}, {"message", v.message}, {"since", v.since_ms}};
}

json::value to_json(const LoopView& v) {
  return json::object{{"hz", number(v.hz)},         {"p99_ms", number(v.p99_ms)},
                      {"overruns", v.overruns},     {"p50_ms", number(v.p50_ms)},
                      {"max_ms", number(v.max_ms)}, {"cycles", v.cycles}};
}

json::value to_json(const StatusView& v) {
  return json::object{
      {"state", v.state},
      {"position_mm", number(v.position_mm)},
      {"force_n", number(v.force_n)},
      {"load_n", number(v.load_n)},
      {"set_id", opt(v.set_id)},
      {"faults", faults_json(v.faults)},
      {"loop", to_json(v.loop)},
      {"velocity_mm_s", number(v.velocity_mm_s)},
      {"phase", v.phase},
      {"phase_progress", number(v.phase_progress)},
      {"reps", v.reps},
      {"tut_s", number(v.tut_s)},
      {"rest_remaining_s", number(v.rest_remaining_s)},
      {"range_note", opt(v.range_note)},
      {"range_age_days", number(v.range_age_days)},
  };
}

json::value to_json(const LiveFrame& v) {
  return json::object{
      {"t_ms", v.t_ms},
      {"force_n", number(v.force_n)},
      {"position_mm", number(v.position_mm)},
      {"velocity_mm_s", number(v.velocity_mm_s)},
      {"load_n", number(v.load_n)},
      {"state", v.state},
      {"phase", v.phase},
      {"phase_progress", number(v.phase_progress)},
      {"reps", v.reps},
      {"tut_s", number(v.tut_s)},
      {"faults", faults_json(v.faults)},
      {"set_id", opt(v.set_id)},
      {"range_bottom_mm", number(v.range_bottom_mm)},
      {"range_top_mm", number(v.range_top_mm)},
      {"rest_remaining_s", number(v.rest_remaining_s)},
      {"range_note", opt(v.range_note)},
      {"range_age_days", number(v.range_age_days)},
      {"last_rep", v.last_rep ? to_json(*v.last_rep) : json::value(nullptr)},
  };
}

json::value to_json(const RepFeedbackView& v) {
  return json::object{
      {"set_id", v.set_id},
      {"seq", v.seq},
      {"n", v.n},
      {"partial", v.partial},
      {"on_tempo", v.on_tempo},
      {"tempo", v.tempo},
      {"tempo_deviation_s", number(v.tempo_deviation_s)},
      {"rom_pct", number(v.rom_pct)},
  };
}

json::value to_json(const RepView& v) {
  return json::object{
      {"set_id", v.set_id},
      {"seq", v.seq},
      {"n", v.n},
      {"partial", v.partial},
      {"peak_force_n", number(v.peak_force_n)},
      {"mean_force_n", number(v.mean_force_n)},
      {"concentric_s", number(v.concentric_s)},
      {"top_pause_s", number(v.top_pause_s)},
      {"eccentric_s", number(v.eccentric_s)},
      {"bottom_pause_s", number(v.bottom_pause_s)},
      {"rom_mm", number(v.rom_mm)},
      {"rom_pct", number(v.rom_pct)},
      {"mean_velocity_mm_s", number(v.mean_velocity_mm_s)},
      {"smoothness", number(v.smoothness)},
      {"on_tempo", v.on_tempo},
      {"tempo_deviation_s", number(v.tempo_deviation_s)},
      {"tut_s", number(v.tut_s)},
      {"reversals", v.reversals},
      {"wobbly", v.wobbly},
      {"tempo", v.tempo},
  };
}

json::value to_json(const SetView& v) {
  json::value log = nullptr;
  if (v.rep_log_known) {
    json::array a;
    a.reserve(v.rep_log.size());
    for (const auto& r : v.rep_log) a.push_back(to_json(r));
    log = std::move(a);
  }
  return json::object{
      {"id", v.id},
      {"state", v.state},
      {"mode", v.mode},
      {"load_n", number(v.load_n)},
      {"tempo", v.tempo},
      {"reps", v.reps},
      {"partial_reps", v.partial_reps},
      {"tut_s", number(v.tut_s)},
      {"stop_reason", opt(v.stop_reason)},
      {"rep_log", std::move(log)},
      {"member_id", opt(v.member_id)},
      {"target_reps", opt(v.target_reps)},
      {"hold_s", number(v.hold_s)},
      {"started_ms", opt(v.started_ms)},
      {"ended_ms", opt(v.ended_ms)},
      {"session_id", opt(v.session_id)},
      {"force_drop_pct", number(v.force_drop_pct)},
      {"eccentric_pct", number(v.eccentric_pct)},
      {"range_bottom_mm", number(v.range_bottom_mm)},
      {"range_top_mm", number(v.range_top_mm)},
      {"range_calibrated", opt(v.range_calibrated)},
      {"range_note", opt(v.range_note)},
      {"range_age_days", number(v.range_age_days)},
      {"duration_s", number(v.duration_s)},
      {"best_output", number(v.best_output)},
      {"last_output", number(v.last_output)},
      {"fatigue_index_pct", number(v.fatigue_index_pct)},
      {"decline_n_per_rep", number(v.decline_n_per_rep)},
  };
}

json::value to_json(const EventView& v) {
  return json::object{
      {"id", opt(v.id)},
      {"t_ms", v.t_ms},
      {"time", common::iso_utc(v.t_ms)},
      {"severity", v.severity},
      {"code", v.code},
      {"message", v.message},
      {"set_id", opt(v.set_id)},
      {"context", context_json(v.context)},
  };
}

json::value to_json(const MemberView& v) {
  return json::object{
      {"id", v.id},
      {"number", v.number},
      {"name", v.name},
      {"has_pin", v.has_pin},
      {"assessed_max_n", number(v.assessed_max_n)},
      {"assessed_ms", opt(v.assessed_ms)},
      {"assessed_method", opt(v.assessed_method)},
      {"assessment_assigned", v.assessment_assigned_ms.has_value()},
      {"assessment_assigned_ms", opt(v.assessment_assigned_ms)},
      {"rom_bottom_mm", number(v.rom_bottom_mm)},
      {"rom_top_mm", number(v.rom_top_mm)},
      {"rom_measured_ms", opt(v.rom_measured_ms)},
      {"programme_id", opt(v.programme_id)},
      {"created_ms", v.created_ms},
      {"reassessment_due", v.reassessment_due},
      {"flagged", v.flagged},
      {"flag_reason", opt(v.flag_reason)},
  };
}

json::value to_json(const HistorySetView& v) {
  return json::object{
      {"set_id", v.set_id},
      {"mode", v.mode},
      {"load_n", number(v.load_n)},
      {"reps", v.reps},
      {"tut_s", number(v.tut_s)},
      {"stop_reason", opt(v.stop_reason)},
      {"partial_reps", v.partial_reps},
      {"on_tempo_pct", number(v.on_tempo_pct)},
      {"started_ms", opt(v.started_ms)},
  };
}

json::value to_json(const HistoryEntryView& v) {
  return json::object{
      {"session_id", opt(v.session_id)},
      {"date_ms", v.date_ms},
      {"programme_id", opt(v.programme_id)},
      {"programme", opt(v.programme)},
      {"sets", to_json(v.sets)},
      {"reps", v.reps},
      {"load_x_reps_n", number(v.load_x_reps_n)},
      {"max_load_n", number(v.max_load_n)},
      {"tut_s", number(v.tut_s)},
      {"on_tempo_pct", number(v.on_tempo_pct)},
  };
}

json::value to_json(const MemberStopEventView& v) {
  return json::object{
      {"t_ms", v.t_ms},
      {"time", common::iso_utc(v.t_ms)},
      {"set_id", v.set_id},
      {"reason", v.reason},
      {"rep", v.rep},
      {"reps", v.reps},
      {"session_id", opt(v.session_id)},
  };
}

namespace {
json::array numbers(const std::vector<double>& xs) {
  json::array a;
  a.reserve(xs.size());
  for (double x : xs) a.push_back(number(x));
  return a;
}
}  // namespace

json::value to_json(const TraceRepView& v) {
  return json::object{
      {"seq", v.seq},
      {"n", v.n},
      {"partial", v.partial},
      {"t", numbers(v.t)},
      {"force_n", numbers(v.force_n)},
      {"position_mm", numbers(v.position_mm)},
  };
}

json::value to_json(const SetTraceView& v) {
  return json::object{
      {"set_id", v.set_id},
      {"reps", to_json(v.reps)},
      {"between", json::object{{"t", numbers(v.between_t)},
                               {"force_n", numbers(v.between_force_n)},
                               {"position_mm", numbers(v.between_position_mm)}}},
  };
}

json::value to_json(const AssignmentView& v) {
  return json::object{
      {"id", v.id},
      {"programme_id", v.programme_id},
      {"programme", v.programme},
      {"started_ms", v.started_ms},
      {"ended_ms", opt(v.ended_ms)},
  };
}

json::value to_json(const SessionRecordView& v) {
  return json::object{
      {"id", v.id},
      {"started_ms", v.started_ms},
      {"ended_ms", opt(v.ended_ms)},
      {"state", v.state},
  };
}

json::value to_json(const ProgressionView& v) {
  json::object o{{"rule", v.rule}, {"amount", number(v.amount)}, {"on_tempo", v.on_tempo}};
  if (v.increment) o["increment"] = *v.increment;
  return o;
}

json::value to_json(const StepView& v) {
  return json::object{
      {"step_id", v.step_id},
      {"mode", v.mode},
      {"sets", v.sets},
      {"target_reps", opt(v.target_reps)},
      {"hold_s", number(v.hold_s)},
      {"load_n", number(v.load_n)},
      {"load_pct", number(v.load_pct)},
      {"tempo", v.tempo},
      {"rest_s", number(v.rest_s)},
      {"force_drop_pct", number(v.force_drop_pct)},
      {"eccentric_pct", number(v.eccentric_pct)},
      {"rep_min", opt(v.rep_min)},
      {"rep_max", opt(v.rep_max)},
      {"progression", to_json(v.progression)},
  };
}

json::value to_json(const ProgrammeView& v) {
  return json::object{
      {"id", v.id},
      {"name", v.name},
      {"description", v.description},
      {"sessions_per_week", v.sessions_per_week},
      {"block_weeks", opt(v.block_weeks)},
      {"after_block_sessions_per_week", opt(v.after_block_sessions_per_week)},
      {"block_every_other_day", v.block_every_other_day},
      {"steps", to_json(v.steps)},
  };
}

json::value to_json(const WeekCountView& v) {
  return json::object{{"week_start_ms", v.week_start_ms}, {"planned", v.planned}, {"done", v.done}};
}

json::value to_json(const ScheduleView& v) {
  return json::object{
      {"programme_id", opt(v.programme_id)},
      {"programme", opt(v.programme)},
      {"phase", opt(v.phase)},
      {"block_week", opt(v.block_week)},
      {"block_weeks", opt(v.block_weeks)},
      {"sessions_per_week", number(v.sessions_per_week)},
      {"next_due_ms", opt(v.next_due_ms)},
      {"next_due_in_days", opt(v.next_due_in_days)},
      {"this_week", to_json(v.this_week)},
      {"adherence", to_json(v.adherence)},
      {"consecutive_day_note", v.consecutive_day_note},
      {"reassessment_due", v.reassessment_due},
      {"reassessment_due_ms", opt(v.reassessment_due_ms)},
      {"flagged", v.flagged},
      {"flag_reason", opt(v.flag_reason)},
  };
}

json::value to_json(const ProgressionChangeView& v) {
  return json::object{
      {"id", v.id},
      {"t_ms", v.t_ms},
      {"session_id", opt(v.session_id)},
      {"step_id", opt(v.step_id)},
      {"change", v.change},
      {"level_before", v.level_before},
      {"level_after", v.level_after},
      {"target_before", opt(v.target_before)},
      {"target_after", opt(v.target_after)},
      {"reason", v.reason},
  };
}

json::value to_json(const StepCardView& v) {
  return json::object{
      {"index", v.index},
      {"count", v.count},
      {"step_id", v.step_id},
      {"mode", v.mode},
      {"sets", v.sets},
      {"set", v.set},
      {"target_reps", opt(v.target_reps)},
      {"hold_s", number(v.hold_s)},
      {"load_n", number(v.load_n)},
      {"load_basis", v.load_basis},
      {"tempo", v.tempo},
      {"rest_s", number(v.rest_s)},
      {"force_drop_pct", number(v.force_drop_pct)},
      {"eccentric_pct", number(v.eccentric_pct)},
  };
}

json::value to_json(const SessionSetView& v) {
  return json::object{
      {"set_id", v.set_id},
      {"step", v.step},
      {"set", v.set},
      {"reps", v.reps},
      {"stop_reason", opt(v.stop_reason)},
  };
}

json::value to_json(const SessionView& v) {
  return json::object{
      {"session_id", opt(v.session_id)},
      {"state", v.state},
      {"programme_id", v.programme_id},
      {"programme", v.programme},
      {"sessions_per_week", v.sessions_per_week},
      {"rest_remaining_s", number(v.rest_remaining_s)},
      {"step", v.step ? to_json(*v.step) : json::value(nullptr)},
      {"sets_done", to_json(v.sets_done)},
  };
}

json::value to_json(const StepOutcomeView& v) {
  return json::object{
      {"step_id", v.step_id},
      {"sets_done", v.sets_done},
      {"sets_at_target", v.sets_at_target},
      {"progressed", v.progressed},
      {"why", v.why},
  };
}

json::value to_json(const SessionSummaryView& v) {
  return json::object{
      {"state", v.state}, {"why", v.why}, {"sets", v.sets}, {"steps", to_json(v.steps)}};
}

json::value to_json(const SignalsView& v) {
  return json::object{
      {"drive.ready", v.drive_ready},
      {"drive.enabled", v.drive_enabled},
      {"drive.fault", v.drive_fault},
      {"drive.sto", v.drive_sto},
      {"drive.speed_limited", v.drive_speed_limited},
      {"drive.torque_limited", v.drive_torque_limited},
      {"drive.fault_code", v.drive_fault_code},
      {"drive.position_mm", number(v.drive_position_mm)},
      {"drive.velocity_mm_s", number(v.drive_velocity_mm_s)},
      {"drive.torque_pct", number(v.drive_torque_pct)},
      {"drive.force_n", number(v.drive_force_n)},
      {"drive.temperature_c", number(v.drive_temperature_c)},
      {"drive.bus_voltage_v", number(v.drive_bus_voltage_v)},
      {"load_cell.force_n", number(v.cell_force_n)},
      {"load_cell.stable", v.cell_stable},
      {"load_cell.overload", v.cell_overload},
      {"load_cell.adc_error", v.cell_adc_error},
      {"load_cell.tare_busy", v.cell_tare_busy},
      {"load_cell.counter", v.cell_counter},
      {"load_cell.span_factor", exact(v.span_factor)},
  };
}

json::value to_json(const BusView& v) {
  return json::object{
      {"cycles", v.cycles},
      {"transactions", v.transactions},
      {"timeouts", v.timeouts},
      {"crc_errors", v.crc_errors},
      {"drive_errors", v.drive_errors},
      {"cell_errors", v.cell_errors},
      {"reconnects", v.reconnects},
      {"bytes_tx", v.bytes_tx},
      {"bytes_rx", v.bytes_rx},
      {"comm_good", v.comm_good},
  };
}

json::value to_json(const DiagnosticsLoopView& v) {
  return json::object{
      {"hz", number(v.hz)},
      {"configured_hz", exact(v.configured_hz)},
      {"p50_ms", number(v.p50_ms)},
      {"p99_ms", number(v.p99_ms)},
      {"max_ms", number(v.max_ms)},
      {"recent", json::object{{"p50_ms", number(v.recent_p50_ms)},
                              {"p99_ms", number(v.recent_p99_ms)},
                              {"max_ms", number(v.recent_max_ms)},
                              {"window_s", number(v.recent_s)}}},
      {"overruns", v.overruns},
      {"cycles", v.cycles},
      {"commands_dropped", v.commands_dropped},
      {"trace_dropped", v.trace_dropped},
      {"events_lost", v.events_lost},
      {"reps_lost", v.reps_lost},
      {"results_lost", v.results_lost},
  };
}

json::value to_json(const StorageHealthView& v) {
  return json::object{
      {"ok", v.ok},
      {"open", v.open},
      {"last_error", v.last_error},
      {"pending_records", v.pending_records},
      {"records_committed", v.records_committed},
      {"samples_committed", v.samples_committed},
      {"transactions", v.transactions},
      {"traces_dropped", v.traces_dropped},
      {"records_overflowed", v.records_overflowed},
      {"records_lost", v.records_lost},
      {"faults", v.faults},
  };
}

json::value to_json(const OdometerView& v) {
  return json::object{
      {"reps", v.reps},
      {"sets", v.sets},
      {"motor_on_h", number(v.motor_on_h)},
      {"highest_force_n", number(v.highest_force_n)},
      {"since_ms", v.since_ms},
  };
}

json::value to_json(const RangeCheckView& v) {
  json::object o{
      {"ok", v.ok},
      {"top_mm", number(v.top_mm)},
      {"bottom_mm", number(v.bottom_mm)},
      {"travel_mm", number(v.travel_mm)},
      {"expected", json::object{{"bottom_mm", number(v.expected_bottom_mm)},
                                {"top_mm", number(v.expected_top_mm)},
                                {"top_tolerance_mm", number(v.top_tolerance_mm)},
                                {"bottom_tolerance_mm", number(v.bottom_tolerance_mm)}}},
      {"up_s", number(v.up_s)},
      {"down_s", number(v.down_s)},
      {"peak_motor_force_n", number(v.peak_motor_force_n)},
      {"why", v.why},
  };
  if (v.t_ms) o["t_ms"] = *v.t_ms;
  return o;
}

json::value to_json(const DiagnosticsView& v) {
  return json::object{
      {"signals", to_json(v.signals)},
      {"bus", to_json(v.bus)},
      {"loop", to_json(v.loop)},
      {"state", v.state},
      {"armed", v.armed},
      {"storage", v.storage ? to_json(*v.storage) : json::value(nullptr)},
      {"odometer", v.odometer ? to_json(*v.odometer) : json::value(nullptr)},
      {"range_check", v.range_check ? to_json(*v.range_check) : json::value(nullptr)},
  };
}

std::string write_json(const json::value& v) {
  std::string out;
  out.reserve(256);
  write_json_to(v, out);
  return out;
}

// ---- CSV -------------------------------------------------------------------------

namespace {

std::string cell(double v) {
  if (!std::isfinite(v)) return {};
  std::string out;
  append_double(r3(v), out);
  return out;
}
std::string cell(const std::optional<double>& v) { return v ? cell(*v) : std::string(); }
std::string cell(std::int64_t v) { return std::to_string(v); }
std::string cell(const std::optional<std::int64_t>& v) { return v ? cell(*v) : std::string(); }
std::string cell(const std::optional<int>& v) { return v ? std::to_string(*v) : std::string(); }
std::string flag(bool b) { return b ? "1" : "0"; }
std::string time_cell(const std::optional<std::int64_t>& ms) {
  return ms ? common::iso_utc(*ms) : std::string();
}

template <class V>
std::string table(const std::vector<std::string>& header, const std::vector<V>& rows) {
  std::string out = csv_line(header);
  for (const auto& r : rows) out += csv_line(csv_cells(r));
  return out;
}

}  // namespace

bool is_plain_number(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exp = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

std::string csv_field(std::string_view s) {
  // Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that
  // begins with = + - @ (or tab / CR, which some strip first) as a formula. A
  // leading ' makes it text. Plain numbers ("-12.5") stay numbers.
  std::string guarded;
  if (!s.empty() &&
      (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') &&
      !is_plain_number(s)) {
    guarded = "'";
    guarded += s;
    s = guarded;
  }
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_line(const std::vector<std::string>& cells) {
  std::string out;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i) out += ',';
    out += csv_field(cells[i]);
  }
  out += "\r\n";
  return out;
}

std::vector<std::string> set_csv_header() {
  return {"id",
          "member_id",
          "session_id",
          "started_at",
          "ended_at",
          "mode",
          "load_n",
          "tempo",
          "target_reps",
          "hold_s",
          "force_drop_pct",
          "eccentric_pct",
          "reps",
          "partial_reps",
          "tut_s",
          "stop_reason",
          "range_bottom_mm",
          "range_top_mm",
          "fatigue_index_pct",
          "decline_n_per_rep"};
}

std::vector<std::string> csv_cells(const SetView& v) {
  return {cell(v.id),
          cell(v.member_id),
          cell(v.session_id),
          time_cell(v.started_ms),
          time_cell(v.ended_ms),
          v.mode,
          cell(v.load_n),
          v.tempo,
          cell(v.target_reps),
          cell(v.hold_s),
          cell(v.force_drop_pct),
          cell(v.eccentric_pct),
          std::to_string(v.reps),
          std::to_string(v.partial_reps),
          cell(v.tut_s),
          v.stop_reason.value_or(""),
          cell(v.range_bottom_mm),
          cell(v.range_top_mm),
          cell(v.fatigue_index_pct),
          cell(v.decline_n_per_rep)};
}

std::vector<std::string> rep_csv_header() {
  return {"set_id",
          "seq",
          "n",
          "partial",
          "peak_force_n",
          "mean_force_n",
          "concentric_s",
          "top_pause_s",
          "eccentric_s",
          "bottom_pause_s",
          "rom_mm",
          "rom_pct",
          "mean_velocity_mm_s",
          "smoothness",
          "on_tempo",
          "tempo_deviation_s",
          "tut_s",
          "reversals",
          "wobbly",
          "tempo"};
}

std::vector<std::string> csv_cells(const RepView& v) {
  return {cell(v.set_id),
          std::to_string(v.seq),
          std::to_string(v.n),
          flag(v.partial),
          cell(v.peak_force_n),
          cell(v.mean_force_n),
          cell(v.concentric_s),
          cell(v.top_pause_s),
          cell(v.eccentric_s),
          cell(v.bottom_pause_s),
          cell(v.rom_mm),
          cell(v.rom_pct),
          cell(v.mean_velocity_mm_s),
          cell(v.smoothness),
          flag(v.on_tempo),
          cell(v.tempo_deviation_s),
          cell(v.tut_s),
          std::to_string(v.reversals),
          flag(v.wobbly),
          v.tempo};
}

std::vector<std::string> event_csv_header() {
  return {"id", "time", "severity", "code", "message", "set_id", "context"};
}

std::vector<std::string> csv_cells(const EventView& v) {
  return {cell(v.id),     common::iso_utc(v.t_ms), v.severity, v.code, v.message,
          cell(v.set_id), v.context.value_or("")};
}

std::string sets_csv(const std::vector<SetView>& sets) { return table(set_csv_header(), sets); }
std::string reps_csv(const std::vector<RepView>& reps) { return table(rep_csv_header(), reps); }
std::string events_csv(const std::vector<EventView>& events) {
  return table(event_csv_header(), events);
}

}  // namespace soleus::hmi
