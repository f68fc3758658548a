// The HMI server over real HTTP and WebSocket on 127.0.0.1 (port 0), with an
// in-memory fake backend: the contract's shapes, every 4xx path, the role
// matrix, PIN lockout, Origin checks and a stalled live client.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fake_backend.hpp"
#include "soleus/hmi/server.hpp"
#include "soleus/test_support/hmi_client.hpp"
#include "soleus/test_support/process.hpp"

using namespace soleus::hmi;
using namespace soleus::hmi::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

constexpr const char* kStaffPin = "2468";
constexpr const char* kMaintPin = "1357";

// Hashes are slow on purpose: make each once for the whole run.
const std::string& hash_of(const std::string& pin) {
  static std::mutex m;
  static std::map<std::string, std::string> cache;
  std::lock_guard l(m);
  auto it = cache.find(pin);
  if (it == cache.end()) it = cache.emplace(pin, make_pin_hash(pin, kMinPinHashIterations)).first;
  return it->second;
}

std::filesystem::path make_assets() {
  auto dir =
      std::filesystem::temp_directory_path() / ("soleus-hmi-assets-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "js");
  std::ofstream(dir / "index.html") << "<!doctype html><title>Soleus</title>";
  std::ofstream(dir / "js" / "app.js") << "console.log('soleus');";
  std::ofstream(dir / "style.css") << "body{}";
  return dir;
}

std::string valid_set(double load = 400) {
  return json::serialize(json::object{
      {"mode", "isotonic"}, {"load_n", load}, {"tempo", "2.5-0-2-1"}, {"target_reps", 12}});
}

struct Fixture {
  FakeBackend be;
  std::atomic<long long> offset_ms{0};
  HmiConfig cfg;
  std::unique_ptr<Server> server;
  std::uint16_t port = 0;

  explicit Fixture(const std::function<void(HmiConfig&)>& adjust = {}) {
    cfg.port = 0;
    cfg.asset_dir = make_assets().string();
    cfg.staff_pin_hash = hash_of(kStaffPin);
    cfg.maintenance_pin_hash = hash_of(kMaintPin);
    cfg.member_idle_s = 60;
    cfg.staff_idle_s = 7200;  // beyond the lifetime: tests of expiry see "expired"
    cfg.token_lifetime_s = 3600;
    cfg.live_rate_hz = 25;
    cfg.live_stall_timeout_s = 2;
    if (adjust) adjust(cfg);
    be.credentials["1001"] = {1, hash_of("1111")};
    be.credentials["1002"] = {2, hash_of("2222")};
    be.credentials["1003"] = {3, ""};
    be.members[1] = {{"number", "1001"}, {"name", "A"}};
    be.members[2] = {{"number", "1002"}, {"name", "B"}};
    be.members[3] = {{"number", "1003"}, {"name", "C"}};
    Server::Options o;
    o.clock = [this] { return Clock::now() + std::chrono::milliseconds(offset_ms.load()); };
    server = std::make_unique<Server>(cfg, be, o);
    server->start();
    port = server->port();
  }
  ~Fixture() { server->stop(); }

  HttpReply req(const std::string& method, const std::string& target, const std::string& body = {},
                const std::string& token = {}, const std::optional<std::string>& origin = {}) {
    std::map<std::string, std::string> h;
    if (!token.empty()) h["Authorization"] = "Bearer " + token;
    if (origin) h["Origin"] = *origin;
    return http_request(port, method, target, body, h);
  }
  HttpReply get(const std::string& t, const std::string& token = {}) {
    return req("GET", t, {}, token);
  }
  HttpReply post(const std::string& t, const std::string& body, const std::string& token = {}) {
    return req("POST", t, body, token);
  }
  std::string login(const json::object& body) {
    auto r = post("/api/v1/login", json::serialize(body));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return std::string(r.json().at("token").as_string());
  }
  std::string staff() { return login({{"role", "staff"}, {"pin", kStaffPin}}); }
  std::string maint() { return login({{"role", "maintenance"}, {"pin", kMaintPin}}); }
  std::string guest() { return login({{"role", "guest"}}); }
  std::string member3() { return login({{"member", "1003"}}); }
  void advance(std::chrono::seconds s) { offset_ms += std::chrono::milliseconds(s).count(); }
};

void check_error(const HttpReply& r, int status, const std::string& field) {
  INFO(r.body);
  CHECK(r.status == status);
  auto v = r.json();
  REQUIRE(v.is_object());
  REQUIRE(v.as_object().contains("error"));
  const auto& e = v.at("error").as_object();
  CHECK(e.contains("field"));
  CHECK(e.at("message").is_string());
  CHECK(r.field() == field);
  CHECK(r.headers.at("content-type").rfind("application/json", 0) == 0);
}

bool has_keys(const json::value& v, std::initializer_list<const char*> keys) {
  if (!v.is_object()) return false;
  for (auto k : keys)
    if (!v.as_object().contains(k)) {
      MESSAGE("missing key ", k);
      return false;
    }
  return true;
}

}  // namespace

TEST_CASE("GET /api/v1/status: the contract's shape, no token needed") {
  Fixture f;
  {
    std::lock_guard l(f.be.mutex);
    f.be.status_view.state = "fault";
    f.be.status_view.force_n = 12.5;
    f.be.status_view.faults.push_back(
        {"drive_fault", "over-current: check the motor cable", 1700000000000});
    f.be.status_view.loop = {100, 0.8, 3};
  }
  auto r = f.get("/api/v1/status");
  REQUIRE(r.status == 200);
  auto v = r.json();
  CHECK(has_keys(v, {"state", "position_mm", "force_n", "load_n", "set_id", "faults", "loop"}));
  CHECK(v.at("state") == "fault");
  CHECK(v.at("set_id").is_null());
  CHECK(v.at("force_n").as_double() == 12.5);
  CHECK(r.body.find("\"force_n\":12.5,") != std::string::npos);  // numbers as people write them
  CHECK(r.body.find("\"hz\":100,") != std::string::npos);
  CHECK(has_keys(v.at("faults").at(0), {"code", "message", "since"}));
  CHECK(has_keys(v.at("loop"), {"hz", "p99_ms", "overruns"}));
  CHECK(v.at("loop").at("overruns").to_number<int>() == 3);
  CHECK(r.headers.at("cache-control") == "no-store");
}

TEST_CASE(
    "a set: 201 with its id, the set's shape, 409 while running or latched, STOP idempotent") {
  Fixture f;
  const std::string tok = f.member3();
  auto r = f.post("/api/v1/sets", valid_set(), tok);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(r.json() == json::parse(R"({"id":1})"));
  REQUIRE(f.be.last_start);
  CHECK(f.be.last_start->concentric_s == 2);
  CHECK(f.be.last_start->eccentric_s == 2.5);
  CHECK(f.be.last_start->target_reps == 12);
  CHECK(f.be.last_start->force_drop_pct == 20);  // the default
  CHECK(f.be.last_start->member_id == 3);        // the member's own id
  CHECK(f.be.last_start->role == "member");

  check_error(f.post("/api/v1/sets", valid_set(), tok), 409, "");

  {
    std::lock_guard l(f.be.mutex);
    RepView rep;
    rep.n = 1;
    f.be.sets[1].rep_log.push_back(rep);
    f.be.sets[1].reps = 1;
  }
  r = f.get("/api/v1/sets/1", tok);
  REQUIRE(r.status == 200);
  auto v = r.json();
  CHECK(has_keys(v, {"id", "state", "mode", "load_n", "tempo", "reps", "partial_reps", "tut_s",
                     "stop_reason", "rep_log"}));
  CHECK(v.at("stop_reason").is_null());
  CHECK(v.at("tempo") == "2.5-0-2-1");
  CHECK(has_keys(v.at("rep_log").at(0),
                 {"n", "peak_force_n", "mean_force_n", "concentric_s", "top_pause_s", "eccentric_s",
                  "bottom_pause_s", "rom_mm", "rom_pct", "mean_velocity_mm_s", "smoothness",
                  "on_tempo", "tempo_deviation_s"}));

  // STOP: no token, idempotent, with the pain reason passed on.
  r = f.post("/api/v1/sets/current/stop", R"({"reason":"pain"})");
  REQUIRE(r.status == 200);
  CHECK(r.json() == json::parse(R"({"stopped":true})"));
  CHECK(f.be.last_stop == StopCause::Pain);
  r = f.post("/api/v1/sets/current/stop", "");
  CHECK(r.json() == json::parse(R"({"stopped":false})"));
  CHECK(f.get("/api/v1/sets/1", tok).json().at("stop_reason") == "pain");

  // A latched fault: 409.
  {
    std::lock_guard l(f.be.mutex);
    f.be.status_view.state = "estop";
  }
  check_error(f.post("/api/v1/sets", valid_set(), tok), 409, "");
}

