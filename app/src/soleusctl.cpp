// soleusctl: the technicians' command-line tool (over SSH on the machine).
// Exit codes: 0 ok, 1 usage error, 2 configuration error, 3 machine or daemon
// unreachable, 4 partial failure.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "soleus/app/daemon_config.hpp"
#include "soleus/app/probe.hpp"
#include "soleus/common/config_reader.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/soleus/soleus.toml";

void usage(std::ostream& os) {
  os << "usage: soleusctl [--config FILE] [--json] COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  probe [--count N] [--interval-ms MS]\n"
        "                      read the machine directly (read-only: never enables the drive)\n"
        "                      and print every decoded signal; stop the daemon first on RTU\n"
        "  check-config FILE   validate a configuration file without touching hardware\n"
        "\n"
        "options:\n"
        "  --config FILE       machine configuration (default " << kDefaultConfig << ")\n"
        "  --json              one JSON object a line instead of a table\n"
        "\n"
        "exit codes: 0 ok, 1 usage, 2 configuration error, 3 unreachable, 4 partial failure\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = kDefaultConfig;
  bool json = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (a == "--json") json = true;
    else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else args.push_back(a);
  }
  if (args.empty()) {
    usage(std::cerr);
    return 1;
  }
  const std::string cmd = args[0];
  try {
    if (cmd == "check-config") {
      if (args.size() != 2) {
        std::cerr << "soleusctl: check-config needs exactly one FILE\n";
        return 1;
      }
      auto cfg = soleus::app::load_daemon_config(args[1]);
      std::cout << args[1] << ": ok (" << soleus::app::describe(cfg) << ")\n";
      return 0;
    }
    if (cmd == "probe") {
      soleus::app::ProbeOptions opt;
      opt.json = json;
      for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--count" && i + 1 < args.size()) opt.count = std::atoi(args[++i].c_str());
        else if (args[i] == "--interval-ms" && i + 1 < args.size())
          opt.interval_ms = std::atof(args[++i].c_str());
        else {
          std::cerr << "soleusctl: probe: unknown argument " << args[i] << "\n";
          return 1;
        }
      }
      if (opt.count < 0 || opt.interval_ms < 1) {
        std::cerr << "soleusctl: probe: --count must be >= 0 and --interval-ms >= 1\n";
        return 1;
      }
      auto cfg = soleus::app::load_daemon_config(config_path);
      return soleus::app::run_probe(cfg.machine, opt, std::cout);
    }
  } catch (const soleus::config::ConfigError& e) {
    std::cerr << "soleusctl: configuration error: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "soleusctl: unknown command '" << cmd << "'\n";
  usage(std::cerr);
  return 1;
}
