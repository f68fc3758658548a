#include "soleus/test_support/http_client.hpp"

#include "soleus/test_support/hmi_client.hpp"

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace soleus::test {

Reply request(int port, const std::string& method, const std::string& target,
              const std::string& body, const std::string& token) {
  Reply r;
  try {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    const hmi::test::HttpReply h =
        hmi::test::http_request(static_cast<std::uint16_t>(port), method, target, body, headers);
    r.status = static_cast<unsigned>(h.status);
    r.text = h.body;
    r.body = h.json();
  } catch (const std::exception& e) {
    r.status = 0;  // the daemon is not (or no longer) answering
    r.text = e.what();
  }
  return r;
}

double num(const boost::json::value& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return -1e9;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void replace_once(std::string& s, const std::string& from, const std::string& to) {
  const auto p = s.find(from);
  if (p == std::string::npos) throw std::runtime_error("text not found: " + from);
  s.replace(p, from.size(), to);
}

std::string tail(const std::string& s, std::size_t n) {
  return s.size() > n ? s.substr(s.size() - n) : s;
}

}  // namespace soleus::test
