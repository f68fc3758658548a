// soleusd's events in the systemd journal (docs/events.md, "In the journal").
//
// "A fault's journal entry carries its fields": CI has no journald (PID 1 is
// not systemd), so the test provides the journal's socket itself. A forked
// child enters a private mount namespace, mounts a tmpfs on /run (its own
// view only), binds an AF_UNIX datagram socket at
// /run/systemd/journal/socket, the fixed path libsystemd sends to, and runs
// the daemon's own event path there: a fault event from the controller
// through event_record (the daemon's conversion) into a storage::Writer whose
// events are copied to a Journal (copy_events_to_journal, members_from: the
// daemon's wiring). The datagrams it receives go back to the test through a
// pipe, raw; the test parses the native journal protocol and checks the fields.
// Needs root (mount namespaces); skipped with a message otherwise.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "soleus/app/backend.hpp"
#include "soleus/app/journal.hpp"
#include "soleus/app/views_from_controller.hpp"
#include "soleus/controller/types.hpp"
#include "soleus/storage/records.hpp"
#include "soleus/storage/writer.hpp"

using namespace soleus;
using Fields = std::map<std::string, std::string>;

namespace {

// ---- the native journal protocol (systemd's JOURNAL_NATIVE_PROTOCOL) --------
// Each field is "KEY=VALUE\n", or, for a value that may hold newlines,
// "KEY\n" + little-endian 64-bit size + the value + "\n".
std::optional<Fields> parse_native(const std::string& d) {
  Fields f;
  std::size_t i = 0;
  while (i < d.size()) {
    const std::size_t nl = d.find('\n', i);
    const std::size_t eq = d.find('=', i);
    if (eq != std::string::npos && (nl == std::string::npos || eq < nl)) {
      if (nl == std::string::npos) return std::nullopt;
      f[d.substr(i, eq - i)] = d.substr(eq + 1, nl - eq - 1);
      i = nl + 1;
    } else {
      if (nl == std::string::npos || nl + 9 > d.size()) return std::nullopt;
      const std::string key = d.substr(i, nl - i);
      std::uint64_t n = 0;
      for (int b = 7; b >= 0; --b)
        n = (n << 8) | static_cast<unsigned char>(d[nl + 1 + static_cast<std::size_t>(b)]);
      const std::size_t start = nl + 9;
      if (start + n + 1 > d.size() || d[start + n] != '\n') return std::nullopt;
      f[key] = d.substr(start, n);
      i = start + n + 1;
    }
  }
  return f;
}

void write_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, c, n);
    if (w <= 0) _exit(3);
    c += w;
    n -= static_cast<std::size_t>(w);
  }
}

// A message to the parent: 'S' (skip, text), 'D' (a datagram), 'E' (error, text).
void send_msg(int fd, char kind, const std::string& s) {
  const std::uint32_t n = static_cast<std::uint32_t>(s.size());
  write_all(fd, &kind, 1);
  write_all(fd, &n, sizeof n);
  write_all(fd, s.data(), s.size());
}

// One datagram from the journal socket; a payload passed as a memfd (how
// libsystemd sends entries too big for a datagram) is read from the fd.
std::optional<std::string> receive(int sock) {
  std::string buf(std::size_t{256} * 1024, '\0');
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(sock, &msg, 0);
  if (n < 0) return std::nullopt;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      std::string payload;
      char b[4096];
      ssize_t r;
      while ((r = ::pread(fd, b, sizeof b, static_cast<off_t>(payload.size()))) > 0)
        payload.append(b, static_cast<std::size_t>(r));
      ::close(fd);
      return payload;
    }
  }
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