TEST_CASE("STOP with a malformed body still stops, then names the problem") {
  Fixture f;
  f.post("/api/v1/sets", valid_set(), f.staff());
  check_error(f.post("/api/v1/sets/current/stop", R"({"reason":"bored"})"), 422, "reason");
  CHECK(f.be.stop_calls == 1);
  CHECK(f.be.last_stop == StopCause::UserStop);
  CHECK_FALSE(f.be.status().set_id.has_value());
}

TEST_CASE(
    "POST /api/v1/sets: every malformed, mistyped or out-of-range body is refused before the "
    "backend") {
  Fixture f;
  const std::string tok = f.staff();
  struct Case {
    const char* body;
    int status;
    const char* field;
  };
  const Case cases[] = {
      {"{", 400, ""},
      {"[1,2]", 400, ""},
      {"", 400, ""},
      {R"({"mode":"isotonic","load_n":"heavy","tempo":"3-1-3-1","target_reps":10})", 400, "load_n"},
      {R"({"mode":"isotonic","load_n":99999,"tempo":"3-1-3-1","target_reps":10})", 422, "load_n"},
      {R"({"mode":"isotonic","load_n":0,"tempo":"3-1-3-1","target_reps":10})", 422, "load_n"},
      {R"({"mode":"isotonic","tempo":"3-1-3-1","target_reps":10})", 422, "load_n"},
      {R"({"mode":"pilates","load_n":400,"tempo":"3-1-3-1","target_reps":10})", 422, "mode"},
      {R"({"mode":5,"load_n":400,"tempo":"3-1-3-1","target_reps":10})", 400, "mode"},
      {R"({"load_n":400,"tempo":"3-1-3-1","target_reps":10})", 422, "mode"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3","target_reps":10})", 422, "tempo"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-x","target_reps":10})", 422, "tempo"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"-3-1-3-1","target_reps":10})", 422, "tempo"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-61","target_reps":10})", 422, "tempo"},
      {R"({"mode":"isotonic","load_n":400,"tempo":3131,"target_reps":10})", 400, "tempo"},
      // common::parse_tempo's grammar (docs/api.md "Tempo"), which the API
      // and the keypad share: at most 2 digits before the point, 3 after.
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1.2345","target_reps":10})", 422, "tempo"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"060-1-3-1","target_reps":10})", 422, "tempo"},
      {R"({"mode":"isotonic","load_n":400,"target_reps":10})", 422, "tempo"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":0})", 422, "target_reps"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":101})", 422,
       "target_reps"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10.5})", 422,
       "target_reps"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":"10"})", 400,
       "target_reps"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1"})", 422, "target_reps"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10,"hold_s":20})", 422,
       "hold_s"},
      {R"({"mode":"isometric","load_n":400})", 422, "hold_s"},
      {R"({"mode":"isometric","load_n":400,"target_reps":5})", 422, "target_reps"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10,"force_drop_pct":4})",
       422, "force_drop_pct"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10,"force_drop_pct":51})",
       422, "force_drop_pct"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10,"force_drop_pct":true})",
       400, "force_drop_pct"},
      {R"({"mode":"eccentric","load_n":400,"tempo":"3-1-3-1","target_reps":10,"eccentric_pct":101})",
       422, "eccentric_pct"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10,"eccentric_pct":20})",
       422, "eccentric_pct"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10,"member_id":"x"})",
       400, "member_id"},
      {R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10,"colour":"red"})", 400,
       "colour"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    check_error(f.post("/api/v1/sets", c.body, tok), c.status, c.field);
  }
  CHECK(f.be.start_calls == 0);  // nothing invalid reached the backend
  {
    // The tempo error says which number is wrong and why, in words.
    const auto r =
        f.post("/api/v1/sets",
               R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-61","target_reps":10})", tok);
    const std::string msg(r.json().at("error").at("message").as_string());
    INFO(msg);
    CHECK(msg.find("\"61\"") != std::string::npos);
    CHECK(msg.find("60") != std::string::npos);
  }

  // The edges that are valid.
  CHECK(
      f.post(
           "/api/v1/sets",
           R"({"mode":"isometric","load_n":800,"hold_s":30,"force_drop_pct":50,"member_id":null})",
           tok)
          .status == 201);
  CHECK(f.be.last_start->hold_s == 30);
  CHECK(f.be.last_start->tempo == "0-0-0-0");
}

TEST_CASE("413, 404, 405, 400 on the request itself") {
  Fixture f;
  const std::string tok = f.staff();
  const std::string big = "{\"name\":\"" + std::string(std::size_t{20} * 1024, 'x') + "\"}";
  check_error(f.post("/api/v1/programmes", big, tok), 413, "");
  // Far larger than the socket buffers: the reply still arrives.
  const std::string huge = "{\"name\":\"" + std::string(std::size_t{512} * 1024, 'x') + "\"}";
  check_error(f.post("/api/v1/programmes", huge, tok), 413, "");
  check_error(f.post("/api/v1/sets/current/stop", huge), 413, "");
  check_error(f.get("/api/v1/nope"), 404, "");
  check_error(f.get("/api/v1"), 404, "");
  check_error(f.get("/nope.html"), 404, "");
  check_error(f.get("/api/v1/sets/999", tok), 404, "id");
  check_error(f.get("/api/v1/sets/abc", tok), 400, "id");
  auto r = f.req("DELETE", "/api/v1/status");
  check_error(r, 405, "");
  CHECK(r.headers.at("allow") == "GET");
  check_error(f.req("PUT", "/index.html"), 405, "");
  // The server survives all of it.
  CHECK(f.get("/api/v1/status").status == 200);
}

TEST_CASE("tokens: missing, malformed, unknown, expired, idle, logged out") {
  Fixture f;
  check_error(f.post("/api/v1/sets", valid_set()), 401, "");
  check_error(f.req("GET", "/api/v1/me", {}, "deadbeef"), 401, "");
  {
    auto r = http_request(f.port, "GET", "/api/v1/me", {}, {{"Authorization", "Basic abc"}});
    check_error(r, 401, "");
  }
  const std::string staff = f.staff();
  auto me = f.get("/api/v1/me", staff);
  REQUIRE(me.status == 200);
  CHECK(me.json().at("role") == "staff");
  f.advance(3601s);
  auto r = f.get("/api/v1/me", staff);
  check_error(r, 401, "");
  CHECK(r.json().at("error").at("message").as_string().find("expired") != json::string::npos);

  // A member is logged out after member_idle_logout_s without a request...
  std::string m = f.member3();
  f.advance(61s);
  r = f.get("/api/v1/me", m);
  check_error(r, 401, "");
  CHECK(r.json().at("error").at("message").as_string().find("idle") != json::string::npos);
  // ...but not in the middle of a set.
  m = f.member3();
  REQUIRE(f.post("/api/v1/sets", valid_set(), m).status == 201);
  f.advance(61s);
  CHECK(f.get("/api/v1/me", m).status == 200);

  // Logout revokes.
  const std::string s2 = f.staff();
  CHECK(f.post("/api/v1/logout", "", s2).status == 200);
  check_error(f.get("/api/v1/me", s2), 401, "");
}

