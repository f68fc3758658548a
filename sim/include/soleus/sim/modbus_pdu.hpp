#pragma once
/// The simulator's own Modbus server side, independent of libmodbus: PDU
/// handling for FC 1, 2, 3, 4, 5, 6, 15, 16 and 23 with the specification's
/// exception replies, CRC-16, RTU frame delimiting and the TCP MBAP header.
///
/// Principle of operation:
///  1. handle_pdu() checks the function code (else exception 01), the
///     quantities and byte counts (else 03), then asks the RegisterTarget,
///     which answers 02 for an address it does not have and 03 for a value it
///     refuses. FC 23 writes first, then reads, as the specification says.
///  2. RTU: a request's length follows from its function code (and byte
///     count), so a frame is complete as soon as its bytes are in; the t3.5
///     silence only ends frames that cannot be parsed (they are dropped).
///  3. Wire time of one RTU transaction: (request + response bytes) × 11 bits
///     / baud + 2 × t3.5 + 0.5 ms turnaround; t3.5 is 1.75 ms above 19200 baud.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "soleus/drivers/register_map.hpp"

namespace soleus::sim::modbus {

enum class Exception : std::uint8_t {
  None = 0,
  IllegalFunction = 1,
  IllegalAddress = 2,
  IllegalValue = 3,
  DeviceFailure = 4,
  GatewayTargetFailed = 0x0B,
};

/// A device's tables as the PDU handler sees them. Addresses are 0-based.
class RegisterTarget {
 public:
  virtual ~RegisterTarget() = default;
  /// Coils or discrete inputs; `out` receives n values 0/1.
  virtual Exception read_bits(drivers::Table table, int address, int count,
                              std::vector<std::uint8_t>& out) = 0;
  /// Holding or input registers; `out` receives n words.
  virtual Exception read_registers(drivers::Table table, int address, int count,
                                   std::vector<std::uint16_t>& out) = 0;
  /// Holding registers. All-or-nothing: on an exception nothing is written.
  virtual Exception write_registers(int address, std::span<const std::uint16_t> values) = 0;
  /// Coils (values 0/1). All-or-nothing.
  virtual Exception write_bits(int address, std::span<const std::uint8_t> values) = 0;
};

/// Handles one request PDU (function code and data); returns the reply PDU
/// (an exception reply when the request is refused). Never empty.
std::vector<std::uint8_t> handle_pdu(RegisterTarget& target, std::span<const std::uint8_t> pdu);
/// fc | 0x80, code.
std::vector<std::uint8_t> exception_pdu(std::uint8_t function, Exception e);

/// Modbus CRC-16 (polynomial 0xA001 reflected, init 0xFFFF); on the wire low byte first.
std::uint16_t crc16(std::span<const std::uint8_t> bytes);
/// unit + pdu + CRC.
std::vector<std::uint8_t> rtu_frame(std::uint8_t unit, std::span<const std::uint8_t> pdu);
/// True when the frame's last two bytes are the CRC of the rest.
bool rtu_crc_ok(std::span<const std::uint8_t> frame);
/// Length of the RTU request frame that starts `buf` (unit, function, ...):
/// > 0 once known, 0 when more bytes are needed to know, -1 for a function
/// code whose request length this server cannot know (delimit by silence).
int rtu_request_length(std::span<const std::uint8_t> buf);

/// The 7-byte MBAP header of Modbus TCP.
struct Mbap {
  std::uint16_t transaction = 0;
  std::uint16_t protocol = 0;
  std::uint16_t length = 0;  ///< unit id + PDU bytes
  std::uint8_t unit = 0;
};
Mbap parse_mbap(std::span<const std::uint8_t> seven);
std::vector<std::uint8_t> tcp_frame(std::uint16_t transaction, std::uint8_t unit,
                                    std::span<const std::uint8_t> pdu);

/// t3.5 at this baud rate, seconds.
double t35_s(int baud);
/// Time on an RS-485 wire of one transaction with these RTU frame sizes, s.
double wire_time_s(std::size_t request_bytes, std::size_t response_bytes, int baud);

}  // namespace soleus::sim::modbus
