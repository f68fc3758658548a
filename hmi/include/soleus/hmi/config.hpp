#pragma once
/// The HMI server's configuration: the [hmi] section of soleus.toml.
/// Every key is optional; the defaults are safe (localhost only, staff and
/// maintenance logins disabled until a PIN hash is configured).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace soleus::config {
class Section;
}

namespace soleus::hmi {

struct HmiConfig {
  std::string bind_address = "127.0.0.1";           ///< bind: IPv4/IPv6 literal to listen on
  std::uint16_t port = 8080;                        ///< port: 0 picks a free port (tests)
  std::string asset_dir = "/usr/share/soleus/hmi";  ///< asset_dir: the HMI's static files
  /// allowed_origins: browser origins allowed to change state and open the live
  /// WebSocket, e.g. "http://192.168.1.20:8080". Empty: the server's own
  /// address, http://localhost:PORT and http://127.0.0.1:PORT.
  std::vector<std::string> allowed_origins;
  std::string staff_pin_hash;  ///< staff_pin_hash: make_pin_hash() output; "" disables staff login
  std::string maintenance_pin_hash;      ///< maintenance_pin_hash: idem for maintenance
  double token_lifetime_s = 8 * 3600.0;  ///< token_lifetime_s: a token's absolute lifetime
  double member_idle_s = 300;  ///< member_idle_logout_s: idle time that logs a member or guest out
  double staff_idle_s = 300;  ///< staff_idle_logout_s: idle time that logs staff or maintenance out
  double guest_load_cap_n = 600;  ///< guest_load_cap_n: the highest load a guest may ask for
  double live_rate_hz = 25;       ///< live_rate_hz: WebSocket frames per second (20–30)
  std::size_t body_limit =
      std::size_t{16} * 1024;        ///< body_limit_bytes: larger request bodies get 413
  double live_stall_timeout_s = 10;  ///< live_stall_timeout_s: a client silent this long is closed
  int io_threads = 1;                ///< io_threads: network threads
  int worker_threads = 2;            ///< worker_threads: threads that call the backend
  /// metrics_token: the scrape token a Prometheus server on another host sends
  /// to GET /metrics (Authorization: Bearer …); 32+ characters. Empty: /metrics
  /// is served to loopback peers only (docs/api.md, "GET /metrics").
  std::string metrics_token;
  /// Not a key: the daemon copies [limits] max_load_n here so that loads above
  /// the machine's limit are refused with 422 before reaching the backend.
  double max_load_n = 2000;

  /// Reads the [hmi] section (every key optional) and validates it; errors name
  /// the file, the line and the key. `max_load_n` is the machine's [limits]
  /// max_load_n (the guest cap must not exceed it).
  static HmiConfig parse(const config::Section& hmi, double max_load_n = 2000);
  /// Checks a configuration built in code. Returns {key, message} of the first
  /// problem, or nullopt. parse() reports the same problems with their line.
  std::optional<std::pair<std::string, std::string>> check() const;
  /// Throws std::invalid_argument("key: message") on the first problem.
  void validate() const;
};

}  // namespace soleus::hmi
