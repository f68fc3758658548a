// ModbusBus: one libmodbus context, its counters and its reconnect policy.
// Principle of operation: see modbus_bus.hpp. In short:
//  1. connect() creates the context (TCP or RTU), sets timeouts, disables
//     libmodbus's own error recovery (it can block for seconds) and opens it.
//  2. transact() runs one request up to 1 + retries times. Each attempt is
//     counted, with its request bytes; a reply adds its response bytes. After
//     a timeout or a malformed reply, stale input is flushed so that a late
//     reply is never taken for the answer to the next request.
//  3. A link error (reset, broken pipe, I/O error), or on TCP several timeouts
//     in a row, closes the context. ensure_connected() reopens it no sooner
//     than the back-off delay (50 ms doubling to 2 s, reset by a success).
//     On RTU timeouts never close the port: reopening a serial line does not
//     bring a silent device back, and a pty pair would die with it.
#include "soleus/drivers/modbus_bus.hpp"

#include <modbus/modbus.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

#include "soleus/common/log.hpp"

namespace soleus::drivers {

namespace {

constexpr auto kBackoffMin = std::chrono::milliseconds(50);
constexpr auto kBackoffMax = std::chrono::milliseconds(2000);
/// On TCP, this many timeouts in a row are taken as a dead connection.
constexpr int kTcpTimeoutsBeforeReconnect = 5;
constexpr std::size_t kMaxReadRegisters = 125;
constexpr std::size_t kMaxWriteRegisters = 123;
constexpr std::size_t kMaxWriteReadRegisters = 121;
constexpr std::size_t kMaxReadBits = 2000;

void split_ms(double ms, std::uint32_t& sec, std::uint32_t& usec) {
  const double us = std::max(0.0, std::round(ms * 1000.0));
  sec = static_cast<std::uint32_t>(us / 1e6);
  usec = static_cast<std::uint32_t>(us - static_cast<double>(sec) * 1e6);
}

bool is_link_error(int err) {
  switch (err) {
    case ECONNRESET:
    case EPIPE:
    case EBADF:
    case ECONNREFUSED:
    case ENOTCONN:
    case ECONNABORTED:
    case ESHUTDOWN:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EIO:
    case ENXIO:
    case ENODEV: return true;
    default: return false;
  }
}

}  // namespace

const char* to_string(BusResult r) {
  switch (r) {
    case BusResult::Ok: return "ok";
    case BusResult::Timeout: return "timeout";
    case BusResult::CrcError: return "CRC error";
    case BusResult::FramingError: return "framing error";
    case BusResult::Exception: return "exception reply";
    case BusResult::Disconnected: return "disconnected";
    case BusResult::BadValue: return "bad value";
  }
  return "?";
}

ModbusBus::ModbusBus(TransportConfig cfg) : cfg_(std::move(cfg)) {}

ModbusBus::~ModbusBus() { close(); }

void ModbusBus::close() {
  if (ctx_ != nullptr) {
    modbus_close(ctx_);
    modbus_free(ctx_);
    ctx_ = nullptr;
  }
  connected_ = false;
}

void ModbusBus::set_debug(bool on) {
  debug_ = on;
  if (ctx_ != nullptr) modbus_set_debug(ctx_, on ? 1 : 0);
}

std::size_t ModbusBus::frame_overhead() const {
  // RTU: unit id + PDU + CRC16. TCP: MBAP header (7 bytes, unit id included) + PDU.
  return cfg_.kind == TransportConfig::Kind::Rtu ? 3 : 7;
}

BusResult ModbusBus::connect() {
  close();
  const bool rtu = cfg_.kind == TransportConfig::Kind::Rtu;
  if (rtu) {
    ctx_ =
        modbus_new_rtu(cfg_.device.c_str(), cfg_.baud, cfg_.parity, cfg_.data_bits, cfg_.stop_bits);
  } else {
    const std::string port = std::to_string(cfg_.port);
    ctx_ = modbus_new_tcp_pi(cfg_.host.c_str(), port.c_str());
  }
  if (ctx_ == nullptr) {
    last_error_ = std::string("cannot create the Modbus context: ") + modbus_strerror(errno);
    return BusResult::Disconnected;
  }
  modbus_set_debug(ctx_, debug_ ? 1 : 0);
  modbus_set_error_recovery(ctx_, MODBUS_ERROR_RECOVERY_NONE);
  std::uint32_t sec = 0, usec = 0;
  split_ms(cfg_.response_timeout_ms, sec, usec);
  modbus_set_response_timeout(ctx_, sec, usec);
  if (rtu) {
    split_ms(cfg_.byte_timeout_ms, sec, usec);
    modbus_set_byte_timeout(ctx_, sec, usec);
  } else {
    // TCP: the whole reply must arrive within the response timeout.
    modbus_set_byte_timeout(ctx_, 0, 0);
  }
  if (modbus_connect(ctx_) != 0) {
    last_error_ = std::string(rtu ? cfg_.device : cfg_.host + ":" + std::to_string(cfg_.port)) +
                  ": " + modbus_strerror(errno);
    modbus_free(ctx_);
    ctx_ = nullptr;
    return BusResult::Disconnected;
  }
  if (rtu && cfg_.rs485) {
    if (modbus_rtu_set_serial_mode(ctx_, MODBUS_RTU_RS485) != 0 && errno != ENOTTY) {
      // ENOTTY: the adapter switches direction itself (USB adapters, ptys).
      log::warn("modbus: ", cfg_.device, ": RS-485 mode refused: ", modbus_strerror(errno));
    }
  }
  if (rtu) modbus_flush(ctx_);
  connected_ = true;
  consecutive_failures_ = 0;
  flush_pending_ = false;
  return BusResult::Ok;
}

bool ModbusBus::ensure_connected() {
  if (connected()) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) return false;
  if (connect() == BusResult::Ok) {
    if (stats_.disconnects > 0) ++stats_.reconnects;
    return true;
  }
  next_attempt_ = now + backoff_;
  backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, kBackoffMax);
  return false;
}

