// soleusctl probe, status, wait-idle, check-config, hash-pin: the machine and the daemon.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "probe.hpp"
#include "soleus/app/daemon_config.hpp"
#include "soleus/ctl/ctl.hpp"
#include "soleus/ctl/table.hpp"
#include "soleus/hmi/security.hpp"

namespace soleus::ctl {

namespace {

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

// The daemon's API endpoint: --api HOST:PORT, else [hmi] of the configuration.
std::pair<std::string, std::string> api_endpoint(const Context& ctx, const Args& a,
                                                 const std::string& cmd) {
  std::string host, port;
  if (auto api = a.get("--api")) {
    const auto colon = api->rfind(':');
    if (colon == std::string::npos || colon + 1 == api->size())
      throw UsageError(cmd + ": --api takes HOST:PORT, not '" + *api + "'");
    host = api->substr(0, colon);
    port = api->substr(colon + 1);
  } else {
    auto cfg = app::load_daemon_config(ctx.config_path);
    host = cfg.hmi.bind_address;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    port = std::to_string(cfg.hmi.port);
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, port};
}

int run_status(Context& ctx, const Args& a) {
  const auto [host, port] = api_endpoint(ctx, a, "status");
  std::ostream& out = *ctx.out;
  std::pair<unsigned, std::string> r;
  try {
    r = http_get(host, port, "/api/v1/status");
  } catch (const boost::system::system_error& e) {
    // code().message(): what() also carries Asio's source location.
    throw Unreachable("status: cannot reach the daemon at " + host + ":" + port + ": " +
                      e.code().message());
  } catch (const std::exception& e) {
    throw Unreachable("status: cannot reach the daemon at " + host + ":" + port + ": " + e.what());
  }
  if (r.first != 200) {
    *ctx.err << "soleusctl: status: HTTP " << r.first << ": " << r.second << "\n";
    return kPartial;
  }
  if (ctx.json) {
    out << r.second << "\n";
    return kOk;
  }
  boost::system::error_code ec;
  const auto v = boost::json::parse(r.second, ec);
  if (ec || !v.is_object()) {
    *ctx.err << "soleusctl: status: the reply is not a JSON object\n";
    return kPartial;
  }
  const auto& o = v.get_object();
  Table t({{"field"}, {"value"}});
  t.add({"state", o.contains("state") ? std::string(o.at("state").as_string()) : "?"});
  t.add({"position", format_fixed(num(o.at("position_mm")), 1) + " mm"});
  t.add({"force", format_fixed(num(o.at("force_n")), 1) + " N"});
  t.add({"load", format_fixed(num(o.at("load_n")), 1) + " N"});
  t.add({"set", o.at("set_id").is_null()
                    ? "-"
                    : std::to_string(static_cast<long long>(num(o.at("set_id"))))});
  if (auto* lp = o.if_contains("loop"); lp && lp->is_object()) {
    const auto& l = lp->get_object();
    t.add({"loop", format_fixed(num(l.at("hz")), 1) + " Hz, p99 " +
                       format_fixed(num(l.at("p99_ms")), 2) + " ms, " +
                       std::to_string(static_cast<long long>(num(l.at("overruns")))) +
                       " overruns"});
  }
  const auto& faults = o.at("faults").as_array();
  if (faults.empty()) t.add({"faults", "none"});
  for (const auto& f : faults) {
    const auto& fo = f.as_object();
    t.add({"fault", std::string(fo.at("code").as_string()) + ": " +
                        std::string(fo.at("message").as_string())});
  }
  t.print(out);
  return kOk;
}

// The states in which a member is in the machine (docs/api.md, GET /status).
bool member_in_machine(const boost::json::object& o) {
  if (auto* id = o.if_contains("set_id"); id && !id->is_null()) return true;
  const auto* st = o.if_contains("state");
  if (!st || !st->is_string()) return true;  // unknown: assume busy
  const std::string_view s = st->get_string();
  return s == "calibrating" || s == "active" || s == "unloading" || s == "rest";
}

// Waits until no member is in the machine (for a package upgrade's restart).
int run_wait_idle(Context& ctx, const Args& a) {
  const auto [host, port] = api_endpoint(ctx, a, "wait-idle");
  const auto timeout_s =
      a.get("--timeout") ? parse_int(*a.get("--timeout"), "--timeout", 0, 86400) : 600;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool told = false;
  for (;;) {
    std::pair<unsigned, std::string> r;
    try {
      r = http_get(host, port, "/api/v1/status");
    } catch (const boost::system::system_error& e) {
      throw Unreachable("wait-idle: cannot reach the daemon at " + host + ":" + port + ": " +
                        e.code().message());
    } catch (const std::exception& e) {
      throw Unreachable("wait-idle: cannot reach the daemon at " + host + ":" + port + ": " +
                        e.what());
    }
    boost::system::error_code ec;
    const auto v = boost::json::parse(r.second, ec);
    if (r.first != 200 || ec || !v.is_object()) {
      *ctx.err << "soleusctl: wait-idle: HTTP " << r.first << ": not a status reply\n";
      return kPartial;
    }
    if (!member_in_machine(v.get_object())) {
      *ctx.out << "idle\n";
      return kOk;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      *ctx.out << "busy: a set or session is still running after " << timeout_s << " s\n";
      return kProblem;
    }
    if (!told) {
      *ctx.out << "waiting: a member is in the machine (state "
               << boost::json::serialize(v.get_object().contains("state") ? v.at("state") : nullptr)
               << ")\n";
      ctx.out->flush();
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

int run_probe(Context& ctx, const Args& a) {
  ProbeOptions opt;
  opt.json = ctx.json;
  if (auto v = a.get("--count"))
    opt.count = static_cast<int>(parse_int(*v, "--count", 0, 1000000000));
  if (auto v = a.get("--interval-ms"))
    opt.interval_ms = static_cast<double>(parse_int(*v, "--interval-ms", 1, 3600000));
  auto cfg = app::load_daemon_config(ctx.config_path);
  return probe_machine(cfg.machine, opt, *ctx.out);
}

int run_check_config(Context& ctx, const Args& a) {
  if (a.positional.size() != 1) throw UsageError("check-config: needs exactly one FILE");
  auto cfg = app::load_daemon_config(a.positional[0]);
  *ctx.out << a.positional[0] << ": ok (" << app::describe(cfg) << ")\n";
  return kOk;
}

int run_hash_pin(Context& ctx, const Args& a) {
  if (a.positional.size() != 1 || !hmi::is_valid_pin(a.positional[0]))
    throw UsageError("hash-pin: needs one PIN of 4 to 12 digits");
  *ctx.out << hmi::make_pin_hash(a.positional[0]) << "\n";
  return kOk;
}

}  // namespace

std::vector<Command> machine_commands() {
  return {
      {"probe",
       "[--count N] [--interval-ms MS]",
       "Reads the machine's signals directly, read-only.\n"
       "Never enables the drive or writes a command; prints every decoded signal. Stop the\n"
       "daemon first on RTU (one master per bus).",
       {{"--count", "N", "samples to print (default 0: until interrupted)"},
        {"--interval-ms", "MS", "time between samples (default 200)"}},
       0,
       "",
       run_probe},
      {"status",
       "[--api HOST:PORT]",
       "The daemon's state through its HTTP API (GET /api/v1/status).",
       {{"--api", "HOST:PORT",
         "the daemon's API (default: [hmi] bind and port of the configuration)"}},
       0,
       "",
       run_status},
      {"wait-idle",
       "[--timeout S] [--api HOST:PORT]",
       "Waits until no member is in the machine; for a restart (the package's upgrade).\n"
       "Polls GET /api/v1/status every 2 s until no set, calibration, unload or session rest\n"
       "runs. Exit 0 idle, 1 still busy at the timeout, 3 daemon unreachable.",
       {{"--timeout", "S", "give up after S seconds (default 600)"},
        {"--api", "HOST:PORT",
         "the daemon's API (default: [hmi] bind and port of the configuration)"}},
       0,
       "",
       run_wait_idle},
      {"check-config",
       "FILE",
       "Validates a configuration file without touching hardware.",
       {},
       1,
       "",
       run_check_config},
      {"hash-pin",
       "PIN",
       "Prints the hash of a staff or maintenance PIN for [hmi] *_pin_hash.",
       {},
       1,
       "",
       run_hash_pin},
  };
}

}  // namespace soleus::ctl
