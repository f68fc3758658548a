// The member's stored range (SetController, principle of operation 4a):
// confirmed by the light first rep (which then counts), not confirmed (the
// set calibrates from that rep), too old or outside the soft limits (the set
// calibrates and says why), and what a good calibration is (range_save).
// Whole sets on soleus-sim's machine models (rig.hpp), synthetic time.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "rig.hpp"

using namespace soleus::controller;
using namespace soleus::controller::test;

namespace {

/// Runs a set to its result; records the largest felt load commanded while
/// the light first rep ran (state Calibrating).
struct Outcome {
  SetResult result;
  double max_light_load_n = 0;
  bool ended = false;
};

Outcome run_set(Rig& rig, const SetParams& p, double max_s = 200) {
  Outcome o;
  REQUIRE_FALSE(rig.ctl->start_set(p, rig.t));
  o.ended = rig.run_until(
      [&] {
        if (rig.state() == SetState::Calibrating || rig.state() == SetState::Ready)
          o.max_light_load_n = std::max(o.max_light_load_n, rig.ctl->status().load_n);
        return !rig.sink.results.empty();
      },
      max_s);
  if (o.ended) o.result = rig.sink.results.back();
  return o;
}

/// The light load of the calibration rep with its brake at most (the load
/// law's calibrating branch): far below the sets' 600 N.
double light_max(const Rig& rig) {
  return rig.tcfg.calibration_load_n * (1.0 + rig.tcfg.brake_max_fraction) + 1.0;
}

std::string stored_range_text(const Collector& sink) {
  std::string all;
  for (const auto& e : sink.events)
    if (e.code == EventCode::StoredRange) all += std::string(e.text_view()) + "\n";
  return all;
}

}  // namespace

TEST_CASE("stored range, recent and confirmed: the light first rep counts, then the set's load") {
  Rig rig;
  rig.boot();
  auto p = Rig::isotonic(600, 5);
  p.range = Range{20, 100};  // the athlete's own range
  p.range_age_days = 3;
  const auto o = run_set(rig, p);
  REQUIRE(o.ended);
  const auto& r = o.result;
  CHECK(r.reason == StopReason::TargetReached);
  CHECK(r.reps == 5);
  CHECK(rig.sink.counted() == 5);
  CHECK(r.range_note == RangeNote::Confirmed);
  CHECK_FALSE(r.range_calibrated);
  CHECK_FALSE(r.range_save);  // confirmed, not measured: its age stays
  CHECK(r.range.bottom_mm == doctest::Approx(20).epsilon(0.1));  // found by the light rep
  CHECK(r.range.top_mm == doctest::Approx(100).epsilon(0.05));
  // The first rep ran at the light load, the others at the programmed one.
  CHECK(o.max_light_load_n <= light_max(rig));
  REQUIRE(rig.sink.reps.size() >= 5);
  CHECK(rig.sink.reps[0].counted);
  CHECK(rig.sink.reps[0].n == 1);
  CHECK(rig.sink.reps[0].mean_force_n < 250);
  for (std::size_t i = 1; i < 5; ++i)
    CHECK(rig.sink.reps[i].mean_force_n == doctest::Approx(600).epsilon(0.1));
  CHECK(stored_range_text(rig.sink).find("confirmed") != std::string::npos);
  CHECK_FALSE(rig.sink.has(EventCode::Calibrated));
}

TEST_CASE("stored range confirmed with its bottom a little low: the set uses the range found") {
  // The athlete's bottom is 20 mm; the stored one 14 mm (within 10 % of the
  // 86 mm span: confirmed). Under load the floor must not sit 6 mm below the
  // member's own bottom (hazard 10): the set goes by the range found today.
  Rig rig;
  rig.boot();
  auto p = Rig::isotonic(600, 3);
  p.range = Range{14, 100};
  const auto o = run_set(rig, p);
  REQUIRE(o.ended);
  CHECK(o.result.range_note == RangeNote::Confirmed);
  CHECK(o.result.reps == 3);
  CHECK(o.result.range.bottom_mm == doctest::Approx(20).epsilon(0.1));
  CHECK(o.result.range.top_mm == doctest::Approx(100).epsilon(0.05));
}

TEST_CASE("stored range confirmed on a 1-rep set: that light rep is the set") {
  Rig rig;
  rig.boot();
  auto p = Rig::isotonic(600, 1);
  p.range = Range{20, 100};
  const auto o = run_set(rig, p);
  REQUIRE(o.ended);
  CHECK(o.result.reason == StopReason::TargetReached);
  CHECK(o.result.reps == 1);
  CHECK(rig.sink.counted() == 1);
  CHECK(o.max_light_load_n <= light_max(rig));
  double max_load = 0;  // never the set's load: it ended on the light rep
  for (int i = 0; i < 300; ++i) {
    rig.step();
    max_load = std::max(max_load, rig.ctl->status().load_n);
  }
  CHECK(max_load <= light_max(rig));
}

