#include "soleus/drivers/register_map.hpp"

#include <bit>
#include <cmath>
#include <limits>

namespace soleus::drivers {

const char* to_string(Table t) {
  switch (t) {
    case Table::Holding: return "holding";
    case Table::Input: return "input";
    case Table::Coil: return "coil";
    case Table::Discrete: return "discrete";
  }
  return "?";
}

const char* to_string(ValueType t) {
  switch (t) {
    case ValueType::U16: return "u16";
    case ValueType::S16: return "s16";
    case ValueType::U32: return "u32";
    case ValueType::S32: return "s32";
    case ValueType::F32: return "f32";
  }
  return "?";
}

namespace {
std::uint32_t join32(const SignalSpec& s, std::span<const std::uint16_t> w) {
  const std::uint32_t a = w[0], b = w[1];
  return s.order == WordOrder::HighFirst ? (a << 16) | b : (b << 16) | a;
}
void split32(const SignalSpec& s, std::uint32_t v, std::span<std::uint16_t> w) {
  const auto hi = static_cast<std::uint16_t>(v >> 16), lo = static_cast<std::uint16_t>(v & 0xFFFF);
  if (s.order == WordOrder::HighFirst) {
    w[0] = hi;
    w[1] = lo;
  } else {
    w[0] = lo;
    w[1] = hi;
  }
}
}  // namespace

std::optional<double> decode_raw(const SignalSpec& s, std::span<const std::uint16_t> w) {
  if (w.size() < static_cast<std::size_t>(s.words())) return std::nullopt;
  switch (s.type) {
    case ValueType::U16: return static_cast<double>(w[0]);
    case ValueType::S16: return static_cast<double>(static_cast<std::int16_t>(w[0]));
    case ValueType::U32: return static_cast<double>(join32(s, w));
    case ValueType::S32: return static_cast<double>(static_cast<std::int32_t>(join32(s, w)));
    case ValueType::F32: {
      const float f = std::bit_cast<float>(join32(s, w));
      if (!std::isfinite(f)) return std::nullopt;
      return static_cast<double>(f);
    }
  }
  return std::nullopt;
}

std::optional<double> decode(const SignalSpec& s, std::span<const std::uint16_t> w) {
  auto raw = decode_raw(s, w);
  if (!raw) return std::nullopt;
  const double v = *raw * s.scale + s.offset;
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

bool encode(const SignalSpec& s, double value, std::span<std::uint16_t> w) {
  if (w.size() < static_cast<std::size_t>(s.words()) || !std::isfinite(value) || s.scale == 0.0)
    return false;
  const double raw = (value - s.offset) / s.scale;
  if (!std::isfinite(raw)) return false;
  if (s.type == ValueType::F32) {
    if (std::fabs(raw) > static_cast<double>(std::numeric_limits<float>::max())) return false;
    split32(s, std::bit_cast<std::uint32_t>(static_cast<float>(raw)), w);
    return true;
  }
  const double r = std::nearbyint(raw);
  double lo = 0, hi = 0;
  switch (s.type) {
    case ValueType::U16:
      lo = 0;
      hi = 65535;
      break;
    case ValueType::S16:
      lo = -32768;
      hi = 32767;
      break;
    case ValueType::U32:
      lo = 0;
      hi = 4294967295.0;
      break;
    case ValueType::S32:
      lo = -2147483648.0;
      hi = 2147483647.0;
      break;
    case ValueType::F32: break;
  }
  if (r < lo || r > hi) return false;
  switch (s.type) {
    case ValueType::U16: w[0] = static_cast<std::uint16_t>(r); break;
    case ValueType::S16: w[0] = static_cast<std::uint16_t>(static_cast<std::int16_t>(r)); break;
    case ValueType::U32: split32(s, static_cast<std::uint32_t>(r), w); break;
    case ValueType::S32:
      split32(s, static_cast<std::uint32_t>(static_cast<std::int32_t>(r)), w);
      break;
    case ValueType::F32: break;
  }
  return true;
}

double floor_to_resolution(const SignalSpec& s, double value, bool at_least_one_lsb) {
  if (s.type == ValueType::F32) return value;
  double raw = (value - s.offset) / s.scale;
  raw = s.scale > 0 ? std::floor(raw + 1e-9) : std::ceil(raw - 1e-9);
  if (at_least_one_lsb && raw == 0) raw = s.scale > 0 ? 1 : -1;
  return raw * s.scale + s.offset;
}

}  // namespace soleus::drivers
