#pragma once
// Small blocking HTTP and WebSocket clients for tests of the HMI server and of
// soleusd's API (Beast stays in hmi_client.cpp so test files compile quickly).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

namespace soleus::hmi::test {

struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  ///< names in lower case
  boost::json::value json() const;
  /// error.field of an error reply ("" when null or absent).
  std::string field() const;
};

/// One request on a fresh connection. `headers` are extra request headers.
HttpReply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body = {},
                       const std::map<std::string, std::string>& headers = {});

/// The status of a WebSocket handshake on /api/v1/live (101 when accepted).
int ws_handshake_status(std::uint16_t port, const std::optional<std::string>& origin);

/// A live client reading on its own thread, recording every frame and its
/// arrival time (Unix µs).
class LiveClient {
 public:
  explicit LiveClient(std::uint16_t port);
  ~LiveClient();
  std::size_t count();
  std::vector<std::pair<std::string, std::int64_t>> frames();  ///< text, arrival µs
  bool closed() const { return closed_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> closed_{false};
};

/// A client that completes the handshake and then never reads, with a tiny
/// receive buffer so that the server's writes stall quickly.
class StalledClient {
 public:
  explicit StalledClient(std::uint16_t port);
  ~StalledClient();
  /// True once the server has closed the connection (checked without reading frames:
  /// peeks for EOF after draining is not possible, so this asks the kernel).
  bool server_closed();
  /// Starts reading: true when the stream ends (the server closed it) within
  /// `limit`, false when frames keep coming (it is still open).
  bool read_until_closed(std::chrono::milliseconds limit);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::int64_t now_unix_us();

}  // namespace soleus::hmi::test
