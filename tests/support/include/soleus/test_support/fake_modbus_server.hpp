#pragma once
/// An in-process Modbus TCP server with one register bank per unit id, for
/// unit-level tests of the drivers (no simulator, fully deterministic).
///
/// Principle of operation:
///  1. The constructor listens on 127.0.0.1 port 0 (the OS picks a free port)
///     and starts one server thread that serves one client at a time.
///  2. Each request is dispatched by its MBAP unit id to that unit's bank
///     (libmodbus's modbus_reply answers it: registers, FC 23, exceptions for
///     addresses outside the bank). An unknown unit id is not answered.
///  3. The test thread reads and writes the banks under a mutex, counts the
///     requests per function code, and can make the server drop the next N
///     requests (no reply, as a lost frame) or close the connection.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

typedef struct _modbus modbus_t;  // NOLINT(bugprone-reserved-identifier): libmodbus's own tag name
// NOLINTNEXTLINE(bugprone-reserved-identifier): libmodbus's own tag name
typedef struct _modbus_mapping_t modbus_mapping_t;

namespace soleus::test {

class FakeModbusServer {
 public:
  /// Modbus TCP: each unit gets `registers` holding and input registers and
  /// bits, starting at 0.
  explicit FakeModbusServer(const std::vector<int>& units, int registers = 256);
  /// Modbus RTU on a serial device (e.g. one end of a SocatPair), answering
  /// one unit id (libmodbus's RTU server filters on a single unit).
  struct Rtu {
    std::string device;
    int unit = 1;
    int baud = 115200;
    char parity = 'N';
  };
  explicit FakeModbusServer(const Rtu& rtu, int registers = 256);
  ~FakeModbusServer();
  FakeModbusServer(const FakeModbusServer&) = delete;
  FakeModbusServer& operator=(const FakeModbusServer&) = delete;

  int port() const { return port_; }

  void set_holding(int unit, int address, std::uint16_t value);
  void set_input(int unit, int address, std::uint16_t value);
  std::uint16_t holding(int unit, int address) const;
  std::uint16_t input(int unit, int address) const;

  /// Requests received per function code (answered or not).
  int requests(int function_code) const;
  int total_requests() const;
  void reset_counts();
  /// The next `n` requests get no reply.
  void drop_next(int n) { drop_.store(n); }
  /// The next reply is sent `ms` milliseconds late.
  void delay_next_reply(int ms) { delay_ms_.store(ms); }
  /// Closes the current client connection before the next reply.
  void disconnect_client() { kick_.store(true); }
  /// A value the server writes to holding register `address` of `unit` after
  /// each request it answers (e.g. a device clearing a command register).
  void set_after_reply(int unit, int address, std::uint16_t value);

 private:
  void serve();
  void serve_client();

  modbus_t* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::map<int, modbus_mapping_t*> banks_;
  std::map<int, int> counts_;
  std::vector<std::tuple<int, int, std::uint16_t>> after_reply_;
  bool rtu_ = false;
  std::atomic<int> drop_{0};
  std::atomic<int> delay_ms_{0};
  std::atomic<bool> kick_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace soleus::test
