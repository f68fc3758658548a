#include "soleus/hmi/api.hpp"

#include <boost/json.hpp>

#include <string_view>

#include "api_internal.hpp"
#include "soleus/common/log.hpp"
#include "soleus/common/url.hpp"
#include "soleus/hmi/metrics.hpp"

// The API's routing: Api::handle() (target → path segments and query), the
// route table (method, Origin, token and role of each path), and the JSON
// replies. The handlers are in api_<resource>.cpp, validation in
// api_fields.cpp, login and roles in api_auth.cpp.

namespace soleus::hmi {
using namespace detail;

// ---- Result helpers (declared in backend.hpp) -------------------------------

Result Result::ok(json::value body) {
  Result r;
  r.body = std::move(body);
  return r;
}
Result Result::created(std::int64_t id) {
  Result r;
  r.outcome = Outcome::Created;
  r.id = id;
  return r;
}
Result Result::not_found(std::string message) {
  Result r;
  r.outcome = Outcome::NotFound;
  r.message = std::move(message);
  return r;
}
Result Result::conflict(std::string message, std::string field) {
  Result r;
  r.outcome = Outcome::Conflict;
  r.message = std::move(message);
  r.field = std::move(field);
  return r;
}
Result Result::invalid(std::string field, std::string message) {
  Result r;
  r.outcome = Outcome::Invalid;
  r.field = std::move(field);
  r.message = std::move(message);
  return r;
}

ApiResponse error_response(unsigned status, const std::string& field, const std::string& message) {
  json::object e;
  e["field"] = field.empty() ? json::value(nullptr) : json::value(field);
  e["message"] = message;
  ApiResponse r;
  r.status = status;
  r.body = write_json(json::object{{"error", std::move(e)}});
  return r;
}

namespace detail {

ApiResponse json_response(unsigned status, const json::value& v) {
  ApiResponse r;
  r.status = status;
  r.body = write_json(v);
  return r;
}

ApiResponse from_result(const Result& r) {
  switch (r.outcome) {
    case Outcome::Ok:
      return json_response(200,
                           r.body.is_null() ? json::value(json::object{{"ok", true}}) : r.body);
    case Outcome::Created: return json_response(201, json::object{{"id", r.id}});
    case Outcome::NotFound: return error_response(404, r.field, r.message);
    case Outcome::Conflict: return error_response(409, r.field, r.message);
    case Outcome::Invalid: return error_response(422, r.field, r.message);
  }
  return error_response(500, "", "bad backend outcome");
}

}  // namespace detail

namespace {

/// A URL part percent-decoded; a malformed escape is the client's error.
std::string url_decode(std::string_view s, bool plus_is_space) {
  auto decoded = common::percent_decode(s, plus_is_space);
  if (!decoded) fail(400, "", "malformed percent-encoding in the URL");
  return std::move(*decoded);
}

bool is_state_changing(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

}  // namespace

// ---- Api ---------------------------------------------------------------------

Api::Api(const HmiConfig& config, Backend& backend, std::vector<std::string> allowed_origins,
         std::function<Clock::time_point()> clock)
    : impl_(std::make_unique<Impl>(
          config, backend, clock ? std::move(clock) : [] { return Clock::now(); })),
      allowed_origins_(std::move(allowed_origins)) {
  impl_->origins = allowed_origins_;
}

Api::~Api() = default;

bool Api::origin_allowed(const std::optional<std::string>& origin) const {
  if (!origin) return true;
  for (const auto& o : allowed_origins_)
    if (*origin == o) return true;
  return false;
}

bool Api::is_immediate(const ApiRequest& r) {
  const std::string path = r.target.substr(0, r.target.find('?'));
  return path == "/api/v1/sets/current/stop" || path == "/api/v1/status";
}

ApiResponse Api::handle(const ApiRequest& req) {
  CallerScope caller;  // authenticate() names the caller; cleared when the request ends
  try {
    Impl::Route r;
    r.method = req.method;
    r.req = &req;
    const auto q = req.target.find('?');
    std::string path = req.target.substr(0, q);
    if (q != std::string::npos) {
      std::string_view qs(req.target);
      qs.remove_prefix(q + 1);
      while (!qs.empty()) {
        const auto amp = qs.find('&');
        std::string_view kv = qs.substr(0, amp);
        qs.remove_prefix(amp == std::string_view::npos ? qs.size() : amp + 1);
        if (kv.empty()) continue;
        const auto eq = kv.find('=');
        std::string k = url_decode(kv.substr(0, eq), true);
        std::string v = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1), true);
        if (r.query.count(k)) fail(400, k, "given twice");
        r.query[k] = v;
      }
    }
    // GET /metrics, where Prometheus looks by default, and under the API's prefix.
    if (path == "/metrics" || path == "/api/v1/metrics") return impl_->metrics(r);
    constexpr std::string_view kPrefix = "/api/v1/";
    if (path.compare(0, kPrefix.size(), kPrefix) != 0) fail(404, "", "no such endpoint: " + path);
    path = url_decode(std::string_view(path).substr(kPrefix.size()), false);
    if (!path.empty() && path.back() == '/') path.pop_back();
    std::size_t pos = 0;
    while (pos <= path.size()) {
      const auto slash = path.find('/', pos);
      r.seg.push_back(
          path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
      if (slash == std::string::npos) break;
      pos = slash + 1;
    }
    return impl_->dispatch(r);
  } catch (const ApiError& e) {
    ApiResponse resp = error_response(e.status, e.field, e.message);
    resp.headers = e.headers;
    return resp;
  } catch (const std::exception& e) {
    log::error("hmi: ", req.method, " ", req.target, ": ", e.what());
    return error_response(500, "", std::string("internal error: ") + e.what());
  }
}

// Route table. Each entry: the methods a path takes, then origin, token, role.
ApiResponse Api::Impl::dispatch(const Route& r) {
  const auto& s = r.seg;
  const std::size_t n = s.size();
  auto methods = [&](std::initializer_list<std::string_view> allowed) {
    for (auto m : allowed)
      if (r.method == m) {
        // Origin: a browser page from elsewhere may not change anything.
        if (is_state_changing(r.method)) {
          if (r.req->origin) {
            bool ok = false;
            for (const auto& o : origins)
              if (*r.req->origin == o) ok = true;
            if (!ok) fail(403, "", "requests from origin " + *r.req->origin + " are not allowed");
          }
        }
        return;
      }
    std::string allow;
    for (auto m : allowed) allow += (allow.empty() ? "" : ", ") + std::string(m);
    ApiError e{405, "", r.method + " is not allowed here; use " + allow};
    e.headers.emplace_back("Allow", allow);
    throw e;
  };

  if (n == 1 && s[0] == "status") {
    methods({"GET"});
    return json_response(200, to_json(backend.status()));
  }
  if (n == 1 && s[0] == "login") {
    methods({"POST"});
    return login(r);
  }
  if (n == 2 && s[0] == "login" && s[1] == "staff") {  // the sign-in tiles: no token
    methods({"GET"});
    return login_staff_names(r);
  }
  if (n == 1 && s[0] == "logout") {
    methods({"POST"});
    authenticate(r);
    tokens.revoke(r.req->authorization->substr(7));
    return json_response(200, json::object{{"ok", true}});
  }
  if (n == 1 && s[0] == "me") {
    methods({"GET"});
    const Session se = authenticate(r);
    json::object out{{"role", to_string(se.role)},
                     {"member_id", opt(se.member_id)},
                     {"expires_at", expires_unix_ms(se)}};
    add_who(se, out);
    return json_response(200, out);
  }
  if (n >= 1 && s[0] == "staff") {
    if (n == 1) methods({"GET", "POST"});
    else if (n == 2) methods({"PUT"});  // accounts are deactivated, never deleted
    else fail(404, "", "no such endpoint");
    const Session se = authenticate(r);
    return staff_call(r, se);
  }
  if (n == 1 && s[0] == "audit") {
    methods({"GET"});
    const Session se = authenticate(r);
    require(se, {Role::Staff, Role::Maintenance});
    return audit(r);
  }
  if (n == 3 && s[0] == "members" && s[2] == "export.csv") {
    methods({"GET"});
    const std::int64_t id = parse_id(s[1], "id");
    const Session se = authenticate(r);
    require(se, {Role::Staff});
    return member_export(r, id);
  }
  if (n == 1 && s[0] == "sets") {
    methods({"POST"});
    const Session se = authenticate(r);
    return start_set(r, se);
  }
  if (n == 3 && s[0] == "sets" && s[1] == "current" && s[2] == "stop") {
    methods({"POST"});
    return stop(r);
  }
  if (n == 3 && s[0] == "sets" && s[2] == "trace") {
    methods({"GET"});
    const std::int64_t id = parse_id(s[1], "id");
    const Session se = authenticate(r);
    return set_trace(se, id);
  }
  if (n == 2 && s[0] == "sets") {
    methods({"GET"});
    const std::int64_t id = parse_id(s[1], "id");
    const Session se = authenticate(r);
    return get_set(se, id);
  }
  if (n == 1 && s[0] == "events") {
    methods({"GET"});
    const Session se = authenticate(r);
    require(se, {Role::Staff, Role::Maintenance});
    return events(r);
  }
  if (n >= 1 && (s[0] == "members" || s[0] == "programmes")) {
    const Collection c = s[0] == "members" ? Collection::Members : Collection::Programmes;
    if (n == 1) methods({"GET", "POST"});
    else if (n == 2) methods({"GET", "PUT", "DELETE"});
    else if (c == Collection::Members && n == 3 && s[2] == "programme") methods({"PUT"});
    else if (c == Collection::Members && n == 3 &&
             (s[2] == "history" || s[2] == "schedule" || s[2] == "progression"))
      methods({"GET"});
    else if (c == Collection::Members && n == 3 && s[2] == "events") methods({"GET"});
    else if (c == Collection::Members && n == 3 && s[2] == "assessments") methods({"GET"});
    else if (c == Collection::Members && n == 3 && s[2] == "assessment") methods({"PUT"});
    else fail(404, "", "no such endpoint: /api/v1/" + s[0] + "/…");
    const Session se = authenticate(r);
    return crud(r, c, se);
  }
  if (n >= 1 && s[0] == "session") {
    if (n == 1) methods({"GET"});
    else if (n == 2 && (s[1] == "start" || s[1] == "next" || s[1] == "end")) methods({"POST"});
    else fail(404, "", "no such endpoint");
    const Session se = authenticate(r);
    require(se, {Role::Member});
    return session_call(r, se);
  }
  if (n >= 1 && s[0] == "assessment") {
    if (n == 1) methods({"GET"});
    else if (n == 2 && (s[1] == "start" || s[1] == "next" || s[1] == "retry" || s[1] == "end"))
      methods({"POST"});
    else fail(404, "", "no such endpoint");
    const Session se = authenticate(r);
    require(se, {Role::Member});
    return assessment_call(r, se);
  }
  if (n == 1 && s[0] == "diagnostics") {  // alias of maintenance/diagnostics
    methods({"GET"});
    require(authenticate(r), {Role::Maintenance});
    return json_response(200, backend.diagnostics());
  }
  if (n == 2 && s[0] == "maintenance") {
    if (s[1] == "diagnostics") methods({"GET"});
    else if (s[1] == "tare" || s[1] == "span" || s[1] == "range-check" || s[1] == "fault-reset")
      methods({"POST"});
    else fail(404, "", "no such maintenance action: " + s[1]);
    const Session se = authenticate(r);
    require(se, {Role::Maintenance});
    return maintenance(r, se);
  }
  fail(404, "", "no such endpoint");
}

// GET /metrics: read-only, never a login token (they idle out); the peer's
// address or the scrape token decides (metrics_access, docs/api.md).
ApiResponse Api::Impl::metrics(const Route& r) {
  if (r.method != "GET") {
    ApiError e{405, "", r.method + " is not allowed here; use GET"};
    e.headers.emplace_back("Allow", "GET");
    throw e;
  }
  switch (metrics_access(r.req->client, r.req->authorization, config.metrics_token)) {
    case MetricsAccess::Allowed: break;
    case MetricsAccess::NoToken:
      fail(403, "",
           "metrics are served to this machine only (loopback); set [hmi] metrics_token "
           "to let a Prometheus server elsewhere scrape them");
    case MetricsAccess::BadToken: {
      ApiError e{401, "authorization",
                 "metrics need Authorization: Bearer <the scrape token of [hmi] metrics_token>"};
      e.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"soleus metrics\"");
      throw e;
    }
  }
  ApiResponse out;
  out.body = render_metrics(backend.metrics());
  out.content_type = kMetricsContentType;
  return out;
}

}  // namespace soleus::hmi
