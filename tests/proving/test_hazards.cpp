// The hazards of issue 10 §3, each asserting its pass figure in every trial,
// judged from the models' truth (the drive model's registers and the
// athlete's events every millisecond), never from the controller's belief.
// Faults are injected at soleus-sim's machine, stepped in-process through
// the real drivers and controller on synthetic time (proving/src/world.cpp).
// Trials are drawn from seeds (the proving ground's population and a Draw of
// their own) and replay exactly; each failing CHECK names its seed.
//
// Each test prints its measured figure (worst case over its trials) with
// MESSAGE; run `build/tests/proving/test_proving_unit -tc='hazard*' -s` to
// see them. Each was shown once able to fail by breaking its mitigation by
// hand (noted at each test; not in the tree).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "sim_world.hpp"
#include "soleus/controller/control_loop.hpp"
#include "soleus/drivers/register_map.hpp"
#include "soleus/proving/campaign.hpp"
#include "soleus/proving/judges.hpp"
#include "soleus/proving/population.hpp"
#include "soleus/proving/world.hpp"
#include "soleus/sim/machine.hpp"

using namespace soleus;
using namespace soleus::proving;
using namespace soleus::proving::test;

namespace {

constexpr int kJobs = 2;
/// The sample of the millisecond ending at t (samples are one per ms from 0.001 s).
const Sample* sample_at(const Outcome& o, double t) {
  const auto i = static_cast<std::ptrdiff_t>(std::llround(t * 1000.0)) - 1;
  if (i < 0 || i >= static_cast<std::ptrdiff_t>(o.samples.size())) return nullptr;
  return &o.samples[static_cast<std::size_t>(i)];
}

/// 5 % of the drive's rated torque, as a force at the pad (the definition of
/// the daemon-killed test in test_faults.cpp: the armed TORQUE_LIMIT holds
/// max_load_n).
double pct5_n(const Outcome& o) { return o.max_load_n / o.armed_torque_limit_pct * 5.0; }

bool holds_torque(const Sample& s, double thr) { return s.enabled && std::fabs(s.ideal) >= thr; }

/// A set running, not stopping: the drive enabled, the controller
/// calibrating or active (not unloading, not a fault).
bool mid_set(const Sample& s) {
  return s.enabled &&
         (s.state == controller::SetState::Active || s.state == controller::SetState::Calibrating);
}

/// The first ms at or after `from` with the drive's torque below `thr` (or
/// the drive disabled); 1e9 if never.
double torque_below_at(const Outcome& o, double from, double thr) {
  for (const auto& s : o.samples)
    if (s.t >= from && !holds_torque(s, thr)) return s.t;
  return 1e9;
}

/// The first ms at or after `from` with the drive model disabled; 1e9 if never.
double disabled_at(const Outcome& o, double from) {
  for (const auto& s : o.samples)
    if (s.t >= from && !s.enabled) return s.t;
  return 1e9;
}

/// The first ms in [from, to) with the drive model enabled; 1e9 if none.
double enabled_in(const Outcome& o, double from, double to) {
  for (const auto& s : o.samples)
    if (s.t >= from && s.t < to && s.enabled) return s.t;
  return 1e9;
}

/// The first Start pressed at or after t; 1e9 if none.
double start_after(const Outcome& o, double t) {
  for (double s : o.starts_s)
    if (s >= t) return s;
  return 1e9;
}

const controller::Event* first_event(const Outcome& o, controller::EventCode code, double from) {
  for (const auto& e : o.events)
    if (e.code == code && e.t_s >= from) return &e;
  return nullptr;
}

/// The events of a run after boot, one "t code" each, for a failure's message.
std::string event_list(const Outcome& o) {
  std::ostringstream b;
  for (const auto& e : o.events)
    if (e.code != controller::EventCode::Boot && e.code != controller::EventCode::Armed)
      b << e.t_s << ' ' << controller::to_string(e.code) << ' ' << e.text.data() << ", ";
  return b.str();
}

std::string ms(double s) {
  std::ostringstream b;
  b << std::lround(s * 1000.0) << " ms";
  return b.str();
}

/// A trial's verdict, made on a worker thread and asserted on the test's.
struct Trial {
  std::uint64_t seed = 0;
  bool counted = false;  ///< the trial met its condition (e.g. the drive held torque at the fault)
  std::string error;     ///< empty = passed
  double figure = 0;     ///< the trial's measured figure (s)
  double figure2 = 0;    ///< a second one, where a test has two
  int count = 0;         ///< a count the test reports (e.g. gaps ridden through)
  std::string note;
};

/// Runs `n` trials on kJobs threads; `body(i)` fills its own slot.
std::vector<Trial> trials(int n, const std::function<Trial(int)>& body) {
  std::vector<Trial> out(static_cast<std::size_t>(n));
  run_parallel(n, kJobs, [&](int i) { out[static_cast<std::size_t>(i)] = body(i); });
  return out;
}

/// The first `want` counted trials in seed order: each must have passed.
/// Returns the worst figure; `counted` receives how many there were.
double assert_trials(const std::vector<Trial>& ts, int want, int& counted) {
  counted = 0;
  double worst = 0;
  for (const Trial& t : ts) {
    if (!t.counted) continue;
    if (counted == want) break;
    ++counted;
    CAPTURE(t.seed);
    CAPTURE(t.note);
    CHECK_MESSAGE(t.error.empty(), t.error);
    worst = std::max(worst, t.figure);
  }
  return worst;
}

/// The worst figure2 of the first `want` counted trials.
double worst_figure2(const std::vector<Trial>& ts, int want) {
  int n = 0;
  double worst = 0;
  for (const Trial& t : ts) {
    if (!t.counted) continue;
    if (n++ == want) break;
    worst = std::max(worst, t.figure2);
  }
  return worst;
}

/// What the controller took in, against what the model served (hazard 3):
/// after every cycle, the machine's registers are what that cycle's
/// exchange read when its replies were good. Every reading the controller
/// holds (snapshot: the drive's position, speed, torque and fault code; the
/// cell's sample counter and force) must equal, register for register, what
/// the model's registers held at a cycle at or before this one. A value
/// taken from a refused reply (whose garbled payload the in-process bus
/// leaves in the driver's buffer) would match none.
class ReadingsWitness {
 public:
  void on_cycle(double t, const sim::Machine& m, const controller::Snapshot& s) {
    const auto& cfg = m.config();
    const auto& d = cfg.drive;
    const auto& c = cfg.load_cell;
    auto raw = [&](int unit, const drivers::SignalSpec& spec) {
      std::uint16_t w[2] = {
          m.reg(unit, spec.table, spec.address),
          spec.words() == 2 ? m.reg(unit, spec.table, spec.address + 1) : std::uint16_t{0}};
      const auto v = drivers::decode(
          spec, std::span<const std::uint16_t>(w, static_cast<std::size_t>(spec.words())));
      return v ? std::llround(*v / spec.scale) : std::int64_t{-1};
    };
    drive_seen_.insert({raw(cfg.units.drive, d.position), raw(cfg.units.drive, d.speed),
                        raw(cfg.units.drive, d.torque_actual), raw(cfg.units.drive, d.fault_code)});
    cell_seen_.insert(
        {raw(cfg.units.load_cell, c.sample_counter), raw(cfg.units.load_cell, c.force)});
    ++cycles_;
    if (!bad_.empty()) return;
    // The controller's readings, back in register units.
    const auto& mech = cfg.mechanics;
    const auto& sd = s.drive;
    const std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t> dr{
        std::llround(sd.position_mm * mech.counts_per_mm * (d.position_positive_up ? 1 : -1) /
                     d.position.scale),
        std::llround(mech.rpm_from_mm_s(sd.velocity_mm_s) * (d.speed_positive_up ? 1 : -1) /
                     d.speed.scale),
        std::llround(sd.torque_pct * (d.torque_positive_down ? 1 : -1) / d.torque_actual.scale),
        sd.fault_code};
    const std::pair<std::int64_t, std::int64_t> cr{
        s.cell.counter, std::llround(s.cell.force_n / s.force_gain *
                                     (c.compression_positive ? 1 : -1) / c.force.scale)};
    const bool boot = s.drive.position_mm == 0 && s.drive.velocity_mm_s == 0 && s.cell.counter == 0;
    if (!boot && !drive_seen_.count(dr))
      bad_ = "at " + std::to_string(t) + " s the drive reading is no served value";
    if (!(s.cell.counter == 0 && s.cell.force_n == 0) && !cell_seen_.count(cr))
      bad_ = "at " + std::to_string(t) + " s the load-cell reading (counter " +
             std::to_string(cr.first) + ", raw " + std::to_string(cr.second) +
             ") is no served value";
  }
  const std::string& bad() const { return bad_; }
  long cycles() const { return cycles_; }

