#include "soleus/controller/control_loop.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "soleus/common/log.hpp"

namespace soleus::controller {

double MonotonicClock::now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void MonotonicClock::sleep_until(double t) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(std::floor(t));
  ts.tv_nsec = static_cast<long>((t - std::floor(t)) * 1e9);
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec += 1;
    ts.tv_nsec -= 1000000000L;
  }
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

machine::DriveSetup armed_drive_setup(const machine::Limits& limits, double speed_limit_mm_s) {
  machine::DriveSetup setup;
  setup.torque_limit_n = std::min(limits.max_load_n, machine::kHardCapN);
  setup.speed_limit_mm_s = speed_limit_mm_s > 0
                               ? speed_limit_mm_s
                               : SetController::armed_speed_limit(limits.max_speed_mm_s, limits);
  setup.slew_n_per_s = limits.max_slew_n_per_s;
  setup.watchdog_ms = limits.watchdog_ms;
  return setup;
}

/// Puts the controller's outputs on the loop's bounded queues.
class ControlLoop::Sink : public EventSink {
 public:
  explicit Sink(ControlLoop& loop) : loop_(loop) {}
  void on_event(const Event& e) override {
    Event copy = e;
    if (e.code == EventCode::DriveFault && e.value != 0) {
      // The drive's own name for the fault (rare: allocation is acceptable here).
      std::string text =
          loop_.io_.fault_name(static_cast<int>(e.value)) + ": " + std::string(e.text_view());
      copy.set_text(text);
    }
    if (!loop_.events_.push(copy)) lost("event", ++loop_.stats_.events_lost);
  }
  void on_rep(const RepRecord& r) override {
    if (!loop_.reps_.push(r)) lost("rep", ++loop_.stats_.reps_lost);
  }
  void on_set_result(const SetResult& r) override {
    if (!loop_.results_.push(r)) lost("set result", ++loop_.stats_.results_lost);
  }

 private:
  static void lost(const char* what, std::uint64_t n) {
    // Loud, but not a flood: the first loss and then every 100th.
    if (n == 1 || n % 100 == 0)
      log::error("control loop: ", what, " queue full, ", n, " lost; the consumer is not draining");
  }
  ControlLoop& loop_;
};

ControlLoop::ControlLoop(const ControlConfig& control, const TrainingConfig& training,
                         const machine::Mechanics& mechanics, const machine::Limits& limits,
                         machine::MachineIo& io, Clock& clock)
    : ccfg_(control),
      tcfg_(training),
      mech_(mechanics),
      limits_(limits),
      io_(io),
      clock_(clock),
      sink_(std::make_unique<Sink>(*this)),
      commands_(static_cast<std::size_t>(control.command_queue)),
      events_(static_cast<std::size_t>(control.event_queue)),
      reps_(static_cast<std::size_t>(control.rep_queue)),
      results_(64),
      trace_(static_cast<std::size_t>(control.trace_queue)) {
  control.validate(limits);
  training.validate(limits);
  ctl_ = std::make_unique<SetController>(control, training, mechanics, limits, *sink_);
  procedures_ = std::make_unique<Procedures>(control, mechanics, *sink_);
  stats_.hz = control.loop_hz;
  Event boot;
  boot.code = EventCode::Boot;
  boot.set_text("controller started; disabled until armed and reset");
  events_.push(boot);
}

ControlLoop::~ControlLoop() { stop(); }

