#pragma once
/// Test helpers for the fleet's link until tests/support has the shared
/// MosquittoRig (issue 14): Debian's /usr/sbin/mosquitto on a free loopback
/// port with a generated configuration (anonymous, no TLS: the link's
/// behaviour, not the broker's security, is under test here), and a
/// subscriber on libmosquitto that keeps every message it gets.
#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "soleus/test_support/process.hpp"

namespace soleus::test {

inline bool tcp_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

/// Waits for `pred` with a deadline (no sleeps to hide races: polls every 10 ms).
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class MiniBroker {
 public:
  /// `persistent`: the broker keeps sessions and queued messages across a
  /// clean stop (persistence true, in the test's directory).
  explicit MiniBroker(bool persistent = false) : port_(free_tcp_port()) {
    conf_ = dir_.file("mosquitto.conf");
    std::ofstream(conf_) << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\n"
                         << "persistence " << (persistent ? "true" : "false") << "\n"
                         << "persistence_location " << dir_.path() << "/\n"
                         << "max_queued_messages 100000\n"
                         << (persistent ? "autosave_interval 1\n" : "") << user_line()
                         << "log_dest stderr\nlog_type error\n";
    start();
  }
  /// mosquitto started as root drops to user "mosquitto", which cannot write
  /// the test's directory: it runs as whoever runs the test (as MosquittoRig).
  static std::string user_line() {
    const passwd* pw = ::getpwuid(::getuid());
    return pw ? "user " + std::string(pw->pw_name) + "\n" : std::string();
  }
  /// Waits until the broker has written its persistence file after this
  /// call (autosave every second when persistent): what it holds now, the
  /// sessions and their subscriptions, survives a kill9().
  void wait_saved() {
    const auto db = dir_.path() + "/mosquitto.db";
    const auto mtime = [&] {
      struct stat st {};
      return ::stat(db.c_str(), &st) == 0 ? st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec
                                          : 0LL;
    };
    const auto before = mtime();
    if (!eventually([&] { return mtime() > before; }, std::chrono::seconds(5)))
      throw std::runtime_error("mosquitto did not save its persistence");
  }
  /// SIGTERM: the broker saves its state (persistent) and exits.
  void stop() { proc_->stop(); }
  void start() {
    proc_ = std::make_unique<ChildProcess>();
    proc_->start({"/usr/sbin/mosquitto", "-c", conf_});
    if (!eventually([&] { return tcp_accepts(port_); }, std::chrono::seconds(10)))
      throw std::runtime_error("mosquitto did not listen on " + std::to_string(port_) + ": " +
                               proc_->output());
  }
  void kill9() {
    ::kill(proc_->pid(), SIGKILL);
    proc_->stop();
  }
  void sigstop() { ::kill(proc_->pid(), SIGSTOP); }
  void sigcont() { ::kill(proc_->pid(), SIGCONT); }
  int port() const { return port_; }
  std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }

 private:
  TempDir dir_;
  int port_;
  std::string conf_;
  std::unique_ptr<ChildProcess> proc_;
};

struct Received {
  std::string topic;
  std::string payload;
  bool retained = false;
};

/// A subscriber (its own libmosquitto thread) that keeps every message.
class Subscriber {
 public:
  /// `clean` false: a persistent session (the broker queues QoS 1 messages
  /// while this subscriber is away, and across a clean broker restart).
  /// `username`/`password`: an account of a broker that refuses anonymous
  /// access (the MosquittoRig's "monitor").
  Subscriber(int port, const std::string& filter, const std::string& id = "test-sub",
             bool clean = true, const std::string& username = {}, const std::string& password = {})
      : filter_(filter) {
    mosquitto_lib_init();
    m_ = mosquitto_new(id.c_str(), clean, this);
    if (!username.empty()) mosquitto_username_pw_set(m_, username.c_str(), password.c_str());
    mosquitto_connect_callback_set(m_, [](mosquitto* m, void* o, int rc) {
      if (rc == 0) {
        auto* self = static_cast<Subscriber*>(o);
        mosquitto_subscribe(m, nullptr, self->filter_.c_str(), 1);
      }
    });
    mosquitto_subscribe_callback_set(m_, [](mosquitto*, void* o, int, int, const int*) {
      auto* self = static_cast<Subscriber*>(o);
      std::lock_guard l(self->mu_);
      self->subscribed_ = true;
    });
    mosquitto_message_callback_set(m_, [](mosquitto*, void* o, const mosquitto_message* msg) {
      auto* self = static_cast<Subscriber*>(o);
      std::lock_guard l(self->mu_);
      self->got_.push_back({msg->topic,
                            std::string(static_cast<const char*>(msg->payload),
                                        static_cast<std::size_t>(msg->payloadlen)),
                            msg->retain});
    });
    mosquitto_reconnect_delay_set(m_, 1, 1, false);
    if (mosquitto_connect(m_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS)
      throw std::runtime_error("subscriber cannot connect");
    mosquitto_loop_start(m_);
    if (!eventually(
            [&] {
              std::lock_guard l(mu_);
              return subscribed_;
            },
            std::chrono::seconds(5)))
      throw std::runtime_error("subscriber not subscribed");
  }
  ~Subscriber() {
    mosquitto_disconnect(m_);
    mosquitto_loop_stop(m_, true);
    mosquitto_destroy(m_);
  }
  std::vector<Received> messages() const {
    std::lock_guard l(mu_);
    return got_;
  }
  std::size_t count(const std::string& topic_suffix) const {
    std::lock_guard l(mu_);
    std::size_t n = 0;
    for (const auto& r : got_)
      if (r.topic.size() >= topic_suffix.size() &&
          r.topic.compare(r.topic.size() - topic_suffix.size(), topic_suffix.size(),
                          topic_suffix) == 0)
        ++n;
    return n;
  }

 private:
  std::string filter_;
  mosquitto* m_ = nullptr;
  mutable std::mutex mu_;
  bool subscribed_ = false;
  std::vector<Received> got_;
};

}  // namespace soleus::test
