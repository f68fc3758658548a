#include "soleus/storage/queries.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "soleus/common/time.hpp"

namespace soleus::storage {

namespace json = boost::json;

// ---- events ----------------------------------------------------------------

namespace {

struct Built {
  std::string sql;
  std::vector<std::pair<int, std::int64_t>> ints;
  std::vector<std::pair<int, std::string>> texts;
};

Built build_events_query(const EventFilter& f, bool count_only = false) {
  if (f.limit < 1 || f.limit > 1000) throw std::invalid_argument("limit: must be 1..1000");
  if (f.offset < 0 || f.offset > 100000) throw std::invalid_argument("offset: must be 0..100000");
  Built b;
  std::ostringstream w;
  int p = 0;
  if (count_only) w << "SELECT count(*) FROM events WHERE 1";
  else w << "SELECT id, t_ms, severity, code, message, set_id, context FROM events WHERE 1";
  if (f.since_ms) {
    w << " AND t_ms >= ?" << ++p;
    b.ints.emplace_back(p, *f.since_ms);
  }
  if (f.until_ms) {
    w << " AND t_ms < ?" << ++p;
    b.ints.emplace_back(p, *f.until_ms);
  }
  if (f.min_severity && *f.min_severity != Severity::Info) {
    // The worst severity is an equality: the (severity, t_ms) index then
    // gives the rows already in order.
    if (*f.min_severity == Severity::Error) w << " AND severity = ?" << ++p;
    else w << " AND severity >= ?" << ++p;
    b.ints.emplace_back(p, static_cast<std::int64_t>(*f.min_severity));
  }
  if (f.code) {
    w << " AND code = ?" << ++p;
    b.texts.emplace_back(p, *f.code);
  }
  if (f.set_id) {
    w << " AND set_id = ?" << ++p;
    b.ints.emplace_back(p, *f.set_id);
  }
  if (f.before && !count_only) {
    // (t_ms, id) < cursor, written so the planner sees a range on t_ms.
    int t = ++p, id = ++p;
    w << " AND t_ms <= ?" << t << " AND (t_ms < ?" << t << " OR id < ?" << id << ")";
    b.ints.emplace_back(t, f.before->t_ms);
    b.ints.emplace_back(id, f.before->id);
  }
  if (!count_only) {
    w << " ORDER BY t_ms DESC, id DESC LIMIT ?" << ++p;
    b.ints.emplace_back(p, f.limit + 1);  // one more than asked: is there a next page?
    w << " OFFSET ?" << ++p;
    b.ints.emplace_back(p, f.offset);
  }
  b.sql = w.str();
  return b;
}

/// Turns before_id into a (t_ms, id) cursor.
EventFilter resolve(Database& db, const EventFilter& f) {
  EventFilter r = f;
  if (!r.before && r.before_id) {
    auto st = db.prepare("SELECT t_ms FROM events WHERE id = ?1");
    st.bind(1, *r.before_id);
    // An id that is gone (or never was) still pages: by id against the newest time.
    r.before = EventCursor{st.step() ? st.int64(0) : INT64_MAX, *r.before_id};
  }
  return r;
}

void bind_all(Statement& st, const Built& b) {
  for (const auto& [i, v] : b.ints) st.bind(i, v);
  for (const auto& [i, v] : b.texts) st.bind(i, v);
}

}  // namespace

EventPage query_events(Database& db, const EventFilter& filter) {
  const EventFilter f = resolve(db, filter);
  Built b = build_events_query(f);
  auto st = db.prepare(b.sql);
  bind_all(st, b);
  EventPage page;
  while (st.step()) {
    EventRow e;
    e.id = st.int64(0);
    e.t_ms = st.int64(1);
    e.severity = static_cast<Severity>(std::clamp<std::int64_t>(st.int64(2), 0, 2));
    e.code = st.text(3);
    e.message = st.text(4);
    e.set_id = st.opt_int64(5);
    e.context = st.opt_text(6);
    page.rows.push_back(std::move(e));
  }
  if (page.rows.size() > static_cast<std::size_t>(f.limit)) {
    page.rows.pop_back();
    page.next = EventCursor{page.rows.back().t_ms, page.rows.back().id};
  }
  return page;
}

std::int64_t count_events(Database& db, const EventFilter& f) {
  Built b = build_events_query(f, true);
  auto st = db.prepare(b.sql);
  bind_all(st, b);
  return st.step() ? st.int64(0) : 0;
}

std::vector<std::string> explain_events_query(Database& db, const EventFilter& filter) {
  const EventFilter f = resolve(db, filter);
  Built b = build_events_query(f);
  auto st = db.prepare("EXPLAIN QUERY PLAN " + b.sql);
  bind_all(st, b);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(3));
  return out;
}

