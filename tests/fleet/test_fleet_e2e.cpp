// The fleet end to end (issue 14, docs/fleet.md "Publishing", "The outbox"):
// soleusd-test on soleus-sim with a [fleet] section, a real mosquitto, and a
// subscriber. The store is the ground truth: every set of GET /sets and every
// event of GET /events must reach the subscriber, exactly once after
// de-duplication by id, in order.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <csignal>
#include <map>
#include <set>

#include "mqtt_test.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/test_support/daemon_rig.hpp"
#include "soleus/test_support/mosquitto_rig.hpp"

using namespace soleus;
using namespace soleus::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string fleet_section(const MiniBroker& b) {
  return "\n[fleet]\nbroker = \"" + b.url() +
         "\"\nmachine = \"m1\"\nsite = \"gym\"\nstatus_period_s = 1\nmetrics_period_s = 1\n";
}

/// The envelopes on topics ending in `suffix`, parsed, in arrival order.
std::vector<json::object> envelopes(const Subscriber& s, const std::string& suffix) {
  std::vector<json::object> out;
  for (const auto& r : s.messages())
    if (r.topic.ends_with(suffix)) out.push_back(json::parse(r.payload).as_object());
  return out;
}

/// The ids, first arrival kept (consumers de-duplicate on the id).
std::vector<std::string> dedup_ids(const std::vector<json::object>& v) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& o : v) {
    std::string id(o.at("id").as_string());
    if (seen.insert(id).second) out.push_back(id);
  }
  return out;
}

/// Every ended set's id and every event's id, oldest first, from the store
/// itself (the ground truth; a running set is published when it ends).
std::vector<std::string> store_ids(DaemonRig& rig, const std::string& what) {
  auto db = storage::Database::open(rig.db_path(), storage::Database::Access::ReadOnly);
  auto q = db.prepare(what == "set" ? "SELECT id FROM sets WHERE ended_ms IS NOT NULL ORDER BY id"
                                    : "SELECT id FROM events ORDER BY id");
  std::vector<std::string> out;
  while (q.step()) out.push_back("m1/" + what + "/" + std::to_string(q.int64(0)));
  return out;
}

/// Waits until the subscriber holds every id of the store; then the ids,
/// de-duplicated, must equal the store's in order.
void check_exactly_once_in_order(DaemonRig& rig, const Subscriber& sub) {
  std::vector<std::string> want_sets, want_events, got_sets, got_events;
  const bool all = eventually(
      [&] {
        want_sets = store_ids(rig, "set");
        want_events = store_ids(rig, "event");
        got_sets = dedup_ids(envelopes(sub, "/sets"));
        got_events = dedup_ids(envelopes(sub, "/events"));
        return got_sets.size() >= want_sets.size() && got_events.size() >= want_events.size();
      },
      30s);
  CHECK_MESSAGE(all, "sets " << got_sets.size() << "/" << want_sets.size() << ", events "
                             << got_events.size() << "/" << want_events.size());
  CHECK(got_sets == want_sets);
  CHECK(got_events == want_events);
  if (got_events != want_events) {
    std::set<std::string> got(got_events.begin(), got_events.end());
    std::string missing;
    for (const auto& id : want_events)
      if (!got.count(id)) missing += id + " ";
    auto db = storage::Database::open(rig.db_path(), storage::Database::Access::ReadOnly);
    MESSAGE("missing: ", missing, "; outbox rows ", db.scalar_int("SELECT count(*) FROM outbox"),
            "\ndaemon:\n", rig.daemon.output());
  }
  const auto dup_sets = envelopes(sub, "/sets").size() - got_sets.size();
  const auto dup_events = envelopes(sub, "/events").size() - got_events.size();
  MESSAGE("duplicates (dropped by id): sets ", dup_sets, ", events ", dup_events);
}

/// Starts a set; on a loaded box the simulator can miss the drive's watchdog
/// and latch a communication fault between sets: the machine's business, not
/// the fleet's, so a technician's reset is allowed (as in test_daemon_api).
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
    if (!rig.reset_if_latched(r))
      std::this_thread::sleep_for(300ms);  // the last set's unload finishing
  }
  FAIL("no set started: " << last);
  return 0;
}

