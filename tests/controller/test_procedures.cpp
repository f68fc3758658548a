// Maintenance procedures as loop activities (procedure.hpp): the range check
// and a span calibration's sampling, run by the ControlLoop cycle by cycle on
// synthetic time against soleus-sim's machine (rig.hpp); and the span
// calibration's numbers, a pure function.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "rig.hpp"
#include "soleus/controller/control_loop.hpp"
#include "soleus/controller/procedure.hpp"

using namespace soleus::controller;
using namespace soleus::controller::test;

namespace {
struct FakeClock : Clock {
  double t = 100.0;
  double now() override { return t; }
  void sleep_until(double until) override { t = std::max(t, until); }
};

struct LoopRig {
  ControlConfig cc;
  TrainingConfig tc;
  FakeClock clk;
  SimIo io{clk};
  std::unique_ptr<ControlLoop> loop;
  std::vector<Event> events;

  explicit LoopRig(double pad_mm = 5) {
    io.athlete.present = false;  // nobody on the machine
    io.place(pad_mm, 0);
    loop = std::make_unique<ControlLoop>(cc, tc, mechanics(), limits(), io, clk);
    cycles(20);  // armed and reset
    REQUIRE(loop->snapshot().latch_ok);
  }
  void cycle() {
    loop->step();
    clk.t += 0.01;
    Event e;
    while (loop->pop_event(e)) events.push_back(e);
  }
  void cycles(int n) {
    for (int i = 0; i < n; ++i) cycle();
  }
  Snapshot snap() const { return loop->snapshot(); }
  /// Cycles until the procedure `id` has a result; at most `max_s`.
  bool until_result(std::uint32_t id, double max_s) {
    for (int i = 0; i < static_cast<int>(max_s * 100); ++i) {
      cycle();
      if (snap().procedure.last.id == id && snap().procedure.running == ProcedureKind::None)
        return true;
    }
    return false;
  }
  bool until(const std::function<bool()>& pred, double max_s) {
    for (int i = 0; i < static_cast<int>(max_s * 100); ++i) {
      cycle();
      if (pred()) return true;
    }
    return false;
  }
  void bench(const std::string& json) {
    const auto r = io.machine().control(boost::json::parse(json));
    REQUIRE(r.at("ok").as_bool());
  }
  const Event* find(EventCode c, double value) const {
    for (auto& e : events)
      if (e.code == c && e.value == value) return &e;
    return nullptr;
  }
  int count(EventCode c) const {
    return static_cast<int>(
        std::count_if(events.begin(), events.end(), [c](const Event& e) { return e.code == c; }));
  }
};

SpanStats stats_of(const std::vector<double>& v) {
  SpanStats s;
  for (double x : v) s.add(x);
  return s;
}
}  // namespace

TEST_CASE(
    "span: fit_span takes the factor from still readings, and refuses what cannot be trusted") {
  std::vector<double> still;
  still.reserve(100);
  for (int i = 0; i < 100; ++i)
    still.push_back(-205.9 + ((i % 5) - 2) * 0.3);  // a weight pulls the pad down
  const SpanStats s = stats_of(still);
  CHECK(s.n == 100);
  CHECK(s.mean == doctest::Approx(-205.9));
  CHECK(s.sd() == doctest::Approx(std::sqrt(0.18)).epsilon(1e-6));
  SpanFit f = fit_span(s, 196.1);
  REQUIRE_MESSAGE(f.ok, f.message);
  CHECK(f.gain == doctest::Approx(196.1 / 205.9));
  CHECK(f.measured_n == doctest::Approx(205.9));
  CHECK(f.mean_n == doctest::Approx(-205.9));

  SUBCASE("too few readings: not now") {
    f = fit_span(stats_of(std::vector<double>(19, -205.9)), 196.1);
    CHECK_FALSE(f.ok);
    CHECK(f.field == "state");
  }
  SUBCASE("nothing hangs on the pad: the weight is wrong") {
    f = fit_span(stats_of(std::vector<double>(100, 12.0)), 196.1);
    CHECK_FALSE(f.ok);
    CHECK(f.field == "known_n");
    CHECK(f.message.find("12.0 N") != std::string::npos);
  }
  SUBCASE("a swinging weight: not steady") {
    std::vector<double> swing;
    swing.reserve(100);
    for (int i = 0; i < 100; ++i) swing.push_back(-205.9 + (i % 2 ? 6.0 : -6.0));
    f = fit_span(stats_of(swing), 196.1);
    CHECK_FALSE(f.ok);
    CHECK(f.field == "state");
    CHECK(f.message.find("not steady") != std::string::npos);
  }
  SUBCASE("a factor outside 0.8-1.25: the weight entered is wrong") {
    f = fit_span(s, 400);
    CHECK_FALSE(f.ok);
    CHECK(f.field == "known_n");
    f = fit_span(s, 0.79 * 205.9);
    CHECK_FALSE(f.ok);
    f = fit_span(s, 0.81 * 205.9);
    CHECK(f.ok);
  }
}

