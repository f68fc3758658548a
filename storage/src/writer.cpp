#include "soleus/storage/writer.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <sstream>

#include "soleus/common/log.hpp"
#include "soleus/common/time.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/open.hpp"

namespace soleus::storage {

namespace {

constexpr std::size_t kMaxChunkSamples = 2000;         // 20 s at 100 Hz
constexpr auto kStaleChunk = std::chrono::seconds(2);  // no new sample for this long: cut
constexpr auto kTroubleReportPeriod = std::chrono::seconds(10);
constexpr auto kRetentionPeriod = std::chrono::hours(1);
constexpr std::size_t kCommittedSetsKept = 256;

template <class T>
std::optional<T> nonzero(T v) {
  if (v == T{}) return std::nullopt;
  return v;
}

std::optional<std::string_view> nonempty(std::string_view v) {
  if (v.empty()) return std::nullopt;
  return v;
}

/// An event's context as JSON text (boost::json: escaping and numbers right).
std::string context_of(const boost::json::object& o) { return boost::json::serialize(o); }

const char* kind_name(const Record& r) {
  switch (r.index()) {
    case 0: return "event";
    case 1: return "set_start";
    case 2: return "set_end";
    case 3: return "rep";
    case 4: return "session_start";
    case 5: return "session_end";
    default: return "odometer";
  }
}

}  // namespace

const char* to_string(Severity s) {
  switch (s) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "?";
}

bool parse_severity(std::string_view text, Severity& out) {
  if (text == "info") out = Severity::Info;
  else if (text == "warning") out = Severity::Warning;
  else if (text == "error") out = Severity::Error;
  else return false;
  return true;
}

/// The writer's prepared statements, made once per connection.
struct Writer::Statements {
  explicit Statements(Database& db)
      : event(db.prepare("INSERT INTO events (t_ms, severity, code, message, set_id, context) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?6 IS NULL THEN NULL "
                         "WHEN json_valid(?6) AND json_type(?6) = 'object' THEN ?6 "
                         "ELSE json_object('unparsed', ?6) END)")),
        fault_count(
            db.prepare("INSERT INTO odometer_faults (code, count, last_t_ms) VALUES (?1, 1, ?2) "
                       "ON CONFLICT (code) DO UPDATE SET count = count + 1, "
                       "last_t_ms = max(last_t_ms, excluded.last_t_ms)")),
        set_start(db.prepare(
            "INSERT INTO sets (id, session_id, member_id, step_id, set_index, started_ms, mode, "
            "load_n, tempo, target_reps, hold_s, force_drop_pct, eccentric_pct) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
            "ON CONFLICT (id) DO UPDATE SET session_id = excluded.session_id, "
            "member_id = excluded.member_id, step_id = excluded.step_id, "
            "set_index = excluded.set_index, started_ms = excluded.started_ms, "
            "mode = excluded.mode, load_n = excluded.load_n, tempo = excluded.tempo, "
            "target_reps = excluded.target_reps, hold_s = excluded.hold_s, "
            "force_drop_pct = excluded.force_drop_pct, eccentric_pct = excluded.eccentric_pct")),
        set_placeholder(db.prepare(
            "INSERT INTO sets (id, started_ms) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING")),
        set_end(db.prepare(
            "UPDATE sets SET ended_ms = ?2, stop_reason = ?3, reps = ?4, partial_reps = ?5, "
            "tut_s = ?6, best_output = ?7, last_output = ?8, range_bottom_mm = ?9, "
            "range_top_mm = ?10, range_calibrated = ?11, range_note = ?12, range_age_days = ?13 "
            "WHERE id = ?1 AND ended_ms IS NULL")),
        member_range(db.prepare(
            "UPDATE members SET rom_bottom_mm = ?2, rom_top_mm = ?3, rom_measured_ms = ?4 "
            "WHERE id = (SELECT member_id FROM sets WHERE id = ?1) AND ?3 > ?2")),
        rep(db.prepare(
            "INSERT INTO reps (set_id, seq, n, partial, t_start_s, peak_force_n, mean_force_n, "
            "concentric_s, top_pause_s, eccentric_s, bottom_pause_s, rom_mm, rom_pct, "
            "mean_velocity_mm_s, smoothness, on_tempo, tempo_deviation_s, tut_s, reversals, "
            "wobbly) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
            "?16, ?17, ?18, ?19, ?20) ON CONFLICT (set_id, seq) DO NOTHING")),
        odo_rep(db.prepare(
            "UPDATE odometer SET reps = reps + ?1, highest_force_n = max(highest_force_n, ?2) "
            "WHERE id = 1")),
        odo_set(db.prepare("UPDATE odometer SET sets = sets + 1 WHERE id = 1")),
        odo_motor(db.prepare("UPDATE odometer SET motor_on_s = motor_on_s + ?1, "
                             "highest_force_n = max(highest_force_n, ?2) WHERE id = 1")),
        session_start(db.prepare("INSERT INTO sessions (id, member_id, assignment_id, started_ms) "
                                 "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING")),
        session_end(db.prepare(
            "UPDATE sessions SET ended_ms = ?2, state = ?3, progressed = max(progressed, ?4) "
            "WHERE id = ?1")),
        chunk(
            db.prepare("INSERT INTO rep_traces (set_id, rep_seq, created_ms, t0_s, t1_s, samples, "
                       "time_scale_s, force_scale_n, position_scale_mm, data) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")),
        outbox_event(db.prepare("INSERT INTO outbox (kind, ref_id, created_ms) "
                                "VALUES ('event', last_insert_rowid(), ?1)")),
        outbox_set(
            db.prepare("INSERT INTO outbox (kind, ref_id, created_ms) VALUES ('set', ?1, ?2)")) {}

