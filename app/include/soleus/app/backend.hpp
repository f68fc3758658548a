#pragma once
/// soleusd's implementation of hmi::Backend: the HMI server's view of the
/// control loop (snapshot, commands) and of the store (queries on the API
/// threads' own connections).
///
/// Principle of operation:
///  1. status(), latest_frame() and stop_current() read the loop's published
///     snapshot and post commands: they never block (network threads).
///  2. The main thread (daemon.cpp) drains the loop's queues. It hands every
///     controller event to the SetBook, which wakes the API calls that wait
///     for the loop's answer (set_started / set_refused, tared, reset ...),
///     and on set_started pushes the set's start record to the store, so the
///     row exists before the set's first rep.
///  3. start_set() validates with controller::validate(), refuses (409) while a
///     set runs, a fault or e-stop is latched or storage is faulted, takes an
///     id from Writer::allocate_set_id(), posts StartSet and waits (bounded)
///     for the loop's answer. Starts are serialised.
///  4. Queries and staff changes run on a small pool of SQLite connections
///     (one connection is used by one thread at a time); a rep is shown in a
///     set record only once committed.
///  5. Loop times (monotonic seconds) become Unix ms by the offset between the
///     system clock and CLOCK_MONOTONIC at the time of conversion.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "soleus/app/daemon_config.hpp"
#include "soleus/app/set_params.hpp"
#include "soleus/controller/control_loop.hpp"
#include "soleus/hmi/backend.hpp"
#include "soleus/programme/assessment.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/records.hpp"
#include "soleus/storage/writer.hpp"

namespace soleus::app {

/// Codes of the events soleusd raises itself for the maintenance routines
/// (docs/events.md, "Maintenance routines").
namespace codes {
inline constexpr const char* kSpanCalibrated = "span_calibrated";
inline constexpr const char* kRangeCheckOk = "range_check_ok";
inline constexpr const char* kRangeCheckFailed = "range_check_failed";
}  // namespace codes

/// Unix ms of a loop time (CLOCK_MONOTONIC seconds).
std::int64_t wall_ms_of_loop_time(double t_s);

/// Shared between the main thread (which drains the loop) and the API threads.
/// Thread-safe.
class SetBook {
 public:
  /// Before posting StartSet: the record to push when the loop starts the set.
  void expect(const storage::SetStartRecord& r);
  /// Main thread, for every controller event in order. Returns the start
  /// record to push when `e` is the set_started of an expected set.
  std::optional<storage::SetStartRecord> on_event(const controller::Event& e);
  /// Main thread: a set's result.
  void on_result(const controller::SetResult& r);
  /// The number of events seen so far (take it before posting a command).
  std::uint64_t event_seq() const;
  /// Waits until an event after `after` satisfies `match`; nullopt on timeout.
  std::optional<controller::Event> wait_event(
      std::uint64_t after, const std::function<bool(const controller::Event&)>& match,
      std::chrono::milliseconds timeout);
  /// Main thread: a rep attempt (the live screen's per-rep feedback).
  void on_rep(const controller::RepRecord& r);
  /// The last rep attempt seen (of the newest set that had one).
  std::optional<controller::RepRecord> last_rep() const;
  /// Sets ended and their counted reps since the daemon started, by stop
  /// reason (GET /metrics' soleus_sets_total): every reason, zeros included.
  struct StopCount {
    controller::StopReason reason{};
    std::uint64_t sets = 0;
    std::uint64_t reps = 0;
  };
  std::vector<StopCount> stop_counts() const;
  /// A recent set's result (kept for the last few sets), if it has ended.
  std::optional<controller::SetResult> result(std::int64_t set_id) const;
  /// The start record of a recent set (expected or started).
  std::optional<storage::SetStartRecord> start_record(std::int64_t set_id) const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t seq_ = 0;
  std::deque<std::pair<std::uint64_t, controller::Event>> recent_;  // last 256 events
  std::map<std::int64_t, storage::SetStartRecord> expected_;        // not yet started
  std::map<std::int64_t, storage::SetStartRecord> started_;         // recent sets
  std::map<std::int64_t, controller::SetResult> results_;           // recent results
  std::optional<controller::RepRecord> last_rep_;
  std::map<controller::StopReason, StopCount> stops_;
};

class DaemonBackend final : public hmi::Backend {
 public:
  /// `store` may be null (no storage: queries answer empty / not found, sets are refused).
  DaemonBackend(const DaemonConfig& cfg, controller::ControlLoop& loop, storage::Writer* store,
                SetBook& book);
  ~DaemonBackend() override;

