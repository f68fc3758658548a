// mqtt_broker_bench: figures of Debian's mosquitto on this machine for issue
// 14 (docs/fleet/broker.md, "Figures"): publish -> subscriber latency, and how
// many messages per second one mosquitto takes from N simulated machines.
//
// Principle of operation:
//  1. A MosquittoRig (tests/support) starts a real mosquitto with the fleet's
//     ACL, passwords and TLS, with accounts m00..m(N-1) of site "gym" and the
//     read-only monitor, which subscribes to soleus/gym/# with QoS 1.
//  2. latency: machine m00 publishes COUNT messages of SIZE bytes, one at a
//     time (the next once the monitor has the previous one), to
//     soleus/gym/m00/sets with QoS 1; each payload carries its send time on
//     the steady clock and the monitor's hook takes the difference on receipt.
//     Once over the plain listener and once over TLS.
//  3. load: N publishers (one libmosquitto client and network thread each, as
//     N machines would have) publish at RATE messages/s each (0: as fast as
//     each one's window of WINDOW unacknowledged messages allows) for SECONDS.
//     One pacing thread sends each publisher's message when it is due. It
//     prints what was offered, what the broker acknowledged and what the
//     monitor received per second, the latency under load, and the broker's
//     CPU time (from /proc/PID/stat) per 1000 messages.
//
// Usage:
//   mqtt_broker_bench latency [--count 2000] [--size 1024] [--nodelay]
//   mqtt_broker_bench load [--publishers 50] [--rate 10] [--seconds 10]
//                          [--size 1024] [--qos 1] [--window 20] [--tls] [--nodelay]
// --nodelay turns Nagle's algorithm off on both sides (mosquitto's
// set_tcp_nodelay, libmosquitto's MOSQ_OPT_TCP_NODELAY); without it, the
// defaults of both.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "soleus/test_support/mosquitto_rig.hpp"

using namespace std::chrono_literals;
using soleus::test::Listener;
using soleus::test::MosquittoRig;
using soleus::test::MosquittoRigOptions;
using soleus::test::MqttMessage;
using soleus::test::MqttProbe;

namespace {

struct Args {
  std::string mode;
  int count = 2000;
  int size = 1024;
  int publishers = 50;
  double rate = 10.0;
  double seconds = 10.0;
  int qos = 1;
  int window = 20;
  bool tls = false;
  bool nodelay = false;
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: mqtt_broker_bench latency [--count N] [--size B] [--nodelay]\n"
               "       mqtt_broker_bench load [--publishers N] [--rate R] [--seconds S]\n"
               "                              [--size B] [--qos Q] [--window W] [--tls] "
               "[--nodelay]\n");
  std::exit(2);
}

Args parse(int argc, char** argv) {
  if (argc < 2) usage();
  Args a;
  a.mode = argv[1];
  if (a.mode != "latency" && a.mode != "load") usage();
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (k == "--count") a.count = std::atoi(value());
    else if (k == "--size") a.size = std::atoi(value());
    else if (k == "--publishers") a.publishers = std::atoi(value());
    else if (k == "--rate") a.rate = std::atof(value());
    else if (k == "--seconds") a.seconds = std::atof(value());
    else if (k == "--qos") a.qos = std::atoi(value());
    else if (k == "--window") a.window = std::atoi(value());
    else if (k == "--tls") a.tls = true;
    else if (k == "--nodelay") a.nodelay = true;
    else usage();
  }
  if (a.count < 1 || a.size < 32 || a.publishers < 1 || a.publishers > 500 || a.rate < 0 ||
      a.seconds <= 0 || a.qos < 0 || a.qos > 1 || a.window < 1)
    usage();
  return a;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// A payload of `size` bytes that starts with its send time: "<ns>;xxxx...".
std::string payload(int size) {
  std::string p = std::to_string(now_ns()) + ";";
  p.resize(static_cast<std::size_t>(size), 'x');
  return p;
}

