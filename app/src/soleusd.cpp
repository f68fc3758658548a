// soleusd: the Soleus machine daemon. Also the main of soleusd-test, the
// same daemon with the test hooks (app/CMakeLists.txt, tests/support/).
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "soleus/app/backend.hpp"
#include "soleus/app/daemon.hpp"
#include "soleus/app/daemon_config.hpp"
#include "soleus/common/config_reader.hpp"
#include "soleus/common/log.hpp"
#include "soleus/common/version.hpp"
#include "soleus/hmi/api.hpp"

namespace {
using soleus::kDefaultConfig;

void usage(std::ostream& os) {
  os << "usage: soleusd [--config FILE] [--json-lines [--trace-every N]] [--run-set JSON]\n"
        "       soleusd [--config FILE] --check-config [FILE]\n"
        "       soleusd --help | --version\n"
        "\n"
        "The Soleus machine daemon: drives the seated soleus-raise machine (servo drive and\n"
        "load cell over Modbus RTU or TCP) with its control loop and safety supervisor,\n"
        "stores members' sets in its database and serves the touchscreen page and the HTTP\n"
        "API. On the machine systemd starts it (soleusd.service) as user soleus.\n"
        "\n"
        "options:\n"
        "  --config FILE          the configuration (default "
     << kDefaultConfig
     << ")\n"
        "  --check-config [FILE]  validate FILE (default: --config's) and exit: 0 valid, 2\n"
        "                         invalid (the message names the file, the line and the\n"
        "                         key); touches no hardware and no database\n"
        "  --json-lines           print events, reps and set results as JSON lines on stdout\n"
        "  --trace-every N        with --json-lines, also print every Nth loop cycle's trace\n"
        "                         sample\n"
        "  --run-set JSON         run one set (POST /api/v1/sets's body) once the machine is\n"
        "                         armed, then unload, disable and exit; no HMI is served\n"
        "  -h, --help             this help\n"
        "  --version              print the program's name and version and exit\n"
        "\n"
        "files:\n"
        "  "
     << kDefaultConfig
     << "     the configuration (soleus.toml(5))\n"
        "  /var/lib/soleus/soleus.db   the database ([storage] db_path; -wal, -shm beside it)\n"
        "  /usr/share/soleus/hmi       the touchscreen page's files ([hmi] asset_dir)\n"
        "\n"
        "signals:\n"
        "  SIGTERM, SIGINT        unload the member (controlled ramp-down), disable the drive,\n"
        "                         stop the HMI after the unload, and exit\n"
        "\n"
        "environment (set by systemd, read through libsystemd):\n"
        "  NOTIFY_SOCKET          where READY=1, STATUS= and STOPPING=1 go (Type=notify)\n"
        "  WATCHDOG_USEC, WATCHDOG_PID\n"
        "                         the watchdog (WatchdogSec=); WATCHDOG=1 is sent only while\n"
        "                         the control loop's heartbeat moves\n"
        "  LISTEN_FDS, LISTEN_PID the HMI's listening socket as fd 3 (soleus-hmi.socket, socket\n"
        "                         activation); without them soleusd binds [hmi] bind:port\n"
        "\n"
        "It logs to standard error with journald priority prefixes (<3> error .. <7> debug);\n"
        "[log] level of the configuration sets the level.\n"
        "\n"
        "exit codes: 0 stopped by a signal or at the end of --run-set's set, or a valid\n"
        "            configuration; 1 usage error (unknown argument, a bad --run-set) or the\n"
        "            control loop could not start; 2 configuration refused; 3 --run-set: the\n"
        "            machine did not become ready within 10 s, or the set could not start\n"
        "\n"
        "see also: man 8 soleusd, man 5 soleus.toml, soleusctl(8), /usr/share/doc/soleus/\n";
}
}  // namespace

int main(int argc, char** argv) {
  std::string config_path = kDefaultConfig;
  bool check_only = false;
  soleus::app::DaemonOptions opt;
  std::string run_set;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (a == "--check-config") {
      check_only = true;
      if (i + 1 < argc && argv[i + 1][0] != '-') config_path = argv[++i];
    } else if (a == "--json-lines") {
      opt.json_lines = true;
    } else if (a == "--trace-every" && i + 1 < argc) {
      opt.trace_every = std::atoi(argv[++i]);
    } else if (a == "--run-set" && i + 1 < argc) {
      run_set = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else if (a == "--version") {
      std::cout << "soleusd " << soleus::kVersion << "\n";
      return 0;
    } else {
      std::cerr << "soleusd: unknown argument '" << a << "'\n";
      usage(std::cerr);
      return 1;
    }
  }
  soleus::app::DaemonConfig cfg;
  try {
    cfg = soleus::app::load_daemon_config(config_path);
  } catch (const soleus::config::ConfigError& e) {
    soleus::log::error("configuration refused: ", e.what());
    return 2;
  }
  if (check_only) {
    std::cout << config_path << ": ok (" << soleus::app::describe(cfg) << ")\n";
    return 0;
  }
  soleus::log::set_level(cfg.log.level);
  if (!run_set.empty()) {
    // The API's own validator: --run-set takes exactly what POST /api/v1/sets takes.
    soleus::hmi::RequestError err;
    std::optional<soleus::controller::SetParams> p;
    if (auto q = soleus::hmi::parse_set_request(run_set, cfg.machine.limits.max_load_n, err))
      p = soleus::app::to_params(*q);
    if (!p) {
      std::cerr << "soleusd: --run-set: " << (err.field.empty() ? "" : err.field + ": ")
                << err.message << "\n";
      return 1;
    }
    p->set_id = 1;
    opt.run_set = *p;
  }
  // None in soleusd; the test hooks in soleusd-test (soleus/app/daemon.hpp).
  const std::unique_ptr<soleus::app::DaemonHooks> hooks = soleus::app::make_daemon_hooks();
  opt.hooks = hooks.get();
  return soleus::app::run_daemon(cfg, opt);
}
