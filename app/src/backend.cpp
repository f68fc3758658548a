#include "soleus/app/backend.hpp"
#include "soleus/app/session_runner.hpp"
#include "soleus/app/views_from_controller.hpp"
#include "soleus/app/views_from_storage.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <thread>

#include "soleus/common/log.hpp"
#include "soleus/common/tempo.hpp"
#include "soleus/common/time.hpp"
#include "soleus/controller/set_controller.hpp"
#include "soleus/storage/calibrations.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/queries.hpp"

namespace soleus::app {

namespace json = boost::json;
using namespace std::chrono_literals;
using controller::EventCode;
using controller::SetState;
using hmi::Result;

// ---- time ----------------------------------------------------------------------

std::int64_t wall_ms_of_loop_time(double t_s) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const double mono_now = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  return common::unix_ms_now() - static_cast<std::int64_t>(std::llround((mono_now - t_s) * 1000.0));
}

// ---- SetBook ---------------------------------------------------------------------

void SetBook::expect(const storage::SetStartRecord& r) {
  std::lock_guard lk(mutex_);
  expected_[r.set_id] = r;
}

std::optional<storage::SetStartRecord> SetBook::on_event(const controller::Event& e) {
  std::optional<storage::SetStartRecord> out;
  {
    std::lock_guard lk(mutex_);
    recent_.emplace_back(++seq_, e);
    if (recent_.size() > 256) recent_.pop_front();
    if (e.code == EventCode::SetStarted) {
      if (auto it = expected_.find(e.set_id); it != expected_.end()) {
        out = it->second;
        started_[e.set_id] = it->second;
        expected_.erase(it);
        while (started_.size() > 16) started_.erase(started_.begin());
      }
    }
  }
  cv_.notify_all();
  return out;
}

void SetBook::on_result(const controller::SetResult& r) {
  std::lock_guard lk(mutex_);
  results_[r.set_id] = r;
  while (results_.size() > 16) results_.erase(results_.begin());
}

std::uint64_t SetBook::event_seq() const {
  std::lock_guard lk(mutex_);
  return seq_;
}

std::optional<controller::Event> SetBook::wait_event(
    std::uint64_t after, const std::function<bool(const controller::Event&)>& match,
    std::chrono::milliseconds timeout) {
  std::unique_lock lk(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (const auto& [n, e] : recent_)
      if (n > after && match(e)) return e;
    if (cv_.wait_until(lk, deadline) == std::cv_status::timeout) {
      for (const auto& [n, e] : recent_)
        if (n > after && match(e)) return e;
      return std::nullopt;
    }
  }
}

std::optional<controller::SetResult> SetBook::result(std::int64_t set_id) const {
  std::lock_guard lk(mutex_);
  if (auto it = results_.find(set_id); it != results_.end()) return it->second;
  return std::nullopt;
}

std::optional<storage::SetStartRecord> SetBook::start_record(std::int64_t set_id) const {
  std::lock_guard lk(mutex_);
  if (auto it = started_.find(set_id); it != started_.end()) return it->second;
  if (auto it = expected_.find(set_id); it != expected_.end()) return it->second;
  return std::nullopt;
}

// ---- connection pool ---------------------------------------------------------------

class DaemonBackend::Pool {
 public:
  explicit Pool(const storage::StorageConfig& c) : cfg_(c) {}
  storage::Database take() {
    {
      std::lock_guard lk(mutex_);
      if (!free_.empty()) {
        storage::Database db = std::move(free_.back());
        free_.pop_back();
        return db;
      }
    }
    // Read-write: staff changes go through these too. The writer creates and
    // migrates the file; this never creates one.
    return storage::Database::open(cfg_.db_path, storage::Database::Access::ReadWrite, cfg_.vfs,
                                   cfg_.busy_timeout_ms);
  }
  void give(storage::Database db) {
    std::lock_guard lk(mutex_);
    if (free_.size() < 8) free_.push_back(std::move(db));
  }

 private:
  storage::StorageConfig cfg_;
  std::mutex mutex_;
  std::vector<storage::Database> free_;
};

struct DaemonBackend::Conn {
  Pool* pool;
  storage::Database db;
  bool keep = true;
  ~Conn() {
    if (keep && db.is_open()) pool->give(std::move(db));
  }
};

DaemonBackend::Conn DaemonBackend::connect() { return Conn{pool_.get(), pool_->take()}; }

DaemonBackend::DaemonBackend(const DaemonConfig& cfg, controller::ControlLoop& loop,
                             storage::Writer* store, SetBook& book)
    : cfg_(cfg),
      loop_(loop),
      store_(store),
      book_(book),
      pool_(std::make_unique<Pool>(cfg.storage)) {}

DaemonBackend::~DaemonBackend() = default;

namespace {

/// Runs `fn` on a pooled connection, turning storage failures into results.
template <class F>
Result with_db(F&& fn, const char* what) {
  try {
    return fn();
  } catch (const storage::SqliteError& e) {
    if (e.code() == 19 /* SQLITE_CONSTRAINT */)
      return Result::invalid("", std::string(what) + ": refused by the store: " + e.what());
    return Result::conflict(std::string(what) + ": storage unavailable: " + e.what(), "storage");
  } catch (const std::exception& e) {
    return Result::conflict(std::string(what) + ": " + e.what(), "storage");
  }
}

std::optional<std::string> opt_string(const json::object& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().get_string());
}
std::optional<double> opt_number(const json::object& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end()) return std::nullopt;
  const auto& v = it->value();
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return std::nullopt;
}

