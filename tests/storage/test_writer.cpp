// The writer thread on real files: a whole set end to end, batching, the
// never-blocking producer side, overflow policy, committed-before-reported.
#include <doctest/doctest.h>

#include <algorithm>

#include "soleus/app/views_from_storage.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/writer.hpp"
#include "soleus/test_support/fault_vfs.hpp"
#include "storage_test_util.hpp"
#include "writer_test_util.hpp"

using namespace soleus::storage;
using namespace soleus::storage::test;
using soleus::test_support::FaultVfs;
using namespace std::chrono_literals;

TEST_CASE("writer: a set of 15 reps with traces at 100 Hz, end to end") {
  TempDir dir;
  auto cfg = test_config(dir.file("s.db"));
  cfg.trace_queue = 16384;  // the test pushes 120 s of samples at once
  Writer w(cfg);
  std::vector<CommitNotice> notices;
  std::mutex m;
  w.on_commit([&](const CommitNotice& n) {
    std::lock_guard lock(m);
    notices.push_back(n);
  });
  auto rep = w.start();
  REQUIRE(rep.ok);
  CHECK(rep.created);
  CHECK(rep.migration.to == kSchemaVersion);
  CHECK(w.storage_ok());

  const auto session = w.allocate_session_id();
  const auto set_id = w.allocate_set_id();
  CHECK(session == 1);
  CHECK(set_id == 1);
  CHECK(w.allocate_set_id() == 2);  // unique
  w.push(SessionStartRecord{session, 0, 0, 0});
  push_set(w, set_id, 15, /*member=*/0, session);
  REQUIRE(w.flush(10s));

  auto db = Database::open(dir.file("s.db"), Database::Access::ReadOnly);
  auto s = get_set(db, set_id);
  REQUIRE(s);
  CHECK(s->stop_reason == std::optional<std::string>("target_reached"));
  CHECK(s->reps == 15);
  CHECK(s->mode == "isotonic");
  CHECK(s->tempo == "3-1-3-1");
  CHECK(s->session_id == std::optional<std::int64_t>(session));
  auto reps = get_reps(db, set_id);
  REQUIRE(reps.size() == 15);
  CHECK(reps[14].n == 15);
  CHECK(reps[3].peak_force_n == doctest::Approx(804));
  CHECK(w.committed_reps(set_id) == 15);
  // Each rep's trace: 8 s at 100 Hz.
  auto tr = get_rep_trace(db, set_id, 5);
  CHECK(tr.size() >= 795);
  CHECK(tr.size() <= 802);
  CHECK(get_set_trace(db, set_id).size() == 15 * 800);
  CHECK(w.health().traces_dropped == 0);
  CHECK(w.health().samples_committed == 15 * 800);
  auto odo = read_odometer(db);
  CHECK(odo.reps == 15);
  CHECK(odo.sets == 1);
  CHECK(odo.highest_force_n == doctest::Approx(815));
  // The set record as the API shows it.
  auto j = soleus::hmi::to_json(soleus::app::set_view(*s, reps));
  CHECK(j.at("rep_log").as_array().size() == 15);
  CHECK(j.at("stop_reason").as_string() == "target_reached");
  // Notices carry the committed reps.
  std::lock_guard lock(m);
  int best = 0;
  for (const auto& n : notices)
    for (const auto& r : n.reps)
      if (r.set_id == set_id) best = std::max(best, r.reps);
  CHECK(best == 15);
}

TEST_CASE("writer: batches records into few transactions") {
  TempDir dir;
  auto& vfs = FaultVfs::install();
  auto cfg = test_config(dir.file("b.db"), vfs.name());
  cfg.batch_items = 500;
  Writer w(cfg);
  REQUIRE(w.start().ok);
  REQUIRE(w.flush(5s));
  const auto tx0 = w.health().transactions;
  // Hold the writer so that everything below is queued before it writes.
  vfs.set_mode(FaultVfs::Mode::Stall);
  w.event(Severity::Info, "probe", "stalls the writer");
  REQUIRE(vfs.wait_stalled(5s));
  for (int i = 0; i < 1000; ++i) w.event(Severity::Info, "batch", "event " + std::to_string(i));
  vfs.set_mode(FaultVfs::Mode::None);
  REQUIRE(w.flush(10s));
  const auto tx = w.health().transactions - tx0;
  // 1 + 1000 events in batches of 500 (plus the overflow report): at most 4.
  CHECK(tx >= 3);
  CHECK(tx <= 4);
  auto db = Database::open(dir.file("b.db"), Database::Access::ReadOnly);
  CHECK(db.scalar_int("SELECT count(*) FROM events WHERE code = 'batch'") == 1000);
  w.stop();
}

