#pragma once
/// PIN hashes between the machines of a site (issue 14 §2, docs/fleet.md
/// "PINs"). A stored hash "pbkdf2-sha256$ITER$SALT$HASH" travels as
/// "sealed1$ITER$SALT$MASKED" with MASKED = HASH xor HMAC-SHA256(pepper,
/// "soleus-pin|" uid "|" SALT): without the site's pepper, which never
/// travels, the payload gives nothing to crack offline. Each machine of the
/// site unseals it to the very hash made on the first, so a PIN set on one
/// verifies on every other with the unchanged verify_pin(). Pure (OpenSSL's
/// HMAC).
#include <optional>
#include <string>
#include <string_view>

namespace soleus::app {

/// The sealed form of `stored` for record `uid`; nullopt when `stored` is
/// not a pbkdf2-sha256 hash of 32 bytes.
std::optional<std::string> seal_pin_hash(std::string_view pepper, std::string_view uid,
                                         std::string_view stored);
/// The stored form back; nullopt when `sealed` is malformed.
std::optional<std::string> unseal_pin_hash(std::string_view pepper, std::string_view uid,
                                           std::string_view sealed);

}  // namespace soleus::app
