// The fleet's outbox (schema 8, docs/fleet.md "The outbox") in the real
// writer on a real file: rows in the record's own transaction, only with the
// fleet configured, acknowledged rows deleted, the bounds (telemetry first,
// sets and events kept, the alarm).
#include <doctest/doctest.h>

#include <thread>

#include "soleus/storage/outbox.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/writer.hpp"
#include "storage_test_util.hpp"
#include "writer_test_util.hpp"

using namespace soleus::storage;
using namespace soleus::storage::test;
using namespace std::chrono_literals;

namespace {
std::int64_t count(Database& db, const std::string& where) {
  return db.scalar_int("SELECT count(*) FROM outbox WHERE " + where);
}
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}
}  // namespace

TEST_CASE("outbox: without the fleet nothing is queued; with it, every event and set end is") {
  TempDir dir;
  {
    Writer w(test_config(dir.file("off.db")));
    REQUIRE(w.start().ok);
    push_set(w, w.allocate_set_id(), 3);
    w.event(Severity::Warning, "test_event", "hello");
    CHECK(!w.push_telemetry("{\"a\":1}"));
    REQUIRE(w.flush(10s));
    auto db = Database::open(dir.file("off.db"), Database::Access::ReadOnly);
    CHECK(db.scalar_int("SELECT count(*) FROM outbox") == 0);
    CHECK(!w.outbox_stats().enabled);
  }
  auto cfg = test_config(dir.file("on.db"));
  cfg.outbox = true;
  Writer w(cfg);
  int notified = 0;
  w.on_outbox([&] { ++notified; });
  REQUIRE(w.start().ok);
  const auto id = w.allocate_set_id();
  push_set(w, id, 3);
  w.event(Severity::Error, "test_event", "hello");
  REQUIRE(w.flush(10s));
  auto db = Database::open(dir.file("on.db"), Database::Access::ReadOnly);
  const std::int64_t events = db.scalar_int("SELECT count(*) FROM events");
  CHECK(events >= 2);  // storage_opened and ours (and the set's own, if any)
  CHECK(count(db, "kind = 'event'") == events);
  CHECK(count(db, "kind = 'set'") == 1);
  // every event row is referenced once, with its own id
  CHECK(db.scalar_int("SELECT count(*) FROM events e JOIN outbox o ON o.kind = 'event' AND "
                      "o.ref_id = e.id") == events);
  auto rows = read_outbox(db, 0, 1000);
  REQUIRE(rows.size() == static_cast<std::size_t>(events + 1));
  for (std::size_t i = 1; i < rows.size(); ++i) CHECK(rows[i].seq > rows[i - 1].seq);
  auto set_row = std::find_if(rows.begin(), rows.end(), [](auto& r) { return r.kind == "set"; });
  CHECK(set_row->ref_id == std::optional<std::int64_t>(id));
  auto ev = get_event(db, *rows.back().ref_id);
  CHECK(notified >= 1);
  // telemetry carries its payload
  CHECK(w.push_telemetry("{\"loop\":1}"));
  REQUIRE(eventually([&] { return count(db, "kind = 'metrics'") == 1; }, 5s));
  CHECK(db.scalar_text("SELECT payload FROM outbox WHERE kind = 'metrics'") == "{\"loop\":1}");
  // acknowledged rows go
  for (const auto& r : read_outbox(db, 0, 1000)) w.outbox_ack(r.seq);
  REQUIRE(eventually([&] { return w.outbox_stats().depth() == 0; }, 5s));
  CHECK(db.scalar_int("SELECT count(*) FROM outbox") == 0);
  CHECK(w.outbox_stats().acknowledged == static_cast<std::uint64_t>(events + 2));
}

TEST_CASE("outbox: full: the oldest telemetry goes first, sets and events stay, the alarm") {
  TempDir dir;
  auto cfg = test_config(dir.file("s.db"));
  cfg.outbox = true;
  cfg.outbox_max_rows = 100;
  Writer w(cfg);
  REQUIRE(w.start().ok);
  for (int i = 0; i < 80; ++i) CHECK(w.push_telemetry("{\"i\":" + std::to_string(i) + "}"));
  REQUIRE(eventually([&] { return w.outbox_stats().metrics == 80; }, 5s));
  auto db = Database::open(dir.file("s.db"), Database::Access::ReadOnly);
  const std::int64_t own = db.scalar_int("SELECT count(*) FROM events");  // opened, migrated
  // 60 events: 60 + own + 80 > 100: the oldest telemetry goes
  for (int i = 0; i < 60; ++i) w.event(Severity::Info, "test_event", "e");
  REQUIRE(w.flush(10s));
  REQUIRE(eventually([&] { return db.scalar_int("SELECT count(*) FROM outbox") <= 100; }, 5s));
  auto s = w.outbox_stats();
  const std::int64_t over = 60 + own + 80 - 100;
  CHECK(s.events == 60 + own);
  CHECK(s.metrics == 80 - over);
  CHECK(s.telemetry_dropped == static_cast<std::uint64_t>(over));
  CHECK(!s.full);
  // the oldest went first
  CHECK(db.scalar_text("SELECT payload FROM outbox WHERE kind = 'metrics' ORDER BY seq LIMIT 1") ==
        "{\"i\":" + std::to_string(over) + "}");
  // now sets and events alone exceed the bound: all kept, the alarm
  for (int i = 0; i < 50; ++i) w.event(Severity::Info, "test_event", "e");
  REQUIRE(w.flush(10s));
  REQUIRE(eventually([&] { return w.outbox_stats().full; }, 5s));
  REQUIRE(eventually(
      [&] {
        return db.scalar_int("SELECT count(*) FROM events WHERE code = 'fleet_outbox_full'") == 1;
      },
      5s));
  s = w.outbox_stats();
  CHECK(s.metrics == 0);
  CHECK(s.events == db.scalar_int("SELECT count(*) FROM events"));  // none dropped
  CHECK(count(db, "kind = 'event'") == db.scalar_int("SELECT count(*) FROM events"));
  // drained below the bound: the alarm clears with an event
  for (const auto& r : read_outbox(db, 0, 1000)) w.outbox_ack(r.seq);
  REQUIRE(eventually(
      [&] {
        return db.scalar_int("SELECT count(*) FROM events WHERE code = 'fleet_outbox_ok'") == 1;
      },
      5s));
  CHECK(!w.outbox_stats().full);
}

TEST_CASE(
    "outbox: a set interrupted by a crash is closed at the next start and queued with its event") {
  TempDir dir;
  auto cfg = test_config(dir.file("s.db"));
  cfg.outbox = true;
  {
    Writer w(cfg);
    REQUIRE(w.start().ok);
    w.push(set_start(w.allocate_set_id()));
    REQUIRE(w.flush(10s));
  }  // stopped without the set's end: as after kill -9
  {
    auto db = Database::open(dir.file("s.db"), Database::Access::ReadWrite);
    db.exec("DELETE FROM outbox");  // (the earlier events were published)
  }
  Writer w(cfg);
  auto r = w.start();
  REQUIRE(r.ok);
  CHECK(r.interrupted_sets == 1);
  REQUIRE(w.flush(10s));
  auto db = Database::open(dir.file("s.db"), Database::Access::ReadOnly);
  CHECK(count(db, "kind = 'set'") == 1);
  CHECK(db.scalar_int("SELECT count(*) FROM outbox o JOIN events e ON o.kind = 'event' AND "
                      "o.ref_id = e.id AND e.code = 'set_interrupted'") == 1);
  CHECK(w.outbox_stats().sets == 1);
}
