#include "soleus/hmi/security.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <utility>
#include <vector>

namespace soleus::hmi {
namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 0xF];
  }
  return out;
}

bool from_hex(std::string_view s, std::vector<unsigned char>& out) {
  if (s.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out.clear();
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = nibble(s[i]);
    const int lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return true;
}

void random_bytes(unsigned char* p, std::size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1)
    throw std::runtime_error("OpenSSL RAND_bytes failed");
}

bool derive(std::string_view pin, const std::vector<unsigned char>& salt, int iterations,
            unsigned char* out, std::size_t n) {
  return PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()), salt.data(),
                           static_cast<int>(salt.size()), iterations, EVP_sha256(),
                           static_cast<int>(n), out) == 1;
}

struct Parsed {
  int iterations = 0;
  std::vector<unsigned char> salt;
  std::vector<unsigned char> hash;
};

std::optional<Parsed> parse_hash(std::string_view s, std::string* why) {
  auto fail = [&](const char* m) -> std::optional<Parsed> {
    if (why) *why = m;
    return std::nullopt;
  };
  // scheme$iterations$salt$hash
  std::string_view parts[4];
  for (int i = 0; i < 3; ++i) {
    const auto d = s.find('$');
    if (d == std::string_view::npos)
      return fail("expected \"pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX\" (see make_pin_hash)");
    parts[i] = s.substr(0, d);
    s.remove_prefix(d + 1);
  }
  parts[3] = s;
  if (parts[0] != kScheme) return fail("unknown scheme; expected pbkdf2-sha256");
  Parsed p;
  if (parts[1].empty() || parts[1].size() > 9) return fail("bad iteration count");
  for (char c : parts[1]) {
    if (c < '0' || c > '9') return fail("bad iteration count");
    p.iterations = p.iterations * 10 + (c - '0');
  }
  if (p.iterations < kMinPinHashIterations)
    return fail("fewer than 100000 iterations: make a new hash with make_pin_hash");
  if (!from_hex(parts[2], p.salt) || p.salt.size() < 8) return fail("bad salt");
  if (!from_hex(parts[3], p.hash) || p.hash.size() != kHashBytes) return fail("bad hash");
  return p;
}

}  // namespace

bool is_valid_pin(std::string_view pin) {
  if (pin.size() < 4 || pin.size() > 12) return false;
  for (char c : pin)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string make_pin_hash(std::string_view pin, int iterations) {
  if (iterations < kMinPinHashIterations)
    throw std::invalid_argument("make_pin_hash: fewer than 100000 iterations");
  std::vector<unsigned char> salt(kSaltBytes);
  random_bytes(salt.data(), salt.size());
  unsigned char out[kHashBytes];
  if (!derive(pin, salt, iterations, out, kHashBytes))
    throw std::runtime_error("OpenSSL PKCS5_PBKDF2_HMAC failed");
  return std::string(kScheme) + "$" + std::to_string(iterations) + "$" +
         to_hex(salt.data(), salt.size()) + "$" + to_hex(out, kHashBytes);
}

bool is_valid_pin_hash(std::string_view stored, std::string* why) {
  return parse_hash(stored, why).has_value();
}

bool verify_pin(std::string_view pin, std::string_view stored) {
  const auto p = parse_hash(stored, nullptr);
  if (!p) return false;
  unsigned char out[kHashBytes];
  if (!derive(pin, p->salt, p->iterations, out, kHashBytes)) return false;
  return CRYPTO_memcmp(out, p->hash.data(), kHashBytes) == 0;
}

std::string random_token() {
  unsigned char b[32];
  random_bytes(b, sizeof b);
  return to_hex(b, sizeof b);
}

// ---- Lockout ---------------------------------------------------------------

std::optional<int> Lockout::admit(const std::string& account, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune(now);
  Entry& e = entries_[account];
  e.last = now;
  if (e.locked_until > now) {
    const auto s = std::chrono::ceil<std::chrono::seconds>(e.locked_until - now).count();
    return static_cast<int>(s);
  }
  if (e.locked_until != Clock::time_point{}) {  // a lock has run out: start afresh
    e.locked_until = {};
    e.failures = 0;
  }
  if (e.failures + e.in_flight >= max_failures_) return static_cast<int>(kLockTime.count());
  ++e.in_flight;
  return std::nullopt;
}

void Lockout::finish(const std::string& account, bool success, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Entry& e = entries_[account];
  e.last = now;
  if (e.in_flight > 0) --e.in_flight;
  if (success) {
    if (clear_on_success_) e.failures = 0;
    return;
  }
  if (++e.failures >= max_failures_) e.locked_until = now + kLockTime;
}

void Lockout::cancel(const std::string& account) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account);
  if (it != entries_.end() && it->second.in_flight > 0) --it->second.in_flight;
}

bool Lockout::locked(const std::string& account, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(account);
  return it != entries_.end() && it->second.locked_until > now;
}

void Lockout::prune(Clock::time_point now) {
  // Forget accounts untouched for twice the lock time, so that guessing at
  // random member numbers cannot grow the table without bound.
  if (entries_.size() < 1024) return;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (e.in_flight == 0 && e.locked_until <= now && now - e.last > 2 * kLockTime)
      it = entries_.erase(it);
    else ++it;
  }
}

// ---- Tokens ----------------------------------------------------------------

const char* to_string(Role r) {
  switch (r) {
    case Role::Guest: return "guest";
    case Role::Member: return "member";
    case Role::Staff: return "staff";
    case Role::Maintenance: return "maintenance";
  }
  return "?";
}

std::pair<std::string, Session> TokenStore::issue(Role role, std::optional<std::int64_t> member_id,
                                                  Clock::time_point now) {
  Session s;
  s.role = role;
  s.member_id = member_id;
  return issue(std::move(s), now);
}

std::pair<std::string, Session> TokenStore::issue(Session s, Clock::time_point now) {
  s.expires = now + lifetime_;
  s.last_used = now;
  std::string token = random_token();
  std::lock_guard lock(mutex_);
  if (++issued_since_prune_ >= 64) {
    prune(now);
    issued_since_prune_ = 0;
  }
  sessions_[token] = s;
  return {token, s};
}

TokenStore::Check TokenStore::check(const std::string& token, Clock::time_point now,
                                    const std::function<bool()>& busy, Session& out) {
  std::unique_lock lock(mutex_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return Check::Unknown;
  if (now >= it->second.expires) {
    sessions_.erase(it);
    return Check::Expired;
  }
  if (now - it->second.last_used >= idle_of(it->second.role)) {
    lock.unlock();  // busy() asks the backend: not under our lock
    const bool is_busy = busy && busy();
    lock.lock();
    it = sessions_.find(token);
    if (it == sessions_.end()) return Check::Unknown;
    if (!is_busy) {
      sessions_.erase(it);
      return Check::Idle;
    }
  }
  Session& s = it->second;
  s.last_used = now;
  out = s;
  return Check::Ok;
}

void TokenStore::revoke(const std::string& token) {
  std::lock_guard lock(mutex_);
  sessions_.erase(token);
}

void TokenStore::revoke_staff(std::int64_t staff_id) {
  std::lock_guard lock(mutex_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.staff_id == staff_id) it = sessions_.erase(it);
    else ++it;
  }
}

std::size_t TokenStore::size() {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void TokenStore::prune(Clock::time_point now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const Session& s = it->second;
    if (now >= s.expires || now - s.last_used >= 2 * idle_of(s.role)) it = sessions_.erase(it);
    else ++it;
  }
}

}  // namespace soleus::hmi
