#pragma once
// Shared helpers of the simulator's unit tests.
#include <string>

#include "soleus/common/config_reader.hpp"
#include "soleus/drivers/machine_config.hpp"

namespace soleus::sim::test {

inline std::string source_path(const std::string& rel) {
  return std::string(SOLEUS_SOURCE_DIR) + "/" + rel;
}

inline drivers::MachineConfig load_config(const std::string& rel = "config/sim.toml") {
  const auto doc = config::Document::parse_file(source_path(rel));
  return drivers::MachineConfig::parse(doc.root());
}

}  // namespace soleus::sim::test
