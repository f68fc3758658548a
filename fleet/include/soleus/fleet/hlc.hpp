#pragma once
/// A hybrid logical clock (Kulkarni et al., 2014) for the shared records'
/// versions (issue 14 §2, docs/fleet.md "Shared records"). Pure: the caller
/// gives the wall clock.
///
/// A timestamp is physical milliseconds and a logical counter, packed into
/// one unsigned 64-bit value (48 bits of ms, good until the year 10889, and
/// 16 bits of counter), so that the packed value orders as the pair does:
///  * send (a local event): max(last + 1, now_ms << 16): the wall clock when
///    it is ahead, else the last value with the counter one higher;
///  * receive: max(last + 1, remote + 1, now_ms << 16): never behind a
///    version seen, so an edit made after applying a record is newer than it,
///    whatever the two machines' clocks say.
/// A clock that goes backwards or a machine whose clock runs behind still
/// issues increasing values (the counter carries them); a machine whose
/// clock runs ahead drags the others' clocks with it, by as much as it is
/// ahead (the HLC's known cost, docs/fleet.md).
///
/// A version is the timestamp and the machine that wrote it; versions order
/// by timestamp, then by machine name: a total order, the same on every
/// machine, so every machine picks the same winner.
///
/// The storage's triggers (migration 9, storage/src/schema.cpp) apply the
/// same send rule in SQL to the packed value (fleet_state.hlc), and applying
/// a remote record stores receive()'s result there: tests/fleet/test_hlc.cpp
/// tests the rules, tests/app/test_shared_sync.cpp the store's use of them
/// (a machine whose clock runs behind).
#include <algorithm>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace soleus::fleet {

struct Hlc {
  std::uint64_t packed = 0;

  static constexpr int kCounterBits = 16;
  static constexpr std::uint64_t kCounterMask = (std::uint64_t{1} << kCounterBits) - 1;

  static constexpr Hlc from(std::uint64_t ms, std::uint64_t counter) {
    return Hlc{(ms << kCounterBits) | (counter & kCounterMask)};
  }
  constexpr std::uint64_t ms() const { return packed >> kCounterBits; }
  constexpr std::uint64_t counter() const { return packed & kCounterMask; }

  friend constexpr auto operator<=>(const Hlc&, const Hlc&) = default;

  /// 16 hex digits, zero-padded: orders as text as it does as a number (and
  /// survives JSON readers that keep numbers in doubles).
  std::string to_string() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i) s[static_cast<std::size_t>(i)] = kHex[(packed >> (4 * (15 - i))) & 0xf];
    return s;
  }
  static std::optional<Hlc> parse(std::string_view s) {
    if (s.size() != 16) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
      int d = 0;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else
        return std::nullopt;
      v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    return Hlc{v};
  }
};

/// The clock of one machine. Not thread-safe (one owner).
class HlcClock {
 public:
  explicit HlcClock(Hlc last = {}) : last_(last) {}
  /// A timestamp for a local event at wall-clock `now_ms`.
  Hlc send(std::uint64_t now_ms) {
    last_ = Hlc{std::max(last_.packed + 1, now_ms << Hlc::kCounterBits)};
    return last_;
  }
  /// Takes in a remote timestamp seen at `now_ms`; returns the new value.
  Hlc receive(Hlc remote, std::uint64_t now_ms) {
    last_ = Hlc{std::max({last_.packed + 1, remote.packed + 1, now_ms << Hlc::kCounterBits})};
    return last_;
  }
  Hlc last() const { return last_; }

 private:
  Hlc last_;
};

/// A record's version: its timestamp and the machine that wrote it.
struct Version {
  Hlc hlc;
  std::string machine;
  friend auto operator<=>(const Version&, const Version&) = default;
};

}  // namespace soleus::fleet
