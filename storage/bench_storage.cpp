// bench_storage: the figures issue 4 asks of the store.
//   1. database growth per set of 15 reps with traces at 100 Hz;
//   2. writer throughput (records/s, trace samples/s, transactions/s) and the
//      producer's cost per push;
//   3. the time of a paged events query on a database of 1 000 000 events
//      (the time to create that database is printed separately).
// Usage: bench_storage [DIR] [EVENTS]   (DIR default ".", EVENTS default 1000000)
// The database files are made in DIR: put it on the disk the machine uses,
// not on a tmpfs, or the fsync cost of synchronous=FULL is not measured.
#include <sqlite3.h>
#include <sys/vfs.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "soleus/common/log.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/open.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/storage/writer.hpp"

using namespace soleus::storage;
using clk = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double secs(clk::duration d) { return std::chrono::duration<double>(d).count(); }

RepRecord rep(std::int64_t set_id, int k, double t0) {
  RepRecord r;
  r.set_id = set_id;
  r.seq = k;
  r.n = k;
  r.t_start_s = t0;
  r.peak_force_n = 850 + k;
  r.mean_force_n = 760 + 0.37 * k;
  r.concentric_s = 3.02;
  r.top_pause_s = 0.98;
  r.eccentric_s = 3.05;
  r.bottom_pause_s = 0.95;
  r.rom_mm = 108.4;
  r.rom_pct = 97.6;
  r.mean_velocity_mm_s = 35.9;
  r.smoothness = 0.94;
  r.tempo_deviation_s = 0.05;
  r.tut_s = 8;
  return r;
}

/// One set of `reps` reps, 8 s each (3-1-3-1), traces at `hz`, pushed as the loop would.
void push_set(Writer& w, std::int64_t set_id, int reps, double hz, double& t) {
  SetStartRecord s;
  s.set_id = set_id;
  s.mode.assign("isotonic");
  s.load_n = 850;
  s.tempo.assign("3-1-3-1");
  s.target_reps = reps;
  w.push(s);
  w.event(Severity::Info, "set_started", "set started", "{\"load_n\":850,\"tempo\":\"3-1-3-1\"}",
          set_id);
  const int per_rep = static_cast<int>(std::lround(8.0 * hz));
  for (int k = 1; k <= reps; ++k) {
    const double t0 = t;
    for (int i = 0; i < per_rep; ++i) {
      const double ph = static_cast<double>(i) / per_rep;
      // A realistic shape: force and position follow the rep, with sensor noise.
      const double pos = 55 - 54 * std::cos(2 * M_PI * ph);
      const double force = 850 + 60 * std::sin(2 * M_PI * ph) + 3.0 * std::sin(i * 1.7);
      w.push_trace({set_id, t, static_cast<float>(force), static_cast<float>(pos)});
      t += 1.0 / hz;
    }
    w.push(rep(set_id, k, t0));
  }
  SetEndRecord e;
  e.set_id = set_id;
  e.stop_reason.assign("target_reached");
  e.reps = reps;
  e.tut_s = 8.0 * reps;
  e.t_end_s = t;
  w.push(e);
  w.event(Severity::Info, "set_ended", "set ended: target_reached", "{\"reps\":15}", set_id);
}

std::string fs_type(const std::string& dir) {
  struct statfs s {};
  if (statfs(dir.c_str(), &s) != 0) return "?";
  if (s.f_type == 0x01021994) return "tmpfs (fsync is free: FULL costs nothing here)";
  if (s.f_type == 0xEF53) return "ext4";
  if (s.f_type == 0x794c7630) return "overlayfs";
  if (s.f_type == 0x9123683E) return "btrfs";
  if (s.f_type == 0x58465342) return "xfs";
  std::ostringstream os;
  os << "0x" << std::hex << s.f_type;
  return os.str();
}

