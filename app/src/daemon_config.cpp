#include "soleus/app/daemon_config.hpp"

#include <filesystem>
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
  // The rules that span components come first: they name the real conflict
  // (bus against loop, watchdog against loop) before finer controller rules.
  const double loop_hz = control.number("loop_hz", rtu ? 50.0 : 100.0, 10.0, 1000.0);
  const double period_ms = 1000.0 / loop_hz;
  const double worst_ms = tr.response_timeout_ms * (1 + tr.retries);
  if (worst_ms >= period_ms) {
    std::ostringstream m;
    m << "a loop at " << loop_hz << " Hz has a " << period_ms
      << " ms period, but one failed transaction can take response_timeout_ms x (1 + retries) = "
      << worst_ms << " ms; lower transport.response_timeout_ms or transport.retries, or loop_hz";
    control.fail("loop_hz", m.str());
  }
  if (c.machine.limits.watchdog_ms < 3 * period_ms) {
    std::ostringstream m;
    m << c.machine.limits.watchdog_ms << " ms is shorter than 3 loop periods (" << 3 * period_ms
      << " ms at " << loop_hz << " Hz): one late cycle would trip the drive";
    root.section("limits").fail("watchdog_ms", m.str());
  }
  c.control = controller::ControlConfig::parse(control, rtu ? 50.0 : 100.0, c.machine.limits);
  if (auto tr_sec = root.optional_section("training"))
    c.training = controller::TrainingConfig::parse(*tr_sec, c.machine.limits);
  if (auto lg = root.optional_section("log")) {
    const std::string level =
        lg->choice("level", "info", {"error", "warning", "notice", "info", "debug"});
    log::parse_level(level, c.log.level);
    lg->finish();
  }
  if (auto st = root.optional_section("storage")) c.storage = storage::StorageConfig::parse(*st);
  {
    namespace fs = std::filesystem;
    const fs::path db(c.storage.db_path);
    if (db.is_relative()) {
      const fs::path dir = fs::path(path).parent_path();
      c.storage.db_path =
          (fs::absolute(dir.empty() ? fs::path(".") : dir) / db).lexically_normal().string();
    }
  }
  if (auto as = root.optional_section("assessment")) {
    auto& a = c.assessment;
    a.warmup_reps = static_cast<int>(as->integer("warmup_reps", a.warmup_reps, 1, 20));
    a.warmup_pct = as->number("warmup_pct", a.warmup_pct, 5, 50);
    a.trials = static_cast<int>(as->integer("trials", a.trials, 1, 5));
    a.push_s = as->number("push_s", a.push_s, 2, 10);
    a.rest_s = as->number("rest_s", a.rest_s, 1, 600);
    a.max_spread_pct = as->number("max_spread_pct", a.max_spread_pct, 1, 50);
    as->finish();
  }
  if (auto fl = root.optional_section("fleet")) {
    c.fleet = fleet::FleetConfig::parse(*fl);
    // The outbox (docs/fleet.md): the store queues every event and set end
    // in the record's own transaction, bounded as [fleet] says.
    c.storage.outbox = true;
    c.storage.outbox_max_rows = c.fleet->outbox_max_rows;
    c.storage.outbox_max_age_days = c.fleet->outbox_max_age_days;
  }
  bool asset_dir_given = false;
  if (auto h = root.optional_section("hmi")) {
    asset_dir_given = h->has("asset_dir");
    c.hmi = hmi::HmiConfig::parse(*h, c.machine.limits.max_load_n);
  } else {
    c.hmi.max_load_n = c.machine.limits.max_load_n;
  }
#ifdef SOLEUS_HMI_BUILD_ASSETS
  if (!asset_dir_given && !std::filesystem::exists(c.hmi.asset_dir))
    c.hmi.asset_dir = SOLEUS_HMI_BUILD_ASSETS;
#endif
  (void)asset_dir_given;
  root.finish();

  return c;
}

std::string describe(const DaemonConfig& c) {
  std::ostringstream os;
  const auto& t = c.machine.transport;
  if (t.kind == drivers::TransportConfig::Kind::Rtu)
    os << "rtu " << t.device << " " << t.baud << " " << t.data_bits << t.parity << t.stop_bits;
  else os << "tcp " << t.host << ":" << t.port;
  os << ", loop " << c.control.loop_hz << " Hz, max load " << c.machine.limits.max_load_n
     << " N, drive watchdog " << c.machine.limits.watchdog_ms << " ms, db " << c.storage.db_path
     << ", hmi " << c.hmi.bind_address << ":" << c.hmi.port;
  if (c.fleet)
    os << ", fleet " << c.fleet->broker << " as " << c.fleet->site << "/" << c.fleet->machine;
  return os.str();
}

}  // namespace soleus::app
