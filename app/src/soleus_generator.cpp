// soleus-generator: the systemd generator (systemd.generator(7)) that adapts
// soleusd.service, soleus-hmi.socket and soleus-kiosk.service to the
// installed configuration, soleus::kDefaultConfig (docs/systemd.md). It never fails: a refused
// configuration is logged and leaves the units' safe defaults.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "soleus/app/systemd_generator.hpp"
#include "soleus/common/version.hpp"

namespace {

using soleus::kDefaultConfig;  // where the install rule puts it

/// Run by systemd ($SYSTEMD_SCOPE is set, systemd >= 251) the log is the
/// kernel's (the journal does not run yet); otherwise stderr.
void log_line(const std::string& msg) {
  const std::string line = "soleus-generator: " + msg + "\n";
  if (std::getenv("SYSTEMD_SCOPE") != nullptr) {
    const int fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
      const std::string k = "<4>" + line;  // warning
      const bool ok = ::write(fd, k.data(), k.size()) == static_cast<ssize_t>(k.size());
      ::close(fd);
      if (ok) return;
    }
  }
  std::cerr << line;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = kDefaultConfig;
  int i = 1;
  if (i < argc && std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
    config = argv[i + 1];
    i += 2;
  }
  if (i >= argc || argv[i][0] == '-') {
    std::cerr << "usage: soleus-generator [--config FILE] NORMAL_DIR [EARLY_DIR LATE_DIR]\n"
                 "  systemd runs it with three directories (systemd.generator(7)); it writes\n"
                 "  drop-ins for soleusd.service, soleus-hmi.socket and soleus-kiosk.service\n"
                 "  from FILE (default "
              << kDefaultConfig << ") into NORMAL_DIR.\n";
    return 1;
  }
  const soleus::app::GeneratorRun r = soleus::app::run_generator(config, argv[i]);
  for (const auto& m : r.messages) log_line(config + ": " + m);
  return 0;
}
