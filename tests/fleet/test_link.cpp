// The link against a real mosquitto (Debian's /usr/sbin/mosquitto on a
// loopback port): order, acknowledgements, reconnect after the broker was
// killed, the retained state and a clean stop.
#include <doctest/doctest.h>

#include <deque>
#include <mutex>
#include <set>

#include "mqtt_test.hpp"
#include "soleus/fleet/link.hpp"
#include "soleus/test_support/mosquitto_rig.hpp"

using namespace soleus;
using namespace std::chrono_literals;

namespace {

/// Offers numbered messages on "<machine>/sets", oldest unacknowledged first.
class Counter : public fleet::Participant {
 public:
  explicit Counter(std::string machine) : machine_(std::move(machine)) {}
  std::vector<std::string> subscriptions() const override { return {"shared/test/#"}; }
  void on_message(const fleet::Message& m) override {
    std::lock_guard l(mu_);
    received_.push_back(m);
  }
  std::vector<fleet::Message> outgoing(std::size_t max) override {
    std::lock_guard l(mu_);
    std::vector<fleet::Message> out;
    if (hold_) return out;
    for (int n : pending_) {
      if (out.size() >= max) break;
      fleet::Message m;
      m.topic = machine_ + "/sets";
      m.payload = fleet::envelope(machine_ + "/set/" + std::to_string(n), machine_, "set", 0,
                                  "{\"n\":" + std::to_string(n) + "}");
      out.push_back(m);
    }
    return out;
  }
  void acknowledged(const fleet::Message& m) override {
    std::lock_guard l(mu_);
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (m.payload.find("/set/" + std::to_string(*it) + "\"") != std::string::npos) {
        pending_.erase(it);
        ++acked_;
        return;
      }
    }
  }
  void on_connected() override { ++connects_; }
  void add(int n) {
    std::lock_guard l(mu_);
    pending_.push_back(n);
  }
  std::size_t pending() const {
    std::lock_guard l(mu_);
    return pending_.size();
  }
  int acked() const {
    std::lock_guard l(mu_);
    return acked_;
  }
  std::vector<fleet::Message> received() const {
    std::lock_guard l(mu_);
    return received_;
  }
  std::atomic<int> connects_{0};
  std::atomic<bool> hold_{false};  ///< offer nothing (the test's subscriber is not back yet)

 private:
  std::string machine_;
  mutable std::mutex mu_;
  std::deque<int> pending_;
  std::vector<fleet::Message> received_;
  int acked_ = 0;
};

fleet::LinkOptions options(const test::MiniBroker& b) {
  fleet::LinkOptions o;
  o.cfg.broker = b.url();
  o.cfg.host = "127.0.0.1";
  o.cfg.port = b.port();
  o.cfg.machine = "m1";
  o.cfg.site = "gym";
  o.cfg.username = "m1";
  o.cfg.status_period_s = 1;
  o.reconnect_min_ms = 100;
  o.reconnect_max_ms = 400;
  return o;
}

/// The link of `machine` to the rig's TLS listener `l` (the rig's CA; the
/// account of that name unless the caller changes it).
fleet::LinkOptions rig_options(const test::MosquittoRig& rig, test::Listener l,
                               const std::string& machine) {
  fleet::LinkOptions o;
  o.cfg.host = "127.0.0.1";
  o.cfg.port = rig.port(l);
  o.cfg.tls = true;
  o.cfg.ca_file = rig.ca_file();
  o.cfg.machine = machine;
  o.cfg.site = "gym";
  o.cfg.username = machine;
  return o;
}

/// The numbers in the payloads on `suffix`, in arrival order.
std::vector<int> numbers(const test::Subscriber& s, const std::string& suffix) {
  std::vector<int> out;
  for (const auto& r : s.messages()) {
    if (!r.topic.ends_with(suffix)) continue;
    const auto p = r.payload.find("\"n\":");
    if (p != std::string::npos) out.push_back(std::stoi(r.payload.substr(p + 4)));
  }
  return out;
}

}  // namespace

