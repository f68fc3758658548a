#include <doctest/doctest.h>

#include "soleus/sim/options.hpp"

using namespace soleus::sim;

namespace {
SimOptions parse(std::vector<const char*> args) {
  args.insert(args.begin(), "soleus-sim");
  return parse_options(static_cast<int>(args.size()), args.data());
}
}  // namespace

TEST_CASE("options: endpoints, athlete flags and faults become control requests") {
  const auto o = parse({"--config", "x.toml", "--tcp", "0", "--control-port", "0",
                        "--athlete-style", "push_hard", "--capacity-n", "900", "--tempo", "2-1-2-1",
                        "--fault", "drop:0.05", "--fault", "sto", "--wire-time", "--seed", "42"});
  CHECK(o.config_path == "x.toml");
  CHECK(*o.tcp == "0");
  CHECK(*o.control_port == 0);
  CHECK(o.wire_time);
  CHECK(o.seed == 42);
  REQUIRE(o.setup.size() == 3);
  CHECK(o.setup[0].at("cmd").as_string() == "athlete");
  CHECK(o.setup[0].at("style").as_string() == "push_hard");
  CHECK(o.setup[0].at("capacity_n").as_double() == 900);
  CHECK(o.setup[1].at("kind").as_string() == "drop");
  CHECK(o.setup[1].at("p").as_double() == doctest::Approx(0.05));
  CHECK(o.setup[2].at("kind").as_string() == "sto");
}

TEST_CASE("options: odd replies by count or at a rate, and the value freeze") {
  const auto o = parse({"--config", "x.toml", "--fault", "bad_crc:3", "--fault",
                        "wrong_unit:p=0.25", "--fault", "cell_value_freeze"});
  REQUIRE(o.setup.size() == 3);
  CHECK(o.setup[0].at("count").as_double() == 3);
  CHECK_FALSE(o.setup[0].contains("p"));
  CHECK(o.setup[1].at("kind").as_string() == "wrong_unit");
  CHECK(o.setup[1].at("p").as_double() == doctest::Approx(0.25));
  CHECK_FALSE(o.setup[1].contains("count"));
  CHECK(o.setup[2].at("kind").as_string() == "cell_value_freeze");
  CHECK_THROWS_WITH(parse({"--config", "x", "--fault", "cell_value_freeze:1"}),
                    doctest::Contains("cell_value_freeze"));
}

TEST_CASE("options: refusals name the option") {
  CHECK_THROWS_WITH(parse({"--tcp", "0"}), doctest::Contains("--config"));
  CHECK_THROWS_WITH(parse({"--config", "x", "--bogus"}), doctest::Contains("--bogus"));
  CHECK_THROWS_WITH(parse({"--config", "x", "--parity", "X"}), doctest::Contains("--parity"));
  CHECK_THROWS_WITH(parse({"--config", "x", "--fault", "drop"}), doctest::Contains("drop"));
  CHECK_THROWS_WITH(parse({"--config", "x", "--capacity-n", "lots"}),
                    doctest::Contains("--capacity-n"));
  CHECK(parse({"--help"}).help);
  // --version needs no --config (main prints "soleus-sim VERSION").
  CHECK(parse({"--version"}).version);
  CHECK_FALSE(parse({"--config", "x"}).version);
  const auto c = parse({"--ctl", "4000", R"({"cmd":"truth"})"});
  CHECK(*c.ctl_port == 4000);
}

TEST_CASE("options: [HOST:]PORT") {
  std::string h;
  int p = -1;
  split_host_port("127.0.0.1:1502", h, p);
  CHECK(h == "127.0.0.1");
  CHECK(p == 1502);
  split_host_port("0", h, p);
  CHECK(h == "127.0.0.1");
  CHECK(p == 0);
  split_host_port("0.0.0.0:77", h, p);
  CHECK(h == "0.0.0.0");
  CHECK_THROWS(split_host_port("host:99999", h, p));
  CHECK_THROWS(split_host_port("abc", h, p));
}

TEST_CASE(
    "options: --trait KEY=VALUE overlays --athlete's traits, and noise flags become a noise "
    "request") {
  const auto o =
      parse({"--config", "x.toml", "--athlete",
             R"({"capacity_n":900,"traits":{"effort":"grind","tissue_mm":4}})", "--trait",
             "tissue_mm=8", "--trait", "leave=sit_back", "--trait", "first_bottom_pause=true",
             "--cell-drift-n-per-s", "0.3", "--ripple-v", "6"});
  REQUIRE(o.setup.size() == 2);
  const auto& a = o.setup[0];
  CHECK(a.at("capacity_n").as_int64() == 900);
  const auto& t = a.at("traits").as_object();
  CHECK(t.at("effort").as_string() == "grind");
  CHECK(t.at("tissue_mm").as_double() == 8);
  CHECK(t.at("leave").as_string() == "sit_back");
  CHECK(t.at("first_bottom_pause").as_bool());
  const auto& n = o.setup[1];
  CHECK(n.at("cmd").as_string() == "noise");
  CHECK(n.at("cell_drift_n_per_s").as_double() == doctest::Approx(0.3));
  CHECK(n.at("drive_ripple_v").as_double() == 6);
  CHECK_THROWS_WITH(parse({"--config", "x", "--trait", "effort"}), doctest::Contains("KEY=VALUE"));
}
