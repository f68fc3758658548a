#pragma once
/// Percent-decoding of URL paths and query strings (RFC 3986, section 2.1).
#include <optional>
#include <string>
#include <string_view>

namespace soleus::common {

/// `s` with every "%XX" (two hex digits, either case) replaced by its byte,
/// and, when `plus_is_space` (query strings, application/x-www-form-urlencoded),
/// every '+' by a space. Everything else is copied as it is.
///
/// A '%' not followed by two hex digits ("%zz", "%4", a '%' at the end) makes
/// the whole text malformed: nullopt, never a guess. Decoded bytes are not
/// checked: "%00", "%2F" and bytes that are not UTF-8 come out as they are,
/// and the caller judges them.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace soleus::common