hmi::MemberView member_of(storage::Database& db, const storage::MemberRow& m) {
  return member_view(m, storage::current_programme_id(db, m.id));
}

hmi::ProgrammeView programme_of(storage::Database& db, const storage::ProgrammeRow& p) {
  return programme_view(p, storage::programme_steps(db, p.id));
}

std::optional<hmi::ProgrammeView> programme_of(storage::Database& db, std::int64_t id) {
  const auto p = storage::get_programme(db, id);
  if (!p) return std::nullopt;
  return programme_of(db, *p);
}

/// The API's step (normalised by the server) as the store's. Refuses the
/// progression rules the store cannot hold yet.
std::optional<Result> to_step(const json::object& st, std::size_t i, storage::StepSpec& out) {
  const std::string pre = "steps[" + std::to_string(i) + "].";
  out.mode = opt_string(st, "mode").value_or("isotonic");
  out.sets = static_cast<int>(opt_number(st, "sets").value_or(1));
  out.target_reps.reset();
  if (auto r = opt_number(st, "target_reps")) out.target_reps = static_cast<int>(*r);
  out.hold_s = opt_number(st, "hold_s");
  out.load_n = opt_number(st, "load_n");
  out.load_pct_max = opt_number(st, "load_pct");
  out.tempo = opt_string(st, "tempo").value_or("0-0-0-0");
  out.rest_s = opt_number(st, "rest_s").value_or(90);
  out.force_drop_pct = opt_number(st, "force_drop_pct").value_or(20);
  out.eccentric_pct = opt_number(st, "eccentric_pct").value_or(0);
  out.progress_when = "never";
  out.progress_load_pct = 0;
  out.progress_rule = "none";
  out.progress_amount = 0;
  if (auto it = st.find("progression"); it != st.end() && it->value().is_object()) {
    const auto& pr = it->value().get_object();
    const std::string rule = opt_string(pr, "rule").value_or("none");
    const double amount = opt_number(pr, "amount").value_or(0);
    bool on_tempo = false;
    if (auto t = pr.find("on_tempo"); t != pr.end() && t->value().is_bool())
      on_tempo = t->value().get_bool();
    if (rule == "load_pct" && amount > 50)
      return Result::invalid(pre + "progression.amount", "at most 50 % per session");
    if (rule != "none") {
      out.progress_rule = rule;
      out.progress_amount = amount;
      out.progress_when = on_tempo ? "all_sets_target_on_tempo" : "all_sets_target";
      if (rule == "load_pct") out.progress_load_pct = amount;
    }
  }
  return std::nullopt;
}

const storage::Actor kStaff{"staff", std::nullopt};

}  // namespace

// ---- machine ------------------------------------------------------------------------

std::vector<hmi::FaultView> DaemonBackend::faults(const controller::Snapshot& s) const {
  std::vector<hmi::FaultView> out = fault_views(s);
  if (store_ && !store_->storage_ok()) {
    const auto h = store_->health();
    out.push_back({"storage_fault",
                   "storage unavailable, new sets refused: " +
                       (h.last_error.empty() ? std::string("not open yet") : h.last_error),
                   h.fault_since_ms ? h.fault_since_ms : common::unix_ms_now()});
  }
  return out;
}

hmi::StatusView DaemonBackend::status() {
  const controller::Snapshot s = loop_.snapshot();
  hmi::StatusView v = status_view(s);
  v.faults = faults(s);
  return v;
}

std::optional<hmi::LiveFrame> DaemonBackend::latest_frame() {
  const controller::Snapshot s = loop_.snapshot();
  if (s.cycle == 0) return std::nullopt;
  hmi::LiveFrame f = live_frame(s);
  f.faults = faults(s);
  return f;
}

bool DaemonBackend::stop_current(hmi::StopCause cause) {
  const controller::Snapshot s = loop_.snapshot();
  // A maintenance procedure (range check, span sampling) stops too: the loop
  // ends it, and it does not move the pad again.
  const bool running = (s.ctl.set_running && s.ctl.state != SetState::Unloading) || s.ctl.moving ||
                       s.procedure.running != controller::ProcedureKind::None;
  if (!running) return false;
  {
    std::lock_guard lk(stop_mutex_);
    if (s.ctl.set_running && stop_requested_for_ == s.ctl.set_id) return false;  // asked already
    if (s.ctl.set_running) stop_requested_for_ = s.ctl.set_id;
  }
  const auto reason = cause == hmi::StopCause::Pain ? controller::StopReason::Pain
                                                    : controller::StopReason::UserStop;
  if (!loop_.post(controller::Command::stop(reason))) {
    std::lock_guard lk(stop_mutex_);
    stop_requested_for_ = 0;  // let the next press try again
    return false;
  }
  return true;
}

std::optional<std::string> DaemonBackend::busy_reason(const controller::Snapshot& s) const {
  if (s.ctl.state == SetState::Estop) return "the e-stop is latched; release it and reset";
  if (s.ctl.state == SetState::Fault || !s.latch_ok) return "a fault is latched; reset it first";
  if (s.ctl.set_running || s.ctl.moving) return "a set is running";
  if (!s.armed) return "the machine is not ready (drive not armed)";
  return std::nullopt;
}

hmi::Result DaemonBackend::start_set(const hmi::SetRequest& q) {
  auto p = to_params(q);
  if (!p) return Result::invalid("mode", "unknown mode");
  return start_params(*p);
}

