// Hazard 15 (issue 10, docs/safety.md): a power cut simulated at the VFS.
//
// The real storage writer (the one soleusd runs) records sets, reps, trace
// samples, events and odometer records in a child process, on a real file,
// through PowerCutVfs (tests/support): writes reach the file only when SQLite
// syncs it. At a random moment the power is cut: the writes not synced are
// dropped (or, in the harsher mode, a random part of them lands, torn at
// 512-byte sectors), every I/O call blocks for good, and the child is killed
// with SIGKILL without closing anything. The parent then opens the file
// with SQLite's default VFS and checks:
//  * PRAGMA integrity_check is ok (0 corrupt);
//  * every record the writer acknowledged as committed is there: a rep or a
//    set end in on_commit (what committed_reps() and the API report), or
//    anything pushed before a flush() that returned true (0 committed lost),
//    in this trial and in every earlier one;
//  * nothing is half-present: the records found are exactly a prefix of
//    those pushed (whole transactions, in order), each rep has its trace chunk
//    and no chunk is without its rep, and the odometer agrees with the rows;
//  * the producers' side (the control loop's pushes) never waited, also in the
//    50 ms after the cut while the writer is frozen inside a write (loop
//    unaffected).
// 30 trials per mode on one file, each restarting on what the previous cut left.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <new>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "soleus/common/log.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/writer.hpp"
#include "soleus/test_support/power_cut_vfs.hpp"
#include "storage_test_util.hpp"

using namespace soleus::storage;
using namespace soleus::storage::test;
using soleus::test_support::PowerCutVfs;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr int kTrials = 30;
constexpr std::uint64_t kMaxStep = 200;  // I/O steps of a child's life: see the figures printed
constexpr int kSamplesPerRep = 20;       // 10 ms apart: a rep of 0.2 s of loop time
constexpr int kHoldSamples = 2500;  // an isometric hold of 25 s: the writer cuts a chunk at 2000
constexpr auto kAfterCut = 50ms;    // the loop's side goes on this long with the writer frozen
constexpr auto kPushBound =
    50ms;  // the bound of "writer: producers never block ..." (sanitizers, load)

enum class Kind : int { Event, FaultEvent, SetStart, Rep, SetEnd, Odometer };

/// One record pushed by the child, written to the log before its push.
struct Entry {
  Kind kind;
  std::int64_t set_id;
  int seq;       // Rep: seq; events: the log index; SetEnd: samples of a hold set (0: reps)
  bool partial;  // Rep
  double value;  // Rep: peak force; Odometer: motor-on seconds
};

constexpr int kMaxLog = 20000;

/// Shared with the child (MAP_SHARED): the child writes, the parent reads once it is dead.
struct Shared {
  std::atomic<int> logged{0};  // entries written to `log` (each before its push)
  std::atomic<int> pushed{0};  // pushes that returned (in log order: one producer)
  std::atomic<int> acked{0};   // log entries [0, acked) acknowledged as committed
  std::atomic<int> acks_commit{0}, acks_flush{0};
  std::atomic<int> started{0};  // writer.start() returned ok
  std::atomic<int> cut{0};
  std::atomic<int> step_not_reached{0};
  std::atomic<std::int64_t> worst_push_ns{0}, worst_push_after_cut_ns{0};
  std::atomic<int> pushes_after_cut{0};
  std::atomic<int> vfs_done{0};
  PowerCutVfs::Stats vfs;  // written by the child after the cut, before its kill
  char error[512] = {};
  Entry log[kMaxLog];
};
static_assert(std::atomic<int>::is_always_lock_free &&
              std::atomic<std::int64_t>::is_always_lock_free);

void atomic_max(std::atomic<int>& a, int v) {
  int cur = a.load();
  while (cur < v && !a.compare_exchange_weak(cur, v)) {
  }
}
void atomic_max(std::atomic<std::int64_t>& a, std::int64_t v) {
  std::int64_t cur = a.load();
  while (cur < v && !a.compare_exchange_weak(cur, v)) {
  }
}

std::string event_message(int trial, int index) {
  return "power cut trial " + std::to_string(trial) + " entry " + std::to_string(index);
}

// ---------------------------------------------------------------------------
// The child: the writer, the loop's side pushing, the API's side flushing,
// and the power cut. Never returns: the cut ends it with SIGKILL.

