#pragma once
/// soleus-sim and socat started from tests.
///
/// Principle of operation:
///  1. SimProcess runs the soleus-sim binary with the given arguments and waits
///     for its start-up lines "soleus-sim: modbus tcp 127.0.0.1:PORT" (when
///     started with --tcp) and "soleus-sim: control 127.0.0.1:PORT", so the
///     ports are whatever the OS gave it (tests pass port 0: never a collision).
///  2. control(json) sends one JSON request on the control channel and returns
///     the reply line, through the simulator's own one-shot client
///     (`soleus-sim --ctl PORT '<json>'`).
///  3. SocatPair makes two linked ptys (socat, raw, no echo) as symlinks in a
///     private temporary directory; socat exits when either side closes, so a
///     test makes a fresh pair.
#include <chrono>
#include <string>
#include <vector>

#include "soleus/test_support/process.hpp"

namespace soleus::test {

/// Path of the soleus-sim binary: $SOLEUS_SIM if set, else the build tree's
/// binary when the support library was built alongside it, else "soleus-sim".
std::string sim_executable();
/// True when sim_executable() names an existing executable file.
bool sim_available();

class SimProcess {
 public:
  SimProcess() = default;
  ~SimProcess() { stop(); }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  /// Starts soleus-sim with `args` (e.g. {"--config", f, "--tcp", "127.0.0.1:0",
  /// "--control-port", "0"}) and waits (bounded) for the port lines. Throws
  /// std::runtime_error with the simulator's output when it does not come up.
  void start(const std::vector<std::string>& args,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  /// Convenience: --config FILE --tcp 127.0.0.1:0 --control-port 0 plus `extra`.
  void start_tcp(const std::string& config_file, const std::vector<std::string>& extra = {});
  /// Convenience: --config FILE --rtu PTY --baud B --parity N --control-port 0 plus `extra`.
  void start_rtu(const std::string& config_file, const std::string& pty, int baud = 115200,
                 const std::string& parity = "N", const std::vector<std::string>& extra = {});

  /// Modbus TCP port (0 when started without --tcp).
  int modbus_port() const { return modbus_port_; }
  int control_port() const { return control_port_; }
  /// Sends one JSON request on the control channel; returns the reply (trimmed).
  /// Throws std::runtime_error when the client fails.
  std::string control(const std::string& json) const;
  void stop() { process_.stop(); }
  bool running() const { return process_.running(); }
  /// The simulator's output so far (for failure messages).
  std::string output() const { return process_.output(); }

 private:
  ChildProcess process_;
  int modbus_port_ = 0;
  int control_port_ = 0;
};

/// Two linked ptys from socat: what is written to a() is read from b().
class SocatPair {
 public:
  /// Starts socat and waits (bounded) until both pty links exist. Throws on failure.
  SocatPair();
  ~SocatPair() { stop(); }
  SocatPair(const SocatPair&) = delete;
  SocatPair& operator=(const SocatPair&) = delete;
  const std::string& a() const { return a_; }
  const std::string& b() const { return b_; }
  void stop() { process_.stop(); }
  bool running() const { return process_.running(); }

 private:
  TempDir dir_;
  ChildProcess process_;
  std::string a_;
  std::string b_;
};

}  // namespace soleus::test