TEST_CASE(
    "procedure: a range check runs in the loop: top, bottom, back to rest, disabled, within the "
    "move's limits") {
  LoopRig r;
  const std::size_t from = r.io.written.size();
  REQUIRE(r.loop->post(Command::range_check(7)));
  r.cycle();
  CHECK(r.snap().procedure.running == ProcedureKind::RangeCheck);
  CHECK(r.snap().procedure.id == 7);
  CHECK(r.find(EventCode::ProcedureStarted, 7) != nullptr);
  double highest = 0;
  bool rose = false, lowered = false;
  double fastest_leg[4] = {0, 0, 0, 0};
  for (int i = 0; i < 6000 && r.snap().procedure.running != ProcedureKind::None; ++i) {
    const int leg = r.snap().procedure.leg;
    r.io.fastest_mm_s = 0;
    r.cycle();
    fastest_leg[leg] = std::max(fastest_leg[leg], r.io.fastest_mm_s);
    highest = std::max(highest, r.io.pos());
    rose = rose || r.snap().procedure.leg == 1;
    lowered = lowered || r.snap().procedure.leg == 2;
  }
  const ProcedureResult res = r.snap().procedure.last;
  INFO("why: ", std::string(res.why_view()));
  REQUIRE(res.id == 7);
  CHECK(res.outcome == ProcedureOutcome::Done);
  CHECK(res.ok);
  CHECK(rose);
  CHECK(lowered);
  const double hi = mechanics().travel_max_mm - r.cc.soft_travel_margin_mm - 1.0;
  const double lo = r.cc.soft_travel_margin_mm + 1.0;
  CHECK(res.up.arrived);
  CHECK(std::abs(res.up.reached_mm - hi) <= RangeCheckRules::kArriveUpMm);
  CHECK(res.down.arrived);
  CHECK(std::abs(res.down.reached_mm - lo) <= RangeCheckRules::kArriveDownMm);
  CHECK(highest < mechanics().travel_max_mm - 1);  // never to the hard stop
  CHECK(res.up.peak_force_n <= r.cc.move_max_force_n + 1e-9);
  // The move's limits, every millisecond and every command.
  // The legs at move_speed_mm_s in every millisecond with the drive enabled.
  // Parking, return to rest ends in the unload: its support fades from the
  // bottom leg's 4 mm and the pad drops onto its lower stop (seen at ~40 mm/s),
  // under the drive's SPEED_LIMIT only; as for any return to rest.
  CAPTURE(fastest_leg[3]);
  CHECK(fastest_leg[1] <= r.cc.move_speed_mm_s * 1.05);
  CHECK(fastest_leg[2] <= r.cc.move_speed_mm_s * 1.05);
  CHECK(fastest_leg[3] <= limits().max_speed_mm_s * 1.1);
  for (std::size_t i = from; i < r.io.written.size(); ++i) {
    CHECK(r.io.written[i].force_n <= 0);  // a move never pushes down
    CHECK(r.io.written[i].force_n >= -r.cc.move_max_force_n - 1e-9);
  }
  // Back to rest, unloaded, idle.
  CHECK_FALSE(r.io.drive().enabled());
  CHECK(r.snap().ctl.state == SetState::Idle);
  CHECK_FALSE(r.snap().ctl.moving);
  CHECK(r.io.pos() < lo + 1);
  const Event* ended = r.find(EventCode::ProcedureEnded, 7);
  REQUIRE(ended != nullptr);
  CHECK(ended->severity == Severity::Info);
}