  Statement event, fault_count, set_start, set_placeholder, set_end, member_range, rep, odo_rep,
      odo_set, odo_motor, session_start, session_end, chunk, outbox_event, outbox_set;
};

// Helper: run a statement once and reset it for the next use.
namespace {
int run_once(Database& db, Statement& st) {
  try {
    st.run();
  } catch (...) {
    st.reset();
    throw;
  }
  st.reset();
  return db.changes();
}
}  // namespace

Writer::Writer(StorageConfig cfg)
    : cfg_(std::move(cfg)),
      records_(static_cast<std::size_t>(cfg_.record_queue)),
      traces_(static_cast<std::size_t>(cfg_.trace_queue)) {
  cfg_.validate();
}

Writer::~Writer() { stop(); }

// ---------------------------------------------------------------------------
// Producers

bool Writer::push(Record r) {
  // Stamp "now" here, at the producer, so the time is when it happened.
  std::visit(
      [this](auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, EventRecord>) {
          if (v.t_ms == 0) v.t_ms = common::unix_ms_now();
          if (on_event_) on_event_(v);
        } else if constexpr (std::is_same_v<T, SetStartRecord> ||
                             std::is_same_v<T, SessionStartRecord>) {
          if (v.started_ms == 0) v.started_ms = common::unix_ms_now();
        } else if constexpr (std::is_same_v<T, SetEndRecord> ||
                             std::is_same_v<T, SessionEndRecord>) {
          if (v.ended_ms == 0) v.ended_ms = common::unix_ms_now();
        }
      },
      r);
  // While the overflow list holds records, newer ones queue behind them (order kept).
  if (!overflow_nonempty_.load(std::memory_order_acquire) && records_.try_push(r)) return true;
  std::lock_guard lock(overflow_mutex_);
  if (overflow_.size() < static_cast<std::size_t>(cfg_.overflow_records)) {
    overflow_.push_back(r);
    overflow_nonempty_.store(true, std::memory_order_release);
    records_overflowed_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  records_lost_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool Writer::event(Severity severity, std::string_view code, std::string_view message,
                   std::string_view context_json, std::int64_t set_id) {
  EventRecord e;
  e.severity = severity;
  e.code.assign(code);
  e.message.assign(message);
  e.context.assign(context_json);
  e.set_id = set_id;
  return push(e);
}

bool Writer::push_trace(const TraceSample& s) {
  if (traces_.try_push(s)) return true;
  traces_dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

std::int64_t Writer::allocate_set_id() {
  std::int64_t cur = next_set_id_.load();
  while (cur != 0 && !next_set_id_.compare_exchange_weak(cur, cur + 1)) {
  }
  return cur;
}

std::int64_t Writer::allocate_session_id() {
  std::int64_t cur = next_session_id_.load();
  while (cur != 0 && !next_session_id_.compare_exchange_weak(cur, cur + 1)) {
  }
  return cur;
}

// ---------------------------------------------------------------------------
// State

StorageHealth Writer::health() const {
  StorageHealth h;
  h.ok = ok_.load();
  h.open = open_.load();
  h.pending_records = pending_count_.load() + records_.size_approx();
  h.records_committed = records_committed_.load();
  h.samples_committed = samples_committed_.load();
  h.transactions = transactions_.load();
  h.traces_dropped = traces_dropped_.load();
  h.records_overflowed = records_overflowed_.load();
  h.records_lost = records_lost_.load();
  h.records_rejected = records_rejected_.load();
  h.faults = faults_.load();
  h.record_queue_depth = records_.size_approx();
  h.trace_queue_depth = traces_.size_approx();
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i < commit_hist_.size(); ++i) {
    acc += commit_hist_[i].load(std::memory_order_relaxed);
    if (i < h.commit_buckets.size()) h.commit_buckets[i] = acc;
  }
  h.commit_count = acc;
  h.commit_seconds_sum = static_cast<double>(commit_ns_sum_.load(std::memory_order_relaxed)) / 1e9;
  std::lock_guard lock(state_mutex_);
  h.last_error = last_error_;
  h.fault_since_ms = fault_since_ms_;
  return h;
}

int Writer::committed_reps(std::int64_t set_id) const {
  std::lock_guard lock(state_mutex_);
  auto it = committed_reps_.find(set_id);
  return it == committed_reps_.end() ? 0 : it->second;
}

bool Writer::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!thread_.joinable()) return false;
  std::uint64_t mine = ++flush_requested_;
  wake_.notify_all();
  return flushed_.wait_for(lock, timeout, [&] { return flush_done_ >= mine; });
}

// ---------------------------------------------------------------------------
// Lifecycle

StartReport Writer::start() {
  StartReport report;
  if (thread_.joinable()) {
    report.ok = ok_.load();
    return report;
  }
  if (try_open(&report)) {
    // A first write proves the store takes writes (an existing file on a
    // read-only disk opens fine): storage_ok() is true only after it.
    write_pending();
    report.ok = ok_.load();
    if (!report.ok) {
      std::lock_guard lock(state_mutex_);
      report.error = last_error_;
    }
  }
  next_retention_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { run(); });
  return report;
}

void Writer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return;
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  close_db();
  stop_ = false;
}

void Writer::close_db() {
  stmts_.reset();
  db_.close();
  sync_level_ = -1;
  open_.store(false);
}

void Writer::init_ids() {
  std::int64_t set_max = db_.scalar_int("SELECT coalesce(max(id), 0) FROM sets");
  std::int64_t session_max = db_.scalar_int("SELECT coalesce(max(id), 0) FROM sessions");
  auto raise_to = [](std::atomic<std::int64_t>& a, std::int64_t v) {
    std::int64_t cur = a.load();
    while (cur < v && !a.compare_exchange_weak(cur, v)) {
    }
  };
  raise_to(next_set_id_, set_max + 1);
  raise_to(next_session_id_, session_max + 1);
}