/// Starts a set of `reps` and waits until it has `n` committed reps and still
/// runs (a set a latched fault ended early is left behind: it is published too).
std::int64_t mid_set(DaemonRig& rig, const std::string& staff, const std::string& token, int reps,
                     int n) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const auto id = start_set(rig, token, reps);
    bool ended = false;
    const bool ok = eventually(
        [&] {
          auto r = get(rig.port, "/api/v1/sets/" + std::to_string(id), staff);
          if (r.status != 200) return false;
          ended = r.body.at("state").as_string() == "done";
          return ended || r.body.at("reps").as_int64() >= n;
        },
        30s);
    if (ok && !ended) return id;
    if (ended) rig.wait_done(id, staff, 30s);
  }
  FAIL("no set reached " << n << " reps");
  return 0;
}

}  // namespace

TEST_CASE(
    "fleet e2e: a member's set and every event reach the broker, state retained, offline by the "
    "Will on kill -9") {
  // The real broker set-up (tests/support MosquittoRig): TLS with the rig's
  // CA, the machine's password, the contract's ACL, anonymous access off; the
  // consumer is the read-only monitor account.
  MosquittoRigOptions ro;
  ro.machines = {"m1"};
  MosquittoRig broker(ro);
  broker.start();
  const int plain = broker.port(Listener::plain);
  const std::string mon = broker.password("monitor");
  Subscriber sub(plain, "soleus/gym/m1/#", "consumer", true, "monitor", mon);
  DaemonRig rig(
      {"--athlete-style", "tempo", "--tempo", "1.5-0.5-1.5-0.5"}, {},
      broker.fleet_toml("m1", Listener::tls) + "status_period_s = 1\nmetrics_period_s = 1\n");
  rig.wait_ready();
  const std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");
  auto m =
      post(rig.port, "/api/v1/members", R"({"number":"1042","name":"Ann","pin":"1234"})", staff);
  REQUIRE_MESSAGE(m.status == 201, m.text);
  const auto member_id = m.body.at("id").as_int64();
  const std::string member = rig.login(R"({"member":"1042","pin":"1234"})");
  const auto id = start_set(rig, member, 3);
  const auto done = rig.wait_done(id, staff, 60s);

  // the set: its id, the member, its reps, as GET /sets/{id} says
  json::object env;
  REQUIRE(eventually(
      [&] {
        for (auto& e : envelopes(sub, "/sets"))
          if (e.at("id").as_string() == "m1/set/" + std::to_string(id)) env = e;
        return !env.empty();
      },
      10s));
  CHECK(env.at("machine").as_string() == "m1");
  CHECK(env.at("kind").as_string() == "set");
  const auto& data = env.at("data").as_object();
  CHECK(data.at("member_id").as_int64() == member_id);
  CHECK(data.at("reps").as_int64() == done.at("reps").as_int64());
  CHECK(data.at("reps").as_int64() == 3);
  CHECK(data.at("stop_reason") == done.at("stop_reason"));
  CHECK(data.at("rep_log").as_array().size() == done.at("rep_log").as_array().size());
  // every event of the store, exactly once, in order
  check_exactly_once_in_order(rig, sub);
  // status (QoS 0, periodic) and metrics (telemetry through the outbox)
  CHECK(eventually([&] { return sub.count("/status") >= 2; }, 10s));
  CHECK(eventually([&] { return sub.count("/metrics") >= 1; }, 10s));
  const auto metrics = envelopes(sub, "/metrics");
  REQUIRE(!metrics.empty());
  CHECK(metrics.back().at("data").as_object().contains("loop"));
  // GET /metrics shows the outbox (drained: depth 0 for sets)
  {
    auto r = get(rig.port, "/metrics");
    REQUIRE(r.status == 200);
    CHECK(r.text.find("soleus_outbox_depth{kind=\"set\"}") != std::string::npos);
    CHECK(r.text.find("soleus_outbox_full 0") != std::string::npos);
  }
  const auto status = envelopes(sub, "/status");
  CHECK(status.back().at("data").as_object().contains("state"));
  // state: retained online for a newcomer
  {
    Subscriber late(plain, "soleus/gym/m1/state", "late", true, "monitor", mon);
    REQUIRE(eventually([&] { return late.count("/state") >= 1; }, 5s));
    CHECK(late.messages().front().retained);
    CHECK(late.messages().front().payload.find("\"online\"") != std::string::npos);
  }
  // kill -9: the broker sends the Will, retained
  ::kill(rig.daemon.pid(), SIGKILL);
  REQUIRE(rig.daemon.wait_exit(10s));
  REQUIRE(eventually(
      [&] {
        const auto st = sub.messages();
        for (auto it = st.rbegin(); it != st.rend(); ++it)
          if (it->topic == "soleus/gym/m1/state")
            return it->payload.find("\"offline\"") != std::string::npos;
        return false;
      },
      10s));
  Subscriber late(plain, "soleus/gym/m1/state", "late2", true, "monitor", mon);
  REQUIRE(eventually([&] { return late.count("/state") >= 1; }, 5s));
  CHECK(late.messages().front().payload.find("\"offline\"") != std::string::npos);
}

