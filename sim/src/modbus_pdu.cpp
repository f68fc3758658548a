#include "soleus/sim/modbus_pdu.hpp"

namespace soleus::sim::modbus {

namespace {
using drivers::Table;

std::uint16_t be16(std::span<const std::uint8_t> p, std::size_t i) {
  return static_cast<std::uint16_t>((p[i] << 8) | p[i + 1]);
}
void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}
bool range_ok(int address, int count) { return address + count <= 65536; }

std::vector<std::uint8_t> read_bits(RegisterTarget& t, Table table, std::uint8_t fc,
                                    std::span<const std::uint8_t> pdu) {
  if (pdu.size() != 5) return exception_pdu(fc, Exception::IllegalValue);
  const int addr = be16(pdu, 1), n = be16(pdu, 3);
  if (n < 1 || n > 2000) return exception_pdu(fc, Exception::IllegalValue);
  if (!range_ok(addr, n)) return exception_pdu(fc, Exception::IllegalAddress);
  std::vector<std::uint8_t> bits;
  if (auto e = t.read_bits(table, addr, n, bits); e != Exception::None) return exception_pdu(fc, e);
  std::vector<std::uint8_t> out{fc, static_cast<std::uint8_t>((n + 7) / 8)};
  out.resize(2 + static_cast<std::size_t>((n + 7) / 8), 0);
  for (int i = 0; i < n; ++i)
    if (bits[static_cast<std::size_t>(i)])
      out[2 + static_cast<std::size_t>(i / 8)] |= static_cast<std::uint8_t>(1u << (i % 8));
  return out;
}

std::vector<std::uint8_t> read_regs(RegisterTarget& t, Table table, std::uint8_t fc,
                                    std::span<const std::uint8_t> pdu) {
  if (pdu.size() != 5) return exception_pdu(fc, Exception::IllegalValue);
  const int addr = be16(pdu, 1), n = be16(pdu, 3);
  if (n < 1 || n > 125) return exception_pdu(fc, Exception::IllegalValue);
  if (!range_ok(addr, n)) return exception_pdu(fc, Exception::IllegalAddress);
  std::vector<std::uint16_t> words;
  if (auto e = t.read_registers(table, addr, n, words); e != Exception::None)
    return exception_pdu(fc, e);
  std::vector<std::uint8_t> out{fc, static_cast<std::uint8_t>(2 * n)};
  for (auto w : words) put16(out, w);
  return out;
}
}  // namespace

std::vector<std::uint8_t> exception_pdu(std::uint8_t function, Exception e) {
  return {static_cast<std::uint8_t>(function | 0x80), static_cast<std::uint8_t>(e)};
}

