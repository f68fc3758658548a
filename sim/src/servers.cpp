#include "soleus/sim/servers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <stdexcept>

#include "soleus/common/log.hpp"

namespace soleus::sim {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
Clock::duration secs(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}
double frame_s(std::size_t bytes, int baud) { return static_cast<double>(bytes) * 11.0 / baud; }
}  // namespace

// ====================================================================== physics
void PhysicsClock::start() {
  if (run_.exchange(true)) return;
  thread_ = std::thread([this] {
    const auto t0 = Clock::now();
    const std::int64_t base = m_.now_ms();
    auto next = t0;
    while (run_) {
      const auto elapsed =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
      m_.advance_to(base + elapsed, 200);
      next += std::chrono::milliseconds(1);
      const auto now = Clock::now();
      if (next < now - std::chrono::milliseconds(50)) next = now;  // far behind: do not spin
      std::this_thread::sleep_until(next);
    }
  });
}

void PhysicsClock::stop() {
  run_ = false;
  if (thread_.joinable()) thread_.join();
}

// ====================================================================== Modbus TCP
struct TcpSession;

/// The emulated bus behind a gateway: one transaction at a time, with wire time.
struct TcpBus {
  struct Job {
    std::shared_ptr<TcpSession> session;  // owns the session while its request waits for the bus
    std::uint16_t tid;
    std::uint8_t unit;
    std::vector<std::uint8_t> pdu;
  };
  TcpBus(asio::io_context& io, Machine& m, WireTime wt) : timer(io), machine(m), wire(wt) {}
  void submit(Job j) {
    queue.push_back(std::move(j));
    run_next();
  }
  void run_next();

  asio::steady_timer timer;
  Machine& machine;
  WireTime wire;
  std::deque<Job> queue;
  bool busy = false;
  Clock::time_point free_at{};
};

struct TcpSession : std::enable_shared_from_this<TcpSession> {
  TcpSession(tcp::socket s, Machine& m, std::shared_ptr<TcpBus> b)
      : socket(std::move(s)), machine(m), bus(std::move(b)) {}

  void read_header() {
    auto self = shared_from_this();
    asio::async_read(socket, asio::buffer(header),
                     [self](boost::system::error_code ec, std::size_t) {
                       if (ec) return;
                       const auto h = modbus::parse_mbap(self->header);
                       if (h.protocol != 0 || h.length < 2 || h.length > 254) {
                         self->machine.note_bad_frame();
                         return self->close();
                       }
                       self->body.resize(h.length - 1u);
                       self->read_body(h);
                     });
  }
  void read_body(modbus::Mbap h) {
    auto self = shared_from_this();
    asio::async_read(socket, asio::buffer(body),
                     [self, h](boost::system::error_code ec, std::size_t) {
                       if (ec) return;
                       if (self->bus->wire.enabled) {
                         self->bus->submit({self, h.transaction, h.unit, self->body});
                       } else {
                         Transaction t = self->machine.transact(h.unit, self->body, true);
                         self->send(h.transaction, t);
                       }
                     });
  }
  /// Sends the reply (if any) and goes back to reading.
  void send(std::uint16_t tid, const Transaction& t) {
    if (!t.reply) return read_header();
    std::uint8_t unit = t.unit;
    std::vector<std::uint8_t> pdu = t.pdu;
    if (t.odd == OddReply::WrongUnit) unit = static_cast<std::uint8_t>(unit + 1);
    if (t.odd == OddReply::WrongTransaction) tid = static_cast<std::uint16_t>(tid + 1);
    out = modbus::tcp_frame(tid, unit, pdu);
    if (t.odd == OddReply::BadCrc && out.size() > 8) {
      // No CRC on TCP: a garbled reply instead (one byte short of what MBAP announces).
      out.pop_back();
      out.back() ^= 0x5A;
    }
    auto self = shared_from_this();
    asio::async_write(socket, asio::buffer(out), [self](boost::system::error_code ec, std::size_t) {
      if (!ec) self->read_header();
    });
  }
  void close() {
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  tcp::socket socket;
  Machine& machine;
  std::shared_ptr<TcpBus> bus;
  std::array<std::uint8_t, 7> header{};
  std::vector<std::uint8_t> body;
  std::vector<std::uint8_t> out;
};

void TcpBus::run_next() {
  if (busy || queue.empty()) return;
  busy = true;
  Job job = std::move(queue.front());
  queue.pop_front();
  const auto start = std::max(Clock::now(), free_at);
  const auto exec_at =
      start + secs(frame_s(job.pdu.size() + 3, wire.baud) + modbus::t35_s(wire.baud));
  timer.expires_at(exec_at);
  timer.async_wait([this, job = std::move(job), exec_at](boost::system::error_code ec) mutable {
    if (ec) return;
    Transaction t = machine.transact(job.unit, job.pdu, true);
    const auto reply_at = t.reply ? exec_at + secs(0.0005 + frame_s(t.pdu.size() + 3, wire.baud) +
                                                   modbus::t35_s(wire.baud))
                                  : exec_at;
    timer.expires_at(reply_at);
    timer.async_wait(
        [this, job = std::move(job), t = std::move(t), reply_at](boost::system::error_code ec2) {
          if (ec2) return;
          free_at = reply_at;
          busy = false;
          job.session->send(job.tid, t);
          run_next();
        });
  });
}

struct ModbusTcpServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, Machine& m, WireTime wt)
      : acceptor(io), machine(m), bus(std::make_shared<TcpBus>(io, m, wt)) {}
  void accept() {
    auto self = shared_from_this();
    acceptor.async_accept([self](boost::system::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        s.set_option(tcp::no_delay(true));
        std::make_shared<TcpSession>(std::move(s), self->machine, self->bus)->read_header();
      }
      self->accept();
    });
  }
  tcp::acceptor acceptor;
  Machine& machine;
  std::shared_ptr<TcpBus> bus;
};

