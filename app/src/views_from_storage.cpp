#include "soleus/app/views_from_storage.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <ranges>

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
  if (s.ended_ms) v.duration_s = static_cast<double>(*s.ended_ms - s.started_ms) / 1000.0;
  return v;
}

hmi::SetView set_view(const storage::SetRow& s, const std::vector<storage::RepRow>& reps) {
  hmi::SetView v = set_view(s);
  v.rep_log_known = true;
  int counted = 0, partial = 0;
  double tut = 0;
  for (const auto& r : reps) {
    if (r.partial || r.n <= 0) {
      ++partial;
      continue;
    }
    ++counted;
    tut += r.tut_s;
    v.rep_log.push_back(rep_view(r));
  }
  if (!s.stop_reason) {
    // While the set runs, the committed reps are the truth the API may show.
    v.reps = counted;
    v.partial_reps = partial;
    v.tut_s = tut;
  }
  return v;
}

namespace {
template <class T>
json::value opt(const std::optional<T>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
}  // namespace

std::string export_json(const storage::MemberExport& ex) {
  // The member, assignments and sessions keep their export shape until the
  // member / programme / session views exist (issue 11, second part); times
  // in Unix ms as everywhere else.
  const auto& m = ex.member;
  json::object root;
  root["member"] = json::object{{"id", m.id},
                                {"number", m.number},
                                {"name", m.name},
                                {"has_pin", ex.has_pin},
                                {"rom_bottom_mm", hmi::number(m.rom_bottom_mm)},
                                {"rom_top_mm", hmi::number(m.rom_top_mm)},
                                {"assessed_max_n", hmi::number(m.assessed_max_n)},
                                {"created_ms", m.created_ms}};
  json::array assignments;
  for (const auto& a : ex.assignments)
    assignments.push_back(json::object{{"id", a.id},
                                       {"programme_id", a.programme_id},
                                       {"programme", a.programme},
                                       {"started_ms", a.started_ms},
                                       {"ended_ms", opt(a.ended_ms)}});
  root["assignments"] = std::move(assignments);
  json::array sessions;
  for (const auto& s : ex.sessions)
    sessions.push_back(json::object{{"id", s.id},
                                    {"started_ms", s.started_ms},
                                    {"ended_ms", opt(s.ended_ms)},
                                    {"state", s.state}});
  root["sessions"] = std::move(sessions);
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
  root["exported_ms"] = ex.exported_ms;
  return hmi::write_json(root);
}

std::string export_sets_csv(const storage::MemberExport& ex) {
  std::vector<hmi::SetView> sets;
  for (const auto& set : std::ranges::reverse_view(ex.sets)) sets.push_back(set_view(set.set));
  return hmi::sets_csv(sets);  // newest first, as the store lists them
}

std::string export_reps_csv(const storage::MemberExport& ex) {
  std::vector<hmi::RepView> reps;
  for (const auto& e : ex.sets)  // oldest first, as a spreadsheet reads
    for (const auto& r : e.reps) reps.push_back(rep_view(r));
  return hmi::reps_csv(reps);
}

}  // namespace soleus::app
