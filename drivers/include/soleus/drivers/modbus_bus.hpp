#pragma once
/// RAII wrapper of one libmodbus context: one bus, owned by one thread.
///
/// Principle of operation:
///  1. The constructor only records the configuration; connect() opens the
///     port or socket, sets the response and byte timeouts and (RTU) asks for
///     RS-485 mode, where ENOTTY means "the adapter switches itself".
///  2. Every transaction returns a BusResult; nothing throws in the loop.
///     A failed transaction is retried up to `retries` times at once.
///  3. After a failure that suggests the link is gone (connection reset,
///     broken pipe, repeated timeouts), the context is closed and reconnect
///     is attempted no sooner than the back-off delay, which doubles from 50 ms
///     up to 2 s and resets on the first success. Every reconnect is counted.
///  4. Counters are kept per error class, and the request + response bytes of
///     every transaction are added to tx/rx (computed from the frame formats
///     of RTU and TCP, as they appear on the wire).
///  5. After a timeout or a malformed reply the input is flushed at once and
///     again just before the next request, so that a reply arriving late is
///     never taken for the answer to the next request.
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "soleus/drivers/machine_config.hpp"

typedef struct _modbus modbus_t;  // NOLINT(bugprone-reserved-identifier): libmodbus's own tag name

namespace soleus::drivers {

/// Whether a transaction (and so a command) reached the device. [[nodiscard]]
/// on the type: every function that returns one must have its result looked
/// at, or discarded with (void) and a comment saying why.
enum class [[nodiscard]] BusResult{
    Ok,
    Timeout,       ///< no (complete) reply within the response timeout
    CrcError,      ///< a reply with a bad CRC (RTU)
    FramingError,  ///< a malformed or unexpected reply (wrong length, unit, function)
    Exception,     ///< the device answered with a Modbus exception
    Disconnected,  ///< no link; waiting for the back-off before reconnecting
    BadValue,      ///< the reply decoded to something that is not a valid value
};
const char* to_string(BusResult r);

/// Counters since start. Plain values: copy them out for statistics.
struct BusStats {
  std::uint64_t transactions = 0;  ///< attempted, including retries
  std::uint64_t ok = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t crc_errors = 0;
  std::uint64_t framing_errors = 0;
  std::uint64_t exceptions = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t bytes_tx = 0;  ///< request bytes on the wire
  std::uint64_t bytes_rx = 0;  ///< response bytes on the wire (successful replies)
};

/// The transactions a device driver needs: the Modbus master over a real
/// link (ModbusBus) or an in-process transport (the proving ground's
/// InProcessBus over the simulator's register tables). One bus, one thread.
class Bus {
 public:
  virtual ~Bus() = default;
  virtual bool connected() const = 0;
  virtual BusResult read_holding(int unit, int address, std::span<std::uint16_t> out) = 0;
  virtual BusResult read_input(int unit, int address, std::span<std::uint16_t> out) = 0;
  virtual BusResult read_coils(int unit, int address, std::span<std::uint8_t> out) = 0;
  virtual BusResult read_discrete(int unit, int address, std::span<std::uint8_t> out) = 0;
  virtual BusResult write_register(int unit, int address, std::uint16_t value) = 0;  // FC 06
  virtual BusResult write_registers(int unit, int address,
                                    std::span<const std::uint16_t> v) = 0;  // FC 16
  virtual BusResult write_coil(int unit, int address, bool value) = 0;      // FC 05
  /// FC 23: writes `values` at write_address, then reads into `out` from read_address.
  virtual BusResult write_and_read(int unit, int write_address,
                                   std::span<const std::uint16_t> values, int read_address,
                                   std::span<std::uint16_t> out) = 0;
  virtual const BusStats& stats() const = 0;
  virtual const TransportConfig& config() const = 0;
  /// Text of the last failure, for events and logs.
  virtual const std::string& last_error() const = 0;
};

class ModbusBus final : public Bus {
 public:
  explicit ModbusBus(TransportConfig cfg);
  ~ModbusBus() override;
  ModbusBus(const ModbusBus&) = delete;
  ModbusBus& operator=(const ModbusBus&) = delete;

  /// Opens the link now (ignoring the back-off). Returns Ok or Disconnected.
  BusResult connect();
  void close();
  bool connected() const override { return ctx_ != nullptr && connected_; }

  BusResult read_holding(int unit, int address, std::span<std::uint16_t> out) override;
  BusResult read_input(int unit, int address, std::span<std::uint16_t> out) override;
  BusResult read_coils(int unit, int address, std::span<std::uint8_t> out) override;
  BusResult read_discrete(int unit, int address, std::span<std::uint8_t> out) override;
  BusResult write_register(int unit, int address, std::uint16_t value) override;  // FC 06
  BusResult write_registers(int unit, int address,
                            std::span<const std::uint16_t> v) override;  // FC 16
  BusResult write_coil(int unit, int address, bool value) override;      // FC 05
  /// FC 23: writes `values` at write_address, then reads into `out` from read_address.
  BusResult write_and_read(int unit, int write_address, std::span<const std::uint16_t> values,
                           int read_address, std::span<std::uint16_t> out) override;

  const BusStats& stats() const override { return stats_; }
  const TransportConfig& config() const override { return cfg_; }
  /// errno text of the last failure, for events and logs.
  const std::string& last_error() const override { return last_error_; }
  /// Turns libmodbus frame tracing on stderr on or off.
  void set_debug(bool on);

 private:
  template <class Fn>
  BusResult transact(int unit, std::size_t tx_pdu, std::size_t rx_pdu, Fn&& fn);
  BusResult classify(int err);
  bool ensure_connected();
  std::size_t frame_overhead() const;

  TransportConfig cfg_;
  modbus_t* ctx_ = nullptr;
  bool connected_ = false;
  bool debug_ = false;
  int consecutive_failures_ = 0;
  bool flush_pending_ = false;  ///< flush stale input before the next request
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{50};
  BusStats stats_;
  std::string last_error_;
};

}  // namespace soleus::drivers
