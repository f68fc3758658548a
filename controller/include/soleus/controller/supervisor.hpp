#pragma once
/// The safety supervisor: runs every cycle, before anything is written.
///
/// Principle of operation (an e-stop latch in the manner of LinuxCNC's
/// estop_latch, extended with the machine's checks):
///  1. The latch starts faulted (NotArmed). It becomes OK only on a reset
///     request while no fault condition is present and the drive is armed;
///     a drive fault is first cleared with FAULT_RESET pulses (ENABLE off).
///  2. Every cycle each condition is evaluated from fresh inputs only (a
///     failed read leaves drive- or cell-derived conditions as they were):
///     STO, drive fault, comm loss (N failed cycles in a row or no good cycle
///     for longer than the window), stale load cell (sample counter still
///     across more than stale_cell_ms of successful reads), ADC error,
///     overload, implausible readings, over-speed, the upper soft travel
///     limit, the drive not enabling in time, and the load cell's
///     cross-check, moving or still: its reading against the contact the
///     pad's dynamics imply (m·a + pad weight + the drive's force with the
///     screw's friction by direction; presence's estimate), persistent for
///     cross_check_s = fault; and a frozen reading (new samples that all read
///     the same for frozen_cell_s while a set loads the member and the
///     machine shows the load changing).
///  3. A condition that appears is latched (the latch drops, an event names
///     the cause) and is reported once as a trip with its stop reason. The
///     stop category depends on the fault (docs/safety.md, "Stop categories"):
///     STO and drive faults remove torque at once (ENABLE off: IEC 60204-1
///     category 0; the drive has already stopped). Faults that mean the
///     controller can no longer trust what it measures or what the drive
///     holds (not armed, comm loss, stale cell, ADC error, overload,
///     implausible readings, cross-check, over-speed, enable timeout) take
///     QUICK_STOP: the drive ramps its torque to zero within 10 ms and
///     disables (category 1 with the drive's own 10 ms ramp). With torque off
///     the screw back-drives and the user feels only the pad's weight (ICD),
///     so removing torque is safe. The over-force trip is independent of the
///     motor's own readings: the load cell above over_force_factor × max load
///     on two consecutive reads while the pad is not rising (a member who
///     out-pushes the motor makes the pad rise; then the force is theirs). The travel limit, where
///     the user is in control and pushing, keeps the controlled unload.
///  4. Presence (docs/controller.md#presence) is not a fault: a user found
///     gone is reported as user_left and ends the set through the same
///     unload. Gone means the load cell reads less than let_go_force_n AND
///     either the pad moves as if nothing touched it (the contact that the
///     pad's dynamics imply, m·a + pad weight + motor force, is below
///     max(10 N, 12 % of the force pushing it down)) or the pad rests on its
///     lower hard stop where no calibrated user can be, for let_go_ms while
///     it moves or sits on the stop, and for 1 s while it floats still.
///     Neither test depends on the size of the load, nor on whether the
///     cell's reading includes the pad's weight.
///  5. ok() is true only while the latch is OK; nothing may enable otherwise.
#include <array>
#include <cstdint>
#include <string>

#include "soleus/controller/config.hpp"
#include "soleus/controller/types.hpp"
#include "soleus/machine/machine_io.hpp"

namespace soleus::controller {

/// The supervisor's fault conditions (bit positions in a mask).
enum class Fault : std::uint8_t {
  NotArmed,
  Sto,
  DriveFault,
  CommLoss,
  StaleCell,
  AdcError,
  Overload,
  Implausible,
  Overspeed,
  TravelLimit,
  CrossCheck,
  EnableTimeout,
  OverForce,
  kCount
};
inline constexpr int kFaultCount = static_cast<int>(Fault::kCount);
const char* to_string(Fault f);  ///< stable code, e.g. "stale_load_cell"
const char* message(Fault f);    ///< readable meaning with a hint
StopReason stop_reason(Fault f);
EventCode event_code(Fault f);
constexpr std::uint32_t bit(Fault f) { return 1u << static_cast<unsigned>(f); }
/// The faults whose stop is QUICK_STOP (category 1 with the drive's 10 ms
/// ramp), not the controlled unload; STO and drive faults are category 0.
inline constexpr std::uint32_t kQuickStopFaults =
    bit(Fault::NotArmed) | bit(Fault::CommLoss) | bit(Fault::StaleCell) | bit(Fault::AdcError) |
    bit(Fault::Overload) | bit(Fault::Implausible) | bit(Fault::Overspeed) |
    bit(Fault::CrossCheck) | bit(Fault::EnableTimeout) | bit(Fault::OverForce);

/// What the supervisor needs to know about the controller's intent.
struct SupervisorContext {
  bool enable_commanded = false;  ///< the previous command asked for ENABLE
  bool loaded = false;            ///< a set expects the user on the pad (presence is judged)
  double pad_weight_n = 78.5;
  double moving_mass_kg = 110;
  double efficiency = 0.9;       ///< the screw's (friction: F·η driving, F/η back-driven)
  double commanded_force_n = 0;  ///< the motor force the controller asks for (presence's scale)
  double bottom_mm = -1;         ///< the user's calibrated bottom, or < 0 when not known yet
  double travel_max_mm = 150;
  /// No set or move runs, nothing asks for ENABLE and the drive reports
  /// disabled: a stale or silent load cell is then a warning that clears
  /// itself, not a latched fault (nobody is loaded; a newcomer's first
  /// screen shows no FAULT after a busy minute).
  bool at_rest = false;
  double max_load_n = 1800;  ///< limits.max_load_n (the over-force trip's scale)
};

/// The verdict of one cycle.
struct SupervisorReport {
  bool ok = false;                 ///< the latch is OK: enabling is allowed
  bool remove_torque_now = false;  ///< STO or drive fault present/new: zero torque, disable now
  bool quick_stop = false;         ///< a fault that takes QUICK_STOP is latched (kQuickStopFaults)
  StopReason trip = StopReason::None;  ///< a fault latched this cycle (its stop reason)
  Fault trip_fault = Fault::NotArmed;
  bool user_left = false;          ///< let-go detected this cycle
  bool left_on_stop = false;       ///< ... because the pad rests on its lower stop
  double contact_estimate_n = 0;   ///< the user's contact from the pad's dynamics (presence)
  bool fault_reset_pulse = false;  ///< send FAULT_RESET (with ENABLE off) this cycle
  bool comm_good = false;          ///< this cycle's reads both succeeded
};

class Supervisor {
 public:
  explicit Supervisor(const ControlConfig& cfg);

