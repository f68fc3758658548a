#include "soleus/fleet/link.hpp"

#include <mosquitto.h>

#include <boost/json.hpp>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "soleus/common/log.hpp"
#include "soleus/common/time.hpp"

namespace soleus::fleet {

std::string envelope(std::string_view id, std::string_view machine, std::string_view kind,
                     std::int64_t t_ms, std::string_view data_json) {
  boost::json::object o;
  o["id"] = id;
  o["machine"] = machine;
  o["kind"] = kind;
  o["t_ms"] = t_ms;
  boost::system::error_code ec;
  boost::json::value data = boost::json::parse(data_json, ec);
  o["data"] = ec ? boost::json::value(boost::json::string(data_json)) : std::move(data);
  return boost::json::serialize(o);
}

namespace {
std::once_flag g_lib_init;

std::string state_payload(const FleetConfig& c, bool online) {
  boost::json::object o;
  o["state"] = online ? "online" : "offline";
  o["machine"] = c.machine;
  o["t_ms"] = common::unix_ms_now();
  return boost::json::serialize(o);
}
}  // namespace

struct Link::Impl {
  explicit Impl(LinkOptions o) : opt(std::move(o)) {}

  struct Inflight {
    Participant* p = nullptr;  // null: the link's own (state, status)
    Message m;
    std::string key;
  };

  LinkOptions opt;
  std::vector<Participant*> parts;
  std::thread thread;
  std::atomic<bool> stop_flag{false};
  std::atomic<bool> woken{false};
  std::mutex wait_mutex;
  std::condition_variable wait_cv;

  // link-thread state
  mosquitto* mosq = nullptr;
  bool socket_up = false;   // mosquitto_connect succeeded, not yet lost
  bool connected = false;   // CONNACK accepted
  bool connect_refused = false;  // the last CONNACK refused (MQTT v5 then ends the socket)
  std::map<int, Inflight> inflight;
  std::map<Participant*, std::set<std::string>> inflight_keys;
  std::size_t participant_inflight = 0;
  int offline_mid = -1;
  int state_mid = -1;  // the online state's message id (its PUBACK says if it was refused)
  bool offline_acked = false;
  static constexpr std::chrono::seconds refusal_hold{10};
  std::chrono::steady_clock::time_point hold_until{}, last_refusal_log{};
  std::string last_status;
  std::chrono::steady_clock::time_point last_status_at{}, next_status_check{};
  std::uint64_t status_n = 0;

  mutable std::mutex stats_mutex;
  LinkStats st;

  void set_error(const std::string& e) {
    std::lock_guard lock(stats_mutex);
    st.last_error = e;
  }

  // ---- libmosquitto callbacks (on this thread: called from mosquitto_loop) ----
  static void on_connect(mosquitto*, void* obj, int rc) {
    static_cast<Impl*>(obj)->connected_cb(rc);
  }
  static void on_disconnect(mosquitto*, void* obj, int rc) {
    static_cast<Impl*>(obj)->disconnected_cb(rc);
  }
  static void on_publish(mosquitto*, void* obj, int mid, int reason,
                         const mosquitto_property*) {
    static_cast<Impl*>(obj)->published_cb(mid, reason);
  }
  static void on_message(mosquitto*, void* obj, const mosquitto_message* m) {
    static_cast<Impl*>(obj)->message_cb(m);
  }

  void connected_cb(int rc) {
    if (rc != 0) {
      const std::string why = std::string("broker refused the connection: ") +
                              mosquitto_reason_string(rc);
      log::warn("fleet: ", why);
      set_error(why);
      connect_refused = true;  // the socket's end that follows says nothing more
      return;
    }
    connected = true;
    {
      std::lock_guard lock(stats_mutex);
      st.connected = true;
      ++st.connects;
    }
    log::notice("fleet: connected to ", opt.cfg.host, ":", opt.cfg.port, " as ",
                opt.cfg.machine);
    const std::string online = state_payload(opt.cfg, true);
    const std::string topic = opt.cfg.own_topic("state");
    mosquitto_publish(mosq, &state_mid, topic.c_str(), static_cast<int>(online.size()),
                      online.data(), 1, true);
    const std::string root = opt.cfg.site_root();
    for (Participant* p : parts)
      for (const auto& f : p->subscriptions()) {
        const std::string full = root + f;
        const int src = mosquitto_subscribe(mosq, nullptr, full.c_str(), 1);
        if (src != MOSQ_ERR_SUCCESS)
          log::warn("fleet: subscribe ", full, ": ", mosquitto_strerror(src));
      }
    for (Participant* p : parts) p->on_connected();
    woken = true;
  }

