#pragma once
/// The HMI server's only view of the machine: an abstract Backend that soleusd
/// implements. The server knows nothing of Modbus, SQLite or the control loop;
/// it validates every request, checks the caller's role, and only then calls
/// one of these methods with values already known to be well-formed and in
/// range. Names and values of the views (views.hpp) are issue 5's API contract.
///
/// Threading: methods are called concurrently from the server's threads.
///  - status(), latest_frame() and stop_current() are called on the network
///    (io_context) threads and must not block: read a published snapshot, push
///    a command on the control loop's queue.
///  - Every other method is called from the server's worker pool (blocking
///    is allowed there: SQLite queries, waiting for a command's answer), but
///    several may run at once, so they must be thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "soleus/hmi/metrics.hpp"  // MetricsView (GET /metrics)
#include "soleus/hmi/views.hpp"    // the views the backend returns

namespace soleus::hmi {

/// POST /api/v1/sets, after validation. Exactly one of target_reps / hold_s is set.
struct SetRequest {
  std::string mode;   ///< isotonic, eccentric or isometric
  double load_n{};    ///< load, or the force limit of an isometric hold
  std::string tempo;  ///< as given, e.g. "2.5-0-2-1"
  double eccentric_s{}, bottom_s{}, concentric_s{}, top_s{};  ///< the tempo, parsed
  std::optional<int> target_reps;                             ///< 1–100 (isotonic, eccentric)
  std::optional<double> hold_s;                               ///< isometric
  double force_drop_pct = 20;                                 ///< 5–50
  double eccentric_pct = 0;                                   ///< 0–100, eccentric mode only
  std::optional<std::int64_t> member_id;
  std::string role;  ///< who asked: guest, member, staff or maintenance
};

/// GET /api/v1/events, after validation.
struct EventQuery {
  std::optional<std::int64_t> since_ms;   ///< only events at or after this Unix time
  std::optional<std::string> severity;    ///< minimum: info < warning < error
  std::optional<std::string> code;        ///< exact code
  std::optional<std::int64_t> before_id;  ///< keyset paging: only events with id < before_id
  int offset = 0;                         ///< offset paging: skip this many (0–100000)
  int limit = 50;                         ///< 1–500
};

/// Newest first; `next_before` is the before_id that fetches the next page
/// (empty on the last page); `total` the number of matching events, if known.
struct EventPage {
  std::vector<EventView> events;
  std::optional<std::int64_t> next_before;
  std::optional<std::int64_t> total;
};

/// What a backend call came to. On success `body` is the reply (for created
/// resources, `id` is the new id); on failure `field`/`message` name the problem.
enum class Outcome { Ok, Created, NotFound, Conflict, Invalid };

struct Result {
  Outcome outcome = Outcome::Ok;
  boost::json::value body;  ///< Ok: the reply body (null → {"ok": true})
  std::int64_t id{};        ///< Created: the new resource's id
  std::string field;        ///< Conflict / Invalid / NotFound: the field concerned, may be empty
  std::string message;

  static Result ok(boost::json::value body = nullptr);
  static Result created(std::int64_t id);
  static Result not_found(std::string message);
  static Result conflict(std::string message, std::string field = {});
  static Result invalid(std::string field, std::string message);
};

/// Why the current set is stopped through the API.
enum class StopCause { UserStop, Pain };

/// The two collections staff edit (CRUD under /api/v1/members and /api/v1/programmes).
enum class Collection { Members, Programmes };

/// What login needs to know about a member.
struct MemberCredential {
  std::int64_t id{};
  std::string pin_hash;  ///< empty = this member has no PIN
};

/// What login needs to know about a named staff account (issue 13).
struct StaffCredential {
  std::int64_t id{};
  std::string name;
  std::string pin_hash;
  bool admin = false;
  bool active = true;
};

/// GET /api/v1/audit, after validation.
struct AuditQuery {
  std::optional<std::int64_t> member_id;  ///< rows about this member (and their assignments, ...)
  std::optional<std::int64_t> staff_id;   ///< rows made by this staff account
  std::optional<std::int64_t> before_id;  ///< keyset paging: rows with id < before_id
  int limit = 50;                         ///< 1–500
};

/// Who makes the API request being handled: the audit trail's "who". The API
/// sets it for the request's thread once the token is checked (CallerScope);
/// the backend reads it with current_caller() when it records a change, so
/// every audited change names its person without each call passing it on.
struct Caller {
  std::string role;                       ///< "" (not authenticated), guest, member, staff, ...
  std::optional<std::int64_t> member_id;  ///< a member's own id
  std::optional<std::int64_t> staff_id;   ///< a named staff account; none: the shared PIN
};
/// The caller of the request this thread is handling ({} outside a request).
const Caller& current_caller();
/// Sets current_caller() for this thread until destroyed (then back to {}).
class CallerScope {
 public:
  CallerScope();
  ~CallerScope();
  CallerScope(const CallerScope&) = delete;
  CallerScope& operator=(const CallerScope&) = delete;
  static void set(Caller c);
};

enum class MaintenanceAction { Tare, Span, RangeCheck, FaultReset };

/// Programme-session runner calls made for a logged-in member.
enum class SessionAction {
  Get,      ///< today's step as a card, the next set, rest remaining
  Start,    ///< begin (or resume) today's session
  NextSet,  ///< start the session's next set (a new press of Start); reply {"id": set id}
  End,      ///< end the session now; the runner records it and applies progression
};

/// The guided strength assessment, for a logged-in member (docs/assessment.md).
enum class AssessmentAction {
  Get,    ///< the assessment card: step, rest remaining, trials, result
  Start,  ///< begin a new assessment (or resume the unfinished one)
  Next,   ///< start its next set (the warm-up, or the next push); reply: the card with "set_id"
  Retry,  ///< after a refused result (spread too large): new pushes, the range kept
  End,    ///< end it now: recorded as incomplete if anything was done
};

/// Implemented by soleusd. See the file comment for the threading rules.
class Backend {
 public:
  virtual ~Backend() = default;

