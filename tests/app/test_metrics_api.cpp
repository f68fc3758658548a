// GET /metrics on the real daemon (soleusd ↔ soleus-sim over Modbus TCP):
// each scrape is parsed by a real parser, Python's prometheus_client from
// Debian (tests/support/prom_parse.py); a set moves the counter of its stop
// reason by one; the bus counters rise between scrapes; every metric the
// Grafana dashboard (docs/fleet/grafana-dashboard.json) uses is in a scrape.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "soleus/hmi/metrics.hpp"
#include "soleus/test_support/daemon_rig.hpp"
#include "soleus/test_support/http_client.hpp"
#include "soleus/test_support/process.hpp"
#include "soleus/test_support/sim_process.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using soleus::test::get;
using soleus::test::post;

namespace {

/// One scrape, as prometheus_client read it: sample name + sorted labels → value.
struct Scrape {
  std::map<std::string, double> values;  ///< key: name{k="v",...} (labels sorted)
  std::set<std::string> names;           ///< every sample name
  std::map<std::string, std::string> types;
  std::size_t bytes = 0;

  double at(const std::string& key) const {
    auto it = values.find(key);
    if (it == values.end()) {
      FAIL("no sample " << key);
      return -1;
    }
    return it->second;
  }
};

Scrape scrape(int port, const soleus::test::TempDir& dir) {
  const auto r = get(port, "/metrics");
  REQUIRE_MESSAGE(r.status == 200, r.text);
  const std::string file = dir.file("scrape.txt");
  std::ofstream(file, std::ios::binary) << r.text;
  const auto p = soleus::test::run_command(
      {SOLEUS_PYTHON3, std::string(SOLEUS_SOURCE_DIR) + "/tests/support/prom_parse.py", file});
  REQUIRE_MESSAGE(p.exit_code == 0, "prometheus_client refused it: " << p.output);
  Scrape s;
  s.bytes = r.text.size();
  const json::value parsed = json::parse(p.output);
  for (const auto& f : parsed.at("families").as_array()) {
    s.types[std::string(f.at("name").as_string())] = std::string(f.at("type").as_string());
    for (const auto& smp : f.at("samples").as_array()) {
      std::string key(smp.at("name").as_string());
      s.names.insert(key);
      const auto& labels = smp.at("labels").as_object();
      if (!labels.empty()) {
        std::map<std::string, std::string> sorted;
        for (const auto& [k, v] : labels) sorted[std::string(k)] = std::string(v.as_string());
        std::string l;
        for (const auto& [k, v] : sorted) l += (l.empty() ? "" : ",") + k + "=\"" + v + "\"";
        key += "{" + l + "}";
      }
      const auto& v = smp.at("value");
      s.values[key] = v.is_number() ? v.to_number<double>() : -1;
    }
  }
  return s;
}

/// Every soleus_… name in the dashboard's queries.
std::set<std::string> dashboard_metric_names() {
  const std::string text = soleus::test::read_text(std::string(SOLEUS_SOURCE_DIR) +
                                                   "/docs/fleet/grafana-dashboard.json");
  REQUIRE(!text.empty());
  std::set<std::string> names;
  std::function<void(const json::value&)> walk = [&](const json::value& v) {
    if (v.is_object()) {
      for (const auto& [k, x] : v.as_object()) {
        if (k == "expr" && x.is_string()) {
          const std::string e(x.as_string());
          static const std::regex re("soleus_[a-z0-9_]+");
          for (auto it = std::sregex_iterator(e.begin(), e.end(), re); it != std::sregex_iterator();
               ++it)
            names.insert(it->str());
        }
        walk(x);
      }
    } else if (v.is_array()) {
      for (const auto& x : v.as_array()) walk(x);
    }
  };
  walk(json::parse(text));
  return names;
}

}  // namespace

