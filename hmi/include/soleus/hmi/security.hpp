#pragma once
/// PIN hashing, login lockout and bearer tokens for the HMI server.
///
/// Principle of operation:
///  1. A PIN is never stored. make_pin_hash() derives 32 bytes with
///     PBKDF2-HMAC-SHA256 (OpenSSL) from the PIN and a fresh 16-byte random
///     salt, and writes "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX".
///     verify_pin() repeats the derivation with the stored salt and count and
///     compares in constant time. A derivation takes tens of milliseconds on
///     purpose, so it runs on the server's worker threads, never on the
///     network thread.
///  2. Lockout counts failures per account (the shared staff PIN, each named
///     staff account, the maintenance PIN, each member number). An attempt is admitted before the
///     slow check and counted as in flight, so parallel guesses cannot exceed the limit. The fifth
///     failure locks that account alone for the lockout time; a success clears its count. A second
///     Lockout, keyed by the client's address with a higher limit (kClientMaxFailures), stops one
///     client guessing one PIN across many member numbers.
///  3. A token is 32 random bytes in hex. It expires at an absolute time, and a
///     token also after an idle time without use (members and guests:
///     member_idle_logout_s; staff and maintenance: staff_idle_logout_s).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace soleus::hmi {

using Clock = std::chrono::steady_clock;

constexpr int kPinHashIterations = 150000;     ///< make_pin_hash()'s default
constexpr int kMinPinHashIterations = 100000;  ///< the least a stored hash may use

/// A new hash of `pin` for the configuration or the database.
std::string make_pin_hash(std::string_view pin, int iterations = kPinHashIterations);
/// True when `pin` matches `stored`. False for a malformed `stored`.
bool verify_pin(std::string_view pin, std::string_view stored);
/// Checks the format of a stored hash; on failure, says why in `why`.
bool is_valid_pin_hash(std::string_view stored, std::string* why = nullptr);
/// A PIN is 4 to 12 digits.
bool is_valid_pin(std::string_view pin);
/// 32 random bytes from OpenSSL's CSPRNG, in hex.
std::string random_token();

/// Failure counting per account. Thread-safe.
class Lockout {
 public:
  static constexpr int kMaxFailures = 5;
  static constexpr int kClientMaxFailures = 20;  ///< failures per client address (all accounts)
  /// `clear_on_success` false: a success does not forgive earlier failures
  /// (the per-client count: logging in to one's own account between guesses
  /// must not reset it); the failures then run out with a lock's time.
  explicit Lockout(int max_failures = kMaxFailures, bool clear_on_success = true)
      : max_failures_(max_failures), clear_on_success_(clear_on_success) {}
  static constexpr std::chrono::seconds kLockTime{300};

  /// Admits one attempt on `account`, or returns the seconds until it unlocks.
  /// Every admitted attempt must be followed by finish().
  std::optional<int> admit(const std::string& account, Clock::time_point now);
  void finish(const std::string& account, bool success, Clock::time_point now);
  /// An admitted attempt that was not made (another lock refused it): not counted.
  void cancel(const std::string& account);
  bool locked(const std::string& account, Clock::time_point now);

 private:
  struct Entry {
    int failures = 0;
    int in_flight = 0;
    Clock::time_point locked_until{};
    Clock::time_point last{};
  };
  void prune(Clock::time_point now);
  int max_failures_;
  bool clear_on_success_;
  std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

/// The roles of issue 5, plus Guest (a member's quick start without an account).
enum class Role { Guest, Member, Staff, Maintenance };
const char* to_string(Role r);

struct Session {
  Role role = Role::Guest;
  std::optional<std::int64_t> member_id;
  /// Staff signed in with a named account (issue 13): its id, name and admin
  /// flag. No staff_id: the shared staff PIN (or another role).
  std::optional<std::int64_t> staff_id;
  std::string staff_name;
  bool staff_admin = false;
  Clock::time_point expires{};
  Clock::time_point last_used{};
};

/// Bearer tokens. Thread-safe.
class TokenStore {
 public:
  /// Member and guest tokens idle out after `member_idle`, staff and
  /// maintenance tokens after `staff_idle` (an unattended staff screen).
  TokenStore(std::chrono::milliseconds lifetime, std::chrono::milliseconds member_idle,
             std::chrono::milliseconds staff_idle = std::chrono::minutes(5))
      : lifetime_(lifetime), member_idle_(member_idle), staff_idle_(staff_idle) {}
  /// Issues a token; returns it with its session.
  std::pair<std::string, Session> issue(Role role, std::optional<std::int64_t> member_id,
                                        Clock::time_point now);
  /// Issues a token for `s` (its role, member and staff fields; the times are set here).
  std::pair<std::string, Session> issue(Session s, Clock::time_point now);
  enum class Check { Ok, Unknown, Expired, Idle };
  /// Looks a token up and marks it used. `busy()` (asked only when a member's or
  /// guest's idle time has run out) tells whether a set is running, which
  /// keeps the idle clock from logging out someone in the middle of a set.
  Check check(const std::string& token, Clock::time_point now, const std::function<bool()>& busy,
              Session& out);
  void revoke(const std::string& token);
  /// Ends every session of a staff account (deactivated, or its PIN changed).
  void revoke_staff(std::int64_t staff_id);
  std::size_t size();

 private:
  void prune(Clock::time_point now);
  std::chrono::milliseconds lifetime_;
  std::chrono::milliseconds member_idle_;
  std::chrono::milliseconds staff_idle_;
  std::chrono::milliseconds idle_of(Role r) const {
    return r == Role::Member || r == Role::Guest ? member_idle_ : staff_idle_;
  }
  std::mutex mutex_;
  std::map<std::string, Session, std::less<>> sessions_;
  std::size_t issued_since_prune_ = 0;
};

}  // namespace soleus::hmi