// The child: a private /run with the journal's socket, the daemon's event
// path, every datagram to the parent. Never returns.
[[noreturn]] void child(int out, const std::string& dir) {
  if (::unshare(CLONE_NEWNS) != 0) {
    send_msg(out, 'S', std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno));
    _exit(0);
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0) {
    send_msg(out, 'S', std::string("private tmpfs on /run: ") + std::strerror(errno));
    _exit(0);
  }
  ::mkdir("/run/systemd", 0755);
  ::mkdir("/run/systemd/journal", 0755);
  const int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, "/run/systemd/journal/socket");
  if (sock < 0 || ::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    send_msg(out, 'E', std::string("bind the journal socket: ") + std::strerror(errno));
    _exit(1);
  }
  timeval tv{5, 0};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  {
    // soleusd's wiring (app/src/daemon.cpp): the book, the journal, the store.
    app::SetBook book;
    app::Journal journal(app::members_from(book));
    storage::StorageConfig cfg;
    cfg.db_path = dir + "/soleus.db";
    storage::Writer store(cfg);
    app::copy_events_to_journal(store, journal);
    (void)store.start();  // raises storage_opened itself

    // Set 7 of member 42 starts, then the load cell reads over the limit:
    // the events as the controller raises them, through the daemon's path.
    storage::SetStartRecord rec;
    rec.set_id = 7;
    rec.member_id = 42;
    rec.load_n = 800;
    book.expect(rec);
    controller::Event started;
    started.code = controller::EventCode::SetStarted;
    started.set_id = 7;
    started.set_text("set 7 started");
    if (auto s = book.on_event(started)) store.push(*s);
    store.push(app::event_record(started));
    controller::Event fault;
    fault.severity = controller::Severity::Error;
    fault.code = controller::EventCode::OverForce;
    fault.set_id = 7;
    fault.value = 1012.5;
    fault.set_text("over force: 1012 N > 1.15 x 800 N");
    (void)book.on_event(fault);
    store.push(app::event_record(fault));
    journal.flush(std::chrono::seconds(5));
    store.stop();
    journal.stop();
  }
  // Everything sent is queued on our socket: pass it on, then say we are done.
  timeval quick{0, 200'000};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &quick, sizeof quick);
  while (auto d = receive(sock)) send_msg(out, 'D', *d);
  _exit(0);
}

struct Capture {
  std::optional<std::string> skipped;
  std::optional<std::string> error;
  std::vector<Fields> entries;
};

Capture capture_daemon_events() {
  Capture cap;
  char tmpl[] = "/tmp/soleus-journal-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  int p[2];
  REQUIRE(::pipe(p) == 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    child(p[1], dir);
  }
  ::close(p[1]);
  std::string all;
  char b[65536];
  ssize_t r;
  while ((r = ::read(p[0], b, sizeof b)) > 0) all.append(b, static_cast<std::size_t>(r));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::filesystem::remove_all(dir);
  std::size_t i = 0;
  while (i + 5 <= all.size()) {
    const char kind = all[i];
    std::uint32_t n = 0;
    std::memcpy(&n, all.data() + i + 1, sizeof n);
    const std::string s = all.substr(i + 5, n);
    i += 5 + n;
    if (kind == 'S') cap.skipped = s;
    else if (kind == 'E') cap.error = s;
    else if (auto f = parse_native(s)) cap.entries.push_back(*f);
    else cap.error = "a datagram that is not the native journal protocol";
  }
  if (!cap.skipped && !cap.error && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    cap.error = "the child failed (status " + std::to_string(status) + ")";
  return cap;
}

const Fields* find_event(const std::vector<Fields>& entries, const std::string& code) {
  for (const auto& e : entries)
    if (auto it = e.find("SOLEUS_EVENT"); it != e.end() && it->second == code) return &e;
  return nullptr;
}

std::string field(const Fields& f, const std::string& key) {
  auto it = f.find(key);
  return it == f.end() ? std::string("<missing>") : it->second;
}

}  // namespace

TEST_CASE("the native protocol parser reads both field forms") {
  std::string d = "A=1\nB\n";
  const std::string v = "two\nlines";
  for (int b = 0; b < 8; ++b) d += static_cast<char>((v.size() >> (8 * b)) & 0xff);
  d += v + "\nC=x=y\n";
  const auto f = parse_native(d);
  REQUIRE(f);
  CHECK(f->at("A") == "1");
  CHECK(f->at("B") == v);
  CHECK(f->at("C") == "x=y");
  CHECK_FALSE(parse_native("A\n\x03"));  // a size cut short
}

