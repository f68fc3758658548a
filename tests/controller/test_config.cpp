// [control] and [training]: defaults, bounds, unknown keys and cross-field rules.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "soleus/controller/config.hpp"
#include "soleus/controller/set_controller.hpp"

using namespace soleus;
using namespace soleus::controller;

namespace {
config::Section section(const config::Document& d, const char* name) {
  return d.root().section(name);
}
}  // namespace

TEST_CASE("config: defaults, with the caller's loop rate") {
  auto d = config::Document::parse_string("[control]\n[training]\n", "t.toml");
  machine::Limits lim;
  auto c = ControlConfig::parse(section(d, "control"), 50, lim);
  CHECK(c.loop_hz == 50);
  CHECK_FALSE(c.realtime);
  CHECK(c.comm_loss_window_ms < lim.watchdog_ms);
  auto t = TrainingConfig::parse(section(d, "training"), lim);
  CHECK(t.rep_rom_fraction == doctest::Approx(0.9));
  CHECK(t.force_drop_pct == 20);
  CHECK(t.range_loss_reps == 2);
  CHECK(t.pace_loss_factor == doctest::Approx(1.5));
}

TEST_CASE("config: the shipped files' sections parse") {
  for (const char* f : {"reference-rtu.toml", "reference-tcp.toml", "sim.toml"}) {
    CAPTURE(f);
    auto d = config::Document::parse_file(std::string(SOLEUS_CONFIG_DIR) + "/" + f);
    machine::Limits lim;
    CHECK_NOTHROW(ControlConfig::parse(section(d, "control"), 100, lim));
    CHECK_NOTHROW(TrainingConfig::parse(section(d, "training"), lim));
  }
}

TEST_CASE("config: an unknown key is refused with its line") {
  auto d = config::Document::parse_string("[control]\nloop_hz = 100\nlet_go = 3\n", "t.toml");
  try {
    ControlConfig::parse(section(d, "control"), 100, machine::Limits{});
    FAIL("accepted an unknown key");
  } catch (const config::ConfigError& e) {
    CHECK(e.line() == 3);
    CHECK(e.key() == "control.let_go");
  }
}

TEST_CASE("config: a comm-loss window not shorter than the drive watchdog is refused at its key") {
  auto d = config::Document::parse_string("[control]\n\ncomm_loss_window_ms = 100\n", "t.toml");
  try {
    ControlConfig::parse(section(d, "control"), 100, machine::Limits{});
    FAIL("accepted");
  } catch (const config::ConfigError& e) {
    CHECK(e.key() == "control.comm_loss_window_ms");
    CHECK(e.line() == 3);
    CHECK(std::string(e.what()).find("watchdog") != std::string::npos);
  }
}

TEST_CASE("config: out-of-range values are refused") {
  auto d = config::Document::parse_string("[training]\nrep_rom_fraction = 1.2\n", "t.toml");
  CHECK_THROWS_AS(TrainingConfig::parse(section(d, "training"), machine::Limits{}),
                  config::ConfigError);
  auto d2 = config::Document::parse_string("[control]\noverspeed_mm_s = 90\n", "t.toml");
  CHECK_THROWS_AS(ControlConfig::parse(section(d2, "control"), 100, machine::Limits{}),
                  config::ConfigError);
}

TEST_CASE("config: the cross-check's persistence: its default, and its bounds at its key") {
  machine::Limits lim;
  auto d = config::Document::parse_string("[control]\n", "t.toml");
  CHECK(ControlConfig::parse(section(d, "control"), 100, lim).cross_check_s ==
        doctest::Approx(0.5));
  auto d2 = config::Document::parse_string("[control]\n\ncross_check_s = 0.01\n", "t.toml");
  try {
    ControlConfig::parse(section(d2, "control"), 100, lim);
    FAIL("accepted");
  } catch (const config::ConfigError& e) {
    CHECK(e.key() == "control.cross_check_s");
    CHECK(e.line() == 3);
  }
}

TEST_CASE(
    "config: the frozen reading's keys: defaults, bounds, and cross-field rules at their key") {
  machine::Limits lim;
  auto d = config::Document::parse_string("[control]\n", "t.toml");
  auto c = ControlConfig::parse(section(d, "control"), 100, lim);
  CHECK(c.frozen_cell_s == doctest::Approx(0.5));
  CHECK(c.frozen_cell_band_n == doctest::Approx(0.05));
  CHECK(c.frozen_cell_evidence_n == doctest::Approx(20));
  auto refused_at = [&](const char* text, double hz) {
    auto doc = config::Document::parse_string(text, "t.toml");
    try {
      ControlConfig::parse(section(doc, "control"), hz, lim);
    } catch (const config::ConfigError& e) {
      CHECK(e.line() == 3);
      return e.key();
    }
    return std::string("accepted");
  };
  CHECK(refused_at("[control]\n\nfrozen_cell_s = 0.05\n", 100) == "control.frozen_cell_s");
  CHECK(refused_at("[control]\n\nfrozen_cell_s = 11\n", 100) == "control.frozen_cell_s");
  CHECK(refused_at("[control]\n\nfrozen_cell_band_n = -0.1\n", 100) ==
        "control.frozen_cell_band_n");
  CHECK(refused_at("[control]\n\nfrozen_cell_band_n = 10.5\n", 100) ==
        "control.frozen_cell_band_n");
  CHECK(refused_at("[control]\n\nfrozen_cell_evidence_n = 0.5\n", 100) ==
        "control.frozen_cell_evidence_n");
  // Five loop periods at least: 0.12 s is under 5 periods at 40 Hz (0.125 s).
  CHECK(refused_at("[control]\nloop_hz = 40\nfrozen_cell_s = 0.12\n", 100) ==
        "control.frozen_cell_s");
  CHECK(refused_at("[control]\nloop_hz = 40\nfrozen_cell_s = 0.13\n", 100) == "accepted");
  // The band must be smaller than the force at which the reading is judged.
  CHECK(refused_at("[control]\nlet_go_force_n = 5\nfrozen_cell_band_n = 5\n", 100) ==
        "control.frozen_cell_band_n");
}