/// When the power goes: at a time, or inside an I/O step of SQLite's.
struct CutPlan {
  std::chrono::microseconds after{0};  // time plan: this long after the child starts
  std::uint64_t step = 0;              // step plan: inside this I/O step (PowerCutVfs::arm)
};

[[noreturn]] void run_child(Shared& sh, const StorageConfig& cfg, int trial, std::uint64_t seed,
                            CutPlan plan, PowerCutVfs::Loss loss) {
  soleus::log::set_level(soleus::log::Level::Error);
  auto& vfs = PowerCutVfs::install();
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const std::uint64_t cut_seed = seed ^ 0x9e3779b97f4a7c15ull;
  if (plan.step) vfs.arm(plan.step, loss, cut_seed);

  std::thread cutter([&, t0] {
    if (plan.step) {
      // The step's own call cuts; a step never reached is cut by time after 3 s.
      const auto deadline = t0 + 3s;
      while (!vfs.is_cut() && clock::now() < deadline) std::this_thread::sleep_for(200us);
      if (!vfs.is_cut()) sh.step_not_reached.store(1);
    } else {
      std::this_thread::sleep_until(t0 + plan.after);
    }
    vfs.cut(loss, cut_seed);  // no-op when the armed step has cut already
    sh.cut.store(1);
    // The loop's side goes on with the writer frozen: its first push after
    // the cut (a loaded box may not run that thread within kAfterCut: seen
    // once in 25 repeats beside two builds), then kAfterCut more. A push that
    // never returns still fails the checks: none is counted after 2 s.
    const auto until = clock::now() + 2s;
    while (sh.started.load() && sh.pushes_after_cut.load() == 0 && clock::now() < until)
      std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(kAfterCut);
    sh.vfs = vfs.stats();
    sh.vfs_done.store(1);
    ::raise(SIGKILL);  // the machine is off: no destructor, no close, no last write
  });

  try {
    Writer w(cfg);
    std::mutex index_mutex;
    std::map<std::pair<std::int64_t, int>, int> rep_index;  // (set, seq) -> log index
    std::map<std::int64_t, int> end_index;                  // set -> log index of its end
    // The writer's acknowledgements: on the writer thread, after COMMIT.
    w.on_commit([&](const CommitNotice& n) {
      int best = -1;
      {
        std::lock_guard lock(index_mutex);
        for (const auto& r : n.reps)
          if (auto it = rep_index.find({r.set_id, r.seq}); it != rep_index.end())
            best = std::max(best, it->second);
        for (auto id : n.sets_ended)
          if (auto it = end_index.find(id); it != end_index.end())
            best = std::max(best, it->second);
      }
      if (best >= 0) {
        atomic_max(sh.acked, best + 1);
        sh.acks_commit.fetch_add(1);
      }
    });
    const auto report = w.start();
    if (!report.ok) {
      std::snprintf(sh.error, sizeof sh.error, "start failed: %s", report.error.c_str());
      for (;;) std::this_thread::sleep_for(1s);  // until the cut's kill
    }
    sh.started.store(1);

    // The API's side: flush() true = everything pushed before the call is committed.
    std::thread api([&] {
      std::mt19937_64 r(seed + 1);
      for (;;) {
        const int n = sh.pushed.load();
        if (n > 0 && w.flush(1s)) {
          atomic_max(sh.acked, n);
          sh.acks_flush.fetch_add(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + r() % 40));
      }
    });
    api.detach();

    // The control loop's side: sets of reps with their 100 Hz traces, events,
    // odometer records. Each record is logged before it is pushed.
    std::mt19937_64 rng(seed);
    auto timed = [&](auto&& push) {
      const bool after_cut = sh.cut.load() != 0;
      const auto a = clock::now();
      push();
      const auto ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - a).count();
      atomic_max(sh.worst_push_ns, ns);
      if (after_cut) {
        atomic_max(sh.worst_push_after_cut_ns, ns);
        sh.pushes_after_cut.fetch_add(1);
      }
    };
    auto record = [&](const Entry& e, const Record& r) {
      const int i = sh.logged.load();
      if (i >= kMaxLog) throw std::runtime_error("log full");
      sh.log[i] = e;
      if (e.kind == Kind::Rep) {
        std::lock_guard lock(index_mutex);
        rep_index[{e.set_id, e.seq}] = i;
      } else if (e.kind == Kind::SetEnd) {
        std::lock_guard lock(index_mutex);
        end_index[e.set_id] = i;
      }
      sh.logged.store(i + 1);
      timed([&] {
        if (!w.push(r)) throw std::runtime_error("a record was refused by push()");
      });
      sh.pushed.store(i + 1);
    };
    auto event = [&](Kind kind, std::int64_t set_id) {
      const int i = sh.logged.load();
      EventRecord e;
      e.severity = kind == Kind::FaultEvent ? Severity::Error : Severity::Info;
      e.code.assign(kind == Kind::FaultEvent ? "pc_fault" : "pc_event");
      e.message.assign(event_message(trial, i));
      e.set_id = set_id;
      record({kind, set_id, i, false, 0}, e);
    };

    std::int64_t tick = 0;  // loop cycles of 10 ms: sample times are tick * 0.01 exactly
    for (;;) {
      const std::int64_t set_id = w.allocate_set_id();
      event(Kind::Event, set_id);
      if (rng() % 4 == 0) {
        // An isometric hold: 25 s of samples and no rep. The writer cuts the
        // first 2000 or more into a chunk of their own, committed alone at
        // synchronous=NORMAL (docs/storage.md): that path is cut too.
        SetStartRecord s;
        s.set_id = set_id;
        s.mode.assign("isometric");
        s.load_n = 600;
        s.tempo.assign("1-1-1-1");
        s.hold_s = 25;
        record({Kind::SetStart, set_id, 0, false, 0}, s);
        for (int k = 0; k < kHoldSamples; ++k, ++tick) {
          const TraceSample sample{set_id, static_cast<double>(tick) * 0.01, 800.0f, 50.0f};
          timed([&] { w.push_trace(sample); });
          if (k % 100 == 99) std::this_thread::sleep_for(1ms);  // 100 samples a loop period
        }
        std::this_thread::sleep_for(30ms);  // the writer cuts and commits the long chunk alone
        OdometerRecord o;
        o.motor_on_s = 0.5;
        record({Kind::Odometer, set_id, 0, false, o.motor_on_s}, o);
        SetEndRecord e;
        e.set_id = set_id;
        e.stop_reason.assign("target_reached");
        e.tut_s = 25;
        e.t_end_s = static_cast<double>(tick) * 0.01;
        record({Kind::SetEnd, set_id, kHoldSamples, false, 0}, e);
        std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 40));  // rest
        continue;
      }
      SetStartRecord s;
      s.set_id = set_id;
      s.mode.assign("isotonic");
      s.load_n = 600;
      s.tempo.assign("1-1-1-1");
      s.target_reps = 6;
      record({Kind::SetStart, set_id, 0, false, 0}, s);
      const int reps = 2 + static_cast<int>(rng() % 5);
      int counted = 0;
      for (int seq = 1; seq <= reps; ++seq) {
        const double t_start = static_cast<double>(tick) * 0.01;
        for (int k = 0; k < kSamplesPerRep; ++k, ++tick) {
          const TraceSample sample{set_id, static_cast<double>(tick) * 0.01,
                                   600.0f + static_cast<float>(k), 2.5f * static_cast<float>(k)};
          timed([&] { w.push_trace(sample); });
          std::this_thread::sleep_for(1ms);  // about a loop period (sped up tenfold)
        }
        RepRecord r;
        r.set_id = set_id;
        r.seq = seq;
        r.partial = rng() % 5 == 0;
        r.n = r.partial ? 0 : ++counted;
        r.t_start_s = t_start;
        r.peak_force_n = 700.0 + seq + static_cast<double>(set_id % 1000) / 4.0;
        r.mean_force_n = 650;
        // 0.195 s: the rep's last sample (t_start + 0.19) is in its chunk, the
        // next rep's first (t_start + 0.2) is not.
        r.concentric_s = r.top_pause_s = r.eccentric_s = 0.05;
        r.bottom_pause_s = 0.045;
        r.rom_mm = 100;
        r.rom_pct = 95;
        r.tut_s = 0.2;
        record({Kind::Rep, set_id, seq, r.partial, r.peak_force_n}, r);
        if (rng() % 8 == 0) event(Kind::FaultEvent, set_id);
      }
      OdometerRecord o;
      o.motor_on_s = 0.25 * reps;  // exact in binary: the sums compare exactly
      record({Kind::Odometer, set_id, 0, false, o.motor_on_s}, o);
      SetEndRecord e;
      e.set_id = set_id;
      e.stop_reason.assign("target_reached");
      e.reps = counted;
      e.partial_reps = reps - counted;
      e.t_end_s = static_cast<double>(tick) * 0.01;
      record({Kind::SetEnd, set_id, 0, false, 0}, e);
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 40));  // rest
    }
  } catch (const std::exception& e) {
    std::snprintf(sh.error, sizeof sh.error, "child: %s", e.what());
  }
  for (;;) std::this_thread::sleep_for(1s);  // until the cut's kill
}

