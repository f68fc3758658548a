#include <boost/json.hpp>

#include <cctype>
#include <cmath>
#include <sstream>

#include "api_internal.hpp"
#include "soleus/common/tempo.hpp"

// Validation of what a client sends: the strict Fields reader, the set and
// programme-step prescription, request bodies, ids in paths, member numbers.

namespace soleus::hmi::detail {

[[noreturn]] void fail(unsigned status, std::string field, std::string message) {
  throw ApiError{status, std::move(field), std::move(message)};
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
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

const json::value* Fields::raw(std::string_view key) {
  used_.emplace_back(key);
  auto it = o_.find(key);
  return it == o_.end() ? nullptr : &it->value();
}

bool Fields::present(std::string_view key) const {
  auto it = o_.find(key);
  return it != o_.end() && !it->value().is_null();
}

bool Fields::has_key(std::string_view key) const { return o_.find(key) != o_.end(); }

std::optional<double> Fields::number(std::string_view key, double min, double max) {
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

double Fields::number(std::string_view key, double def, double min, double max) {
  return number(key, min, max).value_or(def);
}

double Fields::required_number(std::string_view key, double min, double max) {
  auto d = number(key, min, max);
  if (!d) fail(422, name(key), "is required");
  return *d;
}

std::optional<std::int64_t> Fields::integer(std::string_view key, std::int64_t min,
                                            std::int64_t max) {
  const json::value* v = raw(key);
  if (!v || v->is_null()) return std::nullopt;
  std::int64_t i;
  if (v->is_int64()) i = v->get_int64();
  else if (v->is_uint64())
    i = v->get_uint64() > 9'000'000'000'000'000ULL ? std::int64_t(9e15)
                                                   : static_cast<std::int64_t>(v->get_uint64());
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

std::optional<std::string> Fields::string(std::string_view key, std::size_t min_len,
                                          std::size_t max_len) {
  const json::value* v = raw(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) fail(400, name(key), std::string("must be a string, not ") + kind_name(*v));
  std::string s(v->get_string());
  if (s.size() < min_len || s.size() > max_len)
    fail(422, name(key),
         "must be " + std::to_string(min_len) + " to " + std::to_string(max_len) +
             " characters long");
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) fail(422, name(key), "must not contain control characters");
  return s;
}

std::optional<std::string> Fields::choice(std::string_view key,
                                          std::initializer_list<std::string_view> allowed) {
  auto s = string(key, 0, 64);
  if (!s) return std::nullopt;
  for (auto a : allowed)
    if (*s == a) return s;
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  fail(422, name(key), "\"" + *s + "\" is not one of " + list);
}

std::optional<bool> Fields::boolean(std::string_view key) {
  const json::value* v = raw(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_bool())
    fail(400, name(key), std::string("must be true or false, not ") + kind_name(*v));
  return v->get_bool();
}

void Fields::finish() const {
  for (const auto& kv : o_) {
    bool used = false;
    for (const auto& u : used_)
      if (u == kv.key()) used = true;
    if (!used) fail(400, name(kv.key()), "unknown field");
  }
}

namespace {

bool valid_member_number(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

}  // namespace

Prescription read_prescription(Fields& f) {
  Prescription p;
  auto mode = f.choice("mode", {"isotonic", "eccentric", "isometric"});
  if (!mode) fail(422, f.name("mode"), "is required: isotonic, eccentric or isometric");
  p.mode = *mode;
  const bool iso = p.mode == "isometric";

  auto tempo = f.string("tempo", 0, 64);
  if (tempo) {
    const common::TempoResult t = common::parse_tempo(*tempo);
    if (!t)
      fail(422, f.name("tempo"),
           "\"" + *tempo +
               "\" is not E-B-C-T (lower-pause-raise-hold, e.g. \"3-1-3-1\" or \"2.5-0-2-1\"): " +
               t.message);
    p.tempo_s[0] = t.seconds.eccentric_s;
    p.tempo_s[1] = t.seconds.bottom_s;
    p.tempo_s[2] = t.seconds.concentric_s;
    p.tempo_s[3] = t.seconds.top_s;
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
    if (has_reps)
      fail(422, f.name("target_reps"), "an isometric set takes hold_s, not target_reps");
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
  if (!v.is_object())
    fail(400, "", std::string("the body must be a JSON object, not ") + kind_name(v));
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

}  // namespace soleus::hmi::detail