TEST_CASE(
    "tokens: staff and maintenance idle out too (an unattended staff screen), not during a set") {
  Fixture f([](HmiConfig& c) { c.staff_idle_s = 120; });
  const std::string staff = f.staff();
  f.advance(100s);
  CHECK(f.get("/api/v1/me", staff).status == 200);  // used: the idle clock starts again
  f.advance(121s);
  auto r = f.get("/api/v1/me", staff);
  check_error(r, 401, "");
  CHECK(r.json().at("error").at("message").as_string().find("idle") != json::string::npos);
  const std::string maint = f.maint();
  f.advance(121s);
  check_error(f.get("/api/v1/me", maint), 401, "");
  // Staff who started a set are not logged out in the middle of it.
  const std::string s2 = f.staff();
  REQUIRE(f.post("/api/v1/sets", valid_set(), s2).status == 201);
  f.advance(121s);
  CHECK(f.get("/api/v1/me", s2).status == 200);
}

TEST_CASE("login: shapes and refusals") {
  Fixture f;
  auto r = f.post("/api/v1/login", R"({"role":"staff","pin":"2468"})");
  REQUIRE(r.status == 200);
  CHECK(has_keys(r.json(), {"token", "expires_at", "role"}));
  CHECK(r.json().at("expires_at").to_number<std::int64_t>() > 1700000000000);
  r = f.post("/api/v1/login", R"({"role":"guest"})");
  CHECK(r.json().at("role") == "guest");
  CHECK(r.json().at("load_cap_n").to_number<double>() == 600);
  r = f.post("/api/v1/login", R"({"member":1001,"pin":"1111"})");
  REQUIRE(r.status == 200);
  CHECK(r.json().at("member_id") == 1);
  check_error(f.post("/api/v1/login", R"({"member":"1001"})"), 401, "pin");
  check_error(f.post("/api/v1/login", R"({"member":"9999","pin":"1111"})"), 401, "pin");
  check_error(f.post("/api/v1/login", R"({"member":"9999"})"), 401, "member");
  check_error(f.post("/api/v1/login", R"({"role":"staff"})"), 422, "pin");
  check_error(f.post("/api/v1/login", R"({"role":"staff","pin":1234})"), 400, "pin");
  check_error(f.post("/api/v1/login", R"({"role":"staff","pin":"12"})"), 422, "pin");
  check_error(f.post("/api/v1/login", R"({"role":"admin","pin":"1234"})"), 422, "role");
  check_error(f.post("/api/v1/login", R"({"role":"staff","member":"1001","pin":"1111"})"), 422,
              "role");
  check_error(f.post("/api/v1/login", R"({})"), 422, "role");
  check_error(f.post("/api/v1/login", R"({"role":"guest","pin":"1234"})"), 422, "pin");
}

TEST_CASE("staff login is disabled without a configured hash") {
  Fixture f([](HmiConfig& c) { c.staff_pin_hash.clear(); });
  check_error(f.post("/api/v1/login", R"({"role":"staff","pin":"2468"})"), 403, "role");
}

TEST_CASE("PIN lockout: five failures lock that account for five minutes, and no other") {
  Fixture f;
  for (int i = 0; i < 5; ++i)
    check_error(f.post("/api/v1/login", R"({"role":"staff","pin":"0000"})"), 401, "pin");
  auto r = f.post("/api/v1/login", R"({"role":"staff","pin":"2468"})");  // right PIN, too late
  check_error(r, 429, "pin");
  CHECK(std::stoi(r.headers.at("retry-after")) > 290);
  CHECK(f.post("/api/v1/login", R"({"role":"maintenance","pin":"1357"})").status == 200);

  for (int i = 0; i < 5; ++i)
    check_error(f.post("/api/v1/login", R"({"member":"1001","pin":"9999"})"), 401, "pin");
  check_error(f.post("/api/v1/login", R"({"member":"1001","pin":"1111"})"), 429, "pin");
  // Someone guessing at member 1001 does not lock member 1002 out.
  CHECK(f.post("/api/v1/login", R"({"member":"1002","pin":"2222"})").status == 200);

  f.advance(301s);
  CHECK(f.post("/api/v1/login", R"({"role":"staff","pin":"2468"})").status == 200);
  CHECK(f.post("/api/v1/login", R"({"member":"1001","pin":"1111"})").status == 200);
}

TEST_CASE(
    "PIN guessing across many member numbers from one client: locked after 20 failures, that "
    "client only") {
  // Issue 10, hazard 13: one PIN tried on member after member never trips the
  // per-account lock (one failure each); the per-client count does.
  Fixture f;
  for (int i = 0; i < Lockout::kClientMaxFailures; ++i)
    check_error(
        f.post("/api/v1/login", R"({"member":")" + std::to_string(3000 + i) + R"(","pin":"1234"})"),
        401, "pin");
  auto r = f.post("/api/v1/login",
                  R"({"member":"1002","pin":"2222"})");  // a right PIN, from this client: refused
  check_error(r, 429, "pin");
  CHECK(r.body.find("device") != std::string::npos);
  CHECK(std::stoi(r.headers.at("retry-after")) > 290);
  // A guest login needs no PIN and is not affected; the lock runs out.
  CHECK(f.post("/api/v1/login", R"({"role":"guest"})").status == 200);
  f.advance(301s);
  CHECK(f.post("/api/v1/login", R"({"member":"1002","pin":"2222"})").status == 200);
}

