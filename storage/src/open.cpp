#include "soleus/storage/open.hpp"

#include <sqlite3.h>

#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "soleus/common/time.hpp"

namespace soleus::storage {

namespace fs = std::filesystem;

std::string move_aside(const std::string& path, std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string base = path + ".corrupt-" + stamp;
  std::string target = base;
  for (int i = 2; fs::exists(target) || fs::exists(target + "-wal"); ++i)
    target = base + "-" + std::to_string(i);
  std::error_code ec;
  fs::rename(path, target, ec);
  if (ec) throw std::runtime_error("cannot move " + path + " aside: " + ec.message());
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    if (fs::exists(path + suffix, ec)) {
      fs::rename(path + suffix, target + suffix, ec);
      if (ec) throw std::runtime_error("cannot move " + path + suffix + " aside: " + ec.message());
    }
  }
  return target;
}

void configure_connection(Database& db) {
  std::string mode = db.scalar_text("PRAGMA journal_mode=WAL");
  if (mode != "wal") throw std::runtime_error("journal_mode=WAL refused (got " + mode + ")");
  // Checkpoint the WAL into the database every ~4 MB; readers never block it.
  db.exec("PRAGMA wal_autocheckpoint=1000");
  db.exec("PRAGMA synchronous=FULL");
}

namespace {

/// "ok", or the check's first complaints. Throws SqliteError on corruption
/// that stops the check itself (SQLITE_CORRUPT / SQLITE_NOTADB).
std::string run_check(Database& db, bool quick) {
  auto st = db.prepare(quick ? "PRAGMA quick_check(20)" : "PRAGMA integrity_check(20)");
  std::string out;
  while (st.step()) {
    if (!out.empty()) out += "; ";
    out += st.text(0);
  }
  return out;
}

}  // namespace

OpenResult open_store(const StorageConfig& cfg) {
  OpenResult r;
  std::error_code ec;
  bool exists = fs::exists(cfg.db_path, ec) && fs::file_size(cfg.db_path, ec) > 0;
  if (exists) {
    std::string problem;
    try {
      Database db =
          Database::open(cfg.db_path, Database::Access::ReadWrite, cfg.vfs, cfg.busy_timeout_ms);
      std::string check = run_check(db, cfg.quick_check);
      if (check != "ok") problem = check;
    } catch (const SqliteError& e) {
      if (!e.is_corruption()) throw;  // a storage fault: leave the file alone
      problem = e.what();
    }
    if (!problem.empty()) {
      r.corruption = problem;
      r.moved_to = move_aside(cfg.db_path, common::unix_ms_now());
      exists = false;
    }
  }
  r.created = !exists;
  r.db =
      Database::open(cfg.db_path, Database::Access::ReadWriteCreate, cfg.vfs, cfg.busy_timeout_ms);
  // A new file gets 8 KiB pages: a rep's trace chunk (~2.4 KB at 100 Hz) fits
  // three to a page instead of one to a 4 KiB page (measured: 63 -> 43 KiB per set of 15 reps).
  // Only effective before the first table; an existing file keeps its size.
  if (r.created) r.db.exec("PRAGMA page_size = 8192");
  configure_connection(r.db);
  r.migration = migrate(r.db);
  return r;
}

}  // namespace soleus::storage
