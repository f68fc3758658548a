// Members who train on any machine, end to end (issue 14 §2, docs/fleet.md
// "Shared records", "Catch-up", "PINs"): two soleusd-test, each with its own
// soleus-sim and database, a real mosquitto (TLS, the contract's accounts and
// ACL), the site's pepper in [fleet] pin_pepper_file. A member created with a
// PIN on A logs in on B with that PIN, and B's history shows the set she did
// on A, with its reps, through the ordinary API.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "mqtt_test.hpp"
#include "soleus/test_support/daemon_rig.hpp"
#include "soleus/test_support/mosquitto_rig.hpp"

using namespace soleus;
using namespace soleus::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::int64_t start_set(DaemonRig& rig, const std::string& token, int reps) {
  std::string last;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto r = post(rig.port, "/api/v1/sets",
                  R"({"mode":"isotonic","load_n":400,"tempo":"1.5-0.5-1.5-0.5","target_reps":)" +
                      std::to_string(reps) + "}",
                  token);
    if (r.status == 201) return r.body.at("id").as_int64();
    last = r.text;
    REQUIRE_MESSAGE(r.status == 409, r.text);
    if (r.text.find("latched") != std::string::npos) {
      const std::string tech = rig.login(R"({"role":"maintenance","pin":"4321"})");
      post(rig.port, "/api/v1/maintenance/fault-reset", "", tech);
      rig.wait_ready();
    } else {
      std::this_thread::sleep_for(300ms);  // the last set's unload finishing
    }
  }
  FAIL("no set started: " << last);
  return 0;
}

}  // namespace

TEST_CASE("shared e2e: a member created on A logs in on B with her PIN and sees A's set there") {
  MosquittoRig broker;
  broker.start();
  TempDir dir;
  const std::string pepper = dir.file("pepper");
  std::ofstream(pepper) << "the-site's-pepper-0123456789abcdef\n";
  std::filesystem::permissions(
      pepper, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto fleet = [&](const std::string& m) {
    return broker.fleet_toml(m, Listener::tls) + "pin_pepper_file = \"" + pepper + "\"\n";
  };
  DaemonRig a({"--athlete-style", "tempo", "--tempo", "1.5-0.5-1.5-0.5"}, {}, fleet("a"));
  DaemonRig b({"--athlete-style", "tempo", "--tempo", "1.5-0.5-1.5-0.5"}, {}, fleet("b"));
  a.wait_ready();
  b.wait_ready();

  const std::string staff_a = a.login(R"({"role":"staff","pin":"2580"})");
  auto m =
      post(a.port, "/api/v1/members", R"({"number":"1042","name":"Ann","pin":"739164"})", staff_a);
  REQUIRE_MESSAGE(m.status == 201, m.text);
  const std::string member_a = a.login(R"({"member":"1042","pin":"739164"})");
  const auto set = start_set(a, member_a, 3);
  a.wait_done(set, staff_a, 60s);

  // On B: the member logs in with the PIN set on A ...
  Reply login;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        login =
                            post(b.port, "/api/v1/login", R"({"member":"1042","pin":"739164"})");
                        return login.status == 200;
                      },
                      20s),
                  "last answer: " << login.text << "\nB:\n"
                                  << b.daemon.output());
  CHECK(post(b.port, "/api/v1/login", R"({"member":"1042","pin":"739165"})").status == 401);
  const std::string member_b(login.body.at("token").as_string());
  const auto id_b = login.body.at("member_id").as_int64();
  // ... and her history there holds the set she did on A (the catch-up brought it).
  json::array history;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        auto h = get(b.port, "/api/v1/members/" + std::to_string(id_b) + "/history",
                                     member_b);
                        if (h.status != 200) return false;
                        history = h.body.as_array();
                        return !history.empty();
                      },
                      20s),
                  "B:\n"
                      << b.daemon.output());
  const auto& sets = history.at(0).at("sets").as_array();
  REQUIRE(sets.size() == 1);
  auto on_a = get(a.port, "/api/v1/sets/" + std::to_string(set), staff_a);
  REQUIRE(on_a.status == 200);
  CHECK(sets.at(0).at("reps") == on_a.body.at("reps"));
  CHECK(sets.at(0).at("started_ms") == on_a.body.at("started_ms"));
}
