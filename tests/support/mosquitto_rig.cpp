#include "soleus/test_support/mosquitto_rig.hpp"

#include <arpa/inet.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace soleus::test {

namespace {

using namespace std::chrono_literals;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("mosquitto rig: cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs a tool of the rig; throws with its output when it fails.
void run_tool(const std::vector<std::string>& argv) {
  const RunResult r = run_command(argv, 20s);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("mosquitto rig: `" + cmd + "` failed (" + std::to_string(r.exit_code) +
                             "): " + r.output);
  }
}

std::string random_password() {
  static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::random_device rd;
  std::uniform_int_distribution<std::size_t> pick(0, sizeof alphabet - 2);
  std::string out;
  for (int i = 0; i < 20; ++i) out += alphabet[pick(rd)];
  return out;
}

bool port_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

/// The EC P-256 key and certificate of `cn`, signed by the rig's CA.
void make_cert(const std::string& dir, const std::string& name, const std::string& cn,
               const std::string& extensions) {
  const std::string key = dir + "/" + name + ".key";
  const std::string csr = dir + "/" + name + ".csr";
  const std::string ext = dir + "/" + name + ".ext";
  write_file(ext, extensions);
  run_tool({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn});
  run_tool({"openssl", "x509", "-req", "-in", csr, "-CA", dir + "/ca.crt", "-CAkey",
            dir + "/ca.key", "-CAcreateserial", "-out", dir + "/" + name + ".crt", "-days", "3",
            "-sha256", "-extfile", ext});
}

std::once_flag lib_init;

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string mosquitto_executable() {
  const char* env = std::getenv("SOLEUS_MOSQUITTO");
  return env && *env ? env : "/usr/sbin/mosquitto";
}

// ---------------------------------------------------------------- MosquittoRig

MosquittoRig::MosquittoRig(MosquittoRigOptions options) : options_(std::move(options)) {
  write_files();
}

MosquittoRig::~MosquittoRig() { process_.stop(std::chrono::milliseconds(3000)); }

void MosquittoRig::write_files() {
  const std::string& d = dir_.path();
  std::vector<std::string> accounts = options_.machines;
  for (const auto& [site, name] : options_.other_site_machines) accounts.push_back(name);
  accounts.push_back("monitor");

  // 1. The CA, the server's certificate (127.0.0.1 and localhost), a client
  //    certificate per account.
  run_tool({"openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            d + "/ca.key",
            "-out",
            d + "/ca.crt",
            "-days",
            "3",
            "-sha256",
            "-subj",
            "/CN=soleus test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign"});
  make_cert(d, "server", "localhost",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const auto& a : accounts)
    make_cert(d, "client-" + a, a,
              "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=clientAuth\n");

  // 2. Passwords: mosquitto_passwd -b writes the PBKDF2-SHA512 hashes.
  write_file(d + "/passwd", "");
  for (const auto& a : accounts) {
    passwords_[a] = random_password();
    run_tool({"mosquitto_passwd", "-b", d + "/passwd", a, passwords_[a]});
    write_file(password_file(a), passwords_[a] + "\n");
  }

  // 3. The ACL: explicit user blocks (a `pattern` line would also apply to
  //    monitor, which must write nothing).
  const std::string& p = options_.prefix;
  std::ostringstream acl;
  acl << "# Generated by the test rig (tests/support/mosquitto_rig.cpp); docs/fleet/broker.md\n";
  auto machine_block = [&](const std::string& site, const std::string& name) {
    acl << "\nuser " << name << "\n"
        << "topic write " << p << "/" << site << "/" << name << "/#\n"
        << "topic write " << p << "/" << site << "/shared/#\n"
        << "topic read " << p << "/" << site << "/#\n";
  };
  for (const auto& m : options_.machines) machine_block(options_.site, m);
  for (const auto& [site, name] : options_.other_site_machines) machine_block(site, name);
  acl << "\nuser monitor\ntopic read " << p << "/" << options_.site << "/#\n";
  write_file(acl_file(), options_.acl_override ? *options_.acl_override : acl.str());

  std::filesystem::create_directories(d + "/data");
}

void MosquittoRig::write_conf() {
  const std::string& d = dir_.path();
  std::ostringstream c;
  c << "# Generated by the test rig (tests/support/mosquitto_rig.cpp)\n"
    << "per_listener_settings true\n";
  // As root mosquitto would switch to the `mosquitto` user, which cannot read
  // the rig's files: stay the user we are.
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr) c << "user " << pw->pw_name << "\n";
  c << "persistence true\n"
    << "persistence_location " << d << "/data/\n"
    << "autosave_interval " << options_.autosave_interval_s << "\n"
    << "max_queued_messages " << options_.max_queued_messages << "\n"
    << "max_inflight_messages " << options_.max_inflight_messages << "\n"
    << "log_dest file " << log_file() << "\n"
    << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
    << "log_timestamp_format %H:%M:%S\n"
    << "connection_messages true\n";
  if (options_.tcp_nodelay) c << "set_tcp_nodelay true\n";
  for (const auto& l : options_.extra_conf) c << l << "\n";
  const auto auth = [&] {
    c << "allow_anonymous false\n"
      << "password_file " << d << "/passwd\n"
      << "acl_file " << acl_file() << "\n";
  };
  c << "\nlistener " << ports_.at(Listener::plain) << " 127.0.0.1\n";
  auth();
  c << "\nlistener " << ports_.at(Listener::tls) << " 127.0.0.1\n";
  auth();
  c << "cafile " << ca_file() << "\ncertfile " << d << "/server.crt\nkeyfile " << d
    << "/server.key\n";
  c << "\nlistener " << ports_.at(Listener::tls_cert) << " 127.0.0.1\n"
    << "allow_anonymous false\n"
    << "acl_file " << acl_file() << "\n"
    << "cafile " << ca_file() << "\ncertfile " << d << "/server.crt\nkeyfile " << d
    << "/server.key\n"
    << "require_certificate true\nuse_identity_as_username true\n";
  write_file(conf_file(), c.str());
}

