#include <boost/json.hpp>

#include <string>

#include "api_internal.hpp"
#include "soleus/common/time.hpp"

// Named staff accounts (GET /login/staff for the sign-in tiles; /staff and
// /staff/{id} to manage them), the audit trail (GET /audit) and a member's
// CSV export (GET /members/{id}/export.csv). Issue 13.

namespace soleus::hmi {
using namespace detail;

namespace {

/// A query parameter's digits as an integer, or 400 naming it.
std::int64_t query_digits(const std::string& key, const std::string& v, std::size_t max_len) {
  if (v.empty() || v.size() > max_len || v.find_first_not_of("0123456789") != std::string::npos)
    fail(400, key, "must be a non-negative integer");
  return std::stoll(v);
}

/// A time bound: Unix ms, a UTC time (2026-03-01T00:00:00Z) or a date (2026-03-01).
std::int64_t query_time(const std::string& key, const std::string& v) {
  if (!v.empty() && v.size() <= 15 && v.find_first_not_of("0123456789") == std::string::npos)
    return std::stoll(v);
  if (auto t = common::parse_iso_utc(v)) return *t;
  if (v.size() == 10)
    if (auto t = common::parse_iso_utc(v + "T00:00:00Z")) return *t;
  fail(422, key,
       "\"" + v +
           "\" is neither Unix ms, a date like 2026-03-01 nor a UTC time like "
           "2026-03-01T00:00:00Z");
}

/// A staff account's name: 1 to 60 characters once trimmed, no control characters.
std::string read_staff_name(Fields& f, bool required) {
  auto name = f.string("name", 1, 60);
  if (!name) {
    if (required) fail(422, "name", "is required");
    return {};
  }
  const auto b = name->find_first_not_of(' ');
  const auto e = name->find_last_not_of(' ');
  std::string trimmed = b == std::string::npos ? std::string() : name->substr(b, e - b + 1);
  if (trimmed.empty()) fail(422, "name", "must not be blank");
  for (unsigned char c : trimmed)
    if (c < 0x20 || c == 0x7f) fail(422, "name", "must not hold control characters");
  return trimmed;
}

}  // namespace

// ---- Backend's defaults (a backend without a store) ---------------------------

std::optional<StaffCredential> Backend::staff_credential(std::int64_t) { return std::nullopt; }
Result Backend::staff_list() { return Result::ok(json::array{}); }
Result Backend::staff_create(const json::object&) {
  return Result::conflict("this backend keeps no staff accounts", "storage");
}
Result Backend::staff_update(std::int64_t, const json::object&) {
  return Result::not_found("this backend keeps no staff accounts");
}
Result Backend::audit(const AuditQuery&) {
  return Result::ok(json::object{{"audit", json::array{}}, {"next_before", nullptr}});
}
Result Backend::member_csv(std::int64_t, std::optional<std::int64_t>, std::optional<std::int64_t>) {
  return Result::not_found("this backend keeps no sets");
}

// ---- staff accounts ----------------------------------------------------------------

void Api::Impl::require_staff_admin(const Session& s) {
  if (s.role == Role::Maintenance) return;
  if (s.role == Role::Staff && s.staff_id) {
    // The account as it is now, not as it was at login: a revoked admin flag counts at once.
    const auto cred = backend.staff_credential(*s.staff_id);
    if (cred && cred->active && cred->admin) return;
  }
  fail(403, "",
       "managing staff accounts needs an admin staff account or the maintenance role; you are " +
           who_of(s));
}

std::string Api::Impl::who_of(const Session& s) {
  if (s.role == Role::Staff)
    return s.staff_id ? "staff (" + s.staff_name + ")" : std::string("staff (shared PIN)");
  return to_string(s.role);
}

ApiResponse Api::Impl::login_staff_names(const Route& r) {
  if (!r.query.empty()) fail(400, r.query.begin()->first, "unknown parameter");
  const Result res = backend.staff_list();
  if (res.outcome != Outcome::Ok) return from_result(res);
  // Before sign-in: only the names and ids of active accounts, for the tiles.
  json::array names;
  if (res.body.is_array())
    for (const auto& v : res.body.as_array()) {
      const auto& o = v.as_object();
      if (o.contains("active") && o.at("active").is_bool() && !o.at("active").as_bool()) continue;
      names.push_back(json::object{{"id", o.at("id")}, {"name", o.at("name")}});
    }
  return json_response(200, json::object{{"staff", std::move(names)},
                                         {"shared_pin", !config.staff_pin_hash.empty()}});
}

ApiResponse Api::Impl::staff_call(const Route& r, const Session& s) {
  const auto& seg = r.seg;
  if (seg.size() == 1 && r.method == "GET") {
    require(s, {Role::Staff, Role::Maintenance});
    Result res = backend.staff_list();
    if (res.body.is_array())  // a PIN hash never leaves the server
      for (auto& v : res.body.as_array())
        if (v.is_object()) v.as_object().erase("pin_hash");
    return from_result(res);
  }
  require(s, {Role::Staff, Role::Maintenance});
  const json::object body = parse_body(r.req->body, false);
  Fields f(body);
  if (seg.size() == 1) {  // POST /staff
    require_staff_admin(s);
    json::object out;
    out["name"] = read_staff_name(f, true);
    auto pin = f.string("pin", 0, 32);
    if (!pin) fail(422, "pin", "is required");
    if (!is_valid_pin(*pin)) fail(422, "pin", "a PIN is 4 to 12 digits");
    out["admin"] = f.boolean("admin").value_or(false);
    f.finish();
    out["pin_hash"] = make_pin_hash(*pin);
    return from_result(backend.staff_create(out));
  }
  // PUT /staff/{id}
  const std::int64_t id = parse_id(seg[1], "id");
  json::object out;
  if (f.present("name")) out["name"] = read_staff_name(f, false);
  else f.raw("name");
  std::optional<std::string> pin = f.string("pin", 0, 32);
  if (pin && !is_valid_pin(*pin)) fail(422, "pin", "a PIN is 4 to 12 digits");
  if (auto a = f.boolean("admin")) out["admin"] = *a;
  if (auto a = f.boolean("active")) out["active"] = *a;
  f.finish();
  if (out.empty() && !pin) fail(422, "", "nothing to update (name, pin, admin, active)");
  // Anyone signed in with an account may change their own PIN; all else is for admins.
  const bool own_pin_only = s.role == Role::Staff && s.staff_id == id && out.empty();
  if (!own_pin_only) require_staff_admin(s);
  if (pin) out["pin_hash"] = make_pin_hash(*pin);
  const Result res = backend.staff_update(id, out);
  // A deactivated account, or a PIN changed by someone else: its sessions end.
  if (res.outcome == Outcome::Ok &&
      ((out.contains("active") && !out.at("active").as_bool()) || (pin && s.staff_id != id)))
    tokens.revoke_staff(id);
  return from_result(res);
}

ApiResponse Api::Impl::audit(const Route& r) {
  AuditQuery q;
  for (const auto& [k, v] : r.query) {
    if (k == "member_id") {
      q.member_id = query_digits(k, v, 15);
      if (*q.member_id < 1) fail(422, k, "must be a positive id");
    } else if (k == "actor_id") {
      q.staff_id = query_digits(k, v, 15);
      if (*q.staff_id < 1) fail(422, k, "must be a positive id");
    } else if (k == "before") {
      q.before_id = query_digits(k, v, 15);
    } else if (k == "limit") {
      const auto l = query_digits(k, v, 6);
      if (l < 1 || l > 500) fail(422, k, std::to_string(l) + " is out of range [1, 500]");
      q.limit = static_cast<int>(l);
    } else {
      fail(400, k, "unknown parameter (member_id, actor_id, before, limit)");
    }
  }
  return from_result(backend.audit(q));
}

ApiResponse Api::Impl::member_export(const Route& r, std::int64_t member_id) {
  std::optional<std::int64_t> from, to;
  for (const auto& [k, v] : r.query) {
    if (k == "from") from = query_time(k, v);
    else if (k == "to") to = query_time(k, v);
    else fail(400, k, "unknown parameter (from, to)");
  }
  if (from && to && *to <= *from) fail(422, "to", "must be after from");
  const Result res = backend.member_csv(member_id, from, to);
  if (res.outcome != Outcome::Ok || !res.body.is_string()) return from_result(res);
  ApiResponse out;
  out.status = 200;
  out.body = std::string(res.body.as_string());
  out.content_type = "text/csv; charset=utf-8";
  out.headers.emplace_back("Content-Disposition",
                           "attachment; filename=\"member-" + std::to_string(member_id) + ".csv\"");
  return out;
}

}  // namespace soleus::hmi