TEST_CASE("role matrix: each endpoint x each role, checked on the server") {
  Fixture f;
  {  // a guest's set, so that GET /sets/1 is readable by every role
    std::lock_guard l(f.be.mutex);
    SetView v;
    v.id = 1;
    v.state = "done";
    f.be.sets[1] = v;
    f.be.next_set_id = 2;
    f.be.programmes[50] = {{"name", "P"}};
  }
  const std::map<std::string, std::string> tokens = {{"none", ""},
                                                     {"guest", f.guest()},
                                                     {"member", f.member3()},
                                                     {"staff", f.staff()},
                                                     {"maintenance", f.maint()}};
  const std::string prog =
      R"({"name":"Calf 1","steps":[{"mode":"isotonic","sets":3,"target_reps":12,"load_pct":60,"tempo":"3-1-3-1"}]})";
  struct Row {
    const char* method;
    const char* path;
    std::string body;
    std::vector<std::string> allowed;  ///< roles that pass auth; "none" means no token needed
  };
  const std::vector<std::string> any = {"none", "guest", "member", "staff", "maintenance"};
  const std::vector<std::string> logged = {"guest", "member", "staff", "maintenance"};
  const std::vector<Row> rows = {
      {"GET", "/api/v1/status", "", any},
      {"POST", "/api/v1/sets/current/stop", "{}", any},
      {"POST", "/api/v1/sets", valid_set(), logged},
      {"POST", "/api/v1/sets/current/stop", "{}", any},
      {"GET", "/api/v1/sets/1", "", logged},
      {"GET", "/api/v1/sets/1/trace", "", {"staff", "maintenance"}},  // a guest's set: no member's
      {"GET", "/api/v1/me", "", logged},
      {"GET", "/api/v1/events", "", {"staff", "maintenance"}},
      {"GET", "/api/v1/members", "", {"staff"}},
      {"POST", "/api/v1/members", R"({"number":"5001","name":"Zed"})", {"staff"}},
      {"GET", "/api/v1/members/1", "", {"staff"}},
      {"PUT", "/api/v1/members/1", R"({"name":"Ann"})", {"staff"}},
      {"PUT", "/api/v1/members/1/programme", R"({"programme_id":50})", {"staff"}},
      {"DELETE", "/api/v1/members/999", "", {"staff"}},
      {"GET", "/api/v1/members/3/history", "", {"member", "staff"}},
      {"GET", "/api/v1/members/3/schedule", "", {"member", "staff"}},
      {"GET", "/api/v1/members/3/progression", "", {"member", "staff"}},
      {"GET", "/api/v1/members/3/events", "", {"staff"}},
      {"GET", "/api/v1/members/3/assessments", "", {"member", "staff"}},
      {"PUT", "/api/v1/members/1/assessment", R"({"assigned":true})", {"staff"}},
      {"GET", "/api/v1/assessment", "", {"member"}},
      {"POST", "/api/v1/assessment/start", "", {"member"}},
      {"POST", "/api/v1/assessment/next", "", {"member"}},
      {"POST", "/api/v1/assessment/retry", "", {"member"}},
      {"POST", "/api/v1/assessment/end", "", {"member"}},
      {"GET", "/api/v1/programmes", "", {"staff"}},
      {"POST", "/api/v1/programmes", prog, {"staff"}},
      {"GET", "/api/v1/programmes/50", "", {"staff"}},
      {"PUT", "/api/v1/programmes/50", R"({"name":"P2"})", {"staff"}},
      {"DELETE", "/api/v1/programmes/999", "", {"staff"}},
      {"GET", "/api/v1/session", "", {"member"}},
      {"POST", "/api/v1/session/start", "", {"member"}},
      {"POST", "/api/v1/session/next", "", {"member"}},
      {"POST", "/api/v1/session/end", "", {"member"}},
      {"GET", "/api/v1/maintenance/diagnostics", "", {"maintenance"}},
      {"GET", "/api/v1/diagnostics", "", {"maintenance"}},
      {"POST", "/api/v1/maintenance/tare", "", {"maintenance"}},
      {"POST", "/api/v1/maintenance/span", R"({"known_n":196.1})", {"maintenance"}},
      {"POST", "/api/v1/maintenance/range-check", "", {"maintenance"}},
      {"POST", "/api/v1/maintenance/fault-reset", "", {"maintenance"}},
      {"GET", "/api/v1/login/staff", "", any},
      {"GET", "/api/v1/staff", "", {"staff", "maintenance"}},
      // The shared staff PIN is no admin: only maintenance (or an admin account) manages accounts.
      {"POST", "/api/v1/staff", R"({"name":"Eve","pin":"4444"})", {"maintenance"}},
      {"PUT", "/api/v1/staff/999", R"({"name":"Eve B"})", {"maintenance"}},
      {"GET", "/api/v1/audit", "", {"staff", "maintenance"}},
      {"GET", "/api/v1/members/1/export.csv", "", {"staff"}},
      // Prometheus: no role at all; this test's peer is loopback, which is served.
      {"GET", "/metrics", "", any},
      {"GET", "/api/v1/metrics", "", any},
  };
  for (const auto& row : rows) {
    for (const auto& [role, tok] : tokens) {
      INFO(row.method, " ", row.path, " as ", role);
      const auto r = f.req(row.method, row.path, row.body, tok);
      INFO(r.body);
      const bool allowed =
          std::find(row.allowed.begin(), row.allowed.end(), role) != row.allowed.end() ||
          std::find(row.allowed.begin(), row.allowed.end(), "none") != row.allowed.end();
      if (allowed) {
        CHECK(r.status != 401);
        CHECK(r.status != 403);
        CHECK(r.status < 500);
      } else {
        CHECK(r.status == (role == "none" ? 401 : 403));
      }
    }
  }
  // Ownership: a member reads only their own sets and history; a guest no member's.
  {
    std::lock_guard l(f.be.mutex);
    SetView v;
    v.id = 7;
    v.member_id = 2;
    f.be.sets[7] = v;
  }
  check_error(f.get("/api/v1/sets/7", tokens.at("member")), 403, "id");
  check_error(f.get("/api/v1/sets/7", tokens.at("guest")), 403, "id");
  CHECK(f.get("/api/v1/sets/7", tokens.at("staff")).status == 200);
  check_error(f.get("/api/v1/members/2/history", tokens.at("member")), 403, "");
  check_error(f.get("/api/v1/members/2/schedule", tokens.at("member")), 403, "");
  check_error(f.get("/api/v1/members/2/progression", tokens.at("member")), 403, "");
  // A set's trace: the member who did it, staff and maintenance; not another member, not a guest.
  {
    std::lock_guard l(f.be.mutex);
    SetView v;
    v.id = 8;
    v.member_id = 3;
    f.be.sets[8] = v;
  }
  CHECK(f.get("/api/v1/sets/8/trace", tokens.at("member")).status == 200);
  check_error(f.get("/api/v1/sets/7/trace", tokens.at("member")), 403, "id");
  check_error(f.get("/api/v1/sets/8/trace", tokens.at("guest")), 403, "");
  CHECK(f.get("/api/v1/sets/7/trace", tokens.at("maintenance")).status == 200);
  check_error(f.get("/api/v1/sets/99/trace", tokens.at("staff")), 404, "id");
  check_error(f.get("/api/v1/members/3/events", tokens.at("member")), 403, "");
  check_error(f.get("/api/v1/members/3/events?x=1", tokens.at("staff")), 400, "x");
  check_error(f.get("/api/v1/members/2/assessments", tokens.at("member")), 403, "");
  // Bad input is refused with the field, before the backend.
  check_error(
      f.req("PUT", "/api/v1/members/1/assessment", R"({"assigned":"yes"})", tokens.at("staff")),
      422, "assigned");
  check_error(f.req("PUT", "/api/v1/members/1/assessment", "{}", tokens.at("staff")), 422,
              "assigned");
  check_error(f.req("POST", "/api/v1/assessment/next", R"({"x":1})", tokens.at("member")), 400,
              "x");
}

TEST_CASE("a guest's load cap, a member starts sets only for themself") {
  Fixture f;
  const std::string g = f.guest();
  check_error(f.post("/api/v1/sets", valid_set(601), g), 422, "load_n");
  check_error(
      f.post("/api/v1/sets",
             R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10,"member_id":1})",
             g),
      403, "member_id");
  check_error(
      f.post("/api/v1/sets",
             R"({"mode":"isotonic","load_n":400,"tempo":"3-1-3-1","target_reps":10,"member_id":1})",
             f.member3()),
      403, "member_id");
  CHECK(f.be.start_calls == 0);
  REQUIRE(f.post("/api/v1/sets", valid_set(600), g).status == 201);
  CHECK(f.be.last_start->role == "guest");
  CHECK_FALSE(f.be.last_start->member_id.has_value());
}

