#include "soleus/app/daemon.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include <set>
#include <string>

#include "soleus/app/backend.hpp"
#include "soleus/app/fleet.hpp"
#include "soleus/app/journal.hpp"
#include "soleus/app/views_from_controller.hpp"
#include "soleus/app/views_from_storage.hpp"
#include "soleus/common/log.hpp"
#include "soleus/common/time.hpp"
#include "soleus/controller/control_loop.hpp"
#include "soleus/drivers/modbus_machine_io.hpp"
#include "soleus/hmi/server.hpp"
#include "soleus/storage/calibrations.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/writer.hpp"

namespace soleus::app {

using namespace controller;

namespace {

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal.store(sig); }

/// One JSON line: {"type": type, ...the view's fields}, written by the one
/// serializer (hmi::write_json: numbers as people write them, never nan).
void print_line(const char* type, const boost::json::value& v) {
  boost::json::object line;
  line["type"] = type;  // first, so that readers can match a line by its prefix
  for (const auto& kv : v.as_object()) line[kv.key()] = kv.value();
  const std::string s = hmi::write_json(line) + "\n";
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

storage::RepRecord to_record(const RepRecord& x) { return rep_record(x); }

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
  r.range_note.assign(to_string(x.range_note));
  r.range_age_days = x.range_age_days;
  r.range_save = x.range_save;
  return r;
}

/// The HMI's listening socket when systemd passed one (soleus-hmi.socket,
/// LISTEN_FDS/LISTEN_PID), else -1: soleusd then binds [hmi] bind:port itself,
/// as in the demo and the tests. The variables are unset, so that nothing
/// soleusd might start inherits them.
int hmi_socket_from_systemd() {
  const int n = sd_listen_fds(1);
  if (n < 0) {
    log::warn("hmi: the sockets systemd passed are unusable (", std::strerror(-n),
              "): binding [hmi] bind:port instead");
    return -1;
  }
  if (n == 0) return -1;
  if (n > 1) log::warn("hmi: systemd passed ", n, " sockets; the HMI accepts on the first only");
  return SD_LISTEN_FDS_START;
}

bool set_state(SetState s) {
  return s == SetState::Ready || s == SetState::Calibrating || s == SetState::Active ||
         s == SetState::Unloading;
}

}  // namespace

