// Unit tests: unix_ms_now, iso_utc and parse_iso_utc (soleus/common/time.hpp).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <limits>
#include <random>
#include <string>

#include "soleus/common/time.hpp"

using soleus::common::iso_utc;
using soleus::common::parse_iso_utc;
using soleus::common::unix_ms_now;

namespace {
/// The same text through gmtime_r, seconds rounded down (the reference).
std::string iso_by_gmtime(std::int64_t ms) {
  std::int64_t secs = ms / 1000;
  std::int64_t frac = ms % 1000;
  if (frac < 0) {
    --secs;
    frac += 1000;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}
}  // namespace

TEST_CASE("unix_ms_now is the system clock in milliseconds") {
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t now = unix_ms_now();
  const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  CHECK(now >= before);
  CHECK(now <= after);
}

TEST_CASE("the wall-clock offset (soleusd-test's clock hook) shifts unix_ms_now only") {
  using namespace soleus::common;
  REQUIRE(wall_clock_offset_ms() == 0);  // the daemon that ships never sets it
  const auto steady0 = std::chrono::steady_clock::now();
  const std::int64_t two_days = 2 * 86'400'000;
  set_wall_clock_offset_ms(two_days);
  const auto system = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t shifted = unix_ms_now();
  set_wall_clock_offset_ms(0);
  CHECK(shifted - system >= two_days);
  CHECK(shifted - system < two_days + 1000);
  CHECK(std::chrono::steady_clock::now() - steady0 < std::chrono::seconds(5));
  CHECK(unix_ms_now() - system < 1000);
}

TEST_CASE("iso_utc writes RFC 3339 UTC with milliseconds") {
  CHECK(iso_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(iso_utc(1) == "1970-01-01T00:00:00.001Z");
  CHECK(iso_utc(1763921100000) == "2025-11-23T18:05:00.000Z");
  CHECK(iso_utc(1763921100123) == "2025-11-23T18:05:00.123Z");
  CHECK(iso_utc(951782400000) == "2000-02-29T00:00:00.000Z");
  CHECK(iso_utc(4107542399999) == "2100-02-28T23:59:59.999Z");
  CHECK(iso_utc(4107542400000) == "2100-03-01T00:00:00.000Z");
  CHECK(iso_utc(253402300799999) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("iso_utc before 1970 rounds down to the second before, not towards zero") {
  CHECK(iso_utc(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(iso_utc(-999) == "1969-12-31T23:59:59.001Z");
  CHECK(iso_utc(-1000) == "1969-12-31T23:59:59.000Z");
  CHECK(iso_utc(-1001) == "1969-12-31T23:59:58.999Z");
  CHECK(iso_utc(-86400000) == "1969-12-31T00:00:00.000Z");
  CHECK(iso_utc(-86400001) == "1969-12-30T23:59:59.999Z");
  CHECK(iso_utc(-2208988800000) == "1900-01-01T00:00:00.000Z");
  CHECK(iso_utc(-2203891200001) == "1900-02-28T23:59:59.999Z");  // 1900 is no leap year
  CHECK(iso_utc(-2203891200000) == "1900-03-01T00:00:00.000Z");
  CHECK(iso_utc(-62135596800000) == "0001-01-01T00:00:00.000Z");
  CHECK(iso_utc(-62167219200000) == "0000-01-01T00:00:00.000Z");
}

TEST_CASE("iso_utc agrees with gmtime_r over years 0 to 9999, both sides of 1970") {
  std::mt19937_64 rng(20251123);
  std::uniform_int_distribution<std::int64_t> any(-62167219200000, 253402300799999);
  std::uniform_int_distribution<std::int64_t> near(-5000, 5000);
  for (int i = 0; i < 20000; ++i) {
    const std::int64_t ms = i % 2 ? any(rng) : near(rng) * 86'400'000 / 7 + near(rng);
    CAPTURE(ms);
    REQUIRE(iso_utc(ms) == iso_by_gmtime(ms));
  }
}

TEST_CASE("iso_utc takes every int64 without failing") {
  CHECK(iso_utc(std::numeric_limits<std::int64_t>::min()).back() == 'Z');
  CHECK(iso_utc(std::numeric_limits<std::int64_t>::max()).back() == 'Z');
}

TEST_CASE("parse_iso_utc reads what iso_utc writes, and whole seconds") {
  CHECK(parse_iso_utc("2025-11-23T18:05:00Z") == 1763921100000);
  CHECK(parse_iso_utc("2025-11-23T18:05:00.123Z") == 1763921100123);
  CHECK(parse_iso_utc("2025-11-23T18:05:00.5Z") == 1763921100500);
  CHECK(parse_iso_utc("2025-11-23T18:05:00.05Z") == 1763921100050);
  CHECK(parse_iso_utc("2025-11-23T18:05:00.029Z") == 1763921100029);
  CHECK(parse_iso_utc("2025-11-23T18:05:00.123999Z") == 1763921100123);  // cut, not rounded
  CHECK(parse_iso_utc("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_iso_utc("1969-12-31T23:59:59.999Z") == -1);
  CHECK(parse_iso_utc("1900-01-01T00:00:00Z") == -2208988800000);
  CHECK(parse_iso_utc("0000-01-01T00:00:00Z") == -62167219200000);
  CHECK(parse_iso_utc("9999-12-31T23:59:59.999Z") == 253402300799999);
  CHECK(parse_iso_utc("2024-02-29T12:00:00Z") == 1709208000000);
  CHECK(parse_iso_utc("2016-12-31T23:59:60Z") == 1483228800000);  // leap second: the next one
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> any(-62167219200000, 253402300799999);
  for (int i = 0; i < 20000; ++i) {
    const std::int64_t ms = any(rng);
    CAPTURE(ms);
    REQUIRE(parse_iso_utc(iso_utc(ms)) == ms);
  }
}

TEST_CASE("parse_iso_utc refuses anything else") {
  for (const char* s : {"",
                        "2025-11-23",
                        "2025-11-23T18:05Z",
                        "2025-11-23T18:05:00",
                        "2025-11-23T18:05:00z",
                        "2025-11-23t18:05:00Z",
                        "2025-11-23 18:05:00Z",
                        "2025-11-23T18:05:00+01:00",
                        "2025-11-23T18:05:00.Z",
                        "2025-11-23T18:05:00.12aZ",
                        "2025-11-23T18:05:00Z ",
                        " 2025-11-23T18:05:00Z",
                        "2025-11-23T18:05:00ZZ",
                        "2025-1-23T18:05:00Z",
                        "2025-11-23T8:05:00Z",
                        "+025-11-23T18:05:00Z",
                        "-025-11-23T18:05:00Z",
                        "2025-11-23T18:05:5e1Z",
                        "2025-11-23T18:05:-1Z",
                        "20251123T180500Z",
                        "2025-13-01T00:00:00Z",
                        "2025-00-10T00:00:00Z",
                        "2025-11-00T00:00:00Z",
                        "2025-11-31T00:00:00Z",
                        "2025-02-29T00:00:00Z",
                        "2100-02-29T00:00:00Z",
                        "2025-11-23T24:00:00Z",
                        "2025-11-23T18:60:00Z",
                        "2025-11-23T18:05:61Z",
                        "yesterday"}) {
    CAPTURE(s);
    CHECK_FALSE(parse_iso_utc(s).has_value());
  }
}
