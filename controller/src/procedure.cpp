#include "soleus/controller/procedure.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include "soleus/common/format.hpp"

namespace soleus::controller {

namespace {
/// One decimal, as the API's messages show forces and heights.
std::string fmt1(double v) { return common::format_fixed(v, 1); }
std::string fmt4(double v) { return common::format_fixed(v, 4); }
bool faulted(const SetController& ctl) {
  const SetState s = ctl.status().state;
  return !ctl.supervisor().ok() || s == SetState::Fault || s == SetState::Estop;
}
}  // namespace

double SpanStats::sd() const { return n < 2 ? 0.0 : std::sqrt(m2 / static_cast<double>(n)); }

SpanFit fit_span(const SpanStats& samples, double known_n) {
  SpanFit f;
  f.mean_n = samples.mean;
  f.measured_n = std::abs(samples.mean);
  f.sd_n = samples.sd();
  if (samples.n < kSpanMinSamples) {
    f.field = "state";
    f.message = "too few load-cell readings (the loop is not running?)";
    return f;
  }
  if (!std::isfinite(known_n) || known_n <= 0) {
    f.field = "known_n";
    f.message = "must be a positive force";
    return f;
  }
  if (f.measured_n < kSpanMinReadingN) {
    f.field = "known_n";
    f.message = "the load cell reads only " + fmt1(f.mean_n) +
                " N: hang the known weight on the pad (tare first, with the pad empty)";
    return f;
  }
  if (f.sd_n > std::max(3.0, 0.01 * f.measured_n)) {
    f.field = "state";
    f.message = "the reading is not steady (" + fmt1(f.mean_n) + " ± " + fmt1(f.sd_n) +
                " N): let the weight hang still and try again";
    return f;
  }
  f.gain = known_n / f.measured_n;
  if (f.gain < kSpanGainMin || f.gain > kSpanGainMax) {
    f.field = "known_n";
    f.message = "the weight reads " + fmt1(f.measured_n) + " N for " + fmt1(known_n) +
                " N known: a span factor of " + fmt4(f.gain) +
                " is outside 0.8–1.25; check the weight and the load cell";
    return f;
  }
  f.ok = true;
  return f;
}

const char* to_string(ProcedureKind k) {
  switch (k) {
    case ProcedureKind::None: return "none";
    case ProcedureKind::RangeCheck: return "range_check";
    case ProcedureKind::SpanSampling: return "span_sampling";
  }
  return "?";
}

const char* to_string(ProcedureOutcome o) {
  switch (o) {
    case ProcedureOutcome::Running: return "running";
    case ProcedureOutcome::Done: return "done";
    case ProcedureOutcome::Refused: return "refused";
    case ProcedureOutcome::Aborted: return "aborted";
  }
  return "?";
}

void ProcedureResult::set_why(std::string_view s) {
  const std::size_t n = std::min(s.size(), why.size() - 1);
  std::memcpy(why.data(), s.data(), n);
  why[n] = '\0';
}

Procedures::Procedures(const ControlConfig& control, const machine::Mechanics& mechanics,
                       EventSink& sink)
    : ccfg_(control), mech_(mechanics), sink_(sink) {}

void Procedures::emit(EventCode code, Severity sev, double t, std::string_view text) {
  Event e;
  e.t_s = t;
  e.code = code;
  e.severity = sev;
  e.value = static_cast<double>(cur_.id);
  e.set_text(text);
  sink_.on_event(e);
}

void Procedures::refuse(ProcedureKind kind, std::uint32_t id, double t, std::string_view why) {
  // A start refused while another runs must not disturb it: the refusal is
  // reported with its own id, the running procedure goes on.
  const ProcedureResult keep = cur_;
  cur_ = ProcedureResult{};
  cur_.id = id;
  cur_.kind = kind;
  cur_.outcome = ProcedureOutcome::Refused;
  cur_.set_why(why);
  status_.last = cur_;
  emit(EventCode::ProcedureEnded, Severity::Warning, t,
       std::string(to_string(kind)) + " refused: " + std::string(why));
  cur_ = keep;
}

void Procedures::start_range_check(std::uint32_t id, double t, SetController& ctl) {
  auto no = [&](std::string_view why) { refuse(ProcedureKind::RangeCheck, id, t, why); };
  if (active()) return no("another maintenance procedure is running");
  if (faulted(ctl)) return no("a fault or e-stop is latched; reset first");
  const ControllerStatus& st = ctl.status();
  if (st.set_running || st.moving || !(st.state == SetState::Idle || st.state == SetState::Rest))
    return no("a set or a move is in progress");
  const double force = ctl.cell().force_n;
  if (std::abs(force) > RangeCheckRules::kEmptyN)
    return no("the load cell reads " + fmt1(force) +
              " N: the range check needs the machine empty (nobody seated, nothing on the pad)");
  const double pos = ctl.drive().position_mm;
  if (std::abs(ctl.drive().velocity_mm_s) > ccfg_.still_mm_s)
    return no("the pad is still moving: wait until it rests");
  const double hi = mech_.travel_max_mm - ccfg_.soft_travel_margin_mm - 1.0;
  if (!ctl.hold_to_move(hi, t)) return no("the controller refused the move");
  cur_ = ProcedureResult{};
  cur_.id = id;
  cur_.kind = ProcedureKind::RangeCheck;
  cur_.start_mm = pos;
  status_.running = ProcedureKind::RangeCheck;
  status_.id = id;
  status_.leg = 1;
  status_.elapsed_s = 0;
  t0_ = t;
  abort_ = false;
  stage_ = Stage::Rising;
  begin_leg(cur_.up, hi, RangeCheckRules::kArriveUpMm, t, pos);
  emit(EventCode::ProcedureStarted, Severity::Info, t,
       "range check: to the top soft limit, then the bottom");
}

void Procedures::start_span_sampling(std::uint32_t id, double t, const SetController& ctl,
                                     bool comm_good, double force_gain, double duration_s) {
  auto no = [&](std::string_view why) { refuse(ProcedureKind::SpanSampling, id, t, why); };
  if (active()) return no("another maintenance procedure is running");
  const ControllerStatus& st = ctl.status();
  if (st.set_running || st.moving) return no("the pad is moving: wait until the machine is idle");
  if (!comm_good) return no("the load cell is not answering");
  cur_ = ProcedureResult{};
  cur_.id = id;
  cur_.kind = ProcedureKind::SpanSampling;
  cur_.start_mm = ctl.drive().position_mm;
  cur_.gain_before = force_gain;
  status_.running = ProcedureKind::SpanSampling;
  status_.id = id;
  status_.leg = 0;
  status_.elapsed_s = 0;
  t0_ = t;
  abort_ = false;
  stage_ = Stage::Sampling;
  sample_until_ = t + duration_s;
  emit(EventCode::ProcedureStarted, Severity::Info, t, "span calibration: sampling the load cell");
}

void Procedures::abort(double t, std::string_view why) {
  (void)t;
  // Parking, the check itself is over: the loop's stop ends the return to
  // rest, and the result stands.
  if (!active() || abort_ || stage_ == Stage::Parking) return;
  abort_ = true;
  cur_.set_why(why);
}

void Procedures::cancel(double t, std::string_view why) {
  if (!active()) return;
  abort_ = true;
  cur_.set_why(why);
  end(t, ProcedureOutcome::Aborted);
}

void Procedures::begin_leg(RangeLeg& leg, double target_mm, double tolerance_mm, double t,
                           double pos) {
  leg = RangeLeg{};
  leg.tried = true;
  leg.target_mm = target_mm;
  leg.tolerance_mm = tolerance_mm;
  leg.reached_mm = pos;
  leg_t0_ = t;
  leg_limit_s_ = std::abs(target_mm - pos) / ccfg_.move_speed_mm_s * 2.0 + 3.0;
  progress_mm_ = pos;
  progress_t_ = t;
  still_since_ = -1;
}

bool Procedures::judge_leg(RangeLeg& leg, double t, const SetController& ctl) {
  const double pos = ctl.drive().position_mm, vel = ctl.drive().velocity_mm_s;
  leg.seconds = t - leg_t0_;
  leg.reached_mm = pos;
  leg.peak_force_n = std::max(leg.peak_force_n, std::abs(ctl.status().motor_force_n));
  if (abort_) return true;  // why: set by abort()
  if (faulted(ctl)) {
    cur_.set_why("a fault latched: see the event log");
    return true;
  }
  const double force = ctl.cell().force_n;
  if (std::abs(force) > RangeCheckRules::kTouchN) {
    cur_.set_why("the load cell read " + fmt1(force) + " N: something touched the pad");
    return true;
  }
  if (std::abs(pos - leg.target_mm) <= leg.tolerance_mm && std::abs(vel) < ccfg_.still_mm_s) {
    if (still_since_ < 0) still_since_ = t;
    if (t - still_since_ > RangeCheckRules::kArrivedStillS) {
      leg.arrived = true;
      return true;
    }
  } else {
    still_since_ = -1;
  }
  if (std::abs(pos - progress_mm_) >= 1.0) {
    progress_mm_ = pos;
    progress_t_ = t;
  } else if (t - progress_t_ > RangeCheckRules::kStuckS) {
    cur_.set_why("stuck at " + fmt1(pos) + " mm (an obstruction, the brake, or the drive)");
    return true;
  }
  if (leg.seconds > leg_limit_s_) {
    cur_.set_why("not there within " + fmt1(leg_limit_s_) + " s");
    return true;
  }
  return false;
}

void Procedures::park(double t, SetController& ctl, bool failed) {
  // Back to rest and unloaded, whatever happened: lowered under the pad's own
  // weight after a full check, else the controlled stop where it is.
  // (stop() is a no-op when the controller already stopped the move.)
  if (failed || !ctl.return_to_rest(t)) (void)ctl.stop(StopReason::UserStop, t);
  stage_ = Stage::Parking;
  status_.leg = 3;
  park_deadline_ = t + RangeCheckRules::kParkS;
}

void Procedures::update(const machine::MachineInputs& in, SetController& ctl, double force_gain) {
  if (stage_ == Stage::None) return;
  const double t = in.t_s;
  status_.elapsed_s = t - t0_;
  switch (stage_) {
    case Stage::None: return;
    case Stage::Sampling: {
      if (abort_) return end(t, ProcedureOutcome::Aborted);
      const auto& cell = ctl.cell();
      if (cell.adc_error || cell.overload) {
        cur_.set_why("the load cell failed during the measurement");
        return end(t, ProcedureOutcome::Done);
      }
      // A fresh reading only: a failed or skipped read repeats the last one.
      if (in.drive_ok && in.cell_ok && !in.cell_skipped && force_gain > 0)
        cur_.samples.add(in.cell.force_n / force_gain);
      if (t >= sample_until_) {
        cur_.ok = true;
        return end(t, ProcedureOutcome::Done);
      }
      return;
    }
    case Stage::Rising: {
      if (!judge_leg(cur_.up, t, ctl)) {
        if (!ctl.hold_to_move(cur_.up.target_mm, t)) {
          cur_.set_why("the controller refused the move");
          return park(t, ctl, true);
        }
        return;
      }
      if (!cur_.up.arrived) return park(t, ctl, true);
      const double lo = ccfg_.soft_travel_margin_mm + 1.0;
      stage_ = Stage::Lowering;
      status_.leg = 2;
      begin_leg(cur_.down, lo, RangeCheckRules::kArriveDownMm, t, ctl.drive().position_mm);
      if (!ctl.hold_to_move(lo, t)) {
        cur_.set_why("the controller refused the move");
        return park(t, ctl, true);
      }
      return;
    }
    case Stage::Lowering: {
      if (!judge_leg(cur_.down, t, ctl)) {
        if (!ctl.hold_to_move(cur_.down.target_mm, t)) {
          cur_.set_why("the controller refused the move");
          return park(t, ctl, true);
        }
        return;
      }
      return park(t, ctl, !cur_.down.arrived);
    }
    case Stage::Parking: {
      // Until the move has ended and the drive is disabled (or a fault took over).
      const ControllerStatus& st = ctl.status();
      const bool busy = st.moving || st.state == SetState::Ready ||
                        st.state == SetState::Unloading || ctl.drive().enabled;
      if (busy && !faulted(ctl) && t < park_deadline_) return;
      cur_.ok = cur_.up.arrived && cur_.down.arrived && !abort_;
      if (cur_.ok) cur_.set_why("the pad travelled the whole range");
      return end(t, abort_ ? ProcedureOutcome::Aborted : ProcedureOutcome::Done);
    }
  }
}

void Procedures::end(double t, ProcedureOutcome outcome) {
  cur_.outcome = outcome;
  status_.last = cur_;
  status_.running = ProcedureKind::None;
  status_.leg = 0;
  stage_ = Stage::None;
  const bool good = outcome == ProcedureOutcome::Done && cur_.ok;
  std::string text = std::string(to_string(cur_.kind)) + " " + to_string(outcome);
  if (!cur_.why_view().empty()) text += ": " + std::string(cur_.why_view());
  emit(EventCode::ProcedureEnded, good ? Severity::Info : Severity::Warning, t, text);
  abort_ = false;
}

}  // namespace soleus::controller