std::int64_t sent_ns(const std::string& payload) { return std::atoll(payload.c_str()); }

/// Latencies (ns) collected on the monitor's network thread.
struct Latencies {
  std::mutex mutex;
  std::vector<std::int64_t> ns;
  std::atomic<std::uint64_t> received{0};
  void add(const MqttMessage& m) {
    ++received;
    const std::int64_t d = m.received_ns - sent_ns(m.payload);
    std::lock_guard lock(mutex);
    ns.push_back(d);
  }
};

double quantile_ms(std::vector<std::int64_t> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  return static_cast<double>(v[i]) / 1e6;
}

/// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0.0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string machine_name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "m%02d", i);
  return buf;
}

std::unique_ptr<MqttProbe> connect_as(const MosquittoRig& rig, const std::string& account,
                                      Listener l, bool nodelay, Latencies* lat = nullptr) {
  auto o = rig.probe_options(account, l);
  o.tcp_nodelay = nodelay;
  if (lat != nullptr) o.keep_messages = false;
  auto p = std::make_unique<MqttProbe>(o);
  if (lat != nullptr) p->on_message([lat](const MqttMessage& m) { lat->add(m); });
  if (p->connect() != 0) {
    std::fprintf(stderr, "connect as %s: %s\n%s", account.c_str(), p->last_error().c_str(),
                 rig.log().c_str());
    std::exit(1);
  }
  return p;
}

int run_latency(const Args& a) {
  MosquittoRigOptions o;
  o.machines = {machine_name(0)};
  o.tcp_nodelay = a.nodelay;
  MosquittoRig rig(o);
  rig.start();
  std::printf("mosquitto latency: %d messages of %d B, QoS 1, one at a time, loopback%s\n", a.count,
              a.size, a.nodelay ? ", TCP_NODELAY on both sides" : ", default sockets");
  for (const Listener l : {Listener::plain, Listener::tls}) {
    Latencies lat;
    auto monitor = connect_as(rig, "monitor", l, a.nodelay, &lat);
    if (monitor->subscribe("soleus/gym/#", 1) != 1) return 1;
    auto pub = connect_as(rig, machine_name(0), l, a.nodelay);
    std::vector<std::int64_t> ack_ns;
    const std::string topic = rig.topic(machine_name(0), "sets");
    for (int i = 0; i < a.count; ++i) {
      const std::int64_t t0 = now_ns();
      const auto r = pub->publish(topic, payload(a.size), 1);
      if (!r.acked) {
        std::fprintf(stderr, "no PUBACK\n");
        return 1;
      }
      ack_ns.push_back(now_ns() - t0);
      // The next once this one arrived (bounded).
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (lat.received.load() < static_cast<std::uint64_t>(i + 1) &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50us);
    }
    std::lock_guard lock(lat.mutex);
    std::printf(
        "  %-5s publish->subscriber p50 %.3f ms  p99 %.3f ms  max %.3f ms | publish->PUBACK "
        "p50 %.3f ms  p99 %.3f ms  (%zu received)\n",
        l == Listener::plain ? "plain" : "TLS", quantile_ms(lat.ns, 0.5), quantile_ms(lat.ns, 0.99),
        quantile_ms(lat.ns, 1.0), quantile_ms(ack_ns, 0.5), quantile_ms(ack_ns, 0.99),
        lat.ns.size());
  }
  return 0;
}