// ---------------------------------------------------------------------------
// The parent's checks.

struct Totals {
  int trials = 0;
  int cut_before_ready = 0;  // the cut came while start() ran (open, check, recovery)
  int before_schema = 0;     // ... before the first start's migrations committed
  int holds_ended = 0;       // hold sets found ended, each with its 2500 samples
  std::int64_t pushed = 0, acked = 0, present = 0, lost_unacked = 0, acked_lost = 0;
  std::int64_t pending_ops = 0, kept_ops = 0, garbage_bytes = 0, cuts_pending = 0;
  std::int64_t steps_timed = 0, timed_trials = 0, steps_not_reached = 0;
  std::int64_t worst_push_ns = 0, worst_after_cut_ns = 0, pushes_after_cut = 0;
  double motor_on_s = 0;  // the odometer's expected total
};

/// An acknowledged record, kept to be checked again after every later cut.
struct Acked {
  int trial;
  int index;
  Entry e;
};

class Checker {
 public:
  explicit Checker(const std::string& path)
      : db_(Database::open(path, Database::Access::ReadOnly)),
        event_(db_.prepare("SELECT count(*) FROM events WHERE message = ?1 AND code = ?2")),
        set_start_(db_.prepare("SELECT count(*) FROM sets WHERE id = ?1 AND tempo = '1-1-1-1'")),
        set_end_(db_.prepare(
            "SELECT count(*) FROM sets WHERE id = ?1 AND stop_reason = 'target_reached'")),
        set_chunks_(db_.prepare("SELECT count(*), coalesce(sum(samples), 0) FROM rep_traces "
                                "WHERE set_id = ?1 AND rep_seq IS NULL")),
        rep_(db_.prepare("SELECT count(*), max(peak_force_n), max(partial), max(n) FROM reps "
                         "WHERE set_id = ?1 AND seq = ?2")),
        chunk_(db_.prepare("SELECT count(*), sum(samples) FROM rep_traces WHERE set_id = ?1 AND "
                           "rep_seq = ?2")) {}

