// Pure-logic storage tests: trace codec, the lock-free queue, [storage]
// parsing, the migrations and the calibration records on in-memory databases.
#include <doctest/doctest.h>

#include <cmath>
#include <thread>

#include "soleus/common/config_reader.hpp"
#include "soleus/storage/bounded_queue.hpp"
#include "soleus/storage/calibrations.hpp"
#include "soleus/storage/config.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/records.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/storage/trace_codec.hpp"

using namespace soleus::storage;

TEST_CASE("trace codec: round trip within the quantisation, and compact") {
  std::vector<TraceSample> in;
  for (int i = 0; i < 800; ++i) {  // 8 s at 100 Hz: one rep of a 3-1-3-1 tempo
    double t = 1234.5 + i * 0.01;
    in.push_back({7, t, static_cast<float>(600 + 150 * std::sin(t)),
                  static_cast<float>(60 + 55 * std::sin(t * 0.8))});
  }
  auto blob = encode_trace(in);
  CHECK(blob.size() < in.size() * 6);  // vs 24 bytes as three doubles
  auto out = decode_trace(blob, static_cast<std::int64_t>(in.size()), in.front().t_s, {});
  REQUIRE(out);
  REQUIRE(out->size() == in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    CHECK((*out)[i].t_s == doctest::Approx(in[i].t_s).epsilon(1e-9));
    CHECK(std::abs((*out)[i].force_n - in[i].force_n) <= 0.05 + 1e-3);
    CHECK(std::abs((*out)[i].position_mm - in[i].position_mm) <= 0.005 + 1e-4);
  }
}

TEST_CASE("trace codec: negative values, jumps, and malformed blobs are refused") {
  std::vector<TraceSample> in{
      {1, 0.0, -250.0f, -3.0f}, {1, 0.01, 4000.0f, 149.0f}, {1, 0.5, -4000.0f, 0.0f}};
  auto blob = encode_trace(in);
  auto out = decode_trace(blob, 3, 0.0, {});
  REQUIRE(out);
  CHECK((*out)[0].force_n == doctest::Approx(-250));
  CHECK((*out)[1].force_n == doctest::Approx(4000));
  CHECK((*out)[2].t_s == doctest::Approx(0.5));
  CHECK((*out)[2].force_n == doctest::Approx(-4000));
  CHECK_FALSE(decode_trace(blob, 4, 0.0, {}));  // fewer samples than claimed
  CHECK_FALSE(decode_trace(blob, 2, 0.0, {}));  // bytes left over
  auto cut = blob;
  cut.pop_back();
  CHECK_FALSE(decode_trace(cut, 3, 0.0, {}));
}

TEST_CASE("bounded queue: FIFO, full and empty are reported, never waited on") {
  BoundedQueue<int> q(5);  // rounded to 8
  CHECK(q.capacity() == 8);
  for (int i = 0; i < 8; ++i) CHECK(q.try_push(i));
  CHECK_FALSE(q.try_push(99));
  int v = -1;
  for (int i = 0; i < 8; ++i) {
    REQUIRE(q.try_pop(v));
    CHECK(v == i);
  }
  CHECK_FALSE(q.try_pop(v));
}

TEST_CASE("bounded queue: two producers, one consumer, nothing lost or duplicated") {
  BoundedQueue<std::int64_t> q(1024);
  constexpr int kEach = 50000;
  std::atomic<int> failed{0};
  auto producer = [&](std::int64_t base) {
    for (int i = 0; i < kEach; ++i)
      while (!q.try_push(base + i)) failed.fetch_add(1);  // test only: retry when full
  };
  std::thread a(producer, 0), b(producer, 1'000'000);
  std::vector<int> seen_a(kEach, 0), seen_b(kEach, 0);
  std::int64_t last_a = -1, last_b = -1;
  int got = 0;
  bool ordered = true;
  while (got < 2 * kEach) {
    std::int64_t v;
    if (!q.try_pop(v)) continue;
    ++got;
    if (v < 1'000'000) {
      ++seen_a[static_cast<std::size_t>(v)];
      ordered = ordered && v > last_a;
      last_a = v;
    } else {
      ++seen_b[static_cast<std::size_t>(v - 1'000'000)];
      ordered = ordered && v > last_b;
      last_b = v;
    }
  }
  a.join();
  b.join();
  CHECK(ordered);  // each producer's values come out in its order
  CHECK(std::all_of(seen_a.begin(), seen_a.end(), [](int c) { return c == 1; }));
  CHECK(std::all_of(seen_b.begin(), seen_b.end(), [](int c) { return c == 1; }));
}

