// GET /metrics' pieces without a daemon: the text format's escaping, values,
// HELP/TYPE lines and counter names; the whole rendering of a view read back
// by a real parser (Python's prometheus_client, Debian's
// python3-prometheus-client, through tests/support/prom_parse.py); the access
// rule (loopback, scrape token) as the pure function it is; [hmi] metrics_token.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "soleus/common/config_reader.hpp"
#include "soleus/hmi/config.hpp"
#include "soleus/hmi/metrics.hpp"
#include "soleus/test_support/process.hpp"

using namespace soleus::hmi;
namespace json = boost::json;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

/// A view with something in every block, and label values that need escaping.
MetricsView full_view() {
  MetricsView v;
  v.version = "1.2.3~\"rc\"\\build\nline2";
  v.start_time_s = 1796624234.75;
  v.state = "active";
  v.armed = true;
  v.loop.p50_ms = 10.01;
  v.loop.p99_ms = 10.39;
  v.loop.max_ms = 12.5;
  v.loop.recent_p50_ms = 10.0;
  v.loop.recent_p99_ms = 10.21;
  v.loop.recent_max_ms = 11.5;
  v.loop.recent_s = 95.5;
  v.loop.configured_hz = 100;
  v.loop.cycles = 123456;
  v.loop.overruns = 7;
  v.bus.cycles = 123456;
  v.bus.transactions = 246912;
  v.bus.timeouts = 3;
  v.bus.crc_errors = 2;
  v.bus.reconnects = 1;
  v.bus.drive_errors = 4;
  v.bus.cell_errors = 5;
  v.bus.bytes_tx = 1000;
  v.bus.bytes_rx = 2000;
  v.bus.comm_good = true;
  v.drive_temperature_c = 41.5;
  v.drive_bus_voltage_v = 325.2;
  OdometerView o;
  o.reps = 1200;
  o.sets = 100;
  o.motor_on_h = 2.5;
  o.highest_force_n = 1830.5;
  v.odometer = o;
  v.stops = {{"target_reached", 90, 1080}, {"pain", 1, 3}, {"force_drop", 9, 117}};
  StorageHealthView s;
  s.ok = true;
  s.transactions = 50;
  s.records_committed = 500;
  v.storage = s;
  HistogramView h;
  h.bounds = {0.001, 0.01, 0.1};
  h.buckets = {10, 45, 49};
  h.count = 50;
  h.sum = 0.35;
  v.storage_commit = h;
  OutboxMetricsView ob;
  ob.depth = {{"set", 12}, {"event", 3}, {"metrics", 0}};
  ob.oldest_age_s = 95.5;
  ob.telemetry_dropped = 8;
  ob.full = false;
  v.outbox = ob;
  return v;
}

/// prometheus_client's reading of `text`, or a failed check with its error.
json::object parse_with_prometheus_client(const std::string& text) {
  soleus::test::TempDir dir;
  const std::string file = dir.file("metrics.txt");
  std::ofstream(file, std::ios::binary) << text;
  const auto r = soleus::test::run_command(
      {SOLEUS_PYTHON3, std::string(SOLEUS_SOURCE_DIR) + "/tests/support/prom_parse.py", file});
  INFO(r.output);
  REQUIRE_MESSAGE(r.exit_code == 0,
                  "prometheus_client refused the exposition (is python3-prometheus-client "
                  "installed? scripts/install-deps.sh)");
  return json::parse(r.output).as_object();
}

}  // namespace

