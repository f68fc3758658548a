#pragma once
/// soleus-generator: the systemd generator that adapts the installed units to
/// the installed configuration, /etc/soleus/soleus.toml in the package
/// (docs/systemd.md, "soleus-generator").
///
/// Principle of operation:
///  1. systemd runs the generator early at boot and at every daemon-reload,
///     before it loads units, with the directory to write into.
///  2. The configuration is read with soleusd's own loader; one that soleusd
///     would refuse makes the generator write nothing (the units' safe
///     defaults stay: loopback only, no device wait, the HMI socket on
///     127.0.0.1:8080) and log why. It never fails the boot.
///  3. systemd_dropins() turns a valid configuration into drop-ins: a pure
///     function, unit-tested; run_generator() writes them.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "soleus/app/daemon_config.hpp"

namespace soleus::app {

/// Where soleusd may reach over IP (IPAddressAllow= of soleusd.service).
struct EgressAllowList {
  std::vector<std::string> allow;     ///< IPAddressAllow= values, "localhost" first
  std::vector<std::string> warnings;  ///< peers that cannot be allowed, for the log
};

/// The one list of soleusd's IP peers: the loopback, the Modbus TCP gateway
/// when transport.host is an IP address (a host name cannot be resolved when
/// generators run: it is left out, with a warning), and the [fleet] broker:
/// its IP address, or the addresses /etc/hosts gives its name (a file read,
/// no DNS: docs/fleet.md, "The network allow-list"), else a warning.
EgressAllowList egress_allow_list(const DaemonConfig& cfg);
/// The same with the hosts file's text given (the tests').
EgressAllowList egress_allow_list(const DaemonConfig& cfg, const std::string& hosts_text);
/// The addresses a hosts(5) text gives `name` (first column of each line
/// whose names include it, comments ignored), in file order.
std::vector<std::string> hosts_file_addresses(const std::string& name,
                                              const std::string& hosts_text);

/// systemd-escape --path --suffix=SUFFIX, e.g. ("/dev/ttySOLEUS", "device")
/// -> "dev-ttySOLEUS.device", ("/dev/serial/by-id/usb-FTDI-if00", "device")
/// -> "dev-serial-by\x2did-usb\x2dFTDI\x2dif00.device".
std::string unit_name_from_path(std::string_view path, std::string_view suffix);

/// One file the generator writes, relative to its output directory.
struct GeneratedFile {
  std::string path;
  std::string text;
};

struct GeneratorOutput {
  std::vector<GeneratedFile> files;
  std::vector<std::string> warnings;  ///< for the log; the files are written regardless
};

/// The drop-ins for a valid configuration:
///  - soleusd.service.d/50-soleus-network.conf: IPAddressAllow= from
///    egress_allow_list() (the unit has IPAddressDeny=any);
///  - soleusd.service.d/50-soleus-device.conf, RTU only: Wants= and After=
///    the serial device's unit, DeviceAllow= for it (a TCP configuration
///    never waits for a device);
///  - soleus-hmi.socket.d/50-soleus-listen.conf: ListenStream= [hmi] bind:port;
///  - soleus-kiosk.service.d/50-soleus-url.conf: the page's address for the kiosk.
GeneratorOutput systemd_dropins(const DaemonConfig& cfg);

struct GeneratorRun {
  bool config_ok = false;             ///< false: the configuration was refused, nothing written
  std::size_t written = 0;            ///< files written
  std::vector<std::string> messages;  ///< warnings and errors for the log
};

/// Reads `config_path` and writes systemd_dropins() into `dir`. Never throws:
/// a refused configuration or an unwritable directory is a message.
GeneratorRun run_generator(const std::string& config_path, const std::filesystem::path& dir);

}  // namespace soleus::app
