// Figures of the fleet's publishing (issue 14, docs/fleet.md "Figures"):
//  1. publish latency, event pushed to the store -> the subscriber's receipt,
//     p50/p99, through the real path: the writer (flush_ms as configured,
//     default 100 ms), its outbox row, the link (fleet::Link, libmosquitto),
//     Debian's mosquitto on loopback, a subscriber;
//  2. the outbox drain after an outage: the outbox filled with what N minutes
//     of training would make (a set every 60 s with 12 reps, its ~14 events,
//     telemetry every 60 s), then the link started; time until it is empty,
//     and the rate on a large outbox (5000 sets + 20000 events);
//  3. bytes per set on the wire: the MQTT PUBLISH of a 12-rep set (fixed
//     header, topic, packet id, payload) and its PUBACK; TCP/IP not counted.
// Usage: bench_fleet [minutes=10]. Prints figures; asserts nothing.
#include <mosquitto.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "soleus/app/fleet.hpp"
#include "soleus/fleet/link.hpp"
#include "soleus/storage/writer.hpp"
#include "soleus/test_support/process.hpp"

using namespace soleus;
using Clock = std::chrono::steady_clock;

namespace {

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

struct Sub {
  mosquitto* m = nullptr;
  std::mutex mu;
  std::map<std::string, Clock::time_point> first;  // topic+id -> receipt
  std::size_t count = 0;
  std::size_t bytes = 0;
  std::string last_set;
  Sub(int port) {
    m = mosquitto_new("bench-sub", true, this);
    mosquitto_message_callback_set(m, [](mosquitto*, void* o, const mosquitto_message* msg) {
      auto* s = static_cast<Sub*>(o);
      const auto now = Clock::now();
      std::string p(static_cast<const char*>(msg->payload),
                    static_cast<std::size_t>(msg->payloadlen));
      std::lock_guard l(s->mu);
      ++s->count;
      s->bytes += p.size();
      const auto a = p.find("\"id\":\"") + 6;
      const std::string id = p.substr(a, p.find('"', a) - a);
      s->first.emplace(id, now);
      if (std::string_view(msg->topic).ends_with("/sets"))
        s->last_set = msg->topic + std::string("\n") + p;
    });
    mosquitto_connect(m, "127.0.0.1", port, 30);
    mosquitto_subscribe(m, nullptr, "soleus/gym/#", 1);
    mosquitto_loop_start(m);
  }
  ~Sub() {
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, true);
    mosquitto_destroy(m);
  }
};

storage::RepRecord rep(std::int64_t set_id, int seq) {
  storage::RepRecord r;
  r.set_id = set_id;
  r.seq = r.n = seq;
  r.t_start_s = seq * 4.0;
  r.peak_force_n = 800;
  r.mean_force_n = 700;
  r.concentric_s = 1.5;
  r.top_pause_s = 0.5;
  r.eccentric_s = 1.5;
  r.bottom_pause_s = 0.5;
  r.rom_mm = 110;
  r.rom_pct = 98;
  r.mean_velocity_mm_s = 70;
  r.smoothness = 0.95;
  r.tut_s = 4;
  return r;
}