hmi::Result DaemonBackend::start_params(controller::SetParams p, std::int64_t session_id,
                                        std::int64_t step_id, int set_index) {
  if (auto e = controller::validate(p, cfg_.training, cfg_.machine.limits, cfg_.machine.mechanics))
    return Result::invalid(e->field, e->message);
  std::lock_guard start_lock(start_mutex_);  // one start at a time
  const controller::Snapshot s = loop_.snapshot();
  if (auto why = busy_reason(s)) return Result::conflict(*why, "state");
  if (!store_ || !store_->storage_ok())
    return Result::conflict("storage unavailable: new sets are refused until it works again",
                            "storage");
  if (p.member_id) {
    // The member must exist (the set row refers to it); a stored range skips calibration.
    auto r = with_db(
        [&]() -> Result {
          auto c = connect();
          auto m = storage::get_member(c.db, *p.member_id);
          if (!m) return Result::invalid("member_id", "no member " + std::to_string(*p.member_id));
          if (m->rom_bottom_mm && m->rom_top_mm)
            p.range = controller::Range{*m->rom_bottom_mm, *m->rom_top_mm};
          return Result::ok();
        },
        "member");
    if (r.outcome != hmi::Outcome::Ok) return r;
  }
  const std::int64_t id = store_->allocate_set_id();
  if (id <= 0)
    return Result::conflict("storage has no database open: new sets are refused", "storage");
  p.set_id = id;

  storage::SetStartRecord rec;
  rec.set_id = id;
  rec.session_id = session_id;
  rec.member_id = p.member_id.value_or(0);
  rec.step_id = step_id;
  rec.set_index = set_index;
  rec.started_ms = common::unix_ms_now();
  rec.mode.assign(controller::to_string(p.mode));
  rec.load_n = p.load_n;
  rec.tempo.assign(p.tempo.to_string());
  rec.target_reps = p.mode == controller::Mode::Isometric ? 0 : p.target_reps;
  rec.hold_s = p.mode == controller::Mode::Isometric ? p.hold_s : 0;
  rec.force_drop_pct = p.force_drop_pct;
  rec.eccentric_pct = p.eccentric_pct;
  book_.expect(rec);

  const std::uint64_t seq = book_.event_seq();
  if (!loop_.post(controller::Command::start_set(p)))
    return Result::conflict("the control loop's command queue is full; try again", "state");
  const auto answer = book_.wait_event(
      seq,
      [id](const controller::Event& e) {
        return (e.code == EventCode::SetStarted && e.set_id == id) ||
               e.code == EventCode::SetRefused;
      },
      2000ms);
  if (!answer) {
    // Not answered in time (the main thread drains every 20 ms): look at the loop itself.
    const auto now = loop_.snapshot();
    if (now.ctl.set_id == id) return Result::created(id);
    return Result::conflict(
        "the control loop did not answer the start in time; the start was dropped", "state");
  }
  if (answer->code == EventCode::SetRefused)
    return Result::conflict("the machine refused the set: " + std::string(answer->text_view()),
                            "state");
  return Result::created(id);
}

std::optional<hmi::SetView> DaemonBackend::get_set(std::int64_t id) {
  if (!store_) return std::nullopt;
  std::optional<storage::SetRow> row;
  std::vector<storage::RepRow> reps;
  try {
    auto c = connect();
    row = storage::get_set(c.db, id);
    if (row) reps = storage::get_reps(c.db, id);
  } catch (const std::exception& e) {
    log::warn("api: reading set ", id, ": ", e.what());
  }
  const controller::Snapshot s = loop_.snapshot();
  const bool live = s.ctl.set_running && s.ctl.set_id == id;
  if (!row) {
    // Started but its row not committed yet: shown from what was asked.
    auto rec = book_.start_record(id);
    if (!rec || !live) return std::nullopt;
    row.emplace();
    row->id = id;
    row->started_ms = rec->started_ms;
    row->mode = std::string(rec->mode.view());
    row->tempo = std::string(rec->tempo.view());
    row->load_n = rec->load_n;
    if (rec->member_id) row->member_id = rec->member_id;
    if (rec->target_reps) row->target_reps = rec->target_reps;
    if (rec->hold_s > 0) row->hold_s = rec->hold_s;
  }
  // The stored row and its committed reps (views_from_storage.cpp), then the live state.
  hmi::SetView v = set_view(*row, reps);
  if (!row->stop_reason) {
    if (live) {
      switch (s.ctl.state) {
        case SetState::Ready:
        case SetState::Calibrating: v.state = "calibrating"; break;
        case SetState::Unloading: v.state = "unloading"; break;
        default: v.state = "active"; break;
      }
    } else if (book_.result(id) || book_.start_record(id)) {
      // Ended (its end record not committed yet), or ended in the loop a
      // moment ago with its result not drained yet (the main thread drains
      // every 20 ms): not "done" until the stop reason is on disk.
      v.state = "unloading";
    } else {
      v.state = "done";  // an earlier run's set that never got its end (daemon killed)
    }
  }
  return v;
}

