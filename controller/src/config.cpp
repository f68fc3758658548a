#include "soleus/controller/config.hpp"

#include <stdexcept>
#include <string>

namespace soleus::controller {
namespace {

/// Runs validate() and turns "key: message" into a ConfigError located at the key.
template <class Validate>
void validate_at(const config::Section& s, Validate&& v) {
  try {
    v();
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    auto colon = what.find(": ");
    if (colon == std::string::npos) s.fail("", what);
    s.fail(what.substr(0, colon), what.substr(colon + 2));
  }
}

[[noreturn]] void bad(const std::string& key, const std::string& message) {
  throw std::invalid_argument(key + ": " + message);
}

}  // namespace

ControlConfig ControlConfig::parse(const config::Section& s, double default_loop_hz,
                                   const machine::Limits& limits) {
  ControlConfig c;
  c.loop_hz = s.number("loop_hz", default_loop_hz, 10, 1000);
  c.realtime = s.boolean("realtime", c.realtime);
  c.realtime_priority =
      static_cast<int>(s.integer("realtime_priority", c.realtime_priority, 1, 99));
  c.comm_loss_cycles = static_cast<int>(s.integer("comm_loss_cycles", c.comm_loss_cycles, 1, 50));
  c.comm_loss_window_ms = s.number("comm_loss_window_ms", c.comm_loss_window_ms, 5, 5000);
  c.stale_cell_ms = s.number("stale_cell_ms", c.stale_cell_ms, 10, 1000);
  c.let_go_ms = s.number("let_go_ms", c.let_go_ms, 50, 5000);
  c.let_go_force_n = s.number("let_go_force_n", c.let_go_force_n, 1, 500);
  c.ramp_in_s = s.number("ramp_in_s", c.ramp_in_s, 0.1, 10);
  c.unload_s = s.number("unload_s", c.unload_s, 0.1, 10);
  c.unload_settle_ms = s.number("unload_settle_ms", c.unload_settle_ms, 0, 2000);
  c.enable_timeout_ms = s.number("enable_timeout_ms", c.enable_timeout_ms, 10, 5000);
  c.soft_travel_margin_mm = s.number("soft_travel_margin_mm", c.soft_travel_margin_mm, 0, 50);
  c.overspeed_mm_s = s.number("overspeed_mm_s", c.overspeed_mm_s, 1, 2000);
  c.implausible_force_n = s.number("implausible_force_n", c.implausible_force_n, 100, 20000);
  c.implausible_position_mm =
      s.number("implausible_position_mm", c.implausible_position_mm, 0, 100);
  c.cross_check_tolerance_n =
      s.number("cross_check_tolerance_n", c.cross_check_tolerance_n, 0, 2000);
  c.cross_check_tolerance_pct =
      s.number("cross_check_tolerance_pct", c.cross_check_tolerance_pct, 0, 100);
  c.cross_check_s = s.number("cross_check_s", c.cross_check_s, 0.05, 30);
  c.frozen_cell_s = s.number("frozen_cell_s", c.frozen_cell_s, 0.1, 10);
  c.frozen_cell_band_n = s.number("frozen_cell_band_n", c.frozen_cell_band_n, 0, 10);
  c.frozen_cell_evidence_n = s.number("frozen_cell_evidence_n", c.frozen_cell_evidence_n, 1, 1000);
  c.still_mm_s = s.number("still_mm_s", c.still_mm_s, 0.1, 50);
  c.over_force_factor = s.number("over_force_factor", c.over_force_factor, 1.05, 1.5);
  c.hold_to_move_timeout_ms =
      s.number("hold_to_move_timeout_ms", c.hold_to_move_timeout_ms, 20, 2000);
  c.move_speed_mm_s = s.number("move_speed_mm_s", c.move_speed_mm_s, 1, 100);
  c.move_max_force_n = s.number("move_max_force_n", c.move_max_force_n, 10, 1000);
  c.rest_position_mm = s.number("rest_position_mm", c.rest_position_mm, 0, 100);
  c.arm_retry_ms = s.number("arm_retry_ms", c.arm_retry_ms, 10, 60000);
  c.reset_on_boot = s.boolean("reset_on_boot", c.reset_on_boot);
  c.command_queue = static_cast<int>(s.integer("command_queue", c.command_queue, 4, 4096));
  c.event_queue = static_cast<int>(s.integer("event_queue", c.event_queue, 16, 65536));
  c.rep_queue = static_cast<int>(s.integer("rep_queue", c.rep_queue, 16, 65536));
  c.trace_queue = static_cast<int>(s.integer("trace_queue", c.trace_queue, 16, 1 << 20));
  c.trace_decimation = static_cast<int>(s.integer("trace_decimation", c.trace_decimation, 1, 1000));
  s.finish();
  validate_at(s, [&] { c.validate(limits); });
  return c;
}

void ControlConfig::validate(const machine::Limits& limits) const {
  if (!(loop_hz >= 10 && loop_hz <= 1000)) bad("loop_hz", "must be within 10..1000 Hz");
  double period_ms = 1000.0 / loop_hz;
  if (comm_loss_window_ms >= limits.watchdog_ms)
    bad("comm_loss_window_ms", "must be shorter than limits.watchdog_ms (" +
                                   std::to_string(limits.watchdog_ms) +
                                   " ms) so that the daemon reacts before the drive's watchdog");
  if (comm_loss_window_ms < 2 * period_ms)
    bad("comm_loss_window_ms",
        "must be at least two loop periods (" + std::to_string(2 * period_ms) + " ms)");
  if (comm_loss_cycles * period_ms >= limits.watchdog_ms)
    bad("comm_loss_cycles", "comm_loss_cycles × period must be shorter than limits.watchdog_ms");
  if (stale_cell_ms < period_ms) bad("stale_cell_ms", "must be at least one loop period");
  if (overspeed_mm_s <= limits.max_speed_mm_s)
    bad("overspeed_mm_s", "must be above limits.max_speed_mm_s (the drive's own speed cap)");
  if (move_speed_mm_s > limits.max_speed_mm_s)
    bad("move_speed_mm_s", "must not exceed limits.max_speed_mm_s");
  if (move_max_force_n > limits.max_load_n)
    bad("move_max_force_n", "must not exceed limits.max_load_n");
  if (hold_to_move_timeout_ms < 2 * period_ms)
    bad("hold_to_move_timeout_ms", "must be at least two loop periods");
  if (frozen_cell_s * 1000.0 < 5 * period_ms)
    bad("frozen_cell_s", "must span at least five loop periods (" + std::to_string(5 * period_ms) +
                             " ms): a frozen value is judged over several new samples");
  if (frozen_cell_band_n >= let_go_force_n)
    bad("frozen_cell_band_n",
        "must be smaller than let_go_force_n: readings further apart are never the same value");
}

TrainingConfig TrainingConfig::parse(const config::Section& s, const machine::Limits& limits) {
  TrainingConfig c;
  c.min_load_n = s.number("min_load_n", c.min_load_n, 0, machine::kHardCapN);
  c.rep_rom_fraction = s.number("rep_rom_fraction", c.rep_rom_fraction, 0.5, 1.0);
  c.segment_fraction = s.number("segment_fraction", c.segment_fraction, 0.02, 0.5);
  c.segment_min_mm = s.number("segment_min_mm", c.segment_min_mm, 1, 50);
  c.pause_band_mm = s.number("pause_band_mm", c.pause_band_mm, 0.1, 20);
  c.wobble_hysteresis_mm = s.number("wobble_hysteresis_mm", c.wobble_hysteresis_mm, 0.1, 20);
  c.wobble_reversals = static_cast<int>(s.integer("wobble_reversals", c.wobble_reversals, 1, 100));
  c.min_smoothness = s.number("min_smoothness", c.min_smoothness, 0, 1);
  c.loss_of_control_reps =
      static_cast<int>(s.integer("loss_of_control_reps", c.loss_of_control_reps, 1, 20));
  c.force_drop_reps = static_cast<int>(s.integer("force_drop_reps", c.force_drop_reps, 1, 20));
  c.force_drop_pct = s.number("force_drop_pct", c.force_drop_pct, 5, 50);
  c.range_loss_reps = static_cast<int>(s.integer("range_loss_reps", c.range_loss_reps, 1, 20));
  c.pace_loss_factor = s.number("pace_loss_factor", c.pace_loss_factor, 1.05, 10);
  c.pace_loss_reps = static_cast<int>(s.integer("pace_loss_reps", c.pace_loss_reps, 1, 20));
  c.stall_progress_mm = s.number("stall_progress_mm", c.stall_progress_mm, 0.1, 50);
  c.idle_timeout_s = s.number("idle_timeout_s", c.idle_timeout_s, 2, 600);
  c.rest_limit_s = s.number("rest_limit_s", c.rest_limit_s, 1, 600);
  c.floor_fade_mm = s.number("floor_fade_mm", c.floor_fade_mm, 0.5, 50);
  c.floor_lead_s = s.number("floor_lead_s", c.floor_lead_s, 0, 0.2);
  c.floor_restore_s = s.number("floor_restore_s", c.floor_restore_s, 0, 3);
  c.floor_catch_mm_s = s.number("floor_catch_mm_s", c.floor_catch_mm_s, 5, 500);
  c.floor_catch_n = s.number("floor_catch_n", c.floor_catch_n, 50, 5000);
  c.floor_catch_drop = s.number("floor_catch_drop", c.floor_catch_drop, 0.05, 0.95);
  c.tissue_max_mm = s.number("tissue_max_mm", c.tissue_max_mm, 0, 40);
  c.tissue_max_mm_per_kn = s.number("tissue_max_mm_per_kn", c.tissue_max_mm_per_kn, 0, 50);
  c.tempo_tolerance_s = s.number("tempo_tolerance_s", c.tempo_tolerance_s, 0.05, 10);
  c.brake_gain_n_per_mm_s = s.number("brake_gain_n_per_mm_s", c.brake_gain_n_per_mm_s, 0, 1000);
  c.brake_margin = s.number("brake_margin", c.brake_margin, 0, 2);
  c.brake_max_fraction = s.number("brake_max_fraction", c.brake_max_fraction, 0, 2);
  c.eccentric_blend_s = s.number("eccentric_blend_s", c.eccentric_blend_s, 0.05, 5);
  c.calibration_load_n = s.number("calibration_load_n", c.calibration_load_n, 0, 600);
  c.calibration_speed_mm_s = s.number("calibration_speed_mm_s", c.calibration_speed_mm_s, 5, 100);
  c.set_speed_margin = s.number("set_speed_margin", c.set_speed_margin, 0.2, 5);
  c.set_speed_min_mm_s = s.number("set_speed_min_mm_s", c.set_speed_min_mm_s, 5, 500);
  c.failed_rep_s = s.number("failed_rep_s", c.failed_rep_s, 0.02, 2);
  c.min_range_mm = s.number("min_range_mm", c.min_range_mm, 5, 150);
  c.stored_range_max_age_days =
      s.number("stored_range_max_age_days", c.stored_range_max_age_days, 0, 3650);
  c.calibration_attempts =
      static_cast<int>(s.integer("calibration_attempts", c.calibration_attempts, 1, 10));
  c.friction_deadband_mm_s = s.number("friction_deadband_mm_s", c.friction_deadband_mm_s, 0.1, 20);
  c.hold_stiffness_n_per_mm =
      s.number("hold_stiffness_n_per_mm", c.hold_stiffness_n_per_mm, 10, 10000);
  c.hold_damping_n_per_mm_s =
      s.number("hold_damping_n_per_mm_s", c.hold_damping_n_per_mm_s, 0, 1000);
  c.hold_window_s = s.number("hold_window_s", c.hold_window_s, 0.2, 10);
  s.finish();
  validate_at(s, [&] { c.validate(limits); });
  return c;
}

void TrainingConfig::validate(const machine::Limits& limits) const {
  if (min_load_n > limits.max_load_n) bad("min_load_n", "must not exceed limits.max_load_n");
  if (calibration_load_n > limits.max_load_n)
    bad("calibration_load_n", "must not exceed limits.max_load_n");
  if (calibration_speed_mm_s > limits.max_speed_mm_s)
    bad("calibration_speed_mm_s", "must not exceed limits.max_speed_mm_s");
  if (set_speed_min_mm_s > limits.max_speed_mm_s)
    bad("set_speed_min_mm_s", "must not exceed limits.max_speed_mm_s");
  if (segment_min_mm >= min_range_mm) bad("segment_min_mm", "must be smaller than min_range_mm");
  if (wobble_hysteresis_mm >= segment_min_mm)
    bad("wobble_hysteresis_mm", "must be smaller than segment_min_mm");
  if (floor_fade_mm >= min_range_mm) bad("floor_fade_mm", "must be smaller than min_range_mm");
  if (tissue_max_mm >= min_range_mm) bad("tissue_max_mm", "must be smaller than min_range_mm");
}

}  // namespace soleus::controller