// ---- sets and reps -------------------------------------------------------------

namespace {

constexpr const char* kSetColumns =
    "id, session_id, member_id, step_id, set_index, started_ms, ended_ms, mode, tempo, load_n, "
    "target_reps, hold_s, force_drop_pct, eccentric_pct, stop_reason, reps, partial_reps, tut_s, "
    "range_bottom_mm, range_top_mm, range_calibrated";

SetRow read_set(const Statement& st) {
  SetRow s;
  s.id = st.int64(0);
  s.session_id = st.opt_int64(1);
  s.member_id = st.opt_int64(2);
  s.step_id = st.opt_int64(3);
  if (auto v = st.opt_int64(4)) s.set_index = static_cast<int>(*v);
  s.started_ms = st.int64(5);
  s.ended_ms = st.opt_int64(6);
  s.mode = st.text(7);
  s.tempo = st.text(8);
  s.load_n = st.real(9);
  if (auto v = st.opt_int64(10)) s.target_reps = static_cast<int>(*v);
  s.hold_s = st.opt_real(11);
  s.force_drop_pct = st.opt_real(12);
  s.eccentric_pct = st.opt_real(13);
  s.stop_reason = st.opt_text(14);
  s.reps = st.int32(15);
  s.partial_reps = st.int32(16);
  s.tut_s = st.real(17);
  s.range_bottom_mm = st.opt_real(18);
  s.range_top_mm = st.opt_real(19);
  s.range_calibrated = st.int64(20) != 0;
  return s;
}

Built build_sets_query(const SetFilter& f, const std::string& columns) {
  if (f.limit < 1 || f.limit > 100000) throw std::invalid_argument("limit: must be 1..100000");
  Built b;
  std::ostringstream w;
  int p = 0;
  w << "SELECT " << columns << " FROM sets WHERE 1";
  if (f.member_id) {
    w << " AND member_id = ?" << ++p;
    b.ints.emplace_back(p, *f.member_id);
  }
  if (f.from_ms) {
    w << " AND started_ms >= ?" << ++p;
    b.ints.emplace_back(p, *f.from_ms);
  }
  if (f.to_ms) {
    w << " AND started_ms < ?" << ++p;
    b.ints.emplace_back(p, *f.to_ms);
  }
  if (f.before_id) {
    w << " AND id < ?" << ++p;
    b.ints.emplace_back(p, *f.before_id);
  }
  w << " ORDER BY started_ms DESC, id DESC LIMIT ?" << ++p;
  b.ints.emplace_back(p, f.limit);
  b.sql = w.str();
  return b;
}

RepRow read_rep(const Statement& st) {
  RepRow r;
  r.set_id = st.int64(0);
  r.seq = st.int32(1);
  r.n = st.int32(2);
  r.partial = st.int64(3) != 0;
  r.t_start_s = st.real(4);
  r.peak_force_n = st.real(5);
  r.mean_force_n = st.real(6);
  r.concentric_s = st.real(7);
  r.top_pause_s = st.real(8);
  r.eccentric_s = st.real(9);
  r.bottom_pause_s = st.real(10);
  r.rom_mm = st.real(11);
  r.rom_pct = st.real(12);
  r.mean_velocity_mm_s = st.real(13);
  r.smoothness = st.real(14);
  r.on_tempo = st.int64(15) != 0;
  r.tempo_deviation_s = st.real(16);
  r.tut_s = st.real(17);
  r.reversals = st.int32(18);
  r.wobbly = st.int64(19) != 0;
  return r;
}

constexpr const char* kRepColumns =
    "set_id, seq, n, partial, t_start_s, peak_force_n, mean_force_n, concentric_s, top_pause_s, "
    "eccentric_s, bottom_pause_s, rom_mm, rom_pct, mean_velocity_mm_s, smoothness, on_tempo, "
    "tempo_deviation_s, tut_s, reversals, wobbly";

}  // namespace

std::vector<SetRow> query_sets(Database& db, const SetFilter& f) {
  Built b = build_sets_query(f, kSetColumns);
  auto st = db.prepare(b.sql);
  bind_all(st, b);
  std::vector<SetRow> out;
  while (st.step()) out.push_back(read_set(st));
  return out;
}

