#include "soleus/common/time.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>

namespace soleus::common {

namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;

// Days since 1970-01-01 in the proleptic Gregorian calendar and back, in
// 64-bit integers for any Unix ms (H. Hinnant's civil_from_days and
// days_from_civil): no time_t, no gmtime/timegm, no years cut at 1970.
struct Civil {
  std::int64_t year;
  unsigned month;  // 1–12
  unsigned day;    // 1–31
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);                    // [0, 146096]
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const unsigned mp = (5 * doy + 2) / 153;  // [0, 11], months from March
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);  // [0, 399]
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap_year(std::int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : kDays[m - 1];
}

/// Reads exactly `n` decimal digits at `p` into `out`.
bool digits(std::string_view s, std::size_t p, std::size_t n, unsigned& out) {
  if (p + n > s.size()) return false;
  out = 0;
  for (std::size_t i = p; i < p + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

}  // namespace

namespace {
std::atomic<std::int64_t> g_wall_offset_ms{0};
}  // namespace

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         g_wall_offset_ms.load(std::memory_order_relaxed);
}

void set_wall_clock_offset_ms(std::int64_t offset_ms) {
  g_wall_offset_ms.store(offset_ms, std::memory_order_relaxed);
}

std::int64_t wall_clock_offset_ms() { return g_wall_offset_ms.load(std::memory_order_relaxed); }

std::string iso_utc(std::int64_t ms) {
  std::int64_t days = ms / kMsPerDay;  // rounded down, also before 1970
  std::int64_t in_day = ms % kMsPerDay;
  if (in_day < 0) {
    --days;
    in_day += kMsPerDay;
  }
  const Civil c = civil_from_days(days);
  const auto t = static_cast<int>(in_day);  // [0, 86'399'999]
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<long long>(c.year), c.month, c.day, t / 3'600'000, t / 60'000 % 60,
                t / 1000 % 60, t % 1000);
  return buf;
}

std::optional<std::int64_t> parse_iso_utc(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.f…]Z
  unsigned year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || s[10] != 'T' || !digits(s, 11, 2, hour) ||
      s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second))
    return std::nullopt;
  std::size_t p = 19;
  unsigned millis = 0;
  if (s[p] == '.') {
    ++p;
    const std::size_t first = p;
    for (; p < s.size() && s[p] >= '0' && s[p] <= '9'; ++p)
      if (p - first < 3) millis = millis * 10 + static_cast<unsigned>(s[p] - '0');
    if (p == first) return std::nullopt;
    for (std::size_t n = p - first; n < 3; ++n) millis *= 10;
  }
  if (p + 1 != s.size() || s[p] != 'Z') return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60)
    return std::nullopt;
  return days_from_civil(year, month, day) * kMsPerDay + hour * 3'600'000LL + minute * 60'000LL +
         second * 1000LL + millis;
}

}  // namespace soleus::common