// Sets that started but never ended: the daemon was killed, crashed or lost
// power mid-set (a normal shutdown ends its set with stop_reason shutdown).
// Closed like a shutdown, from what was committed, all in one transaction
// with their events and the odometer, so a crash here changes nothing.
int Writer::close_interrupted_sets() {
  std::vector<std::int64_t> ids;
  {
    auto q = db_.prepare("SELECT id FROM sets WHERE ended_ms IS NULL ORDER BY id");
    while (q.step()) ids.push_back(q.int64(0));
  }
  if (ids.empty()) return 0;
  const std::int64_t now = common::unix_ms_now();
  Transaction tx(db_);
  auto close = db_.prepare(
      "UPDATE sets SET stop_reason = 'shutdown', "
      "ended_ms = max(started_ms, coalesce((SELECT max(t_ms) FROM events WHERE set_id = ?1), 0)), "
      "reps = (SELECT count(*) FROM reps WHERE set_id = ?1 AND partial = 0), "
      "partial_reps = (SELECT count(*) FROM reps WHERE set_id = ?1 AND partial <> 0), "
      "tut_s = (SELECT coalesce(sum(tut_s), 0) FROM reps WHERE set_id = ?1 AND partial = 0) "
      "WHERE id = ?1 AND ended_ms IS NULL");
  auto odo = db_.prepare("UPDATE odometer SET sets = sets + 1 WHERE id = 1");
  auto ev = db_.prepare(
      "INSERT INTO events (t_ms, severity, code, message, set_id, context) "
      "SELECT ?2, 1, ?3, 'set closed at start: the daemon stopped without ending it "
      "(killed, crashed or power cut); its committed reps are kept', id, "
      "json_object('reps', reps, 'partial_reps', partial_reps, 'ended_ms', ended_ms) "
      "FROM sets WHERE id = ?1");
  // With the fleet: the closed set and its event go to the outbox with them.
  std::optional<Statement> ob_set, ob_event;
  if (cfg_.outbox) {
    ob_set.emplace(
        db_.prepare("INSERT INTO outbox (kind, ref_id, created_ms) VALUES ('set', ?1, ?2)"));
    ob_event.emplace(
        db_.prepare("INSERT INTO outbox (kind, ref_id, created_ms) "
                    "VALUES ('event', last_insert_rowid(), ?1)"));
  }
  for (const auto id : ids) {
    close.bind(1, id);
    if (run_once(db_, close) != 1) continue;
    run_once(db_, odo);
    if (ob_set) {
      ob_set->bind(1, id).bind(2, now);
      run_once(db_, *ob_set);
    }
    ev.bind(1, id).bind(2, now).bind(3, codes::kSetInterrupted);
    run_once(db_, ev);
    if (ob_event) {
      ob_event->bind(1, now);
      run_once(db_, *ob_event);
    }
  }
  tx.commit();
  if (on_event_) {
    // The same events, as written, to the observer (soleusd's journal).
    auto q = db_.prepare(
        "SELECT t_ms, message, coalesce(context, ''), set_id FROM events "
        "WHERE code = ?1 AND t_ms = ?2 ORDER BY id");
    q.bind(1, codes::kSetInterrupted).bind(2, now);
    while (q.step()) {
      EventRecord e;
      e.t_ms = q.int64(0);
      e.severity = Severity::Warning;
      e.code.assign(codes::kSetInterrupted);
      e.message.assign(q.text(1));
      e.context.assign(q.text(2));
      e.set_id = q.int64(3);
      on_event_(e);
    }
  }
  log::warn("storage: ", ids.size(),
            " set(s) had no end (the daemon stopped mid-set): closed as "
            "shutdown with their committed reps (event set_interrupted)");
  return static_cast<int>(ids.size());
}

bool Writer::try_open(StartReport* report) {
  try {
    if (!opened_once_) {
      OpenResult r = open_store(cfg_);
      db_ = std::move(r.db);
      if (report) {
        report->migration = r.migration;
        report->created = r.created;
        report->moved_aside_to = r.moved_to.value_or("");
      }
      if (r.moved_to) {
        log::error("storage: ", cfg_.db_path, " was corrupt (", r.corruption, "); moved to ",
                   *r.moved_to, " and a new database created");
        queue_own_event(Severity::Error, codes::kStorageCorrupt,
                        "database was corrupt; moved aside and a new one created",
                        context_of({{"path", cfg_.db_path},
                                    {"moved_to", *r.moved_to},
                                    {"check", r.corruption.substr(0, 120)}}));
      }
      if (r.migration.from != r.migration.to) {
        log::notice("storage: schema migrated from ", r.migration.from, " to ", r.migration.to);
        queue_own_event(Severity::Info, codes::kStorageMigrated, "database schema migrated",
                        context_of({{"from", r.migration.from}, {"to", r.migration.to}}));
      }
      const int closed = close_interrupted_sets();
      if (report) report->interrupted_sets = closed;
      queue_own_event(Severity::Info, codes::kStorageOpened, "database opened",
                      context_of({{"path", cfg_.db_path}, {"schema", r.migration.to}}));
      opened_once_ = true;
    } else {
      db_ =
          Database::open(cfg_.db_path, Database::Access::ReadWrite, cfg_.vfs, cfg_.busy_timeout_ms);
      configure_connection(db_);
    }
    sync_level_ = 2;  // configure_connection leaves synchronous=FULL
    stmts_ = std::make_unique<Statements>(db_);
    init_ids();
    outbox_count();
    open_.store(true);
    return true;
  } catch (const std::exception& e) {
    close_db();
    if (report) report->error = e.what();
    enter_fault(e.what());
    return false;
  }
}

