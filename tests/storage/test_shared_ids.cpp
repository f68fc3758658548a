// Set ids with the fleet's imports (docs/fleet.md "Catch-up"): soleusd's
// control loop takes a set's id from the writer (Writer::allocate_set_id)
// and the row follows later, while the fleet's thread imports other
// machines' sets on its own connection. An imported set must take its id
// from the same source: with the table's next rowid it took the id the loop
// had just taken, and the writer's row of the machine's own set landed on
// the imported one (seen in test_shared_e2e: machine B's own set marked as
// A's, never published, A's reps under B's set).
#include <doctest/doctest.h>

#include "soleus/storage/schema.hpp"
#include "soleus/storage/shared.hpp"
#include "soleus/storage/writer.hpp"
#include "storage_test_util.hpp"
#include "writer_test_util.hpp"

using namespace soleus::storage;
using namespace soleus::storage::test;
using namespace std::chrono_literals;

TEST_CASE(
    "shared ids: a set imported while the writer runs takes the writer's id, so the machine's "
    "own next set is a row of its own") {
  TempDir dir;
  Writer w(test_config(dir.file("s.db")));
  REQUIRE(w.start().ok);
  auto db = Database::open(dir.file("s.db"));  // the fleet's own connection, as in soleusd
  db.exec(
      "INSERT INTO members (number, name, uid, created_ms, updated_ms) "
      "VALUES ('1042', 'Ann', 'u1042', 1, 1)");
  const auto member = db.scalar_int("SELECT id FROM members WHERE uid = 'u1042'");
  // A's set 7 (3 reps, one stored rep), as a catch-up brings it.
  const std::string data =
      R"({"member":"u1042","set":{"started_ms":1000,"ended_ms":9000,"mode":"isotonic",)"
      R"("load_n":400,"tempo":"1-0-1-0","target_reps":3,"stop_reason":"target_reached",)"
      R"("reps":3,"tut_s":6},"reps":[{"seq":1,"n":1,"partial":0,"t_start_s":0,"peak_force_n":700,)"
      R"("mean_force_n":650,"concentric_s":1,"top_pause_s":0,"eccentric_s":1,"bottom_pause_s":0,)"
      R"("rom_mm":100,"rom_pct":100,"mean_velocity_mm_s":100,"smoothness":0.9,"on_tempo":1,)"
      R"("tempo_deviation_s":0,"tut_s":2}]})";
  const auto res = shared::import_set(db, "a", 7, data, [&w] { return w.allocate_set_id(); });
  REQUIRE(res.outcome == shared::Outcome::Applied);

  // The loop's next set of this machine: 2 reps of the member.
  const auto own = w.allocate_set_id();
  push_set(w, own, 2, member);
  REQUIRE(w.flush(10s));

  CHECK(db.scalar_int("SELECT count(*) FROM sets") == 2);
  CHECK(db.scalar_int("SELECT count(*) FROM sets WHERE origin_machine = 'a' AND "
                      "origin_set_id = 7 AND reps = 3") == 1);
  CHECK(db.scalar_int("SELECT count(*) FROM sets WHERE id = " + std::to_string(own) +
                      " AND origin_machine IS NULL AND reps = 2") == 1);
  // The imported set keeps its one rep; the own set has its two.
  CHECK(db.scalar_int("SELECT count(*) FROM reps WHERE set_id = (SELECT id FROM sets WHERE "
                      "origin_machine = 'a')") == 1);
  CHECK(db.scalar_int("SELECT count(*) FROM reps WHERE set_id = " + std::to_string(own)) == 2);
  // And the own set is what a peer's catch-up gets from this machine.
  CHECK(shared::own_sets_after(db, 0, 10) == std::vector<std::int64_t>{own});
}

TEST_CASE("shared ids: with the writer not open (no id), an imported set waits, then comes in") {
  TempDir dir;
  auto db = Database::open(dir.file("s.db"));
  migrate(db);
  db.exec(
      "INSERT INTO members (number, name, uid, created_ms, updated_ms) "
      "VALUES ('7', 'Bo', 'u7', 1, 1)");
  const std::string data =
      R"({"member":"u7","session":{"id":3,"started_ms":900,"ended_ms":9500,"state":"done"},)"
      R"("set":{"started_ms":1000,"ended_ms":9000,"mode":"isotonic","load_n":400,)"
      R"("tempo":"1-0-1-0","target_reps":3,"stop_reason":"target_reached","reps":3,"tut_s":6},)"
      R"("reps":[]})";
  std::int64_t next = 0;  // 0: the writer is not open
  const shared::SetIdSource ids = [&next] { return next == 0 ? 0 : next++; };
  const auto res = shared::import_set(db, "a", 7, data, ids);
  CHECK(res.outcome == shared::Outcome::Parked);
  CHECK(db.scalar_int("SELECT count(*) FROM sets") == 0);
  CHECK(db.scalar_int("SELECT count(*) FROM sessions") == 0);  // no empty session left behind
  CHECK(db.scalar_int("SELECT count(*) FROM fleet_parked WHERE kind = 'set'") == 1);
  next = 41;  // the writer opened
  CHECK(shared::retry_parked_records(db, ids) == 0);
  CHECK(db.scalar_int("SELECT id FROM sets WHERE origin_machine = 'a' AND origin_set_id = 7") ==
        41);
  CHECK(db.scalar_int("SELECT count(*) FROM sessions WHERE origin_machine = 'a'") == 1);
}
