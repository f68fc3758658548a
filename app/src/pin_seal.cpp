#include "soleus/app/pin_seal.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <vector>

namespace soleus::app {

namespace {

struct Parts {
  std::string iter, salt, hash;
};

std::optional<Parts> split(std::string_view s, std::string_view scheme) {
  if (s.substr(0, scheme.size()) != scheme || s.size() <= scheme.size() || s[scheme.size()] != '$')
    return std::nullopt;
  s.remove_prefix(scheme.size() + 1);
  const auto a = s.find('$');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = s.find('$', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  Parts p{std::string(s.substr(0, a)), std::string(s.substr(a + 1, b - a - 1)),
          std::string(s.substr(b + 1))};
  if (p.hash.size() != 64 || p.iter.empty() || p.salt.empty()) return std::nullopt;
  for (char c : p.hash + p.salt)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  for (char c : p.iter)
    if (c < '0' || c > '9') return std::nullopt;
  return p;
}

int nibble(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

// HASH xor HMAC-SHA256(pepper, "soleus-pin|uid|salt"), in hex.
std::string mask(std::string_view pepper, std::string_view uid, const Parts& p) {
  const std::string msg = "soleus-pin|" + std::string(uid) + "|" + p.salt;
  std::array<unsigned char, EVP_MAX_MD_SIZE> key{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), pepper.data(), static_cast<int>(pepper.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), key.data(), &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < 32; ++i) {
    const int byte = (nibble(p.hash[2 * i]) << 4 | nibble(p.hash[2 * i + 1])) ^ key[i];
    out[2 * i] = kHex[(byte >> 4) & 0xf];
    out[2 * i + 1] = kHex[byte & 0xf];
  }
  return out;
}

}  // namespace

std::optional<std::string> seal_pin_hash(std::string_view pepper, std::string_view uid,
                                         std::string_view stored) {
  const auto p = split(stored, "pbkdf2-sha256");
  if (!p) return std::nullopt;
  return "sealed1$" + p->iter + "$" + p->salt + "$" + mask(pepper, uid, *p);
}

std::optional<std::string> unseal_pin_hash(std::string_view pepper, std::string_view uid,
                                           std::string_view sealed) {
  const auto p = split(sealed, "sealed1");
  if (!p) return std::nullopt;
  return "pbkdf2-sha256$" + p->iter + "$" + p->salt + "$" + mask(pepper, uid, *p);
}

}  // namespace soleus::app