// ---------------------------------------------------------------------------
// The thread

void Writer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::milliseconds(cfg_.flush_ms),
                   [&] { return stop_ || flush_requested_ != flush_seen_; });
    const bool stopping = stop_;
    const std::uint64_t generation = flush_requested_;
    flush_seen_ = generation;
    lock.unlock();
    cycle(stopping);
    lock.lock();
    if (!faulted_ && pending_.empty() && pending_chunks_.empty() && !queues_hold_records())
      flush_done_ = generation;
    flushed_.notify_all();
    if (stopping) break;
  }
  if (!pending_.empty()) {
    log::error("storage: stopping with ", pending_.size(),
               " records unwritten (storage faulted): ", health().last_error);
  }
}

void Writer::cycle(bool stopping) {
  auto now = std::chrono::steady_clock::now();
  // More may be queued than one drain takes (the overflow list): go round
  // until the queues are empty, or the store fails.
  for (int round = 0; round < 1000; ++round) {
    drain();
    cut_stale_chunks(pending_chunks_, stopping);
    report_queue_trouble(false);
    if (faulted_ && now < next_retry_ && !stopping) return;
    if (!db_.is_open() && !try_open(nullptr)) return;
    write_pending();
    if (faulted_ || !queues_hold_records()) break;
  }
  if (!faulted_ && db_.is_open()) outbox_pass(stopping);
  if (!faulted_ && cfg_.trace_retention_days > 0 && now >= next_retention_) run_retention();
}

bool Writer::queues_hold_records() const {
  return records_.size_approx() > 0 || overflow_nonempty_.load(std::memory_order_acquire);
}

void Writer::drain() {
  const std::size_t cap = std::max<std::size_t>(static_cast<std::size_t>(cfg_.batch_items),
                                                static_cast<std::size_t>(cfg_.overflow_records));
  const std::size_t first_new = pending_.size();
  // 1. records: the queue, then the overflow list (older than anything queued after it).
  Record r;
  while (pending_.size() < cap && records_.try_pop(r)) pending_.push_back(r);
  if (overflow_nonempty_.load(std::memory_order_acquire)) {
    std::lock_guard lock(overflow_mutex_);
    while (pending_.size() < cap && !overflow_.empty()) {
      pending_.push_back(overflow_.front());
      overflow_.pop_front();
    }
    if (overflow_.empty()) overflow_nonempty_.store(false, std::memory_order_release);
  }
  // 2. traces, after the records: every sample pushed before a record is now in hand.
  TraceSample s;
  const auto now = std::chrono::steady_clock::now();
  while (traces_.try_pop(s)) {
    if (s.set_id <= 0) continue;  // not in a set: nothing to attach it to
    if (faulted_ || !db_.is_open()) {
      traces_dropped_.fetch_add(1, std::memory_order_relaxed);  // traces give way first
      continue;
    }
    auto& buf = trace_buffers_[s.set_id];
    buf.samples.push_back(s);
    buf.last = now;
  }
  // 3. new reps and set ends cut their samples into chunks.
  for (std::size_t i = first_new; i < pending_.size(); ++i)
    cut_chunks_for(pending_[i], pending_chunks_);
  pending_count_.store(pending_.size());
}

void Writer::cut_chunks_for(const Record& r, std::vector<PendingChunk>& out) {
  if (const auto* rep = std::get_if<RepRecord>(&r)) {
    auto it = trace_buffers_.find(rep->set_id);
    if (it == trace_buffers_.end()) return;
    auto& v = it->second.samples;
    const double t_end = rep->t_end_s() + 1e-6;
    auto split = std::stable_partition(v.begin(), v.end(),
                                       [&](const TraceSample& s) { return s.t_s <= t_end; });
    if (split == v.begin()) return;
    PendingChunk c{rep->set_id, rep->seq, std::vector<TraceSample>(v.begin(), split)};
    v.erase(v.begin(), split);
    out.push_back(std::move(c));
  } else if (const auto* end = std::get_if<SetEndRecord>(&r)) {
    auto it = trace_buffers_.find(end->set_id);
    if (it == trace_buffers_.end()) return;
    if (!it->second.samples.empty())
      out.push_back({end->set_id, std::nullopt, std::move(it->second.samples)});
    trace_buffers_.erase(it);
  }
}

void Writer::cut_stale_chunks(std::vector<PendingChunk>& out, bool all) {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = trace_buffers_.begin(); it != trace_buffers_.end();) {
    auto& b = it->second;
    if (all || b.samples.size() >= kMaxChunkSamples || now - b.last > kStaleChunk) {
      if (!b.samples.empty()) out.push_back({it->first, std::nullopt, std::move(b.samples)});
      it = trace_buffers_.erase(it);
    } else {
      ++it;
    }
  }
}

void Writer::write_pending() {
  if (!db_.is_open()) return;
  while (!pending_.empty() || !pending_chunks_.empty()) {
    std::size_t n = std::min(pending_.size(), static_cast<std::size_t>(cfg_.batch_items));
    if (write_batch(n, true, true) == BatchResult::StorageFault) break;
  }
  pending_count_.store(pending_.size());
}

