// The Beast half of the HMI server: listener, HTTP session, WebSocket session
// and the live hub, in the manner of Beast's advanced server and chat-multi
// examples. Everything about requests' meaning lives in api.cpp.
#include "soleus/hmi/server.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "soleus/common/log.hpp"
#include "soleus/common/url.hpp"
#include "soleus/hmi/api.hpp"

namespace soleus::hmi {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr std::string_view kLivePath = "/api/v1/live";
constexpr auto kHttpTimeout = 30s;

/// Reports a failed operation, except the ordinary ends of a connection.
void fail(beast::error_code ec, const char* what) {
  if (ec == net::error::operation_aborted || ec == websocket::error::closed ||
      ec == http::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::broken_pipe ||
      ec == beast::error::timeout)
    return;
  log::debug("hmi: ", what, ": ", ec.message());
}

// ---- shared state -----------------------------------------------------------

class LiveHub;

/// What every session shares: configuration, the API, the worker pool, counters.
struct Shared {
  Shared(const HmiConfig& c, Backend& b, std::vector<std::string> origins,
         std::function<Clock::time_point()> clock)
      : config(c),
        backend(b),
        api(c, b, std::move(origins), std::move(clock)),
        workers(static_cast<std::size_t>(c.worker_threads)) {}
  HmiConfig config;
  Backend& backend;
  Api api;
  net::thread_pool workers;
  std::shared_ptr<LiveHub> hub;
  std::atomic<std::uint64_t> frames_sampled{0};
  std::atomic<std::uint64_t> frames_sent{0};
  std::atomic<std::uint64_t> frames_skipped{0};
  std::atomic<std::uint64_t> clients_stalled{0};
};

// ---- WebSocket session ------------------------------------------------------

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, std::shared_ptr<Shared> shared)
      : ws_(std::move(socket)), shared_(std::move(shared)), stall_timer_(ws_.get_executor()) {}
  ~WsSession();

  void run(const http::request<http::string_body>& req);
  /// Called from the hub's strand: hands the newest frame to this session's strand.
  void deliver(std::shared_ptr<const std::string> frame) {
    net::post(ws_.get_executor(), [self = shared_from_this(), f = std::move(frame)]() mutable {
      self->on_deliver(std::move(f));
    });
  }
  void close() {
    net::post(ws_.get_executor(), [self = shared_from_this()] { self->hard_close(); });
  }

 private:
  void on_accept(beast::error_code ec);
  void do_read();
  void on_read(beast::error_code ec, std::size_t);
  void on_deliver(std::shared_ptr<const std::string> frame);
  void write(std::shared_ptr<const std::string> frame);
  void on_write(beast::error_code ec, std::size_t);
  void arm_stall_timer();
  void hard_close();

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<Shared> shared_;
  net::steady_timer stall_timer_;
  beast::flat_buffer read_buffer_;
  std::shared_ptr<const std::string> current_;  ///< the frame being written
  std::shared_ptr<const std::string> pending_;  ///< the newest frame not yet written
  bool open_ = false;
  bool writing_ = false;
  std::chrono::steady_clock::time_point write_started_{};
};

/// The set of live sessions and the sampler that feeds them.
class LiveHub : public std::enable_shared_from_this<LiveHub> {
 public:
  LiveHub(net::io_context& ioc, Shared& shared)
      : strand_(net::make_strand(ioc)),
        timer_(strand_),
        shared_(shared),
        period_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(1.0 / shared.config.live_rate_hz))) {}

  void start() {
    net::dispatch(strand_, [self = shared_from_this()] {
      self->next_ = std::chrono::steady_clock::now() + self->period_;
      self->arm();
    });
  }
  void stop() {
    net::post(strand_, [self = shared_from_this()] {
      self->stopped_ = true;
      self->timer_.cancel();
    });
    std::vector<std::shared_ptr<WsSession>> all;
    {
      std::lock_guard lock(mutex_);
      for (auto& [p, w] : sessions_)
        if (auto s = w.lock()) all.push_back(std::move(s));
    }
    for (auto& s : all) s->close();
  }
  void join(WsSession* s, std::weak_ptr<WsSession> w) {
    std::lock_guard lock(mutex_);
    sessions_[s] = std::move(w);
  }
  void leave(WsSession* s) {
    std::lock_guard lock(mutex_);
    sessions_.erase(s);
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }

 private:
  void arm() {
    timer_.expires_at(next_);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->on_tick(ec); });
  }
  void on_tick(beast::error_code ec) {
    if (ec || stopped_) return;
    broadcast();
    next_ += period_;
    const auto now = std::chrono::steady_clock::now();
    if (next_ < now) next_ = now + period_;  // fell behind: skip, never burst
    arm();
  }
  void broadcast();

  net::strand<net::io_context::executor_type> strand_;
  net::steady_timer timer_;
  Shared& shared_;
  std::chrono::steady_clock::duration period_;
  std::chrono::steady_clock::time_point next_{};
  bool stopped_ = false;
  std::mutex mutex_;
  std::unordered_map<WsSession*, std::weak_ptr<WsSession>> sessions_;
};

