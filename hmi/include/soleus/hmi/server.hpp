#pragma once
/// The HMI server: Boost.Beast HTTP and WebSocket on its own io_context
/// threads, serving the static HMI, the /api/v1 JSON API (api.hpp) and the
/// /api/v1/live telemetry WebSocket.
///
/// Principle of operation:
///  1. A Listener accepts connections; each gets an HttpSession on its own
///     strand. A request for /api/v1/... goes to Api::handle(): at once on the
///     network thread for the non-blocking stop and status, otherwise on a
///     small worker pool (PIN hashing and the backend may block), the reply
///     being posted back to the session's strand. Other paths are static files.
///  2. An upgrade on /api/v1/live (Origin checked) becomes a WsSession.
///  3. The LiveHub's timer samples Backend::latest_frame() at live_rate_hz,
///     serialises it once, and posts the same shared string to every
///     session's strand. A session has one write in flight and one pending
///     slot that keeps only the newest frame, so a slow client only skips
///     frames and never delays another client or the sampler.
///  4. A session whose write has not completed, or that has not answered a
///     ping, within live_stall_timeout_s is closed.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "soleus/hmi/backend.hpp"
#include "soleus/hmi/config.hpp"
#include "soleus/hmi/security.hpp"

namespace soleus::hmi {

/// Server::Options.
struct ServerOptions {
  /// The clock for token expiry and lockout (tests move it forward).
  std::function<Clock::time_point()> clock;
  /// A TCP socket already bound and listening (systemd socket activation:
  /// soleus-hmi.socket), accepted on instead of binding bind_address:port.
  /// The server owns it: closed when start() refuses it, by stop(), or by
  /// the destructor. -1: bind as configured.
  int listen_fd = -1;
};

class Server {
 public:
  using Options = ServerOptions;

  /// Counters since start().
  struct Stats {
    std::uint64_t frames_sampled = 0;   ///< frames taken from the backend
    std::uint64_t frames_sent = 0;      ///< WebSocket messages written, all clients
    std::uint64_t frames_skipped = 0;   ///< frames replaced unsent in a slow client's slot
    std::uint64_t clients_stalled = 0;  ///< clients closed for not reading
    std::size_t live_clients = 0;       ///< open live WebSockets now
  };

  /// Validates `config` (throws std::invalid_argument). `backend` must outlive the server.
  Server(HmiConfig config, Backend& backend, Options options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds (or takes Options::listen_fd) and starts the threads. Throws
  /// std::system_error when the address cannot be bound or the passed
  /// descriptor is not a listening TCP socket.
  void start();
  /// Closes the listener and every session, and joins the threads. Idempotent.
  void stop();
  /// The bound port (useful with port 0, and with a passed socket).
  std::uint16_t port() const;
  /// The bound address as text, e.g. "127.0.0.1" or "::1" (after start()).
  std::string address() const;
  /// True when the server accepts on Options::listen_fd (after start()).
  bool socket_activated() const;
  /// The origins allowed to change state (after start()).
  std::vector<std::string> allowed_origins() const;
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace soleus::hmi
