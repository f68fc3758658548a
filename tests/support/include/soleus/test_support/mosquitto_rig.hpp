#pragma once
/// A real MQTT broker for tests (Debian's /usr/sbin/mosquitto 2.0.11), and a
/// test client (`MqttProbe`, libmosquitto) to watch and poke it. No mock broker.
///
/// Principle of operation:
///  1. `MosquittoRig` makes a fresh temporary directory and writes into it
///     (docs/fleet/broker.md, "Credentials and ACL", is the same model):
///       - a CA, a server certificate for 127.0.0.1/localhost and a client
///         certificate per account (CN = the account's name), all EC P-256
///         made with the `openssl` command line;
///       - a password file (`mosquitto_passwd -b`): one account per machine,
///         plus the read-only `monitor`; passwords random per rig;
///       - an ACL file with one `user` block per account: a machine writes
///         `P/S/M/#` and `P/S/shared/#` and reads `P/S/#`; `monitor` reads
///         `P/S/#` of the main site; nobody else gets anything;
///       - mosquitto.conf with `per_listener_settings true` and three loopback
///         listeners (plain, TLS with a password, TLS with a client certificate
///         whose CN becomes the username), anonymous access off on each,
///         persistence in the temp dir, the log to `mosquitto.log`.
///  2. start() runs mosquitto and waits (bounded) for its "running" line in
///     the log, then for the plain port to accept. The ports are picked free
///     on 127.0.0.1 before the first start (another process may take one in
///     between: start() then retries with new ports, up to 3 times).
///     restart() reuses the same ports and the same persistence directory, so
///     retained messages and persistent sessions survive a stop() (mosquitto
///     saves on SIGTERM) and, up to the last autosave, a kill().
///  3. `fleet_toml(machine)` writes a `[fleet]` section per the issue-14
///     contract for soleusd's configuration (the password in a file of the
///     rig's directory). Keys may be appended after it: they land in the same
///     table.
///  4. `MqttProbe` is a libmosquitto client with its own network thread
///     (`mosquitto_loop_start`). It keeps every message it receives (topic,
///     payload, retained flag, QoS, receive time on the steady clock) and
///     wait_for() waits on them with a deadline; publish() waits for the QoS 1
///     PUBACK and returns its reason code.
///
/// Typical use:
///   MosquittoRig rig;                 // machines a, b, c of site "gym"
///   rig.start();
///   MqttProbe monitor(rig.probe_options("monitor"));
///   REQUIRE(monitor.connect() == 0);
///   monitor.subscribe("soleus/gym/#");
///   ... soleusd with rig.fleet_toml("a") appended to its config (DaemonRig's
///       `append`), or a machine account's own MqttProbe ...
///   monitor.wait_for([](const auto& ms) { return !ms.empty(); }, 5s);
/// On failure print rig.log() (the broker's log) in the test's message.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "soleus/test_support/process.hpp"

struct mosquitto;
struct mosquitto_message;
typedef struct mqtt5__property mosquitto_property;

namespace soleus::test {

/// The broker's three listeners.
enum class Listener {
  plain,     ///< mqtt://127.0.0.1:port, username and password
  tls,       ///< mqtts://127.0.0.1:port, the rig's CA, username and password
  tls_cert,  ///< mqtts://, a client certificate is required; its CN is the username
};

struct MosquittoRigOptions {
  std::string prefix = "soleus";  ///< topic_prefix (P)
  std::string site = "gym";       ///< the main site (S)
  /// Machine accounts of the main site (names per the contract's grammar).
  std::vector<std::string> machines = {"a", "b", "c"};
  /// Machine accounts of other sites: {site, name}. Names are usernames, so
  /// they must differ from the main site's.
  std::vector<std::pair<std::string, std::string>> other_site_machines;
  /// mosquitto's max_queued_messages: QoS 1/2 messages queued per client
  /// (offline persistent session or in flight beyond the window); 0 = no limit.
  int max_queued_messages = 1000;
  /// mosquitto's max_inflight_messages per client (QoS 1/2 unacknowledged).
  int max_inflight_messages = 20;
  /// mosquitto's autosave_interval in s (persistence written to disk; also on
  /// SIGTERM). 0 disables the periodic save. A kill() loses what came after
  /// the last save.
  int autosave_interval_s = 1800;
  /// mosquitto's set_tcp_nodelay (Nagle off on the broker's client sockets;
  /// mosquitto's default is false).
  bool tcp_nodelay = false;
  /// Extra lines appended to mosquitto.conf's global part (before listeners).
  std::vector<std::string> extra_conf;
  /// When set, the ACL file's whole text instead of the generated one (for a
  /// test that checks that a check fails under a loose ACL).
  std::optional<std::string> acl_override;
};

/// How an MqttProbe connects.
struct MqttProbeOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string client_id;  ///< empty: a random one (then clean_session must be true)
  std::string username;   ///< empty: none (anonymous)
  std::string password;
  bool tls = false;
  std::string ca_file;              ///< TLS: the CA to trust (empty: the system's CAs)
  std::string cert_file, key_file;  ///< TLS client certificate (optional pair)
  bool clean_session = true;        ///< false: a persistent session (needs a client_id)
  /// MQTT v5 with clean_session false: the CONNECT's session expiry interval.
  /// v5 ends a session at the disconnect when it is 0 (its default), so a
  /// "persistent session" in v5 needs it; v3.1.1 keeps the session forever
  /// (or mosquitto's persistent_client_expiration).
  std::uint32_t session_expiry_s = 86400;
  bool mqtt5 = true;  ///< MQTT v5; false: v3.1.1
  int keepalive_s = 30;
  bool tcp_nodelay = false;  ///< MOSQ_OPT_TCP_NODELAY (Nagle off on the client's socket)
  /// false: received messages go only to the on_message() hook, none is kept
  /// (benchmarks with many messages).
  bool keep_messages = true;
};

