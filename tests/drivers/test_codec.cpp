// Register-map codec: every type, both word orders, scaling and offset, sign
// extension, limits of each type, refusal of out-of-range encodes and of
// non-finite floats. Worked examples are taken from the ICD.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "soleus/drivers/register_map.hpp"

using namespace soleus::drivers;

namespace {

SignalSpec spec(ValueType type, WordOrder order = WordOrder::HighFirst, double scale = 1.0,
                double offset = 0.0) {
  SignalSpec s;
  s.present = true;
  s.table = Table::Input;
  s.type = type;
  s.order = order;
  s.scale = scale;
  s.offset = offset;
  return s;
}

double dec(const SignalSpec& s, std::array<std::uint16_t, 2> w) {
  auto v = decode(s, w);
  REQUIRE(v.has_value());
  return *v;
}

std::array<std::uint16_t, 2> enc(const SignalSpec& s, double value) {
  std::array<std::uint16_t, 2> w{0xDEAD, 0xBEEF};
  REQUIRE(encode(s, value, w));
  return w;
}

}  // namespace

TEST_CASE("codec: ICD worked examples") {
  // POSITION s32, high word first: 0x0001 0x86A0 = 100000 counts (100 mm).
  CHECK(dec(spec(ValueType::S32), {0x0001, 0x86A0}) == 100000.0);
  // FORCE s32 at 0.1 N: -12.5 N = 0xFFFF 0xFF83.
  const auto force = spec(ValueType::S32, WordOrder::HighFirst, 0.1);
  CHECK(dec(force, {0xFFFF, 0xFF83}) == doctest::Approx(-12.5));
  CHECK(enc(force, -12.5) == std::array<std::uint16_t, 2>{0xFFFF, 0xFF83});
  // TORQUE_LIMIT default 3000 = 300.0 % of rated at 0.1 %.
  CHECK(dec(spec(ValueType::U16, WordOrder::HighFirst, 0.1), {3000, 0}) == doctest::Approx(300.0));
}

TEST_CASE("codec: u16 and s16, sign extension and limits") {
  const auto u16 = spec(ValueType::U16);
  const auto s16 = spec(ValueType::S16);
  CHECK(dec(u16, {0x0000, 0}) == 0.0);
  CHECK(dec(u16, {0xFFFF, 0}) == 65535.0);
  CHECK(dec(s16, {0xFFFF, 0}) == -1.0);
  CHECK(dec(s16, {0x8000, 0}) == -32768.0);
  CHECK(dec(s16, {0x7FFF, 0}) == 32767.0);
  CHECK(enc(u16, 65535)[0] == 0xFFFF);
  CHECK(enc(s16, -32768)[0] == 0x8000);
  CHECK(enc(s16, -1)[0] == 0xFFFF);
  CHECK(enc(s16, 32767)[0] == 0x7FFF);
  std::array<std::uint16_t, 2> w{0x1234, 0x5678};
  CHECK_FALSE(encode(u16, 65536, w));
  CHECK_FALSE(encode(u16, -1, w));
  CHECK_FALSE(encode(s16, 32768, w));
  CHECK_FALSE(encode(s16, -32769, w));
  CHECK(w == std::array<std::uint16_t, 2>{0x1234, 0x5678});  // nothing written on refusal
}

TEST_CASE("codec: u32 and s32 in both word orders, at the limits") {
  const auto u32h = spec(ValueType::U32, WordOrder::HighFirst);
  const auto u32l = spec(ValueType::U32, WordOrder::LowFirst);
  const auto s32h = spec(ValueType::S32, WordOrder::HighFirst);
  const auto s32l = spec(ValueType::S32, WordOrder::LowFirst);
  CHECK(dec(u32h, {0xFFFF, 0xFFFF}) == 4294967295.0);
  CHECK(dec(u32h, {0x0001, 0x0000}) == 65536.0);
  CHECK(dec(u32l, {0x0000, 0x0001}) == 65536.0);
  CHECK(dec(s32h, {0x8000, 0x0000}) == -2147483648.0);
  CHECK(dec(s32l, {0x0000, 0x8000}) == -2147483648.0);
  CHECK(dec(s32h, {0x7FFF, 0xFFFF}) == 2147483647.0);
  CHECK(dec(s32l, {0x86A0, 0x0001}) == 100000.0);
  CHECK(enc(s32l, 100000) == std::array<std::uint16_t, 2>{0x86A0, 0x0001});
  CHECK(enc(s32h, -2147483648.0) == std::array<std::uint16_t, 2>{0x8000, 0x0000});
  CHECK(enc(u32l, 4294967295.0) == std::array<std::uint16_t, 2>{0xFFFF, 0xFFFF});
  std::array<std::uint16_t, 2> w{};
  CHECK_FALSE(encode(u32h, 4294967296.0, w));
  CHECK_FALSE(encode(u32h, -1, w));
  CHECK_FALSE(encode(s32h, 2147483648.0, w));
  CHECK_FALSE(encode(s32h, -2147483649.0, w));
}