TEST_CASE("records: fixed text truncates on a UTF-8 boundary and says so") {
  FixedText<8> t("abc");
  CHECK(t.view() == "abc");
  CHECK_FALSE(t.truncated);
  t.assign("abcdefgh\xC3\xA9");  // 8 ASCII + é: cut to 7 bytes
  CHECK(t.view() == "abcdefg");
  CHECK(t.truncated);
  t.assign("abcdef\xC3\xA9");  // é would straddle the cut: dropped whole
  CHECK(t.view() == "abcdef");
}

namespace {
StorageConfig parse_storage(const std::string& toml) {
  auto doc = soleus::config::Document::parse_string(toml, "test.toml");
  return StorageConfig::parse(doc.root().section("storage"));
}
}  // namespace

TEST_CASE("config: defaults, every key read, errors name file, line and key") {
  auto c = parse_storage("[storage]\n");
  CHECK(c.db_path == "/var/lib/soleus/soleus.db");
  CHECK(c.trace_retention_days == 90);
  CHECK(c.flush_ms == 100);

  c = parse_storage(
      "[storage]\ndb_path = \"/tmp/x.db\"\ntrace_retention_days = 0\ntrace_queue = 1000\n"
      "record_queue = 100\noverflow_records = 5000\nflush_ms = 50\nbatch_items = 200\n"
      "retry_ms = 500\nbusy_timeout_ms = 100\nquick_check = true\n");
  CHECK(c.db_path == "/tmp/x.db");
  CHECK(c.trace_retention_days == 0);
  CHECK(c.trace_queue == 1000);
  CHECK(c.record_queue == 100);
  CHECK(c.overflow_records == 5000);
  CHECK(c.flush_ms == 50);
  CHECK(c.batch_items == 200);
  CHECK(c.retry_ms == 500);
  CHECK(c.busy_timeout_ms == 100);
  CHECK(c.quick_check);

  auto fails = [](const std::string& toml, const std::string& key, int line) {
    try {
      parse_storage(toml);
    } catch (const soleus::config::ConfigError& e) {
      CHECK(e.key() == key);
      CHECK(e.line() == line);
      CHECK(e.file() == "test.toml");
      return;
    }
    FAIL("accepted: " << toml);
  };
  fails("[storage]\nflush_ms = 1\n", "storage.flush_ms", 2);
  fails("[storage]\n\nflush_ms = \"fast\"\n", "storage.flush_ms", 3);
  fails("[storage]\ndb_path = \"\"\n", "storage.db_path", 2);
  fails("[storage]\nretention_days = 3\n", "storage.retention_days", 2);  // unknown key
  fails("[storage]\nrecord_queue = 64\noverflow_records = 0\nbatch_items = 500\n",
        "storage.batch_items", 4);  // cross-field rule, located at its key
  fails("[storage]\ntrace_queue = 64\nflush_ms = 1000\n", "storage.trace_queue", 2);
}

TEST_CASE("migrations: from an empty database to the newest, in one transaction") {
  auto db = Database::open(":memory:");
  CHECK(schema_version(db) == 0);
  auto r = migrate(db);
  CHECK(r.from == 0);
  CHECK(r.to == kSchemaVersion);
  CHECK(schema_version(db) == kSchemaVersion);
  for (const char* t :
       {"members", "programmes", "programme_steps", "assignments", "step_progress", "sessions",
        "sets", "reps", "rep_traces", "events", "audit", "odometer", "odometer_faults"}) {
    auto st = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    st.bind(1, t);
    REQUIRE(st.step());
    CHECK_MESSAGE(st.int64(0) == 1, t);
  }
  CHECK(db.scalar_int("SELECT count(*) FROM odometer") == 1);
  // Migration 2's column and indexes exist.
  CHECK(db.scalar_int("SELECT count(*) FROM pragma_table_info('reps') WHERE name = 'wobbly'") == 1);
  CHECK(db.scalar_int("SELECT count(*) FROM sqlite_schema WHERE name = 'events_code_time'") == 1);
  // Running again changes nothing.
  auto again = migrate(db);
  CHECK(again.from == kSchemaVersion);
  CHECK(again.to == kSchemaVersion);
}