TEST_CASE("writer: each committed transaction is timed into the commit histogram") {
  TempDir dir;
  auto& vfs = FaultVfs::install();
  Writer w(test_config(dir.file("h.db"), vfs.name()));
  REQUIRE(w.start().ok);
  REQUIRE(w.flush(5s));
  // One slow transaction: the disk holds its write for 300 ms (the point of
  // the case is a slow commit, not a wait for something).
  vfs.set_mode(FaultVfs::Mode::Stall);
  w.event(Severity::Info, "probe", "a slow commit");
  REQUIRE(vfs.wait_stalled(5s));
  std::this_thread::sleep_for(300ms);
  vfs.set_mode(FaultVfs::Mode::None);
  REQUIRE(w.flush(10s));
  const auto h = w.health();
  CHECK(h.commit_count == h.transactions);
  CHECK(h.commit_count >= 2);
  for (std::size_t i = 1; i < h.commit_buckets.size(); ++i)
    CHECK(h.commit_buckets[i] >= h.commit_buckets[i - 1]);  // cumulative
  CHECK(h.commit_buckets.back() <= h.commit_count);
  // The slow one is beyond the 0.25 s bound; the sum holds its 0.3 s.
  const std::size_t at_250ms = 8;
  REQUIRE(kCommitBucketsS[at_250ms] == 0.25);
  CHECK(h.commit_buckets[at_250ms] < h.commit_count);
  CHECK(h.commit_seconds_sum >= 0.29);
  w.stop();
}

TEST_CASE("writer: producers never block while the writer is stalled, traces give way first") {
  TempDir dir;
  auto& vfs = FaultVfs::install();
  auto cfg = test_config(dir.file("nb.db"), vfs.name());
  cfg.trace_queue = 1024;
  cfg.record_queue = 256;
  cfg.overflow_records = 10000;
  Writer w(cfg);
  REQUIRE(w.start().ok);
  REQUIRE(w.flush(5s));
  const auto set_id = w.allocate_set_id();
  w.push(set_start(set_id));
  vfs.set_mode(FaultVfs::Mode::Stall);
  REQUIRE(vfs.wait_stalled(5s));  // the writer is parked inside xWrite

  // The control loop's side: 100 s of traces, plus reps and events.
  using clock = std::chrono::steady_clock;
  auto worst = clock::duration::zero();
  const auto t0 = clock::now();
  int traces_accepted = 0;
  for (int i = 0; i < 10000; ++i) {
    auto a = clock::now();
    traces_accepted += w.push_trace({set_id, i * 0.01, 500.0f, 50.0f}) ? 1 : 0;
    if (i % 10 == 0) {
      if (i % 500 == 0) {
        CHECK(w.push(make_rep(set_id, i / 500 + 1, i * 0.01)));
      } else {
        CHECK(w.event(Severity::Info, "tick", "loop event"));
      }
    }
    worst = std::max(worst, clock::now() - a);
  }
  const auto total = clock::now() - t0;
  CHECK(vfs.stalled() >= 1);  // still stalled: every push above returned without it
  // O(1) pushes: bounded, generous for a loaded CI machine under sanitizers.
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(total).count() < 2000);
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(worst).count() < 50);

  auto h = w.health();
  CHECK(traces_accepted == 1024);           // the trace queue's capacity, then drops
  CHECK(h.traces_dropped == 10000 - 1024);  // every drop counted
  CHECK(h.records_lost == 0);               // 1000 records > record_queue: kept in overflow
  CHECK(h.records_overflowed == 1000 - 256);

  vfs.set_mode(FaultVfs::Mode::None);
  REQUIRE(w.flush(10s));
  auto db = Database::open(dir.file("nb.db"), Database::Access::ReadOnly);
  CHECK(db.scalar_int("SELECT count(*) FROM events WHERE code = 'tick'") == 980);
  CHECK(db.scalar_int("SELECT count(*) FROM reps") == 20);
  CHECK(db.scalar_int("SELECT count(*) FROM events WHERE code = 'storage_queue_overflow'") == 1);
  CHECK(db.scalar_int("SELECT count(*) FROM events WHERE code = 'storage_traces_dropped'") == 1);
  w.stop();
}

