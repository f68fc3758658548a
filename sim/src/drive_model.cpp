#include "soleus/sim/drive_model.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace soleus::sim {

namespace {
constexpr double kDt = 0.001;           // one step, s
constexpr double kSpeedKp = 1.0;        // % of rated torque per rpm beyond the limit
constexpr double kSpeedKi = 50.0;       // % per rpm per s
constexpr double kThermalTauS = 240.0;  // drive temperature time constant
constexpr double kThermalRiseC = 45.0;  // steady rise at 100 % torque
constexpr double kBusTauS = 0.03;
constexpr int kOverspeedMs = 20;

bool bit(std::uint16_t w, int b) { return ((w >> b) & 1u) != 0; }
}  // namespace

MsOscillator::MsOscillator(double hz, double phase)
    : hz_(hz),
      phase_(phase),
      rc_(std::cos(2 * std::numbers::pi * hz * kDt)),
      rs_(std::sin(2 * std::numbers::pi * hz * kDt)) {}

double MsOscillator::at(std::int64_t now_ms) {
  if (now_ms == last_ms_) return s_;
  if (now_ms == last_ms_ + 1 && ++since_anchor_ < 4096) {
    const double c = c_ * rc_ - s_ * rs_;
    s_ = s_ * rc_ + c_ * rs_;
    c_ = c;
  } else {
    const double a = 2 * std::numbers::pi * hz_ * (static_cast<double>(now_ms) / 1000.0) + phase_;
    c_ = std::cos(a);
    s_ = std::sin(a);
    since_anchor_ = 0;
  }
  last_ms_ = now_ms;
  return s_;
}

DriveModel::DriveModel(DriveSettings s)
    : s_(s), temperature_c_(s.ambient_c + 2.0), bus_voltage_v_(s.nominal_bus_v) {}

void DriveModel::disable() {
  enabled_ = false;
  quick_stopping_ = false;
  torque_pct_ = 0;
  ramped_pct_ = 0;
  brake_up_i_ = brake_dn_i_ = 0;
  speed_limited_ = false;
  torque_limited_ = false;
}

void DriveModel::write_control(std::uint16_t word, std::int64_t now_ms) {
  const std::uint16_t prev = control_;
  control_ = word;
  last_cmd_ms_ = now_ms;
  const bool en = bit(word, s_.bit_enable), was_en = bit(prev, s_.bit_enable);
  const bool fr = bit(word, s_.bit_fault_reset), was_fr = bit(prev, s_.bit_fault_reset);
  const bool qs = bit(word, s_.bit_quick_stop);

  if (fr && !was_fr && !en && fault_code_ != 0) {
    // The cause must be gone for the reset to take.
    const bool still_hot = fault_code_ == static_cast<int>(DriveFault::OverTemperature) &&
                           temperature_c_ > s_.overtemp_c - 5.0;
    if (!still_hot) {
      fault_code_ = 0;
      overspeed_ms_ = 0;
    }
  }
  if (!en) {
    if (enabled_) disable();
    return;
  }
  if (enabled_ && qs && !quick_stopping_) {
    // ICD: torque to zero within 10 ms, at the drive's own rate whatever
    // TORQUE_SLEW says: the rate that takes the torque now to zero in 9 ms.
    quick_stopping_ = true;
    quick_stop_rate_ = std::max(std::fabs(ramped_pct_) / 9.0, 1.0);
  }
  if (!was_en && !enabled_ && ready() && !sto_ && !qs) {
    enabled_ = true;
    ramped_pct_ = 0;
    brake_up_i_ = brake_dn_i_ = 0;
    torque_pct_ = 0;
  }
}

void DriveModel::write_torque_cmd(double pct, std::int64_t now_ms) {
  torque_cmd_pct_ = pct;
  last_cmd_ms_ = now_ms;
}

void DriveModel::set_sto(bool active) {
  sto_ = active;
  if (active && enabled_) disable();
}

void DriveModel::raise_fault(int code) {
  if (code <= 0) return;
  if (fault_code_ == 0) fault_code_ = code;
  if (enabled_) disable();
}