TEST_CASE("migrations: step by step gives the same schema as all at once") {
  auto a = Database::open(":memory:");
  migrate(a, 1);
  CHECK(schema_version(a) == 1);
  CHECK(a.scalar_int("SELECT count(*) FROM pragma_table_info('reps') WHERE name = 'wobbly'") == 0);
  migrate(a);
  auto b = Database::open(":memory:");
  migrate(b);
  auto schema = [](Database& d) {
    std::string s;
    auto st = d.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name");
    while (st.step()) s += st.text(0) + " " + st.text(1) + "\n";
    return s;
  };
  CHECK(schema(a) == schema(b));
}

TEST_CASE("migrations: a newer file is refused untouched, a failed migration rolls back") {
  auto db = Database::open(":memory:");
  db.exec("PRAGMA user_version = 99");
  CHECK_THROWS_AS(migrate(db), std::runtime_error);
  CHECK(schema_version(db) == 99);

  auto db2 = Database::open(":memory:");
  db2.exec("CREATE TABLE members (x)");  // collides with migration 1
  CHECK_THROWS_AS(migrate(db2), SqliteError);
  CHECK(schema_version(db2) == 0);
  CHECK(db2.scalar_int("SELECT count(*) FROM sqlite_schema WHERE name = 'events'") == 0);
}

TEST_CASE("schema: constraints refuse what the API would refuse") {
  auto db = Database::open(":memory:");
  migrate(db);
  auto refuses = [&](const std::string& sql) {
    try {
      db.exec(sql);
    } catch (const SqliteError& e) {
      CHECK(e.code() == 19);  // SQLITE_CONSTRAINT
      return;
    }
    FAIL("accepted: " << sql);
  };
  db.exec("INSERT INTO sets (id, started_ms) VALUES (1, 0)");
  refuses("UPDATE sets SET stop_reason = 'tired' WHERE id = 1");
  refuses("UPDATE sets SET mode = 'bouncy' WHERE id = 1");
  refuses("INSERT INTO events (t_ms, severity, code, context) VALUES (0, 5, 'x', NULL)");
  refuses("INSERT INTO events (t_ms, severity, code, context) VALUES (0, 0, 'x', '{bad')");
  db.exec("INSERT INTO programmes (name, created_ms, updated_ms) VALUES ('p', 0, 0)");
  // both reps and hold, and no load at all
  refuses(
      "INSERT INTO programme_steps (programme_id, position, mode, sets, target_reps, hold_s, "
      "load_n) VALUES (1, 1, 'isotonic', 3, 12, 30, 500)");
  refuses(
      "INSERT INTO programme_steps (programme_id, position, mode, sets, target_reps) "
      "VALUES (1, 1, 'isotonic', 3, 12)");
  db.exec(
      "INSERT INTO programme_steps (programme_id, position, mode, sets, target_reps, "
      "load_pct_max, progress_when, progress_load_pct) "
      "VALUES (1, 1, 'isotonic', 3, 12, 70, 'all_sets_target_on_tempo', 5)");
  refuses(
      "INSERT INTO members (number, created_ms, updated_ms, rom_bottom_mm) VALUES "
      "('7', 0, 0, 10)");  // a range needs both ends
  refuses(
      "INSERT INTO reps (set_id, seq, n, t_start_s, peak_force_n, mean_force_n, "
      "concentric_s, top_pause_s, eccentric_s, bottom_pause_s, rom_mm, rom_pct, "
      "mean_velocity_mm_s, smoothness, on_tempo, tempo_deviation_s, tut_s) "
      "VALUES (42, 1, 1, 0,0,0,0,0,0,0,0,0,0,0,0,0,0)");  // no such set (foreign key)
}