void growth(const std::string& dir) {
  const std::string path = dir + "/bench-growth.db";
  fs::remove(path);
  fs::remove(path + "-wal");
  StorageConfig cfg;
  cfg.db_path = path;
  cfg.trace_queue = 1 << 15;
  cfg.trace_retention_days = 0;
  Writer w(cfg);
  w.start();
  w.flush(std::chrono::seconds(10));
  auto size_now = [&] {
    auto db = Database::open(path);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return db.scalar_int("PRAGMA page_count") * db.scalar_int("PRAGMA page_size");
  };
  const auto before = size_now();
  constexpr int kSets = 40;
  double t = 0;
  for (int i = 0; i < kSets; ++i) {
    push_set(w, w.allocate_set_id(), 15, 100, t);
    w.flush(std::chrono::seconds(30));
  }
  const auto after = size_now();
  auto db = Database::open(path);
  const auto blob = db.scalar_int("SELECT sum(length(data)) FROM rep_traces");
  const auto samples = db.scalar_int("SELECT sum(samples) FROM rep_traces");
  const auto chunks = db.scalar_int("SELECT count(*) FROM rep_traces");
  const auto reps = db.scalar_int("SELECT count(*) FROM reps");
  const double per_set = static_cast<double>(after - before) / kSets;
  std::cout << "1. database growth (" << kSets << " sets of 15 reps, 8 s reps, traces at 100 Hz)\n"
            << "   per set:             " << std::fixed << std::setprecision(1) << per_set / 1024
            << " KiB (" << static_cast<long>(per_set) << " bytes)\n"
            << "   trace data per set:  " << static_cast<double>(blob) / kSets / 1024 << " KiB for "
            << samples / kSets << " samples = " << std::setprecision(2)
            << static_cast<double>(blob) / static_cast<double>(samples)
            << " bytes/sample (t, force, position)\n"
            << "   rows per set:        " << std::setprecision(1)
            << static_cast<double>(reps) / kSets << " reps, " << static_cast<double>(chunks) / kSets
            << " trace chunks, 4 events\n"
            << "   per year at 20 sets a day: " << per_set * 20 * 365 / (1024.0 * 1024.0)
            << " MiB (traces kept " << cfg.trace_retention_days << " days = forever here)\n";
  w.stop();
}

void throughput(const std::string& dir) {
  const std::string path = dir + "/bench-throughput.db";
  fs::remove(path);
  fs::remove(path + "-wal");
  StorageConfig cfg;
  cfg.db_path = path;
  cfg.record_queue = 1 << 18;  // hold the whole burst: measure the writer, not the overflow
  cfg.trace_queue = 1 << 21;
  cfg.trace_retention_days = 0;
  Writer w(cfg);
  w.start();
  w.flush(std::chrono::seconds(10));

  std::cout << "2. writer throughput (batch_items " << cfg.batch_items << ", flush_ms "
            << cfg.flush_ms << ")\n";
  {
    constexpr int kN = 200'000;
    const auto tx0 = w.health().transactions;
    const auto t0 = clk::now();
    for (int i = 0; i < kN; ++i)
      w.event(Severity::Info, "bench", "a bench event with a typical length of text", "{\"i\":1}");
    const auto pushed = clk::now();
    w.flush(std::chrono::seconds(300));
    const double s = secs(clk::now() - t0);
    const auto tx = w.health().transactions - tx0;
    std::cout << std::fixed << std::setprecision(0) << "   events only:        " << kN / s
              << " records/s, " << static_cast<double>(tx) / s
              << " transactions/s (synchronous=FULL each)\n"
              << std::setprecision(0) << "   producer push cost: " << secs(pushed - t0) / kN * 1e9
              << " ns per event push\n";
  }
  {
    // The machine's own mix: reps with their 100 Hz traces, as fast as possible.
    constexpr int kSets = 50;
    const auto tx0 = w.health().transactions;
    const auto s0 = w.health().samples_committed;
    const auto r0 = w.health().records_committed;
    double t = 0;
    const auto t0 = clk::now();
    for (int i = 0; i < kSets; ++i) push_set(w, w.allocate_set_id(), 15, 100, t);
    const auto pushed = clk::now();
    w.flush(std::chrono::seconds(300));
    const double s = secs(clk::now() - t0);
    const auto h = w.health();
    std::cout << "   sets with traces:   " << static_cast<double>(h.records_committed - r0) / s
              << " records/s + " << static_cast<double>(h.samples_committed - s0) / s
              << " samples/s, " << static_cast<double>(h.transactions - tx0) / s
              << " transactions/s; " << kSets / s << " sets/s = " << kSets * 120.0 / s
              << "x real time\n"
              << "   producer push cost: " << std::setprecision(0)
              << secs(pushed - t0) / (kSets * (15 * 801 + 4)) * 1e9
              << " ns per push (traces and records), dropped " << h.traces_dropped << "\n";
  }
  w.stop();
}

