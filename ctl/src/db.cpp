// soleusctl db check and db backup: the database file itself.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "soleus/ctl/ctl.hpp"
#include "soleus/ctl/table.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/schema.hpp"

namespace soleus::ctl {

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

int run_check(Context& ctx, const Args& a) {
  const std::string path = database_path(ctx);
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Unreachable("db check: cannot open " + path + ": no such file");
  const bool quick = a.has("--quick");
  storage::Database db;
  try {
    db = storage::Database::open(path, storage::Database::Access::ReadOnly);
  } catch (const storage::SqliteError& e) {
    if (!e.is_corruption()) throw Unreachable("db check: cannot open " + path + ": " + e.what());
  }
  std::vector<std::string> problems;  // anything that makes the exit code 1
  storage::IntegrityReport integrity;
  if (db.is_open()) integrity = storage::check_integrity(db, quick);
  else integrity.problems.push_back("file is not a database");
  if (!integrity.ok)
    for (const auto& p : integrity.problems) problems.push_back("integrity: " + p);

  // Each of the rest on its own: a damaged file may fail any of them.
  std::vector<std::string> fk;
  int version = -1;
  std::vector<std::pair<std::string, std::int64_t>> tables;
  std::int64_t page_size = 0, pages = 0, free_pages = 0;
  auto attempt = [&](const char* what, auto&& f) {
    if (!db.is_open()) return;
    try {
      f();
    } catch (const storage::SqliteError& e) {
      problems.push_back(std::string(what) + ": " + e.what());
    }
  };
  attempt("foreign keys", [&] {
    auto st = db.prepare("PRAGMA foreign_key_check");
    while (st.step() && fk.size() < 100)
      fk.push_back(st.text(0) + " row " + (st.is_null(1) ? "?" : std::to_string(st.int64(1))) +
                   " -> " + st.text(2));
  });
  for (const auto& f : fk) problems.push_back("foreign key: " + f);
  attempt("schema version", [&] { version = storage::schema_version(db); });
  if (version == 0)
    problems.push_back("schema: version 0: not a Soleus database (or an empty one)");
  if (version > storage::kSchemaVersion)
    problems.push_back("schema: version " + std::to_string(version) +
                       " is newer than this build's " + std::to_string(storage::kSchemaVersion));
  attempt("tables", [&] {
    auto st = db.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY "
        "name");
    std::vector<std::string> names;
    while (st.step()) names.push_back(st.text(0));
    for (const auto& n : names) {
      std::int64_t count = -1;
      attempt(("count " + n).c_str(),
              [&] { count = db.scalar_int("SELECT count(*) FROM \"" + n + "\""); });
      tables.emplace_back(n, count);
    }
  });
  attempt("pages", [&] {
    page_size = db.scalar_int("PRAGMA page_size");
    pages = db.scalar_int("PRAGMA page_count");
    free_pages = db.scalar_int("PRAGMA freelist_count");
  });
  const auto size = storage::database_size(path);
  const bool ok = problems.empty();

  std::ostream& out = *ctx.out;
  if (ctx.json) {
    json::object o;
    o["path"] = path;
    o["ok"] = ok;
    o["check"] = quick ? "quick_check" : "integrity_check";
    json::array integ;
    for (const auto& p : integrity.problems) integ.push_back(json::value(p));
    o["integrity"] = std::move(integ);
    json::array fka;
    for (const auto& f : fk) fka.push_back(json::value(f));
    o["foreign_key_violations"] = std::move(fka);
    o["schema_version"] = version;
    o["build_schema_version"] = storage::kSchemaVersion;
    json::object t;
    for (const auto& [n, c] : tables) t[n] = c;
    o["tables"] = std::move(t);
    o["db_bytes"] = size.db_bytes;
    o["wal_bytes"] = size.wal_bytes;
    o["page_size"] = page_size;
    o["pages"] = pages;
    o["free_pages"] = free_pages;
    json::array pr;
    for (const auto& p : problems) pr.push_back(json::value(p));
    o["problems"] = std::move(pr);
    out << json::serialize(o) << "\n";
    return ok ? kOk : kProblem;
  }
  Table info({{"check"}, {"result"}});
  info.add({"database", path});
  info.add({"file size", format_bytes(size.db_bytes) + " (" + format_count(pages) + " pages of " +
                             std::to_string(page_size) + " B, " + format_count(free_pages) +
                             " free)"});
  info.add({"WAL", size.wal_bytes ? format_bytes(size.wal_bytes) : "none"});
  info.add({"schema", version < 0 ? "unreadable"
                                  : "version " + std::to_string(version) + " (this build: " +
                                        std::to_string(storage::kSchemaVersion) + ")"});
  info.add({quick ? "quick_check" : "integrity_check",
            integrity.ok ? "ok" : std::to_string(integrity.problems.size()) + " problem(s)"});
  info.add({"foreign_key_check", !db.is_open() ? "not run"
                                 : fk.empty()  ? "ok"
                                               : std::to_string(fk.size()) + " violation(s)"});
  info.print(out);
  if (!tables.empty()) {
    out << "\n";
    Table t({{"table"}, {"rows", true}});
    for (const auto& [n, c] : tables) t.add({n, c < 0 ? "unreadable" : format_count(c)});
    t.print(out);
  }
  if (!ok) {
    out << "\nproblems:\n";
    for (const auto& p : problems) out << "  " << p << "\n";
  }
  out << "\n" << (ok ? "OK" : "PROBLEMS FOUND") << "\n";
  return ok ? kOk : kProblem;
}

