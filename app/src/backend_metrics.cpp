// DaemonBackend: GET /metrics' view. The loop's snapshot (loop timing, bus
// statistics, the drive's temperature and bus voltage), the store (the
// writer's health and commit times, the odometer), the sets by stop reason
// since start (SetBook), and the fleet outbox when the publisher is wired.
// hmi/src/metrics.cpp renders it.

#include "backend_internal.hpp"
#include "soleus/common/version.hpp"

namespace soleus::app {

hmi::MetricsView DaemonBackend::metrics() {
  const controller::Snapshot s = loop_.snapshot();
  const hmi::DiagnosticsView d = diagnostics_view(s);
  hmi::MetricsView v;
  v.version = kVersion;
  v.start_time_s = started_unix_s_;
  v.state = d.state;
  v.armed = d.armed;
  v.loop = d.loop;
  v.bus = d.bus;
  // Only what the register map reads, and only while the drive answers: a
  // map without the register (or a dead bus) would report a made-up 0.
  if (s.comm_good && cfg_.machine.drive.temperature.present)
    v.drive_temperature_c = d.signals.drive_temperature_c;
  if (s.comm_good && cfg_.machine.drive.bus_voltage.present)
    v.drive_bus_voltage_v = d.signals.drive_bus_voltage_v;
  for (const auto& c : book_.stop_counts())
    v.stops.push_back({controller::to_string(c.reason), c.sets, c.reps});
  if (store_) {
    const storage::StorageHealth h = store_->health();
    v.storage = storage_health_view(h);
    hmi::HistogramView commit;
    commit.bounds.assign(storage::kCommitBucketsS.begin(), storage::kCommitBucketsS.end());
    commit.buckets.assign(h.commit_buckets.begin(), h.commit_buckets.end());
    commit.count = h.commit_count;
    commit.sum = h.commit_seconds_sum;
    v.storage_commit = std::move(commit);
    try {
      auto c = connect();
      v.odometer = odometer_view(storage::read_odometer(c.db));
    } catch (const std::exception& e) {
      log::debug("api: metrics: odometer: ", e.what());
    }
  }
  if (outbox_metrics_) v.outbox = outbox_metrics_();
  return v;
}

}  // namespace soleus::app
