#pragma once
/// ControlLoop: the thread that owns the machine.
///
/// Principle of operation:
///  1. Each cycle: take the commands waiting (try-lock, never wait); arm the
///     drive if it is not armed or the link was re-established; exchange()
///     with the machine (write last cycle's command, read this cycle's
///     inputs); stamp the time; run the SetController; publish the snapshot
///     (latest-wins), queue events, reps, results and a trace sample
///     (bounded, never blocking; trace is dropped first and counted, a lost
///     event, rep or result is counted and reported as loudly as possible);
///     bump the heartbeat.
///  2. The thread sleeps until absolute deadlines (clock_nanosleep with
///     TIMER_ABSTIME through the Clock). A cycle that ends after its deadline
///     is an overrun: counted, reported at most once a second, and the
///     schedule skips to the next deadline in the future.
///  3. The period between cycle starts goes into a fixed histogram (20 µs
///     bins up to 100 ms, no allocation); p50/p99/max are computed from it
///     four times a second and published in the snapshot: since start, and
///     over the recent past (two such histograms taking turns a minute each,
///     so the last 60 to 120 s), which is what a monitor wants after days.
///  4. With control.realtime the thread runs SCHED_FIFO and memory is locked
///     (mlockall); start() throws with the reason if the system refuses.
///  5. The time source and the MachineIo are injected: a test calls step()
///     with a fake clock, without any thread.
///  6. Shutdown: the running set or move is stopped with reason shutdown
///     (the controlled unload), and the loop ends once the drive is disabled.
///  7. Maintenance procedures (procedure.hpp: the range check, a span
///     calibration's sampling) run in the loop too: started by a command,
///     advanced after the controller every cycle, stopped by Stop and
///     Shutdown; their status and result are in the snapshot.
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <thread>

#include "soleus/controller/config.hpp"
#include "soleus/controller/procedure.hpp"
#include "soleus/controller/queues.hpp"
#include "soleus/controller/set_controller.hpp"
#include "soleus/machine/machine_io.hpp"

namespace soleus::controller {

/// The loop's time source (monotonic seconds). now() may be called from any
/// thread: ControlLoop::post() stamps commands with it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual double now() = 0;
  virtual void sleep_until(double t) = 0;
};

/// CLOCK_MONOTONIC with clock_nanosleep(TIMER_ABSTIME).
class MonotonicClock : public Clock {
 public:
  double now() override;
  void sleep_until(double t) override;
};

/// What the loop arms the drive with (MachineIo::arm) from the configured
/// limits: TORQUE_LIMIT for the max load (never above the hard cap),
/// SPEED_LIMIT `speed_limit_mm_s` (0: outside a set,
/// SetController::armed_speed_limit of limits.max_speed_mm_s, 95 % of it;
/// a set's comes from SetController::speed_limit_mm_s), TORQUE_SLEW and
/// COMM_TIMEOUT as configured.
machine::DriveSetup armed_drive_setup(const machine::Limits& limits, double speed_limit_mm_s = 0);

/// A StartSet, HoldToMove or StartRangeCheck older than this when the loop
/// takes it is refused, so that nothing moves after the screen said it failed.
inline constexpr double kStaleCommandS = 0.2;

/// A command for the loop. Plain value; fixed size.
struct Command {
  enum class Kind {
    StartSet,
    Stop,
    ResetFaults,
    Tare,
    ClearOverload,
    HoldToMove,
    ReturnToRest,
    SetForceGain,
    Shutdown,
    StartRangeCheck,
    StartSpanSampling
  };
  Kind kind = Kind::Stop;
  /// StartRangeCheck, StartSpanSampling: the caller's id, echoed in the
  /// procedure's result (Snapshot::procedure.last.id) and its events' value.
  std::uint32_t procedure_id = 0;
  SetParams params;                          ///< StartSet
  StopReason reason = StopReason::UserStop;  ///< Stop: user_stop | pain | storage_fault
  double target_mm = 0;  ///< HoldToMove: refresh it every ≤ hold_to_move_timeout_ms
  double gain = 1;       ///< SetForceGain: the load cell's span factor (0.5–2)
  /// When it was posted, on the loop's clock: set by ControlLoop::post(). A
  /// StartSet or HoldToMove the loop takes more than kStaleCommandS later is
  /// dropped and answered as refused (SetRefused / CommandRefused, "stale").
  double posted_t = std::numeric_limits<double>::quiet_NaN();

