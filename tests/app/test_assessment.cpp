// The guided strength assessment on the real system: soleusd and soleus-sim
// over Modbus TCP, driven over real HTTP as the screen drives it (staff
// assign, the member presses Start and Next through the warm-up and each
// push). The simulated athletes have known maximal forces (the simulator's
// ground truth, capacity_n); the assessed max must be within 5 % of it, and
// an athlete stronger than the machine is reported beyond its range with no
// over-force (nor any other) fault.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "soleus/hmi/security.hpp"
#include "soleus/test_support/daemon_rig.hpp"
#include "soleus/test_support/http_client.hpp"
#include "soleus/test_support/process.hpp"
#include "soleus/test_support/sim_process.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using soleus::test::get;
using soleus::test::post;
using soleus::test::Reply;

namespace {

/// The API rig with a short assessment: one warm-up rep (after the
/// calibration rep), 3 s pushes, 1 s rests.
struct Rig : soleus::test::DaemonRig {
  explicit Rig(const std::vector<std::string>& sim_args)
      : DaemonRig(sim_args, {},
                  "\n[assessment]\nwarmup_reps = 1\ntrials = 3\npush_s = 3\nrest_s = 1\n"
                  "max_spread_pct = 15\n") {}
  json::object truth() { return json::parse(sim.control(R"({"cmd":"truth"})")).as_object(); }
};

double num(const json::value& v) { return v.to_number<double>(); }

/// Staff make a member and assign an assessment; the member does it, pressing
/// Next whenever the card offers the next set. Returns the final card.
json::object run_assessment(Rig& rig, std::int64_t& member_id) {
  rig.wait_ready();
  const std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");
  auto m =
      post(rig.port, "/api/v1/members", R"({"number":"7001","name":"Ada","pin":"1357"})", staff);
  REQUIRE_MESSAGE(m.status == 201, m.text);
  member_id = m.body.at("id").as_int64();
  const std::string mid = std::to_string(member_id);
  auto as = soleus::test::request(rig.port, "PUT", "/api/v1/members/" + mid + "/assessment",
                                  R"({"assigned":true})", staff);
  REQUIRE_MESSAGE(as.status == 200, as.text);
  CHECK(get(rig.port, "/api/v1/members/" + mid, staff).body.at("assessment_assigned") == true);
  const std::string tok = rig.login(R"({"member":"7001","pin":"1357"})");
  auto card = get(rig.port, "/api/v1/assessment", tok);
  REQUIRE(card.status == 200);
  CHECK(card.body.at("assigned") == true);
  CHECK(card.body.at("step") == "none");
  REQUIRE(post(rig.port, "/api/v1/assessment/start", "", tok).status == 200);
  const auto deadline = std::chrono::steady_clock::now() + 150s;
  int sets = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    card = get(rig.port, "/api/v1/assessment", tok);
    REQUIRE_MESSAGE(card.status == 200, card.text);
    const auto& c = card.body.as_object();
    if (c.at("step") == "done") return c;
    if (c.at("next") == "warmup" || c.at("next") == "trial") {
      auto n = post(rig.port, "/api/v1/assessment/next", "", tok);
      // 409 while the last set's unload finishes (the machine not yet at rest).
      if (n.status == 200) ++sets;
      else REQUIRE_MESSAGE(n.status == 409, n.text);
      // A fault the loaded box latched between sets: a technician's reset.
      rig.reset_if_latched(n);
    }
    std::this_thread::sleep_for(300ms);
  }
  FAIL("the assessment did not finish; last card " << card.text << "\ndaemon:\n"
                                                   << rig.daemon.output());
  return {};
}

}  // namespace

TEST_CASE(
    "assessment on the real system: the assessed max is within 5 % of the athlete's true "
    "maximal force, stored, and becomes the member's assessed max") {
  for (double capacity : {700.0, 1400.0}) {
    INFO("athlete's maximal force ", capacity);
    Rig rig({"--athlete-style", getenv("STYLE") ? getenv("STYLE") : "assessment", "--capacity-n",
             std::to_string(capacity), "--after-reps", "2", "--iso-fraction", "1", "--tempo",
             "2-1-2-1"});
    std::int64_t id = 0;
    const json::object card = run_assessment(rig, id);
    INFO("card ", json::serialize(card), "\ndaemon:\n", rig.daemon.output());
    const auto& res = card.at("result").as_object();
    REQUIRE(res.at("complete") == true);
    REQUIRE(res.at("max_n").is_number());
    const double truth = num(rig.truth().at("capacity_n"));
    const double max_n = num(res.at("max_n"));
    MESSAGE("assessed ", max_n, " N; truth ", truth, " N; spread ",
            json::serialize(res.at("spread_pct")));
    CHECK(std::abs(max_n - truth) <= 0.05 * truth);
    CHECK(card.at("trials").as_array().size() == 3);
    const std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");
    const std::string mid = std::to_string(id);
    auto m = get(rig.port, "/api/v1/members/" + mid, staff).body.as_object();
    CHECK(num(m.at("assessed_max_n")) == doctest::Approx(max_n));
    CHECK(m.at("assessed_method") == "isometric");
    CHECK(m.at("assessment_assigned") == false);
    auto list = get(rig.port, "/api/v1/members/" + mid + "/assessments", staff);
    REQUIRE(list.status == 200);
    const auto& arr = list.body.at("assessments").as_array();
    REQUIRE(arr.size() == 1);
    CHECK(arr[0].at("method") == "isometric");
    CHECK(arr[0].at("complete") == true);
    CHECK(arr[0].at("trials").as_array().size() == 3);
    CHECK(arr[0].at("trials").as_array()[0].at("pct_of_range") == 50);
    // Nothing latched: the machine is ready for the next member.
    auto st = get(rig.port, "/api/v1/status").body.as_object();
    CHECK(st.at("faults").as_array().empty());
  }
}