TEST_CASE("writer: with queue and overflow list full, records are lost, counted and reported") {
  TempDir dir;
  auto& vfs = FaultVfs::install();
  auto cfg = test_config(dir.file("lost.db"), vfs.name());
  cfg.record_queue = 64;
  cfg.overflow_records = 100;
  cfg.batch_items = 50;
  Writer w(cfg);
  REQUIRE(w.start().ok);
  REQUIRE(w.flush(5s));
  vfs.set_mode(FaultVfs::Mode::Stall);
  w.event(Severity::Info, "probe", "stalls the writer");
  REQUIRE(vfs.wait_stalled(5s));
  int accepted = 0;
  for (int i = 0; i < 300; ++i) accepted += w.event(Severity::Info, "flood", "x") ? 1 : 0;
  CHECK(accepted == 164);
  CHECK(w.health().records_lost == 136);
  vfs.set_mode(FaultVfs::Mode::None);
  REQUIRE(w.flush(10s));
  auto db = Database::open(dir.file("lost.db"), Database::Access::ReadOnly);
  CHECK(db.scalar_int("SELECT count(*) FROM events WHERE code = 'flood'") == 164);
  CHECK(db.scalar_text("SELECT json_extract(context, '$.lost') FROM events "
                       "WHERE code = 'storage_records_lost'") == "136");
  w.stop();
}

TEST_CASE("writer: a rep is reported committed only after its transaction commits") {
  TempDir dir;
  auto& vfs = FaultVfs::install();
  Writer w(test_config(dir.file("c.db"), vfs.name()));
  REQUIRE(w.start().ok);
  const auto set_id = w.allocate_set_id();
  w.push(set_start(set_id));
  w.push(make_rep(set_id, 1, 0.0));
  REQUIRE(w.flush(5s));
  CHECK(w.committed_reps(set_id) == 1);

  vfs.set_mode(FaultVfs::Mode::Stall);
  w.push(make_rep(set_id, 2, 8.0));
  REQUIRE(vfs.wait_stalled(5s));  // the writer is inside the commit of rep 2
  w.push(make_rep(set_id, 3, 16.0));
  CHECK(w.committed_reps(set_id) == 1);
  {
    auto db = Database::open(dir.file("c.db"), Database::Access::ReadOnly);
    CHECK(get_reps(db, set_id).size() == 1);
  }
  vfs.set_mode(FaultVfs::Mode::None);
  REQUIRE(w.flush(5s));
  CHECK(w.committed_reps(set_id) == 3);
  auto db = Database::open(dir.file("c.db"), Database::Access::ReadOnly);
  CHECK(get_reps(db, set_id).size() == 3);
  w.stop();
}

TEST_CASE("writer: a record the database refuses is set aside, the rest of its batch is kept") {
  TempDir dir;
  Writer w(test_config(dir.file("r.db")));
  REQUIRE(w.start().ok);
  const auto set_id = w.allocate_set_id();
  w.push(set_start(set_id));
  for (int i = 0; i < 800; ++i) w.push_trace({set_id, i * 0.01, 500.0f, 50.0f});
  w.push(make_rep(set_id, 1, 0.0));
  SetEndRecord bad;
  bad.set_id = set_id;
  bad.stop_reason.assign("tired");  // not a stop reason of the API
  w.push(bad);
  w.push(make_rep(set_id, 2, 8.0));
  w.event(Severity::Warning, "after", "still written", "{not json");
  REQUIRE(w.flush(5s));
  CHECK(w.storage_ok());
  CHECK(w.health().records_rejected == 1);
  auto db = Database::open(dir.file("r.db"), Database::Access::ReadOnly);
  CHECK(get_reps(db, set_id).size() == 2);
  CHECK(get_rep_trace(db, set_id, 1).size() == 800);  // the refused record took no traces along
  CHECK(db.scalar_int("SELECT count(*) FROM events WHERE code = 'storage_record_rejected'") == 1);
  // Invalid context JSON is kept, wrapped, rather than refused.
  CHECK(db.scalar_text("SELECT json_extract(context, '$.unparsed') FROM events "
                       "WHERE code = 'after'") == "{not json");
  w.stop();
}

TEST_CASE("writer: ids continue after a restart") {
  TempDir dir;
  {
    Writer w(test_config(dir.file("i.db")));
    REQUIRE(w.start().ok);
    for (int i = 0; i < 3; ++i) w.push(set_start(w.allocate_set_id()));
    w.push(SessionStartRecord{w.allocate_session_id(), 0, 0, 0});
    REQUIRE(w.flush(5s));
  }
  Writer w(test_config(dir.file("i.db")));
  auto r = w.start();
  REQUIRE(r.ok);
  CHECK_FALSE(r.created);
  CHECK(w.allocate_set_id() == 4);
  CHECK(w.allocate_session_id() == 2);
}

