#pragma once
/// The proving ground's world: one athlete's set on synthetic time, through
/// the real controller stack.
///
/// Principle of operation:
///  1. sim::Machine (soleus-sim's drive, load-cell, mechanics and athlete
///     models) ← InProcessBus (Modbus PDUs, in-process) ← drivers::ModbusMachineIo
///     (the daemon's drivers: arming, read-back, decoding) ← controller::
///     ControlLoop, built from the daemon's own configuration file
///     (app::load_daemon_config).
///  2. Each cycle at time t: the synthetic clock reads t, loop.step() runs
///     (its exchange reads and writes the machine at machine time t), the
///     world drains events, reps and results and posts commands as soleusd
///     --run-set does (the loop arms and resets at boot; StartSet once the
///     latch is OK); then the machine is advanced 1 ms at a time up to
///     t + period, recording the ground truth of every millisecond.
///  3. The run ends `tail_s` after the set's result (or at the time limit).
///     Single-threaded and deterministic from the case: a replay is exact.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "soleus/controller/types.hpp"
#include "soleus/drivers/machine_config.hpp"
#include "soleus/sim/athlete.hpp"
#include "soleus/sim/machine.hpp"

namespace soleus::controller {
struct Snapshot;
}

namespace soleus::proving {

/// One seed's draw: the athlete, the machine's noise and the programme.
struct Case {
  std::uint64_t seed = 0;
  sim::AthleteSettings athlete;
  sim::NoiseSettings noise;
  controller::SetParams programme;
  /// The load cell carries the pad's weight once the pad leaves its lower
  /// stop (soleus-sim's bench cell_mount "pad_on_cell"): it reads contact −
  /// pad weight in use, as an outside model of the ICD reads its tare.
  bool cell_pad_on_cell = false;
  /// Labels of the traits this case has ("effort:follow", "leave:stand_up"),
  /// for the table by trait.
  std::vector<std::string> traits;
  /// Faults injected at the machine (soleus-sim's control channel `fault`
  /// requests, e.g. {"cmd":"fault","kind":"power_cycle"}) at machine time t_s.
  struct Injection {
    double t_s = 0;
    std::string request;  ///< JSON
  };
  std::vector<Injection> faults;
  /// Daemon stalls: the control loop does not run in [from, to) (a SIGSTOP,
  /// a CPU hog), while the machine and its drive's watchdog go on.
  std::vector<std::pair<double, double>> stalls;
  /// Daemon kills (kill -9: no unload, nothing more written): at `at_s` the
  /// control loop and its drivers are destroyed while the machine runs on
  /// (the drive's COMM_TIMEOUT acts); at `restart_s` a fresh stack boots on
  /// the same machine, as soleusd restarting (it arms the drive and its
  /// automatic reset clears the drive's fault 6). The operator presses Start
  /// again `start_after_s` after the restart, once the latch is OK. In time
  /// order, not overlapping.
  struct Kill {
    double at_s = 0;
    double restart_s = 0;
    double start_after_s = 2.0;
  };
  std::vector<Kill> kills;
  /// The operator: after a set ends (or a fault stops it), resets the faults
  /// and presses Start again this many more times, as a person would.
  int restarts = 0;
  /// Hold-to-move instead of a set (maintenance): the control held from
  /// `from_s` to `to_s` towards `target_mm` (HoldToMove posted every 50 ms,
  /// as the screen does). With moves no StartSet is posted.
  struct Move {
    double from_s = 0, to_s = 0, target_mm = 0;
  };
  std::vector<Move> moves;
};

/// Ground truth of one millisecond (floats: a set is ~10^5 samples).
struct Sample {
  float t = 0;        ///< s
  float pad = 0;      ///< pad height, mm
  float heel = 0;     ///< the athlete's heel (bone) height, mm
  float v = 0;        ///< pad velocity, mm/s (+ up)
  float contact = 0;  ///< the athlete's contact force on the pad, N
  float cell = 0;     ///< the load cell model's reading, N
  float motor =
      0;  ///< the model's motor force at the pad (effective, with the screw's friction), N, + down
  float ideal = 0;        ///< the drive's actual torque as an ideal screw force, N, + down
  float cmd = 0;          ///< the controller's command written (snapshot motor_force_n), N, + down
  float floor = -1;       ///< the controller's floor for the pad (snapshot floor_mm; < 0 none): a
                          ///< setting, for traces
  bool enabled = false;   ///< the drive model is enabled
  float watchdog_ms = 0;  ///< the drive model's COMM_TIMEOUT (0: off)
  float torque_limit_pct = 0;  ///< the drive model's TORQUE_LIMIT, % of rated
  float speed_limit_rpm = 0;   ///< the drive model's SPEED_LIMIT
  bool speed_limited = false;  ///< the drive's speed loop is braking
  bool away = false;           ///< the athlete is off the machine
  controller::SetState state =
      controller::SetState::Idle;  ///< controller state (of the last cycle)
  controller::Phase phase = controller::Phase::None;
};

struct Outcome {
  Case c;
  /// The athlete's rep in progress when the set's result came (a rep it
  /// never finished: pushed back down, still trying), if any.
  std::optional<sim::RepTruth> open_truth_at_stop;
  std::vector<controller::RepRecord> reps;
  std::optional<controller::SetResult> result;
  std::vector<controller::Event> events;
  std::vector<sim::RepTruth> truth;
  sim::AthleteEvents athlete_events;
  sim::HoldTruth hold;  ///< the athlete's truth of an isometric hold (hold.hold false otherwise)
  std::vector<Sample> samples;  ///< every ms
  // The machine and rules the judges need.
  double period_s = 0.01;
  double pad_weight_n = 78.5;
  double max_load_n = 1800;
  double speed_limit_mm_s = 100;
  double rep_rom_fraction = 0.9;
  double hold_window_s = 1.0;  ///< [training] hold_window_s: the isometric output's window
  double efficiency = 0.9;
  double ripple_fraction = 0;  ///< supply ripple / nominal bus voltage
  /// What the controller arms (the caps it must hold whenever the drive is
  /// enabled): TORQUE_LIMIT, % of rated, and SPEED_LIMIT, rpm.
  double armed_torque_limit_pct = 300;
  double armed_speed_limit_rpm = 3000;
  /// Every set result of the run, in order (the operator may start several).
  std::vector<controller::SetResult> results;
  /// Start presses (StartSet posted), in machine time.
  std::vector<double> starts_s;
  /// When each result came (loop time), in the order of `results`.
  std::vector<double> result_times_s;
  /// Loop time of the first cycle whose state was unloading (the stop).
  std::optional<double> unload_start_s;
  /// Loop time of the first cycle in `active` (the calibration rep is over).
  std::optional<double> active_start_s;
  /// From when the athlete's reps are the set's counted ones: active_start_s,
  /// or the start press when the light first rep confirmed a stored range
  /// (it counted: principle of operation 4a of SetController).
  std::optional<double> counted_from_s;
  /// Loop time the StartSet was posted.
  double start_posted_s = 0;
  /// Loop time each stack booted: 0, then every restart after a kill.
  std::vector<double> boots_s;
  double sim_s = 0;
  bool timed_out = false;
  std::string error;  ///< a run that could not be made (configuration, exception)
};

struct WorldOptions {
  std::string config_path;  ///< the daemon's configuration (config/sim.toml)
  double loop_hz = 0;  ///< 0 = the file's; else overrides [control] loop_hz (e.g. 50, the RTU rate)
  double tail_s = 1.0;   ///< run on after the result
  double max_s = 600.0;  ///< time limit of one run
  bool keep_samples = true;
  /// Called after every cycle the loop ran (not while stalled or killed),
  /// before the machine advances: the cycle's time, the machine at that time
  /// (its registers are those the cycle's exchange read) and the loop's
  /// snapshot. For tests that judge what the controller took in.
  std::function<void(double t, const sim::Machine&, const controller::Snapshot&)> on_cycle;
};

/// Runs one case. Never throws (a failure is put in Outcome::error).
Outcome run_case(const Case& c, const WorldOptions& opt);

/// Writes the samples as CSV (one row per ms of machine time) for plotting.
void write_trace(const Outcome& o, const std::string& path);

/// Calls body(i) for i in [0, n) on `jobs` threads (each i once, in no
/// particular order; body writes only to its own slot). Returns when all are done.
void run_parallel(int n, int jobs, const std::function<void(int)>& body);

}  // namespace soleus::proving