bool ControlLoop::post(const Command& c) {
  Command stamped = c;
  stamped.posted_t = clock_.now();
  if (commands_.post(stamped)) return true;
  commands_dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void ControlLoop::start() {
  if (thread_.joinable()) return;
  if (ccfg_.realtime && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
    throw std::runtime_error(std::string("control.realtime: mlockall failed: ") +
                             std::strerror(errno) +
                             " (needs CAP_IPC_LOCK or a memlock limit; see docs/controller.md)");
  stop_ = false;
  go_ = false;
  thread_ = std::thread([this] { run(); });
  if (ccfg_.realtime) {
    sched_param sp{};
    sp.sched_priority = ccfg_.realtime_priority;
    int rc = pthread_setschedparam(thread_.native_handle(), SCHED_FIFO, &sp);
    if (rc != 0) {
      stop_ = true;
      go_ = true;
      thread_.join();
      throw std::runtime_error(std::string("control.realtime: SCHED_FIFO refused: ") +
                               std::strerror(rc) +
                               " (needs CAP_SYS_NICE or LimitRTPRIO; see docs/controller.md)");
    }
  }
  pthread_setname_np(thread_.native_handle(), "soleus-ctl");
  go_.store(true, std::memory_order_release);
}

void ControlLoop::stop() {
  stop_ = true;
  go_ = true;
  if (thread_.joinable()) thread_.join();
}

void ControlLoop::join() {
  if (thread_.joinable()) thread_.join();
}

void ControlLoop::run() {
  while (!go_.load(std::memory_order_acquire)) std::this_thread::yield();
  const double period = ccfg_.period_s();
  double next = clock_.now();
  while (!stop_.load(std::memory_order_relaxed) && !finished()) {
    if (test_hang_.load(std::memory_order_relaxed)) [[unlikely]]
      hang_for_test();
    step();
    next += period;
    double now = clock_.now();
    if (now > next) {
      // Missed deadlines: the work took too long or the thread was not scheduled.
      while (next <= now) next += period;
    }
    clock_.sleep_until(next);
  }
}

void ControlLoop::hang_for_test() {
  while (test_hang_.load(std::memory_order_relaxed) && !stop_.load(std::memory_order_relaxed))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void ControlLoop::handle(const Command& c, double t) {
  // A start or a move taken late (the loop stalled, or the queue was held)
  // is dropped: whoever posted it has given up waiting by now.
  const bool motion = c.kind == Command::Kind::StartSet || c.kind == Command::Kind::HoldToMove ||
                      c.kind == Command::Kind::StartRangeCheck;
  if (motion && !(t - c.posted_t <= kStaleCommandS)) {
    if (c.kind == Command::Kind::StartRangeCheck) {
      const long age_ms =
          std::isfinite(t - c.posted_t) ? std::lround((t - c.posted_t) * 1000.0) : -1;
      procedures_->refuse(ProcedureKind::RangeCheck, c.procedure_id, t,
                          "stale, taken " + std::to_string(age_ms) + " ms after it was posted");
      return;
    }
    const bool start = c.kind == Command::Kind::StartSet;
    Event e;
    e.t_s = t;
    e.code = start ? EventCode::SetRefused : EventCode::CommandRefused;
    e.severity = Severity::Warning;
    e.set_id = start ? c.params.set_id : 0;
    const double age = (t - c.posted_t) * 1000.0;
    e.value = start ? 1 : age;  // a start: "not now" (the same programme may start later)
    const long age_ms = std::isfinite(age) ? std::lround(age) : -1;
    e.set_text(std::string(start ? "start" : "hold-to-move") + " refused: stale, taken " +
               std::to_string(age_ms) + " ms after it was posted (limit " +
               std::to_string(std::lround(kStaleCommandS * 1000.0)) + " ms)");
    sink_->on_event(e);
    return;
  }
  // While a maintenance procedure runs it alone moves the pad (and reads the
  // load cell): nothing else may start, move, tare or clear.
  if (procedures_->active()) {
    const bool start = c.kind == Command::Kind::StartSet;
    if (start || c.kind == Command::Kind::HoldToMove || c.kind == Command::Kind::ReturnToRest ||
        c.kind == Command::Kind::Tare || c.kind == Command::Kind::ClearOverload) {
      Event e;
      e.t_s = t;
      e.code = start ? EventCode::SetRefused : EventCode::CommandRefused;
      e.severity = Severity::Warning;
      e.set_id = start ? c.params.set_id : 0;
      e.value = start ? 1 : 0;  // a start: "not now"
      e.set_text("refused: a maintenance procedure is running");
      sink_->on_event(e);
      return;
    }
  }
  switch (c.kind) {
    case Command::Kind::StartSet:
      if (cell_cmd_ != CellCmd::None) {
        Event e;
        e.t_s = t;
        e.code = EventCode::SetRefused;
        e.severity = Severity::Warning;
        e.set_id = c.params.set_id;
        e.value = 1;  // not now: the same programme may start later
        e.set_text("start refused: the load cell is being tared or cleared");
        sink_->on_event(e);
        break;
      }
      (void)ctl_->start_set(c.params, t);
      break;
    case Command::Kind::Stop:
      ctl_->stop(c.reason, t);
      procedures_->abort(t, "stopped with STOP");
      break;
    case Command::Kind::ResetFaults: ctl_->reset_faults(t); break;
    case Command::Kind::HoldToMove: ctl_->hold_to_move(c.target_mm, t); break;
    case Command::Kind::ReturnToRest: ctl_->return_to_rest(t); break;
    case Command::Kind::Tare:
    case Command::Kind::ClearOverload: {
      SetState s = ctl_->status().state;
      bool quiet =
          !cmd_.enable && (s == SetState::Idle || s == SetState::Rest || s == SetState::Fault);
      Event e;
      e.t_s = t;
      if (!quiet) {
        e.code = EventCode::CommandRefused;
        e.severity = Severity::Warning;
        e.set_text(
            "tare / clear overload refused: only with the drive disabled and no set running");
      } else if (cell_cmd_ != CellCmd::None) {
        e.code = EventCode::CommandRefused;
        e.severity = Severity::Warning;
        e.set_text("tare / clear overload refused: a load-cell command is still in progress");
      } else {
        // Started here, finished across cycles (step() polls it once per
        // cycle): nothing waits inside the loop.
        std::string detail;
        const bool tare = c.kind == Command::Kind::Tare;
        if (io_.start_cell_command(tare ? machine::MachineIo::CellCommand::Tare
                                        : machine::MachineIo::CellCommand::ClearOverload,
                                   detail)) {
          cell_cmd_ = tare ? CellCmd::Tare : CellCmd::ClearOverload;
          cell_cmd_deadline_ = t + kCellCommandS;
          break;
        }
        e.code = EventCode::TareFailed;
        e.severity = Severity::Error;
        e.set_text(detail);
      }
      sink_->on_event(e);
      break;
    }
    case Command::Kind::SetForceGain:
      if (std::isfinite(c.gain) && c.gain >= 0.5 && c.gain <= 2.0) force_gain_ = c.gain;
      break;
    case Command::Kind::Shutdown:
      shutdown_ = true;
      ctl_->stop(StopReason::Shutdown, t);
      procedures_->abort(t, "stopped: the daemon is shutting down");
      break;
    case Command::Kind::StartRangeCheck:
      if (shutdown_) {
        procedures_->refuse(ProcedureKind::RangeCheck, c.procedure_id, t,
                            "the daemon is shutting down");
      } else if (cell_cmd_ != CellCmd::None) {
        procedures_->refuse(ProcedureKind::RangeCheck, c.procedure_id, t,
                            "the load cell is being tared or cleared");
      } else {
        procedures_->start_range_check(c.procedure_id, t, *ctl_);
      }
      break;
    case Command::Kind::StartSpanSampling:
      if (shutdown_) {
        procedures_->refuse(ProcedureKind::SpanSampling, c.procedure_id, t,
                            "the daemon is shutting down");
      } else if (cell_cmd_ != CellCmd::None) {
        procedures_->refuse(ProcedureKind::SpanSampling, c.procedure_id, t,
                            "the load cell is being tared or cleared");
      } else {
        procedures_->start_span_sampling(c.procedure_id, t, *ctl_, snap_.comm_good, force_gain_);
      }
      break;
  }
}

void ControlLoop::record_period(double dt, double t) {
  int bin = static_cast<int>(dt / kBinS);
  bin = std::clamp(bin, 0, kBins);
  ++hist_[static_cast<std::size_t>(bin)];
  ++hist_n_;
  stats_.max_ms = std::max(stats_.max_ms, dt * 1000.0);
  // The recent past: a minute in one histogram, then the other (cleared:
  // 20 kB once a minute, no allocation) takes its turn.
  if (window_start_t_[cur_] < 0) {
    window_start_t_[cur_] = t;
  } else if (t - window_start_t_[cur_] >= kRecentWindowS) {
    cur_ = 1 - cur_;
    window_[cur_].fill(0);
    window_n_[cur_] = 0;
    window_max_ms_[cur_] = 0;
    window_start_t_[cur_] = t;
  }
  ++window_[cur_][static_cast<std::size_t>(bin)];
  ++window_n_[cur_];
  window_max_ms_[cur_] = std::max(window_max_ms_[cur_], dt * 1000.0);
}

void ControlLoop::compute_percentiles() {
  if (hist_n_ == 0) return;
  // The q-quantile of the sum of `n` histograms, as the middle of its bin.
  auto pct = [](double q, std::uint64_t total, auto count_at) {
    const auto want = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
    std::uint64_t acc = 0;
    for (int i = 0; i <= kBins; ++i) {
      acc += count_at(static_cast<std::size_t>(i));
      if (acc >= want) return (i + 0.5) * kBinS * 1000.0;
    }
    return kBins * kBinS * 1000.0;
  };
  const auto all = [&](std::size_t i) -> std::uint64_t { return hist_[i]; };
  stats_.p50_ms = pct(0.50, hist_n_, all);
  stats_.p99_ms = pct(0.99, hist_n_, all);
  const auto recent = [&](std::size_t i) -> std::uint64_t {
    return std::uint64_t{window_[0][i]} + window_[1][i];
  };
  const std::uint64_t n = window_n_[0] + window_n_[1];
  if (n > 0) {
    stats_.recent_p50_ms = pct(0.50, n, recent);
    stats_.recent_p99_ms = pct(0.99, n, recent);
    stats_.recent_max_ms = std::max(window_max_ms_[0], window_max_ms_[1]);
    const std::size_t other = 1 - cur_;
    const double since = window_n_[other] > 0 ? window_start_t_[other] : window_start_t_[cur_];
    stats_.recent_s = std::max(0.0, last_start_ - since);
  }
}

void ControlLoop::step() {
  if (broken_) {
    safe_step();
    return;
  }
  try {
    step_inner();
  } catch (const std::exception& e) {
    on_exception(e.what());
  } catch (...) {
    on_exception("unknown exception");
  }
}

void ControlLoop::on_exception(const char* what) {
  // An exception at the loop's edge: the controller may be in a corrupt
  // state, so it is not trusted again (no controlled unload by it). The
  // drive gets QUICK_STOP now and ENABLE off once it reports disabled; the
  // daemon stays up, FAULT shown, until a person restarts it.
  broken_ = true;
  try {
    procedures_->cancel(clock_.now(), "the controller stopped after an internal error");
  } catch (...) {
  }
  Event e;
  e.t_s = clock_.now();
  e.code = EventCode::InternalError;
  e.severity = Severity::Error;
  e.set_text(std::string("internal error in the control loop: ") + what +
             "; QUICK_STOP; restart soleusd");
  try {
    sink_->on_event(e);
  } catch (...) {
  }
  safe_step();
}

void ControlLoop::safe_step() {
  commands_.drain(
      [&](const Command& cmd) {
        if (cmd.kind == Command::Kind::StartRangeCheck ||
            cmd.kind == Command::Kind::StartSpanSampling) {
          try {
            procedures_->refuse(cmd.kind == Command::Kind::StartRangeCheck
                                    ? ProcedureKind::RangeCheck
                                    : ProcedureKind::SpanSampling,
                                cmd.procedure_id, clock_.now(),
                                "the controller stopped after an internal error; restart soleusd");
          } catch (...) {
          }
          return;
        }
        if (cmd.kind != Command::Kind::StartSet && cmd.kind != Command::Kind::HoldToMove) return;
        Event e;
        e.t_s = clock_.now();
        e.code =
            cmd.kind == Command::Kind::StartSet ? EventCode::SetRefused : EventCode::CommandRefused;
        e.severity = Severity::Warning;
        e.set_id = cmd.kind == Command::Kind::StartSet ? cmd.params.set_id : 0;
        e.set_text("refused: the controller stopped after an internal error; restart soleusd");
        try {
          sink_->on_event(e);
        } catch (...) {
        }
      },
      16);
  machine::DriveCommand c;
  c.force_n = 0;
  c.quick_stop = !in_.drive_ok || in_.drive.enabled;  // until heard disabled
  c.enable = c.quick_stop;                            // ENABLE | QUICK_STOP: no new enable edge
  try {
    io_.exchange(c, in_, true);
  } catch (...) {
  }
  cmd_ = c;
  ++cycle_;
  snap_.t_s = clock_.now();
  snap_.cycle = cycle_;
  snap_.latch_ok = false;
  snap_.armed = false;
  snap_.internal_fault = true;
  snap_.ctl.state = SetState::Fault;
  snap_.ctl.set_running = false;
  snap_.ctl.motor_force_n = 0;
  snap_.ctl.load_n = 0;
  snap_.procedure = procedures_->status();
  if (in_.drive_ok) snap_.drive = in_.drive;
  (void)snapshot_.publish(snap_);
  heartbeat_.fetch_add(1, std::memory_order_release);
}

void ControlLoop::step_inner() {
  const double t0 = clock_.now();
  const double period = ccfg_.period_s();
  if (last_start_ >= 0) record_period(t0 - last_start_, t0);
  last_start_ = t0;

  // 1. Commands, without waiting.
  commands_.drain([&](const Command& c) { handle(c, t0); }, 16);

  // 2. Arm at boot, after every reconnect and whenever "armed" was cleared,
  // as soon as the drive answers READY with no fault (a faulted drive is
  // armed again after its reset; the reset waits for it).
  const bool may_arm = drive_fit_ && (drive_answered_ || cycle_ == 0);
  // The SPEED_LIMIT is the controller's for what it is about to do
  // (SetController::speed_limit_mm_s: a set's from its tempo and range, else
  // 95 % of the cap): a change re-arms the drive, with its read-back, before
  // the next enable; a set's calibrated range narrows it while enabled.
  const double want_speed = ctl_->speed_limit_mm_s();
  if (!armed_ && t0 >= next_arm_t_ && may_arm) {
    arm(t0, want_speed, "drive armed: COMM_TIMEOUT, TORQUE_LIMIT, SPEED_LIMIT, SLEW read back");
  } else if (armed_ && std::abs(want_speed - armed_speed_mm_s_) > 0.05 && t0 >= next_arm_t_ &&
             (!in_.drive.enabled ||
              std::abs(in_.drive.velocity_mm_s) < 0.5 * std::min(want_speed, armed_speed_mm_s_))) {
    // While enabled, only with the pad slow: a lower limit armed under a
    // moving pad would have the drive brake it hard at once.
    char text[120];
    std::snprintf(text, sizeof text, "drive armed with SPEED_LIMIT %.1f mm/s (was %.1f), read back",
                  want_speed, armed_speed_mm_s_);
    // Twice, as a transport retry would: one lost or garbled reply must not
    // end the set that is starting (the first write may have landed; the
    // second writes and reads all of it back again).
    arm(t0, want_speed, text, 2);
    if (!armed_) disarm(t0, "re-arming SPEED_LIMIT failed");
  }

  // 3. The exchange: last cycle's command out, this cycle's inputs in.
  // Before every enable the drive's setup is read back (a drive that
  // restarted holds its power-up defaults: watchdog off, 300 %, 3000 rpm);
  // and ENABLE is never written to a drive not known armed, except with
  // QUICK_STOP (which asks no torque).
  const bool wants_enable = cmd_.enable && !cmd_.quick_stop;
  if (!wants_enable) enable_verified_ = false;
  if (wants_enable && armed_ && !enable_verified_) enable_verified_ = verify(t0, "before enabling");
  if (wants_enable && !(armed_ && enable_verified_)) {
    cmd_.enable = false;
    cmd_.force_n = 0;
  }
  // Once a second the read-back takes the place of the load-cell read (on
  // RTU a read-back costs about a cell read, ~6 ms; the supervisor takes the
  // skipped read as planned, not stale). Only after a cycle whose cell read
  // was good: a skipped read counts as a good cycle, and must not break a
  // run of failed reads (three in a row are a comm loss, hazard 4's "within
  // 3 cycles"); it waits a cycle instead.
  bool read_cell = true;
  if (armed_ && t0 >= next_verify_t_ && in_.cell_ok) {
    read_cell = false;
    next_verify_t_ = t0 + kVerifyPeriodS;
  }
  io_.exchange(cmd_, in_, read_cell);
  if (!read_cell && armed_ && in_.drive_ok && !verify(t0, "periodic read-back") && armed_)
    next_verify_t_ = t0;  // the read-back was lost: again next cycle
  // Span calibration: the transmitter has no span command, so its readings
  // are corrected here, before anything (supervisor, reps, traces) sees them.
  if (in_.cell_ok) in_.cell.force_n *= force_gain_;
  const double t = clock_.now();
  in_.t_s = t;
  if (have_generation_ && in_.link_generation != link_generation_)
    disarm(t, "a new link to the devices");
  // "Armed" is cleared on a drive fault, a drive not READY and an answer gap
  // longer than two cycles (a drive that browned out answers nothing for
  // ~1.5 s, then READY with its power-up defaults; on RTU no new link shows
  // it). It is armed again, with a read-back, once the drive answers fit.
  drive_answered_ = in_.drive_ok;
  // The automatic reset at boot, once armed and the drive has answered: it
  // clears nothing but the drive's own watchdog fault (the daemon was away:
  // COMM_TIMEOUT expired while it restarted). Any other drive fault needs a
  // person (the maintenance screen's reset).
  if (armed_ && ccfg_.reset_on_boot && !boot_reset_done_ && in_.drive_ok) {
    boot_reset_done_ = true;
    const int code = in_.drive.fault_code;
    const bool faulted = in_.drive.fault || code != 0;
    if (!faulted || (code != 0 && code == io_.comm_loss_fault_code())) {
      ctl_->reset_faults(t);
    } else {
      Event e;
      e.t_s = t;
      e.code = EventCode::ResetRefused;
      e.severity = Severity::Warning;
      e.value = code;
      e.set_text("no automatic reset at boot: drive fault " + std::to_string(code) + " (" +
                 io_.fault_name(code) + ") needs a person");
      sink_->on_event(e);
    }
  }
  if (in_.drive_ok) {
    drive_missed_ = 0;
    drive_fit_ = in_.drive.ready && !in_.drive.fault && in_.drive.fault_code == 0;
    if (!drive_fit_)
      disarm(t,
             in_.drive.fault || in_.drive.fault_code ? "a drive fault" : "the drive is not READY");
  } else if (++drive_missed_ > kGapCycles) {
    disarm(t, "no answer from the drive for more than two cycles");
  }
  link_generation_ = in_.link_generation;
  have_generation_ = true;

  // A load-cell command in progress: one read of its progress per cycle.
  if (cell_cmd_ != CellCmd::None) poll_cell_command(t);

  // 4. The controller, then the maintenance procedure running, if any (it
  // judges what the controller made of this cycle; what it asks of the
  // controller takes effect from the next cycle).
  cmd_ = ctl_->update(in_);
  procedures_->update(in_, *ctl_, force_gain_);
  if (shutdown_ && !cmd_.enable && !ctl_->status().set_running &&
      ctl_->status().state != SetState::Unloading && ctl_->status().state != SetState::Ready)
    finished_.store(true, std::memory_order_release);

  // 5. Statistics and outputs.
  ++cycle_;
  stats_.cycles = cycle_;
  const double t1 = clock_.now();
  if (t1 - t0 > period) {
    ++stats_.overruns;
    if (t1 - last_overrun_event_t_ >= 1.0) {
      Event e;
      e.t_s = t1;
      e.code = EventCode::Overrun;
      e.severity = Severity::Warning;
      e.value = static_cast<double>(stats_.overruns - overruns_reported_);
      e.set_text("control cycle overran its period");
      sink_->on_event(e);
      overruns_reported_ = stats_.overruns;
      last_overrun_event_t_ = t1;
    }
  }
  if (last_percentiles_t_ < 0 || t1 - last_percentiles_t_ >= 0.25) {
    compute_percentiles();
    last_percentiles_t_ = t1;
  }
  if (cycle_ % static_cast<std::uint64_t>(ccfg_.trace_decimation) == 0) {
    const auto& st = ctl_->status();
    TraceSample s;
    s.t_s = t;
    s.position_mm = static_cast<float>(ctl_->drive().position_mm);
    s.velocity_mm_s = static_cast<float>(ctl_->drive().velocity_mm_s);
    s.force_n = static_cast<float>(ctl_->cell().force_n);
    s.motor_n = static_cast<float>(st.motor_force_n);
    s.load_n = static_cast<float>(st.load_n);
    s.state = st.state;
    s.phase = st.phase;
    if (!trace_.push(s)) ++stats_.trace_dropped;
  }
  publish(in_, t);
  heartbeat_.fetch_add(1, std::memory_order_release);
}

void ControlLoop::poll_cell_command(double t) {
  std::string detail;
  const machine::MachineIo::CellPoll p = io_.poll_cell_command(detail);
  const bool tare = cell_cmd_ == CellCmd::Tare;
  Event e;
  e.t_s = t;
  if (p == machine::MachineIo::CellPoll::Done) {
    e.code = EventCode::Tared;
    e.severity = Severity::Info;
    e.set_text(tare ? "load cell tared" : "overload latch cleared");
  } else if (t >= cell_cmd_deadline_) {
    e.code = EventCode::TareFailed;
    e.severity = Severity::Error;
    e.set_text(std::string(tare ? "load-cell tare" : "clearing the overload latch") +
               " did not finish within " + std::to_string(static_cast<int>(kCellCommandS)) + " s" +
               (p == machine::MachineIo::CellPoll::Failed ? ": " + detail : std::string()));
  } else {
    return;  // busy, or a lost reply: read again next cycle
  }
  cell_cmd_ = CellCmd::None;
  sink_->on_event(e);
}

void ControlLoop::arm(double t, double speed_mm_s, const std::string& ok_text, int attempts) {
  const machine::DriveSetup setup = armed_drive_setup(limits_, speed_mm_s);
  std::string detail;
  armed_ = false;
  for (int i = 0; i < std::max(1, attempts) && !armed_; ++i) armed_ = io_.arm(setup, detail);
  ctl_->set_armed(armed_);
  enable_verified_ = armed_;  // written and read back just now
  if (armed_) {
    ctl_->set_drive_slew(io_.armed_slew_n_per_s());
    armed_speed_mm_s_ = speed_mm_s;
  }
  Event e;
  e.t_s = t;
  e.code = armed_ ? EventCode::Armed : EventCode::ArmFailed;
  e.severity = armed_ ? Severity::Info : Severity::Error;
  e.set_text(armed_ ? ok_text : "arming the drive failed: " + detail);
  sink_->on_event(e);
  next_arm_t_ = t + ccfg_.arm_retry_ms / 1000.0;
  next_verify_t_ = t + kVerifyPeriodS;
}

void ControlLoop::disarm(double t, const std::string& why) {
  enable_verified_ = false;
  if (!armed_) return;
  armed_ = false;
  ctl_->set_armed(false);
  next_arm_t_ = t;  // arm again as soon as the drive answers READY
  Event e;
  e.t_s = t;
  e.code = EventCode::Disarmed;
  e.severity = Severity::Warning;
  e.set_text("drive no longer known armed: " + why);
  sink_->on_event(e);
}

bool ControlLoop::verify(double t, const char* when) {
  std::string detail;
  const machine::SetupCheck c = io_.verify_setup(detail);
  if (c == machine::SetupCheck::Same) return true;
  // A read that failed says nothing (a lost reply; the gap rule covers a
  // silent drive): not verified, try again. A read that differs is a drive
  // that lost its setup.
  if (c == machine::SetupCheck::Differs) disarm(t, std::string(when) + ": " + detail);
  return false;
}

void ControlLoop::publish(const machine::MachineInputs& in, double t) {
  const Supervisor& sup = ctl_->supervisor();
  snap_.t_s = t;
  snap_.cycle = cycle_;
  snap_.ctl = ctl_->status();
  snap_.drive = ctl_->drive();
  snap_.cell = ctl_->cell();
  snap_.comm_good = in.drive_ok && in.cell_ok;
  snap_.force_gain = force_gain_;
  snap_.procedure = procedures_->status();
  snap_.armed = armed_;
  snap_.latch_ok = sup.ok();
  snap_.faults_latched = sup.latched();
  snap_.faults_present = sup.present();
  snap_.fault_count = 0;
  for (int i = 0; i < kFaultCount; ++i) {
    auto f = static_cast<Fault>(i);
    if (sup.latched() & bit(f))
      snap_.faults[static_cast<std::size_t>(snap_.fault_count++)] = {f, sup.since(f)};
  }
  if (snap_.drive_fault_code != sup.drive_fault_code()) {
    snap_.drive_fault_code = sup.drive_fault_code();
    std::string name = snap_.drive_fault_code ? io_.fault_name(snap_.drive_fault_code) : "";
    std::size_t n = std::min(name.size(), snap_.drive_fault_name.size() - 1);
    std::memcpy(snap_.drive_fault_name.data(), name.data(), n);
    snap_.drive_fault_name[n] = '\0';
  }
  stats_.commands_dropped = commands_dropped_.load(std::memory_order_relaxed);
  snap_.loop = stats_;
  snap_.io = io_.stats();
  if (!snapshot_.publish(snap_)) ++stats_.snapshot_skips;
}

}  // namespace soleus::controller
