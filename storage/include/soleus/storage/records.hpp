#pragma once
/// What the daemon hands to the writer. Every record is a fixed-size,
/// trivially copyable value (text in fixed arrays, truncated to fit), so a
/// push never allocates and can cross the lock-free queue from the control loop.
/// Names follow the API contract (issue 5); the daemon converts the
/// controller's types into these (storage does not depend on controller/).
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <variant>

namespace soleus::storage {

/// A short text held inline. Longer text is cut at N-1 bytes (on a UTF-8
/// character boundary) and `truncated` is set.
template <std::size_t N>
struct FixedText {
  std::array<char, N> data{};
  std::uint16_t size = 0;
  bool truncated = false;

  FixedText() = default;
  FixedText(std::string_view s) { assign(s); }  // NOLINT: implicit by design
  void assign(std::string_view s) {
    std::size_t n = std::min(s.size(), N - 1);
    if (n < s.size()) {
      truncated = true;
      while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    } else {
      truncated = false;
    }
    if (n > 0) std::memcpy(data.data(), s.data(), n);
    data[n] = '\0';
    size = static_cast<std::uint16_t>(n);
  }
  std::string_view view() const { return {data.data(), size}; }
};

/// Severity of an event: numbers as stored (sortable) and as the controller's.
enum class Severity : std::uint8_t { Info = 0, Warning = 1, Error = 2 };
const char* to_string(Severity s);
bool parse_severity(std::string_view text, Severity& out);

/// An event for the technicians' log (table events).
struct EventRecord {
  std::int64_t t_ms = 0;  ///< wall time, ms since 1970 UTC; 0 = "now" when pushed
  Severity severity = Severity::Info;
  FixedText<48> code;      ///< stable code, docs/events.md
  FixedText<192> message;  ///< human text
  FixedText<320>
      context;  ///< JSON object with details, or empty; invalid/truncated JSON is wrapped
  std::int64_t set_id = 0;  ///< 0 = not about a set
};

/// A set as asked for, when it starts (table sets).
struct SetStartRecord {
  std::int64_t set_id = 0;         ///< from Writer::allocate_set_id()
  std::int64_t session_id = 0;     ///< 0 = none
  std::int64_t member_id = 0;      ///< 0 = guest
  std::int64_t step_id = 0;        ///< 0 = not from a programme
  int set_index = 0;               ///< 1-based within the step; 0 = none
  std::int64_t started_ms = 0;     ///< 0 = now
  FixedText<12> mode{"isotonic"};  ///< isotonic | eccentric | isometric
  double load_n = 0;
  FixedText<32> tempo;  ///< "E-B-C-T"
  int target_reps = 0;  ///< 0 for isometric
  double hold_s = 0;    ///< 0 unless isometric
  double force_drop_pct = 20;
  double eccentric_pct = 0;
};

/// A set's result, when it has ended (the same row).
struct SetEndRecord {
  std::int64_t set_id = 0;
  std::int64_t ended_ms = 0;  ///< 0 = now
  FixedText<20> stop_reason;  ///< the API's stop_reason
  int reps = 0;
  int partial_reps = 0;
  double tut_s = 0;
  double t_end_s = 0;  ///< loop time of the end: closes the set's last trace chunk
  double best_output = 0;
  double last_output = 0;
  double range_bottom_mm = 0;
  double range_top_mm = 0;
  bool range_calibrated = false;
  FixedText<20> range_note;    ///< how the set found its range ("" = none: isometric)
  double range_age_days = -1;  ///< the stored range's age when offered (-1: none)
  /// A good calibration: the range is saved as the set's member's
  /// (members.rom_*, measured now) in the same transaction. Nothing for a guest.
  bool range_save = false;
};

/// One rep attempt, with every metric (table reps; the API's rep_log).
struct RepRecord {
  std::int64_t set_id = 0;
  int seq = 0;           ///< attempt number within the set, 1, 2, ...
  int n = 0;             ///< counted-rep number; 0 for a partial
  bool partial = false;  ///< did not cover the range: not counted
  double t_start_s = 0;  ///< loop time when the concentric began
  double peak_force_n = 0;
  double mean_force_n = 0;
  double concentric_s = 0;
  double top_pause_s = 0;
  double eccentric_s = 0;
  double bottom_pause_s = 0;
  double rom_mm = 0;
  double rom_pct = 0;
  double mean_velocity_mm_s = 0;
  double smoothness = 1;
  bool on_tempo = true;
  double tempo_deviation_s = 0;
  double tut_s = 0;
  int reversals = 0;
  bool wobbly = false;
  /// Loop time at the end of the rep (start + its four phases).
  double t_end_s() const {
    return t_start_s + concentric_s + top_pause_s + eccentric_s + bottom_pause_s;
  }
};

/// A session opens (table sessions).
struct SessionStartRecord {
  std::int64_t session_id = 0;  ///< from Writer::allocate_session_id()
  std::int64_t member_id = 0;   ///< 0 = guest
  std::int64_t assignment_id = 0;
  std::int64_t started_ms = 0;  ///< 0 = now
};

/// A session closes.
struct SessionEndRecord {
  std::int64_t session_id = 0;
  std::int64_t ended_ms = 0;  ///< 0 = now
  bool aborted = false;       ///< true: ended by a fault or restart, not completed
  bool progressed = false;    ///< the progression rule was applied
};

/// Totals for the odometer that only the daemon knows.
struct OdometerRecord {
  double motor_on_s = 0;       ///< drive-enabled time since the last such record
  double highest_force_n = 0;  ///< largest force seen since the last record (0 = none)
};

/// Codes of the events the store raises itself (docs/events.md).
namespace codes {
inline constexpr std::string_view kStorageOpened = "storage_opened";
inline constexpr std::string_view kStorageMigrated = "storage_migrated";
inline constexpr std::string_view kStorageCorrupt = "storage_corrupt_moved_aside";
inline constexpr std::string_view kStorageFault = "storage_fault";
inline constexpr std::string_view kStorageRecovered = "storage_recovered";
inline constexpr std::string_view kStorageQueueOverflow = "storage_queue_overflow";
inline constexpr std::string_view kStorageRecordsLost = "storage_records_lost";
inline constexpr std::string_view kStorageRecordRejected = "storage_record_rejected";
inline constexpr std::string_view kStorageTracesDropped = "storage_traces_dropped";
inline constexpr std::string_view kStorageRetention = "storage_retention";
inline constexpr std::string_view kSetInterrupted = "set_interrupted";
inline constexpr std::string_view kFleetOutboxFull = "fleet_outbox_full";
inline constexpr std::string_view kFleetOutboxOk = "fleet_outbox_ok";
}  // namespace codes

using Record = std::variant<EventRecord, SetStartRecord, SetEndRecord, RepRecord,
                            SessionStartRecord, SessionEndRecord, OdometerRecord>;
static_assert(std::is_trivially_copyable_v<Record>, "records cross a lock-free queue");

}  // namespace soleus::storage
