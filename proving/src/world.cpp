#include "soleus/proving/world.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "soleus/app/daemon_config.hpp"
#include "soleus/controller/control_loop.hpp"
#include "soleus/drivers/modbus_machine_io.hpp"
#include "soleus/proving/in_process_bus.hpp"

namespace soleus::proving {

namespace {

/// Synthetic time: now() is whatever the world set; sleeping is not needed.
class SyntheticClock final : public controller::Clock {
 public:
  double now() override { return t_; }
  void sleep_until(double t) override { t_ = t; }
  void set(double t) { t_ = t; }

 private:
  double t_ = 0;
};

}  // namespace

Outcome run_case(const Case& c, const WorldOptions& opt) {
  using controller::SetState;
  Outcome out;
  out.c = c;
  try {
    const app::DaemonConfig cfg = app::load_daemon_config(opt.config_path);
    controller::ControlConfig control = cfg.control;
    if (opt.loop_hz > 0) control.loop_hz = opt.loop_hz;
    const auto& mech = cfg.machine.mechanics;
    out.period_s = control.period_s();
    out.pad_weight_n = mech.pad_weight_n;
    out.max_load_n = cfg.machine.limits.max_load_n;
    out.speed_limit_mm_s = cfg.machine.limits.max_speed_mm_s;
    out.rep_rom_fraction = cfg.training.rep_rom_fraction;
    out.hold_window_s = cfg.training.hold_window_s;
    out.efficiency = mech.efficiency;
    out.armed_torque_limit_pct = mech.torque_pct_for_force(
        std::min(cfg.machine.limits.max_load_n, machine::kHardCapN), true);
    out.armed_speed_limit_rpm = mech.rpm_from_mm_s(cfg.machine.limits.max_speed_mm_s);

    sim::Machine machine(cfg.machine, c.athlete, c.seed);
    machine.set_noise(c.noise);
    if (c.cell_pad_on_cell)
      machine.control(boost::json::parse(R"({"cmd":"bench","cell_mount":"pad_on_cell"})"));
    out.ripple_fraction = c.noise.drive_ripple_v / machine.drive().settings().nominal_bus_v;
    SyntheticClock clock;
    // The daemon's stack: drivers over the in-process bus, and the loop. A
    // kill destroys both without a word to the machine; a restart builds
    // them afresh, as soleusd starting.
    std::unique_ptr<drivers::ModbusMachineIo> io;
    std::unique_ptr<controller::ControlLoop> loop;
    auto boot = [&](double t) {
      io = std::make_unique<drivers::ModbusMachineIo>(
          cfg.machine, std::make_unique<InProcessBus>(machine, cfg.machine.transport));
      loop = std::make_unique<controller::ControlLoop>(control, cfg.training, mech,
                                                       cfg.machine.limits, *io, clock);
      out.boots_s.push_back(t);
    };
    boot(0);

    const std::int64_t period_ms = std::llround(out.period_s * 1000.0);
    if (period_ms < 1 || std::fabs(static_cast<double>(period_ms) - out.period_s * 1000.0) > 1e-6)
      throw std::invalid_argument("the loop period must be a whole number of ms");
    if (opt.keep_samples)
      out.samples.reserve(static_cast<std::size_t>(std::min(opt.max_s, 200.0) * 1000));

    bool posted = !c.moves.empty();  // a maintenance run presses no Start
    double next_move_post = 0;
    int restarts_left = c.restarts;
    std::size_t next_fault = 0;
    std::size_t next_kill = 0;
    controller::Snapshot snap;
    double reset_asked_t = -1;
    double retry_start_t = 0;
    std::optional<double> done_at;
    controller::Event ev;
    controller::RepRecord rep;
    controller::SetResult res;
    controller::TraceSample tr;
    std::int64_t ms = 0;
    for (;;) {
      const double t = static_cast<double>(ms) / 1000.0;
      clock.set(t);
      if (next_kill < c.kills.size()) {
        const Case::Kill& k = c.kills[next_kill];
        if (loop && t >= k.at_s) {
          loop.reset();  // kill -9: nothing is unloaded, nothing more written
          io.reset();
        }
        if (!loop && t >= k.restart_s) {
          boot(t);
          posted = false;  // the operator presses Start on the new daemon
          reset_asked_t = -1;
          retry_start_t = t + k.start_after_s;
          ++next_kill;
        }
      }
      const bool stalled = std::any_of(c.stalls.begin(), c.stalls.end(), [t](const auto& st) {
        return t >= st.first && t < st.second;
      });
      if (loop && !stalled) {
        loop->step();
        snap = loop->snapshot();
        if (opt.on_cycle) opt.on_cycle(t, machine, snap);
      }
      while (loop && loop->pop_event(ev)) {
        out.events.push_back(ev);
        // A refused programme is the population's mistake (it must draw only
        // programmes a member could start), not a set that never ended.
        // A "not now" refusal (value 1: the machine's state) is tried again
        // a second later, as a person would press Start again.
        if (ev.code == controller::EventCode::SetRefused && ev.value == 1) {
          posted = false;
          retry_start_t = t + 1.0;
          if (!out.starts_s.empty()) out.starts_s.pop_back();  // no Start took
        } else if (ev.code == controller::EventCode::SetRefused && out.error.empty()) {
          out.error = "programme refused: " + std::string(ev.text_view());
        }
      }
      if (!out.error.empty()) break;
      while (loop && loop->pop_rep(rep)) out.reps.push_back(rep);
      while (loop && loop->pop_result(res)) {
        out.results.push_back(res);
        out.result_times_s.push_back(t);
        if (!out.result) {
          out.result = res;
          out.open_truth_at_stop = machine.athlete().open_rep();
        }
        if (restarts_left > 0) {
          --restarts_left;
          posted = false;  // the operator will reset and press Start again
          reset_asked_t = -1;
        } else {
          done_at = t;
        }
      }
      while (loop && loop->pop_trace(tr)) {
      }
      // (A dead daemon: the last snapshot stays, as its last command stays
      // written in the drive; the operator waits for the restart.)
      const SetState st = snap.ctl.state;
      for (const auto& mv : c.moves) {
        if (loop && t >= mv.from_s && t < mv.to_s && t >= next_move_post) {
          (void)loop->post(controller::Command::hold_to_move(mv.target_mm));
          next_move_post = t + 0.05;
        }
      }
      if (posted && st == SetState::Unloading && !out.unload_start_s) out.unload_start_s = t;
      if (posted && st == SetState::Active && !out.active_start_s) out.active_start_s = t;
      if (!loop) {
        // The daemon is dead: nobody to press Start or Reset on.
      } else if (!posted && t >= retry_start_t && snap.armed && snap.latch_ok &&
                 st != SetState::Fault && st != SetState::Estop && !snap.ctl.set_running &&
                 st != SetState::Unloading) {
        controller::SetParams p = c.programme;
        p.set_id = static_cast<std::int64_t>(out.starts_s.size()) + 1;
        if (!loop->post(controller::Command::start_set(p)))
          throw std::runtime_error("command queue full");
        posted = true;
        if (out.starts_s.empty()) out.start_posted_s = t;
        out.starts_s.push_back(t);
      } else if (!posted && !out.starts_s.empty() && !snap.latch_ok &&
                 (reset_asked_t < 0 || t - reset_asked_t >= 2.0)) {
        // The operator presses Reset (again every 2 s while it is refused);
        // a load-cell overload latch is cleared first, as maintenance would.
        const bool overload =
            (snap.faults_present & controller::bit(controller::Fault::Overload)) != 0;
        if (overload && !snap.drive.enabled)
          (void)loop->post(controller::Command::of(controller::Command::Kind::ClearOverload));
        if (!loop->post(controller::Command::of(controller::Command::Kind::ResetFaults)))
          throw std::runtime_error("command queue full");
        reset_asked_t = t;
      }
      if (done_at && t >= *done_at + opt.tail_s) break;
      if (t >= opt.max_s) {
        out.timed_out = true;
        break;
      }
      // The machine runs one period, 1 ms at a time, recording the truth.
      const auto cmd_n = static_cast<float>(snap.ctl.motor_force_n);
      for (std::int64_t k = 0; k < period_ms; ++k) {
        while (next_fault < c.faults.size() &&
               c.faults[next_fault].t_s * 1000.0 <= static_cast<double>(ms)) {
          const auto r = machine.control(boost::json::parse(c.faults[next_fault].request));
          if (!r.at("ok").as_bool())
            throw std::invalid_argument("fault injection refused: " + c.faults[next_fault].request);
          ++next_fault;
        }
        machine.step();
        ++ms;
        if (!opt.keep_samples) continue;
        const auto& ps = machine.plant().state();
        const auto& d = machine.drive();
        auto& a = machine.athlete();
        Sample s;
        s.t = static_cast<float>(static_cast<double>(ms) / 1000.0);
        s.pad = static_cast<float>(ps.x_mm);
        s.heel = static_cast<float>(a.heel_mm());
        s.v = static_cast<float>(ps.v_mm_s);
        s.contact = static_cast<float>(a.contact_n());
        s.cell = static_cast<float>(machine.cell().force_n());
        s.motor = static_cast<float>(ps.motor_force_n);
        s.ideal = static_cast<float>(machine.plant().ideal_force_n(d.torque_pct()));
        s.cmd = cmd_n;
        s.floor = static_cast<float>(snap.ctl.floor_mm);
        s.enabled = d.enabled();
        s.watchdog_ms = static_cast<float>(d.comm_timeout_ms());
        s.torque_limit_pct = static_cast<float>(d.torque_limit_pct());
        s.speed_limit_rpm = static_cast<float>(d.speed_limit_rpm());
        s.speed_limited = d.speed_limited();
        s.away = a.away();
        s.state = st;
        s.phase = snap.ctl.phase;
        out.samples.push_back(s);
      }
    }
    out.truth = machine.athlete().reps();
    out.athlete_events = machine.athlete().events();
    out.hold = machine.athlete().hold();
    out.sim_s = static_cast<double>(ms) / 1000.0;
    out.counted_from_s = out.active_start_s;
    if (out.result && out.result->range_note == controller::RangeNote::Confirmed &&
        !out.starts_s.empty())
      out.counted_from_s = out.starts_s.front();
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

void write_trace(const Outcome& o, const std::string& path) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error("cannot write " + path);
  f << "t_s,pad_mm,heel_mm,velocity_mm_s,contact_n,cell_n,motor_n,ideal_n,command_n,floor_mm,"
       "enabled,speed_limited,away,state,phase\n";
  for (const auto& s : o.samples)
    f << s.t << ',' << s.pad << ',' << s.heel << ',' << s.v << ',' << s.contact << ',' << s.cell
      << ',' << s.motor << ',' << s.ideal << ',' << s.cmd << ',' << s.floor << ',' << s.enabled
      << ',' << s.speed_limited << ',' << s.away << ',' << controller::to_string(s.state) << ','
      << controller::to_string(s.phase) << '\n';
}

void run_parallel(int n, int jobs, const std::function<void(int)>& body) {
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1)) body(i);
  };
  std::vector<std::thread> th;
  for (int k = 0; k < std::max(1, jobs); ++k) th.emplace_back(worker);
  for (auto& t : th) t.join();
}

}  // namespace soleus::proving
