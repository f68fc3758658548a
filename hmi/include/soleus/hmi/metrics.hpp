#pragma once
/// GET /metrics: the machine's figures for Prometheus, as a typed view and its
/// one renderer in the text exposition format 0.0.4 (what prometheus-cpp 1.0
/// writes; docs/fleet.md "Metrics for Prometheus"), and the rule of who may
/// read it (loopback, or a scrape token).
///
/// The format is written here, not by prometheus-cpp: it is a few lines of
/// text, and the library would be one more package for the arm64 cross build
/// and the pristine install. What the format asks, and this file keeps:
///  - `# HELP name text` (text escapes `\` and newline) and `# TYPE name type`
///    once per family, before its samples, families never interleaved;
///  - label values in double quotes, escaping `\`, `"` and newline;
///  - counters named `…_total`, units in names (`_seconds`, `_celsius`, …);
///  - numbers as Go's ParseFloat reads them: `NaN`, `+Inf`, `-Inf`, integers
///    exactly, others with 17 significant digits at most (shortest round trip).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "soleus/hmi/views.hpp"

namespace soleus::hmi {

/// A Prometheus histogram: `bounds` are the upper bounds (le, ascending, +Inf
/// implied), `buckets` the cumulative count at each bound.
struct HistogramView {
  std::vector<double> bounds;
  std::vector<std::uint64_t> buckets;  ///< cumulative; same size as bounds
  std::uint64_t count{};               ///< observations (the +Inf bucket)
  double sum{};
};

/// Sets and their counted reps that ended with one stop reason.
struct StopReasonCountView {
  std::string reason;  ///< the API's stop_reason, e.g. "target_reached"
  std::uint64_t sets{};
  std::uint64_t reps{};
};

/// The fleet publisher's outbox (issue 14 §1); rendered only when present.
struct OutboxMetricsView {
  std::vector<std::pair<std::string, std::uint64_t>> depth;  ///< rows waiting, by kind
  double oldest_age_s{};                                     ///< of the oldest row (0: empty)
  std::uint64_t telemetry_dropped{};                         ///< since start
  bool full{};                                               ///< the outbox-full alarm
};

/// Everything GET /metrics reports. soleusd fills it (app/); a field left
/// empty (nullopt) is not rendered at all.
struct MetricsView {
  std::string version;    ///< soleus_build_info{version}
  double start_time_s{};  ///< Unix time the daemon started (process_start_time_seconds)
  std::string state;      ///< as StatusView::state (soleus_state{state} = 1)
  bool armed{};
  DiagnosticsLoopView loop;
  BusView bus;
  std::optional<double> drive_temperature_c;  ///< only when the map has the register
  std::optional<double> drive_bus_voltage_v;  ///< idem
  std::optional<OdometerView> odometer;
  std::vector<StopReasonCountView> stops;  ///< since the daemon started
  std::optional<StorageHealthView> storage;
  std::optional<HistogramView> storage_commit;  ///< the writer's transaction time
  std::optional<OutboxMetricsView> outbox;
};

/// The exposition's Content-Type.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// The text format's pieces, for the renderer and its tests.
namespace prom {
/// A label value escaped: `\` → `\\`, `"` → `\"`, newline → `\n`.
std::string escape_label_value(std::string_view v);
/// HELP text escaped: `\` → `\\`, newline → `\n`.
std::string escape_help(std::string_view v);
/// A sample value: NaN, +Inf, -Inf, integers without exponent, else the
/// shortest text that reads back to the same double.
std::string format_value(double v);
/// True for a metric or label name of the format: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool valid_name(std::string_view name);

/// Writes families one after the other. A family is opened by family() and
/// takes samples until the next one; names are checked (std::invalid_argument).
class Writer {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  /// `type`: counter, gauge, histogram, summary or untyped. A counter's name
  /// must end in `_total`.
  void family(std::string_view name, std::string_view type, std::string_view help);
  /// One sample of the open family; `suffix` is appended to its name (`_bucket`, `_sum`, `_count`).
  void sample(double value, const Labels& labels = {}, std::string_view suffix = {});
  void sample(std::uint64_t value, const Labels& labels = {}, std::string_view suffix = {});
  /// A whole histogram family's samples (buckets, +Inf, sum, count).
  void histogram(const HistogramView& h, const Labels& labels = {});
  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void line(std::string_view suffix, const Labels& labels, const std::string& value);
  std::string out_;
  std::string name_;
};
}  // namespace prom

/// The whole exposition of a view.
std::string render_metrics(const MetricsView& v);

/// Who may read GET /metrics.
enum class MetricsAccess {
  Allowed,
  NoToken,   ///< 403: a non-loopback peer and no scrape token configured
  BadToken,  ///< 401: a non-loopback peer without the right bearer token
};

/// The rule, as a pure function: a loopback peer (127.0.0.0/8, ::1, and
/// IPv4-mapped 127.x) is served; any other peer (or one whose address is
/// unknown or unparsable) needs `Authorization: Bearer <token>` equal to the
/// configured scrape token (compared in constant time). An empty `token`
/// means none is configured. Login tokens never qualify.
MetricsAccess metrics_access(std::string_view peer_address,
                             const std::optional<std::string>& authorization,
                             std::string_view token);

/// True when `token` is acceptable as [hmi] metrics_token (`why` says why not):
/// 32–256 characters of the bearer-token alphabet (A–Z a–z 0–9 - . _ ~ + / =).
bool is_valid_metrics_token(std::string_view token, std::string* why = nullptr);

}  // namespace soleus::hmi