std::vector<std::uint8_t> handle_pdu(RegisterTarget& t, std::span<const std::uint8_t> pdu) {
  if (pdu.empty()) return exception_pdu(0, Exception::IllegalFunction);
  const std::uint8_t fc = pdu[0];
  switch (fc) {
    case 0x01: return read_bits(t, Table::Coil, fc, pdu);
    case 0x02: return read_bits(t, Table::Discrete, fc, pdu);
    case 0x03: return read_regs(t, Table::Holding, fc, pdu);
    case 0x04: return read_regs(t, Table::Input, fc, pdu);
    case 0x05: {
      if (pdu.size() != 5) return exception_pdu(fc, Exception::IllegalValue);
      const std::uint16_t v = be16(pdu, 3);
      if (v != 0xFF00 && v != 0x0000) return exception_pdu(fc, Exception::IllegalValue);
      const std::uint8_t bit = v == 0xFF00 ? 1 : 0;
      if (auto e = t.write_bits(be16(pdu, 1), std::span<const std::uint8_t>(&bit, 1));
          e != Exception::None)
        return exception_pdu(fc, e);
      return {pdu.begin(), pdu.end()};
    }
    case 0x06: {
      if (pdu.size() != 5) return exception_pdu(fc, Exception::IllegalValue);
      const std::uint16_t v = be16(pdu, 3);
      if (auto e = t.write_registers(be16(pdu, 1), std::span<const std::uint16_t>(&v, 1));
          e != Exception::None)
        return exception_pdu(fc, e);
      return {pdu.begin(), pdu.end()};
    }
    case 0x0F: {
      if (pdu.size() < 6) return exception_pdu(fc, Exception::IllegalValue);
      const int addr = be16(pdu, 1), n = be16(pdu, 3), bytes = pdu[5];
      if (n < 1 || n > 1968 || bytes != (n + 7) / 8 ||
          pdu.size() != 6 + static_cast<std::size_t>(bytes))
        return exception_pdu(fc, Exception::IllegalValue);
      if (!range_ok(addr, n)) return exception_pdu(fc, Exception::IllegalAddress);
      std::vector<std::uint8_t> bits(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i)
        bits[static_cast<std::size_t>(i)] =
            (pdu[6 + static_cast<std::size_t>(i / 8)] >> (i % 8)) & 1u;
      if (auto e = t.write_bits(addr, bits); e != Exception::None) return exception_pdu(fc, e);
      return {pdu.begin(), pdu.begin() + 5};
    }
    case 0x10: {
      if (pdu.size() < 6) return exception_pdu(fc, Exception::IllegalValue);
      const int addr = be16(pdu, 1), n = be16(pdu, 3), bytes = pdu[5];
      if (n < 1 || n > 123 || bytes != 2 * n || pdu.size() != 6 + static_cast<std::size_t>(bytes))
        return exception_pdu(fc, Exception::IllegalValue);
      if (!range_ok(addr, n)) return exception_pdu(fc, Exception::IllegalAddress);
      std::vector<std::uint16_t> words(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i)
        words[static_cast<std::size_t>(i)] = be16(pdu, 6 + 2 * static_cast<std::size_t>(i));
      if (auto e = t.write_registers(addr, words); e != Exception::None)
        return exception_pdu(fc, e);
      return {pdu.begin(), pdu.begin() + 5};
    }
    case 0x17: {
      if (pdu.size() < 10) return exception_pdu(fc, Exception::IllegalValue);
      const int raddr = be16(pdu, 1), rn = be16(pdu, 3), waddr = be16(pdu, 5), wn = be16(pdu, 7),
                bytes = pdu[9];
      if (rn < 1 || rn > 125 || wn < 1 || wn > 121 || bytes != 2 * wn ||
          pdu.size() != 10 + static_cast<std::size_t>(bytes))
        return exception_pdu(fc, Exception::IllegalValue);
      if (!range_ok(raddr, rn) || !range_ok(waddr, wn))
        return exception_pdu(fc, Exception::IllegalAddress);
      std::vector<std::uint16_t> words(static_cast<std::size_t>(wn));
      for (int i = 0; i < wn; ++i)
        words[static_cast<std::size_t>(i)] = be16(pdu, 10 + 2 * static_cast<std::size_t>(i));
      // Refuse an unreadable read range before writing anything.
      std::vector<std::uint16_t> probe;
      if (auto e = t.read_registers(Table::Holding, raddr, rn, probe); e != Exception::None)
        return exception_pdu(fc, e);
      if (auto e = t.write_registers(waddr, words); e != Exception::None)
        return exception_pdu(fc, e);
      std::vector<std::uint16_t> out_words;
      if (auto e = t.read_registers(Table::Holding, raddr, rn, out_words); e != Exception::None)
        return exception_pdu(fc, e);
      std::vector<std::uint8_t> out{fc, static_cast<std::uint8_t>(2 * rn)};
      for (auto w : out_words) put16(out, w);
      return out;
    }
    default: return exception_pdu(fc, Exception::IllegalFunction);
  }
}

std::uint16_t crc16(std::span<const std::uint8_t> bytes) {
  std::uint16_t crc = 0xFFFF;
  for (auto b : bytes) {
    crc ^= b;
    for (int i = 0; i < 8; ++i)
      crc = (crc & 1) ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001)
                      : static_cast<std::uint16_t>(crc >> 1);
  }
  return crc;
}

std::vector<std::uint8_t> rtu_frame(std::uint8_t unit, std::span<const std::uint8_t> pdu) {
  std::vector<std::uint8_t> f;
  f.reserve(pdu.size() + 3);
  f.push_back(unit);
  f.insert(f.end(), pdu.begin(), pdu.end());
  const std::uint16_t crc = crc16(f);
  f.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  f.push_back(static_cast<std::uint8_t>(crc >> 8));
  return f;
}

bool rtu_crc_ok(std::span<const std::uint8_t> frame) {
  if (frame.size() < 4) return false;
  const std::uint16_t crc = crc16(frame.first(frame.size() - 2));
  return frame[frame.size() - 2] == (crc & 0xFF) && frame[frame.size() - 1] == (crc >> 8);
}

int rtu_request_length(std::span<const std::uint8_t> buf) {
  if (buf.size() < 2) return 0;
  switch (buf[1]) {
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06: return 8;
    case 0x0F:
    case 0x10: return buf.size() < 7 ? 0 : 9 + buf[6];
    case 0x17: return buf.size() < 11 ? 0 : 13 + buf[10];
    default: return -1;
  }
}

Mbap parse_mbap(std::span<const std::uint8_t> h) {
  Mbap m;
  m.transaction = be16(h, 0);
  m.protocol = be16(h, 2);
  m.length = be16(h, 4);
  m.unit = h[6];
  return m;
}

std::vector<std::uint8_t> tcp_frame(std::uint16_t transaction, std::uint8_t unit,
                                    std::span<const std::uint8_t> pdu) {
  std::vector<std::uint8_t> f;
  f.reserve(7 + pdu.size());
  put16(f, transaction);
  put16(f, 0);
  put16(f, static_cast<std::uint16_t>(pdu.size() + 1));
  f.push_back(unit);
  f.insert(f.end(), pdu.begin(), pdu.end());
  return f;
}

double t35_s(int baud) { return baud > 19200 ? 0.00175 : 3.5 * 11.0 / baud; }

double wire_time_s(std::size_t request_bytes, std::size_t response_bytes, int baud) {
  return static_cast<double>(request_bytes + response_bytes) * 11.0 / baud + 2.0 * t35_s(baud) +
         0.0005;
}

}  // namespace soleus::sim::modbus
