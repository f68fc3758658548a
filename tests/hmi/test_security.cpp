// Unit tests: PIN hashes, lockout, tokens and the [hmi] configuration.
#include <doctest/doctest.h>

#include <stdexcept>

#include "soleus/common/config_reader.hpp"
#include "soleus/hmi/config.hpp"
#include "soleus/hmi/security.hpp"

using namespace soleus::hmi;
using namespace std::chrono_literals;

TEST_CASE("a PIN hash verifies its PIN only, and is salted") {
  const std::string h = make_pin_hash("2468", kMinPinHashIterations);
  CHECK(h.rfind("pbkdf2-sha256$100000$", 0) == 0);
  CHECK(verify_pin("2468", h));
  CHECK_FALSE(verify_pin("2469", h));
  CHECK_FALSE(verify_pin("", h));
  CHECK(make_pin_hash("2468", kMinPinHashIterations) != h);  // a fresh salt each time
  CHECK(is_valid_pin_hash(h));
}

TEST_CASE("malformed or weak hashes are refused with a reason") {
  std::string why;
  CHECK_FALSE(is_valid_pin_hash("2468", &why));
  CHECK(why.find("pbkdf2-sha256") != std::string::npos);
  CHECK_FALSE(is_valid_pin_hash("md5$100000$00$00", &why));
  CHECK_FALSE(
      is_valid_pin_hash("pbkdf2-sha256$1000$0011223344556677$" + std::string(64, 'a'), &why));
  CHECK(why.find("100000") != std::string::npos);
  CHECK_FALSE(is_valid_pin_hash("pbkdf2-sha256$100000$zz$" + std::string(64, 'a'), &why));
  CHECK_FALSE(verify_pin("1234", "garbage"));
  CHECK_THROWS_AS(make_pin_hash("1234", 1000), std::invalid_argument);
}

TEST_CASE("PIN syntax: 4 to 12 digits") {
  CHECK(is_valid_pin("0000"));
  CHECK(is_valid_pin("123456789012"));
  CHECK_FALSE(is_valid_pin("123"));
  CHECK_FALSE(is_valid_pin("1234567890123"));
  CHECK_FALSE(is_valid_pin("12a4"));
}

TEST_CASE("lockout: five failures lock that account alone for five minutes") {
  Lockout l;
  const auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) {
    REQUIRE_FALSE(l.admit("staff", t0).has_value());
    l.finish("staff", false, t0);
  }
  auto retry = l.admit("staff", t0);
  REQUIRE(retry.has_value());
  CHECK(*retry == 300);
  CHECK_FALSE(l.admit("maintenance", t0).has_value());
  l.finish("maintenance", true, t0);
  CHECK(l.admit("staff", t0 + 299s).has_value());
  CHECK_FALSE(l.admit("staff", t0 + 301s).has_value());  // unlocked, count reset
  l.finish("staff", true, t0 + 301s);
}

TEST_CASE("lockout: attempts in flight count, so parallel guesses cannot exceed five") {
  Lockout l;
  const auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) REQUIRE_FALSE(l.admit("member:7", t0).has_value());
  CHECK(l.admit("member:7", t0).has_value());
  for (int i = 0; i < 5; ++i) l.finish("member:7", false, t0);
  CHECK(l.locked("member:7", t0));
  CHECK_FALSE(l.locked("member:8", t0));
}

TEST_CASE("lockout: a success clears the count") {
  Lockout l;
  const auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i) {
    REQUIRE_FALSE(l.admit("staff", t0));
    l.finish("staff", false, t0);
  }
  REQUIRE_FALSE(l.admit("staff", t0));
  l.finish("staff", true, t0);
  for (int i = 0; i < 4; ++i) {
    REQUIRE_FALSE(l.admit("staff", t0));
    l.finish("staff", false, t0);
  }
  CHECK_FALSE(l.locked("staff", t0));
}