TEST_CASE(
    "soleusd GET /metrics: parsed by prometheus_client, a set counted by its stop reason, the "
    "dashboard's names") {
  if (!soleus::test::sim_available()) {
    MESSAGE("soleus-sim not built: skipped");
    return;
  }
  soleus::test::DaemonRig rig({"--athlete-style", "tempo", "--tempo", "1.5-0.5-1.5-0.5"});
  rig.wait_ready();
  soleus::test::TempDir tmp;

  const Scrape s1 = scrape(rig.port, tmp);
  CHECK(s1.types.at("soleus_bus_transactions") == "counter");
  CHECK(s1.types.at("soleus_storage_commit_seconds") == "histogram");
  CHECK(s1.at("soleus_bus_transactions_total") > 0);
  CHECK(s1.at("soleus_loop_cycles_total") > 0);
  CHECK(s1.at("soleus_loop_period_quantile_seconds{quantile=\"0.99\"}") >= 0);
  CHECK(s1.at("soleus_loop_configured_hertz") > 0);
  // The simulated drive has the temperature and voltage registers (config/sim.toml).
  CHECK(s1.at("soleus_drive_temperature_celsius") > 0);
  CHECK(s1.at("soleus_drive_bus_voltage_volts") > 0);
  CHECK(s1.at("soleus_storage_ok") == 1);
  CHECK(s1.names.count("soleus_odometer_sets_total"));
  CHECK(s1.names.count("soleus_outbox_depth") == 0);  // no fleet publisher wired
  // Every reason is there from the start, at 0 until it happens.
  CHECK(s1.at("soleus_sets_total{reason=\"target_reached\"}") == 0);
  CHECK(s1.at("soleus_sets_total{reason=\"pain\"}") == 0);

  // A guest's set of 3 reps; it ends on its own.
  const std::string guest = rig.login(R"({"role":"guest"})");
  auto r =
      post(rig.port, "/api/v1/sets",
           R"({"mode":"isotonic","load_n":400,"tempo":"1.5-0.5-1.5-0.5","target_reps":3})", guest);
  REQUIRE_MESSAGE(r.status == 201, r.text << "\ndaemon:\n" << rig.daemon.output());
  const json::object done = rig.wait_done(r.body.at("id").as_int64(), guest, 120s);
  const std::string reason(done.at("stop_reason").as_string());
  const double reps = soleus::test::num(done.at("reps"));
  INFO("set: " << json::serialize(done));

  // The counters of the set's reason: the set counter moves by one, the reps by
  // the set's reps. The odometer (the store) counts it once it is committed.
  const std::string sets_key = "soleus_sets_total{reason=\"" + reason + "\"}";
  const std::string reps_key = "soleus_reps_total{reason=\"" + reason + "\"}";
  Scrape s2 = scrape(rig.port, tmp);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s2.at("soleus_odometer_sets_total") < s1.at("soleus_odometer_sets_total") + 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    s2 = scrape(rig.port, tmp);
  }
  CHECK(s2.at(sets_key) == s1.at(sets_key) + 1);
  CHECK(s2.at(reps_key) == s1.at(reps_key) + reps);
  double other_sets = 0;  // no other reason moved
  for (const auto& [k, v] : s2.values)
    if (k.rfind("soleus_sets_total{", 0) == 0 && k != sets_key) other_sets += v;
  CHECK(other_sets == 0);
  CHECK(s2.at("soleus_odometer_sets_total") == s1.at("soleus_odometer_sets_total") + 1);
  CHECK(s2.at("soleus_odometer_reps_total") >= s1.at("soleus_odometer_reps_total") + reps);
  // The bus and the loop went on between the scrapes; the store wrote the set.
  CHECK(s2.at("soleus_bus_transactions_total") > s1.at("soleus_bus_transactions_total"));
  CHECK(s2.at("soleus_loop_cycles_total") > s1.at("soleus_loop_cycles_total"));
  // The loop's quantiles (recomputed every 0.25 s of loop time): a period near 10 ms.
  const double p50 = s2.at("soleus_loop_period_quantile_seconds{quantile=\"0.5\"}");
  const double p99 = s2.at("soleus_loop_period_quantile_seconds{quantile=\"0.99\"}");
  CHECK(p50 > 0.005);
  CHECK(p50 < 0.02);
  CHECK(p99 >= p50);
  CHECK(s2.at("soleus_loop_period_max_seconds") >= p99 - 0.0001);
  // Over the recent past (under a minute of running here: all of it).
  const double rp50 = s2.at("soleus_loop_period_recent_quantile_seconds{quantile=\"0.5\"}");
  const double rp99 = s2.at("soleus_loop_period_recent_quantile_seconds{quantile=\"0.99\"}");
  CHECK(rp50 > 0.005);
  CHECK(rp50 < 0.02);
  CHECK(rp99 >= rp50);
  CHECK(s2.at("soleus_loop_period_recent_max_seconds") <=
        s2.at("soleus_loop_period_max_seconds") + 0.0001);
  CHECK(s2.at("soleus_loop_period_recent_window_seconds") > 0);
  CHECK(s2.at("soleus_storage_commit_seconds_count") >
        s1.at("soleus_storage_commit_seconds_count"));
  CHECK(s2.at("soleus_storage_commit_seconds_bucket{le=\"+Inf\"}") ==
        s2.at("soleus_storage_commit_seconds_count"));
  MESSAGE("one scrape: " << s2.bytes << " bytes");

  // The dashboard's queries name only metrics a real scrape has. The outbox
  // block appears only with the fleet publisher wired (not here): its names
  // are taken from the renderer given an outbox, parsed the same way.
  std::set<std::string> outbox_names;
  {
    soleus::hmi::MetricsView v;
    v.outbox = soleus::hmi::OutboxMetricsView{{{"set", 1}}, 1.0, 0, false};
    const std::string file = tmp.file("outbox.txt");
    std::ofstream(file, std::ios::binary) << soleus::hmi::render_metrics(v);
    const auto p = soleus::test::run_command(
        {SOLEUS_PYTHON3, std::string(SOLEUS_SOURCE_DIR) + "/tests/support/prom_parse.py", file});
    REQUIRE(p.exit_code == 0);
    const json::value parsed = json::parse(p.output);
    for (const auto& f : parsed.at("families").as_array())
      for (const auto& smp : f.at("samples").as_array())
        if (smp.at("name").as_string().starts_with("soleus_outbox_"))
          outbox_names.insert(std::string(smp.at("name").as_string()));
  }
  CHECK(outbox_names.size() == 4);
  const auto used = dashboard_metric_names();
  CHECK(used.size() >= 10);
  for (const auto& name : used) {
    const bool ok = s2.names.count(name) || outbox_names.count(name);
    CHECK_MESSAGE(ok, name << " (dashboard) is not in /metrics");
  }
}
