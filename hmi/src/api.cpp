#include "soleus/hmi/api.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <sstream>

#include "soleus/common/log.hpp"
#include "soleus/common/time.hpp"
#include "soleus/common/url.hpp"

namespace soleus::hmi {
namespace json = boost::json;

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

namespace {
/// `s` as well-formed UTF-8: each invalid byte becomes U+FFFD. Error
/// messages quote what the client sent (method, path, query keys), and a
/// JSON reply must be UTF-8 (RFC 8259) even when the request was not.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b < 0x80) n = 1;
    else if (b >= 0xC2 && b <= 0xDF) n = 2;
    else if (b >= 0xE0 && b <= 0xEF) n = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b <= 0xF4) n = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
    bool ok = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    }
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

void write_json_to(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; return;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case json::kind::int64: out += std::to_string(v.get_int64()); return;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); return;
    case json::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip
      out.append(buf, r.ptr);
      return;
    }
    case json::kind::string: out += json::serialize(json::string_view(valid_utf8(v.get_string()))); return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_json_to(e, out);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string_view(valid_utf8(kv.key())));
        out += ':';
        write_json_to(kv.value(), out);
      }
      out += '}';
      return;
    }
  }
}
}  // namespace

std::string write_json(const json::value& v) {
  std::string out;
  out.reserve(256);
  write_json_to(v, out);
  return out;
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

namespace {

/// Thrown inside handlers; handle() turns it into the error body.
struct ApiError {
  unsigned status;
  std::string field;
  std::string message;
  std::vector<std::pair<std::string, std::string>> headers{};
};

[[noreturn]] void fail(unsigned status, std::string field, std::string message) {
  throw ApiError{status, std::move(field), std::move(message)};
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

/// A URL part percent-decoded; a malformed escape is the client's error.
std::string url_decode(std::string_view s, bool plus_is_space) {
  auto decoded = common::percent_decode(s, plus_is_space);
  if (!decoded) fail(400, "", "malformed percent-encoding in the URL");
  return std::move(*decoded);
}

const char* kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "?";
}

/// Strict reader of one JSON object: typed, bounded getters that remember the
/// keys they read, and finish() that refuses any other key (like
/// config::Section). Null counts as absent for optional fields.
class Fields {
 public:
  explicit Fields(const json::object& o, std::string prefix = {})
      : o_(o), prefix_(std::move(prefix)) {}

  std::string name(std::string_view key) const { return prefix_ + std::string(key); }

  const json::value* raw(std::string_view key) {
    used_.emplace_back(key);
    auto it = o_.find(key);
    return it == o_.end() ? nullptr : &it->value();
  }
  bool present(std::string_view key) const {
    auto it = o_.find(key);
    return it != o_.end() && !it->value().is_null();
  }
  bool has_key(std::string_view key) const { return o_.find(key) != o_.end(); }

  std::optional<double> number(std::string_view key, double min, double max) {
    const json::value* v = raw(key);
    if (!v || v->is_null()) return std::nullopt;
    double d;
    if (v->is_double()) d = v->get_double();
    else if (v->is_int64()) d = static_cast<double>(v->get_int64());
    else if (v->is_uint64()) d = static_cast<double>(v->get_uint64());
    else fail(400, name(key), std::string("must be a number, not ") + kind_name(*v));
    if (!std::isfinite(d) || d < min || d > max)
      fail(422, name(key), num(d) + " is out of range [" + num(min) + ", " + num(max) + "]");
    return d;
  }
  double number(std::string_view key, double def, double min, double max) {
    return number(key, min, max).value_or(def);
  }
  double required_number(std::string_view key, double min, double max) {
    auto d = number(key, min, max);
    if (!d) fail(422, name(key), "is required");
    return *d;
  }
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max) {
    const json::value* v = raw(key);
    if (!v || v->is_null()) return std::nullopt;
    std::int64_t i;
    if (v->is_int64()) i = v->get_int64();
    else if (v->is_uint64())
      i = v->get_uint64() > 9e15 ? std::int64_t(9e15) : static_cast<std::int64_t>(v->get_uint64());
    else if (v->is_double()) {
      const double d = v->get_double();
      if (d != std::floor(d) || std::fabs(d) > 9e15)
        fail(422, name(key), num(d) + " is not a whole number");
      i = static_cast<std::int64_t>(d);
    } else {
      fail(400, name(key), std::string("must be an integer, not ") + kind_name(*v));
    }
    if (i < min || i > max)
      fail(422, name(key),
           std::to_string(i) + " is out of range [" + std::to_string(min) + ", " +
               std::to_string(max) + "]");
    return i;
  }
  std::optional<std::string> string(std::string_view key, std::size_t min_len,
                                    std::size_t max_len) {
    const json::value* v = raw(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string())
      fail(400, name(key), std::string("must be a string, not ") + kind_name(*v));
    std::string s(v->get_string());
    if (s.size() < min_len || s.size() > max_len)
      fail(422, name(key),
           "must be " + std::to_string(min_len) + " to " + std::to_string(max_len) +
               " characters long");
    for (unsigned char c : s)
      if (c < 0x20 || c == 0x7F) fail(422, name(key), "must not contain control characters");
    return s;
  }
  std::optional<std::string> choice(std::string_view key,
                                    std::initializer_list<std::string_view> allowed) {
    auto s = string(key, 0, 64);
    if (!s) return std::nullopt;
    for (auto a : allowed)
      if (*s == a) return s;
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    fail(422, name(key), "\"" + *s + "\" is not one of " + list);
  }
  std::optional<bool> boolean(std::string_view key) {
    const json::value* v = raw(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_bool()) fail(400, name(key), std::string("must be true or false, not ") + kind_name(*v));
    return v->get_bool();
  }
  /// Refuses every key no getter has read: a typo is an error, never ignored.
  void finish() const {
    for (const auto& kv : o_) {
      bool used = false;
      for (const auto& u : used_)
        if (u == kv.key()) used = true;
      if (!used) fail(400, name(kv.key()), "unknown field");
    }
  }

 private:
  const json::object& o_;
  std::string prefix_;
  std::vector<std::string> used_;
};

/// Parses "E-B-C-T": four non-negative decimal numbers of seconds, each ≤ 60.
bool parse_tempo(const std::string& s, double out[4]) {
  std::size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    std::size_t end = s.find('-', pos);
    if (i < 3 && end == std::string::npos) return false;
    if (i == 3) {
      if (end != std::string::npos) return false;
      end = s.size();
    }
    const std::string part = s.substr(pos, end - pos);
    if (part.empty() || part.size() > 8) return false;
    int dots = 0;
    for (char c : part) {
      if (c == '.') ++dots;
      else if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    if (dots > 1 || part.front() == '.' || part.back() == '.') return false;
    out[i] = std::stod(part);
    if (out[i] > 60) return false;
    pos = end + 1;
  }
  return true;
}

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

Prescription read_prescription(Fields& f) {
  Prescription p;
  auto mode = f.choice("mode", {"isotonic", "eccentric", "isometric"});
  if (!mode) fail(422, f.name("mode"), "is required: isotonic, eccentric or isometric");
  p.mode = *mode;
  const bool iso = p.mode == "isometric";

  auto tempo = f.string("tempo", 0, 64);
  if (tempo) {
    if (!parse_tempo(*tempo, p.tempo_s))
      fail(422, f.name("tempo"),
           "\"" + *tempo +
               "\" is not E-B-C-T: four non-negative numbers of seconds (each at most 60), "
               "e.g. \"3-1-3-1\" or \"2.5-0-2-1\"");
    p.tempo = *tempo;
  } else if (iso) {
    p.tempo = "0-0-0-0";
  } else {
    fail(422, f.name("tempo"), "is required for " + p.mode + " sets, e.g. \"3-1-3-1\"");
  }

  const bool has_reps = f.present("target_reps");
  const bool has_hold = f.present("hold_s");
  if (has_reps && has_hold)
    fail(422, f.name("hold_s"), "give exactly one of target_reps and hold_s");
  if (iso) {
    if (has_reps) fail(422, f.name("target_reps"), "an isometric set takes hold_s, not target_reps");
    p.hold_s = f.number("hold_s", 1, 300);
    if (!p.hold_s) fail(422, f.name("hold_s"), "is required for an isometric set (1–300 s)");
    f.raw("target_reps");
  } else {
    if (has_hold) fail(422, f.name("hold_s"), "only an isometric set takes hold_s");
    auto reps = f.integer("target_reps", 1, 100);
    if (!reps) fail(422, f.name("target_reps"), "is required (1–100)");
    p.target_reps = static_cast<int>(*reps);
    f.raw("hold_s");
  }
  p.force_drop_pct = f.number("force_drop_pct", 20, 5, 50);
  p.eccentric_pct = f.number("eccentric_pct", 0, 0, 100);
  if (p.eccentric_pct > 0 && p.mode != "eccentric")
    fail(422, f.name("eccentric_pct"), "only an eccentric set takes an eccentric extra load");
  return p;
}

void write_prescription(const Prescription& p, json::object& o) {
  o["mode"] = p.mode;
  o["tempo"] = p.tempo;
  if (p.target_reps) o["target_reps"] = *p.target_reps;
  if (p.hold_s) o["hold_s"] = *p.hold_s;
  o["force_drop_pct"] = p.force_drop_pct;
  o["eccentric_pct"] = p.eccentric_pct;
}

json::object fault_json(const FaultView& f) {
  return {{"code", f.code}, {"message", f.message}, {"since", f.since_ms}};
}

json::array faults_json(const std::vector<FaultView>& v) {
  json::array a;
  for (const auto& f : v) a.push_back(fault_json(f));
  return a;
}

template <class T>
json::value opt(const std::optional<T>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::value status_json(const StatusView& s) {
  return json::object{
      {"state", s.state},
      {"position_mm", s.position_mm},
      {"force_n", s.force_n},
      {"load_n", s.load_n},
      {"set_id", opt(s.set_id)},
      {"faults", faults_json(s.faults)},
      {"loop", json::object{{"hz", s.loop.hz}, {"p99_ms", s.loop.p99_ms}, {"overruns", s.loop.overruns}}},
  };
}

json::value set_json(const SetView& s) {
  json::array log;
  for (const auto& r : s.rep_log) {
    log.push_back(json::object{
        {"n", r.n},
        {"peak_force_n", r.peak_force_n},
        {"mean_force_n", r.mean_force_n},
        {"concentric_s", r.concentric_s},
        {"top_pause_s", r.top_pause_s},
        {"eccentric_s", r.eccentric_s},
        {"bottom_pause_s", r.bottom_pause_s},
        {"rom_mm", r.rom_mm},
        {"rom_pct", r.rom_pct},
        {"mean_velocity_mm_s", r.mean_velocity_mm_s},
        {"smoothness", r.smoothness},
        {"on_tempo", r.on_tempo},
        {"tempo_deviation_s", r.tempo_deviation_s},
    });
  }
  return json::object{
      {"id", s.id},
      {"state", s.state},
      {"mode", s.mode},
      {"load_n", s.load_n},
      {"tempo", s.tempo},
      {"reps", s.reps},
      {"partial_reps", s.partial_reps},
      {"tut_s", s.tut_s},
      {"stop_reason", opt(s.stop_reason)},
      {"rep_log", std::move(log)},
      {"member_id", opt(s.member_id)},
      {"target_reps", opt(s.target_reps)},
      {"hold_s", opt(s.hold_s)},
      {"started_ms", opt(s.started_ms)},
  };
}

ApiResponse json_response(unsigned status, const json::value& v) {
  ApiResponse r;
  r.status = status;
  r.body = write_json(v);
  return r;
}

ApiResponse from_result(const Result& r) {
  switch (r.outcome) {
    case Outcome::Ok:
      return json_response(200, r.body.is_null() ? json::value(json::object{{"ok", true}}) : r.body);
    case Outcome::Created: return json_response(201, json::object{{"id", r.id}});
    case Outcome::NotFound: return error_response(404, r.field, r.message);
    case Outcome::Conflict: return error_response(409, r.field, r.message);
    case Outcome::Invalid: return error_response(422, r.field, r.message);
  }
  return error_response(500, "", "bad backend outcome");
}

json::object parse_body(const std::string& body, bool empty_is_object) {
  if (body.empty()) {
    if (empty_is_object) return {};
    fail(400, "", "a JSON object body is required");
  }
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 16;
  json::value v = json::parse(body, ec, {}, opt);
  if (ec) fail(400, "", "malformed JSON: " + ec.message());
  if (!v.is_object()) fail(400, "", std::string("the body must be a JSON object, not ") + kind_name(v));
  return std::move(v.as_object());
}

/// A path segment that must be a positive id.
std::int64_t parse_id(const std::string& s, const char* what) {
  if (s.empty() || s.size() > 15) fail(400, what, "\"" + s + "\" is not an id");
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') fail(400, what, "\"" + s + "\" is not an id");
    v = v * 10 + (c - '0');
  }
  if (v <= 0) fail(400, what, "ids are positive");
  return v;
}

bool is_state_changing(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

}  // namespace

// ---- Api ---------------------------------------------------------------------

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

  // -- auth --
  Session authenticate(const Route& r) {
    if (!r.req->authorization)
      fail(401, "", "log in first: send Authorization: Bearer <token> from POST /api/v1/login");
    const std::string& h = *r.req->authorization;
    constexpr std::string_view kBearer = "Bearer ";
    if (h.size() <= kBearer.size() || h.compare(0, kBearer.size(), kBearer) != 0)
      fail(401, "", "the Authorization header must be \"Bearer <token>\"");
    const std::string token = h.substr(kBearer.size());
    Session s;
    const auto busy = [this] { return backend.status().set_id.has_value(); };
    switch (tokens.check(token, clock(), busy, s)) {
      case TokenStore::Check::Ok: return s;
      case TokenStore::Check::Unknown: fail(401, "", "unknown token: log in again");
      case TokenStore::Check::Expired: fail(401, "", "the token has expired: log in again");
      case TokenStore::Check::Idle: fail(401, "", "logged out after being idle: log in again");
    }
    fail(401, "", "unknown token");
  }

  static void require(const Session& s, std::initializer_list<Role> roles) {
    for (Role r : roles)
      if (s.role == r) return;
    std::string list;
    for (Role r : roles) list += (list.empty() ? "" : " or ") + std::string(to_string(r));
    fail(403, "", std::string("this needs the ") + list + " role; you are " + to_string(s.role));
  }

  std::int64_t expires_unix_ms(const Session& s) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(s.expires - clock());
    return common::unix_ms_now() + left.count();
  }

  // -- handlers --
  ApiResponse dispatch(const Route& r);
  ApiResponse login(const Route& r);
  ApiResponse start_set(const Route& r, const Session& s);
  ApiResponse stop(const Route& r);
  ApiResponse get_set(const Session& s, std::int64_t id);
  ApiResponse events(const Route& r);
  ApiResponse crud(const Route& r, Collection c, const Session& s);
  json::object read_member(const json::object& body, bool create);
  json::object read_programme(const json::object& body, bool create);
  ApiResponse maintenance(const Route& r, const Session& s);
  ApiResponse session_call(const Route& r, const Session& s);
};

