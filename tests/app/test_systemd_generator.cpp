// soleus-generator's drop-ins (app/src/systemd_generator.cpp): the reference
// TCP and RTU configurations and their variants, read with soleusd's own
// loader, give the network allow-list, the device dependency (RTU only), the
// HMI socket's address and the kiosk's URL; a refused configuration writes
// nothing. tests/systemd/check-units.sh runs the program itself and checks
// its drop-ins with systemd-analyze verify.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "soleus/app/systemd_generator.hpp"
#include "soleus/test_support/http_client.hpp"
#include "soleus/test_support/process.hpp"  // TempDir

namespace fs = std::filesystem;
using namespace soleus::app;

namespace {

/// A reference configuration with some text replaced, written into `dir`.
std::string config_file(const soleus::test::TempDir& dir, const std::string& reference,
                        const std::vector<std::pair<std::string, std::string>>& edits = {}) {
  std::string text =
      soleus::test::read_text(std::string(SOLEUS_SOURCE_DIR) + "/config/" + reference);
  REQUIRE(!text.empty());
  for (const auto& [from, to] : edits) REQUIRE_NOTHROW(soleus::test::replace_once(text, from, to));
  const std::string path = dir.file("soleus.toml");
  std::ofstream(path) << text;
  return path;
}

const GeneratedFile* find(const GeneratorOutput& o, const std::string& path) {
  for (const auto& f : o.files)
    if (f.path == path) return &f;
  return nullptr;
}

bool has_line(const GeneratedFile* f, const std::string& line) {
  return f != nullptr && ("\n" + f->text).find("\n" + line + "\n") != std::string::npos;
}

constexpr const char* kNetwork = "soleusd.service.d/50-soleus-network.conf";
constexpr const char* kDevice = "soleusd.service.d/50-soleus-device.conf";
constexpr const char* kSocket = "soleus-hmi.socket.d/50-soleus-listen.conf";
constexpr const char* kKiosk = "soleus-kiosk.service.d/50-soleus-url.conf";

}  // namespace

TEST_CASE("generator: unit names from device paths follow systemd-escape --path") {
  // Expected values from systemd-escape --path --suffix=device (systemd 252).
  CHECK(unit_name_from_path("/dev/ttySOLEUS", "device") == "dev-ttySOLEUS.device");
  CHECK(unit_name_from_path("/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0",
                            "device") ==
        "dev-serial-by\\x2did-usb\\x2dFTDI_FT232R_USB_UART_A50285BI\\x2dif00\\x2dport0.device");
  CHECK(unit_name_from_path("//dev//./ttyUSB0/", "device") == "dev-ttyUSB0.device");
  CHECK(unit_name_from_path("/dev/.x", "device") == "dev-.x.device");
  CHECK(unit_name_from_path("/dev/a b\\c", "device") == "dev-a\\x20b\\x5cc.device");
  CHECK(unit_name_from_path(".hidden", "device") == "\\x2ehidden.device");
  CHECK(unit_name_from_path("/", "mount") == "-.mount");
}

TEST_CASE("generator: a TCP configuration allows its gateway and waits for no device") {
  soleus::test::TempDir dir;
  const DaemonConfig cfg = load_daemon_config(config_file(dir, "reference-tcp.toml"));
  const GeneratorOutput o = systemd_dropins(cfg);
  CHECK(o.warnings.empty());
  const auto* net = find(o, kNetwork);
  REQUIRE(net != nullptr);
  CHECK(has_line(net, "[Service]"));
  CHECK(has_line(net, "IPAddressAllow=localhost"));
  CHECK(has_line(net, "IPAddressAllow=192.168.10.20"));
  CHECK(find(o, kDevice) == nullptr);  // no Wants=/After= a tty: no device timeout
  for (const auto& f : o.files) CHECK(f.text.find(".device") == std::string::npos);
  CHECK(has_line(find(o, kSocket), "ListenStream="));  // resets the unit's default first
  CHECK(has_line(find(o, kSocket), "ListenStream=127.0.0.1:8080"));
  CHECK(has_line(find(o, kKiosk), "Environment=SOLEUS_HMI_URL=http://127.0.0.1:8080/"));
  // The one allow-list the network drop-in is written from.
  const EgressAllowList l = egress_allow_list(cfg);
  CHECK(l.allow == std::vector<std::string>{"localhost", "192.168.10.20"});
}