int run_load(const Args& a) {
  MosquittoRigOptions o;
  o.machines.clear();
  for (int i = 0; i < a.publishers; ++i) o.machines.push_back(machine_name(i));
  o.max_queued_messages = 0;  // the monitor may lag: measure, do not drop
  o.max_inflight_messages = a.window;
  o.tcp_nodelay = a.nodelay;
  MosquittoRig rig(o);
  rig.start();
  const Listener l = a.tls ? Listener::tls : Listener::plain;

  Latencies lat;
  auto monitor = connect_as(rig, "monitor", l, a.nodelay, &lat);
  if (monitor->subscribe("soleus/gym/#", 1) != 1) return 1;
  std::vector<std::unique_ptr<MqttProbe>> pubs;
  std::vector<std::string> topics;
  for (int i = 0; i < a.publishers; ++i) {
    pubs.push_back(connect_as(rig, machine_name(i), l, a.nodelay));
    topics.push_back(rig.topic(machine_name(i), "sets"));
  }

  // One pacing thread: publisher i's k-th message is due at start + (k + i/N)/rate.
  const auto n = static_cast<std::size_t>(a.publishers);
  std::vector<std::uint64_t> sent(n, 0);
  const double cpu0 = cpu_seconds(rig.pid());
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(a.seconds);
  std::uint64_t offered = 0, refused = 0;
  while (std::chrono::steady_clock::now() < end) {
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      const bool due = a.rate == 0.0
                           ? sent[i] < pubs[i]->acked() + static_cast<std::uint64_t>(a.window)
                           : static_cast<double>(sent[i]) <=
                                 t * a.rate - static_cast<double>(i) / static_cast<double>(n);
      if (!due) continue;
      if (pubs[i]->publish_nowait(topics[i], payload(a.size), a.qos) > 0) {
        ++sent[i];
        ++offered;
        any = true;
      } else {
        ++refused;
      }
    }
    if (!any) std::this_thread::sleep_for(a.rate == 0.0 ? 20us : 200us);
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::uint64_t acked = 0;
  for (const auto& p : pubs) acked += p->acked();
  const std::uint64_t received_in_time = lat.received.load();
  // Drain: what the monitor still gets within 10 s (its lag).
  const auto drain_deadline = std::chrono::steady_clock::now() + 10s;
  while (lat.received.load() < offered && std::chrono::steady_clock::now() < drain_deadline)
    std::this_thread::sleep_for(1ms);
  const double cpu = cpu_seconds(rig.pid()) - cpu0;
  const std::uint64_t received = lat.received.load();

  char rate_buf[32];
  std::snprintf(rate_buf, sizeof rate_buf, "%g", a.rate);
  const std::string rate_text = rate_buf;
  std::lock_guard lock(lat.mutex);
  std::printf(
      "mosquitto load: %d publishers x %s msg/s, %d B, QoS %d, %s%s, %.1f s\n"
      "  offered   %8.0f msg/s (%llu)\n"
      "  acked     %8.0f msg/s (%llu PUBACKs%s)\n"
      "  received  %8.0f msg/s by the monitor during the run; %llu of %llu in the end\n"
      "  latency publish->monitor p50 %.2f ms  p99 %.2f ms  max %.2f ms\n"
      "  broker CPU %.2f s = %.1f %% of one core; %.3f ms per 1000 messages in+out\n"
      "  %llu publish calls refused by the client (its queue)\n",
      a.publishers, a.rate == 0.0 ? "max" : rate_text.c_str(), a.size, a.qos,
      a.tls ? "TLS" : "plain", a.nodelay ? ", TCP_NODELAY" : "", elapsed,
      static_cast<double>(offered) / elapsed, static_cast<unsigned long long>(offered),
      static_cast<double>(acked) / elapsed, static_cast<unsigned long long>(acked),
      a.qos == 0 ? ", QoS 0: sends" : "", static_cast<double>(received_in_time) / elapsed,
      static_cast<unsigned long long>(received), static_cast<unsigned long long>(offered),
      quantile_ms(lat.ns, 0.5), quantile_ms(lat.ns, 0.99), quantile_ms(lat.ns, 1.0), cpu,
      100.0 * cpu / elapsed,
      received > 0 ? 1000.0 * 1000.0 * cpu / static_cast<double>(received) : 0.0,
      static_cast<unsigned long long>(refused));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    return a.mode == "latency" ? run_latency(a) : run_load(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mqtt_broker_bench: %s\n", e.what());
    return 1;
  }
}