void MosquittoRig::start(std::chrono::milliseconds timeout) {
  if (running()) throw std::runtime_error("MosquittoRig::start: already running");
  const bool fresh_ports = ports_.empty();
  for (int attempt = 0;; ++attempt) {
    if (fresh_ports && (ports_.empty() || attempt > 0)) {
      ports_[Listener::plain] = free_tcp_port();
      ports_[Listener::tls] = free_tcp_port();
      ports_[Listener::tls_cert] = free_tcp_port();
    }
    write_conf();
    const std::size_t log_from = read_file(log_file()).size();
    process_.start({mosquitto_executable(), "-c", conf_file()});
    // "mosquitto version 2.0.11 running" comes in the log (flushed per line;
    // its stdout is a buffered pipe) once every listener is open; a taken
    // port or a bad configuration ends the process instead.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool up = false;
    while (!up && std::chrono::steady_clock::now() < deadline) {
      const std::string text = read_file(log_file());
      up = text.size() > log_from && text.find(" running\n", log_from) != std::string::npos &&
           port_accepts(port(Listener::plain));
      if (!up && process_.wait_exit(10ms)) break;
    }
    if (up) return;
    process_.stop(500ms);
    // A port taken between free_tcp_port() and the bind: new ports, up to 3 tries.
    if (!fresh_ports || attempt >= 2)
      throw std::runtime_error("mosquitto did not start; its log:\n" + log());
  }
}

void MosquittoRig::stop() { process_.stop(std::chrono::milliseconds(5000)); }

void MosquittoRig::kill() {
  if (!running()) return;
  ::kill(process_.pid(), SIGKILL);
  process_.wait_exit(5s);
}

void MosquittoRig::restart(std::chrono::milliseconds timeout) {
  stop();
  start(timeout);
}

