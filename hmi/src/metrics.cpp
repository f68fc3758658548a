#include "soleus/hmi/metrics.hpp"

#include <boost/asio/ip/address.hpp>

#include <charconv>
#include <cmath>
#include <stdexcept>

#include "soleus/hmi/backend.hpp"

// GET /metrics' renderer (the Prometheus text format 0.0.4) and its access
// rule. The metric names are a contract with the Grafana dashboard in
// docs/fleet/grafana-dashboard.json (a test checks every name it uses is here).

namespace soleus::hmi {

// ---- the text format ----------------------------------------------------------

namespace prom {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Whole numbers up to 2^53 exactly and without an exponent (counters read
  // best that way); anything else as the shortest text that reads back the same.
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
    return std::string(buf, r.ptr);
  }
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return std::string(buf, r.ptr);
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

void Writer::family(std::string_view name, std::string_view type, std::string_view help) {
  if (!valid_name(name)) throw std::invalid_argument("bad metric name: " + std::string(name));
  if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
      type != "untyped")
    throw std::invalid_argument("bad metric type: " + std::string(type));
  constexpr std::string_view kTotal = "_total";
  const bool total =
      name.size() > kTotal.size() && name.substr(name.size() - kTotal.size()) == kTotal;
  if ((type == "counter") != total)
    throw std::invalid_argument("a counter, and only a counter, ends in _total: " +
                                std::string(name));
  name_ = std::string(name);
  out_ += "# HELP ";
  out_ += name_;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name_;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Writer::line(std::string_view suffix, const Labels& labels, const std::string& value) {
  if (name_.empty()) throw std::logic_error("a sample before its family");
  out_ += name_;
  out_ += suffix;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!valid_name(k) || k.rfind("__", 0) == 0)
        throw std::invalid_argument("bad label name: " + k);
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      out_ += escape_label_value(v);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += value;
  out_ += '\n';
}

void Writer::sample(double value, const Labels& labels, std::string_view suffix) {
  line(suffix, labels, format_value(value));
}

void Writer::sample(std::uint64_t value, const Labels& labels, std::string_view suffix) {
  line(suffix, labels, std::to_string(value));
}

void Writer::histogram(const HistogramView& h, const Labels& labels) {
  for (std::size_t i = 0; i < h.bounds.size() && i < h.buckets.size(); ++i) {
    Labels l = labels;
    l.emplace_back("le", format_value(h.bounds[i]));
    sample(h.buckets[i], l, "_bucket");
  }
  Labels inf = labels;
  inf.emplace_back("le", "+Inf");
  sample(h.count, inf, "_bucket");
  sample(h.sum, labels, "_sum");
  sample(h.count, labels, "_count");
}

}  // namespace prom

// ---- the view ----------------------------------------------------------------------

