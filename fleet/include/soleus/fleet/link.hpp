#pragma once
/// The machine's link to the fleet's MQTT broker (issue 14, docs/fleet.md):
/// one thread of its own, libmosquitto, never waited on by the control loop
/// or the API.
///
/// Principle of operation (all on the link's thread):
///  1. Connect (TLS with the CA and an optional client certificate, or
///     username/password) with a Last Will: `<P>/<S>/<M>/state` = offline,
///     retained, QoS 1. A failed connect or a lost connection is retried with
///     a doubling backoff (reconnect_min_ms .. reconnect_max_ms).
///  2. On CONNACK: `state` = online (retained), subscribe every participant's
///     filters, call their on_connected(), and forget what was in flight:
///     the participants offer again everything not acknowledged, oldest
///     first (the outbox resends from its oldest row).
///  3. Every pass (poll_ms, or at once after wake()): ask each participant,
///     in registration order, for messages while the inflight window has
///     room, and publish them in that order (QoS as given). A PUBACK (or, for
///     QoS 0, the send) calls the participant's acknowledged(). MQTT v5: a
///     PUBACK with a refusal (the ACL's "not authorized") does not; it is
///     logged, counted (LinkStats::refused) and publishing holds for 10 s.
///  4. `status` (QoS 0, never stored) from the status source, every
///     status_period_s and when its key changed (looked at once a second).
///  5. stop(): `state` = offline (retained), waited for up to a second, then
///     a clean DISCONNECT (the Will is not sent).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "soleus/fleet/config.hpp"
#include "soleus/fleet/participant.hpp"

namespace soleus::fleet {

struct LinkOptions {
  FleetConfig cfg;
  std::string password;         ///< from cfg.password_file (empty: none)
  int inflight_window = 32;     ///< QoS 1 messages unacknowledged at once
  /// MQTT v5 clean start. false asks the broker to keep the session, but
  /// without a Session Expiry property v5 ends it at the disconnect anyway;
  /// soleusd keeps true: its outbox is the queue.
  bool clean_session = true;
  int poll_ms = 20;             ///< the thread's pass (network wait) when idle
  int reconnect_min_ms = 500;
  int reconnect_max_ms = 10000;  ///< a restarted broker is found within 10 s
  /// The status view (GET /status): `json` the object's text, `key` what
  /// counts as a change (the state, the set, its reps, the faults: not the
  /// force or the position, which move all the time). Empty function = none.
  struct Status {
    std::string json;
    std::string key;
  };
  std::function<Status()> status;
};

struct LinkStats {
  bool connected = false;
  std::uint64_t connects = 0;     ///< CONNACKs accepted
  std::uint64_t disconnects = 0;  ///< connections lost or refused
  std::uint64_t published = 0;    ///< messages handed to the client
  std::uint64_t acknowledged = 0; ///< PUBACKs (and QoS 0 sends) for participants
  std::uint64_t received = 0;     ///< messages handed to participants
  std::uint64_t refused = 0;      ///< publishes the broker refused (v5 reason >= 128)
  std::size_t inflight = 0;
  std::string last_error;
};

/// The envelope of every message (docs/fleet.md, "Publishing"):
/// {"id": ..., "machine": M, "kind": ..., "t_ms": ..., "data": <data_json>}.
std::string envelope(std::string_view id, std::string_view machine, std::string_view kind,
                     std::int64_t t_ms, std::string_view data_json);

class Link {
 public:
  explicit Link(LinkOptions opt);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  /// Registers a participant (before start()); it must outlive the link.
  void add(Participant& p);
  void start();
  /// Offline state, clean disconnect, join. Idempotent.
  void stop();
  /// Something waits to be published: the next pass comes at once. Any thread.
  void wake();
  LinkStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace soleus::fleet
