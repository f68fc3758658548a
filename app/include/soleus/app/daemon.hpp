#pragma once
/// soleusd's main thread: starts the control loop on the machine, reports to
/// systemd, drains the loop's queues, and shuts down through the unload.
#include <memory>
#include <optional>
#include <string>

#include "soleus/app/daemon_config.hpp"
#include "soleus/controller/types.hpp"

namespace soleus::controller {
class ControlLoop;
}

namespace soleus::app {

/// What a test build of the daemon may do to it (docs/storage.md, "Test
/// hooks"). soleusd has none: it links app/src/no_daemon_hooks.cpp, whose
/// make_daemon_hooks() returns null. soleusd-test (tests/support/) is the
/// same main linked with tests/support/daemon_hooks.cpp instead, which reads
/// its environment and drives the fault VFS and the loop's hang.
class DaemonHooks {
 public:
  virtual ~DaemonHooks() = default;
  /// Before anything starts: may change the configuration (the VFS the
  /// database is opened through).
  virtual void configure(DaemonConfig& cfg) = 0;
  /// One line for the log at start (a warning: never on a machine in use).
  virtual std::string describe(const DaemonConfig& cfg) const = 0;
  /// Every pass of the main thread (every 20 ms).
  virtual void poll(controller::ControlLoop& loop) = 0;
  /// At exit, before the writer's last write: a stalled disk comes back.
  virtual void release() = 0;
};

/// The registration seam: soleusd's main asks here for its hooks. Defined
/// once per program, not in soleus_app: null in soleusd; in soleusd-test,
/// the test hooks when SOLEUS_TEST_HOOKS=1 (else null as well).
std::unique_ptr<DaemonHooks> make_daemon_hooks();

struct DaemonOptions {
  /// Print events, reps and set results as JSON lines on stdout (for
  /// technicians and the end-to-end tests).
  bool json_lines = false;
  /// With json_lines: also print one trace sample every N loop cycles (0 = none).
  int trace_every = 0;
  /// Run this one set once the machine is armed, then shut down (controlled
  /// unload) and exit: 0 when the set ended, 3 when the machine never armed.
  std::optional<controller::SetParams> run_set;
  /// Seconds to wait for the machine to arm before giving up on run_set.
  double arm_timeout_s = 10;
  /// Test hooks (soleusd-test only); null in soleusd.
  DaemonHooks* hooks = nullptr;
};

/// Runs until SIGTERM/SIGINT (or the end of run_set). Returns the exit code.
int run_daemon(const DaemonConfig& cfg, const DaemonOptions& opt);

}  // namespace soleus::app