  void disconnected_cb(int rc) {
    if (connected || rc != 0) {
      std::lock_guard lock(stats_mutex);
      ++st.disconnects;
    }
    connected = false;
    std::lock_guard lock(stats_mutex);
    st.connected = false;
  }

  // MQTT v5's PUBACK carries a reason: 128 and above is a refusal (135: not
  // authorized, the ACL's answer to a topic this account may not write).
  // v3.1.1 acknowledged such a publish as usual and dropped it, and the
  // outbox would have deleted the row. A refused message is not
  // acknowledged to its participant (the outbox keeps the row), and the
  // participants' publishing holds for refusal_hold: the same message would
  // be offered again at once. The log says so at most once a minute.
  void published_cb(int mid, int reason) {
    if (mid == offline_mid) offline_acked = true;
    if (mid == state_mid && reason >= 128) {
      // The first sign of a [fleet] machine that is not this account's name.
      const std::string why = "the broker refused this machine's state on " +
                              opt.cfg.own_topic("state") + ": " +
                              mosquitto_reason_string(reason) + " (" + std::to_string(reason) +
                              ")";
      set_error(why);
      log::error("fleet: ", why, " (is [fleet] machine this account's name?)");
    }
    auto it = inflight.find(mid);
    if (it == inflight.end()) return;
    Inflight f = std::move(it->second);
    inflight.erase(it);
    if (f.p) {
      inflight_keys[f.p].erase(f.key);
      --participant_inflight;
      if (reason >= 128) {
        refused(f.m.topic, std::string(mosquitto_reason_string(reason)) + " (" +
                               std::to_string(reason) + ")");
      } else {
        f.p->acknowledged(f.m);
        std::lock_guard lock(stats_mutex);
        ++st.acknowledged;
      }
    }
    woken = true;  // room in the window
  }

  // A message the broker refused, or the client would not send: not
  // acknowledged (the outbox keeps it), counted, logged at most once a
  // minute, and the participants' publishing holds for refusal_hold.
  void refused(const std::string& topic, const std::string& reason) {
    const auto now = std::chrono::steady_clock::now();
    hold_until = now + refusal_hold;
    const std::string why =
        "the broker refused a publish on " + opt.cfg.site_root() + topic + ": " + reason;
    set_error(why);
    {
      std::lock_guard lock(stats_mutex);
      ++st.refused;
    }
    if (now - last_refusal_log >= std::chrono::minutes(1)) {
      last_refusal_log = now;
      log::error("fleet: ", why,
                 "; kept in the outbox, tried again in 10 s (is [fleet] machine this "
                 "account's name, and the broker's ACL the site's? is the message larger than "
                 "the broker's max_packet_size?)");
    }
  }

  void message_cb(const mosquitto_message* m) {
    if (!m || !m->topic) return;
    const std::string root = opt.cfg.site_root();
    std::string_view topic(m->topic);
    if (!topic.starts_with(root)) return;
    Message msg;
    msg.topic = std::string(topic.substr(root.size()));
    msg.payload.assign(static_cast<const char*>(m->payload),
                       static_cast<std::size_t>(std::max(m->payloadlen, 0)));
    msg.qos = m->qos;
    msg.retained = m->retain;
    for (Participant* p : parts) {
      for (const auto& f : p->subscriptions()) {
        bool match = false;
        const std::string full = root + f;
        if (mosquitto_topic_matches_sub(full.c_str(), m->topic, &match) == MOSQ_ERR_SUCCESS &&
            match) {
          try {
            p->on_message(msg);
          } catch (const std::exception& e) {
            log::warn("fleet: a participant refused ", m->topic, ": ", e.what());
          }
          {
            std::lock_guard lock(stats_mutex);
            ++st.received;
          }
          break;
        }
      }
    }
  }