  static Command start_set(const SetParams& p) {
    Command c;
    c.kind = Kind::StartSet;
    c.params = p;
    return c;
  }
  static Command stop(StopReason r) {
    Command c;
    c.kind = Kind::Stop;
    c.reason = r;
    return c;
  }
  static Command of(Kind k) {
    Command c;
    c.kind = k;
    return c;
  }
  static Command hold_to_move(double mm) {
    Command c;
    c.kind = Kind::HoldToMove;
    c.target_mm = mm;
    return c;
  }
  static Command range_check(std::uint32_t id) {
    Command c;
    c.kind = Kind::StartRangeCheck;
    c.procedure_id = id;
    return c;
  }
  static Command span_sampling(std::uint32_t id) {
    Command c;
    c.kind = Kind::StartSpanSampling;
    c.procedure_id = id;
    return c;
  }
};

struct LoopStats {
  double hz = 0;  ///< configured rate
  std::uint64_t cycles = 0;
  std::uint64_t overruns = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;  ///< period between cycle starts, since start
  /// The same over the recent past: the current minute and the one before
  /// (`recent_s` seconds of it, 60 to 120 once running).
  double recent_p50_ms = 0, recent_p99_ms = 0, recent_max_ms = 0, recent_s = 0;
  std::uint64_t snapshot_skips = 0;
  std::uint64_t commands_dropped = 0;  ///< post() refused (queue full)
  std::uint64_t trace_dropped = 0;
  std::uint64_t events_lost = 0;   ///< must stay 0
  std::uint64_t reps_lost = 0;     ///< must stay 0
  std::uint64_t results_lost = 0;  ///< must stay 0
};

struct FaultEntry {
  Fault fault = Fault::NotArmed;
  double since_s = 0;
};

/// The latest state of everything, for the HMI, soleusctl and the watchdog.
struct Snapshot {
  double t_s = 0;
  std::uint64_t cycle = 0;
  ControllerStatus ctl;
  machine::DriveStatus drive;
  machine::LoadCellSample cell;
  bool comm_good = false;
  bool armed = false;
  bool latch_ok = false;
  bool internal_fault = false;  ///< an exception escaped the control loop: restart soleusd
  std::uint32_t faults_latched = 0;
  std::uint32_t faults_present = 0;
  std::array<FaultEntry, kFaultCount> faults{};  ///< latched faults, with their time
  int fault_count = 0;
  double force_gain = 1;      ///< the load cell's span factor in use (cell.force_n includes it)
  ProcedureStatus procedure;  ///< the maintenance procedure running, and the last one's result
  int drive_fault_code = 0;
  std::array<char, 48> drive_fault_name{};
  LoopStats loop;
  machine::IoStats io;
};

/// A trace sample (one per trace_decimation cycles).
struct TraceSample {
  double t_s = 0;
  float position_mm = 0, velocity_mm_s = 0, force_n = 0, motor_n = 0, load_n = 0;
  SetState state = SetState::Idle;
  Phase phase = Phase::None;
};

class ControlLoop {
 public:
  /// Throws std::invalid_argument on a configuration that cannot run.
  ControlLoop(const ControlConfig& control, const TrainingConfig& training,
              const machine::Mechanics& mechanics, const machine::Limits& limits,
              machine::MachineIo& io, Clock& clock);
  ~ControlLoop();
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  /// Any thread, never blocks for long. Stamps the command's posted_t with
  /// the loop's clock. false when the queue is full: the command is dropped.
  [[nodiscard]] bool post(const Command& c);

  /// Starts the thread. Throws std::runtime_error when realtime was asked
  /// for and the system refuses (SCHED_FIFO or mlockall).
  void start();
  /// Stops the thread at once (no unload: use Command Shutdown for that) and joins.
  void stop();
  /// Blocks until the thread has ended (after a Shutdown command).
  void join();
  /// One cycle, without the thread (tests, or a caller-owned loop).
  void step();
  /// True once a Shutdown has completed its unload and the drive is disabled.
  bool finished() const { return finished_.load(std::memory_order_acquire); }

  Snapshot snapshot() const { return snapshot_.read(); }
  bool pop_event(Event& e) { return events_.pop(e); }
  bool pop_rep(RepRecord& r) { return reps_.pop(r); }
  bool pop_result(SetResult& r) { return results_.pop(r); }
  bool pop_trace(TraceSample& s) { return trace_.pop(s); }
  /// Increments at the end of every completed cycle: the daemon sends
  /// WATCHDOG=1 only while this moves.
  std::uint64_t heartbeat() const { return heartbeat_.load(std::memory_order_acquire); }

