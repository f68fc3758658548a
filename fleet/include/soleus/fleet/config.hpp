#pragma once
/// The [fleet] section (issue 14, docs/fleet.md): where the machine's MQTT
/// broker is, who the machine is, and how the outbox is bounded. No [fleet]
/// section means no MQTT at all (app/ keeps a std::optional<FleetConfig>).
#include <cstdint>
#include <string>
#include <string_view>

#include "soleus/common/config_reader.hpp"

namespace soleus::fleet {

/// [fleet]
struct FleetConfig {
  std::string broker;          ///< broker: "mqtt://host:port" or "mqtts://host:port"
  bool tls = false;            ///< from the scheme: mqtts
  std::string host;            ///< from broker
  int port = 0;                ///< from broker (default 1883, mqtts 8883)
  std::string machine;         ///< machine: client id, username, topic level
  std::string site;            ///< site: topic level
  std::string topic_prefix = "soleus";  ///< topic_prefix
  std::string ca_file;         ///< ca_file: the broker's CA (required with mqtts)
  std::string cert_file;       ///< cert_file: client certificate (with key_file)
  std::string key_file;        ///< key_file
  std::string username;        ///< username (default: machine)
  std::string password_file;   ///< password_file: a file holding the password
  bool allow_plaintext = false;  ///< allow_plaintext: mqtt:// to a host not on loopback
  int keepalive_s = 30;          ///< keepalive_s
  int status_period_s = 10;      ///< status_period_s
  int metrics_period_s = 60;     ///< metrics_period_s
  std::int64_t outbox_max_rows = 100000;  ///< outbox_max_rows
  int outbox_max_age_days = 30;           ///< outbox_max_age_days
  std::string pin_pepper_file;  ///< pin_pepper_file: site secret for shared PIN hashes

  /// Reads the [fleet] section, refuses unknown keys, checks files exist and
  /// are readable; errors name file, line and key.
  static FleetConfig parse(const config::Section& s);

  /// `<prefix>/<site>/<machine>/<leaf>`
  std::string own_topic(std::string_view leaf) const;
  /// `<prefix>/<site>/`
  std::string site_root() const;
};

/// The machine/site name grammar: [a-z0-9][a-z0-9_-]{0,31}.
bool valid_name(std::string_view s);
/// A topic prefix: one or more levels of [A-Za-z0-9_-], separated by '/'.
bool valid_prefix(std::string_view s);
/// True for localhost, 127.0.0.0/8 and ::1 (by text: no resolution).
bool is_loopback_host(std::string_view host);

struct BrokerUrl {
  bool tls = false;
  std::string host;
  int port = 0;
};
/// Parses "mqtt://host:port", "mqtts://host[:port]", "mqtt://[::1]:1883";
/// throws std::invalid_argument with the reason.
BrokerUrl parse_broker_url(std::string_view url);

/// The password from password_file: its first line, without the line end.
/// Throws std::runtime_error when it cannot be read.
std::string read_password_file(const std::string& path);

}  // namespace soleus::fleet
