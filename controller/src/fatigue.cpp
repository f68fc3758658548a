#include "soleus/controller/fatigue.hpp"

namespace soleus::controller {

void FatigueMonitor::begin(const SetParams& p) {
  paced_ = p.tempo.concentric_s > 0;
  drop_pct_ = p.force_drop_pct;
  pace_limit_s_ = paced_ ? cfg_.pace_loss_factor * p.tempo.concentric_s : 0;
  best_ = last_ = 0;
  drop_run_ = partial_run_ = pace_run_ = wobble_run_ = 0;
}

double FatigueMonitor::output_of(const RepRecord& rep) const {
  return paced_ ? rep.mean_force_n : rep.mean_velocity_mm_s;
}

StopReason FatigueMonitor::judge_output(double out) {
  last_ = out;
  StopReason r = StopReason::None;
  if (best_ > 0 && out < best_ * (100.0 - drop_pct_) / 100.0) {
    if (++drop_run_ >= cfg_.force_drop_reps) r = StopReason::ForceDrop;
  } else {
    drop_run_ = 0;
  }
  if (out > best_) best_ = out;
  return r;
}

StopReason FatigueMonitor::on_rep(const RepRecord& rep) {
  StopReason r = StopReason::None;
  // Range loss: partial attempts in a row.
  partial_run_ = rep.counted ? 0 : partial_run_ + 1;
  if (partial_run_ >= cfg_.range_loss_reps) r = StopReason::RangeLoss;
  // Force drop: counted reps only.
  if (rep.counted) {
    StopReason d = judge_output(output_of(rep));
    if (r == StopReason::None) r = d;
  }
  // Pace loss: a concentric slower than factor × C.
  if (pace_limit_s_ > 0) {
    pace_run_ = rep.concentric_s > pace_limit_s_ ? pace_run_ + 1 : 0;
    if (r == StopReason::None && pace_run_ >= cfg_.pace_loss_reps) r = StopReason::PaceLoss;
  }
  // Loss of control: wobbly attempts in a row.
  wobble_run_ = rep.wobbly ? wobble_run_ + 1 : 0;
  if (r == StopReason::None && wobble_run_ >= cfg_.loss_of_control_reps)
    r = StopReason::LossOfControl;
  return r;
}

StopReason FatigueMonitor::on_hold_window(double mean_force_n) {
  return judge_output(mean_force_n);
}

}  // namespace soleus::controller
