#pragma once
// Shared helpers of the driver tests: loading a shipped configuration.
#include <string>

#include "soleus/common/config_reader.hpp"
#include "soleus/drivers/machine_config.hpp"

namespace soleus::test {

/// config/<name> of the source tree.
inline std::string config_path(const std::string& name) {
  return std::string(SOLEUS_SOURCE_DIR) + "/config/" + name;
}

/// The drivers' part of a shipped configuration file.
inline drivers::MachineConfig load_machine(const std::string& path) {
  const auto doc = config::Document::parse_file(path);
  return drivers::MachineConfig::parse(doc.root());
}

/// The simulator configuration, pointed at a TCP server on localhost:port.
inline drivers::MachineConfig tcp_machine(int port, const std::string& name = "sim.toml") {
  auto cfg = load_machine(config_path(name));
  cfg.transport.kind = drivers::TransportConfig::Kind::Tcp;
  cfg.transport.host = "127.0.0.1";
  cfg.transport.port = port;
  // Generous on a loaded test machine, and no retries, so that counts of
  // requests are exact; tests of timeouts set their own.
  cfg.transport.response_timeout_ms = 500;
  cfg.transport.retries = 0;
  return cfg;
}

}  // namespace soleus::test