  // ---- the thread ----
  bool publish(Participant* p, const Message& m, const std::string& key) {
    const std::string full = opt.cfg.site_root() + m.topic;
    int mid = 0;
    const int rc = mosquitto_publish(mosq, &mid, full.c_str(), static_cast<int>(m.payload.size()),
                                     m.payload.data(), m.qos, m.retained);
    if (rc != MOSQ_ERR_SUCCESS) {
      // MQTT v5: the client itself refuses a message larger than the
      // broker's Maximum Packet Size. Offered again at once, it would block
      // everything behind it: a refusal, with its hold.
      if (p && (rc == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_PAYLOAD_SIZE))
        refused(m.topic, std::string(mosquitto_strerror(rc)) + " (" +
                             std::to_string(m.payload.size()) + " bytes)");
      else set_error(std::string("publish ") + full + ": " + mosquitto_strerror(rc));
      return false;
    }
    {
      std::lock_guard lock(stats_mutex);
      ++st.published;
    }
    if (p) {
      inflight[mid] = Inflight{p, m, key};
      inflight_keys[p].insert(key);
      ++participant_inflight;
    }
    return true;
  }

  void pump() {
    if (std::chrono::steady_clock::now() < hold_until) return;  // after a refusal
    const auto window = static_cast<std::size_t>(opt.inflight_window);
    for (Participant* p : parts) {
      if (participant_inflight >= window) return;
      auto& keys = inflight_keys[p];
      std::vector<Message> msgs;
      try {
        msgs = p->outgoing(window - participant_inflight + keys.size());
      } catch (const std::exception& e) {
        log::warn("fleet: a participant's outgoing(): ", e.what());
        continue;
      }
      for (const auto& m : msgs) {
        if (participant_inflight >= window) return;
        std::string key = m.topic;
        key += '\n';
        key += m.payload;
        if (keys.count(key)) continue;  // offered again while in flight
        if (!publish(p, m, key)) return;
      }
    }
  }

  void status_pass() {
    if (!opt.status) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_status_check) return;
    next_status_check = now + std::chrono::seconds(1);
    LinkOptions::Status s;
    try {
      s = opt.status();
    } catch (const std::exception& e) {
      log::warn("fleet: status: ", e.what());
      return;
    }
    const bool due = now - last_status_at >= std::chrono::seconds(opt.cfg.status_period_s);
    if (!due && s.key == last_status) return;
    const std::int64_t t = common::unix_ms_now();
    Message m;
    m.topic = opt.cfg.machine + "/status";
    m.payload = envelope(opt.cfg.machine + "/status/" + std::to_string(++status_n),
                         opt.cfg.machine, "status", t, s.json);
    m.qos = 0;
    if (publish(nullptr, m, {})) {
      last_status = std::move(s.key);
      last_status_at = now;
    }
  }