/// fsync a file or a directory; false on failure.
bool sync_path(const std::string& p, bool directory) {
  const int fd = ::open(p.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

void remove_with_journal(const std::string& p) {
  std::error_code ec;
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(p + suffix, ec);
}

int run_backup(Context& ctx, const Args& a) {
  if (a.positional.size() != 1) throw UsageError("db backup: needs exactly one FILE (the copy)");
  const std::string dest = a.positional[0];
  const bool force = a.has("--force");
  const std::string source = database_path(ctx);
  std::error_code ec;
  if (!fs::exists(source, ec))
    throw Unreachable("db backup: cannot open " + source + ": no such file");
  if (fs::exists(dest, ec)) {
    if (fs::equivalent(source, dest, ec))
      throw UsageError("db backup: FILE " + dest + " is the database itself");
    if (!force) throw UsageError("db backup: " + dest + " exists; give --force to replace it");
    if (fs::is_directory(dest, ec)) throw UsageError("db backup: " + dest + " is a directory");
  }
  const std::string tmp = dest + ".tmp";
  remove_with_journal(tmp);  // a previous attempt's leftovers
  const auto t0 = std::chrono::steady_clock::now();
  storage::BackupReport r;
  try {
    r = storage::backup_database(source, tmp);
  } catch (const storage::SqliteError& e) {
    remove_with_journal(tmp);
    if (e.is_corruption()) {
      *ctx.err << "soleusctl: db backup: the database " << source << " cannot be read: " << e.what()
               << " (run: soleusctl db check)\n";
      return kProblem;
    }
    // Which side failed is in the message (the source opened read-only, the copy read-write).
    throw Unreachable("db backup: " + source + " -> " + tmp + ": " + e.what());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.check.ok) {
    remove_with_journal(tmp);
    *ctx.err << "soleusctl: db backup: the copy failed its integrity check (removed):\n";
    for (const auto& p : r.check.problems) *ctx.err << "  " << p << "\n";
    return kProblem;
  }
  // Durable before it takes the name: the file, the rename, the folder.
  if (!sync_path(tmp, false)) {
    remove_with_journal(tmp);
    throw Unreachable("db backup: cannot sync " + tmp);
  }
  fs::rename(tmp, dest, ec);
  if (ec) {
    remove_with_journal(tmp);
    throw Unreachable("db backup: cannot rename " + tmp + " to " + dest + ": " + ec.message());
  }
  const fs::path parent = fs::absolute(dest, ec).parent_path();
  sync_path(parent.string(), true);

  if (ctx.json) {
    json::object o;
    o["source"] = source;
    o["backup"] = dest;
    o["pages"] = r.pages;
    o["bytes"] = r.bytes;
    o["seconds"] = secs;
    o["integrity"] = "ok";
    *ctx.out << json::serialize(o) << "\n";
  } else {
    *ctx.out << "backup " << source << " -> " << dest << ": " << format_count(r.pages) << " pages, "
             << format_bytes(r.bytes) << " in " << format_fixed(secs, 2)
             << " s; integrity_check of the copy: ok\n";
  }
  return kOk;
}

}  // namespace

std::vector<Command> db_commands() {
  return {
      {"db check",
       "[--quick]",
       "Checks the database file; exit 1 when it is damaged.\n"
       "PRAGMA integrity_check, foreign_key_check, schema version, rows per table, file and\n"
       "WAL size. Read-only; safe while soleusd runs.",
       {{"--quick", "",
         "PRAGMA quick_check instead of integrity_check (O(N), skips index checks)"}},
       0,
       "Exit 0 when everything is ok, 1 when a problem was found, 3 when the file cannot be "
       "opened.\n",
       run_check},
      {"db backup",
       "FILE [--force]",
       "A consistent, checked copy of the database, also while soleusd runs.\n"
       "Copies the database to FILE with SQLite's online backup API, consistent even while\n"
       "soleusd writes (WAL: the copy is the snapshot at its start and the writer is never\n"
       "blocked), checks the copy with integrity_check, and only then gives it its name\n"
       "(written as FILE.tmp, synced, renamed). The copy is one self-contained file.",
       {{"--force", "", "replace FILE if it exists (otherwise refused with exit 2)"}},
       1,
       "Exit 0 when the copy is made and checked, 1 when the source or the copy is damaged.\n",
       run_backup},
  };
}

}  // namespace soleus::ctl
