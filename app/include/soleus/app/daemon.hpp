#pragma once
/// soleusd's main thread: starts the control loop on the machine, reports to
/// systemd, drains the loop's queues, and shuts down through the unload.
#include <optional>
#include <string>

#include "soleus/app/daemon_config.hpp"
#include "soleus/controller/types.hpp"

namespace soleus::app {

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
};

/// Runs until SIGTERM/SIGINT (or the end of run_set). Returns the exit code.
int run_daemon(const DaemonConfig& cfg, const DaemonOptions& opt);

}  // namespace soleus::app
