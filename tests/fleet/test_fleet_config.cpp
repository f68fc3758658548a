// [fleet]: every key validated with file, line and key (docs/fleet.md).
#include <doctest/doctest.h>

#include <fstream>

#include "soleus/common/config_reader.hpp"
#include "soleus/fleet/config.hpp"
#include "soleus/test_support/process.hpp"

using namespace soleus;

namespace {
fleet::FleetConfig parse(const std::string& body) {
  const auto doc = config::Document::parse_string("[fleet]\n" + body, "t.toml");
  return fleet::FleetConfig::parse(doc.root().section("fleet"));
}
std::string error_of(const std::string& body) {
  try {
    parse(body);
  } catch (const config::ConfigError& e) {
    return e.key() + ": " + e.message();
  }
  return "no error";
}
}  // namespace

TEST_CASE("fleet config: the minimal section and the defaults") {
  const auto c = parse("broker = \"mqtt://127.0.0.1:1884\"\nmachine = \"m1\"\nsite = \"gym-a\"\n");
  CHECK(!c.tls);
  CHECK(c.host == "127.0.0.1");
  CHECK(c.port == 1884);
  CHECK(c.username == "m1");
  CHECK(c.topic_prefix == "soleus");
  CHECK(c.keepalive_s == 30);
  CHECK(c.status_period_s == 10);
  CHECK(c.metrics_period_s == 60);
  CHECK(c.outbox_max_rows == 100000);
  CHECK(c.outbox_max_age_days == 30);
  CHECK(c.own_topic("sets") == "soleus/gym-a/m1/sets");
  CHECK(parse("broker = \"mqtt://localhost\"\nmachine = \"m1\"\nsite = \"s\"\n").port == 1883);
  CHECK(parse("broker = \"mqtt://[::1]:99\"\nmachine = \"m1\"\nsite = \"s\"\n").host == "::1");
}

TEST_CASE("fleet config: refusals name the key") {
  const std::string ms = "machine = \"m1\"\nsite = \"s\"\n";
  CHECK(error_of("broker = \"http://x:1\"\n" + ms).starts_with("fleet.broker: "));
  CHECK(error_of("broker = \"mqtt://127.0.0.1:0\"\n" + ms).starts_with("fleet.broker: "));
  CHECK(error_of("broker = \"mqtt://127.0.0.1:70000\"\n" + ms).starts_with("fleet.broker: "));
  CHECK(error_of("broker = \"mqtt://127.0.0.1:1/x\"\n" + ms).starts_with("fleet.broker: "));
  // plaintext to a host off loopback: refused unless allowed explicitly
  CHECK(error_of("broker = \"mqtt://10.0.0.5:1883\"\n" + ms).find("allow_plaintext") !=
        std::string::npos);
  CHECK(parse("broker = \"mqtt://10.0.0.5:1883\"\nallow_plaintext = true\n" + ms).host ==
        "10.0.0.5");
  const std::string b = "broker = \"mqtt://127.0.0.1:1883\"\n";
  CHECK(error_of(b + "machine = \"M1\"\nsite = \"s\"\n").starts_with("fleet.machine: "));
  CHECK(error_of(b + "machine = \"-m\"\nsite = \"s\"\n").starts_with("fleet.machine: "));
  CHECK(error_of(b + "machine = \"" + std::string(33, 'a') + "\"\nsite = \"s\"\n")
            .starts_with("fleet.machine: "));
  CHECK(error_of(b + "machine = \"m\"\nsite = \"a/b\"\n").starts_with("fleet.site: "));
  CHECK(error_of(b + "site = \"s\"\n").starts_with("fleet.machine: "));
  CHECK(error_of(b + ms + "topic_prefix = \"a/#\"\n").starts_with("fleet.topic_prefix: "));
  CHECK(error_of(b + ms + "keepalive_s = 1\n").starts_with("fleet.keepalive_s: "));
  CHECK(error_of(b + ms + "outbox_max_rows = 5\n").starts_with("fleet.outbox_max_rows: "));
  CHECK(error_of(b + ms + "outbox_max_age_days = 0\n").starts_with("fleet.outbox_max_age_days: "));
  CHECK(error_of(b + ms + "password_file = \"/nonexistent/pw\"\n")
            .starts_with("fleet.password_file: "));
  CHECK(error_of(b + ms + "colour = \"red\"\n").starts_with("fleet.colour: "));
  // TLS: mqtts needs a CA; files must be readable; cert and key go together
  CHECK(error_of("broker = \"mqtts://broker.gym:8883\"\n" + ms).starts_with("fleet.ca_file: "));
  CHECK(error_of(b + ms + "ca_file = \"/etc/hostname\"\n").starts_with("fleet.ca_file: "));
  soleus::test::TempDir d;
  std::ofstream(d.file("ca.pem")) << "x";
  std::ofstream(d.file("pw")) << "secret\n";
  const std::string tls =
      "broker = \"mqtts://broker.gym\"\n" + ms + "ca_file = \"" + d.file("ca.pem") + "\"\n";
  const auto c = parse(tls + "password_file = \"" + d.file("pw") + "\"\n");
  CHECK(c.tls);
  CHECK(c.port == 8883);
  CHECK(fleet::read_password_file(c.password_file) == "secret");
  CHECK(
      error_of(tls + "cert_file = \"" + d.file("ca.pem") + "\"\n").starts_with("fleet.key_file: "));
  CHECK(error_of(tls + "ca_file2 = 1\n").starts_with("fleet.ca_file2: "));
}
