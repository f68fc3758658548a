#include "soleus/hmi/config.hpp"

#include <stdexcept>

#include "soleus/common/config_reader.hpp"
#include "soleus/hmi/metrics.hpp"
#include "soleus/hmi/security.hpp"

namespace soleus::hmi {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

/// An origin is scheme://host[:port] with nothing after it.
bool valid_origin(const std::string& o) {
  std::string_view v = o;
  if (v.rfind("http://", 0) == 0) v.remove_prefix(7);
  else if (v.rfind("https://", 0) == 0) v.remove_prefix(8);
  else return false;
  if (v.empty()) return false;
  for (char c : v)
    if (c == '/' || c == '?' || c == '#' || c == '@' || c == ' ') return false;
  return true;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> HmiConfig::check() const {
  using P = std::pair<std::string, std::string>;
  if (bind_address.empty()) return P{"bind", "must not be empty"};
  if (asset_dir.empty()) return P{"asset_dir", "must not be empty"};
  for (const auto& o : allowed_origins)
    if (!valid_origin(o))
      return P{"allowed_origins", "\"" + o + "\" is not an origin like http://host:port"};
  std::string why;
  if (!staff_pin_hash.empty() && !is_valid_pin_hash(staff_pin_hash, &why))
    return P{"staff_pin_hash", why};
  if (!maintenance_pin_hash.empty() && !is_valid_pin_hash(maintenance_pin_hash, &why))
    return P{"maintenance_pin_hash", why};
  if (!(token_lifetime_s >= 60 && token_lifetime_s <= 7 * 86400.0))
    return P{"token_lifetime_s", "must be within [60, 604800]"};
  if (!(staff_idle_s >= 10 && staff_idle_s <= 86400))
    return P{"staff_idle_logout_s", "must be within [10, 86400]"};
  if (!(member_idle_s >= 10 && member_idle_s <= 86400))
    return P{"member_idle_logout_s", "must be within [10, 86400]"};
  if (!(guest_load_cap_n >= 0 && guest_load_cap_n <= max_load_n))
    return P{"guest_load_cap_n", "must be within [0, the machine's max_load_n]"};
  if (!(live_rate_hz >= 1 && live_rate_hz <= 60))
    return P{"live_rate_hz", "must be within [1, 60]"};
  if (body_limit < 1024 || body_limit > std::size_t{1024} * 1024)
    return P{"body_limit_bytes", "must be within [1024, 1048576]"};
  if (!(live_stall_timeout_s >= 1 && live_stall_timeout_s <= 600))
    return P{"live_stall_timeout_s", "must be within [1, 600]"};
  if (io_threads < 1 || io_threads > 8) return P{"io_threads", "must be within [1, 8]"};
  if (worker_threads < 1 || worker_threads > 8) return P{"worker_threads", "must be within [1, 8]"};
  if (!metrics_token.empty() && !is_valid_metrics_token(metrics_token, &why))
    return P{"metrics_token", why};
  if (!(max_load_n > 0)) return P{"max_load_n", "must be positive"};
  return std::nullopt;
}

void HmiConfig::validate() const {
  if (auto p = check()) throw std::invalid_argument("hmi." + p->first + ": " + p->second);
}

HmiConfig HmiConfig::parse(const config::Section& s, double max_load_n) {
  HmiConfig c;
  c.max_load_n = max_load_n;
  c.bind_address = s.string("bind", c.bind_address);
  c.port = static_cast<std::uint16_t>(s.integer("port", c.port, 0, 65535));
  c.asset_dir = s.string("asset_dir", c.asset_dir);
  c.allowed_origins = split_list(s.string("allowed_origins", ""));
  c.staff_pin_hash = s.string("staff_pin_hash", "");
  c.maintenance_pin_hash = s.string("maintenance_pin_hash", "");
  c.token_lifetime_s = s.number("token_lifetime_s", c.token_lifetime_s, 60, 7 * 86400.0);
  c.member_idle_s = s.number("member_idle_logout_s", c.member_idle_s, 10, 86400);
  c.staff_idle_s = s.number("staff_idle_logout_s", c.staff_idle_s, 10, 86400);
  c.guest_load_cap_n = s.number("guest_load_cap_n", c.guest_load_cap_n, 0, 1e5);
  c.live_rate_hz = s.number("live_rate_hz", c.live_rate_hz, 1, 60);
  c.body_limit = static_cast<std::size_t>(s.integer("body_limit_bytes",
                                                    static_cast<std::int64_t>(c.body_limit), 1024,
                                                    std::int64_t{1024} * 1024));
  c.live_stall_timeout_s = s.number("live_stall_timeout_s", c.live_stall_timeout_s, 1, 600);
  c.io_threads = static_cast<int>(s.integer("io_threads", c.io_threads, 1, 8));
  c.worker_threads = static_cast<int>(s.integer("worker_threads", c.worker_threads, 1, 8));
  c.metrics_token = s.string("metrics_token", "");
  s.finish();
  if (auto p = c.check()) s.fail(p->first, p->second);
  return c;
}

}  // namespace soleus::hmi
