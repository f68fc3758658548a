// DaemonBackend: the loop's time and the set book, the pool, the machine (status, live frames,
// stop, start)
#include "backend_internal.hpp"

namespace soleus::app {

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
  auto& c = stops_[r.reason];
  c.reason = r.reason;
  ++c.sets;
  c.reps += static_cast<std::uint64_t>(std::max(r.reps, 0));
  results_[r.set_id] = r;
  while (results_.size() > 16) results_.erase(results_.begin());
}

std::vector<SetBook::StopCount> SetBook::stop_counts() const {
  using controller::StopReason;
  std::vector<StopCount> out;
  std::lock_guard lk(mutex_);
  // Every reason from the first scrape on, at 0 until it happens: a counter
  // that appears only at 1 would lose its first increase in rate().
  for (int i = static_cast<int>(StopReason::TargetReached);
       i <= static_cast<int>(StopReason::Shutdown); ++i) {
    const auto reason = static_cast<StopReason>(i);
    auto it = stops_.find(reason);
    out.push_back(it == stops_.end() ? StopCount{reason, 0, 0} : it->second);
  }
  return out;
}

void SetBook::on_rep(const controller::RepRecord& r) {
  std::lock_guard lk(mutex_);
  last_rep_ = r;
}

std::optional<controller::RepRecord> SetBook::last_rep() const {
  std::lock_guard lk(mutex_);
  return last_rep_;
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

DaemonBackend::Conn DaemonBackend::connect() { return Conn{pool_.get(), pool_->take()}; }

DaemonBackend::DaemonBackend(const DaemonConfig& cfg, controller::ControlLoop& loop,
                             storage::Writer* store, SetBook& book)
    : cfg_(cfg),
      loop_(loop),
      store_(store),
      book_(book),
      pool_(std::make_unique<Pool>(cfg.storage)),
      started_unix_s_(
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count()) {}

DaemonBackend::~DaemonBackend() = default;

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
  // The per-rep feedback: the last rep of the running set, or of the last set.
  if (auto rep = book_.last_rep(); rep && (!s.ctl.set_running || s.ctl.set_id == rep->set_id))
    f.last_rep = rep_feedback_view(*rep);
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
                                        std::int64_t step_id, int set_index, bool stored_range) {
  if (auto e = controller::validate(p, cfg_.training, cfg_.machine.limits, cfg_.machine.mechanics))
    return Result::invalid(e->field, e->message);
  std::lock_guard start_lock(start_mutex_);  // one start at a time
  const controller::Snapshot s = loop_.snapshot();
  if (auto why = busy_reason(s)) return Result::conflict(*why, "state");
  if (!store_ || !store_->storage_ok())
    return Result::conflict("storage unavailable: new sets are refused until it works again",
                            "storage");
  if (p.member_id) {
    // The member must exist (the set row refers to it). Their stored range
    // goes with its age: the controller uses it when recent and within the
    // soft limits, its light first rep confirming it (else it calibrates and
    // says why). One without a measured time is not offered.
    auto r = with_db(
        [&]() -> Result {
          auto c = connect();
          auto m = storage::get_member(c.db, *p.member_id);
          if (!m) return Result::invalid("member_id", "no member " + std::to_string(*p.member_id));
          if (stored_range && m->rom_bottom_mm && m->rom_top_mm && m->rom_measured_ms) {
            p.range = controller::Range{*m->rom_bottom_mm, *m->rom_top_mm};
            p.range_age_days = std::max<double>(
                0.0,
                static_cast<double>(common::unix_ms_now() - *m->rom_measured_ms) / 86'400'000.0);
          }
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

}  // namespace soleus::app