TEST_CASE("generator: a gateway named by a host name is not allowed, with a warning") {
  soleus::test::TempDir dir;
  const DaemonConfig cfg = load_daemon_config(config_file(
      dir, "reference-tcp.toml", {{"host = \"192.168.10.20\"", "host = \"gateway.local\""}}));
  const GeneratorOutput o = systemd_dropins(cfg);
  REQUIRE(o.warnings.size() == 1);
  CHECK(o.warnings[0].find("gateway.local") != std::string::npos);
  CHECK(o.warnings[0].find("IP address") != std::string::npos);
  const auto* net = find(o, kNetwork);
  CHECK(has_line(net, "IPAddressAllow=localhost"));
  CHECK(net->text.find("gateway.local") == std::string::npos);
}

TEST_CASE("generator: the [fleet] broker is allowed: by IP, by /etc/hosts, else a warning") {
  soleus::test::TempDir dir;
  std::ofstream(dir.file("ca.pem")) << "x";
  auto with_broker = [&](const std::string& url) {
    return load_daemon_config(
        config_file(dir, "reference-tcp.toml",
                    {{"[limits]", "[fleet]\nbroker = \"" + url +
                                      "\"\nmachine = \"m1\"\nsite = \"gym\"\nca_file = \"" +
                                      dir.file("ca.pem") + "\"\n\n[limits]"}}));
  };
  // no [fleet]: the list as before
  CHECK(egress_allow_list(load_daemon_config(config_file(dir, "reference-tcp.toml")), "").allow ==
        std::vector<std::string>{"localhost", "192.168.10.20"});
  CHECK(egress_allow_list(with_broker("mqtts://10.1.2.3:8883"), "").allow ==
        std::vector<std::string>{"localhost", "192.168.10.20", "10.1.2.3"});
  CHECK(egress_allow_list(with_broker("mqtts://[fd00::7]:8883"), "").allow ==
        std::vector<std::string>{"localhost", "192.168.10.20", "fd00::7"});
  const std::string hosts =
      "127.0.0.1 localhost\n# 10.9.9.9 broker.gym\n10.0.0.7\tbroker.gym broker  # the gym's\n"
      "fd00::7 broker.gym\n";
  const auto named = egress_allow_list(with_broker("mqtts://broker.gym:8883"), hosts);
  CHECK(named.allow ==
        std::vector<std::string>{"localhost", "192.168.10.20", "10.0.0.7", "fd00::7"});
  CHECK(named.warnings.empty());
  const auto unknown = egress_allow_list(with_broker("mqtts://elsewhere.gym:8883"), hosts);
  CHECK(unknown.allow == std::vector<std::string>{"localhost", "192.168.10.20"});
  REQUIRE(unknown.warnings.size() == 1);
  CHECK(unknown.warnings[0].find("/etc/hosts") != std::string::npos);
  // and in the drop-in
  const GeneratorOutput o = systemd_dropins(with_broker("mqtts://10.1.2.3:8883"));
  CHECK(has_line(find(o, kNetwork), "IPAddressAllow=10.1.2.3"));
}

TEST_CASE("generator: IPv6 gateway and an HMI on every interface") {
  soleus::test::TempDir dir;
  const DaemonConfig cfg =
      load_daemon_config(config_file(dir, "reference-tcp.toml",
                                     {{"host = \"192.168.10.20\"", "host = \"fd00::20\""},
                                      {"bind = \"127.0.0.1\"", "bind = \"::\""},
                                      {"port = 8080", "port = 8081"}}));
  const GeneratorOutput o = systemd_dropins(cfg);
  CHECK(has_line(find(o, kNetwork), "IPAddressAllow=fd00::20"));
  CHECK(has_line(find(o, kSocket), "ListenStream=[::]:8081"));
  // The kiosk reaches an unspecified bind on the loopback.
  CHECK(has_line(find(o, kKiosk), "Environment=SOLEUS_HMI_URL=http://[::1]:8081/"));
}

