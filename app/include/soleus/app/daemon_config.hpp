#pragma once
/// The whole configuration of one installation, as soleusd reads it: the
/// drivers' sections, the controller's, and the daemon's own ([log]).
/// Each component parses and validates its own sections; this file adds the
/// rules that span components (a loop that cannot fit its bus, a drive
/// watchdog shorter than a few loop periods).
#include <optional>
#include <string>

#include "soleus/common/log.hpp"
#include "soleus/controller/config.hpp"
#include "soleus/drivers/machine_config.hpp"
#include "soleus/fleet/config.hpp"
#include "soleus/hmi/config.hpp"
#include "soleus/programme/assessment.hpp"
#include "soleus/storage/config.hpp"

namespace soleus::app {

/// [log]
struct LogConfig {
  log::Level level = log::Level::Info;  ///< level
};

struct DaemonConfig {
  std::string path;
  drivers::MachineConfig machine;
  controller::ControlConfig control;    ///< [control]
  controller::TrainingConfig training;  ///< [training]
  LogConfig log;
  /// [storage] (optional; defaults). A relative db_path is resolved against
  /// the configuration file's directory, so a test's or demo's copy of the
  /// file keeps its own database beside it.
  storage::StorageConfig storage;
  /// [hmi] (optional; defaults: 127.0.0.1:8080). max_load_n is copied from
  /// [limits]. When asset_dir is not given and the installed directory does
  /// not exist, the build tree's copy (hmi/web-dist) is used.
  hmi::HmiConfig hmi;
  /// [assessment] (optional; defaults): the guided strength assessment.
  programme::assessment::Config assessment;
  /// [fleet] (optional): the gym's MQTT broker (docs/fleet.md). Absent = no
  /// MQTT at all, and the store keeps no outbox (storage.outbox false).
  std::optional<fleet::FleetConfig> fleet;
};

/// Reads and validates FILE. Throws config::ConfigError naming file, line and key.
DaemonConfig load_daemon_config(const std::string& path);
/// One line summary, e.g. "tcp 127.0.0.1:1502, 100 Hz, max load 1800 N".
std::string describe(const DaemonConfig& cfg);

}  // namespace soleus::app