TEST_CASE(
    "procedure: STOP mid range check: the move stops through the unload and the pad is not moved "
    "again") {
  LoopRig r;
  REQUIRE(r.loop->post(Command::range_check(3)));
  REQUIRE(r.until([&] { return r.io.pos() > 60; }, 10));
  REQUIRE(r.snap().procedure.running == ProcedureKind::RangeCheck);
  REQUIRE(r.loop->post(Command::stop(StopReason::UserStop)));
  r.cycle();
  CHECK(r.snap().ctl.state == SetState::Unloading);  // the one stop path, not a cut
  REQUIRE(r.until_result(3, 20));
  const ProcedureResult res = r.snap().procedure.last;
  CHECK(res.outcome == ProcedureOutcome::Aborted);
  CHECK_FALSE(res.ok);
  CHECK_FALSE(res.up.arrived);
  CHECK_FALSE(res.down.tried);
  CHECK(res.why_view() == "stopped with STOP");
  CHECK_FALSE(r.io.drive().enabled());
  CHECK(r.io.written.back().force_n == 0);
  // Nothing enables the drive afterwards: the routine does not move again.
  const std::size_t from = r.io.written.size();
  r.cycles(300);
  bool enabled = false;
  for (std::size_t i = from; i < r.io.written.size(); ++i)
    enabled = enabled || r.io.written[i].enable;
  CHECK_FALSE(enabled);
  CHECK(r.snap().ctl.state == SetState::Idle);
}

TEST_CASE("procedure: a fault mid range check ends it with the torque removed") {
  LoopRig r;
  REQUIRE(r.loop->post(Command::range_check(4)));
  REQUIRE(r.until([&] { return r.io.pos() > 50; }, 10));
  SUBCASE("a drive fault: torque off at once") {
    r.io.drive_fault(4);
    r.cycle();
    r.cycle();  // the fault is read in this cycle; its command goes out with the next exchange
    CHECK_FALSE(r.io.written.back().enable);
    CHECK(r.io.written.back().force_n == 0);
  }
  SUBCASE("the load cell's ADC fails: the supervisor trips, the move unloads") {
    r.bench(R"({"cmd":"fault","kind":"adc_error","on":true})");
  }
  REQUIRE(r.until_result(4, 20));
  const ProcedureResult res = r.snap().procedure.last;
  CHECK(res.outcome == ProcedureOutcome::Done);
  CHECK_FALSE(res.ok);
  CHECK_FALSE(res.up.arrived);
  CHECK(res.why_view() == "a fault latched: see the event log");
  CHECK_FALSE(r.snap().latch_ok);
  CHECK(r.until([&] { return !r.io.drive().enabled(); }, 3));
  r.cycles(50);
  CHECK_FALSE(r.io.drive().enabled());
  CHECK_FALSE(r.io.written.back().enable);
  CHECK(r.io.written.back().force_n == 0);
  CHECK(r.snap().ctl.state == SetState::Fault);
}

TEST_CASE(
    "procedure: a range check is refused with somebody on the machine, when stale, and while one "
    "runs") {
  LoopRig r;
  SUBCASE("120 N on the pad") {
    r.bench(R"({"cmd":"bench","seated":false,"weight_n":120})");
    r.cycles(30);
    const std::size_t from = r.io.written.size();
    REQUIRE(r.loop->post(Command::range_check(9)));
    REQUIRE(r.until_result(9, 1));
    const ProcedureResult res = r.snap().procedure.last;
    CHECK(res.outcome == ProcedureOutcome::Refused);
    CHECK(std::string(res.why_view()).find("needs the machine empty") != std::string::npos);
    for (std::size_t i = from; i < r.io.written.size(); ++i) CHECK_FALSE(r.io.written[i].enable);
  }
  SUBCASE("taken 250 ms after it was posted") {
    REQUIRE(r.loop->post(Command::range_check(10)));
    r.clk.t += 0.25;
    REQUIRE(r.until_result(10, 1));
    CHECK(r.snap().procedure.last.outcome == ProcedureOutcome::Refused);
    CHECK(std::string(r.snap().procedure.last.why_view()).find("stale") != std::string::npos);
    CHECK_FALSE(r.snap().ctl.moving);
  }
  SUBCASE(
      "while one runs: the second is refused, a set, a move and a tare too, the first goes on") {
    REQUIRE(r.loop->post(Command::range_check(11)));
    r.cycles(20);
    REQUIRE(r.loop->post(Command::range_check(12)));
    auto p = Rig::isotonic(600, 3);
    p.range = Range{20, 100};
    p.set_id = 77;
    REQUIRE(r.loop->post(Command::start_set(p)));
    REQUIRE(r.loop->post(Command::hold_to_move(10)));
    REQUIRE(r.loop->post(Command::of(Command::Kind::Tare)));
    r.cycle();
    const Event* second = r.find(EventCode::ProcedureEnded, 12);
    REQUIRE(second != nullptr);
    CHECK(std::string(second->text_view()).find("another maintenance procedure") !=
          std::string::npos);
    CHECK(r.count(EventCode::SetRefused) == 1);
    CHECK(r.count(EventCode::CommandRefused) == 2);
    CHECK_FALSE(r.snap().ctl.set_running);
    CHECK(r.snap().procedure.running == ProcedureKind::RangeCheck);
    CHECK(r.snap().procedure.id == 11);
    REQUIRE(r.until_result(11, 60));
    CHECK(r.snap().procedure.last.ok);
  }
}

