#pragma once
/// The store's writer: one thread that owns the writing connection, fed by
/// queues that never block their producers (the control loop among them).
///
/// Principle of operation:
///  1. Producers push records (events, sets, reps, sessions, odometer) and
///     trace samples. Each push is O(1) and lock-free: a trace sample goes to
///     the trace queue and is dropped (and counted) when it is full; a record
///     goes to its own record queue, so traces can never crowd it out. When
///     even the record queue is full the record goes to an in-memory overflow
///     list (a short mutex, no I/O), and only when that is full too is it lost
///     (counted, and reported by an event). Records are never dropped to make
///     room for anything.
///  2. Every flush_ms (or at once on flush()) the thread drains the record
///     queue first and the trace queue second, so every sample pushed before
///     a record is in hand when that record is written.
///  3. Trace samples wait in a per-set buffer; a rep's record cuts the
///     samples up to the rep's end into one compact chunk (trace_codec.hpp),
///     a set's end cuts the rest.
///  4. Up to batch_items records and their chunks are written in one
///     transaction. The synchronous level is chosen per transaction (see
///     write_batch in writer.cpp): FULL when it holds any record, NORMAL for
///     traces alone.
///  5. After COMMIT, and only then, the highest committed rep of each set is
///     published (committed_reps(), on_commit): "committed before reported".
///  6. A failed transaction is rolled back; its records stay in memory in
///     order, the store reports a fault (storage_ok() false, a
///     storage_fault event queued first in line), trace samples are dropped
///     while faulted, and the write is retried every retry_ms on a fresh
///     connection. The first success writes everything kept, then a
///     storage_recovered event. A record the database refuses for what it is
///     (a constraint, not the disk) is set aside with an event so it cannot
///     block the others.
///  7. At the first open, sets that have a start but no end (the daemon was
///     killed, crashed or lost power mid-set) are closed in one transaction:
///     stop_reason shutdown, reps/partial_reps/tut_s from the reps committed,
///     ended_ms = the set's last event, the odometer's set count, and a
///     set_interrupted event per set (docs/storage.md, crash recovery).
///  8. The fleet's outbox (StorageConfig::outbox, docs/fleet.md): an event's
///     and a set end's outbox row is inserted in the record's own transaction
///     (and for the sets closed at the first open, with them). Telemetry
///     (push_telemetry) and acknowledgements (outbox_ack) come from other
///     threads through short mutex-guarded lists and are written by this
///     thread too, in their own NORMAL transaction: this thread stays the only
///     writer. The same pass keeps the bounds (outbox_max_rows,
///     outbox_max_age_days): the oldest telemetry is deleted first; sets and
///     events are never deleted but raise fleet_outbox_full.
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "soleus/storage/bounded_queue.hpp"
#include "soleus/storage/config.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/outbox.hpp"
#include "soleus/storage/records.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/storage/trace_codec.hpp"