// Synchronous level per kind of write (WAL journal):
//  * A transaction that carries any record (event, set, rep, session,
//    odometer) commits with synchronous=FULL: the WAL is fsynced at COMMIT, so
//    once committed_reps() says a rep is there, a power cut cannot take it
//    back; that is what lets the API report it. Events are FULL too: the
//    technician's log of why the machine stopped must survive the stop.
//    The cost is one fsync per batch (~100 ms of records), not per record.
//  * A transaction of trace chunks alone commits with synchronous=NORMAL: WAL
//    + NORMAL never corrupts the database, but a power cut may lose the last
//    commits. Traces are the bulk of the bytes and the least precious data,
//    and the next FULL commit makes them durable anyway (the WAL is sequential).
//  * Retention deletes run NORMAL as well: losing a delete only repeats it.
Writer::BatchResult Writer::write_batch(std::size_t count, bool allow_reject_split,
                                        bool with_chunks) {
  CommitNotice notice;
  const int want = count > 0 ? 2 : 1;  // 2 = FULL, 1 = NORMAL
  std::size_t samples = 0;
  if (with_chunks)
    for (const auto& c : pending_chunks_) samples += c.samples.size();
  outbox_added_sets_ = outbox_added_events_ = 0;
  const auto began = std::chrono::steady_clock::now();
  try {
    if (sync_level_ != want) {
      db_.exec(want == 2 ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      sync_level_ = want;
    }
    Transaction tx(db_);
    for (std::size_t i = 0; i < count; ++i) write_record(pending_[i], notice);
    if (with_chunks)
      for (const auto& c : pending_chunks_) write_chunk(c);
    tx.commit();
  } catch (const SqliteError& e) {
    outbox_added_sets_ = outbox_added_events_ = 0;  // rolled back with the records
    if (e.is_storage_fault() || e.is_corruption()) {
      traces_dropped_.fetch_add(samples, std::memory_order_relaxed);
      pending_chunks_.clear();
      enter_fault(e.what());
      return BatchResult::StorageFault;
    }
    // The database refused the data itself (a constraint): find the culprit
    // by writing one record at a time, and set it aside.
    // The chunks go last, on their own, so a refused record cannot take them along.
    if ((count > 1 || (count == 1 && with_chunks && !pending_chunks_.empty())) &&
        allow_reject_split) {
      for (std::size_t i = 0; i < count; ++i)
        if (write_batch(1, false, false) == BatchResult::StorageFault)
          return BatchResult::StorageFault;
      if (with_chunks && !pending_chunks_.empty()) return write_batch(0, false, true);
      return BatchResult::Ok;
    }
    records_rejected_.fetch_add(count, std::memory_order_relaxed);
    std::string what = count ? kind_name(pending_.front()) : "trace chunk";
    log::error("storage: a ", what, " record was refused and set aside: ", e.what());
    if (count) pending_.pop_front();
    if (with_chunks) {
      traces_dropped_.fetch_add(samples, std::memory_order_relaxed);
      pending_chunks_.clear();
    }
    queue_own_event(Severity::Error, codes::kStorageRecordRejected,
                    "a record was refused by the database and set aside",
                    context_of({{"kind", what}, {"error", e.what()}}));
    return BatchResult::Rejected;
  } catch (const std::exception& e) {
    outbox_added_sets_ = outbox_added_events_ = 0;
    traces_dropped_.fetch_add(samples, std::memory_order_relaxed);
    pending_chunks_.clear();
    enter_fault(e.what());
    return BatchResult::StorageFault;
  }
  // Committed: now, and only now, report it.
  if (outbox_added_sets_ + outbox_added_events_ > 0) {
    {
      std::lock_guard lock(state_mutex_);
      outbox_.sets += outbox_added_sets_;
      outbox_.events += outbox_added_events_;
    }
    outbox_added_sets_ = outbox_added_events_ = 0;
    if (on_outbox_) on_outbox_();
  }
  {
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    std::size_t b = 0;
    while (b < kCommitBucketsS.size() && took > kCommitBucketsS[b]) ++b;
    commit_hist_[b].fetch_add(1, std::memory_order_relaxed);
    commit_ns_sum_.fetch_add(static_cast<std::uint64_t>(took * 1e9), std::memory_order_relaxed);
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count));
  if (with_chunks) pending_chunks_.clear();
  notice.records = count;
  notice.samples = samples;
  records_committed_.fetch_add(count, std::memory_order_relaxed);
  samples_committed_.fetch_add(samples, std::memory_order_relaxed);
  transactions_.fetch_add(1, std::memory_order_relaxed);
  if (faulted_) {
    const std::uint64_t dropped = traces_dropped_.load() - dropped_at_fault_;
    std::int64_t since;
    {
      std::lock_guard lock(state_mutex_);
      since = fault_since_ms_;
      fault_since_ms_ = 0;
    }
    faulted_ = false;
    reported_dropped_ = traces_dropped_.load();
    log::notice("storage: writes work again after ",
                static_cast<double>(common::unix_ms_now() - since) / 1000.0, " s");
    queue_own_event(
        Severity::Info, codes::kStorageRecovered, "storage works again",
        context_of({{"fault_s", static_cast<double>(common::unix_ms_now() - since) / 1000.0},
                    {"samples_dropped", dropped}}));
  }
  ok_.store(true, std::memory_order_release);
  if (!notice.reps.empty() || !notice.sets_ended.empty() || count > 0) publish(notice);
  return BatchResult::Ok;
}