TEST_CASE("stored range not confirmed (the member's range changed): calibrates from that rep") {
  for (const Range stored : {Range{35, 100}, Range{20, 80}, Range{10, 115}}) {
    CAPTURE(stored.bottom_mm);
    CAPTURE(stored.top_mm);
    Rig rig;
    rig.boot();
    auto p = Rig::isotonic(600, 4);
    p.range = stored;
    p.range_age_days = 1;
    const auto o = run_set(rig, p);
    REQUIRE(o.ended);
    const auto& r = o.result;
    CHECK(r.reason == StopReason::TargetReached);
    CHECK(r.range_note == RangeNote::NotConfirmed);
    CHECK(r.range_calibrated);
    CHECK(r.range_save);
    CHECK(r.range.bottom_mm == doctest::Approx(20).epsilon(0.1));
    CHECK(r.range.top_mm == doctest::Approx(100).epsilon(0.05));
    CHECK(o.max_light_load_n <= light_max(rig));
    // The light rep is not counted: the 4 reps are all at the set's load.
    CHECK(r.reps == 4);
    REQUIRE(rig.sink.counted() == 4);
    for (const auto& rep : rig.sink.reps)
      if (rep.counted) CHECK(rep.mean_force_n == doctest::Approx(600).epsilon(0.1));
    CHECK(stored_range_text(rig.sink).find("did not confirm") != std::string::npos);
    CHECK(rig.sink.has(EventCode::Calibrated));
  }
}

TEST_CASE("stored range too old: calibrates and says how old") {
  Rig rig;
  rig.boot();
  auto p = Rig::isotonic(600, 3);
  p.range = Range{20, 100};
  p.range_age_days = 41.5;
  const auto o = run_set(rig, p);
  REQUIRE(o.ended);
  CHECK(o.result.range_note == RangeNote::Stale);
  CHECK(o.result.range_age_days == doctest::Approx(41.5));
  CHECK(o.result.range_calibrated);
  CHECK(o.result.range_save);
  CHECK(o.result.reps == 3);
  CHECK(rig.sink.counted() == 3);
  CHECK(stored_range_text(rig.sink).find("your stored range is 41 days old") != std::string::npos);
  CHECK(rig.sink.has(EventCode::Calibrated));
  // At the limit it is still recent.
  Rig rig2;
  rig2.boot();
  p.range_age_days = rig2.tcfg.stored_range_max_age_days;
  const auto o2 = run_set(rig2, p);
  REQUIRE(o2.ended);
  CHECK(o2.result.range_note == RangeNote::Confirmed);
}

TEST_CASE("stored range outside the soft limits (machine re-calibrated): ignored, never refused") {
  const double travel = mechanics().travel_max_mm;
  for (const Range stored : {Range{1, 100}, Range{20, travel - 1}, Range{50, 60}}) {
    CAPTURE(stored.bottom_mm);
    CAPTURE(stored.top_mm);
    Rig rig;
    rig.boot();
    auto p = Rig::isotonic(600, 3);
    p.range = stored;
    const auto o = run_set(rig, p);
    REQUIRE(o.ended);
    CHECK(o.result.range_note == RangeNote::OutsideLimits);
    CHECK(o.result.range_calibrated);
    CHECK(o.result.range.bottom_mm == doctest::Approx(20).epsilon(0.1));
    CHECK(o.result.reps == 3);
    CHECK(o.max_light_load_n <= light_max(rig));
    CHECK(stored_range_text(rig.sink).find("outside the soft limits") != std::string::npos);
  }
}

TEST_CASE(
    "no stored range: calibrates and says so, a good calibration is saved, a PAIN stop's not") {
  Rig rig;
  rig.boot();
  const auto o = run_set(rig, Rig::isotonic(600, 3));
  REQUIRE(o.ended);
  CHECK(o.result.range_note == RangeNote::NoStoredRange);
  CHECK(o.result.range_age_days == -1);
  CHECK(o.result.range_save);
  CHECK(stored_range_text(rig.sink).find("no stored range") != std::string::npos);

  Rig pain;
  pain.boot();
  REQUIRE_FALSE(pain.ctl->start_set(Rig::isotonic(600, 10), pain.t));
  REQUIRE(pain.run_until([&] { return pain.state() == SetState::Active; }, 30));
  pain.run(2);
  pain.ctl->stop(StopReason::Pain, pain.t);
  REQUIRE(pain.run_until([&] { return !pain.sink.results.empty(); }, 10));
  CHECK(pain.sink.results.back().range_calibrated);
  CHECK_FALSE(pain.sink.results.back().range_save);

  // A set stopped before its calibration rep finished measures nothing.
  Rig early;
  early.boot();
  REQUIRE_FALSE(early.ctl->start_set(Rig::isotonic(600, 10), early.t));
  REQUIRE(early.run_until([&] { return early.state() == SetState::Calibrating; }, 5));
  early.run(1);
  early.ctl->stop(StopReason::UserStop, early.t);
  REQUIRE(early.run_until([&] { return !early.sink.results.empty(); }, 10));
  CHECK_FALSE(early.sink.results.back().range_save);
}