TEST_CASE("a fault's journal entry carries its fields") {
  if (::geteuid() != 0) {
    std::printf(
        "SKIPPED: not root: a private mount namespace for the journal's socket "
        "needs CAP_SYS_ADMIN\n");
    return;
  }
  const Capture cap = capture_daemon_events();
  if (cap.skipped) {
    std::printf("SKIPPED: %s\n", cap.skipped->c_str());
    return;
  }
  REQUIRE_MESSAGE(!cap.error, (cap.error ? *cap.error : ""));
  INFO("entries received: ", cap.entries.size());

  const Fields* fault = find_event(cap.entries, "over_force");
  REQUIRE_MESSAGE(fault, "no entry with SOLEUS_EVENT=over_force");
  const char* id = app::event_message_id("over_force");
  REQUIRE(id);
  CHECK(field(*fault, "MESSAGE_ID") == std::string(id));
  CHECK(field(*fault, "PRIORITY") == "3");  // error
  CHECK(field(*fault, "SOLEUS_SET_ID") == "7");
  CHECK(field(*fault, "SOLEUS_MEMBER_ID") == "42");  // from the set's start record
  CHECK(field(*fault, "SOLEUS_CONTEXT") == "{\"value\":1012.5}");
  CHECK(field(*fault, "MESSAGE") == "[over_force] over force: 1012 N > 1.15 x 800 N");
  CHECK(field(*fault, "SYSLOG_IDENTIFIER") != "<missing>");

  const Fields* started = find_event(cap.entries, "set_started");
  REQUIRE(started);
  CHECK(field(*started, "PRIORITY") == "6");  // info
  CHECK(field(*started, "MESSAGE_ID") == std::string(app::event_message_id("set_started")));
  CHECK(field(*started, "MESSAGE_ID") != field(*fault, "MESSAGE_ID"));

  // The store's own events go the same way.
  const Fields* opened = find_event(cap.entries, "storage_opened");
  REQUIRE(opened);
  CHECK(field(*opened, "MESSAGE_ID") == std::string(app::event_message_id("storage_opened")));
  CHECK(opened->count("SOLEUS_SET_ID") == 0);  // not about a set
}

TEST_CASE("posting never waits on the journal, even when it hangs") {
  // A journal that takes no datagram until released: posts still return at
  // once; past the queue's capacity they are dropped and counted.
  std::mutex m;
  std::condition_variable cv;
  bool released = false;
  std::atomic<int> sends{0};
  app::Journal journal({}, 4, [&](const std::vector<std::string>&) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return released; });
    ++sends;
    return 0;
  });
  storage::EventRecord e;
  e.code.assign("comm_loss");
  e.severity = storage::Severity::Error;
  e.message.assign("the machine stopped answering");
  const auto t0 = std::chrono::steady_clock::now();
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += journal.post(e) ? 1 : 0;
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200));
  CHECK(accepted >= 4);  // the queue's 4 (and the one being sent, at most)
  CHECK(accepted <= 5);
  CHECK(journal.dropped() == static_cast<std::uint64_t>(20 - accepted));
  CHECK_FALSE(journal.flush(std::chrono::milliseconds(50)));  // still hanging
  {
    std::lock_guard lock(m);
    released = true;
  }
  cv.notify_all();
  CHECK(journal.flush(std::chrono::seconds(5)));
  CHECK(sends.load() == accepted);
  CHECK(journal.sent() == static_cast<std::uint64_t>(accepted));
}

TEST_CASE("without a journal, entries are dropped quietly") {
  if (std::filesystem::exists("/run/systemd/journal/socket")) {
    std::printf("SKIPPED: a journal runs here (this case checks a machine without one)\n");
    return;
  }
  // libsystemd discards an entry when there is no socket (ENOENT is not an
  // error for it): the sends return, and nothing is written to stderr.
  std::fflush(stderr);
  char path[] = "/tmp/soleus-journal-stderr-XXXXXX";
  const int tmp = ::mkstemp(path);
  REQUIRE(tmp >= 0);
  const int saved = ::dup(2);
  ::dup2(tmp, 2);
  {
    app::Journal journal;
    storage::EventRecord e;
    e.code.assign("boot");
    e.message.assign("soleusd started (test)");
    for (int i = 0; i < 3; ++i) CHECK(journal.post(e));
    CHECK(journal.flush(std::chrono::seconds(5)));
    CHECK(journal.sent() + journal.failed() == 3);
  }
  ::dup2(saved, 2);
  ::close(saved);
  struct stat st {};
  ::fstat(tmp, &st);
  ::close(tmp);
  ::unlink(path);
  CHECK(st.st_size == 0);
}