void Writer::write_record(const Record& rec, CommitNotice& notice) {
  Statements& s = *stmts_;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, EventRecord>) {
          s.event.bind(1, v.t_ms)
              .bind(2, static_cast<int>(v.severity))
              .bind(3, v.code.view())
              .bind(4, v.message.view())
              .bind(5, nonzero(v.set_id))
              .bind(6, nonempty(v.context.view()));
          run_once(db_, s.event);
          if (cfg_.outbox) {  // right after the event: last_insert_rowid() is its id
            s.outbox_event.bind(1, common::unix_ms_now());
            run_once(db_, s.outbox_event);
            ++outbox_added_events_;
          }
          if (v.severity == Severity::Error) {
            s.fault_count.bind(1, v.code.view()).bind(2, v.t_ms);
            run_once(db_, s.fault_count);
          }
        } else if constexpr (std::is_same_v<T, SetStartRecord>) {
          s.set_start.bind(1, v.set_id)
              .bind(2, nonzero(v.session_id))
              .bind(3, nonzero(v.member_id))
              .bind(4, nonzero(v.step_id))
              .bind(5, nonzero(v.set_index))
              .bind(6, v.started_ms)
              .bind(7, v.mode.view())
              .bind(8, v.load_n)
              .bind(9, v.tempo.view())
              .bind(10, nonzero(v.target_reps))
              .bind(11, nonzero(v.hold_s))
              .bind(12, v.force_drop_pct)
              .bind(13, v.eccentric_pct);
          run_once(db_, s.set_start);
        } else if constexpr (std::is_same_v<T, SetEndRecord>) {
          s.set_placeholder.bind(1, v.set_id).bind(2, v.ended_ms);
          run_once(db_, s.set_placeholder);
          s.set_end.bind(1, v.set_id)
              .bind(2, v.ended_ms)
              .bind(3, nonempty(v.stop_reason.view()))
              .bind(4, v.reps)
              .bind(5, v.partial_reps)
              .bind(6, v.tut_s)
              .bind(7, v.best_output)
              .bind(8, v.last_output)
              .bind(9, v.range_bottom_mm)
              .bind(10, v.range_top_mm)
              .bind(11, v.range_calibrated)
              .bind(12, nonempty(v.range_note.view()))
              .bind(13,
                    v.range_age_days >= 0 ? std::optional<double>(v.range_age_days) : std::nullopt);
          if (run_once(db_, s.set_end) == 1) {  // counted once, even if pushed twice
            run_once(db_, s.odo_set);
            if (v.range_save) {  // the member's stored range (a guest's set has no member)
              s.member_range.bind(1, v.set_id)
                  .bind(2, v.range_bottom_mm)
                  .bind(3, v.range_top_mm)
                  .bind(4, v.ended_ms);
              run_once(db_, s.member_range);
            }
            notice.sets_ended.push_back(v.set_id);
            if (cfg_.outbox) {
              s.outbox_set.bind(1, v.set_id).bind(2, common::unix_ms_now());
              run_once(db_, s.outbox_set);
              ++outbox_added_sets_;
            }
          }
        } else if constexpr (std::is_same_v<T, RepRecord>) {
          s.set_placeholder.bind(1, v.set_id).bind(2, common::unix_ms_now());
          run_once(db_, s.set_placeholder);
          s.rep.bind(1, v.set_id)
              .bind(2, v.seq)
              .bind(3, v.partial ? 0 : v.n)
              .bind(4, v.partial)
              .bind(5, v.t_start_s)
              .bind(6, v.peak_force_n)
              .bind(7, v.mean_force_n)
              .bind(8, v.concentric_s)
              .bind(9, v.top_pause_s)
              .bind(10, v.eccentric_s)
              .bind(11, v.bottom_pause_s)
              .bind(12, v.rom_mm)
              .bind(13, v.rom_pct)
              .bind(14, v.mean_velocity_mm_s)
              .bind(15, v.smoothness)
              .bind(16, v.on_tempo)
              .bind(17, v.tempo_deviation_s)
              .bind(18, v.tut_s)
              .bind(19, v.reversals)
              .bind(20, v.wobbly);
          if (run_once(db_, s.rep) == 1) {
            s.odo_rep.bind(1, v.partial ? 0 : 1).bind(2, v.peak_force_n);
            run_once(db_, s.odo_rep);
          }
          auto it = std::find_if(notice.reps.begin(), notice.reps.end(),
                                 [&](const auto& x) { return x.set_id == v.set_id; });
          if (it == notice.reps.end()) {
            notice.reps.push_back({v.set_id, 0, 0});
            it = notice.reps.end() - 1;
          }
          if (!v.partial) it->reps = std::max(it->reps, v.n);
          it->seq = std::max(it->seq, v.seq);
        } else if constexpr (std::is_same_v<T, SessionStartRecord>) {
          s.session_start.bind(1, v.session_id)
              .bind(2, nonzero(v.member_id))
              .bind(3, nonzero(v.assignment_id))
              .bind(4, v.started_ms);
          run_once(db_, s.session_start);
        } else if constexpr (std::is_same_v<T, SessionEndRecord>) {
          s.session_end.bind(1, v.session_id)
              .bind(2, v.ended_ms)
              .bind(3, v.aborted ? "aborted" : "done")
              .bind(4, v.progressed);
          run_once(db_, s.session_end);
        } else {
          s.odo_motor.bind(1, v.motor_on_s).bind(2, v.highest_force_n);
          run_once(db_, s.odo_motor);
        }
      },
      rec);
}

void Writer::write_chunk(const PendingChunk& c) {
  Statements& s = *stmts_;
  if (c.samples.empty()) return;
  const TraceScales scales;
  s.set_placeholder.bind(1, c.set_id).bind(2, common::unix_ms_now());
  run_once(db_, s.set_placeholder);
  auto data = encode_trace(c.samples, scales);
  s.chunk.bind(1, c.set_id)
      .bind(2, c.rep_seq)
      .bind(3, common::unix_ms_now())
      .bind(4, c.samples.front().t_s)
      .bind(5, c.samples.back().t_s)
      .bind(6, static_cast<std::int64_t>(c.samples.size()))
      .bind(7, scales.time_s)
      .bind(8, scales.force_n)
      .bind(9, scales.position_mm)
      .bind_blob(10, data);
  run_once(db_, s.chunk);
}