std::string render_metrics(const MetricsView& v) {
  prom::Writer w;
  auto gauge = [&](std::string_view name, std::string_view help, double value) {
    w.family(name, "gauge", help);
    w.sample(value);
  };
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    w.family(name, "counter", help);
    w.sample(value);
  };

  w.family("soleus_build_info", "gauge", "soleusd's version (the value is always 1)");
  w.sample(1.0, {{"version", v.version}});
  gauge("soleus_start_time_seconds", "Unix time soleusd started", v.start_time_s);
  w.family("soleus_state", "gauge", "the machine's state (1 for the current one)");
  w.sample(1.0, {{"state", v.state}});
  gauge("soleus_armed", "1 while the drive is armed", v.armed ? 1.0 : 0.0);

  // The control loop: quantiles since the daemon started (the loop's own histogram).
  w.family("soleus_loop_period_quantile_seconds", "gauge",
           "control loop period between cycle starts, quantile since soleusd started");
  w.sample(v.loop.p50_ms / 1000.0, {{"quantile", "0.5"}});
  w.sample(v.loop.p99_ms / 1000.0, {{"quantile", "0.99"}});
  gauge("soleus_loop_period_max_seconds", "longest control loop period since soleusd started",
        v.loop.max_ms / 1000.0);
  // The same over the recent past (the last 60 to 120 s): what an alert on
  // the loop's timing should watch once soleusd has run for days.
  w.family("soleus_loop_period_recent_quantile_seconds", "gauge",
           "control loop period between cycle starts, quantile over the last "
           "soleus_loop_period_recent_window_seconds");
  w.sample(v.loop.recent_p50_ms / 1000.0, {{"quantile", "0.5"}});
  w.sample(v.loop.recent_p99_ms / 1000.0, {{"quantile", "0.99"}});
  gauge("soleus_loop_period_recent_max_seconds",
        "longest control loop period over the recent window", v.loop.recent_max_ms / 1000.0);
  gauge("soleus_loop_period_recent_window_seconds",
        "the span of the recent window (60 to 120 s once running)", v.loop.recent_s);
  gauge("soleus_loop_configured_hertz", "the control loop's configured rate", v.loop.configured_hz);
  counter("soleus_loop_cycles_total", "control loop cycles", v.loop.cycles);
  counter("soleus_loop_overruns_total", "control loop cycles that missed their deadline",
          v.loop.overruns);
  counter("soleus_loop_commands_dropped_total", "commands refused with the loop's queue full",
          v.loop.commands_dropped);
  counter("soleus_loop_trace_dropped_total", "trace samples the loop dropped (queue full)",
          v.loop.trace_dropped);
  w.family("soleus_loop_lost_total", "counter",
           "events, reps or set results the loop could not hand over (must stay 0)");
  w.sample(v.loop.events_lost, {{"kind", "event"}});
  w.sample(v.loop.reps_lost, {{"kind", "rep"}});
  w.sample(v.loop.results_lost, {{"kind", "result"}});

  // The bus (MachineIo statistics).
  gauge("soleus_bus_comm_good", "1 while the drive and the load cell answer",
        v.bus.comm_good ? 1.0 : 0.0);
  counter("soleus_bus_cycles_total", "bus exchange cycles", v.bus.cycles);
  counter("soleus_bus_transactions_total", "Modbus transactions", v.bus.transactions);
  counter("soleus_bus_timeouts_total", "Modbus transactions that timed out", v.bus.timeouts);
  counter("soleus_bus_crc_errors_total", "Modbus frames with a bad CRC", v.bus.crc_errors);
  counter("soleus_bus_reconnects_total", "bus reconnections", v.bus.reconnects);
  w.family("soleus_bus_device_errors_total", "counter", "failed exchanges by device");
  w.sample(v.bus.drive_errors, {{"device", "drive"}});
  w.sample(v.bus.cell_errors, {{"device", "load_cell"}});
  w.family("soleus_bus_bytes_total", "counter", "bytes on the bus by direction");
  w.sample(v.bus.bytes_tx, {{"direction", "tx"}});
  w.sample(v.bus.bytes_rx, {{"direction", "rx"}});

  if (v.drive_temperature_c)
    gauge("soleus_drive_temperature_celsius", "the servo drive's temperature",
          *v.drive_temperature_c);
  if (v.drive_bus_voltage_v)
    gauge("soleus_drive_bus_voltage_volts", "the servo drive's DC bus voltage",
          *v.drive_bus_voltage_v);

  if (v.odometer) {
    const auto& o = *v.odometer;
    auto whole = [](std::int64_t n) { return static_cast<std::uint64_t>(n < 0 ? 0 : n); };
    counter("soleus_odometer_reps_total", "reps counted over the machine's life (the store)",
            whole(o.reps));
    counter("soleus_odometer_sets_total", "sets over the machine's life (the store)",
            whole(o.sets));
    w.family("soleus_odometer_motor_on_seconds_total", "counter",
             "time the motor was enabled over the machine's life (the store)");
    w.sample(o.motor_on_h * 3600.0);
    gauge("soleus_odometer_highest_force_newtons", "the highest pad force ever measured",
          o.highest_force_n);
  }

  w.family("soleus_sets_total", "counter", "sets ended since soleusd started, by stop reason");
  for (const auto& s : v.stops) w.sample(s.sets, {{"reason", s.reason}});
  w.family("soleus_reps_total", "counter",
           "counted reps of the sets ended since soleusd started, by the set's stop reason");
  for (const auto& s : v.stops) w.sample(s.reps, {{"reason", s.reason}});

  if (v.storage) {
    const auto& s = *v.storage;
    gauge("soleus_storage_ok", "1 while the store's writes succeed", s.ok ? 1.0 : 0.0);
    gauge("soleus_storage_pending_records", "records in memory, not yet committed",
          static_cast<double>(s.pending_records));
    counter("soleus_storage_transactions_total", "transactions committed by the store's writer",
            s.transactions);
    counter("soleus_storage_records_committed_total", "records committed", s.records_committed);
    counter("soleus_storage_faults_total", "storage fault episodes", s.faults);
    counter("soleus_storage_records_lost_total", "records lost (overflow list full)",
            s.records_lost);
    counter("soleus_storage_traces_dropped_total", "trace samples dropped", s.traces_dropped);
  }
  if (v.storage_commit) {
    w.family("soleus_storage_commit_seconds", "histogram",
             "time of one committed write transaction of the store's writer");
    w.histogram(*v.storage_commit);
  }

  if (v.outbox) {
    const auto& o = *v.outbox;
    w.family("soleus_outbox_depth", "gauge", "rows waiting in the fleet outbox, by kind");
    for (const auto& [kind, n] : o.depth) w.sample(static_cast<double>(n), {{"kind", kind}});
    gauge("soleus_outbox_oldest_age_seconds", "age of the oldest row in the fleet outbox",
          o.oldest_age_s);
    counter("soleus_outbox_telemetry_dropped_total",
            "telemetry rows dropped from the full fleet outbox", o.telemetry_dropped);
    gauge("soleus_outbox_full", "1 while the fleet outbox is full (an alarm)", o.full ? 1.0 : 0.0);
  }
  return w.take();
}

MetricsView Backend::metrics() {
  MetricsView v;
  v.state = status().state;
  return v;
}

// ---- access --------------------------------------------------------------------

namespace {

bool is_loopback(std::string_view address) {
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(std::string(address), ec);
  if (ec) return false;
  if (a.is_v4()) return a.to_v4().is_loopback();
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();
}

/// Equal, in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

}  // namespace

MetricsAccess metrics_access(std::string_view peer_address,
                             const std::optional<std::string>& authorization,
                             std::string_view token) {
  if (is_loopback(peer_address)) return MetricsAccess::Allowed;
  if (token.empty()) return MetricsAccess::NoToken;
  if (!authorization) return MetricsAccess::BadToken;
  std::string_view h = *authorization;
  constexpr std::string_view kBearer = "bearer ";
  if (h.size() <= kBearer.size()) return MetricsAccess::BadToken;
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    char c = h[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kBearer[i]) return MetricsAccess::BadToken;
  }
  h.remove_prefix(kBearer.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  return constant_time_equal(h, token) ? MetricsAccess::Allowed : MetricsAccess::BadToken;
}

bool is_valid_metrics_token(std::string_view token, std::string* why) {
  auto no = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (token.size() < 32) return no("must be at least 32 characters (e.g. openssl rand -hex 32)");
  if (token.size() > 256) return no("must be at most 256 characters");
  for (char c : token) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
                    c == '=';
    if (!ok) return no("may hold only A-Z a-z 0-9 - . _ ~ + / =");
  }
  return true;
}

}  // namespace soleus::hmi
