#pragma once
/// Private to hmi/src/api*.cpp: what the files of the /api/v1 implementation
/// share. api.cpp routes (Api::handle, the route table, JSON replies);
/// api_fields.cpp validates fields; api_auth.cpp holds login, PINs, lockout,
/// tokens and roles; api_<resource>.cpp holds each resource's routes.
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "soleus/hmi/api.hpp"
#include "soleus/hmi/backend.hpp"
#include "soleus/hmi/config.hpp"
#include "soleus/hmi/security.hpp"

namespace soleus::hmi {
namespace json = boost::json;

namespace detail {

// ---- errors (api_fields.cpp) ----------------------------------------------------

/// Thrown inside handlers; handle() turns it into the error body.
struct ApiError {
  unsigned status;
  std::string field;
  std::string message;
  std::vector<std::pair<std::string, std::string>> headers{};
};

[[noreturn]] void fail(unsigned status, std::string field, std::string message);

/// A number as an error message writes it.
std::string num(double v);
/// "a number", "a string", ... for error messages.
const char* kind_name(const json::value& v);

// ---- field validation (api_fields.cpp) ------------------------------------------

/// Strict reader of one JSON object: typed, bounded getters that remember the
/// keys they read, and finish() that refuses any other key (like
/// config::Section). Null counts as absent for optional fields.
class Fields {
 public:
  explicit Fields(const json::object& o, std::string prefix = {})
      : o_(o), prefix_(std::move(prefix)) {}

  std::string name(std::string_view key) const { return prefix_ + std::string(key); }

  const json::value* raw(std::string_view key);
  bool present(std::string_view key) const;
  bool has_key(std::string_view key) const;

  std::optional<double> number(std::string_view key, double min, double max);
  double number(std::string_view key, double def, double min, double max);
  double required_number(std::string_view key, double min, double max);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::optional<std::string> string(std::string_view key, std::size_t min_len, std::size_t max_len);
  std::optional<std::string> choice(std::string_view key,
                                    std::initializer_list<std::string_view> allowed);
  std::optional<bool> boolean(std::string_view key);
  /// Refuses every key no getter has read: a typo is an error, never ignored.
  void finish() const;

 private:
  const json::object& o_;
  std::string prefix_;
  std::vector<std::string> used_;
};

/// The prescription shared by a set and a programme step: mode, tempo, reps or
/// hold, force drop, eccentric extra. Writes the normalised fields to `out`.
struct Prescription {
  std::string mode;
  std::string tempo;
  double tempo_s[4]{};
  std::optional<int> target_reps;
  std::optional<double> hold_s;
  double force_drop_pct = 20;
  double eccentric_pct = 0;
};

Prescription read_prescription(Fields& f);
void write_prescription(const Prescription& p, json::object& o);

/// A member number (a string, or a non-negative integer written as one).
std::string read_member_number(Fields& f, std::string_view key);

/// The request body as a JSON object (at most 16 deep); an empty body is {}
/// when `empty_is_object`, else refused.
json::object parse_body(const std::string& body, bool empty_is_object);

/// A path segment that must be a positive id.
std::int64_t parse_id(const std::string& s, const char* what);

template <class T>
json::value opt(const std::optional<T>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

// ---- replies (api.cpp) ----------------------------------------------------------

ApiResponse json_response(unsigned status, const json::value& v);
ApiResponse from_result(const Result& r);

}  // namespace detail

// ---- Api::Impl -------------------------------------------------------------------

struct Api::Impl {
  Impl(const HmiConfig& c, Backend& b, std::function<Clock::time_point()> clk)
      : config(c),
        backend(b),
        clock(std::move(clk)),
        tokens(std::chrono::milliseconds(static_cast<std::int64_t>(c.token_lifetime_s * 1000)),
               std::chrono::milliseconds(static_cast<std::int64_t>(c.member_idle_s * 1000)),
               std::chrono::milliseconds(static_cast<std::int64_t>(c.staff_idle_s * 1000))) {}

  HmiConfig config;
  Backend& backend;
  std::vector<std::string> origins;
  std::function<Clock::time_point()> clock;
  TokenStore tokens;
  Lockout lockout;
  Lockout client_lockout{Lockout::kClientMaxFailures, false};
  std::once_flag dummy_once;
  std::string dummy_hash;  ///< verified against for unknown members, so timing tells nothing

  struct Route {
    std::string method;
    std::vector<std::string> seg;  ///< path after /api/v1/
    std::map<std::string, std::string> query;
    const ApiRequest* req;
  };

  // -- routing (api.cpp) --
  ApiResponse dispatch(const Route& r);
  /// GET /metrics (also /api/v1/metrics): Prometheus text, loopback or scrape token.
  ApiResponse metrics(const Route& r);

  // -- auth (api_auth.cpp) --
  Session authenticate(const Route& r);
  static void require(const Session& s, std::initializer_list<Role> roles);
  std::int64_t expires_unix_ms(const Session& s);
  ApiResponse login(const Route& r);
  /// Who is signed in, for the login reply and /me: staff_id, name, admin.
  static void add_who(const Session& s, json::object& out);

  // -- sets (api_sets.cpp) --
  ApiResponse start_set(const Route& r, const Session& s);
  ApiResponse stop(const Route& r);
  ApiResponse get_set(const Session& s, std::int64_t id);
  ApiResponse set_trace(const Session& s, std::int64_t id);

  // -- events (api_events.cpp) --
  ApiResponse events(const Route& r);

  // -- members and programmes (api_members.cpp, api_programmes.cpp) --
  ApiResponse crud(const Route& r, Collection c, const Session& s);
  json::object read_member(const json::object& body, bool create);
  json::object read_programme(const json::object& body, bool create);

  // -- staff accounts, audit, CSV export (api_staff.cpp) --
  ApiResponse login_staff_names(const Route& r);
  ApiResponse staff_call(const Route& r, const Session& s);
  ApiResponse audit(const Route& r);
  ApiResponse member_export(const Route& r, std::int64_t member_id);
  /// 403 unless `s` is maintenance or an active admin staff account.
  void require_staff_admin(const Session& s);
  static std::string who_of(const Session& s);

  // -- maintenance (api_maintenance.cpp) and programme sessions (api_session.cpp) --
  ApiResponse maintenance(const Route& r, const Session& s);
  ApiResponse session_call(const Route& r, const Session& s);
  // -- strength assessments (api_session.cpp) --
  ApiResponse assessment_call(const Route& r, const Session& s);
};

}  // namespace soleus::hmi