std::optional<SetRow> get_set(Database& db, std::int64_t set_id) {
  auto st = db.prepare(std::string("SELECT ") + kSetColumns + " FROM sets WHERE id = ?1");
  st.bind(1, set_id);
  if (!st.step()) return std::nullopt;
  return read_set(st);
}

std::vector<RepRow> get_reps(Database& db, std::int64_t set_id) {
  auto st = db.prepare(std::string("SELECT ") + kRepColumns +
                       " FROM reps WHERE set_id = ?1 ORDER BY seq");
  st.bind(1, set_id);
  std::vector<RepRow> out;
  while (st.step()) out.push_back(read_rep(st));
  return out;
}

namespace {
std::vector<TracePoint> read_chunks(Database& db, std::int64_t set_id, double from, double to) {
  auto st = db.prepare(
      "SELECT t0_s, samples, time_scale_s, force_scale_n, position_scale_mm, data "
      "FROM rep_traces WHERE set_id = ?1 AND t1_s >= ?2 AND t0_s <= ?3 ORDER BY t0_s");
  st.bind(1, set_id).bind(2, from).bind(3, to);
  std::vector<TracePoint> out;
  while (st.step()) {
    TraceScales sc{st.real(2), st.real(3), st.real(4)};
    auto pts = decode_trace(st.blob(5), st.int64(1), st.real(0), sc);
    if (!pts) continue;  // a damaged chunk is skipped, not fatal
    for (const auto& p : *pts)
      if (p.t_s >= from - 1e-6 && p.t_s <= to + 1e-6) out.push_back(p);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const TracePoint& a, const TracePoint& b) { return a.t_s < b.t_s; });
  return out;
}
}  // namespace

std::vector<TracePoint> get_rep_trace(Database& db, std::int64_t set_id, int seq) {
  auto st = db.prepare(
      "SELECT t_start_s, t_start_s + concentric_s + top_pause_s + eccentric_s + bottom_pause_s "
      "FROM reps WHERE set_id = ?1 AND seq = ?2");
  st.bind(1, set_id).bind(2, seq);
  if (!st.step()) return {};
  return read_chunks(db, set_id, st.real(0), st.real(1));
}

std::vector<TracePoint> get_set_trace(Database& db, std::int64_t set_id) {
  return read_chunks(db, set_id, -1e300, 1e300);
}

// ---- renderings ----------------------------------------------------------------

json::object event_to_json(const EventRow& e) {
  json::object o;
  o["id"] = e.id;
  o["t_ms"] = e.t_ms;
  o["time"] = common::iso_utc(e.t_ms);
  o["severity"] = to_string(e.severity);
  o["code"] = e.code;
  o["message"] = e.message;
  o["set_id"] = e.set_id ? json::value(*e.set_id) : json::value(nullptr);
  json::value ctx = nullptr;
  if (e.context) {
    boost::system::error_code ec;
    ctx = json::parse(*e.context, ec);
    if (ec) ctx = json::value(*e.context);
  }
  o["context"] = std::move(ctx);
  return o;
}

json::object rep_to_json(const RepRow& r) {
  json::object o;
  o["n"] = r.n;
  o["seq"] = r.seq;
  o["partial"] = r.partial;
  o["peak_force_n"] = r.peak_force_n;
  o["mean_force_n"] = r.mean_force_n;
  o["concentric_s"] = r.concentric_s;
  o["top_pause_s"] = r.top_pause_s;
  o["eccentric_s"] = r.eccentric_s;
  o["bottom_pause_s"] = r.bottom_pause_s;
  o["rom_mm"] = r.rom_mm;
  o["rom_pct"] = r.rom_pct;
  o["mean_velocity_mm_s"] = r.mean_velocity_mm_s;
  o["smoothness"] = r.smoothness;
  o["on_tempo"] = r.on_tempo;
  o["tempo_deviation_s"] = r.tempo_deviation_s;
  o["tut_s"] = r.tut_s;
  o["reversals"] = r.reversals;
  o["wobbly"] = r.wobbly;
  return o;
}

