#pragma once
/// Helpers for tests that run the real programs: soleus-sim, socat, mbpoll.
///
/// Principle of operation:
///  1. A child process is started with fork/exec, its stdout and stderr joined
///     into one pipe. A reader thread keeps draining the pipe (so the child
///     never blocks on a full pipe) and keeps every line for diagnostics.
///  2. Tests wait for a line that matches a prefix (e.g. the simulator's
///     "soleus-sim: modbus tcp 127.0.0.1:PORT") with a bounded wait.
///  3. stop() sends SIGTERM, waits a bounded time, then SIGKILL; the
///     destructor calls stop(), so a failing test never leaks a process.
#include <sys/types.h>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace soleus::test {

/// One child process with its output captured line by line.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Starts `argv[0]` (searched in PATH when it has no '/') with the arguments.
  /// Throws std::runtime_error when the process cannot be started.
  void start(const std::vector<std::string>& argv);
  /// Waits until a line starting with `prefix` has been printed; returns the
  /// rest of that line, or nullopt after `timeout` or when the child exits.
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout);
  /// Ends the child (SIGTERM, then SIGKILL after `grace`) and reaps it.
  /// Returns the exit status as from waitpid, or -1 when not running.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));
  /// Waits for the child to exit on its own (bounded). Returns the exit code
  /// (0..255), 128+signal when killed by a signal, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  /// Everything printed so far, one line per entry.
  std::vector<std::string> lines() const;
  /// Everything printed so far, joined with newlines (for failure messages).
  std::string output() const;

 private:
  void reader(int fd);

  pid_t pid_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

/// Runs a command to completion (bounded) and returns its exit code and
/// joined stdout+stderr. Exit code -1 on timeout (the command is killed).
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run_command(const std::vector<std::string>& argv,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

/// The values mbpoll printed, by reference: lines "[ref]: \tvalue".
std::map<int, std::string> mbpoll_values(const std::string& output);

/// A TCP port that was free a moment ago on 127.0.0.1 (bound to port 0 and
/// released). Prefer letting servers bind port 0 themselves and print it.
int free_tcp_port();

/// A fresh empty directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// path() + "/" + name
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace soleus::test