  // ---- machine (non-blocking; called on network threads) -------------------
  virtual StatusView status() = 0;
  /// The latest published sample, or nullopt before the first one.
  virtual std::optional<LiveFrame> latest_frame() = 0;
  /// Stops the running set through the one unload path. Idempotent: returns
  /// whether a set was running and has been asked to stop.
  virtual bool stop_current(StopCause cause) = 0;

  // ---- sets and events ------------------------------------------------------
  /// Starts a set. Created with its id; Conflict (409) while a set runs or a
  /// fault / e-stop is latched; Invalid (422) for what only the machine can
  /// judge (e.g. a member's stored range missing).
  virtual Result start_set(const SetRequest& request) = 0;
  virtual std::optional<SetView> get_set(std::int64_t id) = 0;
  virtual EventPage events(const EventQuery& query) = 0;

  // ---- members and programmes (staff) --------------------------------------
  /// Ok with an array of objects, each with its "id".
  virtual Result list(Collection c) = 0;
  virtual Result get(Collection c, std::int64_t id) = 0;
  /// `fields` is validated (docs/api.md); a member's PIN arrives as "pin_hash".
  virtual Result create(Collection c, const boost::json::object& fields) = 0;
  /// Partial update with the fields given (validated as for create).
  virtual Result update(Collection c, std::int64_t id, const boost::json::object& fields) = 0;
  virtual Result remove(Collection c, std::int64_t id) = 0;
  /// Assigns a programme to a member (nullopt: unassign).
  virtual Result assign_programme(std::int64_t member_id,
                                  std::optional<std::int64_t> programme_id) = 0;
  /// Ok with an array of the member's last sessions, newest first.
  virtual Result member_history(std::int64_t member_id, int limit) = 0;
  /// Ok with the member's schedule (ScheduleView, issue 13 §2).
  virtual Result member_schedule(std::int64_t /*member_id*/) {
    return Result::not_found("no schedule in this backend");
  }
  /// Ok with the member's progression changes, newest first (ProgressionChangeView).
  virtual Result member_progression(std::int64_t /*member_id*/, int /*limit*/) {
    return Result::not_found("no progression log in this backend");
  }
  /// Issue 13 (progress). Not pure: a backend without them answers 404.
  /// GET /sets/{id}/trace: Ok with the SetTraceView's JSON; NotFound without the set.
  virtual Result set_trace(std::int64_t /*set_id*/) {
    return Result::not_found("no stored traces here");
  }
  /// GET /members/{id}/events: Ok with an array of MemberStopEventView JSON
  /// (PAIN and loss-of-control stops, newest first).
  virtual Result member_stop_events(std::int64_t /*member_id*/) {
    return Result::not_found("no stop events here");
  }
  /// Looks up a member by number (or RFID tag) for login.
  virtual std::optional<MemberCredential> member_credential(const std::string& number) = 0;

  // ---- named staff accounts and the audit trail (issue 13) -----------------
  // Not pure: a backend without a store (benchmarks, fuzzing) has no accounts
  // (staff_credential nullopt, an empty list and audit) and refuses the rest.
  /// The account for login; nullopt when there is none with this id.
  virtual std::optional<StaffCredential> staff_credential(std::int64_t id);
  /// Ok with an array of {id, name, admin, active, created_ms}, by name.
  virtual Result staff_list();
  /// `fields`: name (validated), pin_hash (made by the API), admin (bool).
  virtual Result staff_create(const boost::json::object& fields);
  /// Partial update: name, pin_hash, admin, active (never a delete).
  virtual Result staff_update(std::int64_t id, const boost::json::object& fields);
  /// Ok with {"audit":[...], "next_before": id|null}, newest first.
  virtual Result audit(const AuditQuery& query);
  /// Ok with the CSV text as a JSON string: one row per rep of the member's
  /// sets started in [from_ms, to_ms) (either bound optional), oldest first.
  virtual Result member_csv(std::int64_t member_id, std::optional<std::int64_t> from_ms,
                            std::optional<std::int64_t> to_ms);

  // ---- programme sessions (a logged-in member) -----------------------------
  virtual Result session(std::int64_t member_id, SessionAction action) = 0;

  // ---- strength assessments ---------------------------------------------------
  /// A logged-in member's assessment (AssessmentAction).
  virtual Result assessment(std::int64_t member_id, AssessmentAction action) = 0;
  /// GET /members/{id}/assessments: {"assessments": [...]}, newest first.
  virtual Result member_assessments(std::int64_t member_id) = 0;
  /// PUT /members/{id}/assessment (staff): assign (true) or withdraw (false).
  virtual Result assign_assessment(std::int64_t member_id, bool assign) = 0;

  // ---- maintenance ----------------------------------------------------------
  /// `args` is validated: Span has {"known_n": > 0}; the others are empty.
  virtual Result maintenance(MaintenanceAction action, const boost::json::object& args) = 0;
  /// Every decoded signal, bus statistics, loop timing, drive temperature and
  /// bus voltage, odometer: a JSON object, passed through as it is.
  virtual boost::json::value diagnostics() = 0;
  /// GET /metrics (worker pool: may read the store). Not pure: the default
  /// has the state alone.
  virtual MetricsView metrics();
};

}  // namespace soleus::hmi