TEST_CASE("Origin: a foreign page is refused on state changes and on the live handshake") {
  Fixture f;
  const std::string evil = "http://evil.example";
  const std::string own = f.server->allowed_origins().at(0);
  CHECK(own == "http://127.0.0.1:" + std::to_string(f.port));
  f.post("/api/v1/sets", valid_set(), f.staff());

  check_error(f.req("POST", "/api/v1/sets/current/stop", "{}", {}, evil), 403, "");
  CHECK(f.be.stop_calls == 0);
  check_error(f.req("POST", "/api/v1/login", R"({"role":"guest"})", {}, evil), 403, "");
  check_error(f.req("POST", "/api/v1/sets", valid_set(), f.staff(), evil), 403, "");
  CHECK(f.req("GET", "/api/v1/status", {}, {}, evil).status ==
        200);  // reading is not a state change
  CHECK(f.req("POST", "/api/v1/sets/current/stop", "{}", {}, own).status == 200);
  CHECK(f.req("POST", "/api/v1/sets/current/stop", "{}", {},
              "http://localhost:" + std::to_string(f.port))
            .status == 200);
  CHECK(f.be.stop_calls == 2);

  CHECK(ws_handshake_status(f.port, evil) == 403);
  CHECK(ws_handshake_status(f.port, own) == 101);
  CHECK(ws_handshake_status(f.port, std::nullopt) == 101);
}

TEST_CASE("Origin: a configured list replaces the default") {
  Fixture f([](HmiConfig& c) { c.allowed_origins = {"http://kiosk.local:8080"}; });
  CHECK(f.req("POST", "/api/v1/sets/current/stop", "{}", {}, "http://kiosk.local:8080").status ==
        200);
  CHECK(f.req("POST", "/api/v1/sets/current/stop", "{}", {},
              "http://127.0.0.1:" + std::to_string(f.port))
            .status == 403);
}

TEST_CASE("events: query validation and the page's shape") {
  Fixture f;
  {
    std::lock_guard l(f.be.mutex);
    f.be.event_log.push_back({1, 1763921100000, "error", "drive_fault", "over-current", 4});
  }
  const std::string t = f.maint();
  auto r = f.get(
      "/api/v1/"
      "events?since=2025-11-23T18:05:00Z&severity=warning&code=drive_fault&limit=10&before=99",
      t);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  REQUIRE(f.be.last_query);
  CHECK(f.be.last_query->since_ms == 1763921100000);
  CHECK(f.be.last_query->severity == "warning");
  CHECK(f.be.last_query->limit == 10);
  CHECK(f.be.last_query->before_id == 99);
  auto v = r.json();
  CHECK(has_keys(v, {"events", "next_before"}));
  CHECK(has_keys(v.at("events").at(0),
                 {"id", "t_ms", "time", "severity", "code", "message", "set_id"}));
  CHECK(v.at("events").at(0).at("time") == "2025-11-23T18:05:00.000Z");
  CHECK(f.get("/api/v1/events?since=1763921100000&offset=20", t).status == 200);
  CHECK(f.be.last_query->offset == 20);
  check_error(f.get("/api/v1/events?severity=fatal", t), 422, "severity");
  check_error(f.get("/api/v1/events?limit=0", t), 422, "limit");
  check_error(f.get("/api/v1/events?limit=ten", t), 400, "limit");
  check_error(f.get("/api/v1/events?since=yesterday", t), 422, "since");
  check_error(f.get("/api/v1/events?colour=red", t), 400, "colour");
  check_error(f.get("/api/v1/events?code=%3Cscript%3E", t), 422, "code");
}

TEST_CASE("events: the query's percent-encoding and times through common/ (url.hpp, time.hpp)") {
  Fixture f;
  {
    std::lock_guard l(f.be.mutex);
    f.be.event_log.push_back({1, -1, "info", "clock_unset", "before 1970", std::nullopt});
  }
  const std::string t = f.maint();
  // In a query '+' is a space and "%2B" a '+'; in a path '+' is itself.
  check_error(f.get("/api/v1/events?code=drive+fault", t), 422, "code");
  check_error(f.get("/api/v1/events?code=drive%2Bfault", t), 422, "code");
  REQUIRE(f.get("/api/v1/events?code=drive%5ffault", t).status == 200);
  CHECK(f.be.last_query->code == "drive_fault");
  auto id = f.get("/api/v1/sets/1+2", t);
  check_error(id, 400, "id");
  CHECK(id.body.find("1+2") != std::string::npos);
  // A malformed escape in a key or a value: 400 on the request, no field.
  check_error(f.get("/api/v1/events?co%de%z=x", t), 400, "");
  check_error(f.get("/api/v1/events?code=%", t), 400, "");
  // since: a fraction is kept to the millisecond; a day the month lacks is refused.
  REQUIRE(f.get("/api/v1/events?since=2025-11-23T18:05:00.25Z", t).status == 200);
  CHECK(f.be.last_query->since_ms == 1763921100250);
  check_error(f.get("/api/v1/events?since=2025-02-29T00:00:00Z", t), 422, "since");
  // An event's time before 1970 is written correctly (the second before, not a negative ms).
  auto r = f.get("/api/v1/events", t);
  REQUIRE(r.status == 200);
  CHECK(r.json().at("events").at(0).at("time") == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("members and programmes: validated, PINs hashed before the backend") {
  Fixture f;
  const std::string s = f.staff();
  auto r = f.post("/api/v1/members",
                  R"({"number":"2001","name":"Ann","pin":"4321","assessed_max_n":900})", s);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  const auto id = r.json().at("id").to_number<std::int64_t>();
  {
    std::lock_guard l(f.be.mutex);
    const auto& m = f.be.members.at(id);
    CHECK_FALSE(m.contains("pin"));
    CHECK(verify_pin("4321", m.at("pin_hash").as_string()));
  }
  CHECK(f.post("/api/v1/login", R"({"member":"2001","pin":"4321"})").status == 200);
  // The hash never leaves the server, even if the backend returns it.
  CHECK_FALSE(
      f.get("/api/v1/members/" + std::to_string(id), s).json().as_object().contains("pin_hash"));
  CHECK(f.get("/api/v1/members", s).body.find("pin_hash") == std::string::npos);
  check_error(f.post("/api/v1/members", R"({"number":"2001","name":"Dup"})", s), 409, "number");
  check_error(f.post("/api/v1/members", R"({"number":"2002"})", s), 422, "name");
  check_error(f.post("/api/v1/members", R"({"number":"20 02","name":"X"})", s), 422, "number");
  check_error(f.post("/api/v1/members", R"({"number":"2002","name":"X","pin":"12"})", s), 422,
              "pin");
  check_error(f.req("PUT", "/api/v1/members/" + std::to_string(id), "{}", s), 422, "");

  r = f.post(
      "/api/v1/programmes",
      R"({"name":"Calf A","steps":[{"mode":"isotonic","sets":3,"target_reps":12,"load_n":500,"tempo":"3-1-3-1",
                 "rest_s":120,"progression":{"rule":"load_n","amount":10}},
                 {"mode":"isometric","sets":2,"hold_s":30,"load_pct":80}]})",
      s);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  const auto pid = r.json().at("id").to_number<std::int64_t>();
  {
    std::lock_guard l(f.be.mutex);
    const auto& steps = f.be.programmes.at(pid).at("steps").as_array();
    CHECK(steps.at(0).at("force_drop_pct").to_number<double>() == 20);  // defaults filled in
    CHECK(steps.at(1).at("rest_s").to_number<double>() == 90);
    CHECK(steps.at(1).at("progression").at("rule") == "none");
  }
  check_error(
      f.post(
          "/api/v1/programmes",
          R"({"name":"X","steps":[{"mode":"isotonic","sets":3,"target_reps":12,"load_n":500,"tempo":"3-1"}]})",
          s),
      422, "steps[0].tempo");
  check_error(
      f.post(
          "/api/v1/programmes",
          R"({"name":"X","steps":[{"mode":"isotonic","sets":3,"target_reps":12,"tempo":"3-1-3-1"}]})",
          s),
      422, "steps[0].load_n");
  check_error(
      f.post(
          "/api/v1/programmes",
          R"({"name":"X","steps":[{"mode":"isometric","sets":1,"hold_s":20,"load_n":300,"progression":{"rule":"reps","amount":1}}]})",
          s),
      422, "steps[0].progression.rule");
  check_error(f.post("/api/v1/programmes", R"({"name":"X","steps":[]})", s), 422, "steps");
  check_error(f.post("/api/v1/programmes", R"({"name":"X","steps":"many"})", s), 400, "steps");

  CHECK(f.req("PUT", "/api/v1/members/" + std::to_string(id) + "/programme",
              "{\"programme_id\":" + std::to_string(pid) + "}", s)
            .status == 200);
  check_error(f.req("PUT", "/api/v1/members/" + std::to_string(id) + "/programme", "{}", s), 422,
              "programme_id");
  CHECK(f.req("PUT", "/api/v1/members/" + std::to_string(id) + "/programme",
              R"({"programme_id":null})", s)
            .status == 200);
  check_error(f.get("/api/v1/members/424242", s), 404, "");
}

