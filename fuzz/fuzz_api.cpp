// Fuzz target: the HMI API's request handling (hmi/src/api.cpp): paths,
// query strings, JSON bodies, roles and Origin, and the set request, through
// hmi::Api::handle() over a recording fake Backend, plus
// hmi::parse_set_request() (the validator soleusd's --run-set uses too).
//
// Input: an HTTP-like request, readable and easy to write by hand:
//     METHOD TARGET
//     Authorization: staff          <- staff|maintenance|member|guest: a real
//     Origin: http://evil.example      token of that role; anything else is
//                                      sent as it is
//     (blank line)
//     BODY
// Checked:
//  - handle() answers every request with a known status and a JSON object
//    body (an error object with a message for 4xx), never a 500 (an internal
//    error means a parser threw where it should have refused);
//  - a set request that reaches the backend, or that parse_set_request()
//    accepts, has every setpoint within its rule: 1 <= load_n <= max_load_n
//    (a guest's <= guest_load_cap_n), tempo phases in [0, 60] s, exactly one
//    of target_reps (1-100) and hold_s (1-300), force_drop_pct in [5, 50],
//    eccentric_pct in [0, 100] and only for eccentric sets; a refused one has
//    status 400 or 422 and a message;
//  - programme steps, member fields, event queries, history limits and span
//    weights that reach the backend are within their documented ranges;
//  - such a set request goes on through app::to_params (every field kept)
//    and controller::validate (accepted: within the controller's limits,
//    eccentric load included; refused: a field and a message);
//  - a call reaches the backend only for a role allowed to make it (staff for
//    members and programmes, maintenance for maintenance, a member for
//    sessions), and nothing state-changing reaches it from a foreign Origin.
#include <boost/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "check.hpp"
#include "soleus/app/set_params.hpp"
#include "soleus/common/log.hpp"
#include "soleus/controller/config.hpp"
#include "soleus/controller/set_controller.hpp"
#include "soleus/hmi/api.hpp"
#include "soleus/hmi/security.hpp"

using namespace soleus;
using namespace soleus::hmi;
namespace json = boost::json;