hmi::EventPage DaemonBackend::events(const hmi::EventQuery& q) {
  hmi::EventPage out;
  if (!store_) return out;
  try {
    auto c = connect();
    storage::EventFilter f;
    f.since_ms = q.since_ms;
    if (q.severity) {
      storage::Severity sv{};
      if (storage::parse_severity(*q.severity, sv)) f.min_severity = sv;
    }
    f.code = q.code;
    f.before_id = q.before_id;
    f.offset = q.offset;
    f.limit = q.limit;
    auto page = storage::query_events(c.db, f);
    for (const auto& r : page.rows) out.events.push_back(event_view(r));
    if (page.next && !page.rows.empty()) out.next_before = page.rows.back().id;
    storage::EventFilter all = f;
    all.before.reset();
    all.before_id.reset();
    all.offset = 0;
    out.total = storage::count_events(c.db, all);
  } catch (const std::exception& e) {
    log::warn("api: events query: ", e.what());
  }
  return out;
}

// ---- members and programmes ---------------------------------------------------------------

hmi::Result DaemonBackend::list(hmi::Collection col) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          std::vector<hmi::MemberView> members;
          for (const auto& m : storage::list_members(c.db)) members.push_back(member_of(c.db, m));
          return Result::ok(hmi::to_json(members));
        }
        std::vector<hmi::ProgrammeView> programmes;
        for (const auto& p : storage::list_programmes(c.db))
          programmes.push_back(programme_of(c.db, p));
        return Result::ok(hmi::to_json(programmes));
      },
      "list");
}

hmi::Result DaemonBackend::get(hmi::Collection col, std::int64_t id) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          auto m = storage::get_member(c.db, id);
          if (!m) return Result::not_found("no member " + std::to_string(id));
          return Result::ok(hmi::to_json(member_of(c.db, *m)));
        }
        auto p = programme_of(c.db, id);
        if (!p) return Result::not_found("no programme " + std::to_string(id));
        return Result::ok(hmi::to_json(*p));
      },
      "get");
}

namespace {
std::optional<Result> member_update(const json::object& f, storage::MemberUpdate& u) {
  if (auto it = f.find("notes");
      it != f.end() && it->value().is_string() && !it->value().get_string().empty())
    return Result::invalid("notes", "member notes are not stored by this release");
  if (auto n = opt_string(f, "name")) u.name = *n;
  if (auto h = opt_string(f, "pin_hash"))
    u.pin_hash = h->empty() ? std::optional<std::string>() : std::optional<std::string>(*h);
  if (f.contains("assessed_max_n")) u.assessed_max_n = opt_number(f, "assessed_max_n");
  return std::nullopt;
}
}  // namespace

hmi::Result DaemonBackend::create(hmi::Collection col, const json::object& f) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          storage::MemberUpdate u;
          if (auto bad = member_update(f, u)) return *bad;
          const std::string number = opt_string(f, "number").value_or("");
          if (storage::find_member_by_number(c.db, number))
            return Result::conflict("member number " + number + " is taken", "number");
          const std::int64_t id = storage::add_member(c.db, number, u.name.value_or(""), kStaff);
          u.name.reset();
          if (u.pin_hash || u.assessed_max_n) storage::update_member(c.db, id, u, kStaff);
          return Result::created(id);
        }
        storage::ProgrammeSpec p;
        p.name = opt_string(f, "name").value_or("");
        p.notes = opt_string(f, "description").value_or("");
        if (auto n = opt_number(f, "sessions_per_week")) p.sessions_per_week = static_cast<int>(*n);
        if (auto n = opt_number(f, "block_weeks")) p.block_weeks = static_cast<int>(*n);
        if (auto n = opt_number(f, "after_block_sessions_per_week"))
          p.after_block_sessions_per_week = static_cast<int>(*n);
        if (auto it = f.find("steps"); it != f.end() && it->value().is_array()) {
          const auto& a = it->value().get_array();
          for (std::size_t i = 0; i < a.size(); ++i) {
            storage::StepSpec s;
            if (auto bad = to_step(a[i].as_object(), i, s)) return *bad;
            p.steps.push_back(std::move(s));
          }
        }
        return Result::created(storage::add_programme(c.db, p, kStaff));
      },
      "create");
}

hmi::Result DaemonBackend::update(hmi::Collection col, std::int64_t id, const json::object& f) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          storage::MemberUpdate u;
          if (auto bad = member_update(f, u)) return *bad;
          auto m = storage::get_member(c.db, id);
          if (!m) return Result::not_found("no member " + std::to_string(id));
          if (auto n = opt_string(f, "number"); n && *n != m->number) {
            if (storage::find_member_by_number(c.db, *n))
              return Result::conflict("member number " + *n + " is taken", "number");
            storage::set_member_number(c.db, id, *n, kStaff);
          }
          storage::update_member(c.db, id, u, kStaff);
          return Result::ok();
        }
        const auto before_view = programme_of(c.db, id);
        if (!before_view) return Result::not_found("no programme " + std::to_string(id));
        const json::object before = hmi::to_json(*before_view).as_object();
        std::vector<storage::StepSpec> steps;
        const auto it = f.find("steps");
        if (it != f.end() && it->value().is_array()) {
          const auto& a = it->value().get_array();
          for (std::size_t i = 0; i < a.size(); ++i) {
            storage::StepSpec s;
            if (auto bad = to_step(a[i].as_object(), i, s)) return *bad;
            steps.push_back(std::move(s));
          }
        }
        storage::Transaction tx(c.db);
        const std::int64_t now = common::unix_ms_now();
        // Each changed field: the column, and the audit trail with before and after.
        auto set_field = [&](const char* api, storage::ProgrammeField field) {
          const auto v = f.find(api);
          if (v == f.end()) return;
          storage::FieldValue value;
          if (v->value().is_string()) value = std::string(v->value().get_string());
          else if (auto n = opt_number(f, api)) value = static_cast<std::int64_t>(*n);
          storage::set_programme_field(c.db, id, field, value, now);
          const json::value& old = before.at(api);
          storage::record_audit(c.db, kStaff, "programme", id, api,
                                old.is_null() ? std::nullopt
                                              : std::optional<std::string>(
                                                    old.is_string() ? std::string(old.get_string())
                                                                    : json::serialize(old)),
                                v->value().is_string() ? std::string(v->value().get_string())
                                                       : json::serialize(v->value()));
        };
        using F = storage::ProgrammeField;
        set_field("name", F::Name);
        set_field("description", F::Notes);
        set_field("sessions_per_week", F::SessionsPerWeek);
        set_field("block_weeks", F::BlockWeeks);
        set_field("after_block_sessions_per_week", F::AfterBlockSessionsPerWeek);
        if (!steps.empty()) {
          // Steps keep their ids (and so members' progression and open sessions) by position.
          storage::replace_steps(c.db, id, steps);
          const auto after = programme_of(c.db, id);
          storage::record_audit(
              c.db, kStaff, "programme", id, "steps", json::serialize(before.at("steps")),
              after ? json::serialize(hmi::to_json(after->steps)) : std::string());
        }
        tx.commit();
        return Result::ok();
      },
      "update");
}