/// One mosquitto with its generated credentials, in its own temp dir.
class MosquittoRig {
 public:
  explicit MosquittoRig(MosquittoRigOptions options = {});
  ~MosquittoRig();
  MosquittoRig(const MosquittoRig&) = delete;
  MosquittoRig& operator=(const MosquittoRig&) = delete;

  /// Starts mosquitto; returns when every listener accepts (bounded by
  /// `timeout`). Throws std::runtime_error with the broker's log otherwise.
  void start(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  /// SIGTERM and wait: mosquitto saves its persistence and says goodbye.
  void stop();
  /// SIGKILL: nothing saved since the last autosave.
  void kill();
  /// stop() when running, then start() on the same ports and persistence.
  void restart(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  bool running() const { return process_.running(); }
  pid_t pid() const { return process_.pid(); }
  /// Waits until mosquitto has written its persistence file anew (an autosave,
  /// every autosave_interval_s), so that a kill() after it keeps the state of
  /// before the call (retained messages, sessions, subscriptions). False on timeout.
  bool wait_for_autosave(std::chrono::milliseconds timeout);

  const MosquittoRigOptions& options() const { return options_; }
  int port(Listener l) const;
  /// "mqtt://127.0.0.1:PORT" or "mqtts://127.0.0.1:PORT" (the contract's `broker`).
  std::string url(Listener l) const;
  /// The rig's directory (configuration, certificates, persistence, log).
  const std::string& dir() const { return dir_.path(); }
  std::string ca_file() const { return dir_.file("ca.crt"); }
  /// The broker's certificate (CN localhost, SAN 127.0.0.1 and localhost) and key.
  std::string server_cert_file() const { return dir_.file("server.crt"); }
  std::string server_key_file() const { return dir_.file("server.key"); }
  /// A client certificate and key per account (machines and monitor), CN = name.
  std::string cert_file(const std::string& account) const;
  std::string key_file(const std::string& account) const;
  /// The account's password (throws for an unknown account).
  std::string password(const std::string& account) const;
  /// A file holding only the password (the contract's `password_file`).
  std::string password_file(const std::string& account) const;
  std::string conf_file() const { return dir_.file("mosquitto.conf"); }
  std::string acl_file() const { return dir_.file("acl"); }
  std::string log_file() const { return dir_.file("mosquitto.log"); }
  /// The broker's log so far (the file, plus what it printed), for failure messages.
  std::string log() const;

  /// A `[fleet]` section for `machine` (of any site the rig knows) through
  /// `listener`: broker, machine, site, topic_prefix, username and
  /// password_file; with TLS ca_file; with tls_cert cert_file and key_file
  /// instead of the password.
  std::string fleet_toml(const std::string& machine, Listener listener = Listener::tls) const;

  /// Topic of machine M of the main site: P/S/M/<leaf>, and P/S/shared/<leaf>.
  std::string topic(const std::string& machine, const std::string& leaf) const;
  std::string shared_topic(const std::string& leaf) const;

  /// Connection settings for an MqttProbe as `account` (a machine or "monitor")
  /// through `listener`.
  MqttProbeOptions probe_options(const std::string& account,
                                 Listener listener = Listener::plain) const;

 private:
  void write_files();
  void write_conf();
  std::string site_of(const std::string& machine) const;

  MosquittoRigOptions options_;
  TempDir dir_;
  ChildProcess process_;
  std::map<std::string, std::string> passwords_;  // account -> password
  std::map<Listener, int> ports_;
};

/// One received message.
struct MqttMessage {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retained = false;
  std::int64_t received_ns = 0;  ///< std::chrono::steady_clock, since its epoch
};

/// The outcome of a publish.
struct MqttPublishResult {
  int rc = 0;          ///< mosquitto_publish's return (MOSQ_ERR_SUCCESS = 0)
  bool acked = false;  ///< QoS 1: PUBACK received; QoS 0: handed to the socket
  /// MQTT v5 and QoS 1: the PUBACK's reason code (0 success, 16 no matching
  /// subscribers, 135 = 0x87 not authorized). MQTT v3.1.1 has no reason code:
  /// mosquitto then acknowledges a publish the ACL denies like any other and
  /// drops it silently, so this is 0 and only a subscriber can tell.
  int reason_code = -1;
  int mid = 0;
};

/// A test MQTT client. All methods are thread-safe; callbacks run on the
/// client's own network thread.
class MqttProbe {
 public:
  explicit MqttProbe(MqttProbeOptions options);
  ~MqttProbe();
  MqttProbe(const MqttProbe&) = delete;
  MqttProbe& operator=(const MqttProbe&) = delete;

  /// Connects (TCP, TLS, CONNECT) and waits for the CONNACK. Returns its
  /// reason code (0 accepted; v5: 134 bad credentials, 135 not authorized;
  /// v3.1.1: 4 bad credentials, 5 not authorized), or -1 when no CONNACK came
  /// (refused at TCP or TLS, or `timeout`); last_error() says why. After a
  /// refusal the probe stays disconnected (no automatic retry). Once
  /// accepted, libmosquitto reconnects by itself after a lost link (every 1 s)
  /// and the probe subscribes again to its filters when the broker kept no
  /// session. Messages published while the probe is away are lost to it,
  /// unless it has a persistent session (clean_session false, a client_id)
  /// that the broker kept: across a broker kill() only if it was saved
  /// (MosquittoRig::wait_for_autosave) — the way for a subscriber of a test
  /// that kills the broker to miss nothing, whichever client reconnects first.
  int connect(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  /// DISCONNECT and stop the network thread.
  void disconnect();
  bool connected() const { return connected_.load(); }
  /// How many CONNACKs accepted so far (reconnections included).
  int connections() const { return connections_.load(); }
  std::string last_error() const;

  /// Subscribes and waits for the SUBACK. Returns the granted QoS (0..2), or
  /// 128+ (v5 reason code) when refused, or -1 on timeout / not connected.
  int subscribe(const std::string& filter, int qos = 1,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

  /// Publishes and, for QoS 1, waits for the PUBACK (bounded).
  MqttPublishResult publish(const std::string& topic, const std::string& payload, int qos = 1,
                            bool retain = false,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  /// Publishes without waiting; returns the message id (or -rc on error).
  /// acked() counts the PUBACKs (QoS 1) / sends (QoS 0) of every publish.
  int publish_nowait(const std::string& topic, const std::string& payload, int qos = 1,
                     bool retain = false);
  std::uint64_t acked() const { return acked_.load(); }

  /// Every message received so far.
  std::vector<MqttMessage> messages() const;
  /// Those whose topic equals `topic` or, when `topic` ends in '#', starts with
  /// what precedes the '#'.
  std::vector<MqttMessage> messages(const std::string& topic) const;
  std::size_t count() const;
  void clear();
  /// Waits until `pred(messages)` holds; false on timeout.
  bool wait_for(const std::function<bool(const std::vector<MqttMessage>&)>& pred,
                std::chrono::milliseconds timeout);
  /// Waits until at least `n` messages match `topic` (as messages(topic)).
  bool wait_for_count(const std::string& topic, std::size_t n, std::chrono::milliseconds timeout);
  /// A hook called on the network thread for each message, before it is kept
  /// (e.g. for latency figures). Set it before connect().
  void on_message(std::function<void(const MqttMessage&)> hook) { hook_ = std::move(hook); }

 private:
  static void cb_connect(struct mosquitto*, void*, int, int, const mosquitto_property*);
  static void cb_disconnect(struct mosquitto*, void*, int, const mosquitto_property*);
  static void cb_publish(struct mosquitto*, void*, int, int, const mosquitto_property*);
  static void cb_subscribe(struct mosquitto*, void*, int, int, const int*,
                           const mosquitto_property*);
  static void cb_message(struct mosquitto*, void*, const struct mosquitto_message*,
                         const mosquitto_property*);

  MqttProbeOptions options_;
  struct mosquitto* mosq_ = nullptr;
  bool loop_running_ = false;
  std::function<void(const MqttMessage&)> hook_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<MqttMessage> messages_;
  std::optional<int> connack_;
  std::map<int, int> puback_;  // mid -> reason code
  std::map<int, int> suback_;  // mid -> granted qos / reason
  std::string last_error_;
  int links_lost_ = 0;                                // on_disconnect calls
  std::vector<std::pair<std::string, int>> filters_;  // subscribed: filter, qos
  std::atomic<bool> connected_{false};
  std::atomic<int> connections_{0};
  std::atomic<std::uint64_t> acked_{0};
  std::atomic<int> waiting_{0};  // publish() calls waiting for their PUBACK
};

/// The broker binary: $SOLEUS_MOSQUITTO, else /usr/sbin/mosquitto.
std::string mosquitto_executable();

}  // namespace soleus::test
