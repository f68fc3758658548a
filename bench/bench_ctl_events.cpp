// bench_ctl_events: wall time of the real `soleusctl events` (process start,
// opening the database, the page query and the matching count) on a database
// of 1 000 000 events spread over a year, for the ways technicians use it.
// Prints figures; asserts nothing.
// Usage: bench_ctl_events [DIR] [EVENTS] [RUNS] [SOLEUSCTL]
//   DIR default ".", EVENTS 1000000, RUNS 10, SOLEUSCTL the build tree's.
// The database (DIR/bench-ctl-events.db, ~150 MiB) is kept for reuse when it
// already holds EVENTS events; delete it to rebuild.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "soleus/common/time.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/open.hpp"
#include "soleus/storage/schema.hpp"

extern char** environ;

using namespace soleus::storage;
using clk = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double ms_since(clk::time_point t0) {
  return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
}

struct Kind {
  const char* code;
  int severity;
  double weight;
  bool in_set;
};

// A busy machine's year: mostly the set lifecycle, some bus glitches, rare faults.
const std::vector<Kind> kKinds = {
    {"set_started", 0, 24, false},
    {"set_ended", 0, 24, false},
    {"calibrated", 0, 20, true},
    {"unloaded", 0, 20, true},
    {"stop_requested", 0, 2, true},
    {"armed", 0, 1, false},
    {"boot", 0, 0.3, false},
    {"tared", 0, 0.5, false},
    {"comm_glitch", 1, 4, false},
    {"loop_overrun", 1, 1, false},
    {"stale_load_cell", 1, 0.3, false},
    {"user_left", 1, 0.5, true},
    {"comm_loss", 2, 0.5, false},
    {"drive_fault", 2, 0.2, true},
    {"sto", 2, 0.1, false},
    {"storage_fault", 2, 0.02, false},
    {"sensor_cross_check", 2, 0.05, true},
};

void create(const std::string& path, int n, std::int64_t end_ms) {
  for (const char* s : {"", "-wal", "-shm"}) fs::remove(path + s);
  const auto t0 = clk::now();
  auto db = Database::open(path);
  db.exec("PRAGMA page_size = 8192");  // as open_store() makes a new file
  configure_connection(db);
  migrate(db);
  db.exec("PRAGMA synchronous=OFF");  // a bulk load, not the writer's durability
  std::vector<double> w;
  w.reserve(std::size(kKinds));
  for (const auto& k : kKinds) w.push_back(k.weight);
  std::discrete_distribution<int> pick(w.begin(), w.end());
  std::mt19937_64 rng(42);
  std::exponential_distribution<double> gap(1.0);
  const double mean_gap_ms = 365.0 * 86'400'000 / n;
  std::vector<std::int64_t> times(static_cast<std::size_t>(n));
  double t = 0;
  for (auto& x : times) {
    t += gap(rng) * mean_gap_ms;
    x = static_cast<std::int64_t>(t);
  }
  const std::int64_t shift = end_ms - times.back();  // the newest event is "now"
  Transaction tx(db);
  auto st = db.prepare(
      "INSERT INTO events (t_ms, severity, code, message, set_id, context) VALUES (?1, ?2, ?3, ?4, "
      "?5, ?6)");
  std::int64_t set_id = 0;
  for (int i = 0; i < n; ++i) {
    const Kind& k = kKinds[static_cast<std::size_t>(pick(rng))];
    if (std::string_view(k.code) == "set_started") ++set_id;
    st.bind(1, times[static_cast<std::size_t>(i)] + shift)
        .bind(2, k.severity)
        .bind(3, k.code)
        .bind(4, k.severity == 2 ? "the drive reported a fault: over-current (code 1)"
                                 : "an event message of a typical length")
        .bind(5, k.in_set || k.severity == 0 ? std::optional<std::int64_t>(set_id) : std::nullopt)
        .bind(6, k.severity ? "{\"value\":123.4,\"limit\":100}" : "{}");
    st.run();
    st.reset();
  }
  tx.commit();
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  std::cout << "created " << n << " events in " << std::fixed << std::setprecision(1)
            << ms_since(t0) / 1000 << " s (one transaction), "
            << static_cast<double>(database_size(path).db_bytes) / (1024.0 * 1024) << " MiB\n";
}

