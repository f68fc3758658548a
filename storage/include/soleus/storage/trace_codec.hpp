#pragma once
/// Compact rep traces: (time, force, position) samples in a BLOB.
///
/// Principle of operation (encode):
///  1. Each value is quantised to an integer with its scale (time 1 ms,
///     force 0.1 N, position 0.01 mm by default; the scales are stored in
///     columns beside the BLOB, so they can change without a migration).
///  2. Each quantised value is replaced by its difference from the previous
///     sample's (the first sample's from the chunk's t0 and from zero). A
///     smooth signal at 50-200 Hz changes little from sample to sample.
///  3. Each difference is zigzag-mapped (0, -1, 1, -2 ... → 0, 1, 2, 3) and
///     written as a LEB128 varint: 7 bits a byte, high bit = more.
///     A 100 Hz sample typically costs 1 (time) + 1-2 (force) + 1-2
///     (position) bytes, instead of 24 bytes as three doubles.
///  4. Decoding runs the steps backwards; a truncated or overlong BLOB is
///     refused rather than half-decoded.
#include <cstdint>
#include <optional>
#include <vector>

namespace soleus::storage {

/// One trace sample as the control loop produces it.
struct TraceSample {
  std::int64_t set_id = 0;  ///< the set it belongs to; samples with set_id <= 0 are not stored
  double t_s = 0;           ///< loop time, s
  float force_n = 0;        ///< load-cell force, N
  float position_mm = 0;    ///< pad height, mm
};

struct TraceScales {
  double time_s = 0.001;
  double force_n = 0.1;
  double position_mm = 0.01;
};

/// A decoded chunk.
struct TracePoint {
  double t_s;
  double force_n;
  double position_mm;
};

/// Encodes samples (in time order) relative to t0_s = samples.front().t_s.
std::vector<std::uint8_t> encode_trace(const std::vector<TraceSample>& samples,
                                       const TraceScales& scales = {});
/// Decodes `count` samples; nullopt if the BLOB is malformed.
std::optional<std::vector<TracePoint>> decode_trace(const std::vector<std::uint8_t>& data,
                                                    std::int64_t count, double t0_s,
                                                    const TraceScales& scales);

}  // namespace soleus::storage
