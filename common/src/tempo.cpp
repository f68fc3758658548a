#include "soleus/common/tempo.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace soleus::common {

namespace {

constexpr std::array<const char*, 4> kOrdinal{"1st", "2nd", "3rd", "4th"};
constexpr std::array<const char*, 4> kPhase{"lower", "pause", "raise", "hold"};

TempoResult fail(TempoErrorKind kind, std::string message) {
  TempoResult r;
  r.error = kind;
  r.message = std::move(message);
  return r;
}

/// "the 3rd number (raise), "61","
std::string which(int i, std::string_view part) {
  std::string s = std::string("the ") + kOrdinal[i] + " number (" + kPhase[i] + ")";
  if (!part.empty()) s += ", \"" + std::string(part) + "\",";
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

const char* to_string(TempoErrorKind k) {
  switch (k) {
    case TempoErrorKind::None: return "none";
    case TempoErrorKind::Character: return "character";
    case TempoErrorKind::Count: return "count";
    case TempoErrorKind::Number: return "number";
    case TempoErrorKind::Digits: return "digits";
    case TempoErrorKind::Range: return "range";
  }
  return "?";
}

TempoResult parse_tempo(std::string_view text) {
  // 1. characters
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_digit(c) || c == '.' || c == '-') continue;
    char shown[32];
    const auto u = static_cast<unsigned char>(c);
    if (u > 0x20 && u < 0x7f) std::snprintf(shown, sizeof shown, "'%c'", c);
    else std::snprintf(shown, sizeof shown, "byte 0x%02X", static_cast<unsigned>(u));
    return fail(TempoErrorKind::Character,
                std::string("only digits, '.' and '-' may appear; found ") + shown +
                    " at position " + std::to_string(i + 1));
  }
  // 2. four parts
  std::array<std::string_view, 4> part;
  std::size_t n = 0, pos = 0;
  bool empty_part = false;
  for (;;) {
    const std::size_t end = text.find('-', pos);
    const std::string_view p = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    empty_part = empty_part || p.empty();
    if (n < part.size()) part[n] = p;
    ++n;
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  if (n != 4)
    return fail(
        TempoErrorKind::Count,
        "needs four numbers separated by '-' (lower-pause-raise-hold, e.g. \"3-1-3-1\"), not " +
            std::to_string(n) + (empty_part ? " (a phase cannot be empty or negative)" : ""));
  // 3.-5. each number: its shape, its digits, its value
  double v[4];
  for (int i = 0; i < 4; ++i) {
    const std::string_view p = part[i];
    if (p.empty()) return fail(TempoErrorKind::Number, which(i, p) + " is empty");
    const std::size_t dot = p.find('.');
    if (dot != std::string_view::npos && p.find('.', dot + 1) != std::string_view::npos)
      return fail(TempoErrorKind::Number, which(i, p) + " has more than one '.'");
    if (dot == 0 || dot + 1 == p.size())
      return fail(TempoErrorKind::Number, which(i, p) + " needs digits on both sides of its '.'");
    const std::size_t int_digits = dot == std::string_view::npos ? p.size() : dot;
    const std::size_t frac_digits = dot == std::string_view::npos ? 0 : p.size() - dot - 1;
    if (int_digits > 2)
      return fail(TempoErrorKind::Digits,
                  which(i, p) + " has more than two digits before the point");
    if (frac_digits > 3)
      return fail(TempoErrorKind::Digits,
                  which(i, p) + " has more than three digits after the point");
    // Exact: at most 5 digits as an integer, one correctly rounded division.
    long scaled = 0, scale = 1;
    for (std::size_t k = 0; k < p.size(); ++k) {
      if (k == dot) continue;
      scaled = scaled * 10 + (p[k] - '0');
      if (dot != std::string_view::npos && k > dot) scale *= 10;
    }
    v[i] = static_cast<double>(scaled) / static_cast<double>(scale);
    if (v[i] > kTempoMaxPhaseS) return fail(TempoErrorKind::Range, which(i, p) + " is over 60 s");
  }
  TempoResult r;
  r.seconds = TempoSeconds{v[0], v[1], v[2], v[3]};
  return r;
}

TempoResult check_tempo(const TempoSeconds& s) {
  const double v[4] = {s.eccentric_s, s.bottom_s, s.concentric_s, s.top_s};
  for (int i = 0; i < 4; ++i) {
    if (std::isfinite(v[i]) && v[i] >= 0 && v[i] <= kTempoMaxPhaseS) continue;
    std::ostringstream os;
    os << "the " << kOrdinal[i] << " phase (" << kPhase[i] << ") is " << v[i]
       << " s; each must be within 0..60 s";
    return fail(TempoErrorKind::Range, os.str());
  }
  TempoResult r;
  r.seconds = s;
  return r;
}

}  // namespace soleus::common