  /// For tests and diagnostics (loop thread only).
  const SetController& controller() const { return *ctl_; }
  const Procedures& procedures() const { return *procedures_; }

  /// Test hook (soleusd-test's hang file only, docs/storage.md): while true the
  /// loop thread blocks at the start of its next cycle, a real hang: no
  /// exchange, no heartbeat (the drive's COMM_TIMEOUT trips, the daemon stops
  /// feeding the systemd watchdog). Costs the loop one relaxed atomic load.
  void set_test_hang(bool on) { test_hang_.store(on, std::memory_order_relaxed); }

 private:
  class Sink;
  void run();
  void hang_for_test();
  void handle(const Command& c, double t);
  void record_period(double dt, double t);
  void compute_percentiles();
  void publish(const machine::MachineInputs& in, double t);

  static constexpr double kVerifyPeriodS = 1.0;  // the periodic read-back of the drive's setup
  static constexpr int kGapCycles = 2;           // more missed drive answers in a row clear "armed"
  static constexpr int kBins = 5000;             // 20 µs each: 0..100 ms
  static constexpr double kBinS = 20e-6;
  static constexpr double kRecentWindowS = 60.0;  // each recent histogram's turn

  ControlConfig ccfg_;
  TrainingConfig tcfg_;
  machine::Mechanics mech_;
  machine::Limits limits_;
  machine::MachineIo& io_;
  Clock& clock_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<SetController> ctl_;
  std::unique_ptr<Procedures> procedures_;

  CommandQueue<Command> commands_;
  SpscRing<Event> events_;
  SpscRing<RepRecord> reps_;
  SpscRing<SetResult> results_;
  SpscRing<TraceSample> trace_;
  Latest<Snapshot> snapshot_;
  std::atomic<std::uint64_t> heartbeat_{0};
  std::atomic<std::uint64_t> commands_dropped_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> go_{false};
  std::atomic<bool> test_hang_{false};
  std::thread thread_;

  // loop-thread state
  machine::DriveCommand cmd_;
  machine::MachineInputs in_;
  Snapshot snap_;
  LoopStats stats_;
  std::array<std::uint32_t, kBins + 1> hist_{};
  std::uint64_t hist_n_ = 0;
  // The recent past: window_[cur_] fills for kRecentWindowS, then the other
  // (cleared) takes over; the quantiles are over both.
  std::array<std::array<std::uint32_t, kBins + 1>, 2> window_{};
  std::array<std::uint64_t, 2> window_n_{};
  std::array<double, 2> window_max_ms_{};
  std::array<double, 2> window_start_t_{-1, -1};
  std::size_t cur_ = 0;  // 0 or 1
  double last_start_ = -1;
  double last_percentiles_t_ = -1;
  double last_overrun_event_t_ = -1e9;
  std::uint64_t overruns_reported_ = 0;
  bool armed_ = false;
  bool boot_reset_done_ = false;
  std::uint32_t link_generation_ = 0;
  bool have_generation_ = false;
  double next_arm_t_ = 0;
  // "Armed" is a claim about the drive's registers, kept true only while it
  // can be trusted (docs/safety.md, hazard 2): see disarm().
  int drive_missed_ = 0;          ///< drive answers missed in a row
  bool drive_answered_ = false;   ///< the last drive exchange succeeded
  bool drive_fit_ = true;         ///< the last answer: READY and no fault
  double next_verify_t_ = 0;      ///< the periodic read-back
  bool enable_verified_ = false;  ///< read back since the command last asked for ENABLE
  double armed_speed_mm_s_ = 0;   ///< the SPEED_LIMIT last armed and read back, mm/s
  /// Writes the setup (SPEED_LIMIT `speed_mm_s`) and reads it back; sets armed_.
  void arm(double t, double speed_mm_s, const std::string& ok_text, int attempts = 1);
  void disarm(double t, const std::string& why);
  void step_inner();
  void on_exception(const char* what);
  void safe_step();
  bool broken_ = false;  ///< an exception escaped the controller: QUICK_STOP, never trusted again
  // A load-cell command (tare, clear overload) runs across cycles.
  enum class CellCmd { None, Tare, ClearOverload };
  CellCmd cell_cmd_ = CellCmd::None;
  double cell_cmd_deadline_ = 0;
  static constexpr double kCellCommandS = 2.0;
  void poll_cell_command(double t);
  bool verify(double t, const char* when);
  bool shutdown_ = false;
  double force_gain_ = 1;  // span factor applied to every load-cell reading (loop thread)
  std::uint64_t cycle_ = 0;
};

}  // namespace soleus::controller