TEST_CASE("programmes: double progression, the rep range and the block rule are validated") {
  Fixture f;
  const std::string s = f.staff();
  const std::string head = R"({"name":"D","block_weeks":6,"steps":[{"mode":"isotonic","sets":1,)"
                           R"("load_pct":50,"tempo":"1-0-1-0",)";
  auto r = f.post("/api/v1/programmes",
                  head + R"("rep_min":3,"rep_max":4,"progression":{"rule":"double",)" +
                      R"("increment":"load_pct","amount":10,"on_tempo":true}}]})",
                  s);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  {
    std::lock_guard l(f.be.mutex);
    const auto& p = f.be.programmes.at(r.json().at("id").to_number<std::int64_t>());
    CHECK(p.at("block_every_other_day") == true);  // the default with a block
    const auto& st = p.at("steps").as_array().at(0);
    CHECK(st.at("target_reps").to_number<int>() == 3);  // the bottom of the range
    CHECK(st.at("rep_min").to_number<int>() == 3);
    CHECK(st.at("rep_max").to_number<int>() == 4);
    CHECK(st.at("progression").at("rule") == "double");
    CHECK(st.at("progression").at("increment") == "load_pct");
    CHECK(st.at("progression").at("on_tempo") == true);
  }
  const std::string dbl = R"("progression":{"rule":"double","increment":"load_n","amount":20}}]})";
  check_error(f.post("/api/v1/programmes", head + dbl, s), 422, "steps[0].rep_min");
  check_error(f.post("/api/v1/programmes", head + R"("rep_min":3,)" + dbl, s), 422,
              "steps[0].rep_max");
  check_error(f.post("/api/v1/programmes", head + R"("rep_min":5,"rep_max":4,)" + dbl, s), 422,
              "steps[0].rep_max");
  check_error(
      f.post("/api/v1/programmes", head + R"("rep_min":3,"rep_max":4,"target_reps":6,)" + dbl, s),
      422, "steps[0].target_reps");
  check_error(f.post("/api/v1/programmes",
                     head + R"("rep_min":3,"rep_max":4,"progression":{"rule":"double",)" +
                         R"("amount":20}}]})",
                     s),
              422, "steps[0].progression.increment");
  check_error(f.post("/api/v1/programmes",
                     head + R"("rep_min":3,"rep_max":4,"progression":{"rule":"load_n",)" +
                         R"("increment":"load_n","amount":20}}]})",
                     s),
              422, "steps[0].progression.increment");
  check_error(
      f.post("/api/v1/programmes",
             R"({"name":"D","steps":[{"mode":"isotonic","sets":1,"load_n":300,"tempo":"1-0-1-0",)"
             R"("rep_min":3,"rep_max":4,"progression":{"rule":"double","increment":"load_pct",)"
             R"("amount":10}}]})",
             s),
      422, "steps[0].progression.increment");
  check_error(f.post("/api/v1/programmes",
                     R"({"name":"D","steps":[{"mode":"isometric","sets":1,"hold_s":20,)"
                     R"("load_n":300,"rep_min":3,"rep_max":4}]})",
                     s),
              422, "steps[0].rep_min");
  check_error(f.post("/api/v1/programmes",
                     R"({"name":"D","block_every_other_day":"yes","steps":[{"mode":"isometric",)"
                     R"("sets":1,"hold_s":20,"load_n":300}]})",
                     s),
              400, "block_every_other_day");
  // Staff clear a PAIN flag; nobody sets one through the API.
  r = f.post("/api/v1/members", R"({"number":"2101","name":"Flo"})", s);
  REQUIRE(r.status == 201);
  const std::string m = "/api/v1/members/" + std::to_string(r.json().at("id").to_number<int>());
  CHECK(f.req("PUT", m, R"({"flagged":false})", s).status == 200);
  check_error(f.req("PUT", m, R"({"flagged":true})", s), 422, "flagged");
  check_error(f.post("/api/v1/members", R"({"number":"2102","name":"X","flagged":false})", s), 422,
              "flagged");
  check_error(f.get(m + "/schedule?x=1", s), 400, "x");
  check_error(f.get(m + "/progression?limit=0", s), 422, "limit");
}

TEST_CASE("maintenance actions are validated") {
  Fixture f;
  const std::string t = f.maint();
  check_error(f.post("/api/v1/maintenance/span", "{}", t), 422, "known_n");
  check_error(f.post("/api/v1/maintenance/span", R"({"known_n":"20kg"})", t), 400, "known_n");
  CHECK(f.post("/api/v1/maintenance/span", R"({"known_n":196.1})", t).status == 200);
  CHECK(f.be.last_maintenance == MaintenanceAction::Span);
  CHECK(f.be.last_args.at("known_n").as_double() == 196.1);
  check_error(f.post("/api/v1/maintenance/tare", R"({"now":true})", t), 400, "now");
  check_error(f.post("/api/v1/maintenance/self-destruct", "{}", t), 404, "");
  auto r = f.get("/api/v1/maintenance/diagnostics", t);
  CHECK(r.json().at("bus").at("transactions") == 10);
}

TEST_CASE("static assets: types, caching, and no escape from the asset directory") {
  Fixture f;
  auto r = f.get("/");
  REQUIRE(r.status == 200);
  CHECK(r.headers.at("content-type") == "text/html; charset=utf-8");
  CHECK(r.headers.count("content-security-policy") == 1);
  CHECK(r.headers.at("cache-control") == "no-cache");
  CHECK(r.headers.at("x-content-type-options") == "nosniff");
  const std::string etag = r.headers.at("etag");
  auto r304 = http_request(f.port, "GET", "/index.html", {}, {{"If-None-Match", etag}});
  CHECK(r304.status == 304);
  CHECK(r304.body.empty());
  CHECK(f.get("/js/app.js").headers.at("content-type") == "text/javascript; charset=utf-8");
  CHECK(f.get("/style.css").headers.at("content-type") == "text/css; charset=utf-8");
  auto head = f.req("HEAD", "/js/app.js");
  CHECK(head.status == 200);
  CHECK(head.headers.at("content-length") == "22");
  CHECK(f.get("/../etc/passwd").status == 400);
  CHECK(f.get("/js/%2e%2e/%2e%2e/etc/passwd").status == 400);
  CHECK(f.get("/js/..%2F..%2Fetc/passwd").status == 400);
  CHECK(f.get("/js/").status == 404);  // no index.html there
  // One percent-decoder (common/url.hpp) for files and the API: a '%'
  // without two hex digits is a malformed path, never a file name.
  CHECK(f.get("/js/app%2Ejs").status == 200);
  CHECK(f.get("/js/app.js%zz").status == 400);
  CHECK(f.get("/js/app.js%4").status == 400);
  CHECK(f.get("/%").status == 400);
  CHECK(f.get("/api/v1/stat%zz").status == 400);
  CHECK(f.get("/api/v1/status?x=%4").status == 400);
}

