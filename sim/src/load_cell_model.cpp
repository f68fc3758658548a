#include "soleus/sim/load_cell_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace soleus::sim {

namespace {
constexpr int kTareSamples = 20;
constexpr std::size_t kStableWindow = 20;  // = recent_.size()
constexpr double kStableSpanN = 2.0;
}  // namespace

LoadCellModel::LoadCellModel(LoadCellSettings s)
    : s_(s),
      next_sample_ms_(1000.0 / s.sample_rate_hz),
      tare_n_(s.zero_offset_n),
      rng_(s.seed * 2654435761ULL + 0x9E3779B97F4A7C15ULL) {}

double LoadCellModel::noise() {
  // xorshift64* → two uniforms → Box-Muller.
  auto next = [this] {
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return static_cast<double>((rng_ * 2685821657736338717ULL) >> 11) * 0x1.0p-53;
  };
  const double u1 = std::max(next(), 1e-12), u2 = next();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.141592653589793 * u2);
}

bool LoadCellModel::write_command(int value, int tare_cmd, int clear_cmd) {
  if (value == 0) return true;
  if (value == tare_cmd) {
    command_ = value;
    tare_left_ = kTareSamples;
    tare_sum_ = 0;
    return true;
  }
  if (value == clear_cmd) {
    command_ = value;
    pending_clear_ = 1;
    return true;
  }
  return false;
}

bool LoadCellModel::write_filter(int level) {
  if (level < 0 || level > 9) return false;
  filter_ = level;
  return true;
}

void LoadCellModel::step(double contact_n, std::int64_t now_ms) {
  const double t = static_cast<double>(now_ms);
  if (t + 1e-9 < next_sample_ms_) return;
  next_sample_ms_ = std::max(next_sample_ms_ + 1000.0 / s_.sample_rate_hz, t);
  if (frozen_) return;  // converter stopped: counter and values stay

  if (std::fabs(contact_n) > s_.overload_n) overload_ = true;
  if (s_.drift_n_per_s > 0) {
    // The rate takes a bounded random walk (about ±drift_n_per_s over ~10 s);
    // the drift turns back at its bound.
    const double dt = 1.0 / s_.sample_rate_hz;
    auto u = [this] {
      rng_ ^= rng_ >> 12;
      rng_ ^= rng_ << 25;
      rng_ ^= rng_ >> 27;
      return static_cast<double>((rng_ * 2685821657736338717ULL) >> 11) * 0x1.0p-52 - 1.0;
    };
    drift_rate_ =
        std::clamp(drift_rate_ + u() * s_.drift_n_per_s * 0.1, -s_.drift_n_per_s, s_.drift_n_per_s);
    drift_n_ += drift_rate_ * dt;
    if (std::fabs(drift_n_) >= s_.drift_max_n) {
      drift_n_ = std::clamp(drift_n_, -s_.drift_max_n, s_.drift_max_n);
      drift_rate_ = -drift_rate_;
    }
  }
  const double gross = contact_n + s_.zero_offset_n + drift_n_ + s_.noise_n * noise();
  const double alpha = 1.0 / (1.0 + filter_);
  filtered_ = have_filtered_ ? filtered_ + alpha * (gross - filtered_) : gross;
  have_filtered_ = true;

  if (pending_clear_) {
    if (std::fabs(contact_n) <= s_.overload_n) overload_ = false;
    pending_clear_ = 0;
    if (tare_left_ == 0) command_ = 0;
  }
  if (tare_left_ > 0) {
    tare_sum_ += filtered_;
    if (--tare_left_ == 0) {
      tare_n_ = tare_sum_ / kTareSamples;
      command_ = 0;
    }
  }

  recent_[recent_at_] = filtered_;
  recent_at_ = (recent_at_ + 1) % kStableWindow;
  if (recent_n_ < kStableWindow) ++recent_n_;
  if (recent_n_ == kStableWindow) {
    double mn = recent_[0], mx = recent_[0];
    for (std::size_t i = 1; i < kStableWindow; ++i) {
      mn = std::min(mn, recent_[i]);
      mx = std::max(mx, recent_[i]);
    }
    stable_ = (mx - mn) < kStableSpanN && !adc_error_;
  } else {
    stable_ = false;
  }

  if (adc_error_) force_n_ = 0;
  else if (nan_) force_n_ = std::numeric_limits<double>::quiet_NaN();
  else if (!value_frozen_)
    force_n_ = filtered_ - tare_n_;  // (value frozen: FORCE repeats its last value)
  counter_ =
      static_cast<std::uint32_t>((counter_ + 1) % static_cast<std::uint32_t>(s_.counter_modulo));
  ++samples_;
}

}  // namespace soleus::sim