  hmi::StatusView status() override;
  std::optional<hmi::LiveFrame> latest_frame() override;
  bool stop_current(hmi::StopCause cause) override;
  hmi::Result start_set(const hmi::SetRequest& request) override;
  std::optional<hmi::SetView> get_set(std::int64_t id) override;
  hmi::EventPage events(const hmi::EventQuery& query) override;
  hmi::Result list(hmi::Collection c) override;
  hmi::Result get(hmi::Collection c, std::int64_t id) override;
  hmi::Result create(hmi::Collection c, const boost::json::object& fields) override;
  hmi::Result update(hmi::Collection c, std::int64_t id,
                     const boost::json::object& fields) override;
  hmi::Result remove(hmi::Collection c, std::int64_t id) override;
  hmi::Result assign_programme(std::int64_t member_id,
                               std::optional<std::int64_t> programme_id) override;
  hmi::Result member_history(std::int64_t member_id, int limit) override;
  hmi::Result member_schedule(std::int64_t member_id) override;
  hmi::Result member_progression(std::int64_t member_id, int limit) override;
  hmi::Result set_trace(std::int64_t set_id) override;
  hmi::Result member_stop_events(std::int64_t member_id) override;
  std::optional<hmi::MemberCredential> member_credential(const std::string& number) override;
  hmi::Result session(std::int64_t member_id, hmi::SessionAction action) override;
  std::optional<hmi::StaffCredential> staff_credential(std::int64_t id) override;
  hmi::Result staff_list() override;
  hmi::Result staff_create(const boost::json::object& fields) override;
  hmi::Result staff_update(std::int64_t id, const boost::json::object& fields) override;
  hmi::Result audit(const hmi::AuditQuery& query) override;
  hmi::Result member_csv(std::int64_t member_id, std::optional<std::int64_t> from_ms,
                         std::optional<std::int64_t> to_ms) override;
  hmi::Result assessment(std::int64_t member_id, hmi::AssessmentAction action) override;
  hmi::Result member_assessments(std::int64_t member_id) override;
  hmi::Result assign_assessment(std::int64_t member_id, bool assign) override;
  hmi::Result maintenance(hmi::MaintenanceAction action, const boost::json::object& args) override;
  boost::json::value diagnostics() override;
  hmi::MetricsView metrics() override;
  /// The fleet publisher's outbox figures for GET /metrics (issue 14): set
  /// once before the HMI server starts; called on the API's worker threads.
  /// Unset, or returning nullopt: no soleus_outbox_* metrics.
  void set_outbox_metrics(std::function<std::optional<hmi::OutboxMetricsView>()> fn) {
    outbox_metrics_ = std::move(fn);
  }

  /// Starts a set from parameters already parsed (the API, the session
  /// runner, --run-set go through the same checks). Sets p.set_id.
  /// `stored_range` false: the member's stored range is not used (the set
  /// calibrates: the assessment's warm-up).
  hmi::Result start_params(controller::SetParams p, std::int64_t session_id = 0,
                           std::int64_t step_id = 0, int set_index = 0, bool stored_range = true);

 private:
  class Pool;
  struct Conn;
  Conn connect();
  /// with_db on a pooled connection for an existing member: NotFound when
  /// there is no such member, else fn(conn) (backend_internal.hpp).
  template <class F>
  hmi::Result with_member(std::int64_t member_id, F&& fn, const char* what);
  std::vector<hmi::FaultView> faults(const controller::Snapshot& s) const;
  hmi::Result span_calibration(double known_n);
  hmi::Result range_check();
  /// Posts a procedure's start with a new id and waits (bounded) for its
  /// result from the loop; nullopt with `error` when none came.
  std::optional<controller::ProcedureResult> run_procedure(controller::Command c,
                                                           std::chrono::milliseconds timeout,
                                                           std::string& error);
  void push_event(storage::Severity sev, const char* code, const std::string& message,
                  const boost::json::object& context);
  std::optional<std::string> busy_reason(const controller::Snapshot& s) const;

  const DaemonConfig& cfg_;
  controller::ControlLoop& loop_;
  storage::Writer* store_;
  SetBook& book_;
  std::unique_ptr<Pool> pool_;
  std::mutex start_mutex_;
  std::mutex stop_mutex_;
  std::mutex session_mutex_;
  std::mutex maintenance_mutex_;  // one span calibration or range check at a time
  std::atomic<std::uint32_t> next_procedure_id_{0};  // ids of the loop's maintenance procedures
  std::mutex range_mutex_;
  std::optional<hmi::RangeCheckView> last_range_check_;
  std::int64_t stop_requested_for_ = 0;
  std::function<std::optional<hmi::OutboxMetricsView>()> outbox_metrics_;
  double started_unix_s_ = 0;  ///< for soleus_start_time_seconds
  // The strength assessments in progress, by member (backend_assessment.cpp).
  struct AssessmentState;
  std::mutex assessment_mutex_;
  std::map<std::int64_t, std::shared_ptr<AssessmentState>> assessments_;
  /// Takes the running set's result into the run; records a finished run once.
  void settle_assessment(std::int64_t member_id, AssessmentState& a);
  boost::json::object assessment_card(std::int64_t member_id, const AssessmentState* a);
};

}  // namespace soleus::app
