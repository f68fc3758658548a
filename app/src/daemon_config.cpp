#include "soleus/app/daemon_config.hpp"

#include <sstream>

namespace soleus::app {

using config::Section;

DaemonConfig load_daemon_config(const std::string& path) {
  DaemonConfig c;
  c.path = path;
  const config::Document doc = config::Document::parse_file(path);
  const Section root = doc.root();
  c.machine = drivers::MachineConfig::parse(root);
  const auto& tr = c.machine.transport;
  const bool rtu = tr.kind == drivers::TransportConfig::Kind::Rtu;

  const Section control = root.section("control");
  c.loop.loop_hz = control.number("loop_hz", rtu ? 50.0 : 100.0, 1.0, 2000.0);
  c.loop.realtime = control.boolean("realtime", false);
  control.finish();

  if (auto lg = root.optional_section("log")) {
    const std::string level =
        lg->choice("level", "info", {"error", "warning", "notice", "info", "debug"});
    log::parse_level(level, c.log.level);
    lg->finish();
  }
  root.finish();

  // Rules that span components.
  const double period_ms = 1000.0 / c.loop.loop_hz;
  const double worst_ms = tr.response_timeout_ms * (1 + tr.retries);
  if (worst_ms >= period_ms) {
    std::ostringstream m;
    m << "a loop at " << c.loop.loop_hz << " Hz has a " << period_ms
      << " ms period, but one failed transaction can take response_timeout_ms x (1 + retries) = "
      << worst_ms << " ms; lower transport.response_timeout_ms or transport.retries, or loop_hz";
    control.fail("loop_hz", m.str());
  }
  if (c.machine.limits.watchdog_ms < 3 * period_ms) {
    std::ostringstream m;
    m << c.machine.limits.watchdog_ms << " ms is shorter than 3 loop periods (" << 3 * period_ms
      << " ms at " << c.loop.loop_hz << " Hz): one late cycle would trip the drive";
    root.section("limits").fail("watchdog_ms", m.str());
  }
  return c;
}

std::string describe(const DaemonConfig& c) {
  std::ostringstream os;
  const auto& t = c.machine.transport;
  if (t.kind == drivers::TransportConfig::Kind::Rtu)
    os << "rtu " << t.device << " " << t.baud << " " << t.data_bits << t.parity << t.stop_bits;
  else
    os << "tcp " << t.host << ":" << t.port;
  os << ", loop " << c.loop.loop_hz << " Hz, max load " << c.machine.limits.max_load_n
     << " N, drive watchdog " << c.machine.limits.watchdog_ms << " ms";
  return os.str();
}

}  // namespace soleus::app
