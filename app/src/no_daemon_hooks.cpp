// soleusd's make_daemon_hooks(): none. The daemon that ships has no test
// hooks and links no test code (tests/app: soleusd_ships_no_test_code);
// soleusd-test links tests/support/daemon_hooks.cpp instead of this file.
#include "soleus/app/daemon.hpp"

namespace soleus::app {

std::unique_ptr<DaemonHooks> make_daemon_hooks() { return nullptr; }

}  // namespace soleus::app