bool MosquittoRig::wait_for_autosave(std::chrono::milliseconds timeout) {
  namespace fs = std::filesystem;
  const fs::path db = dir_.file("data/mosquitto.db");
  std::error_code ec;
  const auto before = fs::last_write_time(db, ec);
  const bool existed = !ec;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // mosquitto writes mosquitto.db.new and renames it: once changed, complete.
    const auto now = fs::last_write_time(db, ec);
    if (!ec && (!existed || now != before)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

int MosquittoRig::port(Listener l) const {
  const auto it = ports_.find(l);
  if (it == ports_.end()) throw std::runtime_error("MosquittoRig: not started yet (no ports)");
  return it->second;
}

std::string MosquittoRig::url(Listener l) const {
  return std::string(l == Listener::plain ? "mqtt" : "mqtts") +
         "://127.0.0.1:" + std::to_string(port(l));
}

std::string MosquittoRig::cert_file(const std::string& account) const {
  return dir_.file("client-" + account + ".crt");
}
std::string MosquittoRig::key_file(const std::string& account) const {
  return dir_.file("client-" + account + ".key");
}

std::string MosquittoRig::password(const std::string& account) const {
  const auto it = passwords_.find(account);
  if (it == passwords_.end()) throw std::runtime_error("MosquittoRig: no account " + account);
  return it->second;
}

std::string MosquittoRig::password_file(const std::string& account) const {
  return dir_.file("password-" + account);
}

std::string MosquittoRig::log() const {
  return "--- " + log_file() + "\n" + read_file(log_file()) + "--- mosquitto's output\n" +
         process_.output();
}

std::string MosquittoRig::site_of(const std::string& machine) const {
  for (const auto& [site, name] : options_.other_site_machines)
    if (name == machine) return site;
  return options_.site;
}

std::string MosquittoRig::fleet_toml(const std::string& machine, Listener listener) const {
  password(machine);  // throws for an unknown account
  std::ostringstream t;
  t << "\n[fleet]\n"
    << "broker = \"" << url(listener) << "\"\n"
    << "machine = \"" << machine << "\"\n"
    << "site = \"" << site_of(machine) << "\"\n"
    << "topic_prefix = \"" << options_.prefix << "\"\n";
  if (listener != Listener::plain) t << "ca_file = \"" << ca_file() << "\"\n";
  if (listener == Listener::tls_cert) {
    t << "cert_file = \"" << cert_file(machine) << "\"\n"
      << "key_file = \"" << key_file(machine) << "\"\n";
  } else {
    t << "username = \"" << machine << "\"\n"
      << "password_file = \"" << password_file(machine) << "\"\n";
  }
  return t.str();
}

std::string MosquittoRig::topic(const std::string& machine, const std::string& leaf) const {
  return options_.prefix + "/" + site_of(machine) + "/" + machine + "/" + leaf;
}

std::string MosquittoRig::shared_topic(const std::string& leaf) const {
  return options_.prefix + "/" + options_.site + "/shared/" + leaf;
}

MqttProbeOptions MosquittoRig::probe_options(const std::string& account, Listener listener) const {
  MqttProbeOptions o;
  o.port = port(listener);
  if (listener == Listener::tls_cert) {
    o.cert_file = cert_file(account);
    o.key_file = key_file(account);
  } else {
    o.username = account;
    o.password = password(account);
  }
  if (listener != Listener::plain) {
    o.tls = true;
    o.ca_file = ca_file();
  }
  return o;
}

// ------------------------------------------------------------------- MqttProbe

MqttProbe::MqttProbe(MqttProbeOptions options) : options_(std::move(options)) {
  std::call_once(lib_init, [] { mosquitto_lib_init(); });
  mosq_ = mosquitto_new(options_.client_id.empty() ? nullptr : options_.client_id.c_str(),
                        options_.clean_session, this);
  if (mosq_ == nullptr) throw std::runtime_error("mosquitto_new failed");
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION,
                       options_.mqtt5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  mosquitto_connect_v5_callback_set(mosq_, &MqttProbe::cb_connect);
  mosquitto_disconnect_v5_callback_set(mosq_, &MqttProbe::cb_disconnect);
  mosquitto_publish_v5_callback_set(mosq_, &MqttProbe::cb_publish);
  mosquitto_subscribe_v5_callback_set(mosq_, &MqttProbe::cb_subscribe);
  mosquitto_message_v5_callback_set(mosq_, &MqttProbe::cb_message);
  mosquitto_reconnect_delay_set(mosq_, 1, 1, false);
  if (options_.tcp_nodelay) mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  if (!options_.username.empty())
    mosquitto_username_pw_set(mosq_, options_.username.c_str(),
                              options_.password.empty() ? nullptr : options_.password.c_str());
  if (options_.tls) {
    if (options_.ca_file.empty()) mosquitto_int_option(mosq_, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    const int rc = mosquitto_tls_set(
        mosq_, options_.ca_file.empty() ? nullptr : options_.ca_file.c_str(), nullptr,
        options_.cert_file.empty() ? nullptr : options_.cert_file.c_str(),
        options_.key_file.empty() ? nullptr : options_.key_file.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS && !options_.ca_file.empty())
      throw std::runtime_error(std::string("mosquitto_tls_set: ") + mosquitto_strerror(rc));
  }
}

MqttProbe::~MqttProbe() {
  disconnect();
  mosquitto_destroy(mosq_);
}

int MqttProbe::connect(std::chrono::milliseconds timeout) {
  int lost_before = 0;
  {
    std::lock_guard lock(mutex_);
    connack_.reset();
    last_error_.clear();
    lost_before = links_lost_;
  }
  // MQTT v5 ends a session at the disconnect unless CONNECT asks otherwise.
  mosquitto_property* props = nullptr;
  if (options_.mqtt5 && !options_.clean_session)
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                 options_.session_expiry_s);
  const int rc = mosquitto_connect_bind_v5(mosq_, options_.host.c_str(), options_.port,
                                           options_.keepalive_s, nullptr, props);
  mosquitto_property_free_all(&props);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::lock_guard lock(mutex_);
    last_error_ = std::string("connect: ") + mosquitto_strerror(rc);
    if (rc == MOSQ_ERR_ERRNO) last_error_ += std::string(" (") + strerror(errno) + ")";
    return -1;
  }
  if (!loop_running_) {
    mosquitto_loop_start(mosq_);
    loop_running_ = true;
  }
  std::unique_lock lock(mutex_);
  // A TLS 1.3 server refuses a client certificate after the handshake: the
  // link then drops before any CONNACK.
  if (!cv_.wait_for(lock, timeout,
                    [&] { return connack_.has_value() || links_lost_ != lost_before; }) ||
      !connack_) {
    if (last_error_.empty()) last_error_ = "no CONNACK in time";
    lock.unlock();
    disconnect();
    return -1;
  }
  const int code = *connack_;
  if (code != 0) {
    lock.unlock();
    disconnect();
  }
  return code;
}

void MqttProbe::disconnect() {
  mosquitto_disconnect(mosq_);
  if (loop_running_) {
    mosquitto_loop_stop(mosq_, false);
    loop_running_ = false;
  }
  connected_ = false;
}

std::string MqttProbe::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

int MqttProbe::subscribe(const std::string& filter, int qos, std::chrono::milliseconds timeout) {
  int mid = 0;
  {
    std::lock_guard lock(mutex_);
    filters_.emplace_back(filter, qos);
  }
  if (mosquitto_subscribe(mosq_, &mid, filter.c_str(), qos) != MOSQ_ERR_SUCCESS) return -1;
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [&] { return suback_.count(mid) > 0; })) return -1;
  return suback_[mid];
}