ModbusTcpServer::ModbusTcpServer(asio::io_context& io, Machine& m, const std::string& host,
                                 int port, WireTime wt)
    : impl_(std::make_shared<Impl>(io, m, wt)) {
  tcp::endpoint ep(asio::ip::make_address(host), static_cast<unsigned short>(port));
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->accept();
}

ModbusTcpServer::~ModbusTcpServer() {
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}
int ModbusTcpServer::port() const { return impl_->acceptor.local_endpoint().port(); }
std::string ModbusTcpServer::host() const {
  return impl_->acceptor.local_endpoint().address().to_string();
}

// ====================================================================== control
namespace {
struct ControlSession : std::enable_shared_from_this<ControlSession> {
  ControlSession(tcp::socket s, Machine& m)
      : socket(std::move(s)), machine(m), buf(std::size_t{64} * 1024) {}
  void read() {
    auto self = shared_from_this();
    asio::async_read_until(socket, buf, '\n', [self](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      std::string line(asio::buffers_begin(self->buf.data()),
                       asio::buffers_begin(self->buf.data()) + static_cast<std::ptrdiff_t>(n));
      self->buf.consume(n);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (line.empty()) return self->read();
      self->out = self->machine.control_line(line) + "\n";
      asio::async_write(self->socket, asio::buffer(self->out),
                        [self](boost::system::error_code ec2, std::size_t) {
                          if (!ec2) self->read();
                        });
    });
  }
  tcp::socket socket;
  Machine& machine;
  asio::streambuf buf;
  std::string out;
};
}  // namespace

struct ControlServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, Machine& m) : acceptor(io), machine(m) {}
  void accept() {
    auto self = shared_from_this();
    acceptor.async_accept([self](boost::system::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<ControlSession>(std::move(s), self->machine)->read();
      self->accept();
    });
  }
  tcp::acceptor acceptor;
  Machine& machine;
};