 private:
  std::set<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>> drive_seen_;
  std::set<std::pair<std::int64_t, std::int64_t>> cell_seen_;
  std::string bad_;
  long cycles_ = 0;
};

}  // namespace

// Hazard 1 (docs/safety.md), SIGSTOP: the daemon stopped mid-set for 2 s
// (the loop not stepped while the machine and the drive's watchdog go on),
// then continued (SIGCONT), 100 loaded trials (the drive holding ≥ 5 % of
// rated torque at the stop) over the population's athletes at moments drawn
// from 4 to 20 s. Pass figure, every trial: the torque below 5 % of rated
// (or the drive disabled) within 150 ms of the stop; and after the loop
// resumes, the drive (faulted by its own watchdog, code 6, which the loop
// reports) is not enabled again: nobody presses Start, and the run goes on
// 5 s after the set's result.
// Can fail: COMM_TIMEOUT armed at 400 ms fails the first figure (399 ms);
// a loop that resets and re-enables after a gap fails the second (100/100).
TEST_CASE(
    "hazard 1: daemon stopped (SIGSTOP) 2 s mid-set, 100 trials: torque below 5 % within 150 ms, "
    "none again after it resumes without a new Start") {
  const auto ts = trials(300, [](int i) {
    Trial tr;
    tr.seed = static_cast<std::uint64_t>(i) + 1;
    Case c = draw_case(tr.seed);
    Draw d(tr.seed * 7919 + 1);
    const double stop_t = std::round(d.uniform(4.0, 20.0) * 1000.0) / 1000.0;
    const double cont_t = stop_t + 2.0;
    c.stalls.emplace_back(stop_t, cont_t);
    WorldOptions wo = sim_world(cont_t + 8.0);
    wo.tail_s = 5.0;
    const Outcome o = run_case(c, wo);
    if (!o.error.empty()) {
      tr.counted = true;
      tr.error = "run error: " + o.error;
      return tr;
    }
    const double thr = pct5_n(o);
    const Sample* s0 = sample_at(o, stop_t);
    if (!s0 || !holds_torque(*s0, thr))
      return tr;  // the set had not loaded the drive, or had ended
    tr.counted = true;
    const double off = torque_below_at(o, stop_t, thr);
    tr.figure = off - stop_t;
    tr.note = "stop at " + std::to_string(stop_t) + " s";
    if (off - stop_t > 0.150) {
      tr.error = "torque still ≥ 5 % " + ms(off - stop_t) + " after the stop";
      return tr;
    }
    const double again = enabled_in(o, off, 1e9);
    if (again < 1e9) {
      tr.error = "the drive enabled again at " + std::to_string(again) + " s with no new Start";
      return tr;
    }
    if (o.sim_s < cont_t + 4.0) {
      tr.error =
          "the run ended " + ms(o.sim_s - cont_t) + " after the loop resumed: too short a watch";
      return tr;
    }
    const controller::Event* f6 = first_event(o, controller::EventCode::DriveFault, cont_t);
    if (!f6 || f6->value != 6)
      tr.error = "no drive fault 6 (watchdog) reported after the loop resumed";
    return tr;
  });
  int counted = 0;
  const double worst = assert_trials(ts, 100, counted);
  CHECK(counted == 100);
  MESSAGE("hazard 1, SIGSTOP 2 s: worst time to torque below 5 %: ", ms(worst), " over ", counted,
          " trials");
}