TEST_CASE("config: a brake gain that would oscillate at the loop rate is refused") {
  struct Null : EventSink {
    void on_event(const Event&) override {}
    void on_rep(const RepRecord&) override {}
    void on_set_result(const SetResult&) override {}
  } sink;
  ControlConfig c;
  c.loop_hz = 50;
  TrainingConfig t;
  t.brake_gain_n_per_mm_s = 5;  // 5000 N·s/m × 20 ms / 110 kg = 0.9
  CHECK_THROWS_AS(SetController(c, t, machine::Mechanics{}, machine::Limits{}, sink),
                  std::invalid_argument);
  t.brake_gain_n_per_mm_s = 2;
  CHECK_NOTHROW(SetController(c, t, machine::Mechanics{}, machine::Limits{}, sink));
}

TEST_CASE("tempo strings") {
  auto t = Tempo::parse("2.5-0-2-1");
  REQUIRE(t);
  CHECK(t->eccentric_s == 2.5);
  CHECK(t->bottom_s == 0);
  CHECK(t->concentric_s == 2);
  CHECK(t->top_s == 1);
  for (const char* bad :
       {"3-1-3", "3-1-3-1-1", "a-1-3-1", "-1-1-3-1", "3--3-1", "3-1-3-61", "1.2.3-1-1-1", ""})
    CHECK_FALSE(Tempo::parse(bad));
}

TEST_CASE("set parameters are validated by the controller") {
  TrainingConfig t;
  machine::Limits lim;
  machine::Mechanics mech;
  SetParams p;
  p.mode = Mode::Isotonic;
  p.load_n = 600;
  p.target_reps = 10;
  CHECK_FALSE(validate(p, t, lim, mech));
  auto field = [&](SetParams q) {
    auto e = validate(q, t, lim, mech);
    return e ? e->field : std::string();
  };
  SetParams q = p;
  q.load_n = 1801;
  CHECK(field(q) == "load_n");
  q = p;
  q.load_n = 10;
  CHECK(field(q) == "load_n");
  q = p;
  q.target_reps = 0;
  CHECK(field(q) == "target_reps");
  q = p;
  q.target_reps = 101;
  CHECK(field(q) == "target_reps");
  q = p;
  q.hold_s = 30;
  CHECK(field(q) == "hold_s");
  q = p;
  q.force_drop_pct = 4;
  CHECK(field(q) == "force_drop_pct");
  q = p;
  q.force_drop_pct = 51;
  CHECK(field(q) == "force_drop_pct");
  q = p;
  q.mode = Mode::Eccentric;
  q.load_n = 1000;
  q.eccentric_pct = 90;  // 1900 N > 1800 N
  CHECK(field(q) == "eccentric_pct");
  q.eccentric_pct = 80;
  CHECK(field(q) == "");
  q = p;
  q.mode = Mode::Isometric;
  CHECK(field(q) == "target_reps");
  q.target_reps = 0;
  CHECK(field(q) == "hold_s");
  q.hold_s = 30;
  CHECK(field(q) == "");
  q = p;
  // A stored range that cannot be used is ignored by start_set (the set
  // calibrates and says why), not refused: a member is never locked out by it.
  q.range = Range{10, 20};
  CHECK(field(q) == "");
  q.range_age_days = std::nan("");
  CHECK(field(q) == "range_age_days");
}

TEST_CASE("config: training.stored_range_max_age_days is read and bounded, 30 by default") {
  machine::Limits lim;
  auto dflt = config::Document::parse_string("[training]\n", "t.toml");
  CHECK(TrainingConfig::parse(section(dflt, "training"), lim).stored_range_max_age_days == 30);
  auto d = config::Document::parse_string("[training]\nstored_range_max_age_days = 7\n", "t.toml");
  CHECK(TrainingConfig::parse(section(d, "training"), lim).stored_range_max_age_days == 7);
  auto bad =
      config::Document::parse_string("[training]\nstored_range_max_age_days = -1\n", "t.toml");
  CHECK_THROWS(TrainingConfig::parse(section(bad, "training"), lim));
}

TEST_CASE("config: training.rest_limit_s, the mid-set rest's limit, is read and bounded") {
  machine::Limits lim;
  auto d = config::Document::parse_string("[training]\nrest_limit_s = 7.5\n", "t.toml");
  CHECK(TrainingConfig::parse(section(d, "training"), lim).rest_limit_s == doctest::Approx(7.5));
  auto bad = config::Document::parse_string("[training]\n\nrest_limit_s = 0\n", "t.toml");
  try {
    TrainingConfig::parse(section(bad, "training"), lim);
    FAIL("accepted");
  } catch (const config::ConfigError& e) {
    CHECK(e.key() == "training.rest_limit_s");
    CHECK(e.line() == 3);
  }
}