TEST_CASE(
    "calibrations: a span factor is stored with its audit entry, the last one is read back, range "
    "checks too") {
  auto db = Database::open(":memory:");
  migrate(db);
  CHECK_FALSE(latest_span_gain(db).has_value());
  const Actor tech{"maintenance", std::nullopt};
  record_span_calibration(db, tech, 1000, 0.9524, 1.0, R"({"known_n":196.1})");
  record_span_calibration(db, tech, 2000, 0.98, 0.9524, R"({"known_n":100})");
  record_range_check(db, 3000, false, 12.5, R"({"ok":false})");
  REQUIRE(latest_span_gain(db).has_value());
  CHECK(*latest_span_gain(db) == doctest::Approx(0.98));
  CHECK(db.scalar_int("SELECT count(*) FROM calibrations WHERE kind = 'span' AND ok = 1") == 2);
  CHECK(db.scalar_int("SELECT count(*) FROM calibrations WHERE kind = 'range_check' AND ok = 0 AND "
                      "value = 12.5") == 1);
  CHECK(db.scalar_int(
            "SELECT count(*) FROM audit WHERE entity = 'calibration' AND field = 'load_cell.span' "
            "AND actor_role = 'maintenance' AND before = '0.9524' AND after = '0.9800'") == 1);
  // Details must be JSON: a bad one stores neither the factor nor its audit entry.
  CHECK_THROWS(record_span_calibration(db, tech, 4000, 1.1, 0.98, "not json"));
  CHECK(*latest_span_gain(db) == doctest::Approx(0.98));
  CHECK(db.scalar_int("SELECT count(*) FROM audit WHERE entity = 'calibration'") == 2);
}

TEST_CASE("split_trace: samples to the rep whose span holds them, the rest between") {
  // Two reps: seq 1 counted over [1.0, 2.0), seq 2 a partial over [2.0, 2.5]
  // (its end inclusive: the last rep); samples every 0.25 s from 0.5 to 3.0.
  RepRow a;
  a.seq = 1;
  a.n = 1;
  a.t_start_s = 1.0;
  a.concentric_s = 0.5;
  a.eccentric_s = 0.5;
  RepRow b;
  b.seq = 2;
  b.n = 0;
  b.partial = true;
  b.t_start_s = 2.0;
  b.concentric_s = 0.25;
  b.bottom_pause_s = 0.25;
  std::vector<TracePoint> pts;
  for (int i = 0; i <= 10; ++i) {
    const double t = 0.5 + 0.25 * i;
    pts.push_back({t, 100.0 + i, 10.0 * i});
  }
  const SplitTrace s = split_trace(pts, {a, b});
  CHECK(s.t0_s == doctest::Approx(0.5));
  REQUIRE(s.reps.size() == 2);
  CHECK(s.reps[0].seq == 1);
  CHECK(s.reps[0].n == 1);
  CHECK_FALSE(s.reps[0].partial);
  REQUIRE(s.reps[0].points.size() == 4);  // 1.0, 1.25, 1.5, 1.75
  CHECK(s.reps[0].points.front().t_s == doctest::Approx(0.0));
  CHECK(s.reps[0].points.back().t_s == doctest::Approx(0.75));
  CHECK(s.reps[0].points.front().force_n == doctest::Approx(102));
  CHECK(s.reps[1].partial);
  REQUIRE(s.reps[1].points.size() == 3);  // 2.0, 2.25, 2.5 (the last rep's end included)
  CHECK(s.reps[1].points.back().t_s == doctest::Approx(0.5));
  REQUIRE(s.between.size() == 4);  // 0.5, 0.75 before; 2.75, 3.0 after
  CHECK(s.between[0].t_s == doctest::Approx(0.0));
  CHECK(s.between[1].t_s == doctest::Approx(0.25));
  CHECK(s.between[2].t_s == doctest::Approx(2.25));
  CHECK(s.between[3].position_mm == doctest::Approx(100));
  // Every sample is somewhere, once.
  CHECK(s.reps[0].points.size() + s.reps[1].points.size() + s.between.size() == pts.size());
}

TEST_CASE("split_trace: no samples or no reps or a rep with no samples") {
  RepRow a;
  a.seq = 1;
  a.n = 1;
  a.t_start_s = 10;
  a.concentric_s = 1;
  const SplitTrace empty = split_trace({}, {a});
  REQUIRE(empty.reps.size() == 1);
  CHECK(empty.reps[0].points.empty());
  CHECK(empty.between.empty());
  const SplitTrace no_reps = split_trace({{1, 5, 6}, {2, 7, 8}}, {});
  CHECK(no_reps.reps.empty());
  CHECK(no_reps.between.size() == 2);
  const SplitTrace before = split_trace({{1, 5, 6}, {2, 7, 8}}, {a});  // all before the rep
  CHECK(before.reps[0].points.empty());
  CHECK(before.between.size() == 2);
}
