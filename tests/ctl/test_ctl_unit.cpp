// soleusctl's pure pieces: time parsing, option parsing, the table, CSV.
#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <sstream>

#include "soleus/ctl/ctl.hpp"
#include "soleus/ctl/table.hpp"

using namespace soleus::ctl;

namespace {
struct Utc {
  Utc() {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};
constexpr std::int64_t kNow = 1'795'000'000'000;  // 2026-11-18T11:06:40Z
std::optional<std::int64_t> t(const char* s, bool eod = false) {
  std::string err;
  auto v = parse_time(s, kNow, eod, &err);
  if (!v) MESSAGE(s << ": " << err);
  return v;
}
}  // namespace

TEST_CASE("soleusctl unit: parse_time: ISO 8601, ages, Unix ms, errors") {
  Utc utc;
  CHECK(t("2026-11-18T11:06:40Z") == kNow);
  CHECK(t("2026-11-18T11:06:40.250Z") == kNow + 250);
  CHECK(t("2026-11-18 11:06:40") == kNow);  // local = UTC here
  CHECK(t("2026-11-18 11:06") == kNow - 40'000);
  CHECK(t("2026-11-18T12:06:40+01:00") == kNow);
  CHECK(t("2026-11-18T10:06:40-0100") == kNow);
  CHECK(t("2026-11-18") == kNow - (11 * 3600 + 6 * 60 + 40) * 1000LL);
  CHECK(t("2026-11-18", true) == *t("2026-11-19"));     // --until DATE: the whole day
  CHECK(t("2026-11-18 11:06", true) == kNow - 40'000);  // a time is exact
  CHECK(t("2h") == kNow - 7'200'000);
  CHECK(t("30m") == kNow - 1'800'000);
  CHECK(t("7d") == kNow - 7 * 86'400'000LL);
  CHECK(t("1.5h") == kNow - 5'400'000);
  CHECK(t("90s") == kNow - 90'000);
  CHECK(t("2w") == kNow - 14 * 86'400'000LL);
  CHECK(t("1795000000000") == kNow);
  std::string err;
  for (const char* bad :
       {"", "yesterday", "2026-11-31", "2026-13-01", "2026-02-30", "2026-11-18T25:00",
        "2026-11-18X", "1795000000", "2x", "h", "-2h", "2026-11-18T11", "1.h"}) {
    CHECK_MESSAGE(!parse_time(bad, kNow, false, &err), bad);
    CHECK(!err.empty());
  }
  // Local time follows TZ (POSIX rule: 1 h east of UTC, no DST).
  setenv("TZ", "XXX-1", 1);
  tzset();
  CHECK(t("2026-11-18 12:06:40") == kNow);
  CHECK(t("2026-11-18T11:06:40Z") == kNow);
  CHECK(format_local(kNow) == "2026-11-18 12:06:40");
  setenv("TZ", "UTC", 1);
  tzset();
  CHECK(format_local(kNow) == "2026-11-18 11:06:40");
  CHECK_THROWS_AS(parse_time_option("nope", "--since", false), UsageError);
}

TEST_CASE("soleusctl unit: parse_args: values, flags, positional, errors naming the argument") {
  Command c{"events", "", "", {{"--limit", "N", ""}, {"--context", "", ""}}, 1, "", nullptr};
  auto a = parse_args(c, {"--limit", "5", "--context", "x"});
  CHECK(a.get("--limit") == "5");
  CHECK(a.has("--context"));
  CHECK(a.positional == std::vector<std::string>{"x"});
  CHECK(parse_args(c, {"--limit=7"}).get("--limit") == "7");
  auto msg = [&](const std::vector<std::string>& args) {
    try {
      parse_args(c, args);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(msg({"--nope"}).find("'--nope'") != std::string::npos);
  CHECK(msg({"--limit"}).find("--limit needs a value") != std::string::npos);
  CHECK(msg({"x", "y"}).find("'y'") != std::string::npos);
  CHECK(msg({"--context=1"}).find("--context") != std::string::npos);
  CHECK(parse_int("12", "--n", 1, 20) == 12);
  CHECK_THROWS_AS(parse_int("12x", "--n", 1, 20), UsageError);
  CHECK_THROWS_AS(parse_int("0", "--n", 1, 20), UsageError);
  CHECK_THROWS_AS(parse_int("", "--n", 1, 20), UsageError);
}

TEST_CASE("soleusctl unit: Table: aligned columns, numbers right, long cells cut") {
  Table tb({{"id", true}, {"code"}, {"message", false, 10}});
  tb.add({"7", "comm_loss", "short"});
  tb.add({"1234", "é", "a much longer message"});
  std::ostringstream os;
  tb.print(os);
  CHECK(os.str() ==
        "  id  code       message\n"
        "----  ---------  ----------\n"
        "   7  comm_loss  short\n"
        "1234  é          a much ...\n");
  CHECK(format_count(1000000) == "1 000 000");
  CHECK(format_count(999) == "999");
  CHECK(format_bytes(1536) == "1.5 KiB");
}

TEST_CASE("soleusctl unit: parse_csv: RFC 4180") {
  auto rows = parse_csv("a,b,c\r\n1,\"x, \"\"y\"\"\",\r\n\"multi\nline\",2,3\r\n");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<std::string>{"a", "b", "c"});
  CHECK(rows[1] == std::vector<std::string>{"1", "x, \"y\"", ""});
  CHECK(rows[2][0] == "multi\nline");
  CHECK(parse_csv("x,y").size() == 1);
  CHECK(parse_csv("").empty());
}
