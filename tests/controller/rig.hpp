#pragma once
// Test rig for the controller: a deterministic plant (a mass on a ball screw
// with the drive's speed limit and a scripted athlete), a fake MachineIo on
// top of it, and a collector of events, reps and set results.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "soleus/controller/machine_io.hpp"
#include "soleus/controller/set_controller.hpp"

namespace soleus::controller::test {

inline drivers::Mechanics mechanics() { return drivers::Mechanics{}; }
inline drivers::Limits limits() { return drivers::Limits{}; }

struct Collector : EventSink {
  std::vector<Event> events;
  std::vector<RepRecord> reps;
  std::vector<SetResult> results;
  void on_event(const Event& e) override { events.push_back(e); }
  void on_rep(const RepRecord& r) override { reps.push_back(r); }
  void on_set_result(const SetResult& r) override { results.push_back(r); }
  bool has(EventCode c) const {
    for (auto& e : events)
      if (e.code == c) return true;
    return false;
  }
  int counted() const {
    int n = 0;
    for (auto& r : reps) n += r.counted;
    return n;
  }
  int partials() const { return static_cast<int>(reps.size()) - counted(); }
};

/// A scripted athlete: follows a tempo between its bottom and top with a
/// muscle modelled as a PD controller on top of the felt load, limited to
/// a maximum force that can fall rep by rep (fatigue).
struct Athlete {
  double bottom = 20, top = 100;
  Tempo tempo{3, 1, 3, 1};
  double start_delay_s = 0.5;   // after the first call
  double fmax = 3000;           // N
  double fatigue_per_rep = 0;   // fmax multiplied by (1 - this) every rep
  double top_shrink_per_rep = 0;// mm lost from the top every rep
  std::function<double(int rep)> top_of_rep;  // overrides top for a rep (0 = first)
  double kp = 50, kd = 3.5;     // N/mm, N/(mm/s)
  bool present = true;          // false: no force at all (let go)
  bool relax = false;           // true: pushes only a little (relaxed on the floor)
  int rest_rep = -1;            // a mid-set rest after this rep (0 = first), still loaded
  double rest_s = 0;            // ... this long
  bool rest_at_top = true;      // ... at its top (after the top pause) or at the bottom (after the bottom pause)
  double t0 = -1;

  /// The time into the tempo's script: frozen during the rest, then shifted by it.
  double script_s(double t) const {
    double s = t - t0 - start_delay_s;
    if (rest_rep < 0) return s;
    const double r0 = rest_rep * tempo.cycle_s() +
                      (rest_at_top ? tempo.concentric_s + tempo.top_s : tempo.cycle_s());
    if (s < r0) return s;
    return s < r0 + rest_s ? r0 : s - rest_s;
  }
  bool resting(double t) const {
    if (rest_rep < 0 || t0 < 0) return false;
    const double s = t - t0 - start_delay_s;
    const double r0 = rest_rep * tempo.cycle_s() +
                      (rest_at_top ? tempo.concentric_s + tempo.top_s : tempo.cycle_s());
    return s >= r0 && s < r0 + rest_s;
  }
  int rep_at(double t) const { return t0 < 0 ? 0 : static_cast<int>(script_s(t) / tempo.cycle_s()); }
  double top_for(int rep) const {
    double tp = top_of_rep ? top_of_rep(rep) : top - top_shrink_per_rep * rep;
    return std::max(bottom, tp);
  }
  // Reference position and velocity at time t.
  void reference(double t, double& x, double& v) const {
    double s = script_s(t);
    if (s < 0) { x = bottom; v = 0; return; }
    int rep = static_cast<int>(s / tempo.cycle_s());
    double u = s - rep * tempo.cycle_s();
    double tp = top_for(rep);
    double span = tp - bottom;
    const double C = tempo.concentric_s, T = tempo.top_s, E = tempo.eccentric_s;
    auto ease = [](double a, double& d) { d = 0.5 * M_PI * std::sin(M_PI * a); return 0.5 - 0.5 * std::cos(M_PI * a); };
    double d;
    if (u < C) { x = bottom + span * ease(u / C, d); v = span * d / C; }
    else if (u < C + T) { x = tp; v = 0; }
    else if (u < C + T + E) { x = tp - span * ease((u - C - T) / E, d); v = -span * d / E; }
    else { x = bottom; v = 0; }
  }
  double force(double t, double pos, double vel, double felt) {
    if (t0 < 0) t0 = t;
    if (!present) return 0;
    // The body's own end of range: the heel on the floor carries what is pushed below it.
    double passive = pos < bottom ? 200.0 * (bottom - pos) : 0.0;
    if (relax) return std::max(0.0, felt * 0.2) + passive;
    double x, v;
    reference(t, x, v);
    double cap = fmax * std::pow(1.0 - fatigue_per_rep, rep_at(t));
    double f = felt + kp * (x - pos) + kd * (v - vel);
    return std::clamp(f, 0.0, cap) + passive;
  }
};

/// The machine: a mass on a screw, integrated at 1 kHz between cycles.
struct Plant {
  drivers::Mechanics mech = mechanics();
  drivers::Limits lim = limits();
  double pos = 20, vel = 0;
  double motor_n = 0;        // actual force at the pad, positive down
  bool enabled = false;
  bool sto = false;
  int fault_code = 0;
  Athlete athlete;
  double user_n = 0;
  double t = 0;
  double ledge_mm = 0;  // an obstruction (or stiction) the pad cannot sink below by itself