namespace {

constexpr double kMaxLoadN = 1800;
constexpr double kGuestCapN = 600;
constexpr std::int64_t kMemberId = 7;  ///< member "1042" (no PIN)
const std::string kOwnOrigin = "http://127.0.0.1:8080";

/// Who the request under test authenticated as (from its Authorization line).
enum class Who { None, Guest, Member, Staff, Maintenance, Other };
Who caller = Who::None;
bool foreign_origin = false;  ///< a state-changing request from an origin not allowed
bool in_test = false;         ///< false while the harness itself logs in

void check_set_request(const SetRequest& q, bool from_api) {
  FUZZ_CHECK(q.mode == "isotonic" || q.mode == "eccentric" || q.mode == "isometric",
             "set: unknown mode");
  FUZZ_CHECK(std::isfinite(q.load_n) && q.load_n >= 1 && q.load_n <= kMaxLoadN,
             "set: load_n outside [1, max_load_n]");
  for (double s : {q.eccentric_s, q.bottom_s, q.concentric_s, q.top_s})
    FUZZ_CHECK(std::isfinite(s) && s >= 0 && s <= 60, "set: a tempo phase outside [0, 60] s");
  FUZZ_CHECK(q.target_reps.has_value() != q.hold_s.has_value(),
             "set: not exactly one of target_reps and hold_s");
  if (q.target_reps)
    FUZZ_CHECK(*q.target_reps >= 1 && *q.target_reps <= 100, "set: target_reps outside 1-100");
  if (q.hold_s)
    FUZZ_CHECK(std::isfinite(*q.hold_s) && *q.hold_s >= 1 && *q.hold_s <= 300,
               "set: hold_s outside 1-300");
  FUZZ_CHECK((q.mode == "isometric") == q.hold_s.has_value(),
             "set: hold_s for a set that is not isometric");
  FUZZ_CHECK(q.force_drop_pct >= 5 && q.force_drop_pct <= 50, "set: force_drop_pct outside 5-50");
  FUZZ_CHECK(q.eccentric_pct >= 0 && q.eccentric_pct <= 100, "set: eccentric_pct outside 0-100");
  FUZZ_CHECK(q.eccentric_pct == 0 || q.mode == "eccentric",
             "set: eccentric extra load for another mode");
  if (q.member_id) FUZZ_CHECK(*q.member_id >= 1, "set: member_id not positive");
  if (!from_api) return;
  FUZZ_CHECK(caller != Who::None && caller != Who::Other, "set: started without a valid token");
  if (caller == Who::Guest) {
    FUZZ_CHECK(q.load_n <= kGuestCapN, "set: a guest's load above the guest cap");
    FUZZ_CHECK(!q.member_id, "set: a guest started a set for a member");
    FUZZ_CHECK(q.role == "guest", "set: wrong role recorded");
  }
  if (caller == Who::Member)
    FUZZ_CHECK(q.member_id == kMemberId, "set: a member started a set for someone else");
}

/// A set request the API let through, on its way to the controller: soleusd's
/// app::to_params, then the controller's own validate() (the daemon's
/// configuration at its defaults, max load 1800 N). to_params keeps every
/// field; what validate() accepts is a set the controller can run within its
/// limits; what it refuses names a field and says why. Neither throws.
void check_params(const SetRequest& q) {
  const auto p = app::to_params(q);
  FUZZ_CHECK(p.has_value(), "to_params: a mode the API accepted was refused");
  FUZZ_CHECK(p->load_n == q.load_n && p->tempo.eccentric_s == q.eccentric_s &&
                 p->tempo.bottom_s == q.bottom_s && p->tempo.concentric_s == q.concentric_s &&
                 p->tempo.top_s == q.top_s && p->target_reps == q.target_reps.value_or(0) &&
                 p->hold_s == q.hold_s.value_or(0) && p->force_drop_pct == q.force_drop_pct &&
                 p->eccentric_pct == q.eccentric_pct && p->member_id == q.member_id,
             "to_params: a field changed on the way");
  static const controller::TrainingConfig training;
  static const machine::Mechanics mechanics;
  machine::Limits limits;
  limits.max_load_n = kMaxLoadN;
  if (const auto e = controller::validate(*p, training, limits, mechanics)) {
    FUZZ_CHECK(!e->field.empty() && !e->message.empty(),
               "validate: a refusal without a field and a message");
    return;
  }
  FUZZ_CHECK(std::isfinite(p->load_n) && p->load_n > 0 && p->load_n <= limits.max_load_n,
             "validate: accepted a load outside (0, max_load_n]");
  FUZZ_CHECK(p->load_n * (1.0 + p->eccentric_pct / 100.0) <= limits.max_load_n + 1e-9,
             "validate: accepted an eccentric load above max_load_n");
  if (p->mode == controller::Mode::Isometric)
    FUZZ_CHECK(p->hold_s > 0 && p->target_reps == 0,
               "validate: an isometric set without a hold time");
  else FUZZ_CHECK(p->target_reps >= 1 && p->target_reps <= 100, "validate: reps outside 1-100");
}

bool valid_member_number(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  for (unsigned char c : s)
    if (!std::isalnum(c) && c != '-' && c != '_') return false;
  return true;
}

double number_of(const json::value& v) {
  FUZZ_CHECK(v.is_number(), "a field that must be a number is not one");
  return v.to_number<double>();
}

void check_text(const json::object& o, const char* key, std::size_t lo, std::size_t hi) {
  if (auto* v = o.if_contains(key)) {
    FUZZ_CHECK(v->is_string(), "a text field is not a string");
    const auto& s = v->get_string();
    FUZZ_CHECK(s.size() >= lo && s.size() <= hi, "a text field of the wrong length");
    for (unsigned char c : s)
      FUZZ_CHECK(c >= 0x20 && c != 0x7F, "a text field with control characters");
  }
}

void check_fields(Collection c, const json::object& o) {
  if (c == Collection::Members) {
    if (auto* v = o.if_contains("number"))
      FUZZ_CHECK(v->is_string() && valid_member_number(std::string(v->get_string())),
                 "member: bad number");
    check_text(o, "name", 1, 64);
    check_text(o, "notes", 0, 500);
    if (auto* v = o.if_contains("pin_hash"))
      FUZZ_CHECK(v->is_string() &&
                     (v->get_string().empty() || is_valid_pin_hash(std::string(v->get_string()))),
                 "member: a PIN that is not a valid hash reached the store");
    FUZZ_CHECK(!o.contains("pin"), "member: a PIN in clear reached the store");
    if (auto* v = o.if_contains("assessed_max_n"); v && !v->is_null()) {
      const double m = number_of(*v);
      FUZZ_CHECK(m >= 1 && m <= 10000, "member: assessed_max_n outside 1-10000");
    }
    return;
  }
  check_text(o, "name", 1, 64);
  check_text(o, "description", 0, 500);
  if (auto* steps = o.if_contains("steps")) {
    FUZZ_CHECK(steps->is_array() && !steps->get_array().empty() && steps->get_array().size() <= 20,
               "programme: not 1 to 20 steps");
    for (const auto& sv : steps->get_array()) {
      const json::object& s = sv.as_object();
      const std::string mode(s.at("mode").as_string());
      FUZZ_CHECK(mode == "isotonic" || mode == "eccentric" || mode == "isometric",
                 "step: unknown mode");
      const double sets = number_of(s.at("sets"));
      FUZZ_CHECK(sets >= 1 && sets <= 10, "step: sets outside 1-10");
      FUZZ_CHECK(s.contains("load_n") != s.contains("load_pct"),
                 "step: not exactly one of load_n and load_pct");
      if (auto* v = s.if_contains("load_n")) {
        const double n = number_of(*v);
        FUZZ_CHECK(n >= 1 && n <= kMaxLoadN, "step: load_n outside [1, max_load_n]");
      }
      if (auto* v = s.if_contains("load_pct")) {
        const double p = number_of(*v);
        FUZZ_CHECK(p >= 1 && p <= 150, "step: load_pct outside 1-150");
      }
      const double rest = number_of(s.at("rest_s"));
      FUZZ_CHECK(rest >= 0 && rest <= 600, "step: rest_s outside 0-600");
      FUZZ_CHECK(s.contains("target_reps") != s.contains("hold_s"),
                 "step: not exactly one of target_reps and hold_s");
      if (auto* v = s.if_contains("target_reps")) {
        const double r = number_of(*v);
        FUZZ_CHECK(r >= 1 && r <= 100, "step: target_reps outside 1-100");
      }
      if (auto* v = s.if_contains("hold_s")) {
        const double h = number_of(*v);
        FUZZ_CHECK(h >= 1 && h <= 300 && mode == "isometric",
                   "step: hold_s out of range or not isometric");
      }
      const double drop = number_of(s.at("force_drop_pct"));
      FUZZ_CHECK(drop >= 5 && drop <= 50, "step: force_drop_pct outside 5-50");
      const double ecc = number_of(s.at("eccentric_pct"));
      FUZZ_CHECK(ecc >= 0 && ecc <= 100 && (ecc == 0 || mode == "eccentric"),
                 "step: bad eccentric_pct");
      const json::object& prog = s.at("progression").as_object();
      const std::string rule(prog.at("rule").as_string());
      const double amount = number_of(prog.at("amount"));
      FUZZ_CHECK(rule == "none" || (amount >= 0.1 && amount <= 1000),
                 "step: progression amount out of range");
      FUZZ_CHECK(rule != "load_pct" || s.contains("load_pct"),
                 "step: load_pct progression of a load_n step");
    }
  }
  for (const char* k : {"sessions_per_week", "after_block_sessions_per_week"})
    if (auto* v = o.if_contains(k))
      FUZZ_CHECK(number_of(*v) >= 1 && number_of(*v) <= 14, "programme: frequency out of range");
  if (auto* v = o.if_contains("block_weeks"))
    FUZZ_CHECK(number_of(*v) >= 1 && number_of(*v) <= 52, "programme: block_weeks out of range");
}

/// Every call that reaches the backend is checked against who asked and how.
class CheckingBackend final : public Backend {
 public:
  StatusView view;