TEST_CASE(
    "writer: a set left without an end (the daemon died mid-set) is closed at the next start") {
  TempDir dir;
  auto cfg = test_config(dir.file("s.db"));
  std::int64_t open_set = 0, done_set = 0;
  {
    Writer w(cfg);
    REQUIRE(w.start().ok);
    done_set = w.allocate_set_id();
    push_set(w, done_set, 2);
    open_set = w.allocate_set_id();
    w.push(set_start(open_set));
    w.push(make_rep(open_set, 1, 0));
    w.push(make_rep(open_set, 2, 8));
    RepRecord partial = make_rep(open_set, 3, 16);
    partial.partial = true;
    w.push(partial);
    w.event(Severity::Info, "set_started", "started", {}, open_set);
    REQUIRE(w.flush(10s));
    w.stop();  // no end record: as after a kill -9
  }
  {
    auto db = Database::open(dir.file("s.db"), Database::Access::ReadOnly);
    CHECK(read_odometer(db).sets == 1);
    CHECK(!get_set(db, open_set)->stop_reason);
  }
  Writer w(cfg);
  const auto r = w.start();
  REQUIRE(r.ok);
  CHECK(r.interrupted_sets == 1);
  REQUIRE(w.flush(10s));
  auto db = Database::open(dir.file("s.db"), Database::Access::ReadOnly);
  const auto s = get_set(db, open_set);
  REQUIRE(s);
  CHECK(s->stop_reason == std::optional<std::string>("shutdown"));
  CHECK(s->reps == 2);
  CHECK(s->partial_reps == 1);
  CHECK(s->tut_s == doctest::Approx(16));
  CHECK(get_set(db, done_set)->stop_reason == std::optional<std::string>("target_reached"));
  CHECK(db.scalar_int("SELECT count(*) FROM events WHERE code = 'set_interrupted' AND set_id = " +
                      std::to_string(open_set)) == 1);
  const auto odo = read_odometer(db);
  CHECK(odo.sets == 2);  // the closed set counts once
  CHECK(odo.reps == 4);
  // A third start finds nothing to close.
  w.stop();
  Writer again(cfg);
  CHECK(again.start().interrupted_sets == 0);
  again.stop();
  CHECK(read_odometer(db).sets == 2);
}

TEST_CASE(
    "writer: a set's end saves a good calibration as its member's range, in the same commit") {
  TempDir dir;
  std::int64_t mid = 0;
  {
    auto db = Database::open(dir.file("m.db"));
    migrate(db);
    mid = add_member(db, "7", "Bo", Actor{"staff", 0});
  }
  Writer w(test_config(dir.file("m.db")));
  REQUIRE(w.start().ok);
  auto end = [&](std::int64_t set_id, std::int64_t member, bool save, double bottom, double top,
                 const char* note, double age) {
    w.push(set_start(set_id, member));
    SetEndRecord e;
    e.set_id = set_id;
    e.ended_ms = 1'000'000 + set_id;
    e.stop_reason.assign("target_reached");
    e.range_bottom_mm = bottom;
    e.range_top_mm = top;
    e.range_calibrated = save;
    e.range_note.assign(note);
    e.range_age_days = age;
    e.range_save = save;
    w.push(e);
  };
  end(w.allocate_set_id(), mid, true, 21.5, 98.25, "no_stored_range", -1);
  REQUIRE(w.flush(5s));
  {
    auto db = Database::open(dir.file("m.db"), Database::Access::ReadOnly);
    auto m = get_member(db, mid);
    REQUIRE(m);
    CHECK(m->rom_bottom_mm == std::optional<double>(21.5));
    CHECK(m->rom_top_mm == std::optional<double>(98.25));
    CHECK(m->rom_measured_ms == std::optional<std::int64_t>(1'000'001));
    auto s = get_set(db, 1);
    REQUIRE(s);
    CHECK(s->range_note == std::optional<std::string>("no_stored_range"));
    CHECK_FALSE(s->range_age_days);
  }
  // Not saved: a confirmation (range_save false), a guest's set, a set whose
  // calibration was not good.
  end(w.allocate_set_id(), mid, false, 30, 90, "confirmed", 3.5);
  end(w.allocate_set_id(), 0, true, 10, 60, "no_stored_range", -1);
  REQUIRE(w.flush(5s));
  auto db = Database::open(dir.file("m.db"), Database::Access::ReadOnly);
  auto m = get_member(db, mid);
  CHECK(m->rom_bottom_mm == std::optional<double>(21.5));
  CHECK(m->rom_measured_ms == std::optional<std::int64_t>(1'000'001));
  CHECK(get_set(db, 2)->range_note == std::optional<std::string>("confirmed"));
  CHECK(get_set(db, 2)->range_age_days == std::optional<double>(3.5));
  CHECK(db.scalar_int("SELECT count(*) FROM members WHERE rom_bottom_mm = 10") == 0);
  CHECK(db.scalar_int("SELECT count(*) FROM audit") == 1);  // the member's creation only
  w.stop();
}