// Hazard 3 (docs/safety.md): corrupted replies at 1, 10 and 100 % (soleus-sim's
// odd replies at a rate: bad CRC, wrong unit, wrong transaction id; the
// request itself is executed, only the reply is spoiled).
//
// What "no corrupt frame acted on" can honestly be checked here:
//  - The in-process bus refuses an odd reply as a Modbus TCP master would
//    (libmodbus's CRC, unit and transaction-id checks are not in this
//    process: they are tested against soleus-sim over real sockets in
//    [test_drivers_sim], and the decoders under fuzzing). It leaves the
//    garbled payload in the driver's buffer, harsher than libmodbus.
//  - What is checked is everything above the transport, every cycle: each
//    reading the controller holds (drive position, speed, torque, fault
//    code; cell counter, force) equals what the model's registers served at
//    a cycle at or before it (ReadingsWitness); and what the controller
//    wrote stayed within the clamp and the machine's force, speed and
//    unloads stayed safe (the campaign's judges, from the models' truth).
//  - Not checked: a corruption that passes the CRC (1 in 65 536 of random
//    errors on RTU): that is the decoders' range checks, under fuzzing.
//  - The garbled payload is each word with its lowest bit flipped: plausible
//    values that mostly pass the decoders' range checks. Can fail: a driver
//    that decodes its buffer whatever the bus said (the `if (r != Ok)
//    return r` of ModbusDrive::exchange and ModbusLoadCell::read removed)
//    fails all three tests on "no served value".
//    The 100 % figure has two mitigations: comm loss takes QUICK_STOP, and
//    the loop disarms a drive silent for more than two cycles (ENABLE off);
//    with both removed it fails 30/30.
// Pass figures: at 1 % the set goes on as without corruption (no fault; the
// same stop reason, or a training stop the truth's judge passes); at 10 % no unsafe outcome (sets
// may end in comm_loss: the in-process bus makes no retry, the daemon's ModbusBus makes one); at
// 100 % mid-set the set stops with comm_loss and the torque is off within
// 200 ms of the corruption's start.
namespace {

const char* const kOddKinds[] = {"bad_crc", "wrong_unit", "wrong_tid"};

std::string odd_at_rate(const char* kind, double p) {
  std::ostringstream b;
  b << R"({"cmd":"fault","kind":")" << kind << R"(","p":)" << p << "}";
  return b.str();
}

}  // namespace

TEST_CASE(
    "hazard 3: 1 % corrupted replies throughout a set: no corrupt value taken in, the set goes on "
    "as without") {
  const auto ts = trials(12, [](int i) {
    Trial tr;
    tr.seed = static_cast<std::uint64_t>(i) + 1;
    Case c = draw_case(tr.seed);
    const Outcome clean = run_case(c, sim_world(300));
    c.faults.push_back({0.5, odd_at_rate(kOddKinds[i % 3], 0.01)});
    ReadingsWitness w;
    WorldOptions wo = sim_world(300);
    wo.on_cycle = [&w](double t, const sim::Machine& m, const controller::Snapshot& s) {
      w.on_cycle(t, m, s);
    };
    const Outcome o = run_case(c, wo);
    tr.counted = true;
    tr.note = kOddKinds[i % 3];
    if (!o.error.empty() || !clean.error.empty()) {
      tr.error = "run error: " + o.error + clean.error;
      return tr;
    }
    if (!w.bad().empty()) {
      tr.error = w.bad();
      return tr;
    }
    if (!o.result || !clean.result) {
      tr.error = "no set result";
      return tr;
    }
    // The same stop reason as without; or, where a lost reply moved the set
    // onto another path (the floor catch, a rest timed a cycle later), a
    // training stop (not a fault's) that is as true of the athlete: the
    // truth's judge passes it.
    const auto r = o.result->reason;
    const bool training_stop =
        r == controller::StopReason::TargetReached || r == controller::StopReason::HoldComplete ||
        r == controller::StopReason::ForceDrop || r == controller::StopReason::RangeLoss ||
        r == controller::StopReason::PaceLoss || r == controller::StopReason::Stall ||
        r == controller::StopReason::LossOfControl || r == controller::StopReason::UserLeft;
    const Verdict stop = judge_stop(o);
    if (r != clean.result->reason && !(training_stop && stop.ok))
      tr.error = std::string("stopped by ") + controller::to_string(r) +
                 ", without corruption by " + controller::to_string(clean.result->reason) +
                 (stop.ok ? "" : " (" + stop.why + ")") + "; events with: " + event_list(o) +
                 "; without: " + event_list(clean);
    if (first_event(o, controller::EventCode::CommLoss, 0)) tr.error = "a comm_loss at 1 %";
    if (const auto v = judge_campaign(o); v.unsafe()) tr.error = "unsafe: " + v.why();
    return tr;
  });
  int counted = 0;
  assert_trials(ts, 12, counted);
  CHECK(counted == 12);
}

