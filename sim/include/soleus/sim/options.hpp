#pragma once
/// soleus-sim's command line. Athlete settings and faults given as flags are
/// turned into the same JSON requests the control channel takes, so there is
/// one code path for both (see docs/simulator.md).
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace soleus::sim {

struct SimOptions {
  std::string config_path;          ///< --config FILE (required)
  std::optional<std::string> tcp;   ///< --tcp [HOST:]PORT
  std::optional<std::string> rtu;   ///< --rtu PATH
  int baud = 0;                     ///< --baud (0 = the config's, else 115200)
  char parity = 0;                  ///< --parity N|E|O (0 = the config's)
  bool wire_time = false;           ///< --wire-time
  std::optional<int> control_port;  ///< --control-port PORT (0 = choose)
  std::string control_host = "127.0.0.1";
  std::optional<int> ctl_port;  ///< --ctl PORT '<json>': one-shot client
  std::string ctl_json;
  std::uint64_t seed = 1;                  ///< --seed
  std::string log_level;                   ///< --log-level
  std::vector<boost::json::object> setup;  ///< control requests applied before serving
  bool help = false;
  bool version = false;  ///< --version
};

/// Parses argv. Throws std::invalid_argument with a message naming the option.
SimOptions parse_options(int argc, const char* const* argv);
std::string usage();
/// Splits "[HOST:]PORT"; host defaults to 127.0.0.1. Throws on a bad port.
void split_host_port(const std::string& text, std::string& host, int& port);

}  // namespace soleus::sim