std::string frame_json(const LiveFrame& f) { return write_json(to_json(f)); }

void LiveHub::broadcast() {
  std::vector<std::shared_ptr<WsSession>> targets;
  {
    std::lock_guard lock(mutex_);
    if (sessions_.empty()) return;
    targets.reserve(sessions_.size());
    for (auto& [p, w] : sessions_)
      if (auto s = w.lock()) targets.push_back(std::move(s));
  }
  std::optional<LiveFrame> frame;
  try {
    frame = shared_.backend.latest_frame();
  } catch (const std::exception& e) {
    log::error("hmi: latest_frame: ", e.what());
  }
  if (!frame) return;
  ++shared_.frames_sampled;
  auto text = std::make_shared<const std::string>(frame_json(*frame));
  for (auto& s : targets) s->deliver(text);
}

WsSession::~WsSession() {
  if (shared_->hub) shared_->hub->leave(this);
}

void WsSession::run(const http::request<http::string_body>& req) {
  beast::get_lowest_layer(ws_).expires_never();  // the websocket's own timeouts take over
  websocket::stream_base::timeout t{};
  t.handshake_timeout = 10s;
  t.idle_timeout = std::chrono::milliseconds(
      static_cast<std::int64_t>(shared_->config.live_stall_timeout_s * 1000));
  t.keep_alive_pings = true;  // a client that reads answers the ping; a stalled one does not
  ws_.set_option(t);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "soleusd"); }));
  ws_.read_message_max(4096);  // read-only: clients have nothing to say
  beast::error_code ec;
  // A small send buffer bounds what a stalled client can hold in the kernel.
  beast::get_lowest_layer(ws_).socket().set_option(net::socket_base::send_buffer_size(16 * 1024),
                                                   ec);
  beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);
  ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
}

void WsSession::on_accept(beast::error_code ec) {
  if (ec) return fail(ec, "websocket accept");
  open_ = true;
  shared_->hub->join(this, weak_from_this());
  do_read();
  arm_stall_timer();
}

void WsSession::do_read() {
  ws_.async_read(read_buffer_, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
}

void WsSession::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    if (ec == beast::error::timeout) {  // the ping went unanswered: a stalled client
      ++shared_->clients_stalled;
      log::info("hmi: live client closed: no answer for ", shared_->config.live_stall_timeout_s,
                " s");
    }
    fail(ec, "websocket read");
    open_ = false;
    stall_timer_.cancel();
    shared_->hub->leave(this);
    return;
  }
  read_buffer_.consume(read_buffer_.size());  // read-only stream: ignore what clients send
  do_read();
}

void WsSession::on_deliver(std::shared_ptr<const std::string> frame) {
  if (!open_) return;
  if (writing_) {
    if (pending_) ++shared_->frames_skipped;
    pending_ = std::move(frame);  // keep only the newest
    return;
  }
  write(std::move(frame));
}

void WsSession::write(std::shared_ptr<const std::string> frame) {
  writing_ = true;
  write_started_ = std::chrono::steady_clock::now();
  current_ = std::move(frame);
  ws_.text(true);
  ws_.async_write(net::buffer(*current_),
                  beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
}

void WsSession::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  current_.reset();
  if (ec) {
    fail(ec, "websocket write");
    hard_close();
    return;
  }
  ++shared_->frames_sent;
  if (pending_ && open_) write(std::exchange(pending_, nullptr));
}

void WsSession::arm_stall_timer() {
  stall_timer_.expires_after(250ms);
  stall_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || !self->open_) return;
    const auto limit = std::chrono::duration<double>(self->shared_->config.live_stall_timeout_s);
    if (self->writing_ && std::chrono::steady_clock::now() - self->write_started_ > limit) {
      ++self->shared_->clients_stalled;
      log::info("hmi: live client closed: it has not read for ",
                self->shared_->config.live_stall_timeout_s, " s");
      self->hard_close();
      return;
    }
    self->arm_stall_timer();
  });
}

void WsSession::hard_close() {
  open_ = false;
  pending_.reset();
  stall_timer_.cancel();
  shared_->hub->leave(this);
  // No close frame: a stalled peer would never take it. A reset (linger 0)
  // frees the kernel's buffers at once; closing cancels the pending read and write.
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().set_option(net::socket_base::linger(true, 0), ec);
  beast::get_lowest_layer(ws_).close();
}