  StatusView status() override { return view; }
  std::optional<LiveFrame> latest_frame() override { return std::nullopt; }
  bool stop_current(StopCause) override {
    mutation();
    return view.set_id.has_value();
  }
  Result start_set(const SetRequest& q) override {
    mutation();
    check_set_request(q, true);
    check_params(q);
    return Result::created(12);
  }
  std::optional<SetView> get_set(std::int64_t id) override {
    needs_token();
    FUZZ_CHECK(id >= 1, "get_set: id not positive");
    if (id > 2) return std::nullopt;
    SetView v;
    v.id = id;
    v.state = "done";
    v.mode = "isotonic";
    v.load_n = 500;
    v.tempo = "3-1-3-1";
    v.stop_reason = "force_drop";
    if (id == 1) v.member_id = kMemberId;
    v.rep_log.push_back(
        RepView{1, 561.2, 523.4, 3.1, 1, 2.9, 1.1, 62.5, 98.4, 20.2, 0.97, true, 0.1});
    return v;
  }
  EventPage events(const EventQuery& q) override {
    role({Who::Staff, Who::Maintenance}, "events");
    FUZZ_CHECK(q.limit >= 1 && q.limit <= 500, "events: limit outside 1-500");
    FUZZ_CHECK(q.offset >= 0 && q.offset <= 100000, "events: offset outside 0-100000");
    if (q.severity)
      FUZZ_CHECK(*q.severity == "info" || *q.severity == "warning" || *q.severity == "error",
                 "events: bad severity");
    if (q.code) FUZZ_CHECK(!q.code->empty() && q.code->size() <= 64, "events: bad code");
    if (q.before_id) FUZZ_CHECK(*q.before_id >= 0, "events: negative before");
    EventPage p;
    p.events.push_back(EventView{311, 1763921100000, "error", "drive_fault", "over-current", 12});
    return p;
  }
  Result list(Collection) override {
    role({Who::Staff}, "list");
    return Result::ok(json::array{json::object{{"id", 7}, {"pin_hash", "secret"}}});
  }
  Result get(Collection, std::int64_t id) override {
    role({Who::Staff}, "get");
    FUZZ_CHECK(id >= 1, "get: id not positive");
    return Result::ok(json::object{{"id", id}, {"pin_hash", "secret"}});
  }
  Result create(Collection c, const json::object& fields) override {
    mutation();
    role({Who::Staff}, "create");
    check_fields(c, fields);
    return Result::created(8);
  }
  Result update(Collection c, std::int64_t id, const json::object& fields) override {
    mutation();
    role({Who::Staff}, "update");
    FUZZ_CHECK(id >= 1 && !fields.empty(), "update: no id or nothing to update");
    check_fields(c, fields);
    return Result::ok();
  }
  Result remove(Collection, std::int64_t id) override {
    mutation();
    role({Who::Staff}, "remove");
    FUZZ_CHECK(id >= 1, "remove: id not positive");
    return Result::ok();
  }
  Result assign_programme(std::int64_t member_id,
                          std::optional<std::int64_t> programme_id) override {
    mutation();
    role({Who::Staff}, "assign_programme");
    FUZZ_CHECK(member_id >= 1 && (!programme_id || *programme_id >= 1),
               "assign_programme: ids not positive");
    return Result::ok();
  }
  Result member_history(std::int64_t member_id, int limit) override {
    FUZZ_CHECK(
        !in_test || caller == Who::Staff || (caller == Who::Member && member_id == kMemberId),
        "member_history: reached for a caller who may not read it");
    FUZZ_CHECK(limit >= 1 && limit <= 100, "member_history: limit outside 1-100");
    return Result::ok(json::array{});
  }
  Result member_schedule(std::int64_t member_id) override {
    FUZZ_CHECK(
        !in_test || caller == Who::Staff || (caller == Who::Member && member_id == kMemberId),
        "member_schedule: reached for a caller who may not read it");
    return Result::ok(json::object{});
  }
  Result member_progression(std::int64_t member_id, int limit) override {
    FUZZ_CHECK(
        !in_test || caller == Who::Staff || (caller == Who::Member && member_id == kMemberId),
        "member_progression: reached for a caller who may not read it");
    FUZZ_CHECK(limit >= 1 && limit <= 500, "member_progression: limit outside 1-500");
    return Result::ok(json::array{});
  }
  std::optional<MemberCredential> member_credential(const std::string& number) override {
    FUZZ_CHECK(valid_member_number(number),
               "member_credential: asked with a malformed member number");
    if (number == "1042") return MemberCredential{kMemberId, ""};
    return std::nullopt;
  }
  Result session(std::int64_t member_id, SessionAction a) override {
    if (a != SessionAction::Get) mutation();
    role({Who::Member}, "session");
    FUZZ_CHECK(member_id == kMemberId, "session: for another member");
    return Result::ok();
  }
  Result assessment(std::int64_t member_id, AssessmentAction a) override {
    if (a != AssessmentAction::Get) mutation();
    role({Who::Member}, "assessment");
    FUZZ_CHECK(member_id == kMemberId, "assessment: for another member");
    return Result::ok();
  }
  Result member_assessments(std::int64_t member_id) override {
    FUZZ_CHECK(
        !in_test || caller == Who::Staff || (caller == Who::Member && member_id == kMemberId),
        "member_assessments: reached for a caller who may not read it");
    return Result::ok(json::object{{"assessments", json::array{}}});
  }
  Result assign_assessment(std::int64_t member_id, bool) override {
    mutation();
    role({Who::Staff}, "assign_assessment");
    FUZZ_CHECK(member_id >= 1, "assign_assessment: id not positive");
    return Result::ok();
  }
  Result maintenance(MaintenanceAction a, const json::object& args) override {
    mutation();
    role({Who::Maintenance}, "maintenance");
    if (a == MaintenanceAction::Span) {
      const double n = number_of(args.at("known_n"));
      FUZZ_CHECK(n >= 1 && n <= 10000, "maintenance: span weight outside 1-10000");
    } else {
      FUZZ_CHECK(args.empty(), "maintenance: arguments for an action that takes none");
    }
    return Result::ok();
  }
  json::value diagnostics() override {
    role({Who::Maintenance}, "diagnostics");
    return json::object{{"bus", json::object{{"ok", 1}}}};
  }

