// soleus-sim: the simulated reference machine. A thin main: options, config,
// Machine, endpoints, then serve until SIGINT/SIGTERM.
#include <boost/asio.hpp>
#include <iostream>

#include "soleus/common/config_reader.hpp"
#include "soleus/common/log.hpp"
#include "soleus/common/version.hpp"
#include "soleus/sim/machine.hpp"
#include "soleus/sim/options.hpp"
#include "soleus/sim/servers.hpp"

using namespace soleus;

int main(int argc, char** argv) {
  sim::SimOptions opt;
  try {
    opt = sim::parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "soleus-sim: " << e.what() << "\n";
    return 2;
  }
  if (opt.help) {
    std::cout << sim::usage();
    return 0;
  }
  if (opt.version) {
    std::cout << "soleus-sim " << soleus::kVersion << "\n";
    return 0;
  }
  if (opt.ctl_port) {
    try {
      const std::string reply = sim::control_request("127.0.0.1", *opt.ctl_port, opt.ctl_json);
      std::cout << reply << std::endl;
      auto v = boost::json::parse(reply);
      const auto* ok = v.is_object() ? v.as_object().if_contains("ok") : nullptr;
      return ok && ok->is_bool() && ok->as_bool() ? 0 : 1;
    } catch (const std::exception& e) {
      std::cerr << "soleus-sim: " << e.what() << "\n";
      return 2;
    }
  }
  if (!opt.log_level.empty()) {
    log::Level lv;
    if (!log::parse_level(opt.log_level, lv)) {
      std::cerr << "soleus-sim: --log-level must be error, warning, notice, info or debug\n";
      return 2;
    }
    log::set_level(lv);
  }

  drivers::MachineConfig cfg;
  try {
    const auto doc = config::Document::parse_file(opt.config_path);
    cfg = drivers::MachineConfig::parse(doc.root());  // other sections belong to the daemon
  } catch (const std::exception& e) {
    std::cerr << "soleus-sim: " << e.what() << "\n";
    return 2;
  }

  sim::Machine machine(cfg, sim::AthleteSettings{}, opt.seed);
  for (const auto& req : opt.setup) {
    auto reply = machine.control(req);
    if (!reply["ok"].as_bool()) {
      std::cerr << "soleus-sim: " << boost::json::serialize(reply["error"]) << "\n";
      return 2;
    }
  }

  const int baud = opt.baud ? opt.baud : (cfg.transport.baud > 0 ? cfg.transport.baud : 115200);
  const char parity = opt.parity ? opt.parity : cfg.transport.parity;
  const sim::WireTime wt{opt.wire_time, baud};
  std::optional<std::string> tcp = opt.tcp;
  if (!tcp && !opt.rtu) {
    if (cfg.transport.kind != drivers::TransportConfig::Kind::Tcp) {
      std::cerr
          << "soleus-sim: the config's transport is RTU: give --rtu PATH (the other end of the "
             "daemon's serial line) or --tcp [HOST:]PORT\n";
      return 2;
    }
    tcp = cfg.transport.host + ":" + std::to_string(cfg.transport.port);
  }

  boost::asio::io_context io;
  std::unique_ptr<sim::ModbusTcpServer> tcp_server;
  std::unique_ptr<sim::ControlServer> control_server;
  std::unique_ptr<sim::RtuServer> rtu_server;
  try {
    if (tcp) {
      std::string host;
      int port = 0;
      sim::split_host_port(*tcp, host, port);
      tcp_server = std::make_unique<sim::ModbusTcpServer>(io, machine, host, port, wt);
      std::cout << "soleus-sim: modbus tcp " << tcp_server->host() << ":" << tcp_server->port()
                << std::endl;
    }
    if (opt.rtu) {
      rtu_server = std::make_unique<sim::RtuServer>(machine, *opt.rtu, baud, parity, wt);
      std::cout << "soleus-sim: modbus rtu " << *opt.rtu << std::endl;
    }
    if (opt.control_port) {
      control_server =
          std::make_unique<sim::ControlServer>(io, machine, opt.control_host, *opt.control_port);
      std::cout << "soleus-sim: control " << opt.control_host << ":" << control_server->port()
                << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "soleus-sim: " << e.what() << "\n";
    return 1;
  }
  log::info("soleus-sim: ", opt.config_path, ", units drive=", cfg.units.drive,
            " load_cell=", cfg.units.load_cell,
            opt.wire_time ? ", wire time at " + std::to_string(baud) + " baud" : std::string());

  sim::PhysicsClock clock(machine);
  clock.start();
  if (rtu_server) rtu_server->start();
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    log::info("soleus-sim: signal ", sig, ", stopping");
    io.stop();
  });
  io.run();
  if (rtu_server) rtu_server->stop();
  clock.stop();
  return 0;
}