int run_daemon(const DaemonConfig& config, const DaemonOptions& opt) {
  DaemonHooks* const hooks = opt.hooks;  // soleusd-test only (docs/storage.md, "Test hooks")
  DaemonConfig cfg_with_hooks = config;
  if (hooks) hooks->configure(cfg_with_hooks);
  const DaemonConfig& cfg = cfg_with_hooks;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  log::info("soleusd starting: ", describe(cfg));
  if (hooks) log::warn(hooks->describe(cfg));
  SetBook book;
  // Every event the store gets or raises also goes to the journal, structured
  // (docs/events.md, "In the journal"), from the Journal's own thread.
  Journal journal(members_from(book));
  // With stderr a stream to the journal, events go there only structured.
  const bool event_lines = !stderr_is_journal();
  // Storage first: it never throws for storage problems; a faulted writer
  // keeps retrying and new sets are refused meanwhile.
  sd_notify(0, "STATUS=Opening the database");
  storage::Writer store(cfg.storage);
  copy_events_to_journal(store, journal);
  // [fleet] (docs/fleet.md): the writer announces new outbox rows to the link.
  std::atomic<Fleet*> fleet_link{nullptr};
  if (cfg.fleet)
    store.on_outbox([&fleet_link] {
      if (Fleet* f = fleet_link.load()) f->notify();
    });
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
    if (r.interrupted_sets > 0 && opt.json_lines) {
      boost::json::object o;
      o["interrupted_sets"] = r.interrupted_sets;
      print_line("recovered", o);
    }
  }
  std::set<std::int64_t> stored_sets;  // sets whose start record went to the store
  std::int64_t trace_set_id = 0;       // the set the trace samples belong to
  sd_notify(0, "STATUS=Connecting to the machine");
  drivers::ModbusMachineIo io(cfg.machine);
  MonotonicClock clock;
  ControlLoop loop(cfg.control, cfg.training, cfg.machine.mechanics, cfg.machine.limits, io, clock);
  // The load cell's span factor from the last span calibration (the
  // transmitter has none of its own), applied before the first cycle.
  if (store.health().open) {
    try {
      auto db = storage::Database::open(cfg.storage.db_path, storage::Database::Access::ReadOnly,
                                        cfg.storage.vfs);
      if (const auto gain = storage::latest_span_gain(db)) {
        Command c = Command::of(Command::Kind::SetForceGain);
        c.gain = *gain;
        if (loop.post(c))
          log::info("load cell: span factor ", c.gain, " from the last span calibration");
        else
          log::warn(
              "load cell: span factor not applied (the loop's command queue is full): 1 is used");
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
  // The link to the broker, only with [fleet]: its own thread; the loop and
  // the API never wait on it.
  std::optional<Fleet> fleet;
  if (cfg.fleet) {
    fleet.emplace(cfg, store, backend);
    // GET /metrics shows the outbox (set before the server starts).
    backend.set_outbox_metrics([&store]() -> std::optional<hmi::OutboxMetricsView> {
      return outbox_metrics_view(store.outbox_stats(), common::unix_ms_now());
    });
    fleet->start();
    fleet_link.store(&*fleet);
  }
  std::optional<hmi::Server> server;
  if (opt.run_set) {
    log::info("hmi: not started with --run-set");
  } else {
    try {
      hmi::Server::Options sopt;
      sopt.listen_fd = hmi_socket_from_systemd();
      server.emplace(cfg.hmi, backend, sopt);
      server->start();
      const std::string addr = server->address();
      std::printf("soleusd: HMI at http://%s:%u/\n",
                  addr.find(':') != std::string::npos ? ("[" + addr + "]").c_str() : addr.c_str(),
                  static_cast<unsigned>(server->port()));
      std::fflush(stdout);
      if (server->socket_activated() &&
          (addr != cfg.hmi.bind_address || server->port() != cfg.hmi.port))
        log::warn("hmi: systemd's socket listens on ", addr, ":", server->port(),
                  ", but [hmi] says ", cfg.hmi.bind_address, ":", cfg.hmi.port,
                  ": run `systemctl daemon-reload`, `systemctl stop soleusd soleus-hmi.socket` "
                  "and `systemctl start soleusd` (docs/systemd.md)");
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
  // A shutdown asked for but not yet taken by the loop's command queue (full):
  // posted again on every pass until it is.
  bool shutdown_wanted = false;
  const auto started = std::chrono::steady_clock::now();
  std::string last_status;
  int exit_code = 0;
  std::uint64_t trace_n = 0;

  // Storage faults: the set running ends safely (the normal unload), new sets
  // are refused by the backend while storage_ok() is false. The writer keeps
  // its own storage_fault / storage_recovered events in memory until written.
  bool storage_was_ok = store.storage_ok();
  std::int64_t storage_stop_for = 0;  // the set a storage_fault stop was posted for

  // The odometer's motor-on time and highest pad force: the writer adds reps,
  // sets and fault counts in the transactions that commit them; these two
  // only the daemon sees. Pushed every kOdometerEvery and at exit.
  constexpr auto kOdometerEvery = std::chrono::seconds(10);
  double motor_on_s = 0, highest_force_n = 0;
  bool was_enabled = false;
  double enabled_t_s = 0;
  auto next_odometer = std::chrono::steady_clock::now() + kOdometerEvery;
  auto push_odometer = [&] {
    if (motor_on_s <= 0 && highest_force_n <= 0) return;
    storage::OdometerRecord o;
    o.motor_on_s = motor_on_s;
    o.highest_force_n = highest_force_n;
    store.push(o);
    motor_on_s = 0;
    highest_force_n = 0;
  };
  auto account_motor = [&](const Snapshot& snap) {
    if (snap.drive.enabled && snap.comm_good) {
      // Loop time between two looks, bounded: a gap (the loop hung, the
      // machine stopped answering) is not counted as running.
      if (was_enabled) motor_on_s += std::clamp(snap.t_s - enabled_t_s, 0.0, 0.5);
      was_enabled = true;
      enabled_t_s = snap.t_s;
    } else {
      was_enabled = false;
    }
  };

  // The loop's outputs: the log, the JSON lines, the store, the API's book.
  auto on_event = [&](const Event& ev) {
    if (event_lines)
      log::line(level_of(ev.severity), "[", to_string(ev.code), "] ", ev.text_view());
    if (opt.json_lines) print_line("event", hmi::to_json(event_view(ev)));
    if (auto start = book.on_event(ev)) {
      store.push(*start);
      stored_sets.insert(start->set_id);
    }
    if (ev.code == EventCode::SetStarted) trace_set_id = ev.set_id;
    store.push(event_record(ev));  // and, through the store's observer, the journal
  };
  auto on_rep = [&](const RepRecord& rep) {
    if (opt.json_lines) print_line("rep", hmi::to_json(rep_view(rep)));
    book.on_rep(rep);
    if (stored_sets.count(rep.set_id)) store.push(to_record(rep));
  };
  auto on_result = [&](const SetResult& r) {
    log::info("set ", r.set_id, " ended: ", to_string(r.reason), ", ", r.reps, " reps, ",
              r.partial_reps, " partial, TUT ", r.tut_s, " s");
    if (opt.json_lines)
      print_line("result", hmi::to_json(set_view(r, book.start_record(r.set_id))));
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
      if (opt.run_set) shutdown_wanted = true;
    }
    TraceSample tr;
    while (loop.pop_trace(tr)) {
      highest_force_n = std::max(highest_force_n, static_cast<double>(tr.force_n));
      if (trace_set_id > 0 && set_state(tr.state) && stored_sets.count(trace_set_id))
        store.push_trace({trace_set_id, tr.t_s, tr.force_n, tr.position_mm});
      if (opt.json_lines && opt.trace_every > 0 && trace_n++ % opt.trace_every == 0) {
        print_line("trace", trace_json(tr));
      }
    }

    const Snapshot snap = loop.snapshot();
    if (hooks) hooks->poll(loop);
    if (fleet) fleet->tick();
    account_motor(snap);
    if (std::chrono::steady_clock::now() >= next_odometer) {
      push_odometer();
      next_odometer = std::chrono::steady_clock::now() + kOdometerEvery;
    }

    const bool storage_ok = store.storage_ok();
    if (storage_ok != storage_was_ok) {
      const auto h = store.health();
      if (storage_ok) log::notice("storage works again: new sets are accepted");
      else
        log::error("storage fault (", h.last_error,
                   "): the set running ends, new sets are refused");
      if (opt.json_lines) {
        hmi::EventView e;
        e.t_ms = common::unix_ms_now();
        e.severity = storage_ok ? "info" : "error";
        e.code = storage_ok ? "storage_recovered" : "storage_fault";
        e.message = storage_ok ? "storage works again" : "storage fault: " + h.last_error;
        print_line("event", hmi::to_json(e));
      }
      storage_was_ok = storage_ok;
    }
    if (!storage_ok && !shutting_down && snap.ctl.set_running &&
        snap.ctl.state != SetState::Unloading && storage_stop_for != snap.ctl.set_id) {
      if (loop.post(Command::stop(StopReason::StorageFault))) {
        storage_stop_for = snap.ctl.set_id;
        log::warn("set ", snap.ctl.set_id, ": stopped (storage_fault)");
      }
    }

    if (!ready_sent && snap.armed) {
      // Configuration valid, hardware answered, drive watchdog armed.
      sd_notify(0, "READY=1");
      ready_sent = true;
      log::notice("ready: drive armed (COMM_TIMEOUT ", cfg.machine.limits.watchdog_ms,
                  " ms, TORQUE_LIMIT for ", cfg.machine.limits.max_load_n, " N)");
      if (opt.json_lines) print_line("ready", hmi::to_json(status_view(snap)));
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
        log::warn("--run-set: no database open (", cfg.storage.db_path, "): the set runs as id ",
                  p.set_id, " and is not stored");
      }
      if (!loop.post(Command::start_set(p))) {
        log::error("--run-set: the control loop's command queue is full; the set was not started");
        exit_code = 3;
        shutdown_wanted = true;
      }
      set_posted = true;
    }
    if (opt.run_set && !set_posted && !shutdown_wanted &&
        std::chrono::steady_clock::now() - started >
            std::chrono::duration<double>(opt.arm_timeout_s)) {
      log::error("the machine did not become ready within ", opt.arm_timeout_s, " s");
      exit_code = 3;
      shutdown_wanted = true;
    }

    if (const int sig = g_signal.exchange(0); sig && !shutting_down) {
      log::notice("signal ", sig, ": unloading and shutting down");
      sd_notify(0, "STOPPING=1\nSTATUS=Unloading and shutting down");
      shutdown_wanted = true;
    }
    if (shutdown_wanted && !shutting_down)
      shutting_down = loop.post(Command::of(Command::Kind::Shutdown));
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
  account_motor(loop.snapshot());
  push_odometer();
  const storage::StorageHealth health = store.health();  // before a test hook releases a stall
  if (hooks) hooks->release();
  if (fleet) {  // state offline (retained), a clean disconnect; the outbox keeps the rest
    fleet_link.store(nullptr);
    fleet->stop();
  }
  store.stop();    // one last write of everything queued, then join
  journal.stop();  // the events queued for the journal, then join
  if (journal.dropped() > 0)
    log::warn("journal: ", journal.dropped(), " events not sent (its queue was full)");
  if (opt.json_lines) {
    boost::json::object o = hmi::to_json(status_view(loop.snapshot())).as_object();
    o["storage"] = hmi::to_json(storage_health_view(health));
    print_line("exit", o);
  }
  log::notice("soleusd stopped: drive disabled");
  return exit_code;
}

}  // namespace soleus::app
