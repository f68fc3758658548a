// bench_hmi: live-view latency of the HMI server, from a sample's time (t_ms)
// to its receipt by WebSocket clients, with 1 and with 10 clients.
//
// Principle of operation:
//  1. A producer thread stands in for the control loop: every 10 ms (100 Hz),
//     on a boundary of the system clock, it publishes a frame whose t_ms is
//     that boundary, so t_ms is exact to the microsecond.
//  2. The server samples the latest frame at live_rate_hz, as in soleusd. The
//     stub backend numbers each sampled frame (set_id) and notes when it was
//     sampled.
//  3. N clients on one thread read every message and note its arrival.
//     end-to-end = arrival - t_ms (the sample's age: includes waiting for the
//     next sampling tick); delivery = arrival - sampling (the server and the
//     socket alone).
//
// Usage: bench_hmi [seconds per run, default 10] [live rate Hz, default 25]
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <cmath>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "soleus/common/log.hpp"
#include "soleus/hmi/server.hpp"

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace soleus::hmi;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Only the live frame matters here; everything else is refused.
class StubBackend : public Backend {
 public:
  void publish(std::int64_t t_ms) {
    std::lock_guard l(mutex_);
    frame_.t_ms = t_ms;
    frame_.force_n = 512.3;
    frame_.position_mm = 41.7;
    frame_.velocity_mm_s = 23.4;
    frame_.load_n = 500;
    frame_.state = "active";
    frame_.phase = "concentric";
    frame_.phase_progress = 0.42;
    frame_.reps = 7;
    frame_.tut_s = 48.2;
  }
  std::optional<LiveFrame> latest_frame() override {
    std::lock_guard l(mutex_);
    if (frame_.t_ms == 0) return std::nullopt;
    LiveFrame f = frame_;
    f.set_id = ++seq_;
    sampled_us_[seq_] = now_us();
    return f;
  }
  std::int64_t sampled_us(std::int64_t seq) {
    std::lock_guard l(mutex_);
    auto it = sampled_us_.find(seq);
    return it == sampled_us_.end() ? 0 : it->second;
  }

  StatusView status() override { return {}; }
  bool stop_current(StopCause) override { return false; }
  Result start_set(const SetRequest&) override { return Result::conflict("bench"); }
  std::optional<SetView> get_set(std::int64_t) override { return std::nullopt; }
  EventPage events(const EventQuery&) override { return {}; }
  Result list(Collection) override { return Result::ok(boost::json::array{}); }
  Result get(Collection, std::int64_t) override { return Result::not_found("bench"); }
  Result create(Collection, const boost::json::object&) override {
    return Result::conflict("bench");
  }
  Result update(Collection, std::int64_t, const boost::json::object&) override {
    return Result::not_found("bench");
  }
  Result remove(Collection, std::int64_t) override { return Result::not_found("bench"); }
  Result assign_programme(std::int64_t, std::optional<std::int64_t>) override {
    return Result::not_found("bench");
  }
  Result member_history(std::int64_t, int) override { return Result::ok(boost::json::array{}); }
  std::optional<MemberCredential> member_credential(const std::string&) override {
    return std::nullopt;
  }
  Result session(std::int64_t, SessionAction) override { return Result::not_found("bench"); }
  Result assessment(std::int64_t, AssessmentAction) override { return Result::not_found("bench"); }
  Result member_assessments(std::int64_t) override { return Result::not_found("bench"); }
  Result assign_assessment(std::int64_t, bool) override { return Result::not_found("bench"); }
  Result maintenance(MaintenanceAction, const boost::json::object&) override {
    return Result::conflict("bench");
  }
  boost::json::value diagnostics() override { return boost::json::object{}; }

 private:
  std::mutex mutex_;
  LiveFrame frame_;
  std::int64_t seq_ = 0;
  std::map<std::int64_t, std::int64_t> sampled_us_;
};

struct Client {
  explicit Client(net::io_context& ioc) : ws(ioc) {}
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer buf;
  std::vector<std::pair<std::string, std::int64_t>> got;  // text, arrival µs
};

void read_loop(Client& c) {
  c.ws.async_read(c.buf, [&c](beast::error_code ec, std::size_t) {
    const auto t = now_us();
    if (ec) return;
    c.got.emplace_back(beast::buffers_to_string(c.buf.data()), t);
    c.buf.consume(c.buf.size());
    read_loop(c);
  });
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i =
      static_cast<std::size_t>(std::lround(p / 100.0 * static_cast<double>(v.size() - 1)));
  return v[std::min(i, v.size() - 1)];
}

void run(std::uint16_t port, StubBackend& be, int n, double seconds, double rate) {
  net::io_context ioc;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < n; ++i) {
    auto c = std::make_unique<Client>(ioc);
    c->ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    c->ws.handshake("127.0.0.1:" + std::to_string(port), "/api/v1/live");
    read_loop(*c);
    clients.push_back(std::move(c));
  }
  std::thread t([&] { ioc.run(); });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  ioc.stop();
  t.join();

  std::vector<double> e2e, delivery;
  std::size_t frames = 0;
  for (auto& c : clients) {
    for (std::size_t i = 5; i < c->got.size(); ++i) {  // skip the warm-up
      const auto& [text, arrival] = c->got[i];
      const auto v = boost::json::parse(text);
      const auto t_ms = v.at("t_ms").to_number<std::int64_t>();
      const auto seq = v.at("set_id").to_number<std::int64_t>();
      e2e.push_back(static_cast<double>(arrival - t_ms * 1000) / 1000.0);
      if (const auto s = be.sampled_us(seq))
        delivery.push_back(static_cast<double>(arrival - s) / 1000.0);
    }
    frames += c->got.size();
  }
  std::printf(
      "%2d client%s  %6.1f frames/s/client (rate %.0f Hz)   end-to-end p50 %6.2f ms  p99 %6.2f ms  "
      "max %6.2f ms"
      "   delivery p50 %5.2f ms  p99 %5.2f ms  (%zu samples)\n",
      n, n == 1 ? " " : "s", static_cast<double>(frames) / seconds / n, rate, pct(e2e, 50),
      pct(e2e, 99), pct(e2e, 100), pct(delivery, 50), pct(delivery, 99), e2e.size());
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 10.0;
  const double rate = argc > 2 ? std::atof(argv[2]) : 25.0;
  soleus::log::set_level(soleus::log::Level::Warning);
  StubBackend be;
  std::atomic<bool> running{true};
  std::thread producer([&] {  // the control loop: 100 Hz on 10 ms boundaries
    while (running) {
      const auto next_ms = (now_us() / 10000 + 1) * 10;
      std::this_thread::sleep_until(
          std::chrono::system_clock::time_point(std::chrono::milliseconds(next_ms)));
      be.publish(next_ms);
    }
  });
  HmiConfig cfg;
  cfg.port = 0;
  cfg.asset_dir = "/nonexistent";
  cfg.live_rate_hz = rate;
  Server server(cfg, be);
  server.start();
  std::printf("bench_hmi: live view at %.0f Hz, producer 100 Hz, %.0f s per run\n", rate, seconds);
  run(server.port(), be, 1, seconds, rate);
  run(server.port(), be, 10, seconds, rate);
  const auto st = server.stats();
  std::printf("server: %llu frames sampled, %llu sent, %llu skipped\n",
              static_cast<unsigned long long>(st.frames_sampled),
              static_cast<unsigned long long>(st.frames_sent),
              static_cast<unsigned long long>(st.frames_skipped));
  server.stop();
  running = false;
  producer.join();
  return 0;
}