  Database& db() { return db_; }

  /// 1 present, 0 absent, -1 not identifiable alone (odometer). Flags a
  /// half-present rep (without its chunk, or a chunk without it) or a duplicate.
  int present(int trial, int index, const Entry& e) {
    switch (e.kind) {
      case Kind::Event:
      case Kind::FaultEvent: {
        event_.reset();
        event_.bind(1, event_message(trial, index))
            .bind(2, e.kind == Kind::FaultEvent ? "pc_fault" : "pc_event");
        event_.step();
        const auto n = event_.int64(0);
        CHECK_MESSAGE(n <= 1, "event ", index, " of trial ", trial, " written twice");
        return n > 0;
      }
      case Kind::SetStart:
        set_start_.reset();
        set_start_.bind(1, e.set_id).step();
        return set_start_.int64(0) > 0;
      case Kind::SetEnd: {
        set_end_.reset();
        set_end_.bind(1, e.set_id).step();
        const bool here = set_end_.int64(0) > 0;
        set_chunks_.reset();
        set_chunks_.bind(1, e.set_id).step();
        if (here) {
          // An ended set has all its samples: a hold's in chunks of its own,
          // a set of reps' all in its reps' chunks.
          CHECK_MESSAGE(set_chunks_.int64(1) == e.seq, "set ", e.set_id, " ended with ",
                        set_chunks_.int64(1), " samples outside its reps' chunks, not ", e.seq);
        } else {
          CHECK(set_chunks_.int64(1) <= e.seq);
        }
        return here;
      }
      case Kind::Rep: {
        rep_.reset();
        rep_.bind(1, e.set_id).bind(2, e.seq).step();
        const bool here = rep_.int64(0) > 0;
        chunk_.reset();
        chunk_.bind(1, e.set_id).bind(2, e.seq).step();
        const auto chunks = chunk_.int64(0);
        if (here) {
          CHECK_MESSAGE(rep_.real(1) == e.value, "rep ", e.set_id, "/", e.seq, " holds other data");
          CHECK(rep_.int64(2) == (e.partial ? 1 : 0));
          CHECK_MESSAGE(chunks == 1, "rep ", e.set_id, "/", e.seq,
                        " is there without its trace chunk");
          if (chunks == 1) CHECK(chunk_.int64(1) == kSamplesPerRep);
        } else {
          CHECK_MESSAGE(chunks == 0, "a trace chunk of rep ", e.set_id, "/", e.seq,
                        " without its rep");
        }
        return here;
      }
      case Kind::Odometer: return -1;
    }
    return 0;
  }

