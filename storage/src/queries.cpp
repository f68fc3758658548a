#include "soleus/storage/queries.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace soleus::storage {

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
    "range_bottom_mm, range_top_mm, range_calibrated, range_note, range_age_days";

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
  s.range_note = st.opt_text(21);
  s.range_age_days = st.opt_real(22);
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
  if (!f.stop_reasons.empty()) {
    w << " AND stop_reason IN (";
    for (std::size_t i = 0; i < f.stop_reasons.size(); ++i) {
      w << (i ? ", ?" : "?") << ++p;
      b.texts.emplace_back(p, f.stop_reasons[i]);
    }
    w << ")";
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

SplitTrace split_trace(const std::vector<TracePoint>& points, const std::vector<RepRow>& reps) {
  SplitTrace out;
  out.reps.reserve(reps.size());
  for (const auto& r : reps) out.reps.push_back({r.seq, r.n, r.partial, r.t_start_s, {}});
  if (points.empty()) return out;
  out.t0_s = points.front().t_s;
  std::size_t k = 0;  // the first rep that may still hold a sample (both in time order)
  for (const auto& p : points) {
    while (k < reps.size() && p.t_s >= reps[k].t_end_s() &&
           !(k + 1 == reps.size() && p.t_s == reps[k].t_end_s()))
      ++k;
    if (k < reps.size() && p.t_s >= reps[k].t_start_s) {
      const double t0 = reps[k].t_start_s;
      out.reps[k].points.push_back({p.t_s - t0, p.force_n, p.position_mm});
    } else {
      out.between.push_back({p.t_s - out.t0_s, p.force_n, p.position_mm});
    }
  }
  return out;
}

SplitTrace get_split_trace(Database& db, std::int64_t set_id) {
  return split_trace(get_set_trace(db, set_id), get_reps(db, set_id));
}

}  // namespace soleus::storage