// ---- HTTP session -----------------------------------------------------------

std::string_view mime_type(std::string_view path) {
  const auto dot = path.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : path.substr(dot + 1);
  struct M {
    std::string_view ext, type;
  };
  static constexpr M kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"txt", "text/plain; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/vnd.microsoft.icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"wav", "audio/wav"},
      {"mp3", "audio/mpeg"},
      {"ogg", "audio/ogg"},
  };
  for (const auto& m : kTypes)
    if (beast::iequals(ext, m.ext)) return m.type;
  return "application/octet-stream";
}

template <class Body>
void common_headers(http::response<Body>& res) {
  res.set(http::field::server, "soleusd");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(shared_->config.body_limit);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(kHttpTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      version_ = parser_->get().version();
      return send_api(error_response(
          413, "",
          "the body is larger than " + std::to_string(shared_->config.body_limit) + " bytes"));
    }
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
        keep_alive_ = false;
        version_ = 11;
        return send_api(error_response(400, "", "malformed HTTP request: " + ec.message()));
      }
      fail(ec, "http read");
      return do_close();
    }
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();

    if (websocket::is_upgrade(req)) {
      const std::string target(req.target());
      if (target.substr(0, target.find('?')) != kLivePath)
        return send_api(
            error_response(404, "", "no WebSocket here; the live stream is at /api/v1/live"));
      std::optional<std::string> origin;
      if (auto it = req.find(http::field::origin); it != req.end())
        origin = std::string(it->value());
      if (!shared_->api.origin_allowed(origin)) {
        keep_alive_ = false;
        return send_api(
            error_response(403, "", "WebSocket from origin " + *origin + " is not allowed"));
      }
      std::make_shared<WsSession>(stream_.release_socket(), shared_)->run(req);
      return;
    }

    const std::string_view target = req.target();
    if (target.substr(0, 5) == "/api/" || target == "/api" ||
        target.substr(0, target.find('?')) == "/metrics")
      return handle_api(std::move(req));
    return serve_file(req);
  }

  void handle_api(http::request<http::string_body>&& req) {
    ApiRequest ar;
    ar.method = std::string(req.method_string());
    ar.target = std::string(req.target());
    ar.body = std::move(req.body());
    if (auto it = req.find(http::field::authorization); it != req.end())
      ar.authorization = std::string(it->value());
    if (auto it = req.find(http::field::origin); it != req.end())
      ar.origin = std::string(it->value());
    {
      beast::error_code ec;
      const auto peer = stream_.socket().remote_endpoint(ec);
      if (!ec) ar.client = peer.address().to_string();
    }
    if (Api::is_immediate(ar)) return send_api(shared_->api.handle(ar));
    // Everything else may block (PIN hashing, SQLite): the worker pool does it
    // and the reply comes back to this session's strand.
    net::post(shared_->workers, [self = shared_from_this(), ar = std::move(ar)] {
      ApiResponse resp = self->shared_->api.handle(ar);
      net::post(self->stream_.get_executor(),
                [self, resp = std::move(resp)]() mutable { self->send_api(std::move(resp)); });
    });
  }

  void send_api(ApiResponse r) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version_};
    common_headers(res);
    res.set(http::field::content_type,
            r.content_type.empty() ? "application/json; charset=utf-8" : r.content_type);
    res.set(http::field::cache_control, "no-store");
    for (auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive_);
    res.body() = std::move(r.body);
    res.prepare_payload();
    send(std::move(res));
  }

  void serve_file(const http::request<http::string_body>& req) {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      ApiResponse r = error_response(405, "", "static files take GET or HEAD");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return send_api(std::move(r));
    }
    std::string_view raw = req.target();
    raw = raw.substr(0, raw.find('?'));
    auto decoded = common::percent_decode(raw);  // nullopt: a malformed escape
    if (!decoded) return send_api(error_response(400, "", "illegal request path"));
    std::string path = std::move(*decoded);
    if (path.empty() || path[0] != '/' || path.find("..") != std::string::npos ||
        path.find('\0') != std::string::npos || path.find('\\') != std::string::npos)
      return send_api(error_response(400, "", "illegal request path"));
    if (path.back() == '/') path += "index.html";
    std::filesystem::path full = std::filesystem::path(shared_->config.asset_dir) / path.substr(1);
    std::error_code fec;
    if (std::filesystem::is_directory(full, fec)) full /= "index.html";

    http::file_body::value_type body;
    beast::error_code ec;
    body.open(full.c_str(), beast::file_mode::scan, ec);
    if (ec == beast::errc::no_such_file_or_directory || ec == beast::errc::is_a_directory)
      return send_api(error_response(404, "", "not found: " + path));
    if (ec) return send_api(error_response(500, "", "cannot read " + path + ": " + ec.message()));

    const auto size = body.size();
    const auto mtime = std::filesystem::last_write_time(full, fec).time_since_epoch().count();
    std::ostringstream etag;
    etag << '"' << std::hex << size << '-' << static_cast<long long>(mtime) << '"';
    const std::string_view type = mime_type(full.native());
    const bool html = type.rfind("text/html", 0) == 0;

    auto headers = [&](auto& res) {
      common_headers(res);
      res.set(http::field::content_type, type);
      // Revalidate every time (cheap with the ETag on a local screen) so that
      // an update of the HMI is never half old, half new.
      res.set(http::field::cache_control, "no-cache");
      res.set(http::field::etag, etag.str());
      if (html)
        res.set("Content-Security-Policy",
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; media-src 'self' data:; connect-src 'self'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
      res.keep_alive(keep_alive_);
    };
    if (auto it = req.find(http::field::if_none_match);
        it != req.end() && it->value() == etag.str()) {
      http::response<http::empty_body> res{http::status::not_modified, version_};
      headers(res);
      return send(std::move(res));
    }
    if (req.method() == http::verb::head) {
      http::response<http::empty_body> res{http::status::ok, version_};
      headers(res);
      res.content_length(size);
      return send(std::move(res));
    }
    http::response<http::file_body> res{std::piecewise_construct, std::make_tuple(std::move(body)),
                                        std::make_tuple(http::status::ok, version_)};
    headers(res);
    res.content_length(size);
    send(std::move(res));
  }

  template <class Body>
  void send(http::response<Body>&& msg) {
    auto sp = std::make_shared<http::response<Body>>(std::move(msg));
    response_ = sp;
    stream_.expires_after(kHttpTimeout);
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), close = sp->need_eof()](
                          beast::error_code ec, std::size_t) { self->on_write(close, ec); });
  }

  void on_write(bool close, beast::error_code ec) {
    response_.reset();
    if (ec) return fail(ec, "http write");
    if (close || !keep_alive_) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    // Read and drop what the client still sends (the rest of an oversized
    // body) for a moment: closing a socket with unread data resets the
    // connection, and the client could lose our reply (the 413) with it.
    drain_.resize(4096);
    drain_left_ = 1 << 20;
    stream_.expires_after(2s);
    do_drain();
  }

  void do_drain() {
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec || n >= self->drain_left_) return;
                              self->drain_left_ -= n;
                              self->do_drain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<Shared> shared_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> response_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::vector<char> drain_;
  std::size_t drain_left_ = 0;
};