/// Runs the command with stdout/stderr to /dev/null; returns wall ms, or -1 on failure.
double run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size());
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  const auto t0 = clk::now();
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  const double ms = ms_since(t0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  const int n = argc > 2 ? std::stoi(argv[2]) : 1'000'000;
  const int runs = argc > 3 ? std::stoi(argv[3]) : 10;
  const std::string ctl = argc > 4 ? argv[4] : SOLEUSCTL_EXE;
  const std::string path = dir + "/bench-ctl-events.db";
  const auto now = soleus::common::unix_ms_now();

  bool reuse = false;
  if (fs::exists(path)) {
    try {
      auto db = Database::open(path, Database::Access::ReadOnly);
      reuse = db.scalar_int("SELECT count(*) FROM events") == n;
    } catch (const SqliteError&) {
    }
  }
  if (reuse)
    std::cout << "reusing " << path << " (" << n << " events; its \"now\" is its newest event)\n";
  else create(path, n, now);
  std::int64_t newest = 0, newest_id = 0, middle_id = 0;
  {
    auto db = Database::open(path, Database::Access::ReadOnly);
    newest = db.scalar_int("SELECT max(t_ms) FROM events");
    newest_id = db.scalar_int("SELECT max(id) FROM events");
    middle_id = db.scalar_int("SELECT id FROM events ORDER BY t_ms DESC, id DESC LIMIT 1 OFFSET " +
                              std::to_string(n / 2));
    std::cout << "rows: error " << db.scalar_int("SELECT count(*) FROM events WHERE severity = 2")
              << ", comm_loss "
              << db.scalar_int("SELECT count(*) FROM events WHERE code = 'comm_loss'")
              << ", last 2 days "
              << db.scalar_int("SELECT count(*) FROM events WHERE t_ms >= " +
                               std::to_string(newest - std::int64_t{2} * 86'400'000))
              << "\n";
  }
  (void)newest_id;
  // "2d" is relative to the real now: a reused file's newest event may be older.
  const std::string since2d = std::to_string(newest - std::int64_t{2} * 86'400'000);

  struct Variant {
    std::string name;
    std::vector<std::string> args;
  };
  const std::vector<Variant> variants = {
      {"soleusctl --help (process start only)", {"--help"}},
      {"events (newest 50 + count of all)", {"events"}},
      {"events --severity error", {"events", "--severity", "error"}},
      {"events --severity warning", {"events", "--severity", "warning"}},
      {"events --code comm_loss", {"events", "--code", "comm_loss"}},
      {"events --since 2d", {"events", "--since", reuse ? since2d : "2d"}},
      {"events --before-id <500 000 rows deep>",
       {"events", "--before-id", std::to_string(middle_id)}},
      {"events --page 2000 (offset 99 950)", {"events", "--page", "2000"}},
      {"events --code comm_loss --since 30d",
       {"events", "--code", "comm_loss", "--since", std::to_string(newest - 30LL * 86'400'000)}},
      {"--json events", {"--json", "events"}},
      {"--json events --limit 1000", {"--json", "events", "--limit", "1000"}},
  };
  std::cout << "soleusctl " << ctl << ", " << runs << " runs each (wall time per run, ms)\n"
            << std::left << std::setw(44) << "variant" << std::right << std::setw(9) << "median"
            << std::setw(9) << "max"
            << "\n";
  for (const auto& v : variants) {
    std::vector<std::string> a = {ctl, "--db", path};
    a.insert(a.end(), v.args.begin(), v.args.end());
    run(a);  // one warm-up: the page cache, as for a technician's second command
    std::vector<double> t;
    bool failed = false;
    for (int i = 0; i < runs; ++i) {
      const double ms = run(a);
      if (ms < 0) failed = true;
      t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    std::cout << std::left << std::setw(44) << v.name << std::right << std::fixed
              << std::setprecision(1) << std::setw(9) << t[t.size() / 2] << std::setw(9) << t.back()
              << (failed ? "  (a run FAILED)" : "") << "\n";
  }
  return 0;
}