hmi::Result DaemonBackend::remove(hmi::Collection col, std::int64_t id) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          // Erasure on request: the member and all their data; audited.
          const auto r = storage::erase_member(c.db, id, kStaff);
          if (!r.found) return Result::not_found("no member " + std::to_string(id));
          return Result::ok(
              json::object{{"ok", true}, {"sets_erased", r.sets}, {"reps_erased", r.reps}});
        }
        // Programmes are archived, never deleted: sets and assignments refer to them.
        if (!storage::get_programme(c.db, id))
          return Result::not_found("no programme " + std::to_string(id));
        storage::archive_programme(c.db, id, common::unix_ms_now(), kStaff);
        return Result::ok();
      },
      "remove");
}

hmi::Result DaemonBackend::assign_programme(std::int64_t member_id,
                                            std::optional<std::int64_t> programme_id) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (!storage::get_member(c.db, member_id))
          return Result::not_found("no member " + std::to_string(member_id));
        if (programme_id) {
          if (!storage::get_programme(c.db, *programme_id))
            return Result::not_found("no programme " + std::to_string(*programme_id));
          storage::assign_programme(c.db, member_id, *programme_id, common::unix_ms_now(), kStaff);
          return Result::ok();
        }
        storage::end_assignment(c.db, member_id, common::unix_ms_now(), kStaff);
        return Result::ok();
      },
      "assign");
}

hmi::Result DaemonBackend::member_history(std::int64_t member_id, int limit) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (!storage::get_member(c.db, member_id))
          return Result::not_found("no member " + std::to_string(member_id));
        storage::SetFilter f;
        f.member_id = member_id;
        f.limit = std::clamp(limit, 1, 100) * 20;
        const auto sets = storage::query_sets(c.db, f);  // newest first
        std::vector<hmi::HistoryEntryView> out;
        // One entry per session; sets outside a session (free training) are an entry each.
        std::optional<std::int64_t> open_session;
        for (const auto& s : sets) {
          if (s.session_id && open_session == s.session_id && !out.empty()) {
            out.back().sets.push_back(history_set_view(s));
            continue;
          }
          if (static_cast<int>(out.size()) >= limit) break;
          open_session = s.session_id;
          out.push_back({s.session_id, s.started_ms, std::nullopt, {history_set_view(s)}});
        }
        return Result::ok(hmi::to_json(out));
      },
      "history");
}

std::optional<hmi::MemberCredential> DaemonBackend::member_credential(const std::string& number) {
  try {
    auto c = connect();
    auto m = storage::find_member_by_number(c.db, number);
    if (!m) return std::nullopt;
    return hmi::MemberCredential{m->id, m->pin_hash.value_or("")};
  } catch (const std::exception& e) {
    log::warn("api: member lookup: ", e.what());
    return std::nullopt;
  }
}

// ---- programme sessions ------------------------------------------------------------------------

namespace {
/// A session with no set for this long closes itself (the member walked away).
constexpr std::int64_t kSessionIdleCloseMs = std::int64_t{4} * 3600 * 1000;

/// The runner's step and prescription as the session's step card.
hmi::StepCardView step_card(const runner::Step& st, std::size_t index, std::size_t count,
                            int set_index, const runner::Prescription& rx) {
  hmi::StepCardView v;
  v.index = index;
  v.count = count;
  v.step_id = st.id;
  v.mode = st.mode;
  v.sets = st.sets;
  v.set = set_index;
  v.load_n = rx.load_n;
  v.load_basis = rx.basis;
  v.tempo = st.tempo;
  v.rest_s = st.rest_s;
  v.force_drop_pct = st.force_drop_pct;
  v.eccentric_pct = st.eccentric_pct;
  v.target_reps = rx.target_reps;
  v.hold_s = rx.hold_s;
  return v;
}
}  // namespace