TEST_CASE(
    "hazard 3: 10 % corrupted replies throughout a set: no corrupt value taken in, no unsafe "
    "outcome") {
  const auto ts = trials(12, [](int i) {
    Trial tr;
    tr.seed = static_cast<std::uint64_t>(i) + 101;
    Case c = draw_case(tr.seed);
    c.faults.push_back({0.5, odd_at_rate(kOddKinds[i % 3], 0.10)});
    c.restarts = 2;
    ReadingsWitness w;
    WorldOptions wo = sim_world(120);
    wo.on_cycle = [&w](double t, const sim::Machine& m, const controller::Snapshot& s) {
      w.on_cycle(t, m, s);
    };
    const Outcome o = run_case(c, wo);
    tr.counted = true;
    tr.note = std::string(kOddKinds[i % 3]) +
              (o.result ? std::string(", stop ") + controller::to_string(o.result->reason) : "");
    if (!o.error.empty()) {
      tr.error = "run error: " + o.error;
      return tr;
    }
    if (!w.bad().empty()) tr.error = w.bad();
    if (const auto v = judge_campaign(o); v.unsafe()) tr.error = "unsafe: " + v.why();
    return tr;
  });
  int counted = 0;
  assert_trials(ts, 12, counted);
  CHECK(counted == 12);
}

TEST_CASE(
    "hazard 3: 100 % corrupted replies mid-set, 30 trials: comm_loss, torque off within 200 ms, no "
    "corrupt value taken in") {
  const auto ts = trials(45, [](int i) {
    Trial tr;
    tr.seed = static_cast<std::uint64_t>(i) + 201;
    Case c = draw_case(tr.seed);
    c.athlete.traits.leave = sim::Leave::None;  // (leaving is hazard 12's)
    Draw d(tr.seed * 104729 + 3);
    const double t_bad = std::round(d.uniform(5.0, 20.0) * 1000.0) / 1000.0;
    c.faults.push_back({t_bad, odd_at_rate(kOddKinds[i % 3], 1.0)});
    ReadingsWitness w;
    WorldOptions wo = sim_world(t_bad + 5.0);
    wo.on_cycle = [&w](double t, const sim::Machine& m, const controller::Snapshot& s) {
      w.on_cycle(t, m, s);
    };
    const Outcome o = run_case(c, wo);
    if (!o.error.empty()) {
      tr.counted = true;
      tr.error = "run error: " + o.error;
      return tr;
    }
    const Sample* s0 = sample_at(o, t_bad);
    if (!s0 || !mid_set(*s0)) return tr;  // no set running to stop
    tr.counted = true;
    tr.note = std::string(kOddKinds[i % 3]) + " from " + std::to_string(t_bad) + " s";
    const double off = disabled_at(o, t_bad);
    tr.figure = off - t_bad;
    if (!w.bad().empty()) tr.error = w.bad();
    else if (off - t_bad > 0.200)
      tr.error = "the drive still enabled " + ms(off - t_bad) + " after the corruption began";
    else if (!o.result || o.result->reason != controller::StopReason::CommLoss)
      tr.error = std::string("the set ended by ") +
                 (o.result ? controller::to_string(o.result->reason) : "nothing");
    return tr;
  });
  int counted = 0;
  const double worst = assert_trials(ts, 30, counted);
  CHECK(counted == 30);
  MESSAGE("hazard 3, 100 % corrupted: worst time to the drive disabled: ", ms(worst), " over ",
          counted, " trials");
}

