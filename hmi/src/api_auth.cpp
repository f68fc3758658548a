#include <chrono>
#include <string>

#include "api_internal.hpp"
#include "soleus/common/log.hpp"
#include "soleus/common/time.hpp"

// Who may do what: tokens (authenticate), roles (require), and POST /login
// with its PIN checks and lockouts (per account and per client address).

namespace soleus::hmi {
using namespace detail;

Session Api::Impl::authenticate(const Route& r) {
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
    case TokenStore::Check::Ok:
      CallerScope::set({to_string(s.role), s.member_id, s.staff_id});
      return s;
    case TokenStore::Check::Unknown: fail(401, "", "unknown token: log in again");
    case TokenStore::Check::Expired: fail(401, "", "the token has expired: log in again");
    case TokenStore::Check::Idle: fail(401, "", "logged out after being idle: log in again");
  }
  fail(401, "", "unknown token");
}

void Api::Impl::require(const Session& s, std::initializer_list<Role> roles) {
  for (Role r : roles)
    if (s.role == r) return;
  std::string list;
  for (Role r : roles) list += (list.empty() ? "" : " or ") + std::string(to_string(r));
  fail(403, "", std::string("this needs the ") + list + " role; you are " + to_string(s.role));
}

std::int64_t Api::Impl::expires_unix_ms(const Session& s) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(s.expires - clock());
  return common::unix_ms_now() + left.count();
}

// ---- login -------------------------------------------------------------------

namespace {

/// Admits one PIN attempt on `account`, checks it, and counts a failure.
void check_pin(Lockout& lockout, Lockout& client_lockout, const std::string& client,
               const std::function<Clock::time_point()>& clock, const std::string& account,
               const std::string& hash, const std::string& pin, const char* wrong_message) {
  auto locked = [](int retry, const char* what) {
    ApiError e{429, "pin",
               std::string("too many wrong PINs: ") + what + "; try again in " +
                   std::to_string(retry) + " s"};
    e.headers.emplace_back("Retry-After", std::to_string(retry));
    throw e;
  };
  // Per client address first (one client guessing one PIN across many
  // member numbers), then per account.
  const std::string ckey = "client:" + client;
  if (!client.empty())
    if (auto retry = client_lockout.admit(ckey, clock()))
      locked(*retry, "logins from this device are locked");
  if (auto retry = lockout.admit(account, clock())) {
    if (!client.empty()) client_lockout.cancel(ckey);  // not attempted: not counted
    locked(*retry, "this account is locked");
  }
  const bool ok = verify_pin(pin, hash);
  lockout.finish(account, ok, clock());
  if (!client.empty()) client_lockout.finish(ckey, ok, clock());
  if (!ok) fail(401, "pin", wrong_message);
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
  auto staff_id = f.integer("staff_id", 1, 9'000'000'000'000'000LL);
  f.finish();

  Role granted;
  std::optional<std::int64_t> member_id;
  Session who;
  if (staff_id && role && *role != "staff") fail(422, "staff_id", "is for role staff only");
  if (staff_id && member) fail(422, "staff_id", "give either member or staff_id, not both");
  if (staff_id) {
    // A named staff account: its own PIN, its own lockout ("staff:<id>"),
    // and the per-client lockout as for members.
    if (!pin) fail(422, "pin", "is required");
    if (!is_valid_pin(*pin)) fail(422, "pin", "a PIN is 4 to 12 digits");
    const std::string account = "staff:" + std::to_string(*staff_id);
    auto cred = backend.staff_credential(*staff_id);
    if (!cred || !cred->active) {
      std::call_once(dummy_once,
                     [this] { dummy_hash = make_pin_hash("0000", kPinHashIterations); });
      check_pin(lockout, client_lockout, r.req->client, clock, account, dummy_hash, *pin + "x",
                "unknown staff account or wrong PIN");
      fail(401, "staff_id", "unknown staff account or wrong PIN");
    }
    check_pin(lockout, client_lockout, r.req->client, clock, account, cred->pin_hash, *pin,
              "unknown staff account or wrong PIN");
    granted = Role::Staff;
    who.staff_id = cred->id;
    who.staff_name = cred->name;
    who.staff_admin = cred->admin;
  } else if (member) {
    if (role && *role != "member") fail(422, "role", "give either role or member, not both");
    auto cred = backend.member_credential(*member);
    const std::string account = "member:" + *member;
    if (!cred) {
      if (pin && is_valid_pin(*pin)) {
        // Same work and the same counting as for a real member: the reply's
        // timing does not tell which numbers exist.
        std::call_once(dummy_once,
                       [this] { dummy_hash = make_pin_hash("0000", kPinHashIterations); });
        check_pin(lockout, client_lockout, r.req->client, clock, account, dummy_hash, *pin + "x",
                  "unknown member or wrong PIN");
      }
      fail(401, "member", "unknown member or wrong PIN");
    }
    if (!cred->pin_hash.empty()) {
      if (!pin || pin->empty()) fail(401, "pin", "this member needs a PIN");
      if (!is_valid_pin(*pin)) fail(422, "pin", "a PIN is 4 to 12 digits");
      check_pin(lockout, client_lockout, r.req->client, clock, account, cred->pin_hash, *pin,
                "unknown member or wrong PIN");
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
      if (hash.empty() && staff)
        fail(403, "role",
             "the shared staff PIN is not set (staff_pin_hash in [hmi]): sign in with your staff "
             "account (staff_id)");
      if (hash.empty())
        fail(403, "role", *role + " login is disabled: set " + *role + "_pin_hash in [hmi]");
      if (!pin) fail(422, "pin", "is required");
      if (!is_valid_pin(*pin)) fail(422, "pin", "a PIN is 4 to 12 digits");
      check_pin(lockout, client_lockout, r.req->client, clock, *role, hash, *pin, "wrong PIN");
      granted = staff ? Role::Staff : Role::Maintenance;
    }
  }
  who.role = granted;
  who.member_id = member_id;
  auto [token, session] = tokens.issue(who, clock());
  json::object out{{"token", token},
                   {"expires_at", expires_unix_ms(session)},
                   {"role", to_string(granted)},
                   {"member_id", opt(member_id)}};
  add_who(session, out);
  out["idle_logout_s"] = granted == Role::Member || granted == Role::Guest ? config.member_idle_s
                                                                           : config.staff_idle_s;
  if (granted == Role::Guest) out["load_cap_n"] = config.guest_load_cap_n;
  log::info("hmi: login as ", to_string(granted),
            member         ? std::string(" (member ") + *member + ")"
            : who.staff_id ? " (staff account " + std::to_string(*who.staff_id) + ")"
                           : std::string());
  return json_response(200, out);
}

void Api::Impl::add_who(const Session& s, json::object& out) {
  if (s.role != Role::Staff) return;
  out["staff_id"] = opt(s.staff_id);
  out["name"] = s.staff_id ? s.staff_name : std::string("staff (shared PIN)");
  out["admin"] = s.staff_admin;
}

// ---- the caller of the request on this thread -----------------------------------

namespace {
thread_local Caller t_caller;
}  // namespace

const Caller& current_caller() { return t_caller; }
CallerScope::CallerScope() { t_caller = {}; }
CallerScope::~CallerScope() { t_caller = {}; }
void CallerScope::set(Caller c) { t_caller = std::move(c); }

}  // namespace soleus::hmi