TEST_CASE(
    "fleet e2e: the broker killed -9 mid-set and restarted 30 s later: every set and event "
    "exactly once, in order") {
  // The subscriber's persistent session is on the broker's disk before the
  // kill (autosave every second, as docs/fleet/broker.md asks of a site's
  // broker): what is under test is soleusd's outbox. A broker killed -9
  // loses what it acknowledged and had not yet sent on or saved; the
  // machines cannot see that (docs/fleet.md, "The outbox").
  MiniBroker broker(/*persistent=*/true);
  auto sub = std::make_unique<Subscriber>(broker.port(), "soleus/gym/m1/#", "consumer", false);
  DaemonRig rig({"--athlete-style", "tempo", "--tempo", "1.5-0.5-1.5-0.5"}, {},
                fleet_section(broker));
  rig.wait_ready();
  const std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");
  const std::string guest = rig.login(R"({"role":"guest"})");
  broker.wait_saved();  // the subscriber's session
  // mid-set: the first rep is in, then the broker dies
  const auto id = mid_set(rig, staff, guest, 4, 1);
  const auto killed = std::chrono::steady_clock::now();
  broker.kill9();
  rig.wait_done(id, staff, 60s);
  rig.wait_done(start_set(rig, guest, 2), staff, 60s);  // a whole set while the broker is away
  std::this_thread::sleep_until(killed + 30s);
  broker.start();
  check_exactly_once_in_order(rig, *sub);
}

TEST_CASE(
    "fleet e2e: soleusd killed -9 while publishing: after its restart every set and event exactly "
    "once, in order") {
  MiniBroker broker;
  Subscriber sub(broker.port(), "soleus/gym/m1/#");
  DaemonRig rig({"--athlete-style", "tempo", "--tempo", "1.5-0.5-1.5-0.5"}, {},
                fleet_section(broker));
  rig.wait_ready();
  std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");
  std::string guest = rig.login(R"({"role":"guest"})");
  rig.wait_done(start_set(rig, guest, 2), staff, 60s);
  const auto id = mid_set(rig, staff, guest, 6, 2);
  ::kill(rig.daemon.pid(), SIGKILL);  // mid-set, events being published
  REQUIRE(rig.daemon.wait_exit(10s));
  rig.start_daemon();  // closes the interrupted set (set_interrupted) and publishes the rest
  rig.wait_ready();
  staff = rig.login(R"({"role":"staff","pin":"2580"})");
  check_exactly_once_in_order(rig, sub);
  // the interrupted set went out closed
  bool closed = false;
  for (const auto& e : envelopes(sub, "/sets"))
    if (e.at("id").as_string() == "m1/set/" + std::to_string(id))
      closed = e.at("data").at("stop_reason").as_string() == "shutdown";
  CHECK(closed);
}

TEST_CASE("fleet e2e: no [fleet] section: no MQTT, the outbox stays empty") {
  MiniBroker broker;
  Subscriber sub(broker.port(), "#");
  DaemonRig rig({"--athlete-style", "tempo", "--tempo", "1.5-0.5-1.5-0.5"});
  rig.wait_ready();
  (void)rig.login(R"({"role":"staff","pin":"2580"})");
  CHECK(!store_ids(rig, "event").empty());
  auto db = storage::Database::open(rig.db_path(), storage::Database::Access::ReadOnly);
  CHECK(db.scalar_int("SELECT count(*) FROM outbox") == 0);
  CHECK(rig.daemon.output().find("fleet:") == std::string::npos);
  CHECK(sub.messages().empty());
  CHECK(get(rig.port, "/metrics").text.find("soleus_outbox") == std::string::npos);
}