 private:
  void mutation() const {
    FUZZ_CHECK(!in_test || !foreign_origin,
               "a state-changing request from a foreign Origin reached the backend");
  }
  void needs_token() const {
    FUZZ_CHECK(!in_test || (caller != Who::None && caller != Who::Other),
               "reached the backend without a valid token");
  }
  void role(std::initializer_list<Who> allowed, const char* what) const {
    if (!in_test) return;
    for (Who c : allowed)
      if (c == caller) return;
    std::fprintf(stderr, "backend call %s\n", what);
    FUZZ_CHECK(false, "a call reached the backend for a role that may not make it");
  }
};

/// The API under test, and tokens of each role. One instance for the whole
/// run (building one per input would cost a PBKDF2 login per input); the clock
/// stands still, so tokens neither expire nor idle out, and moves on only to
/// lift a lockout when the harness must log in again.
struct Harness {
  CheckingBackend backend;
  HmiConfig config;
  Clock::time_point now = Clock::time_point{} + std::chrono::hours(1000);
  std::unique_ptr<Api> api;
  std::map<Who, std::string> tokens;

  Harness() {
    log::set_level(log::Level::Error);
    // PINs 2468 and 1357, hashed beforehand (a PBKDF2 takes 0.2 s here).
    config.staff_pin_hash =
        "pbkdf2-sha256$100000$5f7a1c3e9b2d4f60a8c1e3b5d7f90214$"
        "c3bae0924bd0acf8a0024b5213e987eeaf62a3ac5f6e34a46eb99b65bf39dc0f";
    config.maintenance_pin_hash =
        "pbkdf2-sha256$100000$0e2c4a6b8d1f3e5a7c9b0d2f4e6a8c1b$"
        "f31d41fed8364953b7ff36aac6fa30f0ca8bc63d36ad7a8c9e5211e32d11a128";
    config.max_load_n = kMaxLoadN;
    config.guest_load_cap_n = kGuestCapN;
    config.validate();
    api = std::make_unique<Api>(config, backend, std::vector<std::string>{kOwnOrigin},
                                [this] { return now; });
    login_all();
  }