TEST_CASE("tokens expire, and idle out (members 60 s, staff 300 s here) unless a set runs") {
  TokenStore ts(3600s, 60s, 300s);
  const auto t0 = Clock::now();
  auto [staff, s1] = ts.issue(Role::Staff, std::nullopt, t0);
  auto [member, s2] = ts.issue(Role::Member, 7, t0);
  CHECK(staff.size() == 64);
  Session out;
  CHECK(ts.check(staff, t0 + 120s, {}, out) ==
        TokenStore::Check::Ok);  // within the staff's idle time
  CHECK(out.role == Role::Staff);
  CHECK(ts.check(member, t0 + 59s, {}, out) == TokenStore::Check::Ok);
  CHECK(out.member_id == 7);
  CHECK(ts.check(
            member, t0 + 59s + 61s, [] { return true; }, out) == TokenStore::Check::Ok);
  CHECK(ts.check(
            member, t0 + 59s + 61s + 61s, [] { return false; }, out) == TokenStore::Check::Idle);
  CHECK(ts.check(member, t0 + 300s, {}, out) == TokenStore::Check::Unknown);
  // Used every 4 minutes, the staff token lives until it expires...
  for (int m = 4; m < 60; m += 4)
    CHECK(ts.check(staff, t0 + std::chrono::minutes(m), {}, out) == TokenStore::Check::Ok);
  CHECK(ts.check(staff, t0 + 3600s, {}, out) == TokenStore::Check::Expired);
  // ...and idles out after 300 s unused.
  auto [staff2, s3] = ts.issue(Role::Maintenance, std::nullopt, t0);
  CHECK(ts.check(
            staff2, t0 + 301s, [] { return false; }, out) == TokenStore::Check::Idle);
  CHECK(ts.check("nope", t0, {}, out) == TokenStore::Check::Unknown);
}

namespace {
HmiConfig parse(const std::string& toml) {
  auto doc = soleus::config::Document::parse_string(toml, "test.toml");
  return HmiConfig::parse(doc.root().section("hmi"));
}
}  // namespace

TEST_CASE("[hmi]: defaults are safe, keys are read") {
  const HmiConfig d = parse("[hmi]\n");
  CHECK(d.bind_address == "127.0.0.1");
  CHECK(d.guest_load_cap_n == 600);
  CHECK(d.body_limit == 16384);
  CHECK(d.staff_pin_hash.empty());
  const std::string h = make_pin_hash("1234", kMinPinHashIterations);
  const HmiConfig c = parse(
      "[hmi]\nbind = \"0.0.0.0\"\nport = 9000\nallowed_origins = \"http://10.0.0.5:9000, "
      "http://kiosk:9000\"\n"
      "staff_pin_hash = \"" +
      h + "\"\nlive_rate_hz = 30\nmember_idle_logout_s = 120\n");
  CHECK(c.port == 9000);
  CHECK(c.allowed_origins == std::vector<std::string>{"http://10.0.0.5:9000", "http://kiosk:9000"});
  CHECK(c.staff_pin_hash == h);
  CHECK(c.live_rate_hz == 30);
  CHECK(c.member_idle_s == 120);
}

TEST_CASE("[hmi]: errors name the line and the key") {
  auto refused = [](const std::string& toml, const std::string& key, int line) {
    try {
      parse(toml);
      FAIL("accepted: " << toml);
    } catch (const soleus::config::ConfigError& e) {
      CHECK(e.key() == key);
      CHECK(e.line() == line);
    }
  };
  refused("[hmi]\nport = 70000\n", "hmi.port", 2);
  refused("[hmi]\n\nstaff_pin_hash = \"1234\"\n", "hmi.staff_pin_hash", 3);
  refused("[hmi]\nallowed_origins = \"10.0.0.5\"\n", "hmi.allowed_origins", 2);
  refused("[hmi]\nlive_rate_hz = 0\n", "hmi.live_rate_hz", 2);
  refused("[hmi]\nbody_limit_bytes = 10\n", "hmi.body_limit_bytes", 2);
  refused("[hmi]\nguest_load_cap = 600\n", "hmi.guest_load_cap", 2);  // misspelt: unknown key
}

TEST_CASE("[hmi]: the guest cap may not exceed the machine's maximum load") {
  auto doc = soleus::config::Document::parse_string("[hmi]\nguest_load_cap_n = 900\n", "t.toml");
  CHECK_NOTHROW(HmiConfig::parse(doc.root().section("hmi"), 1000));
  auto doc2 = soleus::config::Document::parse_string("[hmi]\nguest_load_cap_n = 900\n", "t.toml");
  try {
    HmiConfig::parse(doc2.root().section("hmi"), 800);
    FAIL("accepted");
  } catch (const soleus::config::ConfigError& e) {
    CHECK(e.key() == "hmi.guest_load_cap_n");
    CHECK(e.line() == 2);
  }
}

TEST_CASE("HmiConfig::validate refuses a configuration built in code") {
  HmiConfig c;
  CHECK_NOTHROW(c.validate());
  c.guest_load_cap_n = c.max_load_n + 1;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("guest_load_cap_n"), std::invalid_argument);
}