TEST_CASE("link: publishes in order, deletes on PUBACK, state online then offline (retained)") {
  test::MiniBroker broker;
  test::Subscriber sub(broker.port(), "soleus/gym/#");
  Counter c("m1");
  for (int n = 1; n <= 200; ++n) c.add(n);
  int status_calls = 0;
  auto o = options(broker);
  o.status = [&] {
    return fleet::LinkOptions::Status{
        "{\"state\":\"idle\",\"calls\":" + std::to_string(++status_calls) + "}", "idle"};
  };
  fleet::Link link(o);
  link.add(c);
  link.start();
  REQUIRE(test::eventually([&] { return c.pending() == 0; }, 10s));
  CHECK(c.acked() == 200);
  REQUIRE(test::eventually([&] { return sub.count("/sets") == 200; }, 5s));
  std::vector<int> want(200);
  for (int i = 0; i < 200; ++i) want[static_cast<std::size_t>(i)] = i + 1;
  CHECK(numbers(sub, "/sets") == want);  // in order
  CHECK(test::eventually([&] { return sub.count("/status") >= 1; }, 5s));
  // a shared record from someone else reaches the participant, topic relative
  test::Subscriber other(broker.port(), "soleus/gym/shared/#", "other");
  {
    mosquitto* m = mosquitto_new("writer", true, nullptr);
    REQUIRE(mosquitto_connect(m, "127.0.0.1", broker.port(), 10) == MOSQ_ERR_SUCCESS);
    mosquitto_publish(m, nullptr, "soleus/gym/shared/test/7", 2, "{}", 1, true);
    for (int i = 0; i < 20; ++i) mosquitto_loop(m, 10, 1);
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
  }
  REQUIRE(test::eventually([&] { return !c.received().empty(); }, 5s));
  CHECK(c.received().front().topic == "shared/test/7");
  link.stop();
  // state: online at connect, offline at the clean stop, both retained (the
  // broker acknowledged the offline state before stop() returned; its copy to
  // this subscriber may still be on its way)
  std::vector<std::string> states;
  const auto read_states = [&] {
    states.clear();
    for (const auto& r : sub.messages())
      if (r.topic == "soleus/gym/m1/state") states.push_back(r.payload);
    return states.size() >= 2;
  };
  REQUIRE(test::eventually(read_states, 5s));
  CHECK(states.front().find("\"online\"") != std::string::npos);
  CHECK(states.back().find("\"offline\"") != std::string::npos);
  test::Subscriber late(broker.port(), "soleus/gym/m1/state", "late");
  REQUIRE(test::eventually([&] { return late.count("/state") == 1; }, 5s));
  CHECK(late.messages().front().retained);
  CHECK(late.messages().front().payload.find("\"offline\"") != std::string::npos);
}

TEST_CASE(
    "link: the broker killed mid-stream and restarted: nothing lost, in order after "
    "de-duplication") {
  test::MiniBroker broker;
  Counter c("m1");
  fleet::Link link(options(broker));
  link.add(c);
  link.start();
  auto sub = std::make_unique<test::Subscriber>(broker.port(), "soleus/gym/m1/sets");
  for (int n = 1; n <= 50; ++n) c.add(n);
  REQUIRE(test::eventually([&] { return c.pending() == 0; }, 10s));
  std::vector<int> seen = numbers(*sub, "/sets");
  sub.reset();
  broker.kill9();
  REQUIRE(test::eventually([&] { return !link.stats().connected; }, 10s));
  for (int n = 51; n <= 150; ++n) c.add(n);  // produced while the broker is down
  std::this_thread::sleep_for(300ms);        // a few reconnect attempts fail (backoff)
  CHECK(c.pending() == 100);
  broker.start();
  sub = std::make_unique<test::Subscriber>(broker.port(), "soleus/gym/m1/sets");
  REQUIRE(test::eventually([&] { return c.pending() == 0; }, 15s));
  REQUIRE(test::eventually([&] { return link.stats().connects >= 2; }, 5s));
  REQUIRE(test::eventually([&] { return numbers(*sub, "/sets").size() >= 100; }, 5s));
  for (int n : numbers(*sub, "/sets")) seen.push_back(n);
  // de-duplicate by id, keep the first arrival: 1..150 in order
  std::vector<int> dedup;
  std::set<int> ids;
  for (int n : seen)
    if (ids.insert(n).second) dedup.push_back(n);
  std::vector<int> want(150);
  for (int i = 0; i < 150; ++i) want[static_cast<std::size_t>(i)] = i + 1;
  CHECK(dedup == want);
  CHECK(link.stats().disconnects >= 1);
}

