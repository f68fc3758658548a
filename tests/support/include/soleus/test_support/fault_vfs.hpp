#pragma once
/// A VFS shim for tests: SQLite's default VFS, wrapped, with writes that fail
/// or stall on command. Disk-full, read-only and I/O errors then travel the
/// real SQLite error path (the pager, the WAL, the rollback), which root's
/// disregard of file permissions in CI would not allow.
///
/// Test-only (library soleus_test_fault_vfs): the storage tests and
/// soleusd-test (the daemon with its test hooks, docs/storage.md) link it;
/// soleusd, the daemon that ships, does not (test soleusd_ships_no_test_code).
///
/// Principle of operation:
///  1. install() copies the default sqlite3_vfs, replaces xOpen and registers
///     the copy under a name (not as the default). A connection opts in by
///     opening with that VFS name (StorageConfig::vfs).
///  2. xOpen opens the real file through the default VFS into the tail of
///     our file object and points the file at our io_methods, which forward
///     every call to the real file.
///  3. xWrite, xTruncate and xSync first read the mode (one atomic): Full
///     answers SQLITE_FULL, IoErr SQLITE_IOERR_WRITE (or _FSYNC, _TRUNCATE),
///     ReadOnly SQLITE_READONLY; Stall parks the calling thread until the mode
///     changes (the writer "hangs" on a slow disk). Reads always work.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace soleus::test_support {

class FaultVfs {
 public:
  enum class Mode { None, Full, IoErr, ReadOnly, Stall };

  /// Registers the shim under `name` once (later calls return the same
  /// object) and returns it. Thread-safe.
  static FaultVfs& install(const std::string& name = "soleus-fault");

  const std::string& name() const { return name_; }
  void set_mode(Mode m);
  Mode mode() const { return mode_.load(); }

  /// Calls currently parked in Stall.
  int stalled() const { return stalled_.load(); }
  /// Waits (on a condition, not a fixed sleep) until at least one call is parked.
  bool wait_stalled(std::chrono::milliseconds timeout) const;
  std::uint64_t writes() const { return writes_.load(); }      ///< xWrite calls that went through
  std::uint64_t syncs() const { return syncs_.load(); }        ///< xSync calls that went through
  std::uint64_t failures() const { return failures_.load(); }  ///< calls failed on purpose

  // Used by the C callbacks.
  int gate(int fail_code);  ///< 0 = go on, else the code to return
  void count_write() { ++writes_; }
  void count_sync() { ++syncs_; }

 private:
  explicit FaultVfs(std::string name) : name_(std::move(name)) {}
  std::string name_;
  std::atomic<Mode> mode_{Mode::None};
  std::atomic<int> stalled_{0};
  std::atomic<std::uint64_t> writes_{0}, syncs_{0}, failures_{0};
};

}  // namespace soleus::test_support