json::object set_to_json(const SetRow& s, const std::vector<RepRow>* reps) {
  auto opt = [](const auto& v) { return v ? json::value(*v) : json::value(nullptr); };
  json::object o;
  o["id"] = s.id;
  o["state"] = s.ended_ms ? "done" : "active";
  o["mode"] = s.mode;
  o["load_n"] = s.load_n;
  o["tempo"] = s.tempo;
  o["target_reps"] = opt(s.target_reps);
  o["hold_s"] = opt(s.hold_s);
  o["force_drop_pct"] = opt(s.force_drop_pct);
  o["eccentric_pct"] = opt(s.eccentric_pct);
  o["member_id"] = opt(s.member_id);
  o["session_id"] = opt(s.session_id);
  o["started_at"] = common::iso_utc(s.started_ms);
  o["ended_at"] = s.ended_ms ? json::value(common::iso_utc(*s.ended_ms)) : json::value(nullptr);
  o["reps"] = s.reps;
  o["partial_reps"] = s.partial_reps;
  o["tut_s"] = s.tut_s;
  o["stop_reason"] = opt(s.stop_reason);
  if (reps) {
    json::array log;
    int counted = 0, partial = 0;
    for (const auto& r : *reps) {
      if (r.partial) ++partial;
      else {
        ++counted;
        log.push_back(rep_to_json(r));
      }
    }
    o["rep_log"] = std::move(log);
    // While the set runs, the committed reps are the truth the API may show.
    if (!s.ended_ms) {
      o["reps"] = counted;
      o["partial_reps"] = partial;
    }
  }
  return o;
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {
template <class T>
std::string num(const T& v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}
template <class T>
std::string num(const std::optional<T>& v) {
  return v ? num(*v) : std::string();
}
}  // namespace

std::string sets_csv(Database& db, const SetFilter& f) {
  std::ostringstream os;
  os << "id,member_id,session_id,started_at,ended_at,mode,load_n,tempo,target_reps,hold_s,"
        "force_drop_pct,eccentric_pct,reps,partial_reps,tut_s,stop_reason,range_bottom_mm,"
        "range_top_mm\r\n";
  for (const auto& s : query_sets(db, f)) {
    os << s.id << ',' << num(s.member_id) << ',' << num(s.session_id) << ','
       << common::iso_utc(s.started_ms) << ','
       << (s.ended_ms ? common::iso_utc(*s.ended_ms) : "") << ','
       << csv_field(s.mode) << ',' << num(s.load_n) << ',' << csv_field(s.tempo) << ','
       << num(s.target_reps) << ',' << num(s.hold_s) << ',' << num(s.force_drop_pct) << ','
       << num(s.eccentric_pct) << ',' << s.reps << ',' << s.partial_reps << ',' << num(s.tut_s)
       << ',' << csv_field(s.stop_reason.value_or("")) << ',' << num(s.range_bottom_mm) << ','
       << num(s.range_top_mm) << "\r\n";
  }
  return os.str();
}

std::string reps_csv(Database& db, const SetFilter& f) {
  std::ostringstream os;
  os << "set_id,seq,n,partial,peak_force_n,mean_force_n,concentric_s,top_pause_s,eccentric_s,"
        "bottom_pause_s,rom_mm,rom_pct,mean_velocity_mm_s,smoothness,on_tempo,"
        "tempo_deviation_s,tut_s,reversals,wobbly\r\n";
  auto sets = query_sets(db, f);
  std::reverse(sets.begin(), sets.end());  // oldest first, as a spreadsheet reads
  for (const auto& s : sets) {
    for (const auto& r : get_reps(db, s.id)) {
      os << r.set_id << ',' << r.seq << ',' << r.n << ',' << (r.partial ? 1 : 0) << ','
         << num(r.peak_force_n) << ',' << num(r.mean_force_n) << ',' << num(r.concentric_s)
         << ',' << num(r.top_pause_s) << ',' << num(r.eccentric_s) << ','
         << num(r.bottom_pause_s) << ',' << num(r.rom_mm) << ',' << num(r.rom_pct) << ','
         << num(r.mean_velocity_mm_s) << ',' << num(r.smoothness) << ','
         << (r.on_tempo ? 1 : 0) << ',' << num(r.tempo_deviation_s) << ',' << num(r.tut_s)
         << ',' << r.reversals << ',' << (r.wobbly ? 1 : 0) << "\r\n";
    }
  }
  return os.str();
}

std::string events_csv(const std::vector<EventRow>& rows) {
  std::ostringstream os;
  os << "id,time,severity,code,message,set_id,context\r\n";
  for (const auto& e : rows) {
    os << e.id << ',' << common::iso_utc(e.t_ms) << ',' << to_string(e.severity) << ','
       << csv_field(e.code) << ',' << csv_field(e.message) << ',' << num(e.set_id) << ','
       << csv_field(e.context.value_or("")) << "\r\n";
  }
  return os.str();
}

}  // namespace soleus::storage