TEST_CASE("live: the contract's frame, at the configured rate") {
  Fixture f;
  {
    std::lock_guard l(f.be.mutex);
    LiveFrame fr;
    fr.t_ms = 1;
    fr.state = "active";
    fr.phase = "concentric";
    fr.phase_progress = 0.4;
    fr.reps = 3;
    fr.rest_remaining_s = 4.2;  // a mid-set rest
    f.be.frame = fr;
  }
  LiveClient c(f.port);
  std::this_thread::sleep_for(1200ms);
  const auto frames = c.frames();
  REQUIRE(frames.size() >= 20);
  CHECK(frames.size() <= 32);
  const auto v = json::parse(frames.back().first);
  CHECK(has_keys(v, {"t_ms", "force_n", "position_mm", "velocity_mm_s", "load_n", "state", "phase",
                     "phase_progress", "reps", "tut_s", "faults"}));
  CHECK(v.at("phase") == "concentric");
  CHECK(v.at("reps") == 3);
  CHECK(v.at("faults").is_array());
  CHECK(v.at("rest_remaining_s") == 4.2);
}

TEST_CASE("live: stalled clients never slow another, and are closed after the stall timeout") {
  Fixture f;  // 25 Hz, stall timeout 2 s
  {
    std::lock_guard l(f.be.mutex);
    LiveFrame fr;
    fr.state = "active";
    // A fat frame fills a stalled client's buffers sooner.
    for (int i = 0; i < 8; ++i)
      fr.faults.push_back({"code" + std::to_string(i), std::string(100, 'x'), 0});
    f.be.frame = fr;
  }
  std::vector<std::unique_ptr<StalledClient>> stalled;
  stalled.reserve(5);
  for (int i = 0; i < 5; ++i) stalled.push_back(std::make_unique<StalledClient>(f.port));
  LiveClient good(f.port);
  std::this_thread::sleep_for(500ms);
  const auto n0 = good.count();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(3000ms);  // spans the stalls and their closing
  const auto n1 = good.count();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = static_cast<double>(n1 - n0) / secs;
  MESSAGE("good client: ", rate, " frames/s with 5 stalled clients (configured 25)");
  CHECK(rate >= 0.9 * 25);
  CHECK(rate <= 1.1 * 25);

  // Closed within the stall timeout plus a little.
  for (int i = 0; i < 30 && f.server->stats().clients_stalled < 5; ++i)
    std::this_thread::sleep_for(100ms);
  const auto st = f.server->stats();
  MESSAGE("stats: sent ", st.frames_sent, ", skipped ", st.frames_skipped, ", stalled closed ",
          st.clients_stalled, ", live clients ", st.live_clients);
  CHECK(st.clients_stalled == 5);
  CHECK(st.live_clients == 1);
  CHECK_FALSE(good.closed());
}

// ---- systemd socket activation (soleus-hmi.socket) ---------------------------

namespace {

/// A TCP socket on 127.0.0.1, bound to a free port; listening when `listen`.
int loopback_socket(bool listen, std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  if (listen) REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  port = ntohs(a.sin_port);
  return fd;
}

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

}  // namespace

TEST_CASE(
    "a passed listening socket is served instead of bind:port, and a queued client is answered") {
  FakeBackend be;
  HmiConfig cfg;
  cfg.asset_dir = make_assets().string();
  cfg.port = static_cast<std::uint16_t>(soleus::test::free_tcp_port());  // must stay unbound
  std::uint16_t passed_port = 0;
  const int fd = loopback_socket(true, passed_port);
  REQUIRE(passed_port != cfg.port);

  // A client connects before the server runs, as the kiosk's browser does
  // while soleusd starts: the kernel queues it in the socket's backlog.
  const int early = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(early >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(passed_port);
  REQUIRE(::connect(early, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const std::string request = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(early, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));

  Server::Options o;
  o.listen_fd = fd;
  Server server(cfg, be, o);
  server.start();
  CHECK(server.socket_activated());
  CHECK(server.port() == passed_port);
  CHECK(server.address() == "127.0.0.1");
  const auto origins = server.allowed_origins();
  CHECK(std::find(origins.begin(), origins.end(),
                  "http://127.0.0.1:" + std::to_string(passed_port)) != origins.end());

  timeval tv{5, 0};
  ::setsockopt(early, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::recv(early, buf, sizeof buf, 0)) > 0;)
    reply.append(buf, static_cast<std::size_t>(n));
  ::close(early);
  CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);

  CHECK(http_request(passed_port, "GET", "/api/v1/status").status == 200);
  CHECK(http_request(passed_port, "GET", "/").status == 200);
  CHECK_THROWS(http_request(cfg.port, "GET", "/api/v1/status"));  // refused: nothing bound there
  server.stop();
  CHECK_FALSE(fd_open(fd));
}

TEST_CASE("a passed descriptor that is not a listening TCP socket is refused and closed") {
  FakeBackend be;
  HmiConfig cfg;
  cfg.asset_dir = make_assets().string();
  cfg.port = 0;
  std::uint16_t port = 0;
  const int not_listening = loopback_socket(false, port);
  const int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  ::close(pipe_fds[1]);
  for (const int fd : {not_listening, udp, pipe_fds[0]}) {
    CAPTURE(fd);
    REQUIRE(fd >= 0);
    Server::Options o;
    o.listen_fd = fd;
    Server server(cfg, be, o);
    CHECK_THROWS_AS(server.start(), std::system_error);
    CHECK_FALSE(fd_open(fd));
  }
}

TEST_CASE("a server given a socket but never started closes it") {
  FakeBackend be;
  HmiConfig cfg;
  std::uint16_t port = 0;
  const int fd = loopback_socket(true, port);
  {
    Server::Options o;
    o.listen_fd = fd;
    Server server(cfg, be, o);
  }
  CHECK_FALSE(fd_open(fd));
}

TEST_CASE("named staff accounts: sign in by id and PIN, lockout per account, who is signed in") {
  Fixture f;
  {
    std::lock_guard l(f.be.mutex);
    f.be.staff[7] = {7, "Ann Physio", hash_of("7777"), true, true};
    f.be.staff[8] = {8, "Bob", hash_of("8888"), false, true};
    f.be.staff[9] = {9, "Gone", hash_of("9999"), false, false};
  }
  // The tiles: active accounts' names and ids only (no hash, no admin flag), before sign-in.
  auto tiles = f.get("/api/v1/login/staff");
  REQUIRE(tiles.status == 200);
  CHECK(tiles.body.find("pbkdf2") == std::string::npos);
  const auto tiles_json = tiles.json();
  const auto& list = tiles_json.at("staff").as_array();
  REQUIRE(list.size() == 2);
  CHECK(list[0].at("name") == "Ann Physio");
  CHECK_FALSE(list[0].as_object().contains("admin"));
  CHECK(tiles.json().at("shared_pin") == true);

  auto ok = f.post("/api/v1/login", R"({"role":"staff","staff_id":8,"pin":"8888"})");
  REQUIRE(ok.status == 200);
  CHECK(ok.json().at("staff_id") == 8);
  CHECK(ok.json().at("name") == "Bob");
  CHECK(ok.json().at("admin") == false);
  const std::string bob(ok.json().at("token").as_string());
  CHECK(f.get("/api/v1/me", bob).json().at("name") == "Bob");
  // The shared PIN signs in as an unnamed actor, labelled as such.
  auto shared =
      f.post("/api/v1/login", json::serialize(json::object{{"role", "staff"}, {"pin", kStaffPin}}));
  CHECK(shared.json().at("staff_id").is_null());
  CHECK(shared.json().at("name") == "staff (shared PIN)");
  // A deactivated or unknown account: the same refusal as a wrong PIN.
  check_error(f.post("/api/v1/login", R"({"role":"staff","staff_id":9,"pin":"9999"})"), 401, "pin");
  check_error(f.post("/api/v1/login", R"({"role":"staff","staff_id":99,"pin":"9999"})"), 401,
              "pin");
  check_error(f.post("/api/v1/login", R"({"member":"1001","staff_id":8,"pin":"8888"})"), 422,
              "staff_id");
  // Five wrong PINs lock Bob's account (even the right PIN then), not Ann's.
  for (int i = 0; i < Lockout::kMaxFailures; ++i)
    check_error(f.post("/api/v1/login", R"({"role":"staff","staff_id":8,"pin":"0000"})"), 401,
                "pin");
  auto locked = f.post("/api/v1/login", R"({"role":"staff","staff_id":8,"pin":"8888"})");
  check_error(locked, 429, "pin");
  CHECK(locked.body.find("account") != std::string::npos);
  CHECK(f.post("/api/v1/login", R"({"role":"staff","staff_id":7,"pin":"7777"})").status == 200);
  f.advance(301s);
  CHECK(f.post("/api/v1/login", R"({"role":"staff","staff_id":8,"pin":"8888"})").status == 200);
}

