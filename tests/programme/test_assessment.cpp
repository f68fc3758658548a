// The strength assessment's steps and result (programme/assessment.hpp) on
// synthetic time: warm-up, rests, trials, PAIN/STOP → incomplete, the
// spread refusal and its retry, beyond the machine's range.
#include <doctest/doctest.h>

#include "soleus/programme/assessment.hpp"

using namespace soleus::programme::assessment;

namespace {
constexpr std::int64_t kT0 = 1'800'000'000'000;

Config cfg() {
  Config c;
  c.rest_s = 3;
  c.trials = 3;
  c.max_spread_pct = 10;
  return c;
}
SetOutcome warmup_done() {
  SetOutcome o;
  o.stop_reason = "target_reached";
  o.range_bottom_mm = 30;
  o.range_top_mm = 130;
  return o;
}
SetOutcome push(double n, bool beyond = false, const char* why = "hold_complete") {
  SetOutcome o;
  o.stop_reason = why;
  o.peak_force_n = n;
  o.beyond_range = beyond;
  return o;
}
}  // namespace

TEST_CASE("assessment: warm-up, then trials at mid-range after each rest, best and spread") {
  Run run(cfg(), kT0);
  std::int64_t t = kT0;
  CHECK(run.next(t).kind == Next::Kind::Warmup);
  CHECK(run.step(t) == Step::Warmup);
  run.on_set_start(1, t);
  CHECK(run.next(t).kind == Next::Kind::None);  // a set runs: nothing else starts
  t += 20'000;
  run.on_set_end(warmup_done(), t);
  CHECK(run.step(t) == Step::Rest);
  auto n = run.next(t + 1000);
  CHECK(n.kind == Next::Kind::Wait);
  CHECK(n.rest_remaining_s == doctest::Approx(2.0));
  const double forces[] = {1000, 1050, 980};
  for (int i = 0; i < 3; ++i) {
    t += 3000;
    n = run.next(t);
    REQUIRE(n.kind == Next::Kind::Trial);
    CHECK(n.trial == i + 1);
    CHECK(n.hold_height_mm == doctest::Approx(80));
    run.on_set_start(2 + i, t);
    t += 6000;
    run.on_set_end(push(forces[i]), t);
  }
  CHECK(run.finished());
  const Result r = run.result();
  CHECK(r.complete);
  CHECK_FALSE(r.refused);
  REQUIRE(r.max_n);
  CHECK(*r.max_n == doctest::Approx(1050));
  REQUIRE(r.spread_pct);
  CHECK(*r.spread_pct == doctest::Approx(6.7));  // (1050 − 980) / 1050
  CHECK(run.next(t + 100'000).kind == Next::Kind::None);
}

TEST_CASE("assessment: PAIN or STOP in any set ends it at once, incomplete, no number") {
  for (const char* why : {"pain", "user_stop", "drive_fault", "user_left"}) {
    for (int at = 0; at < 3; ++at) {  // in the warm-up, the first or the second trial
      INFO(why, " at set ", at);
      Run run(cfg(), kT0);
      std::int64_t t = kT0;
      if (at == 0) {
        run.on_set_start(1, t);
        run.on_set_end(SetOutcome{why, 0, false, 30.0, 130.0}, t + 5000);
      } else {
        run.on_set_start(1, t);
        run.on_set_end(warmup_done(), t += 10'000);
        for (int i = 1; i < at; ++i) {
          run.on_set_start(1 + i, t += 3000);
          run.on_set_end(push(1000), t += 6000);
        }
        run.on_set_start(9, t += 3000);
        run.on_set_end(push(900, false, why), t += 2000);
      }
      CHECK(run.finished());
      const Result r = run.result();
      CHECK_FALSE(r.complete);
      CHECK_FALSE(r.refused);
      CHECK_FALSE(r.max_n);
      CHECK(r.note.find(why) != std::string::npos);
      CHECK_FALSE(run.retry(t));  // a stopped assessment is not retried: a new one is started
    }
  }
}

TEST_CASE(
    "assessment: trials that disagree by more than the configured spread are refused, a "
    "retry takes new trials and keeps the range") {
  Run run(cfg(), kT0);
  std::int64_t t = kT0;
  run.on_set_start(1, t);
  run.on_set_end(warmup_done(), t += 10'000);
  for (double f : {1000.0, 800.0, 950.0}) {
    run.on_set_start(2, t += 3000);
    run.on_set_end(push(f), t += 6000);
  }
  Result r = run.result();
  CHECK(run.finished());
  CHECK(r.refused);
  CHECK_FALSE(r.complete);
  CHECK_FALSE(r.max_n);
  CHECK(*r.spread_pct == doctest::Approx(20.0));
  CHECK(r.note.find("20.0 %") != std::string::npos);
  REQUIRE(run.retry(t));
  CHECK(run.retries() == 1);
  CHECK(run.trials_done() == 0);
  CHECK(run.warmed_up());
  auto n = run.next(t);  // no warm-up again, no rest first
  REQUIRE(n.kind == Next::Kind::Trial);
  CHECK(n.trial == 1);
  for (double f : {1000.0, 990.0, 1010.0}) {
    run.on_set_start(3, t);
    run.on_set_end(push(f), t += 6000);
    t += 3000;
  }
  r = run.result();
  CHECK(r.complete);
  CHECK(*r.max_n == doctest::Approx(1010));
  CHECK_FALSE(run.retry(t));  // a complete result is not retried
}

TEST_CASE(
    "assessment: a push beyond the machine's range ends it with \"at least max load\", never a "
    "number, the travel limit or speed trip reached while out-pushing is part of it") {
  for (const char* why : {"hold_complete", "travel_limit", "overspeed"}) {
    INFO(why);
    Run run(cfg(), kT0);
    std::int64_t t = kT0;
    run.on_set_start(1, t);
    run.on_set_end(warmup_done(), t += 10'000);
    run.on_set_start(2, t += 3000);
    run.on_set_end(push(1700), t += 6000);
    run.on_set_start(3, t += 3000);
    run.on_set_end(push(1790, true, why), t += 6000);
    CHECK(run.finished());  // no third push
    const Result r = run.result();
    CHECK(r.complete);
    CHECK(r.beyond_range);
    CHECK_FALSE(r.max_n);
    CHECK_FALSE(r.spread_pct);
    REQUIRE(run.trials().size() == 2);
    CHECK_FALSE(run.trials()[1].force_n);
    CHECK(run.trials()[1].beyond_range);
  }
  // travel_limit or overspeed without beyond_range are stops like any other
  for (const char* why : {"travel_limit", "overspeed"}) {
    std::int64_t t = kT0;
    Run other(cfg(), kT0);
    other.on_set_start(1, t);
    other.on_set_end(warmup_done(), t += 10'000);
    other.on_set_start(2, t += 3000);
    other.on_set_end(push(900, false, why), t += 6000);
    CHECK(other.finished());
    CHECK_FALSE(other.result().complete);
  }
}

TEST_CASE("assessment: a warm-up without a range ends it") {
  Run run(cfg(), kT0);
  run.on_set_start(1, kT0);
  SetOutcome o;
  o.stop_reason = "target_reached";
  run.on_set_end(o, kT0 + 1000);
  CHECK(run.finished());
  CHECK_FALSE(run.result().complete);
}