void DriveModel::step(double speed_rpm, std::int64_t now_ms) {
  // 1. Protection.
  if (enabled_ && comm_timeout_ms_ > 0 &&
      static_cast<double>(now_ms - last_cmd_ms_) >= comm_timeout_ms_)
    raise_fault(static_cast<int>(DriveFault::CommLoss));
  if (enabled_ && std::fabs(speed_rpm) > speed_limit_rpm_ * 1.1 + s_.overspeed_margin_rpm) {
    if (++overspeed_ms_ >= kOverspeedMs) raise_fault(static_cast<int>(DriveFault::OverSpeed));
  } else {
    overspeed_ms_ = 0;
  }
  if (bus_voltage_v_ > s_.overvoltage_v) raise_fault(static_cast<int>(DriveFault::OverVoltage));
  if (temperature_c_ > s_.overtemp_c) raise_fault(static_cast<int>(DriveFault::OverTemperature));

  // 2. Torque pipeline.
  if (enabled_) {
    const double lim = std::max(0.0, torque_limit_pct_);
    double cmd = quick_stopping_ ? 0.0 : torque_cmd_pct_;
    torque_limited_ = std::fabs(cmd) > lim;
    cmd = std::clamp(cmd, -lim, lim);
    double rate = slew_pct_ms_ > 0 ? slew_pct_ms_ : 1e9;
    if (quick_stopping_) rate = quick_stop_rate_;
    ramped_pct_ += std::clamp(cmd - ramped_pct_, -rate, rate);
    double t = ramped_pct_;

    // Speed loop: PI on the speed beyond the limit, bumpless from the command.
    const double sl = std::max(0.0, speed_limit_rpm_);
    bool limiting = false;
    const double e_up = speed_rpm - sl;  // > 0: rising too fast → more downward torque
    const double u_up = kSpeedKp * e_up + brake_up_i_;
    if (u_up > t) {
      t = u_up;
      brake_up_i_ = std::clamp(brake_up_i_ + kSpeedKi * e_up * kDt, -lim, lim);
      limiting = true;
    } else {
      brake_up_i_ = std::clamp(ramped_pct_, -lim, lim);
    }
    const double e_dn = -speed_rpm - sl;  // > 0: falling too fast → more upward torque
    const double u_dn = -kSpeedKp * e_dn + brake_dn_i_;
    if (u_dn < t) {
      t = u_dn;
      brake_dn_i_ = std::clamp(brake_dn_i_ - kSpeedKi * e_dn * kDt, -lim, lim);
      limiting = true;
    } else {
      brake_dn_i_ = std::clamp(ramped_pct_, -lim, lim);
    }
    speed_limited_ = limiting;
    if (std::fabs(t) > lim) torque_limited_ = true;
    torque_pct_ = std::clamp(t, -lim, lim);
    if (s_.ripple_v > 0) {
      // Supply ripple leaks into the torque by its share of the bus voltage.
      torque_pct_ *= 1.0 + s_.ripple_v / s_.nominal_bus_v * supply_.at(now_ms);
    }

    if (quick_stopping_ && std::fabs(ramped_pct_) < 1e-9) disable();
  } else {
    torque_pct_ = 0;
    speed_limited_ = torque_limited_ = false;
  }

  // 3. Temperature and bus voltage.
  const double load = torque_pct_ / 100.0;
  const double t_target = s_.ambient_c + kThermalRiseC * load * load;
  temperature_c_ += (t_target - temperature_c_) * (kDt / kThermalTauS);
  const double omega = speed_rpm * 2.0 * std::numbers::pi / 60.0;
  regen_w_ = torque_nm() * omega;  // torque down while moving up: the user feeds power in
  const double rise =
      regen_w_ > 0 ? std::min(70.0, regen_w_ * 0.08) : std::max(-20.0, regen_w_ * 0.02);
  const double ripple = 0.3 * bus_slow_.at(now_ms) + 0.2 * bus_fast_.at(now_ms);
  const double v_target = s_.nominal_bus_v + rise + ripple;
  bus_voltage_v_ += (v_target - bus_voltage_v_) * (kDt / kBusTauS);
  supply_ripple_v_ = s_.ripple_v > 0 ? s_.ripple_v * supply_.at(now_ms) : 0.0;
}

}  // namespace soleus::sim
