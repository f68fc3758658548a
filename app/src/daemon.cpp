#include "soleus/app/daemon.hpp"

#include <systemd/sd-daemon.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "soleus/app/json_views.hpp"
#include "soleus/app/modbus_machine_io.hpp"
#include "soleus/common/log.hpp"
#include "soleus/controller/control_loop.hpp"

namespace soleus::app {

using namespace controller;

namespace {

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal.store(sig); }

void print_line(const char* type, const boost::json::object& o) {
  boost::json::object line;
  line["type"] = type;  // first, so that readers can match a line by its prefix
  for (const auto& kv : o) line[kv.key()] = kv.value();
  const std::string s = boost::json::serialize(line) + "\n";
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

log::Level level_of(Severity s) {
  switch (s) {
    case Severity::Error: return log::Level::Error;
    case Severity::Warning: return log::Level::Warning;
    case Severity::Info: return log::Level::Info;
  }
  return log::Level::Info;
}

}  // namespace

int run_daemon(const DaemonConfig& cfg, const DaemonOptions& opt) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  log::info("soleusd starting: ", describe(cfg));
  sd_notify(0, "STATUS=Connecting to the machine");
  ModbusMachineIo io(cfg.machine);
  MonotonicClock clock;
  ControlLoop loop(cfg.control, cfg.training, cfg.machine.mechanics, cfg.machine.limits, io, clock);
  try {
    loop.start();
  } catch (const std::exception& e) {
    log::error("control loop refused to start: ", e.what());
    return 1;
  }

  // The systemd watchdog is fed only while the control loop's heartbeat moves.
  std::uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  const auto watchdog_every = std::chrono::microseconds(watchdog_usec / 2);
  auto last_watchdog = std::chrono::steady_clock::now();
  std::uint64_t last_beat = loop.heartbeat();

  bool ready_sent = false, set_posted = false, shutting_down = false;
  const auto started = std::chrono::steady_clock::now();
  std::string last_status;
  int exit_code = 0;
  std::uint64_t trace_n = 0;

  while (true) {
    // Drain the loop's queues (never blocks the loop: SPSC rings).
    Event ev;
    while (loop.pop_event(ev)) {
      log::line(level_of(ev.severity), "[", to_string(ev.code), "] ", ev.text_view());
      if (opt.json_lines) print_line("event", to_json(ev));
    }
    RepRecord rep;
    while (loop.pop_rep(rep))
      if (opt.json_lines) print_line("rep", to_json(rep));
    SetResult res;
    while (loop.pop_result(res)) {
      log::info("set ", res.set_id, " ended: ", to_string(res.reason), ", ", res.reps, " reps, ",
                res.partial_reps, " partial, TUT ", res.tut_s, " s");
      if (opt.json_lines) print_line("result", to_json(res));
      if (opt.run_set && !shutting_down) {
        loop.post(Command::of(Command::Kind::Shutdown));
        shutting_down = true;
      }
    }
    TraceSample tr;
    while (loop.pop_trace(tr)) {
      if (opt.json_lines && opt.trace_every > 0 && trace_n++ % opt.trace_every == 0) {
        boost::json::object o;
        o["t_s"] = tr.t_s;
        o["position_mm"] = tr.position_mm;
        o["velocity_mm_s"] = tr.velocity_mm_s;
        o["force_n"] = tr.force_n;
        o["motor_n"] = tr.motor_n;
        o["load_n"] = tr.load_n;
        o["state"] = to_string(tr.state);
        o["phase"] = to_string(tr.phase);
        print_line("trace", o);
      }
    }

    const Snapshot snap = loop.snapshot();
    if (!ready_sent && snap.armed) {
      // Configuration valid, hardware answered, drive watchdog armed.
      sd_notify(0, "READY=1");
      ready_sent = true;
      log::notice("ready: drive armed (COMM_TIMEOUT ", cfg.machine.limits.watchdog_ms,
                  " ms, TORQUE_LIMIT for ", cfg.machine.limits.max_load_n, " N)");
      if (opt.json_lines) print_line("ready", status_json(snap));
    }
    std::string status = std::string("STATUS=") + to_string(snap.ctl.state) +
                         (snap.comm_good ? "" : ", machine not answering") +
                         (snap.fault_count ? ", faults latched" : "");
    if (status != last_status) {
      sd_notify(0, status.c_str());
      last_status = status;
    }

    if (opt.run_set && !set_posted && snap.armed && snap.latch_ok &&
        snap.ctl.state != SetState::Fault && snap.ctl.state != SetState::Estop) {
      loop.post(Command::start_set(*opt.run_set));
      set_posted = true;
    }
    if (opt.run_set && !set_posted && !shutting_down &&
        std::chrono::steady_clock::now() - started >
            std::chrono::duration<double>(opt.arm_timeout_s)) {
      log::error("the machine did not become ready within ", opt.arm_timeout_s, " s");
      exit_code = 3;
      loop.post(Command::of(Command::Kind::Shutdown));
      shutting_down = true;
    }

    if (const int sig = g_signal.exchange(0); sig && !shutting_down) {
      log::notice("signal ", sig, ": unloading and shutting down");
      sd_notify(0, "STOPPING=1\nSTATUS=Unloading and shutting down");
      loop.post(Command::of(Command::Kind::Shutdown));
      shutting_down = true;
    }
    if (shutting_down && loop.finished()) break;

    const std::uint64_t beat = loop.heartbeat();
    const auto now = std::chrono::steady_clock::now();
    if (watchdog && beat != last_beat && now - last_watchdog >= watchdog_every) {
      sd_notify(0, "WATCHDOG=1");
      last_watchdog = now;
      last_beat = beat;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  loop.join();
  // Whatever the loop produced while shutting down.
  Event ev;
  while (loop.pop_event(ev)) {
    log::line(level_of(ev.severity), "[", to_string(ev.code), "] ", ev.text_view());
    if (opt.json_lines) print_line("event", to_json(ev));
  }
  RepRecord rep;
  while (loop.pop_rep(rep))
    if (opt.json_lines) print_line("rep", to_json(rep));
  SetResult res;
  while (loop.pop_result(res))
    if (opt.json_lines) print_line("result", to_json(res));
  if (opt.json_lines) print_line("exit", status_json(loop.snapshot()));
  log::notice("soleusd stopped: drive disabled");
  return exit_code;
}

}  // namespace soleus::app