TEST_CASE("generator: an RTU configuration waits for its adapter and allows it") {
  soleus::test::TempDir dir;
  SUBCASE("the reference: /dev/ttySOLEUS") {
    const GeneratorOutput o =
        systemd_dropins(load_daemon_config(config_file(dir, "reference-rtu.toml")));
    CHECK(o.warnings.empty());
    const auto* dev = find(o, kDevice);
    REQUIRE(dev != nullptr);
    CHECK(has_line(dev, "[Unit]"));
    CHECK(has_line(dev, "Wants=dev-ttySOLEUS.device"));
    CHECK(has_line(dev, "After=dev-ttySOLEUS.device"));
    CHECK(has_line(dev, "DeviceAllow=/dev/ttySOLEUS rw"));
    CHECK(has_line(dev, "DeviceAllow=char-ttyUSB rw"));
    CHECK(has_line(find(o, kNetwork), "IPAddressAllow=localhost"));
    CHECK(find(o, kNetwork)->text.find("IPAddressAllow=127.0.0.1") == std::string::npos);
  }
  SUBCASE("a by-id path") {
    const GeneratorOutput o = systemd_dropins(load_daemon_config(config_file(
        dir, "reference-rtu.toml",
        {{"device = \"/dev/ttySOLEUS\"", "device = \"/dev/serial/by-id/usb-x-port0\""}})));
    CHECK(has_line(find(o, kDevice), "After=dev-serial-by\\x2did-usb\\x2dx\\x2dport0.device"));
    CHECK(has_line(find(o, kDevice), "DeviceAllow=/dev/serial/by-id/usb-x-port0 rw"));
  }
}

TEST_CASE("generator: run_generator writes the drop-ins, and nothing for a refused configuration") {
  soleus::test::TempDir dir;
  const fs::path out = dir.file("out");
  SUBCASE("valid") {
    const GeneratorRun r = run_generator(config_file(dir, "reference-rtu.toml"), out);
    CHECK(r.config_ok);
    CHECK(r.written == 4);
    CHECK(r.messages.empty());
    CHECK(soleus::test::read_text((out / kDevice).string()).find("Wants=dev-ttySOLEUS.device") !=
          std::string::npos);
    CHECK(fs::exists(out / kNetwork));
    CHECK(fs::exists(out / kSocket));
    CHECK(fs::exists(out / kKiosk));
  }
  SUBCASE("a configuration soleusd refuses") {
    const std::string path =
        config_file(dir, "reference-tcp.toml", {{"port = 502", "port = 70000"}});
    const GeneratorRun r = run_generator(path, out);
    CHECK_FALSE(r.config_ok);
    CHECK(r.written == 0);
    REQUIRE(r.messages.size() == 1);
    CHECK(r.messages[0].find("transport.port") != std::string::npos);
    CHECK(r.messages[0].find("soleus.toml:11") != std::string::npos);  // file and line
    CHECK_FALSE(fs::exists(out));
  }
  SUBCASE("no configuration file") {
    const GeneratorRun r = run_generator(dir.file("missing.toml"), out);
    CHECK_FALSE(r.config_ok);
    CHECK(r.written == 0);
    CHECK(r.messages.size() == 1);
    CHECK_FALSE(fs::exists(out));
  }
  SUBCASE("an unwritable directory is a message, not an exception") {
    std::ofstream(out.string()) << "a file where the directory should be";
    const GeneratorRun r = run_generator(config_file(dir, "reference-rtu.toml"), out);
    CHECK(r.config_ok);
    CHECK(r.written == 0);
    CHECK(r.messages.size() == 4);
  }
}