TEST_CASE(
    "named staff accounts: who manages them, the caller reaches the backend, deactivation "
    "ends sessions") {
  Fixture f;
  {
    std::lock_guard l(f.be.mutex);
    f.be.staff[7] = {7, "Ann Physio", hash_of("7777"), true, true};
    f.be.staff[8] = {8, "Bob", hash_of("8888"), false, true};
  }
  const std::string ann = f.login({{"role", "staff"}, {"staff_id", 7}, {"pin", "7777"}});
  const std::string bob = f.login({{"role", "staff"}, {"staff_id", 8}, {"pin", "8888"}});
  // Bob (no admin) may change his own PIN, nothing else, and nobody else's.
  CHECK(f.req("PUT", "/api/v1/staff/8", R"({"pin":"8181"})", bob).status == 200);
  check_error(f.req("PUT", "/api/v1/staff/8", R"({"admin":true})", bob), 403, "");
  check_error(f.req("PUT", "/api/v1/staff/7", R"({"pin":"1234"})", bob), 403, "");
  check_error(f.req("PUT", "/api/v1/staff/8", R"({"pin":"12"})", bob), 422, "pin");
  check_error(f.req("PUT", "/api/v1/staff/8", R"({"name":"   "})", ann), 422, "name");
  check_error(f.req("PUT", "/api/v1/staff/8", R"({"colour":"red"})", ann), 400, "colour");
  check_error(f.req("DELETE", "/api/v1/staff/8", "", ann), 405, "");
  {
    std::lock_guard l(f.be.mutex);
    REQUIRE_FALSE(f.be.audited_callers.empty());
    CHECK(f.be.audited_callers.back().role == "staff");
    CHECK(f.be.audited_callers.back().staff_id == std::optional<std::int64_t>(8));
  }
  // Ann (admin) deactivates Bob: his token stops working at once.
  CHECK(f.req("PUT", "/api/v1/staff/8", R"({"active":false})", ann).status == 200);
  {
    std::lock_guard l(f.be.mutex);
    CHECK(f.be.audited_callers.back().staff_id == std::optional<std::int64_t>(7));
  }
  check_error(f.get("/api/v1/me", bob), 401, "");
  // An admin flag revoked in the store counts at once, without a new sign-in.
  {
    std::lock_guard l(f.be.mutex);
    f.be.staff[7].admin = false;
  }
  check_error(f.req("PUT", "/api/v1/staff/8", R"({"active":true})", ann), 403, "");
  // Audit and export parameters are checked before the backend.
  check_error(f.get("/api/v1/audit?limit=0", ann), 422, "limit");
  check_error(f.get("/api/v1/audit?member_id=x", ann), 400, "member_id");
  check_error(f.get("/api/v1/audit?who=1", ann), 400, "who");
  check_error(f.get("/api/v1/members/1/export.csv?from=yesterday", ann), 422, "from");
  check_error(f.get("/api/v1/members/1/export.csv?from=2026-03-02&to=2026-03-01", ann), 422, "to");
}

namespace {

/// This machine's first non-loopback IPv4 address, if it has one.
std::optional<std::string> non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    const auto* a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if ((ntohl(a->sin_addr.s_addr) >> 24) == 127) continue;
    char buf[INET_ADDRSTRLEN] = {};
    if (::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf)) found = buf;
  }
  ::freeifaddrs(list);
  return found;
}

/// GET `target` from `host`:`port` over a plain socket (so that the server sees
/// that address as the peer); the reply's status code, 0 on failure.
int status_from(const std::string& host, std::uint16_t port, const std::string& target,
                const std::string& authorization = {}, std::string* body = nullptr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return 0;
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
  if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
  req += "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return 0;
  }
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    reply.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  if (reply.rfind("HTTP/1.1 ", 0) != 0) return 0;
  if (body) *body = reply.substr(std::min(reply.size(), reply.find("\r\n\r\n") + 4));
  return std::stoi(reply.substr(9, 3));
}

}  // namespace

TEST_CASE("GET /metrics: Prometheus text for loopback, read-only, no login needed") {
  Fixture f;
  for (const char* path : {"/metrics", "/api/v1/metrics", "/metrics?x=1"}) {
    INFO(path);
    const auto r = f.get(path);
    CHECK(r.status == 200);
    CHECK(r.headers.at("content-type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(r.body.find("# TYPE soleus_build_info gauge\n") != std::string::npos);
    CHECK(r.body.find("soleus_state{state=\"idle\"} 1\n") != std::string::npos);
  }
  // A login token changes nothing (it is not what /metrics checks).
  CHECK(f.get("/metrics", f.guest()).status == 200);
  const auto post = f.post("/metrics", "{}");
  check_error(post, 405, "");
  CHECK(post.headers.at("allow") == "GET");
  check_error(f.req("DELETE", "/api/v1/metrics"), 405, "");
  // /metrics/anything is not it.
  CHECK(f.get("/metrics/x").status == 404);
}

TEST_CASE("GET /metrics from another host: 403 without a configured token, else the bearer token") {
  const auto address = non_loopback_ipv4();
  if (!address) {
    MESSAGE("no non-loopback IPv4 address here: the pure rule is tested in test_hmi_metrics");
    return;
  }
  const std::string token = "s3cr3t-scrape-token-0123456789abcdef";
  {
    Fixture f([](HmiConfig& c) { c.bind_address = "0.0.0.0"; });
    std::string body;
    CHECK(status_from(*address, f.port, "/metrics", {}, &body) == 403);
    CHECK(body.find("metrics_token") != std::string::npos);
    CHECK(status_from(*address, f.port, "/metrics", "Bearer " + token) == 403);
    CHECK(status_from("127.0.0.1", f.port, "/metrics") == 200);  // the control
  }
  {
    Fixture f([&](HmiConfig& c) {
      c.bind_address = "0.0.0.0";
      c.metrics_token = token;
    });
    CHECK(status_from(*address, f.port, "/metrics") == 401);
    CHECK(status_from(*address, f.port, "/metrics", "Bearer wrong-token") == 401);
    // A login token is no scrape token.
    CHECK(status_from(*address, f.port, "/metrics", "Bearer " + f.staff()) == 401);
    std::string body;
    CHECK(status_from(*address, f.port, "/metrics", "Bearer " + token, &body) == 200);
    CHECK(body.find("soleus_build_info") != std::string::npos);
    CHECK(status_from(*address, f.port, "/api/v1/metrics", "Bearer " + token) == 200);
    // The rest of the API is unchanged for that peer.
    CHECK(status_from(*address, f.port, "/api/v1/status") == 200);
  }
}
