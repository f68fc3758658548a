#pragma once
/// soleus-sim's endpoints: Modbus TCP, Modbus RTU on a serial device, the
/// line-delimited JSON control channel, and the real-time physics clock.
///
/// Principle of operation:
///  1. PhysicsClock steps the Machine in 1 ms steps on its own thread,
///     catching up by elapsed steady-clock time (never faster than real time).
///  2. ModbusTcpServer and ControlServer are Asio servers on one io_context
///     (one thread): several clients at once, each request answered in order.
///  3. RtuServer owns the serial device on its own thread: frames are cut by
///     their length (known from the function code), CRC-checked, and answered
///     for either unit id on the one bus; unparseable bytes are dropped after
///     a silence.
///  4. With wire time on, every transaction occupies an emulated RS-485 bus:
///     it starts when the bus is free, is executed after the request's frame
///     time + t3.5, and its reply leaves after 0.5 ms turnaround + the reply's
///     frame time + t3.5. One bus per endpoint, transactions serialised.
#include <atomic>
#include <boost/asio.hpp>
#include <memory>
#include <string>
#include <thread>

#include "soleus/sim/machine.hpp"

namespace soleus::sim {

struct WireTime {
  bool enabled = false;
  int baud = 115200;
};

class PhysicsClock {
 public:
  explicit PhysicsClock(Machine& m) : m_(m) {}
  ~PhysicsClock() { stop(); }
  void start();
  void stop();

 private:
  Machine& m_;
  std::atomic<bool> run_{false};
  std::thread thread_;
};

class ModbusTcpServer {
 public:
  /// Binds at once (port 0 = the OS chooses); throws std::system_error on failure.
  ModbusTcpServer(boost::asio::io_context& io, Machine& m, const std::string& host, int port,
                  WireTime wt);
  ~ModbusTcpServer();
  int port() const;
  std::string host() const;
  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, Machine& m, const std::string& host, int port);
  ~ControlServer();
  int port() const;
  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

class RtuServer {
 public:
  /// Opens the device (8 data bits, `parity` 'N'/'E'/'O', 1 stop bit); throws
  /// std::runtime_error when it cannot be opened.
  RtuServer(Machine& m, std::string path, int baud, char parity, WireTime wt);
  ~RtuServer();
  void start();
  void stop();
  const std::string& path() const { return path_; }

 private:
  void open_port();
  void run();
  void handle_frame(const std::vector<std::uint8_t>& frame,
                    std::chrono::steady_clock::time_point arrival);

  Machine& m_;
  std::string path_;
  int baud_;
  char parity_;
  WireTime wt_;
  int fd_ = -1;
  std::atomic<bool> run_{false};
  std::thread thread_;
  std::chrono::steady_clock::time_point bus_free_{};
};

/// One-shot client of the control channel: sends `json` as one line to
/// host:port and returns the reply line. Throws std::runtime_error on failure.
std::string control_request(const std::string& host, int port, const std::string& json);

}  // namespace soleus::sim