  void apply(const drivers::DriveCommand& c) {
    if (fault_code != 0 && c.fault_reset && !c.enable && !sto) fault_code = 0;
    // QUICK_STOP: the drive ramps to zero within 10 ms and disables (here at once).
    enabled = c.enable && !c.quick_stop && !sto && fault_code == 0;
    double target = enabled ? c.force_n : 0;
    // The drive's own TORQUE_LIMIT (the cap at the pad) and its slew are the
    // host's clamp's business; here the command is taken as it comes.
    motor_n = target;
  }
  void advance(double dt) {
    const int n = static_cast<int>(std::lround(dt / 0.001));
    for (int i = 0; i < n; ++i) {
      t += 0.001;
      double felt = mech.pad_weight_n + (enabled ? motor_n : 0);
      user_n = athlete.force(t, pos, vel, felt);
      double net = user_n - mech.pad_weight_n - (enabled ? motor_n : 0);
      double a = net / mech.moving_mass_kg * 1000.0;  // mm/s²
      vel += a * 0.001;
      if (enabled) vel = std::clamp(vel, -lim.max_speed_mm_s, lim.max_speed_mm_s);
      pos += vel * 0.001;
      if (pos < 0) { pos = 0; vel = std::max(0.0, vel); }
      if (pos < ledge_mm) { pos = ledge_mm; vel = std::max(0.0, vel); }
      if (pos > mech.travel_max_mm) { pos = mech.travel_max_mm; vel = std::min(0.0, vel); }
    }
  }
};

/// A MachineIo over the plant, with injectable failures.
struct FakeIo : MachineIo {
  Plant plant;
  double period = 0.01;
  bool drop_drive = false, drop_cell = false;
  std::function<bool(int cycle)> drop;  // drop both replies on this cycle
  bool freeze_counter = false;
  bool adc_error = false, overload = false;
  double cell_offset_n = 0;   // a slipping cell
  double cell_noise_n = 0;
  double pos_noise_mm = 0;
  bool arm_ok = true;
  int arm_calls = 0;
  std::uint32_t counter = 0;
  std::uint32_t link_generation = 0;
  int cycle = 0;
  std::vector<drivers::DriveCommand> written;
  unsigned rng = 12345;
  double noise() { rng = rng * 1103515245u + 12345u; return ((rng >> 8) % 2001) / 1000.0 - 1.0; }