  /// One cycle. Events for new faults are appended to `events` (at most kFaultCount+3).
  SupervisorReport update(const machine::MachineInputs& in, const SupervisorContext& ctx);

  /// The drive was armed (or arming failed, or the link was lost and it must be re-armed).
  void set_armed(bool armed);
  /// Asks for a reset (a rising edge). Succeeds within a few cycles when no
  /// fault is present; otherwise it is refused with the present cause.
  void request_reset(double t_s);

  bool ok() const { return ok_; }
  /// The presence rule sees a user who may have let go (not yet decided).
  bool absence_suspected() const { return let_go_since_ >= 0; }
  bool armed() const { return armed_; }
  std::uint32_t latched() const { return latched_; }
  std::uint32_t present() const { return present_; }
  double since(Fault f) const { return since_[static_cast<int>(f)]; }
  int drive_fault_code() const { return drive_fault_code_; }
  std::uint64_t failed_cycles_total() const { return failed_total_; }
  int failed_in_a_row() const { return failed_in_row_; }

  /// Events produced by the last update() (new faults, reset outcome).
  struct PendingEvent {
    EventCode code;
    Severity severity;
    double value;
    const char* text;
  };
  const std::array<PendingEvent, kFaultCount + 3>& events() const { return events_; }
  int event_count() const { return event_count_; }

 private:
  void push_event(EventCode c, Severity s, double v, const char* text);
  void raise(Fault f, double t);
  /// The contact force the pad's dynamics imply (presence and the cross-check).
  struct Dynamics {
    double a_mm_s2 = 0;  ///< from the velocity over the last ≥ 40 ms
    double eta = 0.9;
    double ideal = 0;  ///< the drive's force as an ideal screw, + down
    double motor_eff =
        0;  ///< with the friction of the way the pad moves (ideal while still), + down
    double inertia_n = 0;  ///< m·a
    double contact_n = 0;  ///< m·a + pad weight + motor_eff
    bool moving = false;   ///< |v| > still_mm_s
  };
  Dynamics dynamics(const machine::DriveStatus& d, const SupervisorContext& ctx, double t) const;
  static constexpr const char* kFrozenCellText =
      "the load cell's reading stays the same while the member pushes and the machine moves (a "
      "frozen value): "
      "check the transmitter";

  ControlConfig cfg_;
  bool ok_ = false;
  bool armed_ = false;
  std::uint32_t present_ = bit(Fault::NotArmed);
  std::uint32_t latched_ = bit(Fault::NotArmed);
  std::array<double, kFaultCount> since_{};
  int drive_fault_code_ = 0;
  // comm
  bool seen_good_ = false;
  double last_good_t_ = 0;
  int failed_in_row_ = 0;
  std::uint64_t failed_total_ = 0;
  // load cell freshness
  bool have_counter_ = false;
  std::uint32_t last_counter_ = 0;
  double counter_since_t_ = 0;
  bool impl_drive_ = false;
  bool impl_cell_ = false;
  bool pulse_toggle_ = false;
  // cross-check and let-go timers
  double mismatch_since_ = -1;
  bool mismatch_present_ = false;  // the reading disagreed with the dynamics for cross_check_s
  // frozen reading: a run of new samples that read the same
  bool frozen_have_counter_ = false;
  std::uint32_t frozen_counter_ = 0;
  double frozen_since_ = -1;
  double frozen_value_ = 0;
  bool frozen_moved_ = false;
  double frozen_fmin_ = 0, frozen_fmax_ = 0;  // the drive's force over the run
  bool frozen_present_ = false;
  double let_go_since_ = -1;
  std::array<double, 16> v_t_{}, v_v_{};  // recent (t, velocity) for the acceleration
  int v_n_ = 0, v_head_ = 0;
  bool user_left_reported_ = false;
  bool rest_warning_ = false;  // a cell condition seen at rest, not latched
  int over_force_reads_ = 0;   // consecutive cell reads above the over-force level, pad not rising
  double over_force_last_v_ = 0;
  static constexpr double kImpactDvMmS = 20;  // a velocity change between reads that is an impact
  // enable watch
  double enable_since_ = -1;
  double drive_enabled_since_ = -1;  // when the drive last reported enabled (overspeed grace)
  static constexpr double kOverspeedGraceS = 0.3;
  // reset
  bool reset_pending_ = false;
  double reset_deadline_ = 0;
  // events of this cycle
  std::array<PendingEvent, kFaultCount + 3> events_{};
  int event_count_ = 0;
  StopReason trip_ = StopReason::None;
  Fault trip_fault_ = Fault::NotArmed;
};

}  // namespace soleus::controller