  static std::string login_body(Who who) {
    switch (who) {
      case Who::Staff: return R"({"role":"staff","pin":"2468"})";
      case Who::Maintenance: return R"({"role":"maintenance","pin":"1357"})";
      case Who::Member: return R"({"member":"1042"})";
      default: return R"({"role":"guest"})";
    }
  }
  void login(Who who) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const ApiResponse r = api->handle(
          ApiRequest{"POST", "/api/v1/login", login_body(who), std::nullopt, std::nullopt, ""});
      if (r.status == 200) {
        tokens[who] = std::string(json::parse(r.body).at("token").as_string());
        return;
      }
      if (r.status != 429) break;
      now += std::chrono::seconds(301);  // a request locked the account: wait the lockout out
    }
    std::fprintf(stderr, "the harness cannot log in again\n");
    std::abort();
  }
  void login_all() {
    for (Who who : {Who::Staff, Who::Maintenance, Who::Member, Who::Guest}) login(who);
  }
  /// A request may have logged a token out: log that role in again.
  void restore_tokens() {
    for (Who who : {Who::Staff, Who::Maintenance, Who::Member, Who::Guest}) {
      const ApiResponse r = api->handle(
          ApiRequest{"GET", "/api/v1/me", "", "Bearer " + tokens[who], std::nullopt, ""});
      if (r.status != 200) login(who);
    }
  }
};