void Writer::enter_fault(const std::string& error) {
  next_retry_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.retry_ms);
  close_db();  // the retry starts from a fresh connection
  ok_.store(false, std::memory_order_release);
  {
    std::lock_guard lock(state_mutex_);
    last_error_ = error;
    if (faulted_) return;  // still the same episode
    fault_since_ms_ = common::unix_ms_now();
  }
  faulted_ = true;
  faults_.fetch_add(1);
  dropped_at_fault_ = traces_dropped_.load();
  log::error("storage: writes fail (", error, "); keeping records in memory, retrying every ",
             cfg_.retry_ms, " ms");
  // First in line, so the log shows the fault before what was held back by it.
  queue_own_event(Severity::Error, codes::kStorageFault,
                  "storage fault: writes fail; new sets are refused until it works again",
                  context_of({{"error", error.substr(0, 200)}}), true);
}

void Writer::queue_own_event(Severity s, std::string_view code, std::string_view message,
                             const std::string& context, bool front) {
  EventRecord e;
  e.t_ms = common::unix_ms_now();
  e.severity = s;
  e.code.assign(code);
  e.message.assign(message);
  e.context.assign(context);
  if (on_event_) on_event_(e);
  if (front) pending_.emplace_front(e);
  else pending_.emplace_back(e);
  pending_count_.store(pending_.size());
}

void Writer::report_queue_trouble(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now < next_trouble_report_) return;
  bool reported = false;
  const std::uint64_t overflowed = records_overflowed_.load();
  const std::uint64_t lost = records_lost_.load();
  const std::uint64_t dropped = traces_dropped_.load();
  if (lost > reported_lost_) {
    log::error("storage: ", lost - reported_lost_, " records lost: queue and overflow list full");
    queue_own_event(Severity::Error, codes::kStorageRecordsLost,
                    "records lost: the writer's queue and overflow list were full",
                    context_of({{"lost", lost - reported_lost_}, {"lost_total", lost}}));
    reported_lost_ = lost;
    reported = true;
  }
  if (overflowed > reported_overflowed_) {
    queue_own_event(Severity::Warning, codes::kStorageQueueOverflow,
                    "the writer's record queue overflowed into memory",
                    context_of({{"overflowed", overflowed - reported_overflowed_},
                                {"overflowed_total", overflowed}}));
    reported_overflowed_ = overflowed;
    reported = true;
  }
  if (!faulted_ && dropped > reported_dropped_) {
    queue_own_event(
        Severity::Warning, codes::kStorageTracesDropped,
        "trace samples dropped: the writer's trace queue was full",
        context_of({{"dropped", dropped - reported_dropped_}, {"dropped_total", dropped}}));
    reported_dropped_ = dropped;
    reported = true;
  }
  if (reported) next_trouble_report_ = now + kTroubleReportPeriod;
}

