// The tempo grammar (common/include/soleus/common/tempo.hpp, docs/api.md):
// the shared table of cases (tempo_cases.json, also run by the page's JS
// test), then properties the table cannot show.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "soleus/common/tempo.hpp"

namespace json = boost::json;
using soleus::common::check_tempo;
using soleus::common::parse_tempo;
using soleus::common::TempoErrorKind;
using soleus::common::TempoSeconds;

namespace {

json::array load_cases() {
  std::ifstream in(SOLEUS_TEMPO_CASES, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot open " SOLEUS_TEMPO_CASES);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str()).as_object().at("cases").as_array();
}

}  // namespace

TEST_CASE("tempo: the shared table of cases") {
  const json::array cases = load_cases();
  CHECK(cases.size() >= 40);
  for (const auto& cv : cases) {
    const auto& c = cv.as_object();
    const std::string input(c.at("input").as_string());
    CAPTURE(input);
    const auto r = parse_tempo(input);
    if (c.at("accepted").as_bool()) {
      REQUIRE_MESSAGE(r.ok(), r.message);
      CHECK(r.message.empty());
      const auto& v = c.at("values").as_array();
      REQUIRE(v.size() == 4);
      CHECK(r.seconds.eccentric_s == v[0].to_number<double>());
      CHECK(r.seconds.bottom_s == v[1].to_number<double>());
      CHECK(r.seconds.concentric_s == v[2].to_number<double>());
      CHECK(r.seconds.top_s == v[3].to_number<double>());
    } else {
      CHECK_FALSE(r.ok());
      CHECK(std::string(to_string(r.error)) == std::string(c.at("error").as_string()));
      CHECK_FALSE(r.message.empty());
    }
  }
}

TEST_CASE("tempo: every value of the grammar prints and parses back exactly") {
  // Three decimals at most: a 6-significant-digit print (controller::Tempo::
  // to_string, what a set's record stores) parses back to the same double.
  for (int ms = 0; ms <= 60000; ++ms) {
    const double v = ms / 1000.0;
    std::ostringstream os;
    os << v << '-' << v << '-' << v << '-' << v;
    const auto r = parse_tempo(os.str());
    REQUIRE_MESSAGE(r.ok(), (os.str() + ": " + r.message));
    REQUIRE(r.seconds.eccentric_s == v);
    REQUIRE(r.seconds.top_s == v);
  }
}

TEST_CASE("tempo: errors name the number and the rule") {
  CHECK(parse_tempo("3-1-3-61").message == "the 4th number (hold), \"61\", is over 60 s");
  CHECK(parse_tempo("3-5.-3-1").message ==
        "the 2nd number (pause), \"5.\", needs digits on both sides of its '.'");
  CHECK(parse_tempo("3--3-1").message == "the 2nd number (pause) is empty");
  CHECK(parse_tempo("3-1-3").message.find("four numbers") != std::string::npos);
  CHECK(parse_tempo("-1-1-3-1").message.find("negative") != std::string::npos);
  CHECK(parse_tempo("3-1-3-1x").message.find("'x' at position 8") != std::string::npos);
  CHECK(parse_tempo("3-1-3-\xc2\xbd").message.find("byte 0xC2") != std::string::npos);
}

TEST_CASE("tempo: phases given as numbers keep the grammar's bounds") {
  CHECK(check_tempo(TempoSeconds{3, 1, 3, 1}).ok());
  CHECK(check_tempo(TempoSeconds{60, 0, 0, 0}).ok());
  CHECK(check_tempo(TempoSeconds{0.1234, 0, 0, 0}).ok());  // numbers are not text: no digit rule
  CHECK(check_tempo(TempoSeconds{3, -1, 3, 1}).error == TempoErrorKind::Range);
  CHECK(check_tempo(TempoSeconds{3, 1, 60.5, 1}).error == TempoErrorKind::Range);
  CHECK(check_tempo(TempoSeconds{3, 1, 3, 1.0 / 0.0}).error == TempoErrorKind::Range);
  CHECK(check_tempo(TempoSeconds{3, 1, 3, -1}).message ==
        "the 4th phase (hold) is -1 s; each must be within 0..60 s");
}