/// Whether any object in `v` has a "pin_hash" key (the backend's members do).
bool has_pin_hash(const json::value& v) {
  if (const auto* o = v.if_object()) {
    if (o->contains("pin_hash")) return true;
    for (const auto& kv : *o)
      if (has_pin_hash(kv.value())) return true;
  } else if (const auto* a = v.if_array()) {
    for (const auto& e : *a)
      if (has_pin_hash(e)) return true;
  }
  return false;
}

void check_response(const ApiResponse& r, const ApiRequest& req) {
  static constexpr unsigned kKnown[] = {200, 201, 400, 401, 403, 404, 405, 409, 413, 422, 429};
  bool known = false;
  for (unsigned s : kKnown) known |= r.status == s;
  if (!known || r.status == 500)
    std::fprintf(stderr, "%s %s -> %u %s\n", req.method.c_str(), req.target.c_str(), r.status,
                 r.body.c_str());
  FUZZ_CHECK(known, "an unexpected status (500: a parser threw instead of refusing)");
  boost::system::error_code ec;
  const json::value v = json::parse(r.body, ec);
  FUZZ_CHECK(!ec && (v.is_object() || v.is_array()), "a reply body that is not JSON");
  if (r.status >= 400) {
    const json::value* ev = v.is_object() ? v.get_object().if_contains("error") : nullptr;
    const json::object* e = ev ? ev->if_object() : nullptr;
    FUZZ_CHECK(e && e->contains("message") && e->at("message").is_string() &&
                   !e->at("message").get_string().empty(),
               "an error reply without a message");
  }
  if (r.status == 405) {
    bool allow = false;
    for (const auto& [k, val] : r.headers) allow |= k == "Allow" && !val.empty();
    FUZZ_CHECK(allow, "405 without an Allow header");
  }
  FUZZ_CHECK(!has_pin_hash(v), "a PIN hash left the server");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness h;
  const std::string text(reinterpret_cast<const char*>(data), size);

  // Request line, header lines, blank line, body.
  ApiRequest req;
  std::size_t pos = text.find('\n');
  const std::string line = text.substr(0, pos);
  const std::size_t sp = line.find(' ');
  req.method = line.substr(0, sp);
  req.target = sp == std::string::npos ? "" : line.substr(sp + 1);
  caller = Who::None;
  while (pos != std::string::npos) {
    const std::size_t next = text.find('\n', pos + 1);
    const std::string header =
        text.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    pos = next;
    if (header.empty()) break;
    const std::size_t colon = header.find(": ");
    const std::string name = header.substr(0, colon);
    const std::string value = colon == std::string::npos ? "" : header.substr(colon + 2);
    if (name == "Authorization") {
      static const std::map<std::string, Who> kRoles{{"staff", Who::Staff},
                                                     {"maintenance", Who::Maintenance},
                                                     {"member", Who::Member},
                                                     {"guest", Who::Guest}};
      auto it = kRoles.find(value);
      caller = it != kRoles.end() ? it->second : Who::Other;
      req.authorization = it != kRoles.end() ? "Bearer " + h.tokens[it->second] : value;
    } else if (name == "Origin") {
      req.origin = value;
    }
  }
  if (pos != std::string::npos) req.body = text.substr(pos + 1);
  foreign_origin = req.origin && *req.origin != kOwnOrigin && req.method != "GET" &&
                   req.method != "HEAD" && req.method != "OPTIONS";
  h.backend.view.set_id = size % 2 ? std::optional<std::int64_t>(12) : std::nullopt;

  in_test = true;
  const ApiResponse r = h.api->handle(req);
  in_test = false;
  check_response(r, req);

  // The same body through the set-request validator that --run-set uses.
  RequestError err;
  if (const auto q = parse_set_request(req.body, kMaxLoadN, err)) {
    check_set_request(*q, false);
    check_params(*q);
  } else {
    FUZZ_CHECK(err.status == 400 || err.status == 422,
               "a refused set request with a status other than 400/422");
    FUZZ_CHECK(!err.message.empty(), "a refused set request without a message");
  }
  h.restore_tokens();
  return 0;
}
