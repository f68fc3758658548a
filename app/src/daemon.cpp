#include "soleus/app/daemon.hpp"

#include <systemd/sd-daemon.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <iostream>
#include <thread>

#include <set>

#include "soleus/app/backend.hpp"
#include "soleus/app/json_views.hpp"
#include "soleus/app/modbus_machine_io.hpp"
#include "soleus/common/log.hpp"
#include "soleus/controller/control_loop.hpp"
#include "soleus/hmi/server.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/writer.hpp"

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

storage::Severity to_storage(Severity s) {
  switch (s) {
    case Severity::Error: return storage::Severity::Error;
    case Severity::Warning: return storage::Severity::Warning;
    case Severity::Info: return storage::Severity::Info;
  }
  return storage::Severity::Info;
}

storage::EventRecord to_record(const Event& e) {
  storage::EventRecord r;
  r.t_ms = wall_ms_of_loop_time(e.t_s);
  r.severity = to_storage(e.severity);
  r.code.assign(to_string(e.code));
  r.message = e.text_view();
  if (e.value != 0) {
    boost::json::object ctx;
    ctx["value"] = e.value;
    r.context.assign(boost::json::serialize(ctx));
  }
  r.set_id = e.set_id;
  return r;
}

storage::RepRecord to_record(const RepRecord& x) {
  storage::RepRecord r;
  r.set_id = x.set_id;
  r.seq = x.seq;
  r.n = x.n;
  r.partial = !x.counted;
  r.t_start_s = x.t_start_s;
  r.peak_force_n = x.peak_force_n;
  r.mean_force_n = x.mean_force_n;
  r.concentric_s = x.concentric_s;
  r.top_pause_s = x.top_pause_s;
  r.eccentric_s = x.eccentric_s;
  r.bottom_pause_s = x.bottom_pause_s;
  r.rom_mm = x.rom_mm;
  r.rom_pct = x.rom_pct;
  r.mean_velocity_mm_s = x.mean_velocity_mm_s;
  r.smoothness = x.smoothness;
  r.on_tempo = x.on_tempo;
  r.tempo_deviation_s = x.tempo_deviation_s;
  r.tut_s = x.tut_s;
  r.reversals = x.reversals;
  r.wobbly = x.wobbly;
  return r;
}

storage::SetEndRecord to_record(const SetResult& x) {
  storage::SetEndRecord r;
  r.set_id = x.set_id;
  r.ended_ms = 0;  // now
  r.stop_reason.assign(to_string(x.reason));
  r.reps = x.reps;
  r.partial_reps = x.partial_reps;
  r.tut_s = x.tut_s;
  r.t_end_s = x.t_end_s;
  r.best_output = x.best_output;
  r.last_output = x.last_output;
  r.range_bottom_mm = x.range.bottom_mm;
  r.range_top_mm = x.range.top_mm;
  r.range_calibrated = x.range_calibrated;
  return r;
}

