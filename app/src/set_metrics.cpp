#include "soleus/app/set_metrics.hpp"

#include <cstddef>

namespace soleus::app {

FatigueMetrics fatigue_metrics(const std::vector<double>& f) {
  FatigueMetrics m;
  const std::size_t n = f.size();
  if (n < 3) return m;
  const std::size_t k = n / 3;
  double first = 0, last = 0;
  for (std::size_t i = 0; i < k; ++i) {
    first += f[i];
    last += f[n - k + i];
  }
  first /= static_cast<double>(k);
  last /= static_cast<double>(k);
  if (first > 0) m.fatigue_index_pct = 100.0 * (first - last) / first;
  // Slope of f against x = 1..n.
  const double xm = (static_cast<double>(n) + 1) / 2;
  double ym = 0;
  for (double v : f) ym += v;
  ym /= static_cast<double>(n);
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double dx = static_cast<double>(i + 1) - xm;
    sxy += dx * (f[i] - ym);
    sxx += dx * dx;
  }
  m.decline_n_per_rep = -sxy / sxx;
  return m;
}

std::string tempo_verdict(bool on_tempo, double tempo_deviation_s) {
  if (on_tempo) return "on_tempo";
  return tempo_deviation_s < 0 ? "too_fast" : "too_slow";
}

}  // namespace soleus::app