BusResult ModbusBus::classify(int err) {
  last_error_ = modbus_strerror(err);
  if (err == ETIMEDOUT) {
    ++stats_.timeouts;
    return BusResult::Timeout;
  }
  if (err == EMBBADCRC) {
    ++stats_.crc_errors;
    return BusResult::CrcError;
  }
  if (err >= EMBXILFUN && err <= EMBXGTAR) {
    ++stats_.exceptions;
    return BusResult::Exception;
  }
  if (is_link_error(err)) return BusResult::Disconnected;
  // EMBBADDATA, EMBMDATA, EMBBADSLAVE, EMBBADEXC, EMBUNKEXC and anything unexpected.
  ++stats_.framing_errors;
  return BusResult::FramingError;
}

template <class Fn>
BusResult ModbusBus::transact(int unit, std::size_t tx_pdu, std::size_t rx_pdu, Fn&& fn) {
  const bool rtu = cfg_.kind == TransportConfig::Kind::Rtu;
  BusResult result = BusResult::Disconnected;
  for (int attempt = 0; attempt <= cfg_.retries; ++attempt) {
    if (!ensure_connected()) {
      if (result == BusResult::Disconnected && last_error_.empty()) last_error_ = "not connected";
      return attempt == 0 ? BusResult::Disconnected : result;
    }
    if (modbus_set_slave(ctx_, unit) != 0) {
      last_error_ = "invalid unit id " + std::to_string(unit);
      return BusResult::FramingError;
    }
    if (flush_pending_) {
      modbus_flush(ctx_);  // a late reply to an earlier request may be waiting
      flush_pending_ = false;
    }
    ++stats_.transactions;
    stats_.bytes_tx += frame_overhead() + tx_pdu;
    errno = 0;
    if (fn() != -1) {
      ++stats_.ok;
      stats_.bytes_rx += frame_overhead() + rx_pdu;
      consecutive_failures_ = 0;
      backoff_ = kBackoffMin;
      return BusResult::Ok;
    }
    const int err = errno;
    result = classify(err);
    ++consecutive_failures_;
    if (result == BusResult::Exception) {
      stats_.bytes_rx += frame_overhead() + 2;  // function | 0x80, exception code
      consecutive_failures_ = 0;                // the device is there and answering
      return result;
    }
    const bool too_many_tcp_timeouts = !rtu && result == BusResult::Timeout &&
                                       consecutive_failures_ >= kTcpTimeoutsBeforeReconnect;
    if (result == BusResult::Disconnected || too_many_tcp_timeouts) {
      if (debug_ || stats_.disconnects == 0)
        log::warn("modbus: link lost (", last_error_, "); reconnecting with back-off");
      ++stats_.disconnects;
      close();
      next_attempt_ = std::chrono::steady_clock::now() + backoff_;
      backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, kBackoffMax);
      consecutive_failures_ = 0;
      return result;
    }
    // Timeout, CRC or framing error: drop whatever is left of this exchange,
    // now and again before the next request (a late reply may still come).
    modbus_flush(ctx_);
    flush_pending_ = true;
  }
  return result;
}

