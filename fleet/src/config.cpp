#include "soleus/fleet/config.hpp"

#include <cctype>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

namespace soleus::fleet {

namespace {
bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
}  // namespace

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return true;
}

bool valid_prefix(std::string_view s) {
  if (s.empty() || s.size() > 64 || s.front() == '/' || s.back() == '/') return false;
  char prev = '/';
  for (char c : s) {
    if (c == '/') {
      if (prev == '/') return false;
    } else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return false;
    }
    prev = c;
  }
  return true;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  return host.starts_with("127.") && host.find_first_not_of("0123456789.") == std::string::npos;
}

BrokerUrl parse_broker_url(std::string_view url) {
  BrokerUrl b;
  std::string_view rest;
  if (url.starts_with("mqtt://")) {
    rest = url.substr(7);
  } else if (url.starts_with("mqtts://")) {
    b.tls = true;
    rest = url.substr(8);
  } else {
    throw std::invalid_argument("must start with mqtt:// or mqtts://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos)
    throw std::invalid_argument("only mqtt[s]://host:port (no path, query or user)");
  std::string_view host = rest, port;
  if (rest.starts_with("[")) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("unclosed [ in the host");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') throw std::invalid_argument("expected :port after ]");
      port = after.substr(1);
    }
  } else {
    const auto colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    }
  }
  if (host.empty()) throw std::invalid_argument("no host");
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':')
      throw std::invalid_argument("the host has a character that is not allowed");
  b.host = std::string(host);
  b.port = b.tls ? 8883 : 1883;
  if (!port.empty() || (rest.size() && rest.back() == ':')) {
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
      throw std::invalid_argument("the port must be a number 1..65535");
    b.port = std::stoi(std::string(port));
    if (b.port < 1 || b.port > 65535) throw std::invalid_argument("the port must be 1..65535");
  }
  return b;
}

std::string read_password_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string FleetConfig::site_root() const { return topic_prefix + "/" + site + "/"; }

std::string FleetConfig::own_topic(std::string_view leaf) const {
  return site_root() + machine + "/" + std::string(leaf);
}

FleetConfig FleetConfig::parse(const config::Section& s) {
  FleetConfig c;
  c.broker = s.string("broker");
  try {
    const BrokerUrl u = parse_broker_url(c.broker);
    c.tls = u.tls;
    c.host = u.host;
    c.port = u.port;
  } catch (const std::invalid_argument& e) {
    s.fail("broker", std::string("\"") + c.broker + "\": " + e.what());
  }
  c.machine = s.string("machine");
  if (!valid_name(c.machine))
    s.fail("machine", "\"" + c.machine + "\" is not a name: [a-z0-9][a-z0-9_-]{0,31}");
  c.site = s.string("site");
  if (!valid_name(c.site))
    s.fail("site", "\"" + c.site + "\" is not a name: [a-z0-9][a-z0-9_-]{0,31}");
  c.topic_prefix = s.string("topic_prefix", c.topic_prefix);
  if (!valid_prefix(c.topic_prefix))
    s.fail("topic_prefix", "\"" + c.topic_prefix +
                               "\": levels of letters, digits, '_' and '-' separated by '/' "
                               "(no wildcards, no leading or trailing '/')");

  auto readable = [&](std::string_view key, const std::string& path) {
    if (path.empty()) s.fail(key, "must not be empty");
    if (::access(path.c_str(), R_OK) != 0)
      s.fail(key, "\"" + path + "\" does not exist or is not readable by this user");
  };
  c.ca_file = s.string("ca_file", "");
  c.cert_file = s.string("cert_file", "");
  c.key_file = s.string("key_file", "");
  if (s.has("ca_file")) readable("ca_file", c.ca_file);
  if (s.has("cert_file")) readable("cert_file", c.cert_file);
  if (s.has("key_file")) readable("key_file", c.key_file);
  if (c.tls && c.ca_file.empty())
    s.fail("ca_file", "mqtts:// needs ca_file (the CA that signed the broker's certificate)");
  if (!c.tls && (s.has("ca_file") || s.has("cert_file") || s.has("key_file")))
    s.fail(s.has("ca_file") ? "ca_file" : (s.has("cert_file") ? "cert_file" : "key_file"),
           "TLS files need an mqtts:// broker");
  if (c.cert_file.empty() != c.key_file.empty())
    s.fail(c.cert_file.empty() ? "cert_file" : "key_file",
           "cert_file and key_file go together (client-certificate authentication)");

  c.username = s.string("username", c.machine);
  if (c.username.empty() || c.username.size() > 64)
    s.fail("username", "must be 1 to 64 characters");
  c.password_file = s.string("password_file", "");
  if (s.has("password_file")) readable("password_file", c.password_file);

  c.allow_plaintext = s.boolean("allow_plaintext", false);
  if (!c.tls && !c.allow_plaintext && !is_loopback_host(c.host))
    s.fail("broker", "mqtt:// (no TLS) to " + c.host +
                         ", a host not on loopback: PIN hashes and member data would travel in "
                         "clear; use mqtts:// or set allow_plaintext = true");

  c.keepalive_s = static_cast<int>(s.integer("keepalive_s", c.keepalive_s, 5, 3600));
  c.status_period_s = static_cast<int>(s.integer("status_period_s", c.status_period_s, 1, 3600));
  c.metrics_period_s =
      static_cast<int>(s.integer("metrics_period_s", c.metrics_period_s, 1, 86400));
  c.outbox_max_rows = s.integer("outbox_max_rows", c.outbox_max_rows, 100, 100'000'000);
  c.outbox_max_age_days =
      static_cast<int>(s.integer("outbox_max_age_days", c.outbox_max_age_days, 1, 3650));
  c.pin_pepper_file = s.string("pin_pepper_file", "");
  if (s.has("pin_pepper_file")) readable("pin_pepper_file", c.pin_pepper_file);
  s.finish();
  return c;
}

}  // namespace soleus::fleet
