#pragma once
/// `soleusctl probe`: reads the machine through the drivers, read-only, and
/// prints every decoded signal. Never enables the drive or writes a command.
#include <iosfwd>

#include "soleus/drivers/machine_config.hpp"

namespace soleus::ctl {

struct ProbeOptions {
  int count = 0;             ///< samples to print; 0 = until interrupted
  double interval_ms = 200;  ///< time between samples
  bool json = false;         ///< one JSON object a line instead of a table
};

/// Returns a process exit code: 0 when every sample was read, 3 when the
/// machine did not answer, 4 when some reads failed.
int probe_machine(const drivers::MachineConfig& cfg, const ProbeOptions& opt, std::ostream& out);

}  // namespace soleus::ctl
