#include "soleus/controller/supervisor.hpp"

#include <algorithm>
#include <cmath>

namespace soleus::controller {

const char* to_string(Fault f) {
  switch (f) {
    case Fault::NotArmed: return "not_armed";
    case Fault::Sto: return "sto";
    case Fault::DriveFault: return "drive_fault";
    case Fault::CommLoss: return "comm_loss";
    case Fault::StaleCell: return "stale_load_cell";
    case Fault::AdcError: return "adc_error";
    case Fault::Overload: return "load_cell_overload";
    case Fault::Implausible: return "implausible_reading";
    case Fault::Overspeed: return "overspeed";
    case Fault::TravelLimit: return "travel_limit";
    case Fault::CrossCheck: return "sensor_cross_check";
    case Fault::OverForce: return "over_force";
    case Fault::EnableTimeout: return "enable_timeout";
    case Fault::kCount: break;
  }
  return "?";
}

const char* message(Fault f) {
  switch (f) {
    case Fault::NotArmed:
      return "drive not armed (COMM_TIMEOUT/TORQUE_LIMIT not written and read back); see "
             "docs/controller.md#arming";
    case Fault::Sto: return "emergency stop (STO active): release the mushroom, then reset";
    case Fault::DriveFault: return "servo drive fault: see the drive's fault name, then reset";
    case Fault::CommLoss:
      return "communication lost with drive or load cell: check the RS-485 cable and gateway";
    case Fault::StaleCell:
      return "load cell data stale (sample counter not moving): check the transmitter";
    case Fault::AdcError: return "load cell ADC error (sensor disconnected or broken wire)";
    case Fault::Overload:
      return "load cell overload (beyond 5 kN, latched in the transmitter): clear it, then reset";
    case Fault::Implausible:
      return "implausible reading (force or position out of range): check sensors and scaling";
    case Fault::Overspeed:
      return "pad over-speed beyond the drive's speed limit: check SPEED_LIMIT and the drive";
    case Fault::TravelLimit: return "pad at the upper soft travel limit";
    case Fault::CrossCheck:
      return "the load cell disagrees with the motor force and the pad's motion: check "
             "calibration, tare and the mechanics";
    case Fault::OverForce:
      return "the load cell read more than the maximum load allows while the pad did not rise: "
             "check the drive's TORQUE_LIMIT and scaling";
    case Fault::EnableTimeout: return "the drive did not report ENABLED in time";
    case Fault::kCount: break;
  }
  return "?";
}

StopReason stop_reason(Fault f) {
  switch (f) {
    case Fault::Sto: return StopReason::Estop;
    case Fault::DriveFault:
    case Fault::NotArmed:  // the drive does not hold its setup (restarted, faulted, lost it)
    case Fault::EnableTimeout: return StopReason::DriveFault;
    case Fault::CommLoss: return StopReason::CommLoss;
    case Fault::StaleCell:
    case Fault::AdcError:
    case Fault::Overload:
    case Fault::Implausible:
    case Fault::CrossCheck: return StopReason::SensorFault;
    case Fault::OverForce: return StopReason::DriveFault;  // the machine pushed beyond its cap
    case Fault::Overspeed: return StopReason::Overspeed;
    case Fault::TravelLimit: return StopReason::TravelLimit;
    case Fault::kCount: break;
  }
  return StopReason::SensorFault;
}

EventCode event_code(Fault f) {
  switch (f) {
    case Fault::NotArmed: return EventCode::ArmFailed;
    case Fault::Sto: return EventCode::Sto;
    case Fault::DriveFault:
    case Fault::EnableTimeout: return EventCode::DriveFault;
    case Fault::CommLoss: return EventCode::CommLoss;
    case Fault::StaleCell: return EventCode::StaleLoadCell;
    case Fault::AdcError: return EventCode::AdcError;
    case Fault::Overload: return EventCode::Overload;
    case Fault::Implausible: return EventCode::Implausible;
    case Fault::Overspeed: return EventCode::Overspeed;
    case Fault::TravelLimit: return EventCode::TravelLimit;
    case Fault::CrossCheck: return EventCode::CrossCheck;
    case Fault::OverForce: return EventCode::OverForce;
    case Fault::kCount: break;
  }
  return EventCode::DriveFault;
}

Supervisor::Supervisor(const ControlConfig& cfg) : cfg_(cfg) { since_.fill(0); }

void Supervisor::set_armed(bool armed) { armed_ = armed; }

void Supervisor::request_reset(double t_s) {
  reset_pending_ = true;
  reset_deadline_ = t_s + 0.5;
}

void Supervisor::push_event(EventCode c, Severity s, double v, const char* text) {
  if (event_count_ < static_cast<int>(events_.size())) events_[event_count_++] = {c, s, v, text};
}

void Supervisor::raise(Fault f, double t) {
  if (latched_ & bit(f)) return;
  latched_ |= bit(f);
  since_[static_cast<int>(f)] = t;
  ok_ = false;
  double value = f == Fault::DriveFault ? drive_fault_code_ : 0;
  const char* text = message(f);
  if (f == Fault::CrossCheck) {
    // value 1: the reading disagrees with the pad's dynamics; 2: it is frozen.
    value = mismatch_present_ ? 1 : 2;
    if (!mismatch_present_) text = kFrozenCellText;
  }
  push_event(event_code(f), Severity::Error, value, text);
  if (trip_ == StopReason::None) {
    trip_ = stop_reason(f);
    trip_fault_ = f;
  }
}

Supervisor::Dynamics Supervisor::dynamics(const machine::DriveStatus& d,
                                          const SupervisorContext& ctx, double t) const {
  Dynamics dy;
  // Acceleration over the last ≥ 40 ms of velocity readings.
  const int n = static_cast<int>(v_t_.size());
  if (v_n_ >= 2) {
    const int newest = (v_head_ - 1 + n) % n;
    int oldest = newest;
    for (int k = 1; k < v_n_; ++k) {
      oldest = (newest - k + n) % n;
      if (t - v_t_[static_cast<std::size_t>(oldest)] >= 0.04) break;
    }
    const double dt_a =
        v_t_[static_cast<std::size_t>(newest)] - v_t_[static_cast<std::size_t>(oldest)];
    dy.a_mm_s2 =
        dt_a > 1e-6
            ? (v_v_[static_cast<std::size_t>(newest)] - v_v_[static_cast<std::size_t>(oldest)]) /
                  dt_a
            : 0.0;
  }
  // m·a = contact − pad weight − motor force (positive down), so:
  // The motor's effective force at the pad: friction takes η when the motor
  // drives the motion and gives 1/η when the motion back-drives it (the
  // drive's force_n assumes the user drives whenever the pad rises).
  dy.eta = std::clamp(ctx.efficiency, 0.5, 1.0);
  const double v = d.velocity_mm_s;
  dy.ideal = v > 0 ? d.force_n * dy.eta : d.force_n / dy.eta;
  const bool motor_drives =
      (dy.ideal > 0 && v < -cfg_.still_mm_s) || (dy.ideal < 0 && v > cfg_.still_mm_s);
  const bool back_driven =
      (dy.ideal > 0 && v > cfg_.still_mm_s) || (dy.ideal < 0 && v < -cfg_.still_mm_s);
  dy.moving = std::abs(v) > cfg_.still_mm_s;
  dy.motor_eff = motor_drives ? dy.ideal * dy.eta : back_driven ? dy.ideal / dy.eta : dy.ideal;
  dy.inertia_n = ctx.moving_mass_kg * dy.a_mm_s2 / 1000.0;
  dy.contact_n = dy.inertia_n + ctx.pad_weight_n + dy.motor_eff;
  return dy;
}

SupervisorReport Supervisor::update(const machine::MachineInputs& in,
                                    const SupervisorContext& ctx) {
  event_count_ = 0;
  trip_ = StopReason::None;
  const double t = in.t_s;
  SupervisorReport r;
  // A load-cell read the loop skipped on purpose (a read-back in its place)
  // is no failure: the cell's conditions simply wait a cycle.
  r.comm_good = in.drive_ok && (in.cell_ok || in.cell_skipped);

  // 1. Communication: N failed cycles in a row, or no good cycle for longer than the window.
  if (!seen_good_ && last_good_t_ == 0) last_good_t_ = t;  // the window runs from the first cycle
  if (r.comm_good) {
    seen_good_ = true;
    failed_in_row_ = 0;
    last_good_t_ = t;
  } else {
    ++failed_in_row_;
    ++failed_total_;
  }
  bool comm_lost = failed_in_row_ >= cfg_.comm_loss_cycles ||
                   (t - last_good_t_) * 1000.0 > cfg_.comm_loss_window_ms;

  std::uint32_t now = present_;
  auto set = [&now](Fault f, bool on) { now = on ? (now | bit(f)) : (now & ~bit(f)); };
  set(Fault::NotArmed, !armed_);
  set(Fault::CommLoss, comm_lost);

  // 2. Drive-derived conditions, from fresh drive data only.
  if (in.drive_ok) {
    const auto& d = in.drive;
    set(Fault::Sto, d.sto);
    bool drive_fault = d.fault || d.fault_code != 0;
    if (drive_fault) drive_fault_code_ = d.fault_code;
    set(Fault::DriveFault, drive_fault);
    bool bad_pos = !std::isfinite(d.position_mm) || !std::isfinite(d.velocity_mm_s) ||
                   !std::isfinite(d.force_n) || d.position_mm < -cfg_.implausible_position_mm ||
                   d.position_mm > ctx.travel_max_mm + cfg_.implausible_position_mm;
    impl_drive_ = bad_pos;
    // The drive's speed loop caps the pad's speed only while it is enabled: a
    // faster pad then means the cap failed. A disabled drive applies no torque
    // (someone moving the free pad by hand is no motor hazard), and a drive
    // enabled on a moving pad needs a moment (kOverspeedGraceS) to brake it
    // under the cap.
    if (!d.enabled) drive_enabled_since_ = -1;
    else if (drive_enabled_since_ < 0) drive_enabled_since_ = t;
    set(Fault::Overspeed, d.enabled && t - drive_enabled_since_ >= kOverspeedGraceS &&
                              std::abs(d.velocity_mm_s) > cfg_.overspeed_mm_s);
    set(Fault::TravelLimit,
        ctx.enable_commanded && d.position_mm > ctx.travel_max_mm - cfg_.soft_travel_margin_mm);
    if (ctx.enable_commanded && !d.enabled && !d.sto && !drive_fault) {
      if (enable_since_ < 0) enable_since_ = t;
      set(Fault::EnableTimeout, (t - enable_since_) * 1000.0 > cfg_.enable_timeout_ms);
    } else {
      enable_since_ = -1;
      set(Fault::EnableTimeout, false);
    }
  }
  if (!ctx.enable_commanded) set(Fault::TravelLimit, false);

  // 3. Load-cell-derived conditions, from successful reads only.
  if (in.cell_ok) {
    const auto& c = in.cell;
    set(Fault::AdcError, c.adc_error);
    set(Fault::Overload, c.overload);
    impl_cell_ = !std::isfinite(c.force_n) || std::abs(c.force_n) > cfg_.implausible_force_n;
    if (!have_counter_ || c.counter != last_counter_) {
      have_counter_ = true;
      last_counter_ = c.counter;
      counter_since_t_ = t;
      set(Fault::StaleCell, false);
    } else if ((t - counter_since_t_) * 1000.0 > cfg_.stale_cell_ms) {
      set(Fault::StaleCell, true);
    }
  }

  set(Fault::Implausible, impl_drive_ || impl_cell_);

  // Over-force, independent of the motor's readings: the cell above
  // over_force_factor × max load on two consecutive reads while the drive
  // may push (enable asked or reported) and the pad is not rising.
  // A pad brought to a stop (a fall caught by the heels) shows its momentum
  // in the cell for a moment: m·Δv/Δt of 95 mm/s in 10 ms is ~1 kN. The
  // velocity then changes by more than kImpactDvMmS between reads (~220 N of
  // inertia at most, under the 15 % margin): no over-force is judged then.
  if (in.cell_ok) {
    const bool pushing = ctx.enable_commanded || (in.drive_ok && in.drive.enabled);
    const double v = in.drive_ok ? in.drive.velocity_mm_s : over_force_last_v_;
    const bool rising = v > cfg_.still_mm_s;
    const bool impact = std::abs(v - over_force_last_v_) > kImpactDvMmS;
    over_force_last_v_ = v;
    const bool over =
        pushing && !rising && !impact && in.cell.force_n > cfg_.over_force_factor * ctx.max_load_n;
    over_force_reads_ = over ? over_force_reads_ + 1 : 0;
  }
  set(Fault::OverForce, over_force_reads_ >= 2);

  // The pad's recent velocities (the acceleration of the cross-check and of presence).
  if (in.drive_ok) {
    v_t_[static_cast<std::size_t>(v_head_)] = t;
    v_v_[static_cast<std::size_t>(v_head_)] = in.drive.velocity_mm_s;
    v_head_ = (v_head_ + 1) % static_cast<int>(v_t_.size());
    v_n_ = std::min(v_n_ + 1, static_cast<int>(v_t_.size()));
  }

  // 4. Cross-check of the load cell against the motor force and the pad's
  //    motion, enabled and away from the hard stops, moving or still. The
  //    contact the pad's dynamics imply (presence's estimate, step 6) is
  //    m·a + pad weight + the drive's actual force with the screw's friction
  //    by direction; while still the screw holds anywhere in its static band
  //    (the motor's ideal force × η .. ÷ η). A reading further from it than
  //    cross_check_tolerance_n + cross_check_tolerance_pct % of the motor's
  //    force plus the pad's weight, on every read for cross_check_s, is a
  //    sensor fault (docs/safety.md, hazard 4).
  if (in.drive_ok && in.cell_ok) {
    const auto& d = in.drive;
    const bool checkable = ctx.enable_commanded && d.enabled &&
                           d.position_mm > cfg_.soft_travel_margin_mm + 1.0 &&
                           d.position_mm < ctx.travel_max_mm - cfg_.soft_travel_margin_mm - 1.0;
    const Dynamics dy = dynamics(d, ctx, t);
    double residual = 0;
    if (dy.moving) {
      residual = in.cell.force_n - dy.contact_n;
    } else {
      const double base = dy.inertia_n + ctx.pad_weight_n;
      const double lo = base + std::min(dy.ideal * dy.eta, dy.ideal / dy.eta);
      const double hi = base + std::max(dy.ideal * dy.eta, dy.ideal / dy.eta);
      residual = in.cell.force_n < lo   ? in.cell.force_n - lo
                 : in.cell.force_n > hi ? in.cell.force_n - hi
                                        : 0.0;
    }
    const double tol = cfg_.cross_check_tolerance_n + cfg_.cross_check_tolerance_pct / 100.0 *
                                                          std::abs(ctx.pad_weight_n + dy.motor_eff);
    if (checkable && std::abs(residual) > tol) {
      if (mismatch_since_ < 0) mismatch_since_ = t;
      mismatch_present_ = t - mismatch_since_ >= cfg_.cross_check_s - 1e-9;
    } else {
      mismatch_since_ = -1;
      mismatch_present_ = false;
    }
  }
  // 4b. A frozen reading: a converter that repeats its last value while the
  //     counter goes on agrees with the dynamics until the force moves away
  //     from it. A member pushing against the motor is never still to the
  //     cell's resolution (tremor, the cell's own noise): new samples that
  //     all read the same (within frozen_cell_band_n) for frozen_cell_s, while
  //     a set loads the member (the reading at least let_go_force_n) and the
  //     machine shows the load changing (the pad moving, or the drive's force
  //     spanning frozen_cell_evidence_n), are a frozen value.
  if (in.cell_ok) {
    const bool fresh = !frozen_have_counter_ || in.cell.counter != frozen_counter_;
    frozen_have_counter_ = true;
    frozen_counter_ = in.cell.counter;
    if (fresh) {
      const bool judged = ctx.loaded && ctx.enable_commanded && std::isfinite(in.cell.force_n) &&
                          std::abs(in.cell.force_n) >= cfg_.let_go_force_n;
      if (!judged) {
        frozen_since_ = -1;
        frozen_present_ = false;
      } else if (frozen_since_ < 0 ||
                 std::abs(in.cell.force_n - frozen_value_) > cfg_.frozen_cell_band_n) {
        frozen_since_ = t;
        frozen_value_ = in.cell.force_n;
        frozen_moved_ = false;
        frozen_fmin_ = frozen_fmax_ = in.drive_ok ? in.drive.force_n : NAN;
        frozen_present_ = false;
      } else {
        if (in.drive_ok) {
          frozen_moved_ = frozen_moved_ || std::abs(in.drive.velocity_mm_s) > cfg_.still_mm_s;
          if (std::isnan(frozen_fmin_)) frozen_fmin_ = frozen_fmax_ = in.drive.force_n;
          frozen_fmin_ = std::min(frozen_fmin_, in.drive.force_n);
          frozen_fmax_ = std::max(frozen_fmax_, in.drive.force_n);
        }
        const bool evidence =
            frozen_moved_ || frozen_fmax_ - frozen_fmin_ >= cfg_.frozen_cell_evidence_n;
        frozen_present_ = evidence && t - frozen_since_ >= cfg_.frozen_cell_s - 1e-9;
      }
    }
  }
  set(Fault::CrossCheck, mismatch_present_ || frozen_present_);

  // 5. Latch what appeared, in priority order (the first is the trip's reason).
  present_ = now;
  static constexpr Fault kOrder[] = {Fault::Sto,         Fault::DriveFault, Fault::EnableTimeout,
                                     Fault::CommLoss,    Fault::NotArmed,   Fault::Overspeed,
                                     Fault::AdcError,    Fault::Overload,   Fault::StaleCell,
                                     Fault::Implausible, Fault::OverForce,  Fault::CrossCheck,
                                     Fault::TravelLimit};
  // At rest a stale or silent load cell (the drive answering) is a warning
  // that clears itself once good data returns, not a latched fault.
  const bool cell_only_loss = comm_lost && in.drive_ok;
  const std::uint32_t rest_soft =
      ctx.at_rest ? (bit(Fault::StaleCell) | (cell_only_loss ? bit(Fault::CommLoss) : 0u)) : 0u;
  if ((present_ & rest_soft) && !rest_warning_) {
    rest_warning_ = true;
    push_event(
        EventCode::StaleLoadCell, Severity::Warning, 0,
        "load cell silent or stale at rest: a warning (nothing is loaded); it clears itself, "
        "and a set cannot start until it does");
  } else if (rest_warning_ && !(present_ & (bit(Fault::StaleCell) | bit(Fault::CommLoss)))) {
    rest_warning_ = false;
    push_event(EventCode::SensorRecovered, Severity::Info, 0, "load cell data good again");
  }
  for (Fault f : kOrder)
    if (present_ & bit(f) & ~rest_soft) raise(f, t);

  // 6. Presence: is anybody holding the pad? (not a fault; reported once per set)
  if (ctx.loaded && in.cell_ok && in.drive_ok && v_n_ >= 2) {
    const auto& d = in.drive;
    const double contact = dynamics(d, ctx, t).contact_n;
    r.contact_estimate_n = contact;
    const bool cell_low = in.cell.force_n < cfg_.let_go_force_n;
    // A pad that nothing pushes down (a floating isometric hold, a load the
    // motor lifts to nothing) says nothing about who touches it.
    // The scale is what the controller asks for: the drive's own speed loop
    // trims the actual force of a pad that falls at its SPEED_LIMIT to nothing.
    const double asked = ctx.pad_weight_n + ctx.commanded_force_n;
    const bool judged = asked >= 2.0 * cfg_.let_go_force_n;
    const bool free_moving = judged && contact < std::max(10.0, 0.12 * asked);
    const bool on_stop = d.position_mm < 1.5 && (ctx.bottom_mm < 0 || ctx.bottom_mm > 4.5);
    const bool moving = std::abs(d.velocity_mm_s) > cfg_.still_mm_s;
    if (cell_low && (free_moving || on_stop)) {
      if (let_go_since_ < 0) let_go_since_ = t;
      const double need_s = (moving || on_stop) ? cfg_.let_go_ms / 1000.0 : 1.0;
      if (t - let_go_since_ >= need_s && !user_left_reported_) {
        user_left_reported_ = true;
        r.user_left = true;
        r.left_on_stop = on_stop;
      }
    } else {
      let_go_since_ = -1;
    }
  } else if (!ctx.loaded) {
    let_go_since_ = -1;
    user_left_reported_ = false;
  }

  // 7. Reset: FAULT_RESET pulses while a drive fault is present, then OK when nothing is.
  if (reset_pending_) {
    bool drive_fault_only = (present_ & bit(Fault::DriveFault)) && !(present_ & bit(Fault::Sto));
    pulse_toggle_ = !pulse_toggle_;
    r.fault_reset_pulse = drive_fault_only && pulse_toggle_;
    if (present_ == 0 && r.comm_good) {
      reset_pending_ = false;
      latched_ = 0;
      ok_ = true;
      mismatch_since_ = -1;
      mismatch_present_ = false;
      frozen_since_ = -1;
      frozen_present_ = false;
      push_event(EventCode::Reset, Severity::Info, 0, "faults reset; machine ready");
    } else if (t >= reset_deadline_) {
      reset_pending_ = false;
      const char* why = "communication not good";
      for (Fault f : kOrder)
        if (present_ & bit(f)) {
          why = message(f);
          break;
        }
      push_event(EventCode::ResetRefused, Severity::Warning, 0, why);
    }
  }

  r.ok = ok_;
  r.remove_torque_now = (present_ & (bit(Fault::Sto) | bit(Fault::DriveFault))) != 0;
  r.quick_stop = (latched_ & kQuickStopFaults) != 0;
  r.trip = trip_;
  r.trip_fault = trip_fault_;
  return r;
}

}  // namespace soleus::controller