// Hazard 4 (docs/safety.md), a stopped counter and out-of-range values, at
// 30 loaded moments each (drawn athletes, moments from 5 to 20 s; the drive
// enabled at the injection). Pass figures, every trial: detected within 3
// cycles once stale_cell_ms (50 ms) has passed since the counter stopped
// (cell_freeze), within 3 cycles of the bad value (overload: the
// transmitter's latched bit; nan_force: refused by the driver as BadValue,
// so three such cycles are a comm loss); the transmitter shows a fault at
// its next sample, up to 1000 / 200 Hz = 5 ms after the injection, which
// the bound includes. Then the drive disabled (torque zero) within 200 ms of
// the detection, with no controlled unload (QUICK_STOP).
// Can fail: with these faults taken off kQuickStopFaults (the controlled
// unload instead) every trial fails; without the loop's deferral of the
// read-back after a failed cell read, NaN was found up to 59 ms after
// (seed 305).
TEST_CASE(
    "hazard 4: stopped counter, overload and NaN at 30 moments each: detected within 3 cycles "
    "(after stale_cell_ms), torque zero within 200 ms of detection") {
  struct Kind {
    const char* request;
    controller::EventCode code;
    double grace_s;  // stale_cell_ms for the counter, else 0
  };
  using EC = controller::EventCode;
  const Kind kinds[] = {{R"({"cmd":"fault","kind":"cell_freeze"})", EC::StaleLoadCell, 0.050},
                        {R"({"cmd":"fault","kind":"overload"})", EC::Overload, 0.0},
                        {R"({"cmd":"fault","kind":"nan_force"})", EC::CommLoss, 0.0}};
  for (const Kind& k : kinds) {
    const std::string request = k.request;
    CAPTURE(request);
    const auto ts = trials(40, [&k](int i) {
      Trial tr;
      tr.seed = static_cast<std::uint64_t>(i) + 301;
      Case c = draw_case(tr.seed);
      c.athlete.traits.leave = sim::Leave::None;  // (leaving is hazard 12's)
      Draw d(tr.seed * 15485863 + 5);
      const double t_inj = std::round(d.uniform(5.0, 20.0) * 1000.0) / 1000.0;
      c.faults.push_back({t_inj, k.request});
      const Outcome o = run_case(c, sim_world(t_inj + 3.0));
      if (!o.error.empty()) {
        tr.counted = true;
        tr.error = "run error: " + o.error;
        return tr;
      }
      const Sample* s0 = sample_at(o, t_inj);
      if (!s0 || !mid_set(*s0)) return tr;
      tr.counted = true;
      tr.note = "injected at " + std::to_string(t_inj) + " s";
      const double cyc = o.period_s, sample = 0.005;
      const controller::Event* e = first_event(o, k.code, t_inj);
      if (!e) {
        tr.error = std::string("no ") + controller::to_string(k.code) + " event";
        return tr;
      }
      const double detect = e->t_s - t_inj;
      const double off = disabled_at(o, t_inj);
      tr.figure = off - e->t_s;
      tr.figure2 = detect;
      tr.note +=
          ", detected after " + ms(detect) + ", disabled " + ms(off - e->t_s) + " after that";
      if (detect > k.grace_s + 3 * cyc + sample + 1e-9)
        tr.error = "detected " + ms(detect) + " after the injection";
      else if (off - e->t_s > 0.200)
        tr.error = "the drive still enabled " + ms(off - e->t_s) + " after the detection";
      else if (o.unload_start_s && *o.unload_start_s >= t_inj && *o.unload_start_s <= off)
        tr.error = "a controlled unload, not QUICK_STOP";
      return tr;
    });
    int counted = 0;
    const double worst = assert_trials(ts, 30, counted);
    CHECK(counted == 30);
    MESSAGE("hazard 4, ", request, ": worst detection ", ms(worst_figure2(ts, 30)),
            " after the injection; worst from detection to the drive disabled: ", ms(worst),
            " over ", counted, " trials");
  }
}

