#pragma once
/// The one tempo grammar (docs/api.md, "Tempo"): "E-B-C-T", the seconds of the
/// eccentric (lower), bottom pause, concentric (raise) and top pause.
///
///   tempo  = number "-" number "-" number "-" number
///   number = digit [digit] ["." digit [digit [digit]]]     (value ≤ 60)
///
/// Nothing else: no sign, no exponent, no spaces, no leading or trailing ".",
/// at most two digits before the point and three after, each value at most
/// kTempoMaxPhaseS. The checks run in this order and the first that fails
/// names the error's kind: character, count, number, digits, range.
/// (At most three decimals keep a parsed tempo exact through a 6-significant-
/// digit print such as controller::Tempo::to_string, so a printed tempo parses
/// again.)
///
/// Rules on the values that belong to one user (the controller's "not all zero
/// for a dynamic set", the simulator's "lowering and rising at least 0.2 s")
/// are that user's checks on the parsed seconds, not part of the grammar.
/// The touchscreen's keypad (hmi/web/js/validate.js) follows the same grammar;
/// tests/common/tempo_cases.json holds the cases both test suites run.
#include <string>
#include <string_view>

namespace soleus::common {

/// The longest a phase may be, s (part of the grammar).
inline constexpr double kTempoMaxPhaseS = 60;

/// The four phases in the order a tempo string writes them.
struct TempoSeconds {
  double eccentric_s = 0;
  double bottom_s = 0;
  double concentric_s = 0;
  double top_s = 0;
};

/// Why a text is not a tempo, the first failing check in the grammar's order.
enum class TempoErrorKind {
  None,       ///< parsed
  Character,  ///< a character other than 0-9, '.' and '-'
  Count,      ///< not four numbers separated by '-'
  Number,     ///< a number is empty or its '.' is misplaced or doubled
  Digits,     ///< more than two digits before the point or three after it
  Range,      ///< a phase over kTempoMaxPhaseS (or, for values, negative or not finite)
};

/// "none", "character", "count", "number", "digits", "range" (the names of
/// tests/common/tempo_cases.json).
const char* to_string(TempoErrorKind k);

/// The parse's outcome: the seconds, or the kind and a sentence for a person
/// ("the 3rd number, \"61\", is over 60 s").
struct TempoResult {
  TempoSeconds seconds{};
  TempoErrorKind error = TempoErrorKind::None;
  std::string message;  ///< empty when parsed
  bool ok() const { return error == TempoErrorKind::None; }
  explicit operator bool() const { return ok(); }
};

/// Parses a tempo string by the grammar above.
TempoResult parse_tempo(std::string_view text);

/// The grammar's bounds on phases given as numbers (e.g. a JSON array): each
/// finite and within 0..kTempoMaxPhaseS. Error kind Range, or None.
TempoResult check_tempo(const TempoSeconds& s);

}  // namespace soleus::common