  using MachineIo::exchange;
  bool setup_ok = true;  // verify_setup's answer (a drive that lost its setup: false)
  int verify_calls = 0;
  void exchange(const drivers::DriveCommand& cmd, MachineInputs& in, bool read_cell) override {
    ++cycle;
    bool dropped = drop && drop(cycle);
    if (!dropped && !drop_drive) {
      written.push_back(cmd);
      plant.apply(cmd);
    }
    plant.advance(period);
    in.link_generation = link_generation;
    in.drive_ok = !dropped && !drop_drive;
    if (in.drive_ok) {
      auto& d = in.drive;
      d.ready = !plant.sto && plant.fault_code == 0;
      d.enabled = plant.enabled;
      d.sto = plant.sto;
      d.fault = plant.fault_code != 0;
      d.fault_code = plant.fault_code;
      d.position_mm = plant.pos + pos_noise_mm * noise();
      d.velocity_mm_s = plant.vel;
      d.force_n = plant.enabled ? plant.motor_n : 0;
    }
    in.cell_ok = !dropped && !drop_cell && read_cell;
    in.cell_skipped = !read_cell;
    if (!freeze_counter) counter = (counter + 2) % 65536;
    if (in.cell_ok) {
      in.cell.force_n = plant.user_n + cell_offset_n + cell_noise_n * noise();
      in.cell.counter = counter;
      in.cell.adc_error = adc_error;
      in.cell.overload = overload;
      in.cell.stable = true;
    }
  }
  bool arm(const drivers::DriveSetup&, std::string& detail) override {
    ++arm_calls;
    if (!arm_ok) detail = "read-back mismatch";
    return arm_ok;
  }
  SetupCheck verify_setup(std::string& detail) override {
    ++verify_calls;
    if (!setup_ok) detail = "COMM_TIMEOUT reads 0, armed 100";
    return setup_ok ? SetupCheck::Same : SetupCheck::Differs;
  }
  // The transmitter finishes a command after `cell_command_polls` polls.
  int cell_command_polls = 2, cell_polls_left = 0;
  bool start_cell_command(CellCommand c, std::string&) override {
    if (c == CellCommand::ClearOverload) overload = false;
    cell_polls_left = cell_command_polls;
    return true;
  }
  CellPoll poll_cell_command(std::string&) override {
    return --cell_polls_left <= 0 ? CellPoll::Done : CellPoll::Busy;
  }
  int comm_loss_fault_code() const override { return 6; }
  std::string fault_name(int code) const override { return code == 6 ? "communication loss" : "fault " + std::to_string(code); }
  IoStats stats() const override { return {}; }
};

/// SetController + FakeIo stepped at a fixed period with synthetic time.
struct Rig {
  ControlConfig ccfg;
  TrainingConfig tcfg;
  Collector sink;
  FakeIo io;
  std::unique_ptr<SetController> ctl;
  drivers::DriveCommand cmd;
  MachineInputs in;
  double t = 0;

  explicit Rig(double hz = 100, std::function<void(ControlConfig&, TrainingConfig&)> tweak = {}) {
    ccfg.loop_hz = hz;
    if (tweak) tweak(ccfg, tcfg);
    io.period = 1.0 / hz;
    ctl = std::make_unique<SetController>(ccfg, tcfg, mechanics(), limits(), sink);
  }
  void step() {
    io.exchange(cmd, in);
    t += io.period;
    in.t_s = t;
    cmd = ctl->update(in);
  }
  void run(double seconds) {
    int n = static_cast<int>(std::lround(seconds / io.period));
    for (int i = 0; i < n; ++i) step();
  }
  /// Runs until pred() or the time limit; returns whether pred() became true.
  bool run_until(const std::function<bool()>& pred, double max_s) {
    int n = static_cast<int>(std::lround(max_s / io.period));
    for (int i = 0; i < n; ++i) {
      step();
      if (pred()) return true;
    }
    return false;
  }
  /// Arms and resets so that a set may start.
  void boot() {
    ctl->set_armed(true);
    run(0.05);
    ctl->reset_faults(t);
    run(0.05);
  }
  SetState state() const { return ctl->status().state; }
  static SetParams isotonic(double load, int reps, Tempo tempo = {3, 1, 3, 1}) {
    SetParams p;
    p.mode = Mode::Isotonic;
    p.load_n = load;
    p.target_reps = reps;
    p.tempo = tempo;
    p.set_id = 7;
    return p;
  }
};

}  // namespace soleus::controller::test