// Hazard 4 (docs/safety.md), a frozen VALUE with a moving counter
// (soleus-sim's cell_value_freeze: FORCE repeats its last value while the
// sample counter and status bits go on). 20 trials at the TCP rate (100 Hz)
// and 20 at the RTU rate (50 Hz), from the drawn athletes (isotonic and
// eccentric sets; seeds from 701), the value frozen mid-set at a moment drawn
// from 5 to 15 s, half of the athletes walking away one or two reps later
// (contact 0 against a reading of hundreds of N), half staying.
// A frozen value is indistinguishable from a live one while the truth stays
// where it froze, so the figure is timed from the truth leaving it: the
// onset is the first moment, while the set runs, from which the athlete's
// true contact force (its mean over the last 10 ms: the athlete model's
// contact can chatter from one millisecond to the next) stays further from
// the frozen reading than max(50 N, 10 % of the reading) for 100 ms.
// Counted: the freeze came mid-set, and the onset came before the set ended
// or a sensor fault was found (a trial where the truth never left the frozen
// reading and nothing was found tells nothing).
// Pass figure, every counted trial: a sensor fault (the cross-check or
// another load-cell fault) no later than 1 s after the onset (before it is
// in time: the frozen reading was found before it misled), then the drive
// disabled within 200 ms of the detection with no controlled unload begun
// (QUICK_STOP).
// Can fail: before the moving cross-check and the frozen-reading rule (the
// cross-check judged only a still pad, for more than 1 s) it failed 40 of
// its 42 assertions: of 20 counted trials at 100 Hz, 0 were found within 1 s
// of the onset, 6 later (2.3-23.1 s after it), 14 never; at 50 Hz 0, 5 (2.3-23.1 s) and
// 15; the sets not found ended by stall, range loss, force drop or their
// target, or ran on. With the moving cross-check alone: 12, 5 and 3 at 100 Hz.
TEST_CASE(
    "hazard 4: a frozen load-cell value with a moving counter, 20 trials at 100 Hz and 20 at 50 "
    "Hz: found within 1 s of the true force leaving the frozen value, torque zero within 200 ms of "
    "detection") {
  for (const double hz : {100.0, 50.0}) {
    CAPTURE(hz);
    std::vector<double> off_after(
        60, 0.0);  // per trial: the drive disabled this long after the detection
    const auto ts = trials(60, [hz, &off_after](int i) {
      Trial tr;
      tr.seed = static_cast<std::uint64_t>(i) + 701;
      Case c = draw_case(tr.seed);
      if (c.programme.mode == controller::Mode::Isometric) return tr;
      Draw d(tr.seed * 86028121 + 17);
      const double t_inj = std::round(d.uniform(5.0, 15.0) * 1000.0) / 1000.0;
      const bool walks = i % 2 == 0;
      // The athlete's reps up to the freeze are the same with or without it.
      c.athlete.traits.leave = sim::Leave::None;
      WorldOptions wo = sim_world(t_inj);
      wo.loop_hz = hz;
      const Outcome ref = run_case(c, wo);
      if (walks) {
        const int before = static_cast<int>(
            std::count_if(ref.truth.begin(), ref.truth.end(),
                          [&](const sim::RepTruth& r) { return r.start_s < t_inj; }));
        static constexpr sim::Leave kinds[] = {sim::Leave::StandUp, sim::Leave::MidRise,
                                               sim::Leave::AtTop, sim::Leave::MidLowering,
                                               sim::Leave::AtBottom};
        c.athlete.traits.leave = kinds[static_cast<std::size_t>(i / 2) % 5];
        c.athlete.traits.leave_rep = before + 2;
      }
      c.faults.push_back({t_inj, R"({"cmd":"fault","kind":"cell_value_freeze"})"});
      wo.max_s = t_inj + 40.0;
      const Outcome o = run_case(c, wo);
      if (!o.error.empty()) {
        tr.counted = true;
        tr.error = "run error: " + o.error;
        return tr;
      }
      const Sample* s0 = sample_at(o, t_inj);
      if (!s0 || !mid_set(*s0)) return tr;
      const double frozen = s0->cell;
      const double apart_n = std::max(50.0, 0.10 * std::fabs(frozen));
      // The onset, from the truth (its mean over the last 10 ms).
      double onset = -1, run_from = -1, sum = 0;
      std::size_t k0 =
          static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, std::llround(t_inj * 1000.0) - 10));
      for (std::size_t k = k0; k < o.samples.size(); ++k) {
        const Sample& s = o.samples[k];
        sum += s.contact;
        if (k >= k0 + 10) sum -= o.samples[k - 10].contact;
        if (s.t < t_inj) continue;
        if (!mid_set(s)) break;  // the set has ended (or is ending)
        const bool apart = std::fabs(sum / 10.0 - frozen) > apart_n;
        if (!apart) run_from = -1;
        else if (run_from < 0) run_from = s.t;
        if (run_from >= 0 && s.t - run_from >= 0.1 - 1e-6) {
          onset = run_from;
          break;
        }
      }
      using EC = controller::EventCode;
      const controller::Event* found = nullptr;
      for (const auto& e : o.events)
        if (e.t_s >= t_inj && e.severity == controller::Severity::Error &&
            (e.code == EC::CrossCheck || e.code == EC::StaleLoadCell || e.code == EC::Implausible ||
             e.code == EC::AdcError || e.code == EC::Overload)) {
          found = &e;
          break;
        }
      if (onset < 0 && !found)
        return tr;  // the truth never left the frozen reading while the set ran
      tr.counted = true;
      const auto& left = o.athlete_events.left_s;
      tr.note =
          std::string(walks ? "walks away" : "stays") + ", frozen at " + std::to_string(t_inj) +
          " s reading " + std::to_string(std::lround(frozen)) + " N, onset " +
          (onset < 0 ? std::string("none") : "at " + std::to_string(onset) + " s") +
          (left ? ", left at " + std::to_string(*left) + " s" : std::string()) + ", found " +
          (found ? std::string(controller::to_string(found->code)) + " at " +
                       std::to_string(found->t_s) + " s"
                 : std::string("never")) +
          ", set ended by " + (o.result ? controller::to_string(o.result->reason) : "nothing");
      // count: 1 found in time (or before the onset), 2 later, 3 never.
      if (!found) {
        tr.count = 3;
        tr.error = "never found";
        return tr;
      }
      tr.figure = onset < 0 ? 0.0 : found->t_s - onset;  // > 0: after the onset
      tr.figure2 = found->t_s - t_inj;
      tr.count = onset < 0 || found->t_s - onset <= 1.0 ? 1 : 2;
      if (tr.count == 2) {
        tr.error = "found " + ms(found->t_s - onset) + " after the onset";
        return tr;
      }
      const double off = disabled_at(o, found->t_s);
      off_after[static_cast<std::size_t>(i)] = off - found->t_s;
      tr.note += ", disabled " + ms(off - found->t_s) + " after";
      if (off - found->t_s > 0.200)
        tr.error = "the drive still enabled " + ms(off - found->t_s) + " after the detection";
      else if (o.unload_start_s && *o.unload_start_s >= found->t_s && *o.unload_start_s <= off)
        tr.error = "a controlled unload, not QUICK_STOP";
      return tr;
    });
    int counted = 0;
    const double worst = assert_trials(ts, 20, counted);
    CHECK(counted == 20);
    int in_time = 0, late = 0, never = 0, with_onset = 0, n = 0;
    double worst_off = 0;
    for (std::size_t k = 0; k < ts.size(); ++k) {
      const Trial& t = ts[k];
      if (!t.counted) continue;
      if (n++ == 20) break;
      in_time += t.count == 1;
      late += t.count == 2;
      never += t.count == 3;
      with_onset += t.note.find("onset at") != std::string::npos;
      worst_off = std::max(worst_off, off_after[k]);
    }
    MESSAGE("hazard 4, frozen value at ", hz, " Hz over ", counted, " trials (", with_onset,
            " with the truth leaving the frozen reading): found within 1 s of the onset (or before "
            "it) in ",
            in_time, ", later in ", late, ", never in ", never, "; worst after the onset ",
            ms(worst), ", worst after the freeze ", ms(worst_figure2(ts, 20)),
            ", worst from detection to the drive disabled ", ms(worst_off));
  }
}

