// Storage faults through the real SQLite error path (the FaultVfs shim):
// disk full, read-only, I/O errors, a fault at startup, and corrupt files.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/writer.hpp"
#include "soleus/test_support/fault_vfs.hpp"
#include "storage_test_util.hpp"
#include "writer_test_util.hpp"

using namespace soleus::storage;
using namespace soleus::storage::test;
using soleus::test_support::FaultVfs;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// Resets the shim whatever happens in a test.
struct VfsGuard {
  FaultVfs& vfs = FaultVfs::install();
  ~VfsGuard() { vfs.set_mode(FaultVfs::Mode::None); }
};

std::int64_t count(const std::string& path, const std::string& sql) {
  auto db = Database::open(path, Database::Access::ReadOnly);
  return db.scalar_int(sql);
}

void fault_and_recover(FaultVfs::Mode mode) {
  VfsGuard g;
  TempDir dir;
  const auto path = dir.file("f.db");
  Writer w(test_config(path, g.vfs.name()));
  REQUIRE(w.start().ok);
  const auto set_id = w.allocate_set_id();
  w.push(set_start(set_id));
  for (int k = 1; k <= 10; ++k) w.push(make_rep(set_id, k, k * 8.0));
  REQUIRE(w.flush(5s));
  CHECK(w.committed_reps(set_id) == 10);

  g.vfs.set_mode(mode);
  for (int k = 11; k <= 15; ++k) w.push(make_rep(set_id, k, k * 8.0));
  for (int i = 0; i < 100; ++i) w.push_trace({set_id, 200 + i * 0.01, 600.0f, 40.0f});
  w.event(Severity::Error, "drive_fault", "held in memory while the disk fails");
  REQUIRE(wait_until([&] { return !w.storage_ok(); }));

  // The state the daemon reads to refuse new sets.
  auto h = w.health();
  CHECK_FALSE(h.ok);
  CHECK(h.fault_since_ms > 0);
  CHECK_FALSE(h.last_error.empty());
  CHECK(h.pending_records >= 6);  // 5 reps + the event (+ storage_fault), in memory
  CHECK(h.faults == 1);
  CHECK_FALSE(w.flush(100ms));  // nothing can be committed now
  // Nothing committed before is lost, and the file is sound.
  CHECK(count(path, "SELECT count(*) FROM reps") == 10);
  CHECK(check_integrity(path).ok);
  CHECK(w.committed_reps(set_id) == 10);  // the API still shows 10, not 15

  // Producers still never block; retries go on (several failed attempts).
  const auto failures = g.vfs.failures();
  REQUIRE(wait_until([&] { return g.vfs.failures() > failures + 2; }));
  CHECK(w.push(make_rep(set_id, 16, 16 * 8.0)));
  CHECK(w.health().faults == 1);  // one episode, however many retries

  g.vfs.set_mode(FaultVfs::Mode::None);
  REQUIRE(w.flush(10s));
  CHECK(w.storage_ok());
  CHECK(w.committed_reps(set_id) == 16);
  CHECK(count(path, "SELECT count(*) FROM reps") == 16);
  CHECK(count(path, "SELECT count(*) FROM events WHERE code = 'drive_fault'") == 1);
  CHECK(count(path, "SELECT count(*) FROM events WHERE code = 'storage_fault'") == 1);
  CHECK(count(path, "SELECT count(*) FROM events WHERE code = 'storage_recovered'") == 1);
  // The fault event is in the log before what it held back.
  CHECK(count(path,
              "SELECT (SELECT id FROM events WHERE code = 'storage_fault') < "
              "(SELECT id FROM events WHERE code = 'drive_fault')") == 1);
  CHECK(count(path, "SELECT count FROM odometer_faults WHERE code = 'drive_fault'") == 1);
  CHECK(check_integrity(path).ok);
  w.stop();
}

}  // namespace

TEST_CASE("faults: a full disk is reported, nothing committed is lost, and it recovers") {
  fault_and_recover(FaultVfs::Mode::Full);
}

TEST_CASE("faults: a read-only store is reported, nothing committed is lost, and it recovers") {
  fault_and_recover(FaultVfs::Mode::ReadOnly);
}

TEST_CASE("faults: I/O errors on write and fsync are reported and recovered from") {
  fault_and_recover(FaultVfs::Mode::IoErr);
}