  void wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(wait_mutex);
    wait_cv.wait_for(lock, d, [&] { return stop_flag.load() || woken.load(); });
  }

  void run() {
    std::call_once(g_lib_init, [] { mosquitto_lib_init(); });
    const FleetConfig& c = opt.cfg;
    mosq = mosquitto_new(c.machine.c_str(), opt.clean_session, this);
    if (!mosq) {
      set_error("mosquitto_new failed");
      log::error("fleet: mosquitto_new failed: no link to the broker");
      return;
    }
    // MQTT v5: a refused publish is told in its PUBACK (published_cb).
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_username_pw_set(mosq, c.username.c_str(),
                              opt.password.empty() ? nullptr : opt.password.c_str());
    if (c.tls) {
      const int rc = mosquitto_tls_set(mosq, c.ca_file.c_str(), nullptr,
                                       c.cert_file.empty() ? nullptr : c.cert_file.c_str(),
                                       c.key_file.empty() ? nullptr : c.key_file.c_str(), nullptr);
      if (rc != MOSQ_ERR_SUCCESS) {
        set_error(std::string("TLS setup: ") + mosquitto_strerror(rc));
        log::error("fleet: TLS setup failed (", mosquitto_strerror(rc), "): no link");
        mosquitto_destroy(mosq);
        mosq = nullptr;
        return;
      }
    }
    const std::string will = state_payload(c, false);
    const std::string state_topic = c.own_topic("state");
    mosquitto_will_set(mosq, state_topic.c_str(), static_cast<int>(will.size()), will.data(), 1,
                       true);
    mosquitto_connect_callback_set(mosq, &Impl::on_connect);
    mosquitto_disconnect_callback_set(mosq, &Impl::on_disconnect);
    mosquitto_publish_v5_callback_set(mosq, &Impl::on_publish);
    mosquitto_message_callback_set(mosq, &Impl::on_message);

    int backoff_ms = opt.reconnect_min_ms;
    auto next_attempt = std::chrono::steady_clock::now();
    while (!stop_flag.load()) {
      const auto now = std::chrono::steady_clock::now();
      if (!socket_up) {
        if (now < next_attempt) {
          wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt - now));
          woken = false;
          continue;
        }
        const int rc = mosquitto_connect(mosq, c.host.c_str(), c.port, c.keepalive_s);
        if (rc == MOSQ_ERR_SUCCESS) {
          socket_up = true;
          connect_refused = false;
        } else {
          const std::string why = rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno))
                                                        : mosquitto_strerror(rc);
          set_error("connect " + c.host + ":" + std::to_string(c.port) + ": " + why);
          log::info("fleet: connect to ", c.host, ":", c.port, " failed (", why, "); again in ",
                    backoff_ms, " ms");
          next_attempt = now + std::chrono::milliseconds(backoff_ms);
          backoff_ms = std::min(backoff_ms * 2, opt.reconnect_max_ms);
          continue;
        }
      }
      const int rc = mosquitto_loop(mosq, woken.exchange(false) ? 0 : opt.poll_ms, 1);
      if (rc != MOSQ_ERR_SUCCESS) {
        if (connected) disconnected_cb(rc);
        if (socket_up && !connect_refused) {
          log::warn("fleet: connection to the broker lost (", mosquitto_strerror(rc), ")");
          set_error(std::string("connection lost: ") + mosquitto_strerror(rc));
        }
        socket_up = false;
        next_attempt = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms);
        backoff_ms = std::min(backoff_ms * 2, opt.reconnect_max_ms);
        continue;
      }
      if (connected) {
        backoff_ms = opt.reconnect_min_ms;
        pump();
        status_pass();
      }
      {
        std::lock_guard lock(stats_mutex);
        st.inflight = participant_inflight;
      }
    }
    // A clean stop: offline, retained, then DISCONNECT (the Will is dropped).
    if (connected) {
      const std::string off = state_payload(c, false);
      if (mosquitto_publish(mosq, &offline_mid, state_topic.c_str(), static_cast<int>(off.size()),
                            off.data(), 1, true) == MOSQ_ERR_SUCCESS) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (!offline_acked && std::chrono::steady_clock::now() < until &&
               mosquitto_loop(mosq, 50, 1) == MOSQ_ERR_SUCCESS) {
        }
      }
      mosquitto_disconnect(mosq);
      for (int i = 0; i < 10 && mosquitto_loop(mosq, 20, 1) == MOSQ_ERR_SUCCESS; ++i) {
      }
    }
    mosquitto_destroy(mosq);
    mosq = nullptr;
    std::lock_guard lock(stats_mutex);
    st.connected = false;
  }
};

Link::Link(LinkOptions opt) : impl_(std::make_unique<Impl>(std::move(opt))) {}

Link::~Link() { stop(); }

void Link::add(Participant& p) { impl_->parts.push_back(&p); }

void Link::start() {
  if (impl_->thread.joinable()) return;
  impl_->stop_flag = false;
  impl_->thread = std::thread([this] { impl_->run(); });
}

void Link::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stop_flag = true;
  impl_->wait_cv.notify_all();
  impl_->thread.join();
}

void Link::wake() {
  impl_->woken = true;
  impl_->wait_cv.notify_all();
}

LinkStats Link::stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->st;
}

}  // namespace soleus::fleet
