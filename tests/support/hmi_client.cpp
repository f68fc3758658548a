#include "soleus/test_support/hmi_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <thread>

namespace soleus::hmi::test {
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::int64_t now_unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

boost::json::value HttpReply::json() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  return ec ? boost::json::value() : v;
}

std::string HttpReply::field() const {
  auto v = json();
  if (!v.is_object() || !v.as_object().contains("error")) return "";
  const auto& f = v.at("error").at("field");
  return f.is_string() ? std::string(f.as_string()) : std::string();
}

HttpReply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body, const std::map<std::string, std::string>& headers) {
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  req.keep_alive(false);
  http::write(sock, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.body_limit(std::uint64_t{64} * 1024 * 1024);
  if (method == "HEAD") p.skip(true);
  HttpReply r;
  beast::error_code ec;
  http::read(sock, buf, p, ec);
  if (ec && ec != http::error::end_of_stream) throw beast::system_error(ec);
  auto res = p.release();
  r.status = static_cast<int>(res.result_int());
  r.body = res.body();
  for (const auto& f : res) {
    std::string k(f.name_string());
    for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[k] = std::string(f.value());
  }
  return r;
}

int ws_handshake_status(std::uint16_t port, const std::optional<std::string>& origin) {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  ws.set_option(websocket::stream_base::decorator([origin](websocket::request_type& req) {
    if (origin) req.set(http::field::origin, *origin);
  }));
  websocket::response_type res;
  beast::error_code ec;
  ws.handshake(res, "127.0.0.1:" + std::to_string(port), "/api/v1/live", ec);
  return static_cast<int>(res.result_int());
}

struct LiveClient::Impl {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buf;
  std::mutex mutex;
  std::vector<std::pair<std::string, std::int64_t>> frames;
  std::thread thread;
};

LiveClient::LiveClient(std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  m.ws.handshake("127.0.0.1:" + std::to_string(port), "/api/v1/live");
  m.thread = std::thread([this] {
    Impl& i = *impl_;
    for (;;) {
      beast::error_code ec;
      i.ws.read(i.buf, ec);
      const auto t = now_unix_us();
      if (ec) break;
      std::string text = beast::buffers_to_string(i.buf.data());
      i.buf.consume(i.buf.size());
      std::lock_guard l(i.mutex);
      i.frames.emplace_back(std::move(text), t);
    }
    closed_ = true;
  });
}

LiveClient::~LiveClient() {
  beast::error_code ec;
  impl_->ws.next_layer().shutdown(tcp::socket::shutdown_both, ec);
  impl_->thread.join();
}

std::size_t LiveClient::count() {
  std::lock_guard l(impl_->mutex);
  return impl_->frames.size();
}

std::vector<std::pair<std::string, std::int64_t>> LiveClient::frames() {
  std::lock_guard l(impl_->mutex);
  return impl_->frames;
}

struct StalledClient::Impl {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
};

StalledClient::StalledClient(std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  auto& sock = impl_->ws.next_layer();
  sock.open(tcp::v4());
  sock.set_option(net::socket_base::receive_buffer_size(2048));
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  impl_->ws.handshake("127.0.0.1:" + std::to_string(port), "/api/v1/live");
  // ...and never reads again.
}

StalledClient::~StalledClient() = default;

bool StalledClient::server_closed() {
  // The server's FIN arrives behind unread data, so look for an RST or a
  // closed peer in the socket's error state and poll flags.
  const int fd = impl_->ws.next_layer().native_handle();
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return true;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err != 0;
}

bool StalledClient::read_until_closed(std::chrono::milliseconds limit) {
  // Reads what is buffered. A server that closed the connection ends the
  // stream after that backlog; one that did not keeps sending frames.
  const int fd = impl_->ws.next_layer().native_handle();
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  beast::flat_buffer buf;
  while (std::chrono::steady_clock::now() < deadline) {
    beast::error_code ec;
    impl_->ws.read(buf, ec);
    buf.consume(buf.size());
    if (!ec) continue;
    if (ec == beast::error::timeout || ec == net::error::would_block || ec == net::error::try_again)
      return false;  // open and quiet: not closed
    return true;     // EOF, reset, a close frame, or a broken frame after the close
  }
  return false;  // still receiving frames: the server kept it open
}

}  // namespace soleus::hmi::test
