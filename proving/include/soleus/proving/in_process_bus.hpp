#pragma once
/// InProcessBus: a drivers::Bus over soleus-sim's register tables, in the
/// same process and on the same thread (the proving ground's transport).
///
/// Principle of operation:
///  1. Each call builds the request PDU the Modbus master would send
///     (FC 1, 2, 3, 4, 5, 6, 16, 23) and hands it to
///     sim::Machine::transact(unit, pdu, tcp = true), which runs the
///     simulator's own PDU handler against the unit's tables at the machine's
///     current simulation time.
///  2. The reply PDU is parsed as a master would: no reply (dropped, outage,
///     broadcast) is a Timeout; an exception PDU (function | 0x80) is an
///     Exception; a reply of the wrong function or length is a FramingError;
///     an "odd reply" the machine was told to inject (bad CRC, wrong unit,
///     wrong transaction id) is the error a TCP master would see. Its
///     garbled payload (the reply's words, each with its lowest bit flipped:
///     plausible, wrong values) is left in the caller's buffer before the
///     error is returned: harsher than libmodbus, which leaves the buffer
///     untouched, so that a driver that used a refused reply's words would be
///     found (tests/proving/test_hazards.cpp, hazard 3).
///  3. Bytes are counted as Modbus TCP frames (MBAP 7 bytes + PDU) in tx/rx,
///     as ModbusBus counts them; stats() and last_error() behave alike.
///  4. Always connected: there is no link to lose.
#include <cstdint>
#include <string>
#include <vector>

#include "soleus/drivers/modbus_bus.hpp"

namespace soleus::sim {
class Machine;
}

namespace soleus::proving {

class InProcessBus final : public drivers::Bus {
 public:
  InProcessBus(sim::Machine& machine, drivers::TransportConfig cfg);

  bool connected() const override { return true; }
  drivers::BusResult read_holding(int unit, int address, std::span<std::uint16_t> out) override;
  drivers::BusResult read_input(int unit, int address, std::span<std::uint16_t> out) override;
  drivers::BusResult read_coils(int unit, int address, std::span<std::uint8_t> out) override;
  drivers::BusResult read_discrete(int unit, int address, std::span<std::uint8_t> out) override;
  drivers::BusResult write_register(int unit, int address, std::uint16_t value) override;
  drivers::BusResult write_registers(int unit, int address,
                                     std::span<const std::uint16_t> v) override;
  drivers::BusResult write_coil(int unit, int address, bool value) override;
  drivers::BusResult write_and_read(int unit, int write_address,
                                    std::span<const std::uint16_t> values, int read_address,
                                    std::span<std::uint16_t> out) override;
  const drivers::BusStats& stats() const override { return stats_; }
  const drivers::TransportConfig& config() const override { return cfg_; }
  const std::string& last_error() const override { return last_error_; }

 private:
  /// Sends req_ (already filled); on Ok the reply PDU is in reply_.
  drivers::BusResult exchange(int unit, std::uint8_t function, std::size_t expect_len);
  /// Decodes a register-read reply (FC 03/04/23) into out; a byte count that does
  /// not match is a framing error.
  drivers::BusResult registers_of_reply(std::span<std::uint16_t> out);
  drivers::BusResult read_words(int unit, std::uint8_t fc, int address,
                                std::span<std::uint16_t> out);
  drivers::BusResult read_bits(int unit, std::uint8_t fc, int address, std::span<std::uint8_t> out);
  void begin(std::uint8_t fc, int address);
  /// After a refused odd reply: its garbled payload words into `out`.
  void spill_garbage(std::span<std::uint16_t> out) const;
  void put16(int v);

  sim::Machine& machine_;
  drivers::TransportConfig cfg_;
  drivers::BusStats stats_;
  std::string last_error_;
  std::vector<std::uint8_t> req_;
  std::vector<std::uint8_t> reply_;
  bool garbled_ =
      false;  ///< the last exchange was a refused odd reply; reply_ holds its garbled bytes
};

}  // namespace soleus::proving
