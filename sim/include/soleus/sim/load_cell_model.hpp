#pragma once
/// The simulated load-cell transmitter (unit 2 of the ICD), in N.
///
/// Principle of operation (one call of step() per millisecond):
///  1. The converter samples at sample_rate_hz (200 Hz): each sample takes the
///     gross force (user contact force plus the cell's own zero offset) plus
///     a little noise, filters it (level 0 = none … 9 = heaviest, an
///     exponential average with α = 1/(1+level)) and increments the sample
///     counter, which wraps at counter_modulo.
///  2. FORCE = filtered gross − tare. The factory tare makes FORCE read the
///     contact force at power-up; COMMAND 1 (tare) averages 20 samples
///     (100 ms, TARE_BUSY meanwhile) and zeroes the present force;
///     COMMAND 2 clears the overload latch. COMMAND reads back 0 once done.
///  3. STABLE: the last 20 samples span less than 2 N (a fixed ring, no
///     allocation). Drift (off by default): a zero offset whose rate wanders
///     within ±drift_n_per_s, bounded by ±drift_max_n. OVERLOAD latches beyond
///     5 kN. Injected faults: freeze (counter and values stop), value freeze
///     (the counter and status bits go on, FORCE repeats its last value: a
///     converter stage that repeats its output), ADC error (bit set, force 0),
///     NaN force (a float map then carries a NaN).
#include <array>
#include <cstdint>

namespace soleus::sim {

struct LoadCellSettings {
  double sample_rate_hz = 200;
  int counter_modulo = 65536;
  double overload_n = 5000;
  double zero_offset_n = -61.3;  ///< raw zero of the cell (gross with no load)
  double noise_n = 0.4;          ///< rms noise on each sample
  /// Slow zero drift: its rate wanders within ±drift_n_per_s (N/s; the ICD's
  /// range is ≤ 0.5 N/s) and the drift itself stays within ±drift_max_n.
  double drift_n_per_s = 0;
  double drift_max_n = 10;
  std::uint64_t seed = 1;
};

class LoadCellModel {
 public:
  explicit LoadCellModel(LoadCellSettings s = {});

  /// COMMAND write. Returns false for an unknown command (the caller replies
  /// ILLEGAL DATA VALUE). `tare_cmd` / `clear_cmd` are the map's command values.
  bool write_command(int value, int tare_cmd, int clear_cmd);
  /// FILTER write; false when outside 0..9.
  bool write_filter(int level);

  /// Advances one millisecond with the true contact force (N, compression positive).
  void step(double contact_n, std::int64_t now_ms);

  // Fault injection.
  void set_frozen(bool on) { frozen_ = on; }
  /// FORCE holds its present value while the counter goes on counting.
  void set_value_frozen(bool on) { value_frozen_ = on; }
  void set_adc_error(bool on) { adc_error_ = on; }
  void set_nan(bool on) { nan_ = on; }
  void force_overload() { overload_ = true; }

  /// Net force, N (NaN while the NaN fault is injected).
  double force_n() const { return force_n_; }
  bool stable() const { return stable_; }
  bool overload() const { return overload_; }
  bool adc_error() const { return adc_error_; }
  bool tare_busy() const { return tare_left_ > 0; }
  bool frozen() const { return frozen_; }
  bool value_frozen() const { return value_frozen_; }
  bool nan_injected() const { return nan_; }
  std::uint32_t counter() const { return counter_; }
  /// COMMAND register as read back (the command while it runs, then 0).
  int command() const { return command_; }
  int filter() const { return filter_; }
  double tare_n() const { return tare_n_; }
  std::uint64_t samples() const { return samples_; }
  /// Present zero drift, N (0 unless drift_n_per_s > 0).
  double drift_n() const { return drift_n_; }
  /// Noise and drift settings may change at run time (the state is kept).
  void set_noise(double noise_n, double drift_n_per_s, double drift_max_n) {
    s_.noise_n = noise_n;
    s_.drift_n_per_s = drift_n_per_s;
    s_.drift_max_n = drift_max_n;
  }
  const LoadCellSettings& settings() const { return s_; }

 private:
  double noise();

  LoadCellSettings s_;
  double next_sample_ms_;
  double filtered_ = 0;
  bool have_filtered_ = false;
  double tare_n_;
  double force_n_ = 0;
  bool stable_ = false;
  bool overload_ = false;
  bool adc_error_ = false;
  bool frozen_ = false;
  bool value_frozen_ = false;
  bool nan_ = false;
  int tare_left_ = 0;
  double tare_sum_ = 0;
  int command_ = 0;
  int pending_clear_ = 0;
  int filter_ = 0;
  std::uint32_t counter_ = 0;
  std::uint64_t samples_ = 0;
  std::array<double, 20> recent_{};  ///< ring of the last samples (STABLE)
  std::size_t recent_n_ = 0, recent_at_ = 0;
  std::uint64_t rng_;
  double drift_n_ = 0;     ///< present zero drift, N
  double drift_rate_ = 0;  ///< its rate, N/s (wanders within ±drift_n_per_s)
};

}  // namespace soleus::sim
