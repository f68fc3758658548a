#include "soleus/test_support/sim_process.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace soleus::test {

namespace {

int parse_port(const std::string& rest) {
  // rest is "127.0.0.1:PORT" possibly followed by more text.
  const auto colon = rest.rfind(':', rest.find(' '));
  if (colon == std::string::npos) return 0;
  return std::atoi(rest.c_str() + colon + 1);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

}  // namespace

std::string sim_executable() {
  if (const char* env = std::getenv("SOLEUS_SIM"); env && *env) return env;
#ifdef SOLEUS_SIM_EXE
  return SOLEUS_SIM_EXE;
#else
  return "soleus-sim";
#endif
}

bool sim_available() {
  const std::string exe = sim_executable();
  if (exe.find('/') == std::string::npos) return false;
  return ::access(exe.c_str(), X_OK) == 0;
}

void SimProcess::start(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{sim_executable()};
  argv.insert(argv.end(), args.begin(), args.end());
  bool want_tcp = false;
  for (const auto& a : args)
    if (a == "--tcp") want_tcp = true;
  process_.start(argv);
  const auto fail = [&](const std::string& what) {
    const std::string out = process_.output();
    process_.stop(std::chrono::milliseconds(500));
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("soleus-sim did not come up (" + what + "): " + cmd + "\n" + out);
  };
  const auto control = process_.wait_for_line("soleus-sim: control ", timeout);
  if (!control) fail("no control port line");
  control_port_ = parse_port(*control);
  if (control_port_ <= 0) fail("unreadable control port");
  modbus_port_ = 0;
  if (want_tcp) {
    const auto tcp = process_.wait_for_line("soleus-sim: modbus tcp ", timeout);
    if (!tcp) fail("no modbus tcp port line");
    modbus_port_ = parse_port(*tcp);
    if (modbus_port_ <= 0) fail("unreadable modbus port");
  }
}

void SimProcess::start_tcp(const std::string& config_file, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"--config",    config_file,      "--tcp",
                                "127.0.0.1:0", "--control-port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  start(args);
}

void SimProcess::start_rtu(const std::string& config_file, const std::string& pty, int baud,
                           const std::string& parity, const std::vector<std::string>& extra) {
  std::vector<std::string> args{
      "--config", config_file, "--rtu",          pty, "--baud", std::to_string(baud),
      "--parity", parity,      "--control-port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  start(args);
}

std::string SimProcess::control(const std::string& json) const {
  if (control_port_ <= 0) throw std::runtime_error("SimProcess::control: not started");
  const RunResult r = run_command({sim_executable(), "--ctl", std::to_string(control_port_), json},
                                  std::chrono::milliseconds(5000));
  if (r.exit_code != 0)
    throw std::runtime_error("soleus-sim --ctl " + json + " failed (" +
                             std::to_string(r.exit_code) + "): " + r.output);
  return trim(r.output);
}

SocatPair::SocatPair() {
  a_ = dir_.file("a");
  b_ = dir_.file("b");
  process_.start({"socat", "-d", "-d", "pty,raw,echo=0,link=" + a_, "pty,raw,echo=0,link=" + b_});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // socat prints "starting data transfer loop" once both ptys are open.
  for (;;) {
    std::error_code ec;
    const bool links = std::filesystem::exists(a_, ec) && std::filesystem::exists(b_, ec);
    if (links &&
        process_.wait_for_line("starting data transfer loop", std::chrono::milliseconds(10)))
      return;
    if (std::chrono::steady_clock::now() >= deadline) {
      const std::string out = process_.output();
      process_.stop(std::chrono::milliseconds(200));
      throw std::runtime_error("socat did not create the pty pair:\n" + out);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace soleus::test
