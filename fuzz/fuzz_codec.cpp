// Fuzz target: the register-map codec (drivers/src/register_map.cpp).
//
// Input: a SignalSpec (type, word order, scale, offset as the configuration
// allows them), two raw words and an engineering value. Checked:
//  - decode_raw() of an integer type is exactly the integer the words hold
//    (computed here independently), and of f32 the float, or nullopt when
//    the float is NaN or infinite;
//  - decode() is nullopt or a finite raw * scale + offset, never NaN or inf;
//  - encode() either refuses (and writes nothing) or writes words that decode
//    back to the value within half a raw step (f32: float precision): no
//    silent wrap-around; and it refuses only values the type cannot hold;
//  - at scale 1, offset 0, decode then encode gives the same words back (f32:
//    the same float: -0 may come back as +0);
//  - too few words: decode() is nullopt and encode() refuses.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "check.hpp"
#include "input.hpp"
#include "soleus/drivers/register_map.hpp"

using namespace soleus::drivers;

namespace {

// Scales and offsets of real maps, and the configuration's extremes (±1e9).
constexpr double kScales[] = {1.0, 0.1, 0.01, 0.001, 10.0, -1.0, -0.1, 0.5, 1e-9, 1e9, -1e9, 3.0};
constexpr double kOffsets[] = {0.0, 0.0, 0.0, -273.15, 100.0, -1e9, 1e9, 0.5};

/// The raw value of the words, written out without the codec's helpers.
std::optional<double> expected_raw(const SignalSpec& s, const std::array<std::uint16_t, 2>& w) {
  const std::uint32_t hi = s.order == WordOrder::HighFirst ? w[0] : w[1];
  const std::uint32_t lo = s.order == WordOrder::HighFirst ? w[1] : w[0];
  const std::uint32_t u32 = hi * 65536u + lo;
  switch (s.type) {
    case ValueType::U16: return double(w[0]);
    case ValueType::S16: return w[0] >= 32768 ? double(w[0]) - 65536.0 : double(w[0]);
    case ValueType::U32: return double(u32);
    case ValueType::S32: return u32 >= 0x80000000u ? double(u32) - 4294967296.0 : double(u32);
    case ValueType::F32: {
      float f;
      std::memcpy(&f, &u32, sizeof f);
      if (std::isnan(f) || std::isinf(f)) return std::nullopt;
      return double(f);
    }
  }
  return std::nullopt;
}

/// One byte: an entry of `table`, or (past its end) the next f64 when the
/// configuration would take it (finite, within ±1e9), else the first entry.
template <std::size_t N>
double pick_double(Input& in, const double (&table)[N]) {
  const std::size_t b = in.u8();
  if (b < N) return table[b];
  const double v = in.f64();
  return std::isfinite(v) && std::fabs(v) <= 1e9 ? v : table[0];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // type, word order, scale, offset, word, word, value (u8 kind, then f64)
  Input in(data, size);
  SignalSpec s;
  s.present = true;
  s.type = static_cast<ValueType>(in.pick(5));
  s.order = in.u8() & 1 ? WordOrder::LowFirst : WordOrder::HighFirst;
  s.scale = pick_double(in, kScales);
  if (s.scale == 0.0) s.scale = 1.0;  // the configuration refuses 0
  s.offset = pick_double(in, kOffsets);
  const std::uint16_t w0 = in.u16();
  const std::array<std::uint16_t, 2> words{w0, in.u16()};
  double value;
  switch (in.pick(4)) {
    case 0: value = in.f64(); break;  // any bits: NaN, inf, huge, tiny
    case 1: value = std::numeric_limits<double>::quiet_NaN(); break;
    case 2: value = INFINITY; break;
    default: value = -INFINITY; break;
  }
  const auto nwords = static_cast<std::size_t>(s.words());

  // ---- decode
  const auto raw = decode_raw(s, words);
  const auto want_raw = expected_raw(s, words);
  FUZZ_CHECK(raw.has_value() == want_raw.has_value(),
             "decode_raw: refused a valid value or passed a non-finite one");
  if (raw) FUZZ_CHECK(*raw == *want_raw, "decode_raw: wrong raw value");
  const auto eng = decode(s, words);
  if (eng) {
    FUZZ_CHECK(std::isfinite(*eng), "decode: a non-finite engineering value");
    FUZZ_CHECK(raw.has_value() && *eng == *raw * s.scale + s.offset,
               "decode: not raw * scale + offset");
  } else {
    FUZZ_CHECK(!raw || !std::isfinite(*raw * s.scale + s.offset), "decode: refused a finite value");
  }
  const std::span<const std::uint16_t> short_in(words.data(), nwords - 1);
  FUZZ_CHECK(!decode(s, short_in) && !decode_raw(s, short_in), "decode: read past the words given");

  // ---- encode
  constexpr std::uint16_t kUntouched = 0xA5A5;
  std::array<std::uint16_t, 2> out{kUntouched, kUntouched};
  const bool ok = encode(s, value, out);
  const double want = (value - s.offset) / s.scale;
  if (!ok) {
    FUZZ_CHECK(out[0] == kUntouched && out[1] == kUntouched, "encode: refused but wrote words");
    // Refused only for what the type cannot hold.
    bool fits = std::isfinite(value) && std::isfinite(want);
    if (fits && s.type == ValueType::F32) {
      fits = std::fabs(want) <= double(std::numeric_limits<float>::max());
    } else if (fits) {
      const double r = std::nearbyint(want);
      double lo = 0, hi = 0;
      switch (s.type) {
        case ValueType::U16: lo = 0, hi = 65535; break;
        case ValueType::S16: lo = -32768, hi = 32767; break;
        case ValueType::U32: lo = 0, hi = 4294967295.0; break;
        default: lo = -2147483648.0, hi = 2147483647.0; break;
      }
      fits = r >= lo && r <= hi;
    }
    FUZZ_CHECK(!fits, "encode: refused a value its type can hold");
  } else {
    FUZZ_CHECK(std::isfinite(value), "encode: accepted a non-finite value");
    if (nwords == 1) FUZZ_CHECK(out[1] == kUntouched, "encode: wrote past a one-word register");
    const auto back = decode(s, out);
    FUZZ_CHECK(back.has_value(), "encode: wrote words that do not decode");
    // Half a raw step, plus the rounding of (value - offset) / scale and back.
    const double eps = std::numeric_limits<double>::epsilon();
    double tol = 8 * eps * (std::fabs(value) + std::fabs(s.offset) + std::fabs(*back));
    if (s.type == ValueType::F32)
      tol += std::fabs(want * s.scale) * std::ldexp(1.0, -23) +
             std::fabs(s.scale) * double(std::numeric_limits<float>::denorm_min());
    else tol += std::fabs(s.scale) * (0.5 + 8 * eps);
    FUZZ_CHECK(std::fabs(*back - value) <= tol,
               "encode: the words do not decode back to the value");
  }
  std::array<std::uint16_t, 2> few{kUntouched, kUntouched};
  FUZZ_CHECK(!encode(s, value, std::span<std::uint16_t>(few.data(), nwords - 1)),
             "encode: accepted too few words");
  FUZZ_CHECK(few[0] == kUntouched, "encode: wrote into too few words");

  // ---- raw round trip: scale 1, offset 0 gives the same words back
  SignalSpec unit = s;
  unit.scale = 1.0;
  unit.offset = 0.0;
  if (const auto v = decode(unit, words)) {
    std::array<std::uint16_t, 2> again{kUntouched, kUntouched};
    FUZZ_CHECK(encode(unit, *v, again), "round trip: a decoded value does not encode");
    if (s.type == ValueType::F32) {
      // -0 comes back as +0 (-0 * 1 + 0 is +0): equal in value.
      FUZZ_CHECK(decode(unit, again) == v, "round trip: a different float");
    } else {
      for (std::size_t k = 0; k < nwords; ++k)
        FUZZ_CHECK(again[k] == words[k], "round trip: different words");
    }
  }
  return 0;
}