 private:
  Database db_;
  Statement event_, set_start_, set_end_, set_chunks_, rep_, chunk_;
};

void scramble(const std::string& path, std::mt19937_64& rng) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size == 0) return;
  std::vector<char> junk(size);
  for (auto& c : junk) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary | std::ios::in | std::ios::out)
      .write(junk.data(), static_cast<std::streamsize>(size));
}

void power_cut_trials(PowerCutVfs::Loss loss, const char* mode_name) {
  TempDir dir;
  const auto path = dir.file("pc.db");
  PowerCutVfs::install();  // registered before the fork: the children inherit it
  auto cfg = test_config(path, "soleus-power-cut");
  cfg.trace_queue = 65536;  // no sample may be dropped: each rep's chunk is checked whole

  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("SOLEUS_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  MESSAGE(std::string(mode_name), ": seed ", seed, " (SOLEUS_TEST_SEED=", seed,
          " repeats this run)");
  std::mt19937_64 rng(seed);

  void* mem =
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mem != MAP_FAILED);
  struct Unmap {
    void* p;
    ~Unmap() { ::munmap(p, sizeof(Shared)); }
  } unmap{mem};

  Totals tot;
  std::vector<Acked> acked_so_far;
  for (int trial = 0; trial < kTrials; ++trial) {
    const std::uint64_t trial_seed = rng();
    // Half the cuts at a random time: early ones land in start() (opening,
    // the integrity check, the WAL's recovery and checkpoint, closing
    // interrupted sets), later ones mostly between transactions. The other
    // half inside a random I/O step: mid-transaction, between a commit's
    // writes and its sync, mid-checkpoint.
    // The first cut falls within the first start's own steps: creating the
    // file, WAL mode, the migrations.
    CutPlan plan;
    if (trial == 0) plan.step = 1 + (trial_seed >> 8) % 40;
    else if (trial % 2 == 0) plan.after = std::chrono::microseconds(1000 + trial_seed % 400'000);
    else plan.step = 1 + (trial_seed >> 8) % kMaxStep;
    auto* sh = new (mem) Shared();
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) run_child(*sh, cfg, trial, trial_seed, plan, loss);

    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(2ms);
    if (done == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL("trial ", trial, ": the child did not end within 60 s");
    }
    INFO(std::string(mode_name), " trial ", trial, " (seed ", seed, ", cut ",
         plan.step ? "in I/O step " + std::to_string(plan.step)
                   : "after " + std::to_string(plan.after.count()) + " us",
         ")");
    REQUIRE_MESSAGE(std::string(sh->error).empty(), sh->error);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    REQUIRE(sh->cut.load() == 1);
    REQUIRE(sh->vfs_done.load() == 1);

    // The shared-memory index does not survive a power cut either.
    scramble(path + "-shm", rng);

    const int logged = sh->logged.load();
    const int pushed = sh->pushed.load();
    const int acked = sh->acked.load();
    bool schema = false;
    {
      // Power on: the file is opened for writing, as soleusd's next start
      // opens it, so SQLite recovers the WAL (a read-only connection cannot:
      // "attempt to write a readonly database" after a cut during the first
      // start's writes, seed 3663353931, trial 0, I/O step 6).
      auto db = Database::open(path, Database::Access::ReadWrite);
      // 0 corrupt.
      CHECK(db.scalar_text("PRAGMA integrity_check") == "ok");
      schema = db.scalar_int("SELECT count(*) FROM sqlite_master WHERE name = 'events'") == 1;
    }
    if (!schema) {
      // Cut before the first start's migrations committed: an empty
      // database, which the next start migrates. Nothing can have been acknowledged.
      CHECK(acked == 0);
      CHECK(acked_so_far.empty());
      CHECK(pushed == 0);
      ++tot.before_schema;
    } else {
      Checker c(path);
      CHECK(c.db().scalar_int("SELECT count(*) FROM pragma_foreign_key_check") == 0);

      // Whole transactions, in order: present = a prefix of the log.
      int first_absent = -1, last_present = -1;
      std::vector<int> state(static_cast<std::size_t>(logged));
      for (int i = 0; i < logged; ++i) {
        const int p = c.present(trial, i, sh->log[i]);
        state[static_cast<std::size_t>(i)] = p;
        if (p == 1) {
          last_present = i;
          CHECK_MESSAGE(first_absent < 0, "entry ", i, " is there but entry ", first_absent,
                        " pushed before it is not: not whole transactions in order");
        } else if (p == 0 && first_absent < 0) {
          first_absent = i;
        }
      }
      const int prefix_max = first_absent < 0 ? logged : first_absent;  // [0, P) present, P <= this
      // 0 committed lost: this trial's acknowledged records ...
      CHECK_MESSAGE(acked <= prefix_max, "acknowledged up to entry ", acked - 1, " but entry ",
                    first_absent, " is missing");
      for (int i = 0; i < acked; ++i)
        if (state[static_cast<std::size_t>(i)] == 0) ++tot.acked_lost;
      // ... and every earlier trial's.
      for (const auto& a : acked_so_far) {
        const int p = c.present(a.trial, a.index, a.e);
        CHECK_MESSAGE(p != 0, "trial ", a.trial, " entry ", a.index, " was committed and is gone");
        if (p == 0) ++tot.acked_lost;
      }
      for (int i = 0; i < acked; ++i)
        if (state[static_cast<std::size_t>(i)] == 1) acked_so_far.push_back({trial, i, sh->log[i]});

      // The odometer agrees with the rows: its motor-on total is the sum of
      // the odometer records found, an odometer record between the last
      // record found and the first missing one being either there or not.
      double sure = 0, maybe = 0;
      for (int i = 0; i < prefix_max; ++i)
        if (sh->log[i].kind == Kind::Odometer)
          (i < last_present ? sure : maybe) += sh->log[i].value;
      const auto odo = read_odometer(c.db());
      const double got = odo.motor_on_s - tot.motor_on_s;
      CHECK_MESSAGE((got == sure || got == sure + maybe), "motor_on_s grew by ", got,
                    " for odometer records of ", sure, " (+", maybe, " maybe)");
      tot.motor_on_s = odo.motor_on_s;
      CHECK(odo.reps == c.db().scalar_int("SELECT count(*) FROM reps WHERE partial = 0"));
      CHECK(odo.sets == c.db().scalar_int("SELECT count(*) FROM sets WHERE ended_ms IS NOT NULL"));
      CHECK(c.db().scalar_int("SELECT coalesce((SELECT count FROM odometer_faults WHERE code = "
                              "'pc_fault'), 0)") ==
            c.db().scalar_int("SELECT count(*) FROM events WHERE code = 'pc_fault'"));

      int present_n = 0;
      for (int p : state) present_n += p == 1;
      for (int i = 0; i < logged; ++i)
        tot.holds_ended += sh->log[i].kind == Kind::SetEnd && sh->log[i].seq > 0 &&
                           state[static_cast<std::size_t>(i)] == 1;
      tot.present += present_n;
      for (int i = 0; i < pushed; ++i) tot.lost_unacked += state[static_cast<std::size_t>(i)] == 0;
    }

    // Loop unaffected: no push waited on the writer, also while it was frozen by the cut.
    CHECK(std::chrono::nanoseconds(sh->worst_push_ns.load()) < kPushBound);
    CHECK(std::chrono::nanoseconds(sh->worst_push_after_cut_ns.load()) < kPushBound);
    if (sh->started.load()) CHECK(sh->pushes_after_cut.load() > 0);

    ++tot.trials;
    tot.cut_before_ready += sh->started.load() == 0;
    tot.pushed += pushed;
    tot.acked += acked;
    tot.pending_ops += static_cast<std::int64_t>(sh->vfs.pending_ops);
    tot.cuts_pending += sh->vfs.pending_ops > 0;
    if (!plan.step) {
      ++tot.timed_trials;
      tot.steps_timed += static_cast<std::int64_t>(sh->vfs.steps);
    }
    tot.steps_not_reached += sh->step_not_reached.load();
    tot.kept_ops += static_cast<std::int64_t>(sh->vfs.kept_ops);
    tot.garbage_bytes += static_cast<std::int64_t>(sh->vfs.garbage_bytes);
    tot.worst_push_ns = std::max<std::int64_t>(tot.worst_push_ns, sh->worst_push_ns.load());
    tot.worst_after_cut_ns =
        std::max<std::int64_t>(tot.worst_after_cut_ns, sh->worst_push_after_cut_ns.load());
    tot.pushes_after_cut += sh->pushes_after_cut.load();
    sh->~Shared();
  }

  CHECK(tot.acked_lost == 0);
  CHECK(tot.acked > 0);
  CHECK(tot.lost_unacked >= 0);
  std::ostringstream out;
  out << mode_name << ": " << tot.trials << " power cuts (" << tot.cut_before_ready
      << " during start(), " << tot.before_schema << " of them before the schema), " << tot.pushed
      << " records pushed, " << tot.acked << " acknowledged as committed (" << acked_so_far.size()
      << " identifiable, each checked again after every later cut), " << tot.present << " found ("
      << tot.holds_ended << " of them ends of hold sets with all their samples), "
      << tot.lost_unacked << " pushed but not acknowledged and lost, " << tot.acked_lost
      << " acknowledged and lost; " << tot.cuts_pending << " cuts with writes not synced, "
      << tot.pending_ops << " such writes (" << tot.kept_ops << " landed in part, "
      << tot.garbage_bytes << " bytes of garbage); worst push " << tot.worst_push_ns / 1000
      << " us, " << tot.pushes_after_cut << " pushes after the cuts, worst "
      << tot.worst_after_cut_ns / 1000 << " us; I/O steps per timed cut "
      << (tot.timed_trials ? tot.steps_timed / tot.timed_trials : 0)
      << ", step cuts not reached (cut by time) " << tot.steps_not_reached;
  MESSAGE(out.str());
}

}  // namespace

