// soleusctl: the technicians' command-line tool (over SSH on the machine).
// Exit codes: 0 ok, 1 usage error, 2 configuration error, 3 machine or daemon
// unreachable, 4 partial failure.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <iomanip>
#include <optional>

#include "soleus/app/daemon_config.hpp"
#include "soleus/app/probe.hpp"
#include "soleus/common/config_reader.hpp"
#include "soleus/hmi/security.hpp"

namespace {

constexpr const char* kDefaultConfig = "/etc/soleus/soleus.toml";

void usage(std::ostream& os) {
  os << "usage: soleusctl [--config FILE] [--json] COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  probe [--count N] [--interval-ms MS]\n"
        "                      read the machine directly (read-only: never enables the drive)\n"
        "                      and print every decoded signal; stop the daemon first on RTU\n"
        "  check-config FILE   validate a configuration file without touching hardware\n"
        "\n"
        "options:\n"
        "  --config FILE       machine configuration (default " << kDefaultConfig << ")\n"
        "  --json              one JSON object a line instead of a table\n"
        "\n"
        "exit codes: 0 ok, 1 usage, 2 configuration error, 3 unreachable, 4 partial failure\n";
}

namespace http = boost::beast::http;

/// One GET over HTTP/1.1 with a 5 s limit. Throws boost::system::system_error.
std::pair<unsigned, std::string> http_get(const std::string& host, const std::string& port,
                                          const std::string& target) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  boost::beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(5));
  stream.connect(resolver.resolve(host, port));
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "soleusctl");
  http::write(stream, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  boost::beast::error_code ec;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  return {res.result_int(), res.body()};
}

double num(const boost::json::value& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return 0;
}

int run_status(const std::string& host, const std::string& port, bool json) {
  std::pair<unsigned, std::string> r;
  try {
    r = http_get(host, port, "/api/v1/status");
  } catch (const std::exception& e) {
    std::cerr << "soleusctl: status: cannot reach the daemon at " << host << ":" << port << ": "
              << e.what() << "\n";
    return 3;
  }
  if (r.first != 200) {
    std::cerr << "soleusctl: status: HTTP " << r.first << ": " << r.second << "\n";
    return 4;
  }
  if (json) {
    std::cout << r.second << "\n";
    return 0;
  }
  boost::system::error_code ec;
  const auto v = boost::json::parse(r.second, ec);
  if (ec || !v.is_object()) {
    std::cerr << "soleusctl: status: the reply is not a JSON object\n";
    return 4;
  }
  const auto& o = v.get_object();
  auto row = [](const char* k, const std::string& val) {
    std::cout << std::left << std::setw(14) << k << val << "\n";
  };
  auto fixed = [](double d, int prec) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(prec) << d;
    return os.str();
  };
  row("state", o.contains("state") ? std::string(o.at("state").as_string()) : "?");
  row("position", fixed(num(o.at("position_mm")), 1) + " mm");
  row("force", fixed(num(o.at("force_n")), 1) + " N");
  row("load", fixed(num(o.at("load_n")), 1) + " N");
  row("set", o.at("set_id").is_null() ? "-" : std::to_string(static_cast<long long>(num(o.at("set_id")))));
  if (auto* lp = o.if_contains("loop"); lp && lp->is_object()) {
    const auto& l = lp->get_object();
    row("loop", fixed(num(l.at("hz")), 1) + " Hz, p99 " + fixed(num(l.at("p99_ms")), 2) +
                    " ms, " + std::to_string(static_cast<long long>(num(l.at("overruns")))) +
                    " overruns");
  }
  const auto& faults = o.at("faults").as_array();
  if (faults.empty()) row("faults", "none");
  for (const auto& f : faults) {
    const auto& fo = f.as_object();
    row("fault", std::string(fo.at("code").as_string()) + ": " +
                     std::string(fo.at("message").as_string()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = kDefaultConfig;
  bool json = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (a == "--json") json = true;
    else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else args.push_back(a);
  }
  if (args.empty()) {
    usage(std::cerr);
    return 1;
  }
  const std::string cmd = args[0];
  try {
    if (cmd == "check-config") {
      if (args.size() != 2) {
        std::cerr << "soleusctl: check-config needs exactly one FILE\n";
        return 1;
      }
      auto cfg = soleus::app::load_daemon_config(args[1]);
      std::cout << args[1] << ": ok (" << soleus::app::describe(cfg) << ")\n";
      return 0;
    }
    if (cmd == "hash-pin") {
      if (args.size() != 2 || !soleus::hmi::is_valid_pin(args[1])) {
        std::cerr << "soleusctl: hash-pin needs one PIN of 4 to 12 digits\n";
        return 1;
      }
      std::cout << soleus::hmi::make_pin_hash(args[1]) << "\n";
      return 0;
    }
    if (cmd == "status") {
      std::optional<std::string> api;
      for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--api" && i + 1 < args.size()) api = args[++i];
        else {
          std::cerr << "soleusctl: status: unknown argument " << args[i] << "\n";
          return 1;
        }
      }
      std::string host, port;
      if (api) {
        const auto colon = api->rfind(':');
        if (colon == std::string::npos) {
          std::cerr << "soleusctl: status: --api takes HOST:PORT\n";
          return 1;
        }
        host = api->substr(0, colon);
        port = api->substr(colon + 1);
      } else {
        auto cfg = soleus::app::load_daemon_config(config_path);
        host = cfg.hmi.bind_address;
        if (host == "0.0.0.0") host = "127.0.0.1";
        if (host == "::") host = "::1";
        port = std::to_string(cfg.hmi.port);
      }
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      return run_status(host, port, json);
    }
    if (cmd == "probe") {
      soleus::app::ProbeOptions opt;
      opt.json = json;
      for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--count" && i + 1 < args.size()) opt.count = std::atoi(args[++i].c_str());
        else if (args[i] == "--interval-ms" && i + 1 < args.size())
          opt.interval_ms = std::atof(args[++i].c_str());
        else {
          std::cerr << "soleusctl: probe: unknown argument " << args[i] << "\n";
          return 1;
        }
      }
      if (opt.count < 0 || opt.interval_ms < 1) {
        std::cerr << "soleusctl: probe: --count must be >= 0 and --interval-ms >= 1\n";
        return 1;
      }
      auto cfg = soleus::app::load_daemon_config(config_path);
      return soleus::app::run_probe(cfg.machine, opt, std::cout);
    }
  } catch (const soleus::config::ConfigError& e) {
    std::cerr << "soleusctl: configuration error: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "soleusctl: unknown command '" << cmd << "'\n";
  usage(std::cerr);
  return 1;
}