void Writer::run_retention() {
  next_retention_ = std::chrono::steady_clock::now() + kRetentionPeriod;
  const std::int64_t cutoff =
      common::unix_ms_now() - static_cast<std::int64_t>(cfg_.trace_retention_days) * 86'400'000;
  try {
    if (sync_level_ != 1) {
      db_.exec("PRAGMA synchronous=NORMAL");
      sync_level_ = 1;
    }
    std::int64_t deleted = purge_traces(db_, cutoff, 100'000);
    if (deleted > 0) {
      queue_own_event(
          Severity::Info, codes::kStorageRetention, "old rep traces deleted",
          context_of({{"deleted", deleted}, {"older_than_days", cfg_.trace_retention_days}}));
      write_pending();
    }
  } catch (const std::exception& e) {
    enter_fault(e.what());
  }
}

// ---------------------------------------------------------------------------
// The fleet's outbox (docs/fleet.md, "The outbox")

bool Writer::push_telemetry(std::string json) {
  if (!cfg_.outbox) {
    telemetry_refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  {
    std::lock_guard lock(outbox_mutex_);
    if (telemetry_in_.size() >= 1000) {
      telemetry_in_.pop_front();  // the oldest telemetry goes first, here too
      telemetry_refused_.fetch_add(1, std::memory_order_relaxed);
    }
    telemetry_in_.push_back(std::move(json));
  }
  return true;
}

void Writer::outbox_ack(std::int64_t seq) {
  std::lock_guard lock(outbox_mutex_);
  acks_in_.push_back(seq);
}

OutboxStats Writer::outbox_stats() const {
  std::lock_guard lock(state_mutex_);
  OutboxStats s = outbox_;
  s.enabled = cfg_.outbox;
  s.telemetry_dropped += telemetry_refused_.load(std::memory_order_relaxed);
  return s;
}

// Counts per kind and the oldest rows, from the table (at open; the passes
// keep the counts by what they add and delete).
void Writer::outbox_count() {
  OutboxStats s;
  auto q = db_.prepare("SELECT kind, count(*) FROM outbox GROUP BY kind");
  while (q.step()) {
    const std::string kind = q.text(0);
    if (kind == "set") s.sets = q.int64(1);
    else if (kind == "event") s.events = q.int64(1);
    else s.metrics = q.int64(1);
  }
  std::lock_guard lock(state_mutex_);
  outbox_.sets = s.sets;
  outbox_.events = s.events;
  outbox_.metrics = s.metrics;
}

void Writer::outbox_pass(bool force) {
  if (!cfg_.outbox) return;
  const auto now = std::chrono::steady_clock::now();
  std::deque<std::string> telemetry;
  std::vector<std::int64_t> acks;
  {
    std::lock_guard lock(outbox_mutex_);
    telemetry.swap(telemetry_in_);
    acks.swap(acks_in_);
  }
  const bool bounds_due = force || now >= next_outbox_pass_;
  if (telemetry.empty() && acks.empty() && !bounds_due) return;
  const std::int64_t now_ms = common::unix_ms_now();
  std::int64_t d_sets = 0, d_events = 0, d_metrics = 0, acked = 0, dropped = 0;
  std::int64_t oldest = 0, oldest_record = 0;
  try {
    if (sync_level_ != 1) {  // losing a delete or a telemetry row in a power cut only repeats it
      db_.exec("PRAGMA synchronous=NORMAL");
      sync_level_ = 1;
    }
    Transaction tx(db_);
    if (!telemetry.empty()) {
      auto ins =
          db_.prepare("INSERT INTO outbox (kind, payload, created_ms) VALUES ('metrics', ?1, ?2)");
      for (const auto& t : telemetry) {
        ins.bind(1, t).bind(2, now_ms);
        run_once(db_, ins);
        ++d_metrics;
      }
    }
    if (!acks.empty()) {
      auto del = db_.prepare("DELETE FROM outbox WHERE seq = ?1 RETURNING kind");
      for (const auto seq : acks) {
        del.bind(1, seq);
        while (del.step()) {
          const std::string kind = del.text(0);
          (kind == "set" ? d_sets : kind == "event" ? d_events : d_metrics) -= 1;
          ++acked;
        }
        del.reset();
      }
    }
    if (bounds_due) {
      // Telemetry older than the age bound, then the oldest telemetry while
      // the table holds more than the row bound. Sets and events stay.
      auto old = db_.prepare("DELETE FROM outbox WHERE kind = 'metrics' AND created_ms < ?1");
      old.bind(1, now_ms - static_cast<std::int64_t>(cfg_.outbox_max_age_days) * 86'400'000);
      const std::int64_t by_age = run_once(db_, old);
      std::int64_t total, metrics;
      {
        std::lock_guard lock(state_mutex_);
        total = outbox_.depth() + d_sets + d_events + d_metrics - by_age;
        metrics = outbox_.metrics + d_metrics - by_age;
      }
      std::int64_t by_size = 0;
      if (total > cfg_.outbox_max_rows && metrics > 0) {
        auto trim = db_.prepare(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE kind = 'metrics' "
            "ORDER BY seq LIMIT ?1)");
        trim.bind(1, std::min(total - cfg_.outbox_max_rows, metrics));
        by_size = run_once(db_, trim);
      }
      d_metrics -= by_age + by_size;
      dropped = by_age + by_size;
      auto first = db_.prepare("SELECT created_ms FROM outbox ORDER BY seq LIMIT 1");
      if (first.step()) oldest = first.int64(0);
      auto first_record = db_.prepare(
          "SELECT min(coalesce((SELECT created_ms FROM outbox WHERE kind = 'set' ORDER BY seq "
          "LIMIT 1), 9e18), coalesce((SELECT created_ms FROM outbox WHERE kind = 'event' "
          "ORDER BY seq LIMIT 1), 9e18))");
      if (first_record.step() && first_record.int64(0) < 9'000'000'000'000'000'000)
        oldest_record = first_record.int64(0);
    }
    tx.commit();
  } catch (const SqliteError& e) {
    {  // kept for the next pass
      std::lock_guard lock(outbox_mutex_);
      for (auto it = telemetry.rbegin(); it != telemetry.rend(); ++it)
        telemetry_in_.push_front(std::move(*it));
      acks_in_.insert(acks_in_.end(), acks.begin(), acks.end());
    }
    if (e.is_storage_fault() || e.is_corruption()) enter_fault(e.what());
    else log::error("storage: outbox pass failed: ", e.what());
    return;
  }
  bool full;
  std::int64_t records;
  {
    std::lock_guard lock(state_mutex_);
    outbox_.sets += d_sets;
    outbox_.events += d_events;
    outbox_.metrics += d_metrics;
    outbox_.acknowledged += static_cast<std::uint64_t>(acked);
    outbox_.telemetry_dropped += static_cast<std::uint64_t>(dropped);
    if (bounds_due) {
      outbox_.oldest_ms = oldest;
      outbox_.oldest_record_ms = oldest_record;
    }
    records = outbox_.sets + outbox_.events;
    full = records > cfg_.outbox_max_rows ||
           (outbox_.oldest_record_ms > 0 &&
            now_ms - outbox_.oldest_record_ms >
                static_cast<std::int64_t>(cfg_.outbox_max_age_days) * 86'400'000);
    outbox_.full = full;
  }
  if (d_metrics > 0 && on_outbox_) on_outbox_();
  if (!bounds_due) return;
  next_outbox_pass_ = now + std::chrono::seconds(1);
  if (full && !outbox_alarm_) {
    outbox_alarm_ = true;
    log::error("storage: the fleet's outbox is full: ", records,
               " sets and events wait for the broker (bound ", cfg_.outbox_max_rows, " rows, ",
               cfg_.outbox_max_age_days, " days); they are kept, none is dropped");
    queue_own_event(Severity::Error, codes::kFleetOutboxFull,
                    "the fleet's outbox is full: sets and events wait for the broker (kept)",
                    context_of({{"sets_events", records},
                                {"max_rows", cfg_.outbox_max_rows},
                                {"max_age_days", cfg_.outbox_max_age_days}}));
    write_pending();
  } else if (!full && outbox_alarm_) {
    outbox_alarm_ = false;
    log::notice("storage: the fleet's outbox is within its bounds again");
    queue_own_event(Severity::Info, codes::kFleetOutboxOk,
                    "the fleet's outbox is within its bounds again",
                    context_of({{"sets_events", records}}));
    write_pending();
  }
}

void Writer::publish(const CommitNotice& n) {
  {
    std::lock_guard lock(state_mutex_);
    for (const auto& r : n.reps) {
      int& v = committed_reps_[r.set_id];
      v = std::max(v, r.reps);
    }
    while (committed_reps_.size() > kCommittedSetsKept)
      committed_reps_.erase(committed_reps_.begin());
  }
  if (on_commit_) on_commit_(n);
}

}  // namespace soleus::storage