TEST_CASE(
    "assessment on the real system: an athlete stronger than the machine is reported "
    "beyond its range, never as a number, with no over-force trip") {
  Rig rig({"--athlete-style", "assessment", "--capacity-n", "2400", "--after-reps", "2",
           "--iso-fraction", "1", "--tempo", "2-1-2-1"});
  std::int64_t id = 0;
  const json::object card = run_assessment(rig, id);
  INFO("card ", json::serialize(card), "\ndaemon:\n", rig.daemon.output());
  const auto& res = card.at("result").as_object();
  CHECK(res.at("complete") == true);
  CHECK(res.at("beyond_range") == true);
  CHECK(res.at("max_n").is_null());
  const std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");
  auto ev = get(rig.port, "/api/v1/events?limit=500", staff);
  REQUIRE(ev.status == 200);
  for (const auto& e : ev.body.at("events").as_array()) {
    INFO(json::serialize(e));
    CHECK(e.at("code") != "drive_fault");
    CHECK(e.at("code") != "over_force");
    CHECK(e.at("code") != "overspeed");
  }
  auto m = get(rig.port, "/api/v1/members/" + std::to_string(id), staff).body.as_object();
  CHECK(m.at("assessed_max_n").is_null());  // no number from a beyond-range result
  auto list = get(rig.port, "/api/v1/members/" + std::to_string(id) + "/assessments", staff);
  CHECK(list.body.at("assessments").as_array()[0].at("beyond_range") == true);
}

TEST_CASE(
    "assessment on the real system: PAIN during a push unloads the machine and ends the "
    "assessment, stored as incomplete with no number") {
  Rig rig({"--athlete-style", "assessment", "--capacity-n", "1200", "--after-reps", "2",
           "--iso-fraction", "1", "--tempo", "2-1-2-1"});
  rig.wait_ready();
  const std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");
  auto m = post(rig.port, "/api/v1/members", R"({"number":"7002","name":"Bea"})", staff);
  REQUIRE(m.status == 201);
  const auto id = m.body.at("id").as_int64();
  const std::string tok = rig.login(R"({"member":"7002"})");
  REQUIRE(post(rig.port, "/api/v1/assessment/start", "", tok).status == 200);
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  bool pained = false;
  json::object c;
  while (std::chrono::steady_clock::now() < deadline) {
    c = get(rig.port, "/api/v1/assessment", tok).body.as_object();
    if (c.at("step") == "done") break;
    if (!pained && c.at("set_running") == true && c.at("range").is_object()) {
      // Mid-push: wait until the member pushes hard, then PAIN.
      std::this_thread::sleep_for(2500ms);
      auto st = get(rig.port, "/api/v1/status").body.as_object();
      INFO(json::serialize(st));
      CHECK(st.at("state") == "active");
      REQUIRE(post(rig.port, "/api/v1/sets/current/stop", R"({"reason":"pain"})").status == 200);
      pained = true;
    } else if (!pained && (c.at("next") == "warmup" || c.at("next") == "trial")) {
      post(rig.port, "/api/v1/assessment/next", "", tok);
    }
    std::this_thread::sleep_for(300ms);
  }
  INFO(json::serialize(c), "\ndaemon:\n", rig.daemon.output());
  REQUIRE(pained);
  REQUIRE(c.at("step") == "done");
  const auto& res = c.at("result").as_object();
  CHECK(res.at("complete") == false);
  CHECK(res.at("max_n").is_null());
  CHECK(std::string(res.at("note").as_string()).find("pain") != std::string::npos);
  // Unloaded: the drive is off, no set runs; no further push may start.
  auto st = get(rig.port, "/api/v1/status").body.as_object();
  CHECK(st.at("state") == "rest");
  CHECK(c.at("next") == "none");  // no further push of this assessment
  auto list = get(rig.port, "/api/v1/members/" + std::to_string(id) + "/assessments", staff);
  const auto& arr = list.body.at("assessments").as_array();
  REQUIRE(arr.size() == 1);
  CHECK(arr[0].at("complete") == false);
  CHECK(arr[0].at("max_n").is_null());
}
