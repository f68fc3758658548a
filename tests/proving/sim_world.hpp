#pragma once
/// The proving tests' world: soleus-sim's machine driven by the daemon's own
/// configuration for it (config/sim.toml).
#include "soleus/proving/world.hpp"

namespace soleus::proving::test {

inline WorldOptions sim_world(double max_s = WorldOptions{}.max_s) {
  WorldOptions o;
  o.config_path = SOLEUS_SOURCE_DIR "/config/sim.toml";
  o.max_s = max_s;
  return o;
}

}  // namespace soleus::proving::test