TEST_CASE(
    "power cut: unsynced writes dropped, 30 cuts of the real writer: 0 corrupt, 0 committed lost") {
  power_cut_trials(PowerCutVfs::Loss::Unsynced, "unsynced writes dropped");
}

TEST_CASE("power cut: unsynced writes torn and reordered, 30 cuts: 0 corrupt, 0 committed lost") {
  power_cut_trials(PowerCutVfs::Loss::Torn, "torn writes");
}

TEST_CASE("power-cut VFS: a commit is durable only once synced, its own reads see the page cache") {
  TempDir dir;
  const auto path = dir.file("m.db");
  auto& vfs = PowerCutVfs::install();
  {
    auto db = Database::open(path, Database::Access::ReadWriteCreate, vfs.name());
    REQUIRE(db.scalar_text("PRAGMA journal_mode=WAL") == "wal");
    db.exec("PRAGMA synchronous=FULL");
    db.exec("CREATE TABLE t (x INTEGER)");
    db.exec("INSERT INTO t VALUES (1)");  // FULL: the WAL is synced at COMMIT
    const auto synced = vfs.stats().syncs;
    CHECK(synced > 0);
    db.exec("PRAGMA synchronous=OFF");
    db.exec("INSERT INTO t VALUES (2)");  // committed, never synced
    CHECK(vfs.stats().syncs == synced);
    CHECK(db.scalar_int("SELECT count(*) FROM t") == 2);  // SQLite reads its own writes
    vfs.cut(PowerCutVfs::Loss::Unsynced, 1);
    CHECK(vfs.is_cut());
    CHECK(vfs.stats().pending_ops > 0);  // the second commit's WAL frames
    vfs.power_on();
    db.close();  // every call on it fails now: nothing more reaches the file
  }
  std::filesystem::remove(path + "-shm");
  auto db = Database::open(path, Database::Access::ReadOnly);
  CHECK(db.scalar_text("PRAGMA integrity_check") == "ok");
  CHECK(db.scalar_int("SELECT count(*) FROM t") == 1);  // the unsynced commit is gone
}
