#pragma once
// soleus-sim plus soleusd over Modbus TCP and real HTTP, for the tests that
// drive the daemon's API as the screen does (tests/app: the API, the
// assessment). Header-only: it uses doctest's REQUIRE/FAIL, and the including
// target defines SOLEUS_SOURCE_DIR and SOLEUSD_EXE.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "soleus/hmi/security.hpp"
#include "soleus/test_support/http_client.hpp"
#include "soleus/test_support/process.hpp"
#include "soleus/test_support/sim_process.hpp"

namespace soleus::test {

using namespace std::chrono_literals;

/// soleus-sim plus soleusd from a copy of config/sim.toml (HMI on a free port,
/// a staff PIN, the database in a temporary folder).
struct DaemonRig {
  TempDir dir;
  SimProcess sim;
  ChildProcess daemon;
  int port = 0;
  std::string config_path;

  /// `edits`: (text, replacement) pairs applied to the configuration's text;
  /// `append`: more configuration (whole sections) added at its end.
  explicit DaemonRig(const std::vector<std::string>& sim_args,
                     const std::vector<std::pair<std::string, std::string>>& edits = {},
                     const std::string& append = {}) {
    const std::string base = std::string(SOLEUS_SOURCE_DIR) + "/config/sim.toml";
    std::vector<std::string> args = {"--noise-n", "2"};
    args.insert(args.end(), sim_args.begin(), sim_args.end());
    sim.start_tcp(base, args);
    std::string cfg = read_text(base);
    replace_once(cfg, "port = 1502", "port = " + std::to_string(sim.modbus_port()));
    replace_once(cfg, "port = 8080", "port = 0");
    // The test's own staff PIN in place of the simulator config's demo PIN.
    const auto at = cfg.find("\nstaff_pin_hash = \"");
    REQUIRE(at != std::string::npos);
    const auto end = cfg.find('\n', at + 1);
    cfg.replace(at + 1, end - at - 1,
                "staff_pin_hash = \"" + soleus::hmi::make_pin_hash("2580", 100000) + "\"");
    // As in tests/e2e and the browser tests: the shared CI box may deschedule
    // the simulator for tens of ms, and sometimes past the drive's 100 ms
    // watchdog; these tests judge the API, not the box's scheduler.
    replace_once(
        cfg, "[control]\n",
        "[control]\ncomm_loss_cycles = 4\ncomm_loss_window_ms = 90\nstale_cell_ms = 150\n");
    replace_once(cfg, "watchdog_ms = 100.0", "watchdog_ms = 250.0");
    for (const auto& [from, to] : edits) replace_once(cfg, from, to);
    cfg += append;
    config_path = dir.file("soleus.toml");
    std::ofstream(config_path) << cfg;
    start_daemon();
  }
  void start_daemon() {
    daemon.start({SOLEUSD_EXE, "--config", config_path});
    auto rest = daemon.wait_for_line("soleusd: HMI at http://127.0.0.1:", 20s);
    REQUIRE_MESSAGE(rest, "no HMI line; daemon:\n" << daemon.output());
    port = std::stoi(*rest);
    REQUIRE(port > 0);
  }
  /// SIGTERM (unload, flush) and a new soleusd on the same configuration and database.
  void restart_daemon() {
    REQUIRE(daemon.stop(10s) == 0);
    start_daemon();
  }
  ~DaemonRig() {
    daemon.stop();
    sim.stop();
  }
  std::string db_path() const { return dir.file("soleus-sim.db"); }

  /// Waits until the machine is armed and idle with nothing latched.
  void wait_ready() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = get(port, "/api/v1/status");
      last = r.text;
      if (r.status == 200) {
        const auto& o = r.body.as_object();
        const std::string st(o.at("state").as_string());
        if ((st == "idle" || st == "rest") && o.at("faults").as_array().empty()) return;
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL("the machine did not become ready: " << last << "\ndaemon:\n" << daemon.output());
  }

  /// On a loaded box the simulator can miss the drive's watchdog between sets
  /// and latch a communication fault: the machine's business, not the test's,
  /// so when `r` (a refused start) says a fault is latched, a technician
  /// resets it and the machine is waited for. Returns whether it did.
  bool reset_if_latched(const Reply& r) {
    if (r.status != 409 || r.text.find("latched") == std::string::npos) return false;
    MESSAGE("a fault latched between sets: reset");
    const std::string tech = login(R"({"role":"maintenance","pin":"4321"})");
    post(port, "/api/v1/maintenance/fault-reset", "", tech);
    wait_ready();
    return true;
  }

  std::string login(const std::string& body) {
    auto r = post(port, "/api/v1/login", body);
    REQUIRE_MESSAGE(r.status == 200, r.text);
    return std::string(r.body.at("token").as_string());
  }

  /// Waits until GET /sets/{id} says done; returns it.
  boost::json::object wait_done(std::int64_t id, const std::string& token,
                                std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = get(port, "/api/v1/sets/" + std::to_string(id), token);
      last = r.text;
      if (r.status == 200 && r.body.at("state").as_string() == "done") return r.body.as_object();
      std::this_thread::sleep_for(250ms);
    }
    FAIL("set " << id << " did not end: " << last << "\ndaemon:\n" << daemon.output());
    return {};
  }
};

}  // namespace soleus::test