ControlServer::ControlServer(asio::io_context& io, Machine& m, const std::string& host, int port)
    : impl_(std::make_shared<Impl>(io, m)) {
  tcp::endpoint ep(asio::ip::make_address(host), static_cast<unsigned short>(port));
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->accept();
}
ControlServer::~ControlServer() {
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}
int ControlServer::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string control_request(const std::string& host, int port, const std::string& json) {
  asio::io_context io;
  tcp::socket s(io);
  boost::system::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)), ec);
  if (ec)
    throw std::runtime_error("cannot connect to the control channel " + host + ":" +
                             std::to_string(port) + ": " + ec.message());
  timeval tv{10, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string line = json;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  line += '\n';
  asio::write(s, asio::buffer(line), ec);
  if (ec) throw std::runtime_error("control channel write failed: " + ec.message());
  asio::streambuf buf;
  const std::size_t n = asio::read_until(s, buf, '\n', ec);
  if (ec && n == 0) throw std::runtime_error("no reply on the control channel: " + ec.message());
  std::string reply(asio::buffers_begin(buf.data()),
                    asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
  return reply;
}

// ====================================================================== RTU
namespace {
speed_t baud_constant(int baud) {
  switch (baud) {
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 921600: return B921600;
    default: return 0;
  }
}
}  // namespace

RtuServer::RtuServer(Machine& m, std::string path, int baud, char parity, WireTime wt)
    : m_(m), path_(std::move(path)), baud_(baud), parity_(parity), wt_(wt) {
  if (baud_constant(baud) == 0)
    throw std::runtime_error("unsupported baud rate " + std::to_string(baud));
  open_port();
  if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
}

RtuServer::~RtuServer() {
  stop();
  if (fd_ >= 0) ::close(fd_);
}

void RtuServer::open_port() {
  fd_ = ::open(path_.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (fd_ < 0) return;
  termios tio{};
  if (tcgetattr(fd_, &tio) == 0) {
    cfmakeraw(&tio);
    cfsetispeed(&tio, baud_constant(baud_));
    cfsetospeed(&tio, baud_constant(baud_));
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cflag &= ~static_cast<tcflag_t>(CSTOPB | PARENB | PARODD | CSIZE);
    tio.c_cflag |= CS8;
    if (parity_ == 'E' || parity_ == 'O') tio.c_cflag |= PARENB | (parity_ == 'O' ? PARODD : 0);
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    if (tcsetattr(fd_, TCSANOW, &tio) != 0) {
      // ptys refuse some settings (even parity); the bytes flow all the same.
      log::warn("soleus-sim: ", path_, ": serial settings refused (", std::strerror(errno),
                "), using the port as it is");
      tio.c_cflag &= ~static_cast<tcflag_t>(PARENB | PARODD);
      tcsetattr(fd_, TCSANOW, &tio);
    }
  }
}

void RtuServer::start() {
  if (run_.exchange(true)) return;
  thread_ = std::thread([this] { run(); });
}

void RtuServer::stop() {
  run_ = false;
  if (thread_.joinable()) thread_.join();
}

void RtuServer::run() {
  std::vector<std::uint8_t> buf;
  auto last = Clock::now();
  auto arrival = last;
  const double t35 =
      std::max(modbus::t35_s(baud_), 0.005);  // silence that ends an unparseable frame
  bool hung_up = false;
  while (run_) {
    if (fd_ < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      open_port();
      continue;
    }
    pollfd p{fd_, POLLIN, 0};
    const int timeout_ms = buf.empty() ? 100 : 2;
    const int r = ::poll(&p, 1, timeout_ms);
    if (r > 0 && (p.revents & POLLIN)) {
      std::uint8_t tmp[512];
      const ssize_t n = ::read(fd_, tmp, sizeof tmp);
      if (n > 0) {
        if (buf.empty()) arrival = Clock::now();
        buf.insert(buf.end(), tmp, tmp + n);
        last = Clock::now();
        hung_up = false;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        if (!hung_up)
          log::warn("soleus-sim: ", path_, ": ", std::strerror(errno),
                    "; waiting for the other end");
        hung_up = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    } else if (r > 0 && (p.revents & (POLLHUP | POLLERR))) {
      // No one on the other end (yet): a pty reports hang-up until it is opened.
      if (!hung_up) log::info("soleus-sim: ", path_, ": no peer on the line yet");
      hung_up = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Cut complete frames by their length.
    while (!buf.empty()) {
      const int len = modbus::rtu_request_length(buf);
      const double quiet = std::chrono::duration<double>(Clock::now() - last).count();
      if (len > 0 && buf.size() >= static_cast<std::size_t>(len)) {
        std::vector<std::uint8_t> frame(buf.begin(), buf.begin() + len);
        if (modbus::rtu_crc_ok(frame)) {
          buf.erase(buf.begin(), buf.begin() + len);
          handle_frame(frame, arrival);
          arrival = Clock::now();
          continue;
        }
        m_.note_bad_frame();  // bad CRC: drop everything up to the next silence
        buf.clear();
        break;
      }
      if (len < 0 && quiet >= t35) {  // unknown function: the frame is what came before the silence
        if (modbus::rtu_crc_ok(buf)) handle_frame(buf, arrival);
        else m_.note_bad_frame();
        buf.clear();
        break;
      }
      if (len >= 0 && quiet >= 0.05) {  // an incomplete frame that stopped coming
        m_.note_bad_frame();
        buf.clear();
      }
      break;
    }
  }
}

void RtuServer::handle_frame(const std::vector<std::uint8_t>& frame, Clock::time_point arrival) {
  const std::uint8_t unit = frame[0];
  const std::span<const std::uint8_t> pdu(frame.data() + 1, frame.size() - 3);
  Clock::time_point exec_at{};
  if (wt_.enabled) {
    const auto start = std::max(arrival, bus_free_);
    exec_at = start + secs(frame_s(frame.size(), wt_.baud) + modbus::t35_s(wt_.baud));
    std::this_thread::sleep_until(exec_at);
  }
  Transaction t = m_.transact(unit, pdu, false);
  if (!t.reply) {
    if (wt_.enabled) bus_free_ = exec_at;
    return;
  }
  std::vector<std::uint8_t> out = modbus::rtu_frame(
      t.odd == OddReply::WrongUnit ? static_cast<std::uint8_t>(unit + 1) : unit, t.pdu);
  if (t.odd == OddReply::BadCrc) out.back() ^= 0xFF;
  if (wt_.enabled) {
    const auto reply_at =
        exec_at + secs(0.0005 + frame_s(out.size(), wt_.baud) + modbus::t35_s(wt_.baud));
    std::this_thread::sleep_until(reply_at);
    bus_free_ = reply_at;
  }
  std::size_t off = 0;
  while (off < out.size() && run_) {
    const ssize_t n = ::write(fd_, out.data() + off, out.size() - off);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 10);
    } else {
      break;
    }
  }
}

}  // namespace soleus::sim
