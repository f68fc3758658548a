#include "soleus/app/systemd_generator.hpp"

#include <arpa/inet.h>
#include <strings.h>

#include <algorithm>
#include <sstream>

#include <cstdio>
#include <exception>
#include <fstream>
#include <system_error>

namespace soleus::app {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHeader =
    "# Written by soleus-generator from %s at boot and at each `systemctl daemon-reload`.\n"
    "# Do not edit: change the configuration and run `systemctl daemon-reload`.\n";

std::string header(const DaemonConfig& cfg) {
  char buf[512];
  std::snprintf(buf, sizeof buf, kHeader, cfg.path.c_str());
  return buf;
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return ::inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

/// host:port as ListenStream= and URLs write it ([v6]:port).
std::string host_port(const std::string& host, unsigned port) {
  return (is_ipv6(host) ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool valid_unit_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '_' || c == '.';
}

}  // namespace

std::vector<std::string> hosts_file_addresses(const std::string& name,
                                              const std::string& hosts_text) {
  std::vector<std::string> out;
  std::istringstream in(hosts_text);
  std::string line;
  while (std::getline(in, line)) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::string addr, word;
    if (!(words >> addr) || !(is_ipv4(addr) || is_ipv6(addr))) continue;
    while (words >> word)
      if (strcasecmp(word.c_str(), name.c_str()) == 0) {
        if (std::find(out.begin(), out.end(), addr) == out.end()) out.push_back(addr);
        break;
      }
  }
  return out;
}

EgressAllowList egress_allow_list(const DaemonConfig& cfg) {
  std::ifstream in("/etc/hosts");
  std::ostringstream text;
  text << in.rdbuf();
  return egress_allow_list(cfg, text.str());
}

EgressAllowList egress_allow_list(const DaemonConfig& cfg, const std::string& hosts_text) {
  EgressAllowList l;
  l.allow.push_back("localhost");  // 127.0.0.0/8 and ::1: soleus-sim, a local gateway
  const auto& t = cfg.machine.transport;
  if (t.kind == drivers::TransportConfig::Kind::Tcp) {
    if (is_ipv4(t.host) || is_ipv6(t.host)) {
      l.allow.push_back(t.host);
    } else if (t.host != "localhost") {
      l.warnings.push_back(
          "transport.host \"" + t.host +
          "\" is a host name: soleusd.service may reach only IP addresses named in the "
          "configuration (names cannot be resolved when the generator runs), so soleusd will not "
          "reach this gateway; write its IP address instead");
    }
  }
  // The fleet's broker (docs/fleet.md, "The network allow-list").
  if (cfg.fleet) {
    const std::string& h = cfg.fleet->host;
    auto add = [&](const std::string& a) {
      if (std::find(l.allow.begin(), l.allow.end(), a) == l.allow.end()) l.allow.push_back(a);
    };
    if (is_ipv4(h) || is_ipv6(h)) {
      add(h);
    } else if (h != "localhost") {
      const auto addrs = hosts_file_addresses(h, hosts_text);
      for (const auto& a : addrs) add(a);
      if (addrs.empty())
        l.warnings.push_back(
            "[fleet] broker host \"" + h +
            "\" is neither an IP address nor in /etc/hosts: soleusd.service may reach only IP "
            "addresses known when the generator runs (no DNS then), so soleusd will not reach "
            "the broker; add the name to /etc/hosts (TLS still checks the name) or write its "
            "IP address");
    }
  }
  return l;
}

std::string unit_name_from_path(std::string_view path, std::string_view suffix) {
  // systemd's path simplification: no empty, "." or trailing components.
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    const std::size_t j = std::min(path.find('/', i), path.size());
    const std::string_view part = path.substr(i, j - i);
    if (!part.empty() && part != ".") parts.push_back(part);
    i = j + 1;
  }
  std::string out;
  if (parts.empty()) out = "-";
  for (std::size_t p = 0; p < parts.size(); ++p) {
    if (p > 0) out += '-';
    for (std::size_t k = 0; k < parts[p].size(); ++k) {
      const char c = parts[p][k];
      if (valid_unit_char(c) && !(c == '.' && out.empty())) {
        out += c;
      } else {
        char esc[5];
        std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned char>(c));
        out += esc;
      }
    }
  }
  out += '.';
  out += suffix;
  return out;
}

