#include "soleus/storage/trace_codec.hpp"

#include <cmath>
#include <limits>

namespace soleus::storage {

namespace {

std::int64_t quantise(double v, double scale) {
  double q = std::nearbyint(v / scale);
  constexpr double kMax = 4.0e15;  // far inside int64, and finite
  if (!std::isfinite(q)) return 0;
  if (q > kMax) q = kMax;
  if (q < -kMax) q = -kMax;
  return static_cast<std::int64_t>(q);
}

void put_varint(std::vector<std::uint8_t>& out, std::int64_t v) {
  auto z = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);  // zigzag
  while (z >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(z | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(z));
}

bool get_varint(const std::vector<std::uint8_t>& in, std::size_t& pos, std::int64_t& v) {
  std::uint64_t z = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size()) return false;
    std::uint8_t b = in[pos++];
    z |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      v = static_cast<std::int64_t>(z >> 1) ^ -static_cast<std::int64_t>(z & 1);
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<std::uint8_t> encode_trace(const std::vector<TraceSample>& samples,
                                       const TraceScales& scales) {
  std::vector<std::uint8_t> out;
  if (samples.empty()) return out;
  out.reserve(samples.size() * 4);
  const double t0 = samples.front().t_s;
  std::int64_t pt = 0, pf = 0, pp = 0;
  for (const auto& s : samples) {
    std::int64_t t = quantise(s.t_s - t0, scales.time_s);
    std::int64_t f = quantise(s.force_n, scales.force_n);
    std::int64_t p = quantise(s.position_mm, scales.position_mm);
    put_varint(out, t - pt);
    put_varint(out, f - pf);
    put_varint(out, p - pp);
    pt = t;
    pf = f;
    pp = p;
  }
  return out;
}

std::optional<std::vector<TracePoint>> decode_trace(const std::vector<std::uint8_t>& data,
                                                    std::int64_t count, double t0_s,
                                                    const TraceScales& scales) {
  if (count < 0 || static_cast<std::uint64_t>(count) > data.size()) return std::nullopt;
  std::vector<TracePoint> out;
  out.reserve(static_cast<std::size_t>(count));
  std::size_t pos = 0;
  std::int64_t t = 0, f = 0, p = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    std::int64_t dt, df, dp;
    if (!get_varint(data, pos, dt) || !get_varint(data, pos, df) || !get_varint(data, pos, dp))
      return std::nullopt;
    t += dt;
    f += df;
    p += dp;
    out.push_back({t0_s + static_cast<double>(t) * scales.time_s,
                   static_cast<double>(f) * scales.force_n,
                   static_cast<double>(p) * scales.position_mm});
  }
  if (pos != data.size()) return std::nullopt;
  return out;
}

}  // namespace soleus::storage
