#include <boost/json.hpp>

#include "api_internal.hpp"
#include "soleus/common/log.hpp"

// GET /status, POST /sets, POST /sets/current/stop, GET /sets/{id}; and
// parse_set_request(), the one validator of set requests.

namespace soleus::hmi {
using namespace detail;

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
  if (stopped)
    log::notice("hmi: stop requested (", cause == StopCause::Pain ? "pain" : "user_stop", ")");
  if (problem) throw *problem;
  return json_response(200, json::object{{"stopped", stopped}});
}

ApiResponse Api::Impl::get_set(const Session& s, std::int64_t id) {
  auto v = backend.get_set(id);
  if (!v) fail(404, "id", "no set " + std::to_string(id));
  // A member reads their own sets and anonymous (guest) ones.
  if (s.role == Role::Member && v->member_id && v->member_id != s.member_id)
    fail(403, "id", "this set belongs to someone else");
  if (s.role == Role::Guest && v->member_id) fail(403, "id", "this set belongs to a member");
  return json_response(200, to_json(*v));
}

ApiResponse Api::Impl::set_trace(const Session& s, std::int64_t id) {
  // Staff, maintenance, and the member who did the set (not a guest: a
  // guest's session is anyone's).
  require(s, {Role::Staff, Role::Maintenance, Role::Member});
  auto v = backend.get_set(id);
  if (!v) fail(404, "id", "no set " + std::to_string(id));
  if (s.role == Role::Member && v->member_id != s.member_id)
    fail(403, "id", "this set belongs to someone else");
  return from_result(backend.set_trace(id));
}

}  // namespace soleus::hmi
