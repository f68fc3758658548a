// DaemonBackend: maintenance routines (span, range check, tare, reset) and diagnostics
#include "backend_internal.hpp"
#include "soleus/common/format.hpp"

namespace soleus::app {

// ---- maintenance
// ---------------------------------------------------------------------------------

namespace {
const storage::Actor kMaintenance{"maintenance", std::nullopt};

std::string fmt1(double v) { return common::format_fixed(v, 1); }
std::string fmt4(double v) { return common::format_fixed(v, 4); }
}  // namespace

void DaemonBackend::push_event(storage::Severity sev, const char* code, const std::string& message,
                               const json::object& context) {
  if (!store_) return;
  storage::EventRecord e;
  e.severity = sev;
  e.code.assign(code);
  e.message.assign(message);
  e.context.assign(hmi::write_json(context));
  store_->push(e);           // and, through the store's observer, the journal
  if (!stderr_is_journal())  // else the journal has it, structured
    log::line(sev == storage::Severity::Error     ? log::Level::Error
              : sev == storage::Severity::Warning ? log::Level::Warning
                                                  : log::Level::Info,
              "[", code, "] ", message);
}

std::optional<controller::ProcedureResult> DaemonBackend::run_procedure(
    controller::Command c, std::chrono::milliseconds timeout, std::string& error) {
  const std::uint32_t id = next_procedure_id_.fetch_add(1) + 1;
  c.procedure_id = id;
  const std::uint64_t seq = book_.event_seq();
  if (!loop_.post(c)) {
    error = "the control loop's command queue is full";
    return std::nullopt;
  }
  auto e = book_.wait_event(
      seq,
      [id](const controller::Event& ev) {
        return ev.code == EventCode::ProcedureEnded && ev.value == static_cast<double>(id);
      },
      timeout);
  if (!e) {
    // Not heard of in time: whatever runs is stopped (the controlled stop),
    // and the caller says so.
    (void)loop_.post(controller::Command::stop(controller::StopReason::UserStop));
    error = "the control loop did not report the end of the procedure in time";
    return std::nullopt;
  }
  // The event can reach the main thread before the cycle that queued it has
  // published its snapshot: the result is read once it is there.
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  do {
    const controller::Snapshot s = loop_.snapshot();
    if (s.procedure.last.id == id) return s.procedure.last;
    std::this_thread::sleep_for(5ms);
  } while (std::chrono::steady_clock::now() < deadline);
  error = "the control loop's result was not published";
  return std::nullopt;
}

hmi::Result DaemonBackend::span_calibration(double known_n) {
  std::unique_lock busy(maintenance_mutex_, std::try_to_lock);
  if (!busy.owns_lock()) return Result::conflict("another maintenance routine is running", "state");
  const controller::Snapshot s = loop_.snapshot();
  if (auto why = busy_reason(s); why && s.ctl.set_running) return Result::conflict(*why, "state");
  // 2 s of readings with the weight hanging still, sampled by the control
  // loop (controller::Procedures) with the present factor taken out.
  std::string error;
  const auto r = run_procedure(
      controller::Command::span_sampling(0),
      std::chrono::milliseconds(static_cast<int>(controller::kSpanSamplingS * 1000)) + 3s, error);
  if (!r) return Result::conflict(error, "state");
  if (r->outcome != controller::ProcedureOutcome::Done || !r->ok)
    return Result::conflict(std::string(r->why_view()), "state");
  // The numbers: a pure function of the samples (controller::fit_span).
  const controller::SpanFit fit = controller::fit_span(r->samples, known_n);
  if (!fit.ok)
    return fit.field == "known_n" ? Result::invalid("known_n", fit.message)
                                  : Result::conflict(fit.message, "state");
  const double gain = fit.gain, gain_before = r->gain_before;
  json::object details{{"known_n", known_n},
                       {"measured_raw_n", fit.mean_n},
                       {"sd_n", fit.sd_n},
                       {"samples", r->samples.n},
                       {"previous_gain", gain_before}};
  // Stored first: the factor must survive a restart, or it is not applied at all.
  auto stored = with_db(
      [&]() -> Result {
        auto c = connect();
        storage::record_span_calibration(c.db, kMaintenance, common::unix_ms_now(), gain,
                                         gain_before, json::serialize(details));
        return Result::ok();
      },
      "span calibration");
  if (stored.outcome != hmi::Outcome::Ok) return stored;
  controller::Command cmd = controller::Command::of(controller::Command::Kind::SetForceGain);
  cmd.gain = gain;
  if (!loop_.post(cmd))
    return Result::conflict("the control loop's command queue is full", "state");
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  while (loop_.snapshot().force_gain != gain && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  push_event(storage::Severity::Info, codes::kSpanCalibrated,
             "load-cell span factor " + fmt4(gain_before) + " → " + fmt4(gain) + " (" +
                 fmt1(known_n) + " N known, " + fmt1(fit.measured_n) + " N read)",
             details);
  return Result::ok(json::object{{"ok", true},
                                 {"gain", gain},
                                 {"previous_gain", gain_before},
                                 {"known_n", known_n},
                                 {"measured_n", fit.measured_n},
                                 {"sd_n", fit.sd_n}});
}

hmi::Result DaemonBackend::range_check() {
  std::unique_lock busy(maintenance_mutex_, std::try_to_lock);
  if (!busy.owns_lock()) return Result::conflict("another maintenance routine is running", "state");
  const controller::Snapshot s = loop_.snapshot();
  if (auto why = busy_reason(s)) return Result::conflict(*why, "state");
  // The check runs in the control loop (controller::Procedures): up to the
  // top soft limit and down to the bottom one with hold-to-move, then back to
  // rest and unloaded; the machine-empty and pad-still rules are the loop's.
  // Each leg is limited to twice its time at move_speed_mm_s + 3 s and the
  // return to 15 s: 60 s bounds the whole.
  std::string error;
  const auto res = run_procedure(controller::Command::range_check(0), 60s, error);
  if (!res) return Result::conflict(error, "state");
  if (res->outcome == controller::ProcedureOutcome::Refused)
    return Result::conflict(std::string(res->why_view()), "state");
  using Rules = controller::RangeCheckRules;
  const auto& cc = cfg_.control;
  const double lo = cc.soft_travel_margin_mm + 1.0;
  const double hi = cfg_.machine.mechanics.travel_max_mm - cc.soft_travel_margin_mm - 1.0;
  const controller::RangeLeg& up = res->up;
  const controller::RangeLeg& down = res->down;
  const bool ok = res->ok;
  const double travel = up.reached_mm - (down.arrived ? down.reached_mm : res->start_mm);
  hmi::RangeCheckView v;
  v.ok = ok;
  v.top_mm = up.reached_mm;
  if (down.arrived) v.bottom_mm = down.reached_mm;
  v.travel_mm = travel;
  v.expected_bottom_mm = lo;
  v.expected_top_mm = hi;
  v.top_tolerance_mm = Rules::kArriveUpMm;
  v.bottom_tolerance_mm = Rules::kArriveDownMm;
  v.up_s = up.seconds;
  v.down_s = down.seconds;
  v.peak_motor_force_n = std::max(up.peak_force_n, down.peak_force_n);
  v.why = ok ? std::string("the pad travelled the whole range")
             : (up.arrived ? "lowering: " : "rising: ") + std::string(res->why_view());
  const json::object r = hmi::to_json(v).as_object();
  {
    std::lock_guard lk(range_mutex_);
    last_range_check_ = v;
    last_range_check_->t_ms = common::unix_ms_now();
  }
  with_db(
      [&]() -> Result {
        auto c = connect();
        storage::record_range_check(c.db, common::unix_ms_now(), ok, travel, hmi::write_json(r));
        return Result::ok();
      },
      "range check");
  push_event(ok ? storage::Severity::Info : storage::Severity::Warning,
             ok ? codes::kRangeCheckOk : codes::kRangeCheckFailed,
             ok ? "range check: " + fmt1(down.reached_mm) + " to " + fmt1(up.reached_mm) + " mm"
                : "range check failed: " + v.why,
             r);
  return Result::ok(r);
}

hmi::Result DaemonBackend::maintenance(hmi::MaintenanceAction action, const json::object& args) {
  using K = controller::Command::Kind;
  switch (action) {
    case hmi::MaintenanceAction::Span: {
      const auto known = opt_number(args, "known_n");
      if (!known) return Result::invalid("known_n", "is required");
      return span_calibration(*known);
    }
    case hmi::MaintenanceAction::RangeCheck: return range_check();
    case hmi::MaintenanceAction::Tare: {
      const std::uint64_t seq = book_.event_seq();
      if (!loop_.post(controller::Command::of(K::Tare)))
        return Result::conflict("the control loop's command queue is full", "state");
      auto e = book_.wait_event(
          seq,
          [](const controller::Event& ev) {
            return ev.code == EventCode::Tared || ev.code == EventCode::TareFailed ||
                   ev.code == EventCode::CommandRefused;
          },
          3000ms);
      if (!e) return Result::conflict("the tare was not answered in time", "state");
      if (e->code == EventCode::Tared)
        return Result::ok(json::object{{"ok", true}, {"message", e->text_view()}});
      return Result::conflict(std::string(e->text_view()), "state");
    }
    case hmi::MaintenanceAction::FaultReset: {
      const std::uint64_t seq = book_.event_seq();
      if (!loop_.post(controller::Command::of(K::ResetFaults)))
        return Result::conflict("the control loop's command queue is full", "state");
      auto e = book_.wait_event(
          seq,
          [](const controller::Event& ev) {
            return ev.code == EventCode::Reset || ev.code == EventCode::ResetRefused;
          },
          3000ms);
      const auto s = loop_.snapshot();
      if (e && e->code == EventCode::ResetRefused)
        return Result::conflict(std::string(e->text_view()), "state");
      if (s.latch_ok)
        return Result::ok(
            json::object{{"ok", true}, {"state", controller::to_string(s.ctl.state)}});
      return Result::conflict("the fault's cause is still present", "state");
    }
  }
  return Result::invalid("", "unknown action");
}

json::value DaemonBackend::diagnostics() {
  const controller::Snapshot s = loop_.snapshot();
  hmi::DiagnosticsView v = diagnostics_view(s);
  if (store_) {
    v.storage = storage_health_view(store_->health());
    try {
      auto c = connect();
      v.odometer = odometer_view(storage::read_odometer(c.db));
    } catch (const std::exception& e) {
      log::debug("api: odometer: ", e.what());
    }
  }
  {
    std::lock_guard lk(range_mutex_);
    v.range_check = last_range_check_;
  }
  return hmi::to_json(v);
}

}  // namespace soleus::app