hmi::Result DaemonBackend::session(std::int64_t member_id, hmi::SessionAction action) {
  using A = hmi::SessionAction;
  std::lock_guard session_lock(session_mutex_);  // one runner decision at a time
  // The latest set's rows (start, end, reps) committed before the runner reads them.
  if (store_) store_->flush(1000ms);
  const controller::Snapshot snap = loop_.snapshot();
  controller::SetParams p;
  std::int64_t session_id = 0, step_id = 0;
  int set_index = 0;
  bool start_now = false;
  auto r = with_db(
      [&]() -> Result {
        auto c = connect();
        if (!storage::get_member(c.db, member_id))
          return Result::not_found("no member " + std::to_string(member_id));
        const std::int64_t now = common::unix_ms_now();
        auto plan = runner::load_plan(c.db, member_id);
        runner::OpenSession open{};  // id 0: none
        if (auto o = runner::find_open(c.db, member_id)) open = *o;
        std::vector<runner::SetDone> done;
        auto running = [&](const runner::SetDone& d) {
          return !d.ended_ms && snap.ctl.set_running && snap.ctl.set_id == d.set_id;
        };
        if (open.id) {
          done = runner::session_sets(c.db, open.id);
          std::int64_t last = open.started_ms;
          bool busy = false;
          for (const auto& d : done) {
            last = std::max(last, d.ended_ms.value_or(d.started_ms));
            busy = busy || running(d);
          }
          const bool other_programme = !plan || plan->programme_id != open.programme_id;
          if (!busy && (now - last > kSessionIdleCloseMs || other_programme)) {
            // Closed as it stands: done with progression if every set was performed, else aborted.
            runner::close_session(c.db, open.id, other_programme ? runner::Plan{} : *plan, now,
                                  other_programme ? "the programme changed" : "left open");
            log::info("session ", open.id, " of member ", member_id, " closed (",
                      other_programme ? "programme changed" : "idle", ")");
            open = {};
            done.clear();
          }
        }
        if (action == A::End) {
          if (!open.id)
            return Result::ok(json::object{{"ended", false}, {"message", "no open session"}});
          for (const auto& d : done)
            if (running(d))
              return Result::conflict("a set of this session is running: stop it first", "state");
          json::object out = runner::close_session(c.db, open.id, plan ? *plan : runner::Plan{},
                                                   now, "ended by the member");
          out["ended"] = true;
          return Result::ok(std::move(out));
        }
        if (!plan) return Result::not_found("no programme is assigned to this member");
        if (plan->steps.empty()) return Result::not_found("the assigned programme has no steps");
        if (!open.id && (action == A::Start || action == A::NextSet)) {
          open =
              runner::OpenSession{runner::open_session(c.db, *plan, now), now, plan->programme_id};
          log::info("session ", open.id, " of member ", member_id, " opened");
        }
        const runner::Position pos = runner::locate(*plan, done);
        std::string state = open.id ? "ready" : "not_started";
        double rest_remaining = 0;
        bool busy = false;
        for (const auto& d : done) busy = busy || running(d);
        if (busy) state = "set_running";
        else if (runner::complete(*plan, pos)) state = "complete";
        else if (pos.last_end_ms) {
          rest_remaining = std::max(0.0, (static_cast<double>(*pos.last_end_ms) +
                                          pos.rest_s * 1000.0 - static_cast<double>(now)) /
                                             1000.0);
          if (rest_remaining > 0) state = "rest";
        }
        const std::int64_t open_id = open.id;
        hmi::SessionView card;
        if (open_id) card.session_id = open_id;
        card.state = state;
        card.programme_id = plan->programme_id;
        card.programme = plan->programme_name;
        card.sessions_per_week = runner::sessions_per_week(*plan, now);
        card.rest_remaining_s = std::ceil(rest_remaining * 10) / 10;
        for (const auto& d : done) {
          std::size_t idx = 0;
          for (std::size_t i = 0; i < plan->steps.size(); ++i)
            if (plan->steps[i].id == d.step_id) idx = i;
          // A set that ended without a stop reason (cut by a crash) says so.
          std::optional<std::string> why = d.stop_reason;
          if (!why && !running(d)) why = "shutdown";
          card.sets_done.push_back({d.set_id, idx, d.set_index, d.reps, why});
        }
        if (!runner::complete(*plan, pos)) {
          const runner::Step& st = plan->steps[pos.step];
          std::string why;
          auto rx =
              runner::prescribe(st, plan->assessed_max_n, cfg_.machine.limits.max_load_n, why);
          if (!rx) return Result::invalid("load_pct", why);
          card.step = step_card(st, pos.step, plan->steps.size(), pos.set_index, *rx);
          if (action == A::NextSet) {
            if (state == "set_running") return Result::conflict("a set is running", "state");
            if (state == "rest")
              return Result::conflict(
                  "rest: " + std::to_string(static_cast<int>(std::ceil(rest_remaining))) +
                      " s before the next set",
                  "rest_remaining_s");
            if (!controller::parse_mode(st.mode, p.mode))
              return Result::invalid("mode", "bad mode in the programme");
            const auto tempo = common::parse_tempo(st.tempo);
            if (!tempo)
              return Result::invalid("tempo", "bad tempo in the programme: " + tempo.message);
            p.tempo = controller::Tempo{tempo.seconds.eccentric_s, tempo.seconds.bottom_s,
                                        tempo.seconds.concentric_s, tempo.seconds.top_s};
            p.load_n = rx->load_n;
            p.target_reps = rx->target_reps.value_or(0);
            p.hold_s = rx->hold_s.value_or(0);
            p.force_drop_pct = st.force_drop_pct;
            p.eccentric_pct = st.eccentric_pct;
            p.member_id = member_id;
            session_id = open_id;
            step_id = st.id;
            set_index = pos.set_index;
            start_now = true;
          }
        } else if (action == A::NextSet) {
          return Result::conflict("every set of today's session is done: end the session", "state");
        }
        return Result::ok(hmi::to_json(card));
      },
      "session");
  if (r.outcome != hmi::Outcome::Ok || !start_now) return r;
  // A new press of Start: the same checks as any set.
  return start_params(p, session_id, step_id, set_index);
}