GeneratorOutput systemd_dropins(const DaemonConfig& cfg) {
  GeneratorOutput o;
  const std::string head = header(cfg);

  {
    const EgressAllowList l = egress_allow_list(cfg);
    std::string s = head +
                    "# Where soleusd may connect: the unit has IPAddressDeny=any; these are its\n"
                    "# peers from the configuration (app/src/systemd_generator.cpp, "
                    "egress_allow_list).\n[Service]\n";
    for (const auto& a : l.allow) s += "IPAddressAllow=" + a + "\n";
    o.files.push_back({"soleusd.service.d/50-soleus-network.conf", s});
    o.warnings.insert(o.warnings.end(), l.warnings.begin(), l.warnings.end());
  }

  const auto& t = cfg.machine.transport;
  if (t.kind == drivers::TransportConfig::Kind::Rtu) {
    if (t.device.rfind("/dev/", 0) == 0) {
      const std::string unit = unit_name_from_path(t.device, "device");
      o.files.push_back(
          {"soleusd.service.d/50-soleus-device.conf",
           head +
               "# Modbus RTU: wait for the RS-485 adapter (99-soleus-rs485.rules tags it for\n"
               "# systemd) and allow it. The tty classes cover the adapter's node after a\n"
               "# replug, when the path points at another minor number.\n"
               "[Unit]\nWants=" +
               unit + "\nAfter=" + unit + "\n\n[Service]\nDeviceAllow=" + t.device +
               " rw\nDeviceAllow=char-ttyUSB rw\nDeviceAllow=char-ttyACM rw\n"
               "DeviceAllow=char-ttyS rw\nDeviceAllow=char-ttyAMA rw\n"});
    } else {
      o.warnings.push_back("transport.device \"" + t.device +
                           "\" is not under /dev/: soleusd.service neither waits for it nor may "
                           "open it (DevicePolicy=closed)");
    }
  }

  const auto& h = cfg.hmi;
  if (h.port == 0) {
    o.warnings.push_back(
        "hmi.port = 0 (a free port, for tests) cannot be a socket unit's port: "
        "soleus-hmi.socket keeps 127.0.0.1:8080");
  } else {
    o.files.push_back({"soleus-hmi.socket.d/50-soleus-listen.conf",
                       head +
                           "# [hmi] bind and port: soleusd accepts on this socket.\n"
                           "[Socket]\nListenStream=\nListenStream=" +
                           host_port(h.bind_address, h.port) + "\n"});
    // The kiosk opens the page on this machine: an unspecified bind is reached on loopback.
    std::string host = h.bind_address;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (is_ipv6(host)) {
      in6_addr a{};
      ::inet_pton(AF_INET6, host.c_str(), &a);
      if (IN6_IS_ADDR_UNSPECIFIED(&a)) host = "::1";
    }
    o.files.push_back({"soleus-kiosk.service.d/50-soleus-url.conf",
                       head +
                           "# The touchscreen page's address ([hmi] bind and port).\n"
                           "[Service]\nEnvironment=SOLEUS_HMI_URL=http://" +
                           host_port(host, h.port) + "/\n"});
  }
  return o;
}

GeneratorRun run_generator(const std::string& config_path, const fs::path& dir) {
  GeneratorRun r;
  DaemonConfig cfg;
  try {
    cfg = load_daemon_config(config_path);
  } catch (const std::exception& e) {
    r.messages.push_back(std::string("configuration refused, no drop-ins written (soleusd will "
                                     "refuse it too): ") +
                         e.what());
    return r;
  }
  r.config_ok = true;
  GeneratorOutput o;
  try {
    o = systemd_dropins(cfg);
  } catch (const std::exception& e) {
    r.messages.push_back(std::string("no drop-ins written: ") + e.what());
    return r;
  }
  r.messages = o.warnings;
  for (const auto& f : o.files) {
    const fs::path p = dir / f.path;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    std::ofstream out(p, std::ios::trunc);
    out << f.text;
    out.flush();
    if (ec || !out) {
      r.messages.push_back("cannot write " + p.string() +
                           (ec ? ": " + ec.message() : std::string()));
      continue;
    }
    ++r.written;
  }
  return r;
}

}  // namespace soleus::app
