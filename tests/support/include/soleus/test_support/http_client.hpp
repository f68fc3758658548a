#pragma once
/// A small blocking HTTP client for tests that drive soleusd's API on
/// 127.0.0.1, and the text helpers they use on configuration files.
#include <cstddef>
#include <string>

#include <boost/json.hpp>

namespace soleus::test {

struct Reply {
  unsigned status = 0;      ///< 0: no answer (connection refused, reset, timed out)
  boost::json::value body;  ///< parsed JSON, or null
  std::string text;         ///< the body as sent, or the error when status is 0
};

/// One request (method "GET", "POST", "PUT", "DELETE"), 10 s at most. Never throws.
Reply request(int port, const std::string& method, const std::string& target,
              const std::string& body = {}, const std::string& token = {});
inline Reply get(int port, const std::string& target, const std::string& token = {}) {
  return request(port, "GET", target, {}, token);
}
inline Reply post(int port, const std::string& target, const std::string& body,
                  const std::string& token = {}) {
  return request(port, "POST", target, body, token);
}

/// A JSON number as double (-1e9 when not a number).
double num(const boost::json::value& v);
/// A whole file's text ("" when unreadable).
std::string read_text(const std::string& path);
/// Replaces the first `from` in `s`; throws std::runtime_error when absent.
void replace_once(std::string& s, const std::string& from, const std::string& to);
/// The last `n` characters (for failure messages).
std::string tail(const std::string& s, std::size_t n = 5000);

}  // namespace soleus::test