void events_query(const std::string& dir, int n_events) {
  const std::string path = dir + "/bench-events.db";
  fs::remove(path);
  fs::remove(path + "-wal");
  const auto c0 = clk::now();
  {
    auto db = Database::open(path);
    db.exec("PRAGMA page_size = 8192");  // as open_store() makes a new file
    configure_connection(db);
    migrate(db);
    db.exec("PRAGMA synchronous=NORMAL");
    Transaction tx(db);
    auto st = db.prepare(
        "INSERT INTO events (t_ms, severity, code, message, set_id, context) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    const char* codes[] = {"set_started", "set_ended", "calibrated", "unloaded", "comm_glitch"};
    const std::int64_t t_start = 1'767'225'600'000;  // 2026-01-01
    for (int i = 0; i < n_events; ++i) {
      // ~12 s apart (about 4 months of a busy machine); 1 % errors, 5 % warnings.
      const int sev = i % 100 == 0 ? 2 : i % 20 == 0 ? 1 : 0;
      const char* code = sev == 2 ? (i % 300 == 0 ? "drive_fault" : "comm_loss") : codes[i % 5];
      st.bind(1, t_start + static_cast<std::int64_t>(i) * 12'000)
          .bind(2, sev)
          .bind(3, code)
          .bind(4, "an event message of a typical length for the log")
          .bind(5, static_cast<std::int64_t>(i / 8))
          .bind(6, "{\"value\":123.4}");
      st.run();
      st.reset();
    }
    tx.commit();
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  const double create_s = secs(clk::now() - c0);
  std::cout << "3. events query on " << n_events << " events ("
            << database_size(path).db_bytes / (std::int64_t{1024} * 1024) << " MiB)\n"
            << "   creating the database: " << std::fixed << std::setprecision(1) << create_s
            << " s (one transaction)\n";

  auto timed = [&](const char* what, EventFilter f, int pages) {
    // As soleusctl would: a fresh connection, then the pages.
    const auto t0 = clk::now();
    auto db = Database::open(path, Database::Access::ReadOnly);
    std::optional<EventCursor> cursor = f.before;
    std::size_t rows = 0;
    const auto first0 = clk::now();
    double first_ms = 0;
    for (int p = 0; p < pages; ++p) {
      f.before = cursor;
      auto page = query_events(db, f);
      if (p == 0) first_ms = secs(clk::now() - first0) * 1e3;
      rows += page.rows.size();
      cursor = page.next;
      if (!cursor) break;
    }
    const double total_ms = secs(clk::now() - t0) * 1e3;
    std::cout << "   " << std::left << std::setw(44) << what << std::right << std::setprecision(2)
              << " first page " << std::setw(6) << first_ms << " ms, " << pages
              << " pages (incl. open) " << std::setw(7) << total_ms << " ms, " << rows << " rows\n";
  };
  EventFilter all;
  timed("newest 50, no filter", all, 1);
  timed("newest 50, 20 pages deep", all, 20);
  EventFilter err;
  err.min_severity = Severity::Error;
  timed("--severity error", err, 5);
  EventFilter warn;
  warn.min_severity = Severity::Warning;
  timed("--severity warning", warn, 5);
  EventFilter code;
  code.code = "drive_fault";
  timed("--code drive_fault (0.33 %)", code, 5);
  EventFilter since;
  since.since_ms = 1'767'225'600'000 + static_cast<std::int64_t>(n_events / 2) * 12'000;
  since.until_ms = *since.since_ms + 86'400'000;
  timed("--since (one day in the middle)", since, 200);
  EventFilter both;
  both.code = "comm_loss";
  both.since_ms = 1'767'225'600'000 + static_cast<std::int64_t>(n_events / 4) * 12'000;
  timed("--code comm_loss --since (3 months)", both, 5);
  {
    auto db = Database::open(path, Database::Access::ReadOnly);
    const auto t0 = clk::now();
    auto n = db.scalar_int("SELECT count(*) FROM events");
    std::cout << "   count(*) of every event: " << secs(clk::now() - t0) * 1e3 << " ms (" << n
              << ")\n";
    for (const auto& l : explain_events_query(db, code))
      std::cout << "   plan --code: " << l << "\n";
    for (const auto& l : explain_events_query(db, warn))
      std::cout << "   plan --severity warning: " << l << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  const int n_events = argc > 2 ? std::stoi(argv[2]) : 1'000'000;
  soleus::log::set_level(soleus::log::Level::Warning);
  std::cout << "bench_storage: SQLite " << sqlite3_libversion() << ", files in " << dir << " ("
            << fs_type(dir) << ")\n";
  growth(dir);
  throughput(dir);
  events_query(dir, n_events);
  return 0;
}
