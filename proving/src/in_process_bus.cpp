#include "soleus/proving/in_process_bus.hpp"

#include "soleus/sim/machine.hpp"

namespace soleus::proving {

using drivers::BusResult;

namespace {
constexpr std::size_t kMbap = 7;  // Modbus TCP header (incl. unit id)
}

InProcessBus::InProcessBus(sim::Machine& machine, drivers::TransportConfig cfg)
    : machine_(machine), cfg_(std::move(cfg)) {
  req_.reserve(260);
}

void InProcessBus::begin(std::uint8_t fc, int address) {
  req_.clear();
  req_.push_back(fc);
  put16(address);
}

void InProcessBus::put16(int v) {
  req_.push_back(static_cast<std::uint8_t>((v >> 8) & 0xFF));
  req_.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

BusResult InProcessBus::exchange(int unit, std::uint8_t function, std::size_t expect_len) {
  ++stats_.transactions;
  garbled_ = false;
  stats_.bytes_tx += kMbap + req_.size();
  sim::Transaction t = machine_.transact(static_cast<std::uint8_t>(unit), req_, /*tcp=*/true);
  if (!t.reply) {
    ++stats_.timeouts;
    last_error_ = "no reply (timeout)";
    return BusResult::Timeout;
  }
  switch (t.odd) {
    case sim::OddReply::None:
    case sim::OddReply::Exception: break;
    case sim::OddReply::BadCrc:  // TCP has no CRC: the master sees a garbled frame
    case sim::OddReply::WrongUnit:
    case sim::OddReply::WrongTransaction:
      // Garbled, but plausibly: every word of the payload (from byte 2 on)
      // with its lowest bit flipped, so that a value taken from it would
      // mostly pass the decoders' range checks.
      reply_ = std::move(t.pdu);
      for (std::size_t i = 3; i < reply_.size(); i += 2) reply_[i] ^= 0x01;
      garbled_ = true;
      ++stats_.framing_errors;
      last_error_ = "unexpected reply (unit or transaction id)";
      return BusResult::FramingError;
  }
  reply_ = std::move(t.pdu);
  if (!reply_.empty() && reply_[0] == (function | 0x80)) {
    stats_.bytes_rx += kMbap + reply_.size();
    ++stats_.exceptions;
    last_error_ = "Modbus exception " + std::to_string(reply_.size() > 1 ? reply_[1] : 0);
    return BusResult::Exception;
  }
  if (reply_.empty() || reply_[0] != function || reply_.size() != expect_len) {
    ++stats_.framing_errors;
    last_error_ = "malformed reply";
    return BusResult::FramingError;
  }
  stats_.bytes_rx += kMbap + reply_.size();
  ++stats_.ok;
  return BusResult::Ok;
}

BusResult InProcessBus::registers_of_reply(std::span<std::uint16_t> out) {
  if (reply_[1] != 2 * out.size()) {
    ++stats_.framing_errors;
    --stats_.ok;
    return BusResult::FramingError;
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint16_t>((reply_[2 + 2 * i] << 8) | reply_[3 + 2 * i]);
  return BusResult::Ok;
}

void InProcessBus::spill_garbage(std::span<std::uint16_t> out) const {
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t at = 2 + 2 * i;
    const int hi = at < reply_.size() ? reply_[at] : 0,
              lo = at + 1 < reply_.size() ? reply_[at + 1] : 1;
    out[i] = static_cast<std::uint16_t>((hi << 8) | lo);
  }
}

BusResult InProcessBus::read_words(int unit, std::uint8_t fc, int address,
                                   std::span<std::uint16_t> out) {
  begin(fc, address);
  put16(static_cast<int>(out.size()));
  const BusResult r = exchange(unit, fc, 2 + 2 * out.size());
  if (garbled_) spill_garbage(out);
  if (r != BusResult::Ok) return r;
  return registers_of_reply(out);
}

BusResult InProcessBus::read_bits(int unit, std::uint8_t fc, int address,
                                  std::span<std::uint8_t> out) {
  begin(fc, address);
  put16(static_cast<int>(out.size()));
  const std::size_t nbytes = (out.size() + 7) / 8;
  const BusResult r = exchange(unit, fc, 2 + nbytes);
  if (garbled_)
    for (std::size_t i = 0; i < out.size(); ++i)  // the reply's bits, each flipped
      out[i] = static_cast<std::uint8_t>(
          ((2 + i / 8 < reply_.size() ? reply_[2 + i / 8] >> (i % 8) : 0) & 1) ^ 1);
  if (r != BusResult::Ok) return r;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = (reply_[2 + i / 8] >> (i % 8)) & 1;
  return BusResult::Ok;
}

BusResult InProcessBus::read_holding(int unit, int address, std::span<std::uint16_t> out) {
  return read_words(unit, 0x03, address, out);
}
BusResult InProcessBus::read_input(int unit, int address, std::span<std::uint16_t> out) {
  return read_words(unit, 0x04, address, out);
}
BusResult InProcessBus::read_coils(int unit, int address, std::span<std::uint8_t> out) {
  return read_bits(unit, 0x01, address, out);
}
BusResult InProcessBus::read_discrete(int unit, int address, std::span<std::uint8_t> out) {
  return read_bits(unit, 0x02, address, out);
}

BusResult InProcessBus::write_register(int unit, int address, std::uint16_t value) {
  begin(0x06, address);
  put16(value);
  return exchange(unit, 0x06, 5);
}

BusResult InProcessBus::write_registers(int unit, int address, std::span<const std::uint16_t> v) {
  begin(0x10, address);
  put16(static_cast<int>(v.size()));
  req_.push_back(static_cast<std::uint8_t>(2 * v.size()));
  for (auto w : v) put16(w);
  return exchange(unit, 0x10, 5);
}

BusResult InProcessBus::write_coil(int unit, int address, bool value) {
  begin(0x05, address);
  put16(value ? 0xFF00 : 0x0000);
  return exchange(unit, 0x05, 5);
}

BusResult InProcessBus::write_and_read(int unit, int write_address,
                                       std::span<const std::uint16_t> values, int read_address,
                                       std::span<std::uint16_t> out) {
  begin(0x17, read_address);
  put16(static_cast<int>(out.size()));
  put16(write_address);
  put16(static_cast<int>(values.size()));
  req_.push_back(static_cast<std::uint8_t>(2 * values.size()));
  for (auto w : values) put16(w);
  const BusResult r = exchange(unit, 0x17, 2 + 2 * out.size());
  if (garbled_) spill_garbage(out);
  if (r != BusResult::Ok) return r;
  return registers_of_reply(out);
}

}  // namespace soleus::proving
