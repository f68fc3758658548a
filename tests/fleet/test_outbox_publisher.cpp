// The outbox as the link's participant (app::OutboxPublisher) with the real
// writer, a real file and a real mosquitto: many more rows than the link's
// inflight window drain completely, in order, and the outbox ends empty.
#include <doctest/doctest.h>

#include "mqtt_test.hpp"
#include "soleus/app/fleet.hpp"
#include "soleus/storage/writer.hpp"

using namespace soleus;
using namespace std::chrono_literals;

TEST_CASE(
    "outbox publisher: 2000 events (60 x the inflight window) drain in order, the outbox ends "
    "empty") {
  test::MiniBroker broker;
  test::Subscriber sub(broker.port(), "soleus/gym/m1/events");
  test::TempDir dir;
  app::DaemonConfig cfg;
  cfg.storage.db_path = dir.file("s.db");
  cfg.storage.outbox = true;
  fleet::FleetConfig f;
  f.host = "127.0.0.1";
  f.port = broker.port();
  f.machine = "m1";
  f.site = "gym";
  f.username = "m1";
  cfg.fleet = f;
  storage::Writer w(cfg.storage);
  REQUIRE(w.start().ok);
  for (int i = 0; i < 2000; ++i) w.event(storage::Severity::Info, "test_event", "e");
  REQUIRE(w.flush(30s));
  const auto total = w.outbox_stats().depth();
  REQUIRE(total >= 2000);
  app::OutboxPublisher pub(*cfg.fleet, cfg.storage, w);
  fleet::LinkOptions o;
  o.cfg = *cfg.fleet;
  fleet::Link link(o);
  link.add(pub);
  link.start();
  REQUIRE_MESSAGE(test::eventually([&] { return w.outbox_stats().depth() == 0; }, 60s),
                  "left " << w.outbox_stats().depth() << ", published " << link.stats().published);
  REQUIRE(test::eventually([&] { return sub.count("/events") >= static_cast<std::size_t>(total); },
                           10s));
  // in order of the events' ids, none twice
  std::int64_t last = 0;
  bool ordered = true;
  for (const auto& r : sub.messages()) {
    const auto a = r.payload.find("m1/event/") + 9;
    const std::int64_t id = std::stoll(r.payload.substr(a));
    if (id <= last) ordered = false;
    last = id;
  }
  CHECK(ordered);
  CHECK(sub.count("/events") == static_cast<std::size_t>(total));
  link.stop();
  w.stop();
}
