// soleusd: the Soleus machine daemon.
#include <iostream>
#include <string>

#include "soleus/app/daemon_config.hpp"
#include "soleus/common/config_reader.hpp"
#include "soleus/common/log.hpp"

namespace {
constexpr const char* kDefaultConfig = "/etc/soleus/soleus.toml";

void usage(std::ostream& os) {
  os << "usage: soleusd [--config FILE] [--check-config [FILE]]\n"
        "  --config FILE        configuration (default " << kDefaultConfig << ")\n"
        "  --check-config FILE  validate FILE and exit: 0 valid, 2 invalid (the message\n"
        "                       names the file, the line and the key); touches no hardware\n";
}
}  // namespace

int main(int argc, char** argv) {
  std::string config_path = kDefaultConfig;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (a == "--check-config") {
      check_only = true;
      if (i + 1 < argc && argv[i + 1][0] != '-') config_path = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage(std::cout);
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
  soleus::log::error("the control daemon is not built yet (issue 3); use --check-config");
  return 1;
}