bool set_state(SetState s) {
  return s == SetState::Ready || s == SetState::Calibrating || s == SetState::Active ||
         s == SetState::Unloading;
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
  // Storage first: it never throws for storage problems; a faulted writer
  // keeps retrying and new sets are refused meanwhile.
  sd_notify(0, "STATUS=Opening the database");
  storage::Writer store(cfg.storage);
  {
    const storage::StartReport r = store.start();
    if (r.ok)
      log::info("storage: ", cfg.storage.db_path, r.created ? " (created)" : "", ", schema ",
                r.migration.to);
    else
      log::error("storage: ", cfg.storage.db_path, ": ", r.error,
                 " (the machine runs; new sets are refused until storage works)");
    if (!r.moved_aside_to.empty())
      log::warn("storage: a corrupt database was moved aside to ", r.moved_aside_to);
  }
  SetBook book;
  std::set<std::int64_t> stored_sets;   // sets whose start record went to the store
  std::int64_t trace_set_id = 0;        // the set the trace samples belong to
  sd_notify(0, "STATUS=Connecting to the machine");
  ModbusMachineIo io(cfg.machine);
  MonotonicClock clock;
  ControlLoop loop(cfg.control, cfg.training, cfg.machine.mechanics, cfg.machine.limits, io, clock);
  // The load cell's span factor from the last span calibration (the
  // transmitter has none of its own), applied before the first cycle.
  if (store.health().open) {
    try {
      auto db = storage::Database::open(cfg.storage.db_path, storage::Database::Access::ReadOnly,
                                        cfg.storage.vfs);
      auto st = db.prepare(
          "SELECT value FROM calibrations WHERE kind = 'span' AND ok = 1 ORDER BY id DESC LIMIT 1");
      if (st.step()) {
        Command c = Command::of(Command::Kind::SetForceGain);
        c.gain = st.real(0);
        loop.post(c);
        log::info("load cell: span factor ", c.gain, " from the last span calibration");
      }
    } catch (const std::exception& e) {
      log::warn("load cell: span factor not read (", e.what(), "): 1 is used");
    }
  }
  try {
    loop.start();
  } catch (const std::exception& e) {
    log::error("control loop refused to start: ", e.what());
    store.stop();
    return 1;
  }

  DaemonBackend backend(cfg, loop, &store, book);
  std::optional<hmi::Server> server;
  if (opt.run_set) {
    log::info("hmi: not started with --run-set");
  } else {
    try {
      server.emplace(cfg.hmi, backend);
      server->start();
      std::printf("soleusd: HMI at http://%s:%u/\n",
                  cfg.hmi.bind_address.find(':') != std::string::npos
                      ? ("[" + cfg.hmi.bind_address + "]").c_str()
                      : cfg.hmi.bind_address.c_str(),
                  static_cast<unsigned>(server->port()));
      std::fflush(stdout);
      if (!std::filesystem::exists(std::filesystem::path(cfg.hmi.asset_dir) / "index.html"))
        log::warn("hmi: no index.html in ", cfg.hmi.asset_dir,
                  ": the API works, the touchscreen page does not (build it with "
                  "hmi/web/build.sh DIR and set [hmi] asset_dir)");
    } catch (const std::exception& e) {
      // The machine stays controlled and safe without its screen; the log says why.
      log::error("hmi: not started: ", e.what());
      server.reset();
    }
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

  // The loop's outputs: the log, the JSON lines, the store, the API's book.
  auto on_event = [&](const Event& ev) {
    log::line(level_of(ev.severity), "[", to_string(ev.code), "] ", ev.text_view());
    if (opt.json_lines) print_line("event", to_json(ev));
    if (auto start = book.on_event(ev)) {
      store.push(*start);
      stored_sets.insert(start->set_id);
    }
    if (ev.code == EventCode::SetStarted) trace_set_id = ev.set_id;
    store.push(to_record(ev));
  };
  auto on_rep = [&](const RepRecord& rep) {
    if (opt.json_lines) print_line("rep", to_json(rep));
    if (stored_sets.count(rep.set_id)) store.push(to_record(rep));
  };
  auto on_result = [&](const SetResult& r) {
    log::info("set ", r.set_id, " ended: ", to_string(r.reason), ", ", r.reps, " reps, ",
              r.partial_reps, " partial, TUT ", r.tut_s, " s");
    if (opt.json_lines) print_line("result", to_json(r));
    book.on_result(r);
    if (stored_sets.count(r.set_id)) store.push(to_record(r));
  };
  auto drain = [&] {
    Event ev;
    while (loop.pop_event(ev)) on_event(ev);
    RepRecord rep;
    while (loop.pop_rep(rep)) on_rep(rep);
  };

  while (true) {
    // Drain the loop's queues (never blocks the loop: SPSC rings).
    drain();
    SetResult res;
    while (loop.pop_result(res)) {
      on_result(res);
      if (opt.run_set && !shutting_down) {
        loop.post(Command::of(Command::Kind::Shutdown));
        shutting_down = true;
      }
    }
    TraceSample tr;
    while (loop.pop_trace(tr)) {
      if (trace_set_id > 0 && set_state(tr.state) && stored_sets.count(trace_set_id))
        store.push_trace({trace_set_id, tr.t_s, tr.force_n, tr.position_mm});
      if (opt.json_lines && opt.trace_every > 0 && trace_n++ % opt.trace_every == 0) {
        print_line("trace", to_json(tr));
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
      SetParams p = *opt.run_set;
      const std::int64_t id = store.allocate_set_id();
      if (id > 0) {
        p.set_id = id;
        storage::SetStartRecord rec;
        rec.set_id = id;
        rec.member_id = p.member_id.value_or(0);
        rec.mode.assign(to_string(p.mode));
        rec.load_n = p.load_n;
        rec.tempo.assign(p.tempo.to_string());
        rec.target_reps = p.mode == Mode::Isometric ? 0 : p.target_reps;
        rec.hold_s = p.mode == Mode::Isometric ? p.hold_s : 0;
        rec.force_drop_pct = p.force_drop_pct;
        rec.eccentric_pct = p.eccentric_pct;
        book.expect(rec);
      } else {
        log::warn("--run-set: no database open (", cfg.storage.db_path,
                  "): the set runs as id ", p.set_id, " and is not stored");
      }
      loop.post(Command::start_set(p));
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
  // The screen goes after the unload (its STOP worked until the end).
  if (server) server->stop();
  // Whatever the loop produced while shutting down.
  drain();
  SetResult res;
  while (loop.pop_result(res)) on_result(res);
  store.stop();  // one last write of everything queued, then join
  if (opt.json_lines) print_line("exit", status_json(loop.snapshot()));
  log::notice("soleusd stopped: drive disabled");
  return exit_code;
}

}  // namespace soleus::app