TEST_CASE("faults: storage that fails at startup: the writer runs, keeps events, recovers") {
  VfsGuard g;
  TempDir dir;
  const auto path = dir.file("late.db");
  g.vfs.set_mode(FaultVfs::Mode::ReadOnly);  // the file cannot even be created
  Writer w(test_config(path, g.vfs.name()));
  auto r = w.start();  // must not throw: no crash loop
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.error.empty());
  CHECK_FALSE(w.storage_ok());
  CHECK(w.allocate_set_id() == 0);  // no ids before a database: refuse the set
  CHECK(w.event(Severity::Info, "boot", "kept in memory"));
  CHECK_FALSE(fs::exists(path));

  g.vfs.set_mode(FaultVfs::Mode::None);
  REQUIRE(wait_until([&] { return w.storage_ok(); }));
  REQUIRE(w.flush(5s));
  CHECK(w.allocate_set_id() == 1);
  CHECK(count(path, "SELECT count(*) FROM events WHERE code = 'boot'") == 1);
  CHECK(count(path, "SELECT count(*) FROM events WHERE code = 'storage_fault'") == 1);
  CHECK(count(path, "SELECT count(*) FROM events WHERE code = 'storage_opened'") == 1);
  w.stop();
}

TEST_CASE("faults: an existing database on a read-only disk opens but is not reported ok") {
  VfsGuard g;
  TempDir dir;
  const auto path = dir.file("ro.db");
  {
    Writer w(test_config(path));
    REQUIRE(w.start().ok);
  }
  g.vfs.set_mode(FaultVfs::Mode::ReadOnly);
  Writer w(test_config(path, g.vfs.name()));
  auto r = w.start();
  CHECK_FALSE(r.ok);  // the first write (its "opened" event) failed
  CHECK_FALSE(w.storage_ok());
  g.vfs.set_mode(FaultVfs::Mode::None);
  REQUIRE(wait_until([&] { return w.storage_ok(); }));
  w.stop();
}

TEST_CASE("corruption: a file that is not a database is moved aside and a new one created") {
  TempDir dir;
  const auto path = dir.file("c.db");
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 8192; ++i) f.put(static_cast<char>((i * 7919) & 0xff));
  }
  Writer w(test_config(path));
  auto r = w.start();
  REQUIRE(r.ok);
  CHECK(r.created);
  REQUIRE_FALSE(r.moved_aside_to.empty());
  CHECK(fs::exists(r.moved_aside_to));
  CHECK(fs::file_size(r.moved_aside_to) == 8192);  // kept as it was, for a technician
  CHECK(r.moved_aside_to.find(".corrupt-") != std::string::npos);
  REQUIRE(w.flush(5s));
  CHECK(count(path, "SELECT count(*) FROM events WHERE code = 'storage_corrupt_moved_aside'") == 1);
  CHECK(check_integrity(path).ok);
  w.stop();
}

TEST_CASE("corruption: damaged b-tree pages fail integrity_check, the file is moved aside") {
  TempDir dir;
  const auto path = dir.file("d.db");
  {
    Writer w(test_config(path));
    REQUIRE(w.start().ok);
    for (int i = 0; i < 3000; ++i)
      w.event(Severity::Info, "filler", "a row to make the tables span many pages");
    REQUIRE(w.flush(10s));
    w.stop();
    auto db = Database::open(path);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  const auto size = fs::file_size(path);
  REQUIRE(size > 20 * 4096);
  {
    // Scribble over the middle of the file, leaving the header intact.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    for (int i = 0; i < 3 * 4096; ++i) f.put(static_cast<char>(0x5A ^ (i & 0x3F)));
  }
  REQUIRE_FALSE(check_integrity(path).ok);
  Writer w(test_config(path));
  auto r = w.start();
  REQUIRE(r.ok);
  CHECK_FALSE(r.moved_aside_to.empty());
  REQUIRE(w.flush(5s));
  CHECK(count(path, "SELECT count(*) FROM events WHERE code = 'filler'") == 0);  // a fresh file
  CHECK(count(path, "SELECT count(*) FROM events WHERE code = 'storage_corrupt_moved_aside'") == 1);
  CHECK(check_integrity(path).ok);
  w.stop();
}

TEST_CASE("corruption: a database from a newer release is refused and left alone") {
  TempDir dir;
  const auto path = dir.file("new.db");
  {
    auto db = Database::open(path);
    db.exec("CREATE TABLE future (x); PRAGMA user_version = 99");
  }
  Writer w(test_config(path));
  auto r = w.start();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("newer") != std::string::npos);
  CHECK(r.moved_aside_to.empty());
  CHECK_FALSE(w.storage_ok());
  w.stop();
  CHECK(count(path, "PRAGMA user_version") == 99);
}
