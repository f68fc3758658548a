#pragma once
/// The seam between the fleet's MQTT link and the parts of the daemon that
/// take part in the fleet's exchange beside the outbox (issue 14,
/// docs/fleet.md): the shared records and the catch-up of sets.
///
/// The link (one thread, libmosquitto) owns the connection. It subscribes to
/// every participant's filters after each (re)connect, hands it each message
/// that matches, asks it for messages waiting to go, publishes them with
/// QoS 1, and tells it when the broker acknowledged one. A participant never
/// sees the network, so it is tested without a broker.
///
/// Topics here are relative to `<prefix>/<site>/` (for example
/// `shared/member/8f3c…` or `+/sets`); the link adds and strips that part.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace soleus::fleet {

/// One MQTT message, topic relative to `<prefix>/<site>/`.
struct Message {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = false;
  /// The participant's own handle (e.g. an outbox row's seq), given back with
  /// the message in acknowledged(); the link never reads it. (Added by the
  /// outbox publisher; 0 when unused.)
  std::int64_t ref = 0;
};

class Participant {
 public:
  virtual ~Participant() = default;
  /// Topic filters to subscribe to (relative), read once at start.
  virtual std::vector<std::string> subscriptions() const = 0;
  /// A message that matched one of the filters. Called on the link's thread:
  /// it may touch SQLite, never the control loop, and must not block long.
  /// A message it cannot use is refused with a clear log line, never thrown.
  virtual void on_message(const Message& m) = 0;
  /// Up to `max` messages waiting to go, oldest first. The same message is
  /// offered again until acknowledged() (after a reconnect, for example); the
  /// link skips one that is in flight already (same topic and payload). A
  /// participant may instead offer each message once per connection (a
  /// cursor reset in on_connected()): libmosquitto resends what was in flight
  /// on a reconnect itself.
  virtual std::vector<Message> outgoing(std::size_t max) = 0;
  /// The broker acknowledged `m` (QoS 1 PUBACK): it need not be sent again.
  virtual void acknowledged(const Message& m) = 0;
  /// After every (re)connect and subscription: e.g. ask peers for a catch-up.
  virtual void on_connected() {}
};

}  // namespace soleus::fleet