Api::Api(const HmiConfig& config, Backend& backend, std::vector<std::string> allowed_origins,
         std::function<Clock::time_point()> clock)
    : impl_(std::make_unique<Impl>(config, backend,
                                   clock ? std::move(clock) : [] { return Clock::now(); })),
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
    constexpr std::string_view kPrefix = "/api/v1/";
    if (path.compare(0, kPrefix.size(), kPrefix) != 0) fail(404, "", "no such endpoint: " + path);
    path = url_decode(std::string_view(path).substr(kPrefix.size()), false);
    if (!path.empty() && path.back() == '/') path.pop_back();
    std::size_t pos = 0;
    while (pos <= path.size()) {
      const auto slash = path.find('/', pos);
      r.seg.push_back(path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
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
    return json_response(200, status_json(backend.status()));
  }
  if (n == 1 && s[0] == "login") {
    methods({"POST"});
    return login(r);
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
    return json_response(200, json::object{{"role", to_string(se.role)},
                                           {"member_id", opt(se.member_id)},
                                           {"expires_at", expires_unix_ms(se)}});
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
    else if (c == Collection::Members && n == 3 && s[2] == "history") methods({"GET"});
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

// ---- login -------------------------------------------------------------------

namespace {

/// Admits one PIN attempt on `account`, checks it, and counts a failure.
void check_pin(Lockout& lockout, Lockout& client_lockout, const std::string& client,
               const std::function<Clock::time_point()>& clock, const std::string& account,
               const std::string& hash, const std::string& pin, const char* wrong_message) {
  auto locked = [](int retry, const char* what) {
    ApiError e{429, "pin", std::string("too many wrong PINs: ") + what + "; try again in " + std::to_string(retry) + " s"};
    e.headers.emplace_back("Retry-After", std::to_string(retry));
    throw e;
  };
  // Per client address first (one client guessing one PIN across many
  // member numbers), then per account.
  const std::string ckey = "client:" + client;
  if (!client.empty())
    if (auto retry = client_lockout.admit(ckey, clock())) locked(*retry, "logins from this device are locked");
  if (auto retry = lockout.admit(account, clock())) {
    if (!client.empty()) client_lockout.cancel(ckey);  // not attempted: not counted
    locked(*retry, "this account is locked");
  }
  const bool ok = verify_pin(pin, hash);
  lockout.finish(account, ok, clock());
  if (!client.empty()) client_lockout.finish(ckey, ok, clock());
  if (!ok) fail(401, "pin", wrong_message);
}

bool valid_member_number(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

std::string read_member_number(Fields& f, std::string_view key) {
  const json::value* v = f.raw(key);
  std::string s;
  if (v->is_string()) s = std::string(v->get_string());
  else if (v->is_int64() && v->get_int64() >= 0) s = std::to_string(v->get_int64());
  else if (v->is_uint64()) s = std::to_string(v->get_uint64());
  else fail(400, f.name(key), std::string("must be a member number, not ") + kind_name(*v));
  if (!valid_member_number(s))
    fail(422, f.name(key), "a member number is 1 to 32 letters, digits, '-' or '_'");
  return s;
}

}  // namespace

ApiResponse Api::Impl::login(const Route& r) {
  const json::object body = parse_body(r.req->body, false);
  Fields f(body);
  auto role = f.choice("role", {"guest", "member", "staff", "maintenance"});
  std::optional<std::string> member;
  if (f.present("member")) member = read_member_number(f, "member");
  else f.raw("member");
  auto pin = f.string("pin", 0, 32);
  f.finish();

  Role granted;
  std::optional<std::int64_t> member_id;
  if (member) {
    if (role && *role != "member") fail(422, "role", "give either role or member, not both");
    auto cred = backend.member_credential(*member);
    const std::string account = "member:" + *member;
    if (!cred) {
      if (pin && is_valid_pin(*pin)) {
        // Same work and the same counting as for a real member: the reply's
        // timing does not tell which numbers exist.
        std::call_once(dummy_once, [this] { dummy_hash = make_pin_hash("0000", kPinHashIterations); });
        check_pin(lockout, client_lockout, r.req->client, clock, account, dummy_hash, *pin + "x", "unknown member or wrong PIN");
      }
      fail(401, "member", "unknown member or wrong PIN");
    }
    if (!cred->pin_hash.empty()) {
      if (!pin || pin->empty()) fail(401, "pin", "this member needs a PIN");
      if (!is_valid_pin(*pin)) fail(422, "pin", "a PIN is 4 to 12 digits");
      check_pin(lockout, client_lockout, r.req->client, clock, account, cred->pin_hash, *pin, "unknown member or wrong PIN");
    }
    granted = Role::Member;
    member_id = cred->id;
  } else {
    if (!role) fail(422, "role", "give role (guest, staff or maintenance) or member");
    if (*role == "member") fail(422, "member", "is required to log in as a member");
    if (*role == "guest") {
      if (pin) fail(422, "pin", "a guest has no PIN");
      granted = Role::Guest;
    } else {
      const bool staff = *role == "staff";
      const std::string& hash = staff ? config.staff_pin_hash : config.maintenance_pin_hash;
      if (hash.empty())
        fail(403, "role", *role + " login is disabled: set " + *role + "_pin_hash in [hmi]");
      if (!pin) fail(422, "pin", "is required");
      if (!is_valid_pin(*pin)) fail(422, "pin", "a PIN is 4 to 12 digits");
      check_pin(lockout, client_lockout, r.req->client, clock, *role, hash, *pin, "wrong PIN");
      granted = staff ? Role::Staff : Role::Maintenance;
    }
  }
  auto [token, session] = tokens.issue(granted, member_id, clock());
  json::object out{{"token", token},
                   {"expires_at", expires_unix_ms(session)},
                   {"role", to_string(granted)},
                   {"member_id", opt(member_id)}};
  out["idle_logout_s"] = granted == Role::Member || granted == Role::Guest ? config.member_idle_s : config.staff_idle_s;
  if (granted == Role::Guest) out["load_cap_n"] = config.guest_load_cap_n;
  log::info("hmi: login as ", to_string(granted),
            member ? std::string(" (member ") + *member + ")" : std::string());
  return json_response(200, out);
}

// ---- sets --------------------------------------------------------------------

namespace {
/// The body of POST /sets, validated (throws ApiError); roles are the caller's business.
SetRequest read_set_request(const std::string& text, double max_load_n) {
  const json::object body = parse_body(text, false);
  Fields f(body);
  const Prescription p = read_prescription(f);
  SetRequest q;
  q.load_n = f.required_number("load_n", 1, max_load_n);
  q.member_id = f.integer("member_id", 1, 999999999999999);
  f.finish();
  q.mode = p.mode;
  q.tempo = p.tempo;
  q.eccentric_s = p.tempo_s[0];
  q.bottom_s = p.tempo_s[1];
  q.concentric_s = p.tempo_s[2];
  q.top_s = p.tempo_s[3];
  q.target_reps = p.target_reps;
  q.hold_s = p.hold_s;
  q.force_drop_pct = p.force_drop_pct;
  q.eccentric_pct = p.eccentric_pct;
  return q;
}
}  // namespace

std::optional<SetRequest> parse_set_request(const std::string& body, double max_load_n,
                                            RequestError& error) {
  try {
    return read_set_request(body, max_load_n);
  } catch (const ApiError& e) {
    error = {e.status, e.field, e.message};
    return std::nullopt;
  }
}

ApiResponse Api::Impl::start_set(const Route& r, const Session& s) {
  SetRequest q = read_set_request(r.req->body, config.max_load_n);
  const double load = q.load_n;
  auto member_id = q.member_id;

  switch (s.role) {
    case Role::Guest:
      if (member_id) fail(403, "member_id", "a guest cannot start a set for a member");
      if (load > config.guest_load_cap_n)
        fail(422, "load_n",
             num(load) + " N is above the guest load cap of " + num(config.guest_load_cap_n) +
                 " N; log in as a member for more");
      break;
    case Role::Member:
      if (member_id && member_id != s.member_id)
        fail(403, "member_id", "a member can start sets only for themself");
      member_id = s.member_id;
      break;
    case Role::Staff:
    case Role::Maintenance: break;
  }
  q.member_id = member_id;
  q.role = to_string(s.role);
  return from_result(backend.start_set(q));
}

ApiResponse Api::Impl::stop(const Route& r) {
  // A STOP is never refused for its body: with a malformed one the set is
  // still stopped (as user_stop), and the reply names the problem.
  std::optional<ApiError> problem;
  StopCause cause = StopCause::UserStop;
  try {
    const json::object body = parse_body(r.req->body, true);
    Fields f(body);
    auto reason = f.choice("reason", {"user_stop", "pain"});
    f.finish();
    if (reason == "pain") cause = StopCause::Pain;
  } catch (const ApiError& e) {
    problem = e;
  }
  const bool stopped = backend.stop_current(cause);
  if (stopped) log::notice("hmi: stop requested (", cause == StopCause::Pain ? "pain" : "user_stop", ")");
  if (problem) throw *problem;
  return json_response(200, json::object{{"stopped", stopped}});
}

ApiResponse Api::Impl::get_set(const Session& s, std::int64_t id) {
  auto v = backend.get_set(id);
  if (!v) fail(404, "id", "no set " + std::to_string(id));
  // A member reads their own sets and anonymous (guest) ones.
  if (s.role == Role::Member && v->member_id && v->member_id != s.member_id)
    fail(403, "id", "this set belongs to someone else");
  if (s.role == Role::Guest && v->member_id)
    fail(403, "id", "this set belongs to a member");
  return json_response(200, set_json(*v));
}

// ---- events ------------------------------------------------------------------

ApiResponse Api::Impl::events(const Route& r) {
  EventQuery q;
  for (const auto& [k, v] : r.query) {
    auto digits = [&](std::size_t max_len) {
      if (v.empty() || v.size() > max_len) return false;
      for (char c : v)
        if (c < '0' || c > '9') return false;
      return true;
    };
    if (k == "since") {
      if (digits(15)) q.since_ms = std::stoll(v);
      else if (auto t = common::parse_iso_utc(v)) q.since_ms = *t;
      else fail(422, "since", "\"" + v + "\" is neither Unix ms nor a UTC time like 2025-11-23T18:05:00Z");
    } else if (k == "severity") {
      if (v != "info" && v != "warning" && v != "error")
        fail(422, "severity", "\"" + v + "\" is not one of info, warning, error");
      q.severity = v;
    } else if (k == "code") {
      bool ok = !v.empty() && v.size() <= 64;
      for (char c : v)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') ok = false;
      if (!ok) fail(422, "code", "an event code is 1 to 64 letters, digits, '_', '-' or '.'");
      q.code = v;
    } else if (k == "before") {
      if (!digits(15)) fail(400, "before", "must be an event id");
      q.before_id = std::stoll(v);
    } else if (k == "offset") {
      if (!digits(6)) fail(400, "offset", "must be a non-negative integer");
      const long long o = std::stoll(v);
      if (o > 100000) fail(422, "offset", std::to_string(o) + " is out of range [0, 100000]");
      q.offset = static_cast<int>(o);
    } else if (k == "limit") {
      if (!digits(6)) fail(400, "limit", "must be an integer");
      const long long l = std::stoll(v);
      if (l < 1 || l > 500) fail(422, "limit", std::to_string(l) + " is out of range [1, 500]");
      q.limit = static_cast<int>(l);
    } else {
      fail(400, k, "unknown parameter (since, severity, code, before, offset, limit)");
    }
  }
  const EventPage page = backend.events(q);
  json::array a;
  for (const auto& e : page.events)
    a.push_back(json::object{{"id", e.id},
                             {"t_ms", e.t_ms},
                             {"time", common::iso_utc(e.t_ms)},
                             {"severity", e.severity},
                             {"code", e.code},
                             {"message", e.message},
                             {"set_id", opt(e.set_id)}});
  return json_response(200, json::object{{"events", std::move(a)},
                                         {"next_before", opt(page.next_before)},
                                         {"total", opt(page.total)}});
}

// ---- members and programmes --------------------------------------------------

json::object Api::Impl::read_member(const json::object& body, bool create) {
  Fields f(body);
  json::object out;
  if (f.present("number")) out["number"] = read_member_number(f, "number");
  else f.raw("number");
  if (auto name = f.string("name", 1, 64)) out["name"] = *name;
  if (f.has_key("pin")) {
    const json::value* v = f.raw("pin");
    if (v->is_null()) {
      out["pin_hash"] = "";
    } else {
      auto pin = f.string("pin", 0, 32);
      if (!is_valid_pin(*pin)) fail(422, "pin", "a PIN is 4 to 12 digits");
      out["pin_hash"] = make_pin_hash(*pin);
    }
  }
  if (f.has_key("assessed_max_n")) {
    auto m = f.number("assessed_max_n", 1, 10000);
    out["assessed_max_n"] = m ? json::value(*m) : json::value(nullptr);
  }
  if (auto notes = f.string("notes", 0, 500)) out["notes"] = *notes;
  f.finish();
  if (create) {
    if (!out.contains("number")) fail(422, "number", "is required");
    if (!out.contains("name")) fail(422, "name", "is required");
  } else if (out.empty()) {
    fail(422, "", "nothing to update");
  }
  return out;
}

json::object Api::Impl::read_programme(const json::object& body, bool create) {
  Fields f(body);
  json::object out;
  if (auto name = f.string("name", 1, 64)) out["name"] = *name;
  if (auto d = f.string("description", 0, 500)) out["description"] = *d;
  if (auto n = f.integer("sessions_per_week", 1, 14)) out["sessions_per_week"] = *n;
  if (auto n = f.integer("block_weeks", 1, 52)) out["block_weeks"] = *n;
  if (auto n = f.integer("after_block_sessions_per_week", 1, 14))
    out["after_block_sessions_per_week"] = *n;
  if (const json::value* steps = f.raw("steps"); steps && !steps->is_null()) {
    if (!steps->is_array()) fail(400, "steps", std::string("must be an array, not ") + kind_name(*steps));
    const json::array& a = steps->get_array();
    if (a.empty() || a.size() > 20) fail(422, "steps", "a programme has 1 to 20 steps");
    json::array norm;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const std::string prefix = "steps[" + std::to_string(i) + "].";
      if (!a[i].is_object()) fail(400, prefix.substr(0, prefix.size() - 1), "must be an object");
      Fields sf(a[i].get_object(), prefix);
      json::object step;
      const Prescription p = read_prescription(sf);
      write_prescription(p, step);
      step["sets"] = *[&] {
        auto v = sf.integer("sets", 1, 10);
        if (!v) fail(422, sf.name("sets"), "is required (1–10)");
        return v;
      }();
      const bool has_n = sf.present("load_n");
      const bool has_pct = sf.present("load_pct");
      if (has_n == has_pct)
        fail(422, sf.name("load_n"), "give exactly one of load_n and load_pct (% of assessed max)");
      if (has_n) step["load_n"] = *sf.number("load_n", 1, config.max_load_n);
      else step["load_pct"] = *sf.number("load_pct", 1, 150);
      sf.raw("load_n");
      sf.raw("load_pct");
      step["rest_s"] = sf.number("rest_s", 90, 0, 600);
      json::object prog{{"rule", "none"}, {"amount", 0}, {"on_tempo", false}};
      if (const json::value* pv = sf.raw("progression"); pv && !pv->is_null()) {
        if (!pv->is_object()) fail(400, sf.name("progression"), "must be an object");
        Fields pf(pv->get_object(), prefix + "progression.");
        auto rule = pf.choice("rule", {"none", "load_n", "load_pct", "reps", "hold_s"});
        if (!rule) fail(422, pf.name("rule"), "is required: none, load_n, load_pct, reps or hold_s");
        auto amount = pf.number("amount", 0.1, 1000);
        const bool on_tempo = pf.boolean("on_tempo").value_or(false);
        pf.finish();
        if (*rule != "none" && !amount) fail(422, pf.name("amount"), "is required with a rule");
        if (*rule == "reps" && p.mode == "isometric")
          fail(422, pf.name("rule"), "an isometric step progresses by hold_s, not reps");
        if (*rule == "hold_s" && p.mode != "isometric")
          fail(422, pf.name("rule"), "only an isometric step progresses by hold_s");
        if (*rule == "load_pct" && !has_pct)
          fail(422, pf.name("rule"), "load_pct progression needs a step load given as load_pct");
        prog["rule"] = *rule;
        prog["amount"] = amount.value_or(0);
        prog["on_tempo"] = on_tempo;
      }
      step["progression"] = std::move(prog);
      sf.finish();
      norm.push_back(std::move(step));
    }
    out["steps"] = std::move(norm);
  }
  f.finish();
  if (create) {
    if (!out.contains("name")) fail(422, "name", "is required");
    if (!out.contains("steps")) fail(422, "steps", "is required");
  } else if (out.empty()) {
    fail(422, "", "nothing to update");
  }
  return out;
}

ApiResponse Api::Impl::crud(const Route& r, Collection c, const Session& s) {
  const auto& seg = r.seg;
  const bool members = c == Collection::Members;
  if (seg.size() == 3 && seg[2] == "history") {
    const std::int64_t id = parse_id(seg[1], "id");
    if (!(s.role == Role::Staff || (s.role == Role::Member && s.member_id == id)))
      fail(403, "", "a member's history is for staff or that member");
    int limit = 20;
    for (const auto& [k, v] : r.query) {
      if (k != "limit") fail(400, k, "unknown parameter (limit)");
      if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos)
        fail(400, "limit", "must be an integer");
      limit = std::stoi(v);
      if (limit < 1 || limit > 100) fail(422, "limit", std::to_string(limit) + " is out of range [1, 100]");
    }
    return from_result(backend.member_history(id, limit));
  }
  require(s, {Role::Staff});
  // A member's PIN hash never leaves the server, whatever the backend returns.
  auto without_secrets = [](Result res) {
    auto strip = [](json::value& v) {
      if (v.is_object()) v.as_object().erase("pin_hash");
    };
    if (res.body.is_array())
      for (auto& e : res.body.as_array()) strip(e);
    strip(res.body);
    return res;
  };
  if (seg.size() == 1) {
    if (r.method == "GET") return from_result(without_secrets(backend.list(c)));
    const json::object body = parse_body(r.req->body, false);
    return from_result(backend.create(c, members ? read_member(body, true) : read_programme(body, true)));
  }
  const std::int64_t id = parse_id(seg[1], "id");
  if (seg.size() == 3) {  // PUT /members/{id}/programme
    const json::object body = parse_body(r.req->body, false);
    Fields f(body);
    if (!f.has_key("programme_id")) fail(422, "programme_id", "is required (an id, or null to unassign)");
    auto pid = f.integer("programme_id", 1, 999999999999999);
    f.finish();
    return from_result(backend.assign_programme(id, pid));
  }
  if (r.method == "GET") return from_result(without_secrets(backend.get(c, id)));
  if (r.method == "DELETE") return from_result(backend.remove(c, id));
  const json::object body = parse_body(r.req->body, false);
  return from_result(
      backend.update(c, id, members ? read_member(body, false) : read_programme(body, false)));
}

// ---- maintenance and programme sessions ----------------------------------------

ApiResponse Api::Impl::maintenance(const Route& r, const Session&) {
  const std::string& what = r.seg[1];
  if (what == "diagnostics") return json_response(200, backend.diagnostics());
  const json::object body = parse_body(r.req->body, true);
  Fields f(body);
  json::object args;
  MaintenanceAction a = MaintenanceAction::Tare;
  if (what == "span") {
    a = MaintenanceAction::Span;
    auto known = f.number("known_n", 1, 10000);
    if (!known) fail(422, "known_n", "is required: the known weight's force in N");
    args["known_n"] = *known;
  } else if (what == "range-check") {
    a = MaintenanceAction::RangeCheck;
  } else if (what == "fault-reset") {
    a = MaintenanceAction::FaultReset;
  }
  f.finish();
  log::notice("hmi: maintenance action ", what);
  return from_result(backend.maintenance(a, args));
}

ApiResponse Api::Impl::session_call(const Route& r, const Session& s) {
  SessionAction a = SessionAction::Get;
  if (r.seg.size() == 2) {
    const json::object body = parse_body(r.req->body, true);
    Fields(body).finish();
    a = r.seg[1] == "start" ? SessionAction::Start
        : r.seg[1] == "next" ? SessionAction::NextSet
                             : SessionAction::End;
  }
  return from_result(backend.session(*s.member_id, a));
}

}  // namespace soleus::hmi