TEST_CASE("procedure: span sampling in the loop: 2 s of fresh readings without the factor in use") {
  LoopRig r(0.0);  // the pad on its lower stop
  // Tare with the pad empty, then a 20 kg weight on a transmitter reading 5 % high.
  REQUIRE(r.loop->post(Command::of(Command::Kind::Tare)));
  r.cycles(30);
  REQUIRE(r.count(EventCode::Tared) == 1);
  r.bench(R"({"cmd":"bench","seated":false,"weight_n":196.1,"cell_gain":1.05})");
  Command g = Command::of(Command::Kind::SetForceGain);
  g.gain = 1.2;  // a factor in use: the samples must not contain it
  REQUIRE(r.loop->post(g));
  r.cycles(30);
  CHECK(r.snap().cell.force_n == doctest::Approx(-196.1 * 1.05 * 1.2).epsilon(0.02));

  const std::uint64_t c0 = r.snap().cycle;
  REQUIRE(r.loop->post(Command::span_sampling(21)));
  r.cycle();
  CHECK(r.snap().procedure.running == ProcedureKind::SpanSampling);
  REQUIRE(r.until_result(21, 3));
  const ProcedureResult res = r.snap().procedure.last;
  INFO("why: ", std::string(res.why_view()));
  CHECK(res.outcome == ProcedureOutcome::Done);
  CHECK(res.ok);
  CHECK(res.gain_before == doctest::Approx(1.2));
  const auto took = r.snap().cycle - c0;
  CHECK(took >= 200);
  CHECK(took <= 203);
  // One sample per fresh read: 2 s at 100 Hz, less the cycles whose cell read
  // gave way to the drive's periodic read-back (once a second).
  CHECK(res.samples.n >= 190);
  CHECK(res.samples.n < took);
  CHECK(res.samples.mean == doctest::Approx(-196.1 * 1.05).epsilon(0.01));
  const SpanFit fit = fit_span(res.samples, 196.1);
  REQUIRE_MESSAGE(fit.ok, fit.message);
  CHECK(fit.gain == doctest::Approx(1 / 1.05).epsilon(0.01));
  // Sampling only reads: the drive was never enabled.
  CHECK_FALSE(r.io.drive().enabled());
  CHECK(r.snap().force_gain == doctest::Approx(1.2));  // applying the factor is the caller's
}

TEST_CASE(
    "procedure: span sampling ends on STOP and on a failing load cell, and is refused while a move "
    "runs") {
  LoopRig r;
  r.bench(R"({"cmd":"bench","seated":false,"weight_n":196.1})");
  r.cycles(30);
  SUBCASE("STOP") {
    REQUIRE(r.loop->post(Command::span_sampling(31)));
    r.cycles(50);
    REQUIRE(r.loop->post(Command::stop(StopReason::UserStop)));
    REQUIRE(r.until_result(31, 1));
    CHECK(r.snap().procedure.last.outcome == ProcedureOutcome::Aborted);
    CHECK(r.snap().procedure.last.why_view() == "stopped with STOP");
    CHECK(r.snap().cycle <= 20 + 30 + 50 + 3);  // at once, not after the 2 s
  }
  SUBCASE("the ADC fails") {
    REQUIRE(r.loop->post(Command::span_sampling(32)));
    r.cycles(50);
    r.bench(R"({"cmd":"fault","kind":"adc_error","on":true})");
    REQUIRE(r.until_result(32, 1));
    CHECK(r.snap().procedure.last.outcome == ProcedureOutcome::Done);
    CHECK_FALSE(r.snap().procedure.last.ok);
    CHECK(r.snap().procedure.last.why_view() == "the load cell failed during the measurement");
  }
  SUBCASE("a hold-to-move in progress") {
    r.bench(R"({"cmd":"bench","seated":false,"weight_n":0})");
    REQUIRE(r.loop->post(Command::hold_to_move(60)));
    r.cycles(5);
    REQUIRE(r.snap().ctl.moving);
    REQUIRE(r.loop->post(Command::span_sampling(33)));
    REQUIRE(r.until_result(33, 1));
    CHECK(r.snap().procedure.last.outcome == ProcedureOutcome::Refused);
  }
}