TEST_CASE("metrics text format: label values escape backslash, quote and newline") {
  CHECK(prom::escape_label_value("plain") == "plain");
  CHECK(prom::escape_label_value("a\\b") == "a\\\\b");
  CHECK(prom::escape_label_value("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(prom::escape_label_value("two\nlines") == "two\\nlines");
  CHECK(prom::escape_label_value("\\\"\n") == "\\\\\\\"\\n");
  // HELP escapes backslash and newline, not quotes.
  CHECK(prom::escape_help("a \"b\" \\ c\nd") == "a \"b\" \\\\ c\\nd");
}

TEST_CASE("metrics text format: values as Go's ParseFloat reads them") {
  CHECK(prom::format_value(std::nan("")) == "NaN");
  CHECK(prom::format_value(INFINITY) == "+Inf");
  CHECK(prom::format_value(-INFINITY) == "-Inf");
  CHECK(prom::format_value(0) == "0");
  CHECK(prom::format_value(100) == "100");
  CHECK(prom::format_value(-3) == "-3");
  CHECK(prom::format_value(1796624234.0) == "1796624234");
  CHECK(prom::format_value(0.0005) == "0.0005");
  CHECK(prom::format_value(0.1) == "0.1");
  CHECK(std::stod(prom::format_value(325.20000000000005)) == 325.20000000000005);
  CHECK(std::stod(prom::format_value(1e300)) == 1e300);
}

TEST_CASE(
    "metrics text format: HELP and TYPE once per family, counters and only counters end in "
    "_total") {
  prom::Writer w;
  w.family("soleus_things_total", "counter", "things\nseen");
  w.sample(std::uint64_t{3}, {{"kind", "a"}});
  w.sample(std::uint64_t{4}, {{"kind", "b"}});
  w.family("soleus_level", "gauge", "a level");
  w.sample(0.5);
  const auto l = lines_of(w.text());
  REQUIRE(l.size() == 7);
  CHECK(l[0] == "# HELP soleus_things_total things\\nseen");
  CHECK(l[1] == "# TYPE soleus_things_total counter");
  CHECK(l[2] == "soleus_things_total{kind=\"a\"} 3");
  CHECK(l[3] == "soleus_things_total{kind=\"b\"} 4");
  CHECK(l[4] == "# HELP soleus_level a level");
  CHECK(l[5] == "# TYPE soleus_level gauge");
  CHECK(l[6] == "soleus_level 0.5");

  CHECK_THROWS_AS(w.family("soleus_things", "counter", "no _total"), std::invalid_argument);
  CHECK_THROWS_AS(w.family("soleus_level_total", "gauge", "a gauge named like a counter"),
                  std::invalid_argument);
  CHECK_THROWS_AS(w.family("9lives", "gauge", "bad name"), std::invalid_argument);
  CHECK_THROWS_AS(w.family("soleus_x", "meter", "bad type"), std::invalid_argument);
  w.family("soleus_y", "gauge", "y");
  CHECK_THROWS_AS(w.sample(1.0, {{"bad-label", "v"}}), std::invalid_argument);
  CHECK_THROWS_AS(w.sample(1.0, {{"__reserved", "v"}}), std::invalid_argument);
  prom::Writer empty;
  CHECK_THROWS_AS(empty.sample(1.0), std::logic_error);
}

TEST_CASE("metrics rendering: families are whole, typed, named by convention") {
  const std::string text = render_metrics(full_view());
  std::map<std::string, std::string> type_of;  // family -> type
  std::set<std::string> helped, closed;
  std::string open;
  for (const auto& l : lines_of(text)) {
    REQUIRE(!l.empty());
    if (l.rfind("# HELP ", 0) == 0) {
      const std::string name = l.substr(7, l.find(' ', 7) - 7);
      CHECK_MESSAGE(!helped.count(name), "HELP twice: " << name);
      helped.insert(name);
      if (!open.empty()) closed.insert(open);
      open = name;
      continue;
    }
    if (l.rfind("# TYPE ", 0) == 0) {
      const std::string name = l.substr(7, l.find(' ', 7) - 7);
      CHECK(name == open);  // TYPE right after its HELP, before any sample
      type_of[name] = l.substr(l.rfind(' ') + 1);
      continue;
    }
    REQUIRE(l[0] != '#');
    const std::string name = l.substr(0, l.find_first_of("{ "));
    INFO(l);
    REQUIRE(!open.empty());
    CHECK(type_of.count(open));
    // A sample belongs to the open family (a histogram adds its suffixes).
    const bool ok =
        name == open ||
        (type_of[open] == "histogram" &&
         (name == open + "_bucket" || name == open + "_sum" || name == open + "_count"));
    CHECK_MESSAGE(ok, name << " outside its family " << open);
    CHECK_FALSE(closed.count(name));
  }
  for (const auto& [name, type] : type_of) {
    INFO(name);
    const bool total = name.size() > 6 && name.substr(name.size() - 6) == "_total";
    CHECK(total == (type == "counter"));
    CHECK(name.rfind("soleus_", 0) == 0);
  }
  for (const char* n : {"soleus_build_info",
                        "soleus_loop_period_quantile_seconds",
                        "soleus_loop_period_recent_quantile_seconds",
                        "soleus_loop_period_recent_max_seconds",
                        "soleus_loop_period_recent_window_seconds",
                        "soleus_loop_overruns_total",
                        "soleus_bus_transactions_total",
                        "soleus_bus_timeouts_total",
                        "soleus_bus_crc_errors_total",
                        "soleus_bus_reconnects_total",
                        "soleus_drive_temperature_celsius",
                        "soleus_drive_bus_voltage_volts",
                        "soleus_odometer_reps_total",
                        "soleus_odometer_sets_total",
                        "soleus_odometer_motor_on_seconds_total",
                        "soleus_odometer_highest_force_newtons",
                        "soleus_sets_total",
                        "soleus_reps_total",
                        "soleus_storage_commit_seconds",
                        "soleus_outbox_depth",
                        "soleus_outbox_oldest_age_seconds",
                        "soleus_outbox_full",
                        "soleus_outbox_telemetry_dropped_total"})
    CHECK_MESSAGE(type_of.count(n), n);
  CHECK(type_of["soleus_storage_commit_seconds"] == "histogram");
  // The label value that needs escaping, escaped.
  CHECK(text.find("soleus_build_info{version=\"1.2.3~\\\"rc\\\"\\\\build\\nline2\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("soleus_sets_total{reason=\"pain\"} 1\n") != std::string::npos);
  CHECK(text.find("soleus_storage_commit_seconds_bucket{le=\"+Inf\"} 50\n") != std::string::npos);
}

TEST_CASE("metrics rendering: optional blocks only when present") {
  MetricsView v;
  v.state = "idle";
  const std::string text = render_metrics(v);
  for (const char* absent :
       {"soleus_outbox_", "soleus_drive_temperature_celsius", "soleus_drive_bus_voltage_volts",
        "soleus_odometer_", "soleus_storage_"})
    CHECK_MESSAGE(text.find(absent) == std::string::npos, absent);
  CHECK(text.find("soleus_loop_overruns_total 0\n") != std::string::npos);
  // The outbox block with nothing waiting still says so (depth by kind, age 0).
  MetricsView w = full_view();
  w.outbox->depth.clear();
  w.outbox->oldest_age_s = 0;
  const std::string t2 = render_metrics(w);
  CHECK(t2.find("# TYPE soleus_outbox_depth gauge") != std::string::npos);
  CHECK(t2.find("soleus_outbox_oldest_age_seconds 0\n") != std::string::npos);
}

TEST_CASE("metrics rendering: read back by prometheus_client, values and labels intact") {
  const MetricsView v = full_view();
  const json::object parsed = parse_with_prometheus_client(render_metrics(v));
  std::map<std::string, std::string> type_of;
  std::map<std::string, std::vector<json::object>> samples;  // by sample name
  for (const auto& f : parsed.at("families").as_array()) {
    const auto& fo = f.as_object();
    type_of[std::string(fo.at("name").as_string())] = std::string(fo.at("type").as_string());
    for (const auto& s : fo.at("samples").as_array())
      samples[std::string(s.at("name").as_string())].push_back(s.as_object());
  }
  auto value = [&](const std::string& name, const std::string& label = {},
                   const std::string& label_value = {}) -> double {
    for (const auto& s : samples[name])
      if (label.empty() || (s.at("labels").as_object().contains(label) &&
                            s.at("labels").at(label).as_string() == label_value))
        return s.at("value").to_number<double>();
    FAIL("no sample " << name << " " << label << "=" << label_value);
    return NAN;
  };
  // The parser strips _total from a counter family's name; its samples keep it.
  CHECK(type_of["soleus_bus_transactions"] == "counter");
  CHECK(type_of["soleus_storage_commit_seconds"] == "histogram");
  CHECK(type_of["soleus_drive_temperature_celsius"] == "gauge");
  // The escaped label value comes back as it was.
  REQUIRE(samples["soleus_build_info"].size() == 1);
  CHECK(samples["soleus_build_info"][0].at("labels").at("version").as_string() == v.version);
  CHECK(value("soleus_bus_transactions_total") == 246912);
  CHECK(value("soleus_loop_period_quantile_seconds", "quantile", "0.99") ==
        doctest::Approx(0.01039));
  CHECK(value("soleus_loop_period_recent_quantile_seconds", "quantile", "0.99") ==
        doctest::Approx(0.01021));
  CHECK(value("soleus_loop_period_recent_max_seconds") == doctest::Approx(0.0115));
  CHECK(value("soleus_loop_period_recent_window_seconds") == doctest::Approx(95.5));
  CHECK(value("soleus_sets_total", "reason", "force_drop") == 9);
  CHECK(value("soleus_reps_total", "reason", "target_reached") == 1080);
  CHECK(value("soleus_odometer_motor_on_seconds_total") == doctest::Approx(9000));
  CHECK(value("soleus_drive_bus_voltage_volts") == doctest::Approx(325.2));
  CHECK(value("soleus_storage_commit_seconds_bucket", "le", "0.01") == 45);
  CHECK(value("soleus_storage_commit_seconds_bucket", "le", "+Inf") == 50);
  CHECK(value("soleus_storage_commit_seconds_count") == 50);
  CHECK(value("soleus_outbox_depth", "kind", "set") == 12);
  CHECK(value("soleus_outbox_oldest_age_seconds") == doctest::Approx(95.5));

  // Not-a-number and infinities in the format's spelling parse too.
  MetricsView odd = v;
  odd.drive_temperature_c = std::nan("");
  odd.drive_bus_voltage_v = INFINITY;
  const json::object p2 = parse_with_prometheus_client(render_metrics(odd));
  bool nan_seen = false, inf_seen = false;
  for (const auto& f : p2.at("families").as_array())
    for (const auto& s : f.at("samples").as_array()) {
      if (s.at("name") == "soleus_drive_temperature_celsius") nan_seen = s.at("value") == "NaN";
      if (s.at("name") == "soleus_drive_bus_voltage_volts") inf_seen = s.at("value") == "+Inf";
    }
  CHECK(nan_seen);
  CHECK(inf_seen);
}

TEST_CASE("the parser check can fail: a broken exposition is refused") {
  soleus::test::TempDir dir;
  const std::string file = dir.file("bad.txt");
  std::ofstream(file) << "# TYPE soleus_x gauge\nsoleus_x{version=\"a\"b\"} 1\n";
  const auto r = soleus::test::run_command(
      {SOLEUS_PYTHON3, std::string(SOLEUS_SOURCE_DIR) + "/tests/support/prom_parse.py", file});
  CHECK(r.exit_code == 1);
}

TEST_CASE("metrics access: loopback is open, elsewhere needs the scrape token") {
  const std::string token(40, 'k');
  const std::optional<std::string> none;
  const std::optional<std::string> good = "Bearer " + token;
  // Loopback, IPv4 (all of 127/8), IPv6 and IPv4-mapped: open, token or not.
  for (const char* peer : {"127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"}) {
    INFO(peer);
    CHECK(metrics_access(peer, none, "") == MetricsAccess::Allowed);
    CHECK(metrics_access(peer, none, token) == MetricsAccess::Allowed);
    CHECK(metrics_access(peer, std::string("Bearer wrong"), token) == MetricsAccess::Allowed);
  }
  // Any other peer, or one we cannot name: no token configured → refused (403).
  for (const char* peer : {"192.168.1.20", "10.0.0.1", "::ffff:192.168.1.20", "fe80::1",
                           "2001:db8::5", "0.0.0.0", "", "localhost", "garbage"}) {
    INFO(peer);
    CHECK(metrics_access(peer, none, "") == MetricsAccess::NoToken);
    CHECK(metrics_access(peer, good, "") == MetricsAccess::NoToken);
    // With a token configured: only the right bearer passes (401 otherwise).
    CHECK(metrics_access(peer, good, token) == MetricsAccess::Allowed);
    CHECK(metrics_access(peer, std::string("bearer " + token), token) == MetricsAccess::Allowed);
    CHECK(metrics_access(peer, none, token) == MetricsAccess::BadToken);
    CHECK(metrics_access(peer, std::string("Bearer"), token) == MetricsAccess::BadToken);
    CHECK(metrics_access(peer, std::string("Bearer "), token) == MetricsAccess::BadToken);
    CHECK(metrics_access(peer, std::string("Basic " + token), token) == MetricsAccess::BadToken);
    CHECK(metrics_access(peer, std::string("Bearer " + token + "x"), token) ==
          MetricsAccess::BadToken);
    CHECK(metrics_access(peer, std::string("Bearer " + token.substr(1)), token) ==
          MetricsAccess::BadToken);
    CHECK(metrics_access(peer, std::string("Bearer " + std::string(40, 'j')), token) ==
          MetricsAccess::BadToken);
  }
}

TEST_CASE("[hmi] metrics_token: short or odd tokens are refused with line and key") {
  auto parse = [](const std::string& toml) {
    auto doc = soleus::config::Document::parse_string(toml, "test.toml");
    return HmiConfig::parse(doc.root().section("hmi"));
  };
  CHECK(parse("[hmi]\n").metrics_token.empty());
  const std::string good = "0123456789abcdef0123456789abcdef";
  CHECK(parse("[hmi]\nmetrics_token = \"" + good + "\"\n").metrics_token == good);
  auto refused = [&](const std::string& value) {
    try {
      parse("[hmi]\nport = 8080\nmetrics_token = \"" + value + "\"\n");
      FAIL("accepted: " << value);
    } catch (const soleus::config::ConfigError& e) {
      CHECK(e.key() == "hmi.metrics_token");
      CHECK(e.line() == 3);
      CHECK(std::string(e.what()).find(value.empty() ? "\x01" : value) == std::string::npos);
    }
  };
  refused("short");
  refused(std::string(31, 'a'));
  refused(std::string(32, 'a') + " space");
  refused(std::string(257, 'a'));
  std::string why;
  CHECK_FALSE(is_valid_metrics_token("abc", &why));
  CHECK(why.find("32") != std::string::npos);
  HmiConfig c;
  c.metrics_token = "tooshort";
  CHECK_THROWS_AS(c.validate(), std::invalid_argument);
}
