#pragma once
/// The set-termination rules judged per rep (and per hold window).
///
/// Principle of operation:
///  1. Each closed rep attempt is judged in this order: range loss (k partial
///     attempts in a row), force drop (k counted reps in a row whose output is
///     below (100 − p) % of the set's best counted rep; exactly at the
///     threshold is not below), pace loss (k attempts in a row whose
///     concentric took longer than factor × C; only when C > 0), loss of
///     control (k wobbly attempts in a row). The first rule that fires is the
///     stop reason.
///  2. "Output" (see docs/controller.md): the mean concentric force where the
///     machine paces the rise (C > 0, the pacing brake caps the speed), the
///     mean concentric velocity where the load is free (C = 0); for an
///     isometric hold, the mean force of each hold window.
///  3. The best output is updated after the judgement, from counted reps only.
#include "soleus/controller/config.hpp"
#include "soleus/controller/types.hpp"

namespace soleus::controller {

class FatigueMonitor {
 public:
  explicit FatigueMonitor(const TrainingConfig& cfg) : cfg_(cfg) {}
  void begin(const SetParams& params);
  /// Judges a closed rep attempt. Returns the stop reason or None.
  StopReason on_rep(const RepRecord& rep);
  /// Judges one isometric hold window's mean force. Returns ForceDrop or None.
  StopReason on_hold_window(double mean_force_n);
  /// The output of a rep in this set's mode.
  double output_of(const RepRecord& rep) const;
  double best() const { return best_; }
  double last() const { return last_; }
  /// The threshold below which an output counts as a drop.
  double threshold() const { return best_ * (100.0 - drop_pct_) / 100.0; }

 private:
  StopReason judge_output(double out);

  TrainingConfig cfg_;
  bool paced_ = true;
  double drop_pct_ = 20;
  double pace_limit_s_ = 0;
  double best_ = 0;
  double last_ = 0;
  int drop_run_ = 0, partial_run_ = 0, pace_run_ = 0, wobble_run_ = 0;
};

}  // namespace soleus::controller
