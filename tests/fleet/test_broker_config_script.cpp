// scripts/fleet-broker-config.sh, the technicians' tool of docs/fleet/broker.md:
// its output, put into a mosquitto.conf laid out as Debian's (include_dir),
// runs a real mosquitto whose ACL, passwords and TLS hold.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "soleus/test_support/mosquitto_rig.hpp"
#include "soleus/test_support/process.hpp"

using namespace std::chrono_literals;
using soleus::test::ChildProcess;
using soleus::test::Listener;
using soleus::test::MosquittoRig;
using soleus::test::MqttProbe;
using soleus::test::MqttProbeOptions;
using soleus::test::run_command;
using soleus::test::TempDir;

namespace {

const std::string kScript = std::string(SOLEUS_SOURCE_DIR) + "/scripts/fleet-broker-config.sh";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

TEST_CASE("the technicians' script: its mosquitto config enforces the ACL over TLS") {
  MosquittoRig rig;  // only for its CA and server certificate: not started
  TempDir tmp;
  const std::string out = tmp.file("out");
  const int tls_port = soleus::test::free_tcp_port();
  const int plain_port = soleus::test::free_tcp_port();
  const auto gen = run_command({"bash",         kScript,
                                "--site",       "gym",
                                "--machines",   "a,b,c",
                                "--out",        out,
                                "--host",       "127.0.0.1",
                                "--port",       std::to_string(tls_port),
                                "--plain-port", std::to_string(plain_port),
                                "--cafile",     rig.ca_file(),
                                "--certfile",   rig.server_cert_file(),
                                "--keyfile",    rig.server_key_file(),
                                "--etc",        out});
  INFO(gen.output);
  REQUIRE(gen.exit_code == 0);
  CHECK(gen.output.find("machines/b/fleet.toml") != std::string::npos);

  // Each machine's [fleet] section names the broker, the machine and the site.
  const std::string toml = slurp(out + "/machines/a/fleet.toml");
  CHECK(toml.find("broker = \"mqtts://127.0.0.1:" + std::to_string(tls_port) + "\"") !=
        std::string::npos);
  CHECK(toml.find("machine = \"a\"") != std::string::npos);
  CHECK(toml.find("site = \"gym\"") != std::string::npos);

  // Debian's mosquitto.conf, with our temp dir for its paths, including the snippet.
  const std::string conf = tmp.file("mosquitto.conf");
  {
    std::ofstream c(conf);
    c << "user root\npersistence true\npersistence_location " << tmp.path() << "/\n"
      << "log_dest file " << tmp.file("mosquitto.log") << "\n"
      << "include_dir " << out << "/conf.d\n";
  }
  ChildProcess broker;
  broker.start({soleus::test::mosquitto_executable(), "-c", conf});
  auto broker_log = [&] { return slurp(tmp.file("mosquitto.log")) + broker.output(); };

  MqttProbeOptions mon;
  mon.port = plain_port;
  mon.username = "monitor";
  mon.password = first_line(out + "/monitor.password");
  MqttProbe monitor(mon);
  // Up when the monitor's CONNECT is accepted (bounded; no sleep).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int rc = -1;
  while ((rc = monitor.connect(1s)) != 0 && std::chrono::steady_clock::now() < deadline &&
         broker.running())
    broker.wait_exit(50ms);
  INFO(broker_log());
  REQUIRE(rc == 0);
  REQUIRE(monitor.subscribe("soleus/#", 1) == 1);

  auto machine = [&](const std::string& name) {
    MqttProbeOptions o;
    o.port = tls_port;
    o.tls = true;
    o.ca_file = rig.ca_file();
    o.username = name;
    o.password = first_line(out + "/machines/" + name + "/password");
    return o;
  };
  MqttProbe a(machine("a"));
  REQUIRE(a.connect() == 0);
  const auto own = a.publish("soleus/gym/a/sets", "a-set", 1);
  CHECK(own.acked);
  CHECK(own.reason_code == 0);
  const auto shared = a.publish("soleus/gym/shared/member/1", "m", 1, true);
  CHECK(shared.reason_code == 0);
  const auto forged = a.publish("soleus/gym/b/sets", "forged", 1);
  CHECK(forged.acked);
  CHECK(forged.reason_code == 135);  // not authorized
  CHECK(a.publish("soleus/other/a/sets", "x", 1).reason_code == 135);
  REQUIRE(a.publish("soleus/gym/a/marker", "m", 1).reason_code == 0);
  REQUIRE(monitor.wait_for_count("soleus/gym/a/marker", 1, 5s));
  CHECK(monitor.messages("soleus/gym/a/sets").size() == 1);
  CHECK(monitor.messages("soleus/gym/shared/member/1").size() == 1);
  CHECK(monitor.messages("soleus/gym/b/#").empty());
  CHECK(monitor.messages("soleus/other/#").empty());

  // The monitor writes nothing; b's password is not a's; nobody anonymous;
  // the TLS listener wants the site CA.
  CHECK(monitor.publish("soleus/gym/monitor/x", "x", 1).reason_code == 135);
  auto wrong = machine("a");
  wrong.password = first_line(out + "/machines/b/password");
  CHECK(MqttProbe(wrong).connect() > 0);
  auto anon = machine("a");
  anon.username.clear();
  anon.password.clear();
  CHECK(MqttProbe(anon).connect() > 0);
  auto no_ca = machine("a");
  no_ca.ca_file.clear();
  CHECK(MqttProbe(no_ca).connect() == -1);
  broker.stop();
}

TEST_CASE("the technicians' script refuses bad names") {
  TempDir tmp;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--site", "Gym", "--machines", "a"},
           {"--site", "gym", "--machines", "a,a"},
           {"--site", "gym", "--machines", "a,monitor"},
           {"--site", "gym", "--machines", "a/b"},
           {"--site", "gym", "--machines", "a", "--prefix", "soleus/#"},
       }) {
    std::vector<std::string> argv = {"bash", kScript, "--out", tmp.file("out")};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_command(argv);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_FALSE(std::filesystem::exists(tmp.file("out")));
  }
}
