#pragma once
/// Wall-clock time as Unix milliseconds, and its one text form: RFC 3339 in
/// UTC with milliseconds, "2025-11-23T18:05:00.000Z".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace soleus::common {

/// Unix ms now (the system clock, plus the wall-clock offset below: 0 in the
/// daemon that ships).
std::int64_t unix_ms_now();

/// Shifts unix_ms_now() (calendar time only: the steady clocks the control
/// loop and the timeouts use are untouched). Only soleusd-test's hooks set it
/// (tests/support/daemon_hooks.cpp, SOLEUS_TEST_CLOCK_FILE), so a browser test
/// can run sessions "days apart"; soleusd never does.
void set_wall_clock_offset_ms(std::int64_t offset_ms);
std::int64_t wall_clock_offset_ms();

/// "2025-11-23T18:05:00.123Z" for Unix ms `ms`, rounded down to the
/// millisecond's second: -1 is "1969-12-31T23:59:59.999Z". Years outside
/// 0000–9999 (which RFC 3339 cannot write) come out with more digits or a sign.
std::string iso_utc(std::int64_t ms);

/// Unix ms of "YYYY-MM-DDTHH:MM:SSZ" with an optional fraction of a second
/// after the seconds ("…:00.5Z", "…:00.123456Z"; digits past the millisecond are
/// dropped). Exactly these digits, uppercase 'T' and 'Z', no zone offset; a
/// date that does not exist (2025-02-30) is refused, not moved on; a leap second
/// (:60) counts as the next second's start. nullopt when `s` is not that.
std::optional<std::int64_t> parse_iso_utc(std::string_view s);

}  // namespace soleus::common