// ---- listener ---------------------------------------------------------------

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, const tcp::endpoint& ep)
      : ioc_(ioc), acceptor_(net::make_strand(ioc)) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }
  /// Takes `fd`, a TCP socket already listening (systemd socket activation);
  /// closes it when it is not one.
  Listener(net::io_context& ioc, int fd) : ioc_(ioc), acceptor_(net::make_strand(ioc)) {
    const auto refuse = [fd](int err, const std::string& why) {
      ::close(fd);
      throw std::system_error(err, std::generic_category(),
                              "hmi: passed socket " + std::to_string(fd) + " " + why);
    };
    int type = 0, listening = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) refuse(errno, "is not a socket");
    len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0)
      refuse(errno, "cannot be inspected");
    sockaddr_storage addr{};
    len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      refuse(errno, "has no address");
    if (type != SOCK_STREAM || (addr.ss_family != AF_INET && addr.ss_family != AF_INET6))
      refuse(EINVAL, "is not a TCP socket");
    if (!listening) refuse(EINVAL, "is not listening");
    // Not inherited by programs the daemon might start.
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    boost::system::error_code ec;
    acceptor_.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) refuse(ec.value(), "cannot be used: " + ec.message());
  }
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void run(std::shared_ptr<Shared> shared) {
    shared_ = std::move(shared);
    do_accept();
  }
  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) fail(ec, "accept");
    else std::make_shared<HttpSession>(std::move(socket), shared_)->run();
    do_accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace

// ---- Server -----------------------------------------------------------------

struct Server::Impl {
  Impl(HmiConfig c, Backend& b, Options o)
      : config(std::move(c)), backend(b), options(std::move(o)), ioc(config.io_threads) {}
  HmiConfig config;
  Backend& backend;
  Options options;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::shared_ptr<Shared> shared;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  std::vector<std::string> origins;
  std::uint16_t port = 0;
  net::ip::address address;
  bool socket_activated = false;
  bool started = false;
  bool stopped = false;
};

