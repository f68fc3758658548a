#pragma once
/// The proving ground's population: one seed → one athlete (a mix of
/// soleus-sim's traits), one programme and the machine's noise.
///
/// Principle of operation:
///  1. A SplitMix64 generator seeded with the case's seed draws every value
///     in a fixed order (the same number of draws whatever is chosen), so a
///     seed always gives the same case, on any platform (no std::
///     distributions, whose algorithms are not specified).
///  2. The traits cover at least the ranges of issue 9 (docs/proving-ground.md
///     lists each distribution); every case carries labels of the traits it
///     has, for the table by trait.
///  3. The programme's load is relative to the athlete's capacity (light to
///     near-maximal; grinders 70–95 %) and never above the machine's max load.
#include <cstdint>

#include "soleus/proving/world.hpp"

namespace soleus::proving {

struct PopulationOptions {
  double max_load_n = 1800;
  double travel_max_mm = 150;
  double top_margin_mm =
      6;  ///< the athlete's top stays this far below the travel's end (soft limit 3 mm + jitter)
};

/// The case of one seed.
Case draw_case(std::uint64_t seed, const PopulationOptions& opt = {});

/// Deterministic generator (SplitMix64) with the draws the population uses.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL) {}
  std::uint64_t next();
  double u01();                          ///< [0, 1)
  double uniform(double lo, double hi);  ///< [lo, hi)
  int integer(int lo, int hi);           ///< [lo, hi]
  bool chance(double p);

 private:
  std::uint64_t s_;
};

}  // namespace soleus::proving