// ---- maintenance
// ---------------------------------------------------------------------------------

namespace {
const storage::Actor kMaintenance{"maintenance", std::nullopt};

std::string fmt1(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
std::string fmt4(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}
}  // namespace

void DaemonBackend::push_event(storage::Severity sev, const char* code, const std::string& message,
                               const json::object& context) {
  if (!store_) return;
  storage::EventRecord e;
  e.severity = sev;
  e.code.assign(code);
  e.message.assign(message);
  e.context.assign(hmi::write_json(context));
  store_->push(e);
  log::line(sev == storage::Severity::Error     ? log::Level::Error
            : sev == storage::Severity::Warning ? log::Level::Warning
                                                : log::Level::Info,
            "[", code, "] ", message);
}

std::optional<controller::ProcedureResult> DaemonBackend::run_procedure(
    controller::Command c, std::chrono::milliseconds timeout, std::string& error) {
  const std::uint32_t id = next_procedure_id_.fetch_add(1) + 1;
  c.procedure_id = id;
  const std::uint64_t seq = book_.event_seq();
  if (!loop_.post(c)) {
    error = "the control loop's command queue is full";
    return std::nullopt;
  }
  auto e = book_.wait_event(
      seq,
      [id](const controller::Event& ev) {
        return ev.code == EventCode::ProcedureEnded && ev.value == static_cast<double>(id);
      },
      timeout);
  if (!e) {
    // Not heard of in time: whatever runs is stopped (the controlled stop),
    // and the caller says so.
    (void)loop_.post(controller::Command::stop(controller::StopReason::UserStop));
    error = "the control loop did not report the end of the procedure in time";
    return std::nullopt;
  }
  // The event can reach the main thread before the cycle that queued it has
  // published its snapshot: the result is read once it is there.
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  do {
    const controller::Snapshot s = loop_.snapshot();
    if (s.procedure.last.id == id) return s.procedure.last;
    std::this_thread::sleep_for(5ms);
  } while (std::chrono::steady_clock::now() < deadline);
  error = "the control loop's result was not published";
  return std::nullopt;
}

hmi::Result DaemonBackend::span_calibration(double known_n) {
  std::unique_lock busy(maintenance_mutex_, std::try_to_lock);
  if (!busy.owns_lock()) return Result::conflict("another maintenance routine is running", "state");
  const controller::Snapshot s = loop_.snapshot();
  if (auto why = busy_reason(s); why && s.ctl.set_running) return Result::conflict(*why, "state");
  // 2 s of readings with the weight hanging still, sampled by the control
  // loop (controller::Procedures) with the present factor taken out.
  std::string error;
  const auto r = run_procedure(
      controller::Command::span_sampling(0),
      std::chrono::milliseconds(static_cast<int>(controller::kSpanSamplingS * 1000)) + 3s, error);
  if (!r) return Result::conflict(error, "state");
  if (r->outcome != controller::ProcedureOutcome::Done || !r->ok)
    return Result::conflict(std::string(r->why_view()), "state");
  // The numbers: a pure function of the samples (controller::fit_span).
  const controller::SpanFit fit = controller::fit_span(r->samples, known_n);
  if (!fit.ok)
    return fit.field == "known_n" ? Result::invalid("known_n", fit.message)
                                  : Result::conflict(fit.message, "state");
  const double gain = fit.gain, gain_before = r->gain_before;
  json::object details{{"known_n", known_n},
                       {"measured_raw_n", fit.mean_n},
                       {"sd_n", fit.sd_n},
                       {"samples", r->samples.n},
                       {"previous_gain", gain_before}};
  // Stored first: the factor must survive a restart, or it is not applied at all.
  auto stored = with_db(
      [&]() -> Result {
        auto c = connect();
        storage::record_span_calibration(c.db, kMaintenance, common::unix_ms_now(), gain,
                                         gain_before, json::serialize(details));
        return Result::ok();
      },
      "span calibration");
  if (stored.outcome != hmi::Outcome::Ok) return stored;
  controller::Command cmd = controller::Command::of(controller::Command::Kind::SetForceGain);
  cmd.gain = gain;
  if (!loop_.post(cmd))
    return Result::conflict("the control loop's command queue is full", "state");
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  while (loop_.snapshot().force_gain != gain && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  push_event(storage::Severity::Info, "span_calibrated",
             "load-cell span factor " + fmt4(gain_before) + " → " + fmt4(gain) + " (" +
                 fmt1(known_n) + " N known, " + fmt1(fit.measured_n) + " N read)",
             details);
  return Result::ok(json::object{{"ok", true},
                                 {"gain", gain},
                                 {"previous_gain", gain_before},
                                 {"known_n", known_n},
                                 {"measured_n", fit.measured_n},
                                 {"sd_n", fit.sd_n}});
}

hmi::Result DaemonBackend::range_check() {
  std::unique_lock busy(maintenance_mutex_, std::try_to_lock);
  if (!busy.owns_lock()) return Result::conflict("another maintenance routine is running", "state");
  const controller::Snapshot s = loop_.snapshot();
  if (auto why = busy_reason(s)) return Result::conflict(*why, "state");
  // The check runs in the control loop (controller::Procedures): up to the
  // top soft limit and down to the bottom one with hold-to-move, then back to
  // rest and unloaded; the machine-empty and pad-still rules are the loop's.
  // Each leg is limited to twice its time at move_speed_mm_s + 3 s and the
  // return to 15 s: 60 s bounds the whole.
  std::string error;
  const auto res = run_procedure(controller::Command::range_check(0), 60s, error);
  if (!res) return Result::conflict(error, "state");
  if (res->outcome == controller::ProcedureOutcome::Refused)
    return Result::conflict(std::string(res->why_view()), "state");
  using Rules = controller::RangeCheckRules;
  const auto& cc = cfg_.control;
  const double lo = cc.soft_travel_margin_mm + 1.0;
  const double hi = cfg_.machine.mechanics.travel_max_mm - cc.soft_travel_margin_mm - 1.0;
  const controller::RangeLeg& up = res->up;
  const controller::RangeLeg& down = res->down;
  const bool ok = res->ok;
  const double travel = up.reached_mm - (down.arrived ? down.reached_mm : res->start_mm);
  hmi::RangeCheckView v;
  v.ok = ok;
  v.top_mm = up.reached_mm;
  if (down.arrived) v.bottom_mm = down.reached_mm;
  v.travel_mm = travel;
  v.expected_bottom_mm = lo;
  v.expected_top_mm = hi;
  v.top_tolerance_mm = Rules::kArriveUpMm;
  v.bottom_tolerance_mm = Rules::kArriveDownMm;
  v.up_s = up.seconds;
  v.down_s = down.seconds;
  v.peak_motor_force_n = std::max(up.peak_force_n, down.peak_force_n);
  v.why = ok ? std::string("the pad travelled the whole range")
             : (up.arrived ? "lowering: " : "rising: ") + std::string(res->why_view());
  const json::object r = hmi::to_json(v).as_object();
  {
    std::lock_guard lk(range_mutex_);
    last_range_check_ = v;
    last_range_check_->t_ms = common::unix_ms_now();
  }
  with_db(
      [&]() -> Result {
        auto c = connect();
        storage::record_range_check(c.db, common::unix_ms_now(), ok, travel, hmi::write_json(r));
        return Result::ok();
      },
      "range check");
  push_event(ok ? storage::Severity::Info : storage::Severity::Warning,
             ok ? "range_check_ok" : "range_check_failed",
             ok ? "range check: " + fmt1(down.reached_mm) + " to " + fmt1(up.reached_mm) + " mm"
                : "range check failed: " + v.why,
             r);
  return Result::ok(r);
}

hmi::Result DaemonBackend::maintenance(hmi::MaintenanceAction action, const json::object& args) {
  using K = controller::Command::Kind;
  switch (action) {
    case hmi::MaintenanceAction::Span: {
      const auto known = opt_number(args, "known_n");
      if (!known) return Result::invalid("known_n", "is required");
      return span_calibration(*known);
    }
    case hmi::MaintenanceAction::RangeCheck: return range_check();
    case hmi::MaintenanceAction::Tare: {
      const std::uint64_t seq = book_.event_seq();
      if (!loop_.post(controller::Command::of(K::Tare)))
        return Result::conflict("the control loop's command queue is full", "state");
      auto e = book_.wait_event(
          seq,
          [](const controller::Event& ev) {
            return ev.code == EventCode::Tared || ev.code == EventCode::TareFailed ||
                   ev.code == EventCode::CommandRefused;
          },
          3000ms);
      if (!e) return Result::conflict("the tare was not answered in time", "state");
      if (e->code == EventCode::Tared)
        return Result::ok(json::object{{"ok", true}, {"message", e->text_view()}});
      return Result::conflict(std::string(e->text_view()), "state");
    }
    case hmi::MaintenanceAction::FaultReset: {
      const std::uint64_t seq = book_.event_seq();
      if (!loop_.post(controller::Command::of(K::ResetFaults)))
        return Result::conflict("the control loop's command queue is full", "state");
      auto e = book_.wait_event(
          seq,
          [](const controller::Event& ev) {
            return ev.code == EventCode::Reset || ev.code == EventCode::ResetRefused;
          },
          3000ms);
      const auto s = loop_.snapshot();
      if (e && e->code == EventCode::ResetRefused)
        return Result::conflict(std::string(e->text_view()), "state");
      if (s.latch_ok)
        return Result::ok(
            json::object{{"ok", true}, {"state", controller::to_string(s.ctl.state)}});
      return Result::conflict("the fault's cause is still present", "state");
    }
  }
  return Result::invalid("", "unknown action");
}

json::value DaemonBackend::diagnostics() {
  const controller::Snapshot s = loop_.snapshot();
  hmi::DiagnosticsView v = diagnostics_view(s);
  if (store_) {
    v.storage = storage_health_view(store_->health());
    try {
      auto c = connect();
      v.odometer = odometer_view(storage::read_odometer(c.db));
    } catch (const std::exception& e) {
      log::debug("api: odometer: ", e.what());
    }
  }
  {
    std::lock_guard lk(range_mutex_);
    v.range_check = last_range_check_;
  }
  return hmi::to_json(v);
}

}  // namespace soleus::app
