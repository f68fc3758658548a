// The set summary's fatigue index and rep-to-rep decline (app::fatigue_metrics,
// docs/api.md "Fatigue"), a rep's tempo verdict, and both carried by the views
// built from stored rows (the API's and the exports' one source).
#include <doctest/doctest.h>

#include "soleus/app/set_metrics.hpp"
#include "soleus/app/views_from_storage.hpp"

using namespace soleus;
using app::fatigue_metrics;

TEST_CASE("fatigue index: fewer than 3 reps give null") {
  for (const auto& f : {std::vector<double>{}, {500}, {500, 450}}) {
    const auto m = fatigue_metrics(f);
    CHECK_FALSE(m.fatigue_index_pct.has_value());
    CHECK_FALSE(m.decline_n_per_rep.has_value());
  }
}

TEST_CASE("fatigue index: 3 to 5 reps compare one rep each end and 10 reps three") {
  // 3 reps: first 500, last 400 → 20 % drop; slope (400-500)/2 = -50 N/rep: a decline of 50.
  auto m = fatigue_metrics({500, 450, 400});
  REQUIRE(m.fatigue_index_pct);
  CHECK(*m.fatigue_index_pct == doctest::Approx(20));
  CHECK(*m.decline_n_per_rep == doctest::Approx(50));
  // 4 reps: a third is 1 rep: 400 vs 300 → 25 %; slope of 400,380,320,300 = -36 N/rep.
  m = fatigue_metrics({400, 380, 320, 300});
  CHECK(*m.fatigue_index_pct == doctest::Approx(25));
  CHECK(*m.decline_n_per_rep == doctest::Approx(36));
  // 5 reps: 1 rep each end; a middle rep does not count in the index.
  m = fatigue_metrics({500, 100, 900, 480, 450});
  CHECK(*m.fatigue_index_pct == doctest::Approx(10));
  // 10 reps: the first three (mean 500) against the last three (mean 400).
  m = fatigue_metrics({510, 500, 490, 470, 460, 450, 440, 410, 400, 390});
  CHECK(*m.fatigue_index_pct == doctest::Approx(20));
  CHECK(*m.decline_n_per_rep > 0);
  // A rising set has a negative index and a negative decline; a steady one 0.
  m = fatigue_metrics({300, 330, 360});
  CHECK(*m.fatigue_index_pct == doctest::Approx(-20));
  CHECK(*m.decline_n_per_rep == doctest::Approx(-30));
  m = fatigue_metrics({300, 300, 300, 300, 300, 300});
  CHECK(*m.fatigue_index_pct == doctest::Approx(0));
  CHECK(*m.decline_n_per_rep == doctest::Approx(0));
  // A first third of 0 N has no ratio: null index, the decline still there.
  m = fatigue_metrics({0, 10, 20});
  CHECK_FALSE(m.fatigue_index_pct.has_value());
  CHECK(*m.decline_n_per_rep == doctest::Approx(-10));
}

TEST_CASE("tempo verdict: the sign of the deviation (actual - prescribed)") {
  CHECK(app::tempo_verdict(true, -0.2) == "on_tempo");
  CHECK(app::tempo_verdict(false, -0.8) == "too_fast");
  CHECK(app::tempo_verdict(false, 1.1) == "too_slow");
}

TEST_CASE(
    "the set view carries the fatigue index of its counted reps with partials and the first "
    "counted rep left out") {
  storage::SetRow s;
  s.id = 9;
  s.mode = "isotonic";
  s.stop_reason = "target_reached";
  std::vector<storage::RepRow> reps;
  // The first counted rep ran under the ramp to the full load (300 N): left
  // out of the fatigue figures; the 999 is a partial.
  const double forces[] = {300, 500, 999, 450, 400};
  int n = 0;
  for (int i = 0; i < 5; ++i) {
    storage::RepRow r;
    r.set_id = 9;
    r.seq = i + 1;
    r.partial = i == 2;
    r.n = r.partial ? 0 : ++n;
    r.mean_force_n = forces[i];
    r.on_tempo = i != 4;
    r.tempo_deviation_s = i == 4 ? -0.9 : 0.1;
    reps.push_back(r);
  }
  const auto v = app::set_view(s, reps);
  REQUIRE(v.fatigue_index_pct);
  CHECK(*v.fatigue_index_pct == doctest::Approx(20));
  CHECK(*v.decline_n_per_rep == doctest::Approx(50));
  REQUIRE(v.rep_log.size() == 4);
  CHECK(v.rep_log[3].tempo == "too_fast");
  CHECK(v.rep_log[0].tempo == "on_tempo");
  // Three counted reps leave two: no figures.
  reps.erase(reps.begin() + 3);
  CHECK_FALSE(app::set_view(s, reps).fatigue_index_pct.has_value());
  // A listing (no reps read) has none.
  CHECK_FALSE(app::set_view(s).fatigue_index_pct.has_value());
  // The history's set: % of counted reps on tempo (2 of the 3 left).
  const auto hs = app::history_set_view(s, reps);
  REQUIRE(hs.on_tempo_pct);
  CHECK(*hs.on_tempo_pct == doctest::Approx(200.0 / 3));
}