MqttPublishResult MqttProbe::publish(const std::string& topic, const std::string& payload, int qos,
                                     bool retain, std::chrono::milliseconds timeout) {
  MqttPublishResult r;
  ++waiting_;  // before the publish: its PUBACK may come at once
  r.rc = mosquitto_publish(mosq_, &r.mid, topic.c_str(), static_cast<int>(payload.size()),
                           payload.data(), qos, retain);
  std::unique_lock lock(mutex_);
  if (r.rc == MOSQ_ERR_SUCCESS &&
      cv_.wait_for(lock, timeout, [&] { return puback_.count(r.mid) > 0; })) {
    r.acked = true;
    r.reason_code = puback_[r.mid];
  }
  if (--waiting_ == 0) puback_.clear();  // also the acks of publish_nowait() meanwhile
  return r;
}

int MqttProbe::publish_nowait(const std::string& topic, const std::string& payload, int qos,
                              bool retain) {
  int mid = 0;
  const int rc = mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, retain);
  return rc == MOSQ_ERR_SUCCESS ? mid : -rc;
}

std::vector<MqttMessage> MqttProbe::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

namespace {
bool topic_matches(const std::string& pattern, const std::string& topic) {
  if (!pattern.empty() && pattern.back() == '#')
    return topic.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return topic == pattern;
}
}  // namespace