namespace soleus::storage {

/// What start() found.
struct StartReport {
  bool ok = false;             ///< the database is open and at the newest schema
  std::string error;           ///< why not (the writer keeps retrying)
  MigrationResult migration;   ///< schema versions before and after
  bool created = false;        ///< a new file was made
  int interrupted_sets = 0;    ///< sets without an end record, closed at this start
  std::string moved_aside_to;  ///< a corrupt file was moved here (empty if not)
};

/// Upper bounds (seconds) of the buckets of the writer's commit-time histogram
/// (StorageHealth::commit_buckets): a transaction from its first statement to
/// its COMMIT's return, the fsync of synchronous=FULL included.
inline constexpr std::array<double, 12> kCommitBucketsS = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

/// A snapshot of the writer's state, for the API, the HMI and soleusctl status.
struct StorageHealth {
  bool ok = false;                  ///< writes succeed; false = refuse new sets
  bool open = false;                ///< a database is open
  std::string last_error;           ///< the last failure, kept after recovery
  std::int64_t fault_since_ms = 0;  ///< when the current fault began (0 = none)
  std::size_t pending_records = 0;  ///< records in memory, not yet committed
  std::uint64_t records_committed = 0;
  std::uint64_t samples_committed = 0;  ///< trace samples
  std::uint64_t transactions = 0;
  std::uint64_t traces_dropped = 0;      ///< samples dropped (queue full or store faulted)
  std::uint64_t records_overflowed = 0;  ///< records that went to the overflow list
  std::uint64_t records_lost = 0;        ///< records lost with the overflow list full
  std::uint64_t records_rejected = 0;    ///< records the database refused (constraints)
  std::uint64_t faults = 0;              ///< fault episodes since start
  std::size_t record_queue_depth = 0;
  std::size_t trace_queue_depth = 0;
  /// Committed transactions by time: cumulative counts at each kCommitBucketsS bound.
  std::array<std::uint64_t, kCommitBucketsS.size()> commit_buckets{};
  std::uint64_t commit_count = 0;  ///< every committed transaction timed (the +Inf bucket)
  double commit_seconds_sum = 0;
};

/// After each commit, on the writer thread. Keep the callback short.
struct CommitNotice {
  struct SetReps {
    std::int64_t set_id;
    int reps;  ///< highest counted rep n now committed
    int seq;   ///< highest rep attempt committed
  };
  std::vector<SetReps> reps;
  std::vector<std::int64_t> sets_ended;  ///< sets whose end record is committed
  std::size_t records = 0;
  std::size_t samples = 0;
};

class Writer {
 public:
  explicit Writer(StorageConfig cfg);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Opens the database (integrity check, a corrupt file moved aside, migrations)
  /// and starts the thread. Never throws for storage problems: when the file
  /// cannot be opened the thread starts anyway, faulted, and retries.
  StartReport start();
  /// Makes one last attempt to write everything queued, then joins. Records
  /// still unwritten (storage faulted) are reported in the log with their count.
  /// (A test that stalls the disk through the tests' FaultVfs must release it first.)
  void stop();

  /// Registers the commit callback; call before start().
  void on_commit(std::function<void(const CommitNotice&)> fn) { on_commit_ = std::move(fn); }
  /// Registers an observer of every event the store receives (push) or raises
  /// itself (its own storage_* events, set_interrupted), called at once on the
  /// producer's thread (the writer's own events on the writer's thread), before
  /// and whether or not it is written: soleusd copies events to the journal.
  /// It must be quick and never block. Call before start().
  void on_event(std::function<void(const EventRecord&)> fn) { on_event_ = std::move(fn); }

  // ---- producers: any thread, O(1), never block on I/O ----
  /// Queues a record. t_ms / started_ms / ended_ms of 0 become "now". Returns
  /// false only when the record is lost (queue and overflow list full).
  bool push(Record r);
  /// Convenience for an event.
  bool event(Severity severity, std::string_view code, std::string_view message,
             std::string_view context_json = {}, std::int64_t set_id = 0);
  /// Queues a trace sample; false when it was dropped (counted).
  bool push_trace(const TraceSample& s);
  /// A telemetry message (JSON object text) for the outbox; dropped (counted
  /// as telemetry_dropped) when the outbox is off or 1000 are waiting. Not
  /// for the control loop (a short mutex).
  bool push_telemetry(std::string json);
  /// The broker acknowledged outbox row `seq`: the writer deletes it. Any thread.
  void outbox_ack(std::int64_t seq);
  /// Called (on the writer's thread) after a commit that added outbox rows.
  /// Call before start().
  void on_outbox(std::function<void()> fn) { on_outbox_ = std::move(fn); }
  /// The outbox's depth, age and alarm, as of the writer's last pass.
  OutboxStats outbox_stats() const;
  /// A new set id (the API's {"id": N}), unique in this database; 0 while no
  /// database has been opened (storage_ok() is false then: refuse the set).
  std::int64_t allocate_set_id();
  std::int64_t allocate_session_id();

  // ---- state: any thread ----
  /// False while writes fail: the daemon refuses new sets and ends the current one safely.
  bool storage_ok() const noexcept { return ok_.load(std::memory_order_acquire); }
  StorageHealth health() const;
  /// Highest counted rep n of the set committed to disk (0 = none yet).
  int committed_reps(std::int64_t set_id) const;
  /// Blocks the caller (never the control loop) until everything pushed
  /// before the call is committed; false on timeout (e.g. storage faulted).
  bool flush(std::chrono::milliseconds timeout);
  const StorageConfig& config() const { return cfg_; }

