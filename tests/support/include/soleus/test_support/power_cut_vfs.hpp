#pragma once
/// A VFS for tests that simulates a power cut (test-only: soleusd never links
/// it). SQLite's default VFS, wrapped, with the operating system's page cache
/// modelled in memory: a write reaches the real file (the "platter") only
/// when its file is synced; a power cut throws away, or tears, what was not.
///
/// Principle of operation:
///  1. install() copies the default sqlite3_vfs, replaces xOpen and xDelete,
///     and registers the copy under a name (never as the default). A
///     connection opts in by opening with that name (StorageConfig::vfs).
///  2. The main database, its WAL and its rollback journals are tracked by
///     path (one state per path, shared by every connection of the process,
///     as the page cache is shared by every descriptor of a file). xWrite and
///     xTruncate append to that file's list of pending operations; nothing
///     reaches the real file. xRead and xFileSize answer from the real file
///     with the pending operations replayed over it in order, so SQLite sees
///     its own writes as it would through a page cache.
///  3. xSync applies the pending operations to the real file, in order, and
///     forgets them: from then on they are durable. (The real file stands for
///     the platter; the host's own fsync is not called, the model does not
///     need it.) xFetch answers "no mapping", so every read goes through (2);
///     SQLITE_FCNTL_SIZE_HINT, which would extend the real file behind the
///     model's back, is ignored (it is only a hint).
///  4. cut() is the power cut. Loss::Unsynced drops every pending operation:
///     each file then holds exactly what was synced. Loss::Torn is harsher,
///     and still within what SQLite assumes of a disk (atomiccommit.html:
///     writes reordered, not atomic, new file space holds garbage, bytes
///     outside a write's range untouched = SQLITE_IOCAP_POWERSAFE_OVERWRITE):
///     per file, either a random prefix of the pending operations reaches the
///     disk with the last one torn at 512-byte sectors, or a random subset of
///     them does with each one's sectors kept at random; where a lost write
///     lay beyond the file's durable end and the file grew past it anyway,
///     its bytes are random garbage.
///  5. After cut() the machine is off: every read, write, sync, truncate,
///     size, open and delete call blocks (the thread never comes back, as on a dead computer)
///     until power_on(). Use it in a child process that is then killed
///     (SIGKILL), or call power_on() in-process: blocked calls and every later
///     call on a file opened before the cut fail with SQLITE_IOERR, and all
///     state is forgotten (files opened afterwards start from the real files).
///  6. Not modelled: directory entries (a file created, or deleted, stays so
///     across the cut), and the -shm file (SQLite rebuilds it from the WAL when
///     the first connection opens after a crash; a test may scramble it).
#include <cstdint>
#include <memory>
#include <string>

namespace soleus::test_support {

class PowerCutVfs {
 public:
  enum class Loss {
    Unsynced,  ///< every write since its file's last xSync is lost
    Torn,      ///< a random prefix or subset of them survives, torn at 512-byte sectors
  };

  struct Stats {
    std::uint64_t writes = 0;      ///< xWrite calls taken into the page cache model
    std::uint64_t syncs = 0;       ///< xSync calls that made pending operations durable
    std::uint64_t synced_ops = 0;  ///< operations made durable by those syncs
    std::uint64_t steps = 0;       ///< I/O steps (xWrite, xTruncate, xSync of tracked files) taken
    // Filled by cut():
    int files_pending = 0;              ///< files with pending operations at the cut
    std::uint64_t pending_ops = 0;      ///< operations not synced at the cut
    std::uint64_t pending_bytes = 0;    ///< their bytes
    std::uint64_t kept_ops = 0;         ///< of those, reaching the disk at least in part (Torn)
    std::uint64_t kept_sectors = 0;     ///< 512-byte pieces written (Torn)
    std::uint64_t dropped_sectors = 0;  ///< 512-byte pieces lost (Torn)
    std::uint64_t garbage_bytes = 0;    ///< random bytes left where a lost write extended a file
  };

  /// Registers the VFS under `name` once (later calls return the same object). Thread-safe.
  static PowerCutVfs& install(const std::string& name = "soleus-power-cut");

  const std::string& name() const;
  /// The power cut (4, 5). `seed` drives the random choices of Loss::Torn.
  void cut(Loss loss, std::uint64_t seed);
  /// Arms a cut inside the `step`-th I/O step from now (an xWrite, xTruncate
  /// or xSync of a tracked file, counted from 1): that call does not take
  /// effect, it blocks like every later one. A cut at an exact point of
  /// SQLite's write sequence (mid-transaction, between a commit's writes and
  /// its sync, mid-checkpoint), where a cut at a random time mostly finds the
  /// files idle.
  void arm(std::uint64_t step, Loss loss, std::uint64_t seed);
  bool is_cut() const;
  /// Calls blocked by the cut right now.
  int blocked() const;
  /// Power returns (5): blocked calls fail, all state is forgotten, stats reset.
  void power_on();
  Stats stats() const;

  struct Impl;  // public for the C callbacks only
  ~PowerCutVfs();

 private:
  explicit PowerCutVfs(std::string name);
  std::unique_ptr<Impl> impl_;
};

}  // namespace soleus::test_support