BusResult ModbusBus::read_holding(int unit, int address, std::span<std::uint16_t> out) {
  if (out.empty() || out.size() > kMaxReadRegisters) return BusResult::FramingError;
  const int n = static_cast<int>(out.size());
  return transact(unit, 5, 2 + 2 * out.size(), [&] {
    return modbus_read_registers(ctx_, address, n, out.data()) == n ? 0 : -1;
  });
}

BusResult ModbusBus::read_input(int unit, int address, std::span<std::uint16_t> out) {
  if (out.empty() || out.size() > kMaxReadRegisters) return BusResult::FramingError;
  const int n = static_cast<int>(out.size());
  return transact(unit, 5, 2 + 2 * out.size(), [&] {
    return modbus_read_input_registers(ctx_, address, n, out.data()) == n ? 0 : -1;
  });
}

BusResult ModbusBus::read_coils(int unit, int address, std::span<std::uint8_t> out) {
  if (out.empty() || out.size() > kMaxReadBits) return BusResult::FramingError;
  const int n = static_cast<int>(out.size());
  return transact(unit, 5, 2 + (out.size() + 7) / 8,
                  [&] { return modbus_read_bits(ctx_, address, n, out.data()) == n ? 0 : -1; });
}

BusResult ModbusBus::read_discrete(int unit, int address, std::span<std::uint8_t> out) {
  if (out.empty() || out.size() > kMaxReadBits) return BusResult::FramingError;
  const int n = static_cast<int>(out.size());
  return transact(unit, 5, 2 + (out.size() + 7) / 8, [&] {
    return modbus_read_input_bits(ctx_, address, n, out.data()) == n ? 0 : -1;
  });
}

BusResult ModbusBus::write_register(int unit, int address, std::uint16_t value) {
  return transact(unit, 5, 5,
                  [&] { return modbus_write_register(ctx_, address, value) == 1 ? 0 : -1; });
}

BusResult ModbusBus::write_registers(int unit, int address, std::span<const std::uint16_t> v) {
  if (v.empty() || v.size() > kMaxWriteRegisters) return BusResult::FramingError;
  const int n = static_cast<int>(v.size());
  return transact(unit, 6 + 2 * v.size(), 5,
                  [&] { return modbus_write_registers(ctx_, address, n, v.data()) == n ? 0 : -1; });
}

BusResult ModbusBus::write_coil(int unit, int address, bool value) {
  return transact(unit, 5, 5,
                  [&] { return modbus_write_bit(ctx_, address, value ? 1 : 0) == 1 ? 0 : -1; });
}

BusResult ModbusBus::write_and_read(int unit, int write_address,
                                    std::span<const std::uint16_t> values, int read_address,
                                    std::span<std::uint16_t> out) {
  if (values.empty() || values.size() > kMaxWriteReadRegisters || out.empty() ||
      out.size() > kMaxReadRegisters)
    return BusResult::FramingError;
  const int nw = static_cast<int>(values.size());
  const int nr = static_cast<int>(out.size());
  // Request PDU: function, read address (2), read count (2), write address (2),
  // write count (2), byte count (1), values. Response: function, byte count, values.
  return transact(unit, 10 + 2 * values.size(), 2 + 2 * out.size(), [&] {
    return modbus_write_and_read_registers(ctx_, write_address, nw, values.data(), read_address, nr,
                                           out.data()) == nr
               ? 0
               : -1;
  });
}

}  // namespace soleus::drivers
