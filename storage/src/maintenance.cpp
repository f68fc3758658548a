#include "soleus/storage/maintenance.hpp"

#include <sqlite3.h>

#include <filesystem>

namespace soleus::storage {

IntegrityReport check_integrity(Database& db, bool quick) {
  IntegrityReport r;
  try {
    auto st = db.prepare(quick ? "PRAGMA quick_check(100)" : "PRAGMA integrity_check(100)");
    while (st.step()) r.problems.push_back(st.text(0));
  } catch (const SqliteError& e) {
    r.problems.emplace_back(e.what());
  }
  r.ok = r.problems.size() == 1 && r.problems.front() == "ok";
  return r;
}

IntegrityReport check_integrity(const std::string& path, bool quick) {
  try {
    Database db = Database::open(path, Database::Access::ReadOnly);
    return check_integrity(db, quick);
  } catch (const SqliteError& e) {
    IntegrityReport r;
    r.problems.emplace_back(e.what());
    return r;
  }
}

BackupReport backup_database(const std::string& source, const std::string& dest) {
  Database src = Database::open(source, Database::Access::ReadOnly);
  Database dst = Database::open(dest, Database::Access::ReadWriteCreate);
  sqlite3_backup* b = sqlite3_backup_init(dst.handle(), "main", src.handle(), "main");
  if (!b) dst.fail(sqlite3_errcode(dst.handle()), "backup_init");
  int rc = sqlite3_backup_step(b, -1);
  BackupReport r;
  r.pages = sqlite3_backup_pagecount(b);
  int frc = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) dst.fail(rc, "backup_step");
  if (frc != SQLITE_OK) dst.fail(frc, "backup_finish");
  // The source is WAL; the copy is one self-contained file.
  dst.scalar_text("PRAGMA journal_mode=DELETE");
  r.bytes = dst.scalar_int("PRAGMA page_count") * dst.scalar_int("PRAGMA page_size");
  r.check = check_integrity(dst);
  return r;
}

std::int64_t purge_traces(Database& db, std::int64_t older_than_ms, std::int64_t max_rows) {
  std::int64_t total = 0;
  auto st = db.prepare(
      "DELETE FROM rep_traces WHERE id IN "
      "(SELECT id FROM rep_traces WHERE created_ms < ?1 ORDER BY created_ms LIMIT 2000)");
  while (total < max_rows) {
    Transaction tx(db);
    st.bind(1, older_than_ms);
    st.run();
    st.reset();
    int n = db.changes();
    tx.commit();
    total += n;
    if (n < 2000) break;
  }
  return total;
}

Odometer read_odometer(Database& db) {
  Odometer o;
  auto st = db.prepare(
      "SELECT reps, sets, motor_on_s, highest_force_n, since_ms FROM odometer WHERE id = 1");
  if (st.step()) {
    o.reps = st.int64(0);
    o.sets = st.int64(1);
    o.motor_on_s = st.real(2);
    o.highest_force_n = st.real(3);
    o.since_ms = st.int64(4);
  }
  auto f = db.prepare("SELECT code, count FROM odometer_faults ORDER BY code");
  while (f.step()) o.faults[f.text(0)] = f.int64(1);
  return o;
}

DbSize database_size(const std::string& path) {
  DbSize s;
  std::error_code ec;
  auto a = std::filesystem::file_size(path, ec);
  if (!ec) s.db_bytes = static_cast<std::int64_t>(a);
  auto w = std::filesystem::file_size(path + "-wal", ec);
  if (!ec) s.wal_bytes = static_cast<std::int64_t>(w);
  return s;
}

}  // namespace soleus::storage