TEST_CASE("codec: f32 in both word orders, NaN and infinity refused") {
  const auto fh = spec(ValueType::F32, WordOrder::HighFirst);
  const auto fl = spec(ValueType::F32, WordOrder::LowFirst);
  // 12.5f = 0x41480000; -1.5f = 0xBFC00000.
  CHECK(dec(fh, {0x4148, 0x0000}) == 12.5);
  CHECK(dec(fl, {0x0000, 0x4148}) == 12.5);
  CHECK(dec(fl, {0x0000, 0xBFC0}) == -1.5);
  CHECK(enc(fh, 12.5) == std::array<std::uint16_t, 2>{0x4148, 0x0000});
  CHECK(enc(fl, 12.5) == std::array<std::uint16_t, 2>{0x0000, 0x4148});
  // Largest finite float decodes; NaN, +Inf, -Inf never come out as numbers.
  CHECK(dec(fh, {0x7F7F, 0xFFFF}) == doctest::Approx(std::numeric_limits<float>::max()));
  CHECK_FALSE(decode(fh, std::array<std::uint16_t, 2>{0x7FC0, 0x0000}).has_value());
  CHECK_FALSE(decode(fl, std::array<std::uint16_t, 2>{0x0000, 0x7FC0}).has_value());
  CHECK_FALSE(decode(fh, std::array<std::uint16_t, 2>{0x7F80, 0x0000}).has_value());
  CHECK_FALSE(decode(fh, std::array<std::uint16_t, 2>{0xFF80, 0x0000}).has_value());
  CHECK_FALSE(decode_raw(fh, std::array<std::uint16_t, 2>{0x7FC0, 0x0001}).has_value());
  std::array<std::uint16_t, 2> w{};
  CHECK_FALSE(encode(fh, std::nan(""), w));
  CHECK_FALSE(encode(fh, INFINITY, w));
  CHECK_FALSE(encode(fh, 1e39, w));  // beyond float
}

TEST_CASE("codec: scale and offset, rounding to the nearest raw value") {
  const auto temp = spec(ValueType::S16, WordOrder::HighFirst, 0.1);
  CHECK(dec(temp, {0xFF9C, 0}) == doctest::Approx(-10.0));  // -100 × 0.1 °C
  CHECK(dec(temp, {370, 0}) == doctest::Approx(37.0));
  const auto offs = spec(ValueType::U16, WordOrder::HighFirst, 0.1, -40.0);
  CHECK(dec(offs, {1000, 0}) == doctest::Approx(60.0));
  CHECK(enc(offs, 60.0)[0] == 1000);
  CHECK(enc(offs, -40.0)[0] == 0);
  std::array<std::uint16_t, 2> w{};
  CHECK_FALSE(encode(offs, -40.1, w));  // raw -1
  const auto torque = spec(ValueType::S16, WordOrder::HighFirst, 0.1);
  CHECK(enc(torque, 81.04)[0] == 810);
  CHECK(enc(torque, 81.06)[0] == 811);
  CHECK(enc(torque, -100.0)[0] == static_cast<std::uint16_t>(-1000));
  CHECK_FALSE(encode(torque, 3276.8, w));  // raw 32768
  // A scaled value that overflows to infinity is refused.
  const auto huge = spec(ValueType::F32, WordOrder::HighFirst, 1e300);
  CHECK_FALSE(decode(huge, std::array<std::uint16_t, 2>{0x7F7F, 0xFFFF}).has_value());
}

TEST_CASE("codec: too few words is refused") {
  const auto s32 = spec(ValueType::S32);
  const std::array<std::uint16_t, 1> one{1};
  CHECK_FALSE(decode(s32, one).has_value());
  std::array<std::uint16_t, 1> out{};
  CHECK_FALSE(encode(s32, 1.0, out));
}
