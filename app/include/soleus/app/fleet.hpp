#pragma once
/// soleusd's side of the fleet (issue 14, docs/fleet.md): the link to the
/// broker (fleet::Link), the outbox as the link's first participant, the
/// participants other parts register, and the telemetry timer. Made only
/// with a [fleet] section; without one, soleusd has none of this.
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "soleus/app/daemon_config.hpp"
#include "soleus/fleet/link.hpp"
#include "soleus/fleet/participant.hpp"
#include "soleus/hmi/backend.hpp"
#include "soleus/hmi/metrics.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/writer.hpp"

namespace soleus::app {

/// The outbox (storage/outbox.hpp) as the link's participant: each row,
/// oldest first, as its message: a set on `<M>/sets`, an event on
/// `<M>/events` (rendered from the store by views_from_storage and hmi's
/// renderers, as GET /sets/{id} and GET /events do), telemetry on
/// `<M>/metrics`; QoS 1; acknowledged rows go back to the writer
/// (Writer::outbox_ack), which deletes them. Reads on its own read-only
/// connection, on the link's thread.
class OutboxPublisher : public fleet::Participant {
 public:
  OutboxPublisher(const fleet::FleetConfig& cfg, const storage::StorageConfig& st,
                  storage::Writer& writer);
  std::vector<std::string> subscriptions() const override { return {}; }
  void on_message(const fleet::Message&) override {}
  std::vector<fleet::Message> outgoing(std::size_t max) override;
  void acknowledged(const fleet::Message& m) override;
  /// Resends from the oldest row not acknowledged.
  void on_connected() override;
  /// New rows were committed (the writer's on_outbox): look at once. Any thread.
  void notify() { dirty_ = true; }

 private:
  storage::Database& db();

  fleet::FleetConfig cfg_;
  storage::StorageConfig st_;
  storage::Writer& writer_;
  storage::Database db_;
  std::int64_t cursor_ = 0;             // the last seq read on this connection
  std::deque<fleet::Message> offered_;  // read and offered, not yet acknowledged, in order
  std::set<std::int64_t> acked_;        // acknowledged, perhaps not yet deleted by the writer
  std::atomic<bool> dirty_{true};
  std::chrono::steady_clock::time_point next_look_{};
};

/// What the parts that take part in the fleet get to build their participant.
struct FleetContext {
  const DaemonConfig& cfg;
  storage::Writer& store;
  hmi::Backend& backend;
};

/// The link's participants besides the outbox, in the order their messages
/// go (after the outbox's). The shared records and the catch-up of sets add
/// theirs in app/src/fleet_participants.cpp. None yet.
std::vector<std::unique_ptr<fleet::Participant>> make_fleet_participants(const FleetContext& ctx);

/// The telemetry of `<M>/metrics` (docs/fleet.md): the diagnostics view's
/// loop timing, bus counters, signals (temperature, bus voltage) and odometer,
/// as JSON text.
std::string telemetry_json(hmi::Backend& backend);

/// The outbox's state as GET /metrics shows it (depth per kind, the oldest
/// row's age, telemetry dropped, the full alarm).
hmi::OutboxMetricsView outbox_metrics_view(const storage::OutboxStats& s, std::int64_t now_ms);

/// soleusd's fleet: made after the store and the backend, started at once,
/// stopped before the store.
class Fleet {
 public:
  Fleet(const DaemonConfig& cfg, storage::Writer& store, hmi::Backend& backend);
  ~Fleet();
  void start();
  void stop();
  /// From the main thread's pass: the telemetry every metrics_period_s.
  void tick();
  /// The writer committed outbox rows: publish them now. Any thread.
  void notify() {
    outbox_.notify();
    link_->wake();
  }
  fleet::LinkStats stats() const { return link_->stats(); }

 private:
  const DaemonConfig& cfg_;
  storage::Writer& store_;
  hmi::Backend& backend_;
  OutboxPublisher outbox_;
  std::vector<std::unique_ptr<fleet::Participant>> others_;
  std::unique_ptr<fleet::Link> link_;
  std::chrono::steady_clock::time_point next_metrics_;
};

}  // namespace soleus::app