Server::Server(HmiConfig config, Backend& backend, Options options) {
  config.validate();
  impl_ = std::make_unique<Impl>(std::move(config), backend, std::move(options));
}

Server::~Server() {
  stop();
  if (impl_->options.listen_fd >= 0) ::close(impl_->options.listen_fd);  // never started
  // Handlers still queued own sessions, which own sockets: drop them before
  // the backend can go.
  impl_->listener.reset();
}

void Server::start() {
  Impl& m = *impl_;
  if (m.started) return;
  if (m.options.listen_fd >= 0) {
    const int fd = m.options.listen_fd;
    m.options.listen_fd = -1;  // owned by the listener (or closed) from here on
    try {
      m.listener = std::make_shared<Listener>(m.ioc, fd);
    } catch (const boost::system::system_error& e) {
      throw std::system_error(e.code(), "hmi: passed socket " + std::to_string(fd));
    }
    m.socket_activated = true;
  } else {
    boost::system::error_code ec;
    const auto configured = net::ip::make_address(m.config.bind_address, ec);
    if (ec)
      throw std::system_error(ec,
                              "hmi.bind: \"" + m.config.bind_address + "\" is not an IP address");
    try {
      m.listener = std::make_shared<Listener>(m.ioc, tcp::endpoint(configured, m.config.port));
    } catch (const boost::system::system_error& e) {
      throw std::system_error(e.code(), "hmi: cannot listen on " + m.config.bind_address + ":" +
                                            std::to_string(m.config.port));
    }
  }
  const tcp::endpoint bound = m.listener->local_endpoint();
  m.port = bound.port();
  m.address = bound.address();
  const net::ip::address& address = m.address;
  if (m.config.allowed_origins.empty()) {
    const std::string p = std::to_string(m.port);
    m.origins = {"http://127.0.0.1:" + p, "http://localhost:" + p, "http://[::1]:" + p};
    if (!address.is_unspecified() && !address.is_loopback())
      m.origins.push_back(
          "http://" + (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) +
          ":" + p);
    if (address.is_unspecified())
      log::warn(
          "hmi: listening on all interfaces with no allowed_origins: browsers on other "
          "machines cannot change anything until hmi.allowed_origins names this machine's address");
  } else {
    m.origins = m.config.allowed_origins;
  }
  m.shared = std::make_shared<Shared>(m.config, m.backend, m.origins, m.options.clock);
  m.shared->hub = std::make_shared<LiveHub>(m.ioc, *m.shared);
  m.listener->run(m.shared);
  m.shared->hub->start();
  m.guard.emplace(m.ioc.get_executor());
  for (int i = 0; i < m.config.io_threads; ++i) m.threads.emplace_back([&m] { m.ioc.run(); });
  m.started = true;
  log::info("hmi: listening on http://",
            address.is_v6() ? "[" + address.to_string() + "]" : address.to_string(), ":", m.port,
            m.socket_activated ? " (socket activation: a passed socket)" : "", " (assets ",
            m.config.asset_dir, ", live ", m.config.live_rate_hz, " Hz)");
  if (!address.is_loopback())
    log::notice(
        "hmi: bound beyond localhost: anyone who can reach this port can STOP a set and "
        "try PINs (see docs/api.md)");
}

void Server::stop() {
  Impl& m = *impl_;
  if (!m.started || m.stopped) return;
  m.stopped = true;
  m.listener->stop();
  m.shared->hub->stop();
  m.shared->workers.join();  // lets queued requests finish and post their replies
  m.guard.reset();
  // Give sessions a moment to finish their writes, then stop everything.
  std::this_thread::sleep_for(20ms);
  m.ioc.stop();
  for (auto& t : m.threads) t.join();
  m.threads.clear();
}

std::uint16_t Server::port() const { return impl_->port; }

std::string Server::address() const { return impl_->address.to_string(); }

bool Server::socket_activated() const { return impl_->socket_activated; }

std::vector<std::string> Server::allowed_origins() const { return impl_->origins; }

Server::Stats Server::stats() const {
  Stats s;
  if (!impl_->shared) return s;
  const Shared& sh = *impl_->shared;
  s.frames_sampled = sh.frames_sampled.load();
  s.frames_sent = sh.frames_sent.load();
  s.frames_skipped = sh.frames_skipped.load();
  s.clients_stalled = sh.clients_stalled.load();
  s.live_clients = sh.hub ? sh.hub->size() : 0;
  return s;
}

}  // namespace soleus::hmi