 private:
  struct PendingChunk {
    std::int64_t set_id;
    std::optional<int> rep_seq;
    std::vector<TraceSample> samples;
  };
  struct TraceBuffer {
    std::vector<TraceSample> samples;
    bool ended = false;
    std::chrono::steady_clock::time_point last;
  };

  void run();
  void cycle(bool stopping);
  bool try_open(StartReport* report);
  void drain();
  void write_pending();
  enum class BatchResult { Ok, StorageFault, Rejected };
  BatchResult write_batch(std::size_t count, bool allow_reject_split, bool with_chunks);
  bool queues_hold_records() const;
  void write_record(const Record& r, CommitNotice& notice);
  void write_chunk(const PendingChunk& c);
  void close_db();
  void cut_chunks_for(const Record& r, std::vector<PendingChunk>& out);
  void cut_stale_chunks(std::vector<PendingChunk>& out, bool all);
  void enter_fault(const std::string& error);
  void queue_own_event(Severity s, std::string_view code, std::string_view message,
                       const std::string& context, bool front = false);
  void report_queue_trouble(bool force);
  void run_retention();
  void publish(const CommitNotice& n);
  void init_ids();
  int close_interrupted_sets();
  void outbox_pass(bool force);
  void outbox_count();

  StorageConfig cfg_;
  BoundedQueue<Record> records_;
  BoundedQueue<TraceSample> traces_;

  // overflow list (producers, under overflow_mutex_)
  std::mutex overflow_mutex_;
  std::deque<Record> overflow_;
  std::atomic<bool> overflow_nonempty_{false};

  // writer-thread state
  Database db_;
  std::deque<Record> pending_;
  std::vector<PendingChunk> pending_chunks_;
  std::unordered_map<std::int64_t, TraceBuffer> trace_buffers_;
  bool faulted_ = false;
  bool opened_once_ = false;
  std::chrono::steady_clock::time_point next_retry_{};
  std::chrono::steady_clock::time_point next_retention_{};
  std::uint64_t reported_overflowed_ = 0, reported_lost_ = 0, reported_dropped_ = 0;
  std::uint64_t dropped_at_fault_ = 0;
  std::chrono::steady_clock::time_point next_trouble_report_{};
  int sync_level_ = -1;  // the connection's current PRAGMA synchronous
  struct Statements;
  std::unique_ptr<Statements> stmts_;  // prepared on db_, dropped before it closes

  // thread control
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  bool stop_ = false;
  std::uint64_t flush_requested_ = 0;
  std::uint64_t flush_seen_ = 0;
  std::uint64_t flush_done_ = 0;

  // published state
  std::atomic<bool> ok_{false};
  std::atomic<bool> open_{false};
  std::atomic<std::int64_t> next_set_id_{0};
  std::atomic<std::int64_t> next_session_id_{0};
  // Commit times: a count per bucket (the last one: beyond kCommitBucketsS) and the sum.
  std::array<std::atomic<std::uint64_t>, kCommitBucketsS.size() + 1> commit_hist_{};
  std::atomic<std::uint64_t> commit_ns_sum_{0};
  std::atomic<std::uint64_t> records_committed_{0}, samples_committed_{0}, transactions_{0},
      traces_dropped_{0}, records_overflowed_{0}, records_lost_{0}, records_rejected_{0},
      faults_{0};
  std::atomic<std::size_t> pending_count_{0};
  mutable std::mutex state_mutex_;  // guards the fields below
  std::string last_error_;
  std::int64_t fault_since_ms_ = 0;
  std::map<std::int64_t, int> committed_reps_;  // recent sets only
  std::function<void(const CommitNotice&)> on_commit_;
  std::function<void(const EventRecord&)> on_event_;

  // the outbox (docs/fleet.md): lists from other threads, under outbox_mutex_
  std::mutex outbox_mutex_;
  std::deque<std::string> telemetry_in_;
  std::vector<std::int64_t> acks_in_;
  // writer-thread state: rows added by the transaction in progress
  std::int64_t outbox_added_sets_ = 0, outbox_added_events_ = 0;
  std::chrono::steady_clock::time_point next_outbox_pass_{};
  bool outbox_alarm_ = false;
  OutboxStats outbox_;  // under state_mutex_
  std::atomic<std::uint64_t> telemetry_refused_{0};
  std::function<void()> on_outbox_;
};

}  // namespace soleus::storage
