// soleusd under socket activation, as soleus-hmi.socket starts it: a
// listening socket passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID = soleusd's
// own pid (set in the child between fork and exec, as systemd does). The real
// daemon serves the HMI on that socket, answers a client that connected
// before it started (the kiosk's case), and does not bind [hmi] port; with
// LISTEN_PID naming another process it ignores the socket and binds [hmi]
// itself, as without systemd. No machine answers (nothing on the Modbus
// port): the HMI works meanwhile.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "soleus/test_support/http_client.hpp"
#include "soleus/test_support/process.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

/// A listening TCP socket on 127.0.0.1, a free port.
int listening_socket(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  port = ntohs(a.sin_port);
  return fd;
}

/// soleusd with `listen_fd` as fd 3, LISTEN_FDS=1 and LISTEN_PID = its own pid
/// (or, with `foreign_pid`, another process's), its output into `log`.
struct ActivatedDaemon {
  pid_t pid = -1;
  ActivatedDaemon(const std::string& config, int listen_fd, const std::string& log,
                  bool foreign_pid) {
    const std::string foreign = std::to_string(::getpid());
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0) ::_exit(126);
      ::dup2(out, 1);
      ::dup2(out, 2);
      if (listen_fd == 3) {
        ::fcntl(3, F_SETFD, 0);                // keep it across exec
      } else if (::dup2(listen_fd, 3) != 3) {  // dup2 clears FD_CLOEXEC
        ::_exit(126);
      }
      ::setenv("LISTEN_FDS", "1", 1);
      ::setenv("LISTEN_PID", foreign_pid ? foreign.c_str() : std::to_string(::getpid()).c_str(), 1);
      ::execl(SOLEUSD_EXE, SOLEUSD_EXE, "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~ActivatedDaemon() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    const auto deadline = Clock::now() + 10s;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
};

/// Waits (bounded) until `text` is in the file at `path`.
bool wait_for_text(const std::string& path, const std::string& text,
                   std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (soleus::test::read_text(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

/// sim.toml with nothing on its Modbus port and [hmi] on `hmi_port`, in `dir`.
std::string config(const soleus::test::TempDir& dir, int hmi_port) {
  std::string text = soleus::test::read_text(std::string(SOLEUS_SOURCE_DIR) + "/config/sim.toml");
  const int modbus_port = soleus::test::free_tcp_port();  // nothing listens there
  soleus::test::replace_once(text, "port = 1502", "port = " + std::to_string(modbus_port));
  soleus::test::replace_once(text, "port = 8080", "port = " + std::to_string(hmi_port));
  const std::string path = dir.file("soleus.toml");
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("socket activation: soleusd serves the passed socket, and a queued client first") {
  soleus::test::TempDir dir;
  const int config_port = soleus::test::free_tcp_port();
  int passed_port = 0;
  const int fd = listening_socket(passed_port);
  REQUIRE(passed_port != config_port);

  // The kiosk's browser connects while soleusd is not running yet.
  const int early = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(early >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(passed_port));
  REQUIRE(::connect(early, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const std::string request = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(early, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));

  const std::string log = dir.file("soleusd.log");
  ActivatedDaemon d(config(dir, config_port), fd, log, false);
  ::close(fd);  // soleusd has its own copy

  timeval tv{20, 0};
  ::setsockopt(early, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::recv(early, buf, sizeof buf, 0)) > 0;)
    reply.append(buf, static_cast<std::size_t>(n));
  ::close(early);
  INFO("soleusd:\n", soleus::test::tail(soleus::test::read_text(log)));
  CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(reply.find("\"state\"") != std::string::npos);

  CHECK(wait_for_text(log, "soleusd: HMI at http://127.0.0.1:" + std::to_string(passed_port) + "/",
                      5s));
  CHECK(wait_for_text(log, "systemd's socket listens on 127.0.0.1:" + std::to_string(passed_port),
                      1s));
  CHECK(soleus::test::get(passed_port, "/api/v1/status").status == 200);
  CHECK(soleus::test::get(config_port, "/api/v1/status").status == 0);  // [hmi] port not bound
}

TEST_CASE("socket activation: LISTEN_PID of another process: soleusd binds [hmi] itself") {
  soleus::test::TempDir dir;
  const int config_port = soleus::test::free_tcp_port();
  int passed_port = 0;
  const int fd = listening_socket(passed_port);
  const std::string log = dir.file("soleusd.log");
  ActivatedDaemon d(config(dir, config_port), fd, log, true);
  ::close(fd);
  INFO("soleusd:\n", soleus::test::tail(soleus::test::read_text(log)));
  REQUIRE(wait_for_text(
      log, "soleusd: HMI at http://127.0.0.1:" + std::to_string(config_port) + "/", 20s));
  CHECK(soleus::test::get(config_port, "/api/v1/status").status == 200);
}