// Hazard 8 (docs/safety.md), unexpected start: 50 × kill -9 and restart,
// in-process. Mid-set, at a moment drawn from 4 to 20 s with the drive
// holding torque, the daemon's stack (control loop and drivers) is destroyed
// with nothing unloaded and nothing more written; the machine runs on (the
// drive's watchdog trips). After a delay drawn from 0.05 to 3 s a fresh
// stack boots on the same machine, as soleusd restarting: it arms the drive
// and its automatic reset clears the drive's fault 6. The operator presses
// Start 2 s after the restart. The drive model's ENABLE and torque are
// watched every millisecond. Pass figure, every trial: 0 torque before the
// new Start (the drive disabled from 150 ms after the kill until that
// Start: the dead daemon's torque is the watchdog's to remove, hazard 1);
// and the new daemon does enable the drive after the Start (a stack that
// never enables anything would pass the first half).
// Can fail: a loop that resumes a command at boot without a Start fails
// 50/50; COMM_TIMEOUT armed at 400 ms fails the 150 ms.
TEST_CASE(
    "hazard 8: 50 x kill -9 and restart mid-set: 0 torque before a new Start, and the new daemon "
    "starts a set") {
  const auto ts = trials(130, [](int i) {
    Trial tr;
    tr.seed = static_cast<std::uint64_t>(i) + 401;
    Case c = draw_case(tr.seed);
    Draw d(tr.seed * 32452843 + 7);
    const double kill_t = std::round(d.uniform(4.0, 20.0) * 1000.0) / 1000.0;
    const double restart_t = kill_t + std::round(d.uniform(0.05, 3.0) * 1000.0) / 1000.0;
    c.kills.push_back({kill_t, restart_t, 2.0});
    const Outcome o = run_case(c, sim_world(restart_t + 8.0));
    if (!o.error.empty()) {
      tr.counted = true;
      tr.error = "run error: " + o.error;
      return tr;
    }
    const double thr = pct5_n(o);
    const Sample* s0 = sample_at(o, kill_t);
    if (!s0 || !holds_torque(*s0, thr)) return tr;
    tr.counted = true;
    tr.note = "killed at " + std::to_string(kill_t) + " s, restarted at " +
              std::to_string(restart_t) + " s";
    const double start = start_after(o, restart_t);
    const double off = disabled_at(o, kill_t);
    tr.figure = off - kill_t;
    const double on = enabled_in(o, off, start);
    if (off - kill_t > 0.150)
      tr.error = "the drive still enabled " + ms(off - kill_t) + " after the kill";
    else if (on < 1e9)
      tr.error = "the drive enabled at " + std::to_string(on) + " s, before the new Start";
    else if (o.boots_s.size() != 2) tr.error = "the daemon did not restart";
    else if (start >= 1e9) tr.error = "no Start was taken after the restart";
    else if (enabled_in(o, start, 1e9) >= 1e9)
      tr.error = "the restarted daemon never enabled the drive after its Start";
    tr.figure2 = start >= 1e9 ? 0 : start - restart_t;
    return tr;
  });
  int counted = 0;
  const double worst = assert_trials(ts, 50, counted);
  CHECK(counted == 50);
  MESSAGE("hazard 8, kill -9 and restart: 0 torque before the new Start in ", counted,
          " trials; the dead daemon's torque gone (drive disabled) within ", ms(worst),
          " of the kill, worst");
}