void push_set(storage::Writer& w, int reps) {
  const auto id = w.allocate_set_id();
  storage::SetStartRecord s;
  s.set_id = id;
  s.member_id = 0;
  s.load_n = 400;
  s.tempo.assign("1.5-0.5-1.5-0.5");
  s.target_reps = reps;
  w.push(s);
  w.event(storage::Severity::Info, "set_started", "isotonic 400 N", "{\"value\":400}", id);
  for (int k = 1; k <= reps; ++k) {
    w.push(rep(id, k));
    if (k % 1 == 0) w.event(storage::Severity::Info, "rep", "rep counted", "", id);
  }
  storage::SetEndRecord e;
  e.set_id = id;
  e.stop_reason.assign("target_reached");
  e.reps = reps;
  e.tut_s = reps * 4.0;
  w.push(e);
  w.event(storage::Severity::Info, "set_ended", "target_reached", "", id);
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Broker {
  test::TempDir dir;
  int port = test::free_tcp_port();
  test::ChildProcess p;
  Broker() {
    std::ofstream(dir.file("m.conf")) << "listener " << port
                                      << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
                                         "max_queued_messages 1000000\n";
    p.start({"/usr/sbin/mosquitto", "-c", dir.file("m.conf")});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
};

app::DaemonConfig daemon_config(const std::string& db, int port) {
  app::DaemonConfig c;
  c.storage.db_path = db;
  c.storage.outbox = true;
  c.storage.outbox_max_rows = 10'000'000;
  fleet::FleetConfig f;
  f.broker = "mqtt://127.0.0.1:" + std::to_string(port);
  f.host = "127.0.0.1";
  f.port = port;
  f.machine = "m1";
  f.site = "gym";
  f.username = "m1";
  c.fleet = f;
  return c;
}

/// The link with the outbox as its one participant (as in soleusd, no status).
struct Publisher {
  app::OutboxPublisher outbox;
  fleet::Link link;
  Publisher(const app::DaemonConfig& c, storage::Writer& w)
      : outbox(*c.fleet, c.storage, w), link([&] {
          fleet::LinkOptions o;
          o.cfg = *c.fleet;
          return o;
        }()) {
    link.add(outbox);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const int minutes = argc > 1 ? std::atoi(argv[1]) : 10;
  mosquitto_lib_init();
  Broker broker;
  Sub sub(broker.port);
  test::TempDir dir;

  // 1. latency
  {
    auto cfg = daemon_config(dir.file("lat.db"), broker.port);
    storage::Writer w(cfg.storage);
    Publisher* pub_ptr = nullptr;
    w.on_outbox([&] {
      if (pub_ptr) {
        pub_ptr->outbox.notify();
        pub_ptr->link.wake();
      }
    });
    w.start();
    Publisher pub(cfg, w);
    pub_ptr = &pub;
    pub.link.start();
    eventually([&] { return pub.link.stats().connected; }, std::chrono::seconds(5));
    eventually([&] { return w.outbox_stats().depth() == 0; }, std::chrono::seconds(5));
    std::vector<double> ms;
    for (int i = 0; i < 300; ++i) {
      const auto before =
          w.outbox_stats().events + static_cast<std::int64_t>(w.outbox_stats().acknowledged);
      (void)before;
      const auto t0 = Clock::now();
      std::size_t n0;
      {
        std::lock_guard l(sub.mu);
        n0 = sub.count;
      }
      w.event(storage::Severity::Info, "bench", "latency");
      eventually(
          [&] {
            std::lock_guard l(sub.mu);
            return sub.count > n0;
          },
          std::chrono::seconds(5));
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      // pushed at varying phases of the writer's flush period
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + (i * 37) % 100));
    }
    std::printf(
        "1. publish latency, event pushed -> subscriber (writer flush_ms %d, loopback, QoS 1), "
        "n=%zu: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
        cfg.storage.flush_ms, ms.size(), pct(ms, 0.5), pct(ms, 0.99), pct(ms, 1.0));
    pub_ptr = nullptr;
    pub.link.stop();
    w.stop();
  }

  // 2. drain after an outage
  auto drain = [&](const char* name, int sets, int reps, int extra_events, int metrics) {
    auto cfg = daemon_config(dir.file(std::string(name) + ".db"), broker.port);
    storage::Writer w(cfg.storage);
    w.start();
    for (int s = 0; s < sets; ++s) push_set(w, reps);
    for (int e = 0; e < extra_events; ++e) w.event(storage::Severity::Info, "bench", "filler");
    for (int m = 0; m < metrics; ++m)
      w.push_telemetry(
          R"({"loop":{"p50_ms":10.0,"p99_ms":10.4,"overruns":0},"bus":{"transactions":123456,"timeouts":0,"crc_errors":0},"signals":{"drive_temperature_c":41.5,"bus_voltage_v":48.1},"odometer":{"sets":1234,"reps":15000,"motor_on_s":86400}})");
    w.flush(std::chrono::seconds(60));
    eventually([&] { return w.outbox_stats().metrics == metrics; }, std::chrono::seconds(10));
    const auto st = w.outbox_stats();
    const auto rows = st.depth();
    std::size_t n0;
    {
      std::lock_guard l(sub.mu);
      n0 = sub.count;
    }
    Publisher pub(cfg, w);
    w.on_outbox([] {});
    const auto t0 = Clock::now();
    pub.link.start();
    eventually(
        [&] {
          std::lock_guard l(sub.mu);
          return sub.count >= n0 + static_cast<std::size_t>(rows);
        },
        std::chrono::seconds(600));
    const double published_s = std::chrono::duration<double>(Clock::now() - t0).count();
    eventually([&] { return w.outbox_stats().depth() == 0; }, std::chrono::seconds(600));
    const double empty_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf(
        "2. %-34s %6lld rows (%lld sets, %lld events, %lld telemetry): all at the subscriber "
        "in %.2f s (%.0f rows/s), outbox empty (acks written) in %.2f s\n",
        name, static_cast<long long>(rows), static_cast<long long>(st.sets),
        static_cast<long long>(st.events), static_cast<long long>(st.metrics), published_s,
        static_cast<double>(rows) / published_s, empty_s);
    pub.link.stop();
    w.stop();
  };
  const std::string outage = std::to_string(minutes) + "-minute outage";
  drain(outage.c_str(), minutes, 12, 0, minutes);
  drain("large outbox", 5000, 3, 0, 0);

  // 3. bytes per set
  {
    std::string last;
    {
      std::lock_guard l(sub.mu);
      last = sub.last_set;
    }
    const auto nl = last.find('\n');
    const std::string topic = last.substr(0, nl), payload = last.substr(nl + 1);
    // a 12-rep set
    auto cfg = daemon_config(dir.file("bytes.db"), broker.port);
    storage::Writer w(cfg.storage);
    w.start();
    push_set(w, 12);
    w.flush(std::chrono::seconds(10));
    app::OutboxPublisher ob(*cfg.fleet, cfg.storage, w);
    std::size_t body = 0;
    std::string t;
    for (const auto& m : ob.outgoing(1000))
      if (m.topic.ends_with("/sets")) {
        body = m.payload.size();
        t = cfg.fleet->site_root() + m.topic;
      }
    const std::size_t remaining = 2 + t.size() + 2 + body;
    std::size_t varint = 1;
    for (std::size_t r = remaining; r >= 128; r /= 128) ++varint;
    const std::size_t publish = 1 + varint + remaining;
    std::printf(
        "3. bytes per set (12 reps, member id, rep_log): payload %zu B, PUBLISH %zu B "
        "(topic %zu B), + PUBACK 4 B = %zu B on the wire (MQTT; TCP/IP headers not "
        "counted)\n",
        body, publish, t.size(), publish + 4);
    w.stop();
  }
  (void)outage;
  return 0;
}