TEST_CASE("link: no broker at all: the link retries with backoff and stop() is prompt") {
  const int port = test::free_tcp_port();
  fleet::LinkOptions o;
  o.cfg.host = "127.0.0.1";
  o.cfg.port = port;
  o.cfg.machine = "m1";
  o.cfg.site = "gym";
  o.cfg.username = "m1";
  o.reconnect_min_ms = 50;
  o.reconnect_max_ms = 200;
  Counter c("m1");
  c.add(1);
  fleet::Link link(o);
  link.add(c);
  link.start();
  REQUIRE(test::eventually([&] { return !link.stats().last_error.empty(); }, 5s));
  CHECK(!link.stats().connected);
  const auto t0 = std::chrono::steady_clock::now();
  link.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(c.pending() == 1);
}

TEST_CASE(
    "link: TLS with a client certificate (CN = machine) on the real broker set-up, a wrong "
    "password refused") {
  test::MosquittoRigOptions ro;
  ro.machines = {"m1"};
  test::MosquittoRig rig(ro);
  rig.start();
  test::Subscriber sub(rig.port(test::Listener::plain), "soleus/gym/m1/#", "consumer", true,
                       "monitor", rig.password("monitor"));
  {
    auto o = rig_options(rig, test::Listener::tls_cert, "m1");
    o.cfg.cert_file = rig.cert_file("m1");
    o.cfg.key_file = rig.key_file("m1");
    Counter c("m1");
    for (int n = 1; n <= 5; ++n) c.add(n);
    fleet::Link link(o);
    link.add(c);
    link.start();
    REQUIRE_MESSAGE(test::eventually([&] { return c.pending() == 0; }, 10s), link.stats().last_error
                                                                                 << "\n"
                                                                                 << rig.log());
    REQUIRE(test::eventually([&] { return sub.count("/sets") == 5; }, 5s));
  }
  {
    auto o = rig_options(rig, test::Listener::tls, "m1");
    o.password = "not-the-password";
    o.reconnect_min_ms = 100;
    Counter c("m1");
    c.add(99);
    fleet::Link link(o);
    link.add(c);
    link.start();
    REQUIRE_MESSAGE(
        test::eventually(
            [&] { return link.stats().last_error.find("refused") != std::string::npos; }, 10s),
        "last error: " << link.stats().last_error);
    CHECK(link.stats().connects == 0);
    CHECK(c.pending() == 1);
  }
}

TEST_CASE(
    "link: a publish the broker refuses (another machine's name) is kept, counted and logged, "
    "never acknowledged") {
  // Account "a" configured as machine "b": everything goes to soleus/gym/b/…,
  // which the ACL lets only "b" write. MQTT v5's PUBACK says "not authorized";
  // with v3.1.1 the broker acknowledged as usual and dropped the message,
  // and the outbox would have deleted its rows.
  test::MosquittoRig rig;
  rig.start();
  test::Subscriber sub(rig.port(test::Listener::plain), "soleus/gym/#", "consumer", true, "monitor",
                       rig.password("monitor"));
  auto o = rig_options(rig, test::Listener::tls, "b");
  o.cfg.username = "a";
  o.password = rig.password("a");
  Counter c("b");
  for (int n = 1; n <= 3; ++n) c.add(n);
  fleet::Link link(o);
  link.add(c);
  link.start();
  REQUIRE_MESSAGE(test::eventually([&] { return link.stats().refused == 3; }, 10s),
                  "last error: " << link.stats().last_error << "\n"
                                 << rig.log());
  CHECK(link.stats().connects >= 1);
  INFO("last error: " << link.stats().last_error);
  CHECK(link.stats().last_error.find("(135)") != std::string::npos);  // not authorized
  CHECK(link.stats().last_error.find("soleus/gym/b/sets") != std::string::npos);
  // Held for 10 s after the refusal: the refused ones are not offered again
  // at once (a refusal loop would flood the broker's log).
  const auto refused = link.stats().refused;
  std::this_thread::sleep_for(2s);
  CHECK(link.stats().refused == refused);
  CHECK(c.pending() == 3);
  CHECK(c.acked() == 0);
  CHECK(sub.count("/sets") == 0);
}
