#include <boost/json.hpp>

#include <string>

#include "api_internal.hpp"

// /members and /programmes (list, create, read, update, delete; staff), a
// member's history and programme assignment; and a member's fields.

namespace soleus::hmi {
using namespace detail;

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
  if (auto flagged = f.boolean("flagged")) {  // staff clear a PAIN flag; only the rules set one
    if (*flagged) fail(422, "flagged", "only false (clear the flag): a PAIN stop sets it");
    if (create) fail(422, "flagged", "a new member has no flag to clear");
    out["flagged"] = false;
  }
  f.finish();
  if (create) {
    if (!out.contains("number")) fail(422, "number", "is required");
    if (!out.contains("name")) fail(422, "name", "is required");
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
      if (limit < 1 || limit > 100)
        fail(422, "limit", std::to_string(limit) + " is out of range [1, 100]");
    }
    return from_result(backend.member_history(id, limit));
  }
  if (seg.size() == 3 && (seg[2] == "schedule" || seg[2] == "progression")) {
    const std::int64_t id = parse_id(seg[1], "id");
    if (!(s.role == Role::Staff || (s.role == Role::Member && s.member_id == id)))
      fail(403, "", "a member's " + seg[2] + " is for staff or that member");
    if (seg[2] == "schedule") {
      if (!r.query.empty()) fail(400, r.query.begin()->first, "unknown parameter");
      return from_result(backend.member_schedule(id));
    }
    int limit = 100;
    for (const auto& [k, v] : r.query) {
      if (k != "limit") fail(400, k, "unknown parameter (limit)");
      if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos)
        fail(400, "limit", "must be an integer");
      limit = std::stoi(v);
      if (limit < 1 || limit > 500)
        fail(422, "limit", std::to_string(limit) + " is out of range [1, 500]");
    }
    return from_result(backend.member_progression(id, limit));
  }
  if (seg.size() == 3 && seg[2] == "assessments") {
    const std::int64_t id = parse_id(seg[1], "id");
    if (!(s.role == Role::Staff || (s.role == Role::Member && s.member_id == id)))
      fail(403, "", "a member's assessments are for staff or that member");
    if (!r.query.empty()) fail(400, r.query.begin()->first, "unknown parameter");
    return from_result(backend.member_assessments(id));
  }
  require(s, {Role::Staff});
  if (seg.size() == 3 && seg[2] == "events") {  // PAIN and loss-of-control stops (staff)
    if (!r.query.empty()) fail(400, r.query.begin()->first, "unknown parameter");
    return from_result(backend.member_stop_events(parse_id(seg[1], "id")));
  }
  if (seg.size() == 3 && seg[2] == "assessment") {  // PUT /members/{id}/assessment
    const std::int64_t id = parse_id(seg[1], "id");
    const json::object body = parse_body(r.req->body, false);
    Fields f(body);
    if (!f.has_key("assigned")) fail(422, "assigned", "is required (true or false)");
    const json::value* v = f.raw("assigned");
    if (!v->is_bool()) fail(422, "assigned", "must be true or false");
    f.finish();
    return from_result(backend.assign_assessment(id, v->get_bool()));
  }
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
    return from_result(
        backend.create(c, members ? read_member(body, true) : read_programme(body, true)));
  }
  const std::int64_t id = parse_id(seg[1], "id");
  if (seg.size() == 3) {  // PUT /members/{id}/programme
    const json::object body = parse_body(r.req->body, false);
    Fields f(body);
    if (!f.has_key("programme_id"))
      fail(422, "programme_id", "is required (an id, or null to unassign)");
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

}  // namespace soleus::hmi
