// soleusd's side of the fleet (docs/fleet.md): the outbox as the link's
// participant, the telemetry, and the link's lifetime.
#include "soleus/app/fleet.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "soleus/app/views_from_storage.hpp"
#include "soleus/common/log.hpp"
#include "soleus/common/time.hpp"
#include "soleus/storage/outbox.hpp"
#include "soleus/storage/queries.hpp"

namespace soleus::app {

OutboxPublisher::OutboxPublisher(const fleet::FleetConfig& cfg, const storage::StorageConfig& st,
                                 storage::Writer& writer)
    : cfg_(cfg), st_(st), writer_(writer) {}

storage::Database& OutboxPublisher::db() {
  if (!db_.is_open())
    db_ = storage::Database::open(st_.db_path, storage::Database::Access::ReadOnly, st_.vfs,
                                  st_.busy_timeout_ms);
  return db_;
}

void OutboxPublisher::on_connected() {
  cursor_ = 0;  // from the oldest row not acknowledged
  offered_.clear();
  dirty_ = true;
}

std::vector<fleet::Message> OutboxPublisher::outgoing(std::size_t max) {
  // What was offered and is not acknowledged comes first, again (the link
  // skips what it has in flight); then new rows, read from the cursor.
  std::vector<fleet::Message> out;
  for (const auto& msg : offered_) {
    if (out.size() >= max) return out;
    out.push_back(msg);
  }
  const auto now = std::chrono::steady_clock::now();
  // New rows are announced (notify()); a look every second besides.
  if (!dirty_.exchange(false) && now < next_look_) return out;
  next_look_ = now + std::chrono::seconds(1);
  const std::size_t room = max - out.size();
  if (room == 0) {
    dirty_ = true;
    return out;
  }
  const std::string& m = cfg_.machine;
  try {
    auto& d = db();
    const auto rows = storage::read_outbox(d, cursor_, static_cast<int>(room));
    if (cursor_ == 0 && !rows.empty())  // rows below the first are deleted: forget them
      acked_.erase(acked_.begin(), acked_.lower_bound(rows.front().seq));
    for (const auto& r : rows) {
      cursor_ = r.seq;
      if (acked_.count(r.seq)) continue;
      fleet::Message msg;
      msg.qos = 1;
      msg.ref = r.seq;
      if (r.kind == "set" && r.ref_id) {
        auto row = storage::get_set(d, *r.ref_id);
        if (!row) {  // erased with its member since: nothing to publish
          writer_.outbox_ack(r.seq);
          acked_.insert(r.seq);
          continue;
        }
        const auto reps = storage::get_reps(d, *r.ref_id);
        msg.topic = m + "/sets";
        msg.payload = fleet::envelope(m + "/set/" + std::to_string(*r.ref_id), m, "set",
                                      row->ended_ms.value_or(r.created_ms),
                                      boost::json::serialize(hmi::to_json(set_view(*row, reps))));
      } else if (r.kind == "event" && r.ref_id) {
        auto ev = storage::get_event(d, *r.ref_id);
        if (!ev) {
          writer_.outbox_ack(r.seq);
          acked_.insert(r.seq);
          continue;
        }
        msg.topic = m + "/events";
        msg.payload = fleet::envelope(m + "/event/" + std::to_string(ev->id), m, "event", ev->t_ms,
                                      boost::json::serialize(hmi::to_json(event_view(*ev))));
      } else if (r.kind == "metrics" && r.payload) {
        msg.topic = m + "/metrics";
        msg.payload = fleet::envelope(m + "/metrics/" + std::to_string(r.seq), m, "metrics",
                                      r.created_ms, *r.payload);
      } else {
        writer_.outbox_ack(r.seq);
        continue;
      }
      offered_.push_back(msg);
      out.push_back(std::move(msg));
    }
    if (rows.size() >= room) dirty_ = true;  // more wait
  } catch (const std::exception& e) {
    log::warn("fleet: reading the outbox: ", e.what());
    db_.close();
    dirty_ = true;
  }
  return out;
}

void OutboxPublisher::acknowledged(const fleet::Message& msg) {
  if (msg.ref <= 0) return;
  const auto it = std::find_if(offered_.begin(), offered_.end(),
                               [&](const fleet::Message& o) { return o.ref == msg.ref; });
  if (it != offered_.end()) offered_.erase(it);
  acked_.insert(msg.ref);
  writer_.outbox_ack(msg.ref);
}

std::string telemetry_json(hmi::Backend& backend) {
  const boost::json::value d = backend.diagnostics();
  boost::json::object out;
  if (const auto* o = d.if_object()) {
    for (const char* key : {"loop", "bus", "signals", "odometer"})
      if (const auto* v = o->if_contains(key)) out[key] = *v;
    if (const auto* st = o->if_contains("storage")) out["storage"] = *st;
  }
  return boost::json::serialize(out);
}

hmi::OutboxMetricsView outbox_metrics_view(const storage::OutboxStats& s, std::int64_t now_ms) {
  hmi::OutboxMetricsView v;
  v.depth = {{"set", static_cast<std::uint64_t>(std::max<std::int64_t>(s.sets, 0))},
             {"event", static_cast<std::uint64_t>(std::max<std::int64_t>(s.events, 0))},
             {"metrics", static_cast<std::uint64_t>(std::max<std::int64_t>(s.metrics, 0))}};
  v.oldest_age_s =
      s.oldest_ms > 0 && s.depth() > 0 ? static_cast<double>(now_ms - s.oldest_ms) / 1000.0 : 0.0;
  v.telemetry_dropped = s.telemetry_dropped;
  v.full = s.full;
  return v;
}

namespace {
fleet::LinkOptions link_options(const DaemonConfig& cfg, hmi::Backend& backend) {
  fleet::LinkOptions o;
  o.cfg = *cfg.fleet;
  if (!o.cfg.password_file.empty()) {
    try {
      o.password = fleet::read_password_file(o.cfg.password_file);
    } catch (const std::exception& e) {
      log::error("fleet: ", e.what(), ": connecting without a password");
    }
  }
  o.status = [&backend] { return boost::json::serialize(hmi::to_json(backend.status())); };
  return o;
}
}  // namespace

Fleet::Fleet(const DaemonConfig& cfg, storage::Writer& store, hmi::Backend& backend)
    : cfg_(cfg),
      store_(store),
      backend_(backend),
      outbox_(*cfg.fleet, cfg.storage, store),
      others_(make_fleet_participants(FleetContext{cfg, store, backend})),
      link_(std::make_unique<fleet::Link>(link_options(cfg, backend))),
      next_metrics_(std::chrono::steady_clock::now() +
                    std::chrono::seconds(cfg.fleet->metrics_period_s)) {
  link_->add(outbox_);
  for (auto& p : others_) link_->add(*p);
}

Fleet::~Fleet() { stop(); }

void Fleet::start() {
  log::info("fleet: publishing to ", cfg_.fleet->broker, " as ", cfg_.fleet->site_root(),
            cfg_.fleet->machine);
  link_->start();
}

void Fleet::stop() { link_->stop(); }

void Fleet::tick() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_metrics_) return;
  next_metrics_ = now + std::chrono::seconds(cfg_.fleet->metrics_period_s);
  store_.push_telemetry(telemetry_json(backend_));
}

}  // namespace soleus::app