std::vector<MqttMessage> MqttProbe::messages(const std::string& topic) const {
  std::lock_guard lock(mutex_);
  std::vector<MqttMessage> out;
  for (const auto& m : messages_)
    if (topic_matches(topic, m.topic)) out.push_back(m);
  return out;
}

std::size_t MqttProbe::count() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

void MqttProbe::clear() {
  std::lock_guard lock(mutex_);
  messages_.clear();
}

bool MqttProbe::wait_for(const std::function<bool(const std::vector<MqttMessage>&)>& pred,
                         std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return pred(messages_); });
}

bool MqttProbe::wait_for_count(const std::string& topic, std::size_t n,
                               std::chrono::milliseconds timeout) {
  return wait_for(
      [&](const std::vector<MqttMessage>& ms) {
        std::size_t k = 0;
        for (const auto& m : ms)
          if (topic_matches(topic, m.topic)) ++k;
        return k >= n;
      },
      timeout);
}

void MqttProbe::cb_connect(struct mosquitto* mosq, void* self, int rc, int flags,
                           const mosquitto_property*) {
  auto* p = static_cast<MqttProbe*>(self);
  // A reconnection (libmosquitto's own, after a lost link) to a broker that
  // kept no session: subscribe again (the SUBACKs are not waited for).
  const bool session_present = (flags & 1) != 0;
  if (rc == 0 && p->connections_.load() > 0 && !session_present) {
    std::vector<std::pair<std::string, int>> filters;
    {
      std::lock_guard lock(p->mutex_);
      filters = p->filters_;
    }
    for (const auto& [filter, qos] : filters)
      mosquitto_subscribe(mosq, nullptr, filter.c_str(), qos);
  }
  {
    std::lock_guard lock(p->mutex_);
    p->connack_ = rc;
    if (rc != 0) p->last_error_ = std::string("CONNACK: ") + mosquitto_reason_string(rc);
  }
  if (rc == 0) {
    p->connected_ = true;
    ++p->connections_;
  } else {
    // Refused: no automatic retry (the network thread ends).
    mosquitto_disconnect(mosq);
  }
  p->cv_.notify_all();
}

void MqttProbe::cb_disconnect(struct mosquitto*, void* self, int rc, const mosquitto_property*) {
  auto* p = static_cast<MqttProbe*>(self);
  p->connected_ = false;
  {
    std::lock_guard lock(p->mutex_);
    ++p->links_lost_;
    if (rc != 0 && p->last_error_.empty())
      p->last_error_ = std::string("disconnected: ") + mosquitto_strerror(rc);
  }
  p->cv_.notify_all();
}

void MqttProbe::cb_publish(struct mosquitto*, void* self, int mid, int reason_code,
                           const mosquitto_property*) {
  auto* p = static_cast<MqttProbe*>(self);
  ++p->acked_;
  if (p->waiting_.load() == 0) return;  // nobody waits: publish_nowait()'s acks are only counted
  {
    std::lock_guard lock(p->mutex_);
    p->puback_[mid] = reason_code;
  }
  p->cv_.notify_all();
}

void MqttProbe::cb_subscribe(struct mosquitto*, void* self, int mid, int qos_count,
                             const int* granted, const mosquitto_property*) {
  auto* p = static_cast<MqttProbe*>(self);
  {
    std::lock_guard lock(p->mutex_);
    p->suback_[mid] = qos_count > 0 ? granted[0] : -1;
  }
  p->cv_.notify_all();
}

void MqttProbe::cb_message(struct mosquitto*, void* self, const struct mosquitto_message* msg,
                           const mosquitto_property*) {
  auto* p = static_cast<MqttProbe*>(self);
  MqttMessage m;
  m.received_ns = steady_ns();
  m.topic = msg->topic;
  m.payload.assign(static_cast<const char*>(msg->payload),
                   static_cast<std::size_t>(msg->payloadlen));
  m.qos = msg->qos;
  m.retained = msg->retain;
  if (p->hook_) p->hook_(m);
  if (!p->options_.keep_messages) return;
  {
    std::lock_guard lock(p->mutex_);
    p->messages_.push_back(std::move(m));
  }
  p->cv_.notify_all();
}

}  // namespace soleus::test