// Hazard 9 (docs/safety.md), a CPU hog at the loop's priority: in-process,
// the loop runs late at irregular moments (gaps between 50-600 ms of normal
// running, from 3 s on: four in five of 30-90 ms, one in five of 100-300 ms),
// while the machine and the drive's watchdog go on; the operator resets and
// presses Start again up to 5 times. 20 trials. Pass figure, every gap that begins
// with the drive enabled and lasts longer than the drive's COMM_TIMEOUT
// (100 ms) + one cycle: the drive disabled within COMM_TIMEOUT + one cycle
// of the gap's start (its last command is at most one cycle older than the
// gap); every trial: no unsafe outcome (the campaign's judges: force, speed,
// armed, torque with no Start, QUICK_STOP, unload).
// Can fail: COMM_TIMEOUT armed at 400 ms.
TEST_CASE(
    "hazard 9: a CPU hog (gaps of 30-300 ms) in 20 sets: torque off within COMM_TIMEOUT + one "
    "cycle of every longer gap, no unsafe outcome") {
  const auto ts = trials(20, [](int i) {
    Trial tr;
    tr.seed = static_cast<std::uint64_t>(i) + 501;
    Case c = draw_case(tr.seed);
    Draw d(tr.seed * 49979687 + 11);
    for (double t = 3.0; t < 90.0;) {
      // Mostly gaps the drive rides through (30-90 ms), one in five longer (100-300 ms).
      const double gap =
          std::round((d.chance(0.8) ? d.uniform(0.030, 0.090) : d.uniform(0.100, 0.300)) * 1000.0) /
          1000.0;
      c.stalls.emplace_back(t, t + gap);
      t += gap + std::round(d.uniform(0.050, 0.600) * 1000.0) / 1000.0;
    }
    c.restarts = 5;
    const Outcome o = run_case(c, sim_world(90.0));
    tr.counted = true;
    if (!o.error.empty()) {
      tr.error = "run error: " + o.error;
      return tr;
    }
    const double limit = 0.100 + o.period_s;
    int judged = 0;
    for (const auto& [from, to] : c.stalls) {
      const Sample* s0 = sample_at(o, from);
      const Sample* s1 = sample_at(o, to);
      if (s0 && s0->enabled && s1 && s1->enabled) ++tr.count;  // the drive rode it through
      if (!s0 || !s0->enabled || to - from <= limit) continue;
      ++judged;
      const double off = disabled_at(o, from);
      tr.figure = std::max(tr.figure, off - from);
      if (off - from > limit + 1e-9 && tr.error.empty())
        tr.error = "a gap from " + std::to_string(from) + " s: the drive still enabled " +
                   ms(off - from) + " after it began";
    }
    tr.note = std::to_string(c.stalls.size()) + " gaps, " + std::to_string(judged) +
              " longer than the limit while enabled";
    tr.figure2 = judged;
    if (const auto v = judge_campaign(o); v.unsafe() && tr.error.empty())
      tr.error = "unsafe: " + v.why();
    return tr;
  });
  int counted = 0;
  const double worst = assert_trials(ts, 20, counted);
  CHECK(counted == 20);
  int judged = 0, rode = 0;
  for (const auto& t : ts) {
    judged += static_cast<int>(t.figure2);
    rode += t.count;
  }
  CHECK(judged >= 20);
  MESSAGE("hazard 9, CPU hog: ", judged,
          " gaps > 110 ms began with the drive enabled; worst time to disabled: ", ms(worst), "; ",
          rode, " shorter gaps ridden through with the drive enabled");
}

// Hazard 12 (docs/safety.md), unattended use: the athlete walks away mid-set
// (mid-rise, mid-lowering) and at rest between reps (at the top pause, at
// the bottom pause, standing up at the start of a rep), in rep 2 to 5 of
// drawn athletes (isotonic and eccentric sets); 20 trials of each of the
// two groups. Pass figure, every trial: the set stopped (the controlled
// unload begun, or the drive disabled) within 5 s of the athlete's true
// leaving (its AthleteEvents::left_s), whatever reason the controller gives.
// Can fail: with the presence rule's let_go time made endless, the stops
// come from the idle and rest limits, 13 s after leaving.
TEST_CASE(
    "hazard 12: the athlete walks away mid-set and at rest between reps, 20 trials each: stop "
    "within 5 s of leaving") {
  struct Group {
    const char* name;
    std::vector<sim::Leave> kinds;
  };
  using L = sim::Leave;
  for (const Group& g : {Group{"mid-set", {L::MidRise, L::MidLowering}},
                         Group{"at rest between reps", {L::AtTop, L::AtBottom, L::StandUp}}}) {
    const std::string group = g.name;
    CAPTURE(group);
    const auto ts = trials(40, [&g](int i) {
      Trial tr;
      tr.seed = static_cast<std::uint64_t>(i) + 601;
      Case c = draw_case(tr.seed);
      if (c.programme.mode == controller::Mode::Isometric) return tr;
      Draw d(tr.seed * 67867967 + 13);
      auto& t = c.athlete.traits;
      t.leave = g.kinds[static_cast<std::size_t>(i) % g.kinds.size()];
      t.leave_rep = d.integer(2, 5);
      const Outcome o = run_case(c, sim_world(200));
      if (!o.error.empty()) {
        tr.counted = true;
        tr.error = "run error: " + o.error;
        return tr;
      }
      const auto& left = o.athlete_events.left_s;
      // Counted only when the athlete left while the set ran (the drive enabled).
      const Sample* s0 = left ? sample_at(o, *left) : nullptr;
      if (!s0 || !s0->enabled) return tr;
      tr.counted = true;
      double stop = 1e9;
      for (const auto& s : o.samples)
        if (s.t >= *left && (!s.enabled || s.state == controller::SetState::Unloading)) {
          stop = s.t;
          break;
        }
      tr.figure = stop - *left;
      tr.figure2 = disabled_at(o, *left) - *left;
      tr.note = std::string(sim::to_string(t.leave)) + " in rep " + std::to_string(t.leave_rep) +
                ", stop " + (o.result ? controller::to_string(o.result->reason) : "none") +
                " after " + ms(stop - *left);
      if (stop - *left > 5.0)
        tr.error = "the set stopped " + ms(stop - *left) + " after the athlete left";
      return tr;
    });
    int counted = 0;
    const double worst = assert_trials(ts, 20, counted);
    CHECK(counted == 20);
    MESSAGE("hazard 12, ", group, ": worst stop ", ms(worst),
            " after leaving (drive disabled: worst ", ms(worst_figure2(ts, 20)), ") over ", counted,
            " trials");
  }
}
