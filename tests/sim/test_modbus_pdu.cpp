#include <doctest/doctest.h>

#include "soleus/sim/modbus_pdu.hpp"

using namespace soleus::sim::modbus;

TEST_CASE("modbus: CRC-16 of the specification's example") {
  const std::vector<std::uint8_t> req{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};
  CHECK(crc16(req) == 0xCDC5);
  const auto f = rtu_frame(0x01, std::vector<std::uint8_t>{0x03, 0x00, 0x00, 0x00, 0x0A});
  REQUIRE(f.size() == 8);
  CHECK(f[6] == 0xC5);
  CHECK(f[7] == 0xCD);
  CHECK(rtu_crc_ok(f));
  auto bad = f;
  bad[3] ^= 1;
  CHECK_FALSE(rtu_crc_ok(bad));
}

TEST_CASE("modbus: RTU request length from the function code") {
  CHECK(rtu_request_length(std::vector<std::uint8_t>{0x01}) == 0);
  CHECK(rtu_request_length(std::vector<std::uint8_t>{0x01, 0x03}) == 8);
  CHECK(rtu_request_length(std::vector<std::uint8_t>{0x02, 0x04}) == 8);
  CHECK(rtu_request_length(std::vector<std::uint8_t>{0x01, 0x10, 0, 0, 0, 2}) == 0);
  CHECK(rtu_request_length(std::vector<std::uint8_t>{0x01, 0x10, 0, 0, 0, 2, 4}) == 13);
  // FC 23 writing 2 registers: 17 bytes, as in the ICD's bus budget.
  CHECK(rtu_request_length(std::vector<std::uint8_t>{0x01, 0x17, 0, 100, 0, 8, 0, 0, 0, 2, 4}) ==
        17);
  CHECK(rtu_request_length(std::vector<std::uint8_t>{0x01, 0x2B}) == -1);
}

TEST_CASE("modbus: TCP MBAP framing") {
  const auto f = tcp_frame(0x1234, 2, std::vector<std::uint8_t>{0x04, 0x02, 0x00, 0x07});
  REQUIRE(f.size() == 11);
  const auto h = parse_mbap(f);
  CHECK(h.transaction == 0x1234);
  CHECK(h.protocol == 0);
  CHECK(h.length == 5);
  CHECK(h.unit == 2);
}

TEST_CASE("modbus: wire time matches the ICD's bus budget at 115200 baud") {
  CHECK(t35_s(115200) == doctest::Approx(0.00175));
  CHECK(t35_s(9600) == doctest::Approx(3.5 * 11 / 9600.0));
  CHECK(wire_time_s(17, 21, 115200) * 1000 == doctest::Approx(7.63).epsilon(0.01));  // FC 23
  CHECK(wire_time_s(8, 13, 115200) * 1000 == doctest::Approx(6.0).epsilon(0.01));    // FC 04
}

namespace {
/// Ten holding registers 0..9 (writable below 5), two discrete inputs.
struct FakeTarget : RegisterTarget {
  std::uint16_t hr[10] = {};
  Exception read_bits(soleus::drivers::Table t, int a, int n,
                      std::vector<std::uint8_t>& out) override {
    if (t != soleus::drivers::Table::Discrete || a + n > 2) return Exception::IllegalAddress;
    out.assign(static_cast<std::size_t>(n), 1);
    return Exception::None;
  }
  Exception read_registers(soleus::drivers::Table, int a, int n,
                           std::vector<std::uint16_t>& out) override {
    if (a + n > 10) return Exception::IllegalAddress;
    out.assign(hr + a, hr + a + n);
    return Exception::None;
  }
  Exception write_registers(int a, std::span<const std::uint16_t> v) override {
    if (a + static_cast<int>(v.size()) > 5) return Exception::IllegalAddress;
    for (std::size_t i = 0; i < v.size(); ++i) hr[a + static_cast<int>(i)] = v[i];
    return Exception::None;
  }
  Exception write_bits(int, std::span<const std::uint8_t>) override {
    return Exception::IllegalAddress;
  }
};
}  // namespace

TEST_CASE("modbus: PDU handling and exception replies") {
  FakeTarget t;
  using V = std::vector<std::uint8_t>;
  CHECK(handle_pdu(t, V{0x10, 0, 1, 0, 2, 4, 0x12, 0x34, 0xAB, 0xCD}) == V{0x10, 0, 1, 0, 2});
  CHECK(t.hr[1] == 0x1234);
  CHECK(t.hr[2] == 0xABCD);
  CHECK(handle_pdu(t, V{0x03, 0, 1, 0, 2}) == V{0x03, 4, 0x12, 0x34, 0xAB, 0xCD});
  CHECK(handle_pdu(t, V{0x06, 0, 0, 0x00, 0x07}) == V{0x06, 0, 0, 0x00, 0x07});
  CHECK(handle_pdu(t, V{0x02, 0, 0, 0, 2}) == V{0x02, 1, 0x03});
  CHECK(handle_pdu(t, V{0x10, 0, 1, 0, 2, 3, 1, 2, 3}) == V{0x90, 3});  // byte count wrong
  CHECK(handle_pdu(t, V{0x10, 0, 4, 0, 2, 4, 0, 1, 0, 2}) == V{0x90, 2});
  CHECK(handle_pdu(t, V{0x05, 0, 0, 0x12, 0x34}) == V{0x85, 3});  // coil value must be FF00/0000
  CHECK(handle_pdu(t, V{0x05, 0, 0, 0xFF, 0x00}) == V{0x85, 2});
  CHECK(handle_pdu(t, V{0x07}) == V{0x87, 1});
  CHECK(handle_pdu(t, V{0x03, 0xFF, 0xFF, 0, 2}) == V{0x83, 2});
  // FC 23: write 0..1, read 0..2 (write first, then read).
  CHECK(handle_pdu(t, V{0x17, 0, 0, 0, 3, 0, 0, 0, 2, 4, 0, 9, 0, 8}) ==
        V{0x17, 6, 0, 9, 0, 8, 0xAB, 0xCD});
  // FC 23 with an unreadable range writes nothing.
  CHECK(handle_pdu(t, V{0x17, 0, 9, 0, 3, 0, 0, 0, 1, 2, 0, 1}) == V{0x97, 2});
  CHECK(t.hr[0] == 9);
}
