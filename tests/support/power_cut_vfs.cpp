#include "soleus/test_support/power_cut_vfs.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

namespace soleus::test_support {

namespace {

constexpr std::int64_t kSector = 512;

/// One write or truncate not yet synced.
struct Op {
  bool truncate = false;
  std::int64_t off = 0;  ///< the offset written at, or the new size
  std::vector<unsigned char> data;
};

/// One tracked file (by path): its pending operations, the page cache's part.
struct FileState {
  std::string path;
  std::vector<Op> ops;
  bool dead = false;  ///< opened before a power cut that has since been undone by power_on()
};

struct Handle {
  sqlite3_file base;  // must be first: SQLite sees a sqlite3_file*
  PowerCutVfs::Impl* owner;
  std::shared_ptr<FileState> state;  // null: a temporary file, passed straight through
  sqlite3_file* real;                // lives in the tail of this allocation (szOsFile)
};

Handle* handle(sqlite3_file* f) { return reinterpret_cast<Handle*>(f); }
sqlite3_file* real(sqlite3_file* f) { return handle(f)->real; }

std::int64_t real_size(sqlite3_file* r) {
  sqlite3_int64 size = 0;
  if (r->pMethods->xFileSize(r, &size) != SQLITE_OK) return -1;
  return size;
}

/// The size the file has once `ops` are applied to a file of `size` bytes.
std::int64_t replay_size(std::int64_t size, const std::vector<Op>& ops) {
  for (const Op& op : ops)
    size = op.truncate ? op.off : std::max<std::int64_t>(size, op.off + std::ssize(op.data));
  return size;
}

}  // namespace

struct ShimVfs {
  sqlite3_vfs vfs;
  sqlite3_vfs* root;
  PowerCutVfs::Impl* owner;
};

struct PowerCutVfs::Impl {
  std::string name;
  sqlite3_vfs* root = nullptr;
  mutable std::mutex mu;
  std::condition_variable power;  // signalled by power_on()
  std::map<std::string, std::shared_ptr<FileState>> files;
  bool cut = false;
  int blocked = 0;
  Stats stats;
  // arm(): the step to cut at (0 = none) and how.
  std::uint64_t cut_at_step = 0;
  PowerCutVfs::Loss armed_loss = PowerCutVfs::Loss::Unsynced;
  std::uint64_t armed_seed = 0;

  /// Under `lock`: 0 to go on, or the code to answer (after a cut, once power is back).
  /// `step`: the call is an I/O step (write, truncate, sync), where an armed cut may fall.
  int gate(std::unique_lock<std::mutex>& lock, const Handle* h, bool step = false) {
    if (step && !cut && h->state) {
      ++stats.steps;
      if (cut_at_step != 0 && stats.steps == cut_at_step) cut_now(armed_loss, armed_seed);
    }
    if (cut) {
      ++blocked;
      power.wait(lock, [&] { return !cut; });  // the machine is off: this call never returns
      --blocked;
      return SQLITE_IOERR;
    }
    if (h->state && h->state->dead) return SQLITE_IOERR;
    return 0;
  }

  std::shared_ptr<FileState> state_for(const std::string& path) {
    auto& s = files[path];
    if (!s) {
      s = std::make_shared<FileState>();
      s->path = path;
    }
    return s;
  }

  void apply_durably(sqlite3_file* r, FileState& st) {
    for (const Op& op : st.ops) {
      int rc = op.truncate ? r->pMethods->xTruncate(r, op.off)
                           : r->pMethods->xWrite(r, op.data.data(),
                                                 static_cast<int>(op.data.size()), op.off);
      if (rc != SQLITE_OK)
        throw std::runtime_error("power-cut VFS: applying a synced write failed");
    }
    stats.synced_ops += st.ops.size();
    st.ops.clear();
  }

  void cut_file(FileState& st, PowerCutVfs::Loss loss, std::mt19937_64& rng);

  /// Under the lock: from here every call blocks, nothing more reaches the disk.
  void cut_now(PowerCutVfs::Loss loss, std::uint64_t seed) {
    if (cut) return;
    cut = true;
    std::mt19937_64 rng(seed);
    for (auto& [path, st] : files) cut_file(*st, loss, rng);
  }
};

namespace {

int x_close(sqlite3_file* f) {
  Handle* h = handle(f);
  int rc = real(f)->pMethods ? real(f)->pMethods->xClose(real(f)) : SQLITE_OK;
  {
    std::lock_guard lock(h->owner->mu);
    h->state.reset();  // the page cache outlives the descriptor: the path's state stays
  }
  h->state.~shared_ptr<FileState>();
  f->pMethods = nullptr;
  return rc;
}

int x_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
  Handle* h = handle(f);
  sqlite3_file* r = real(f);
  if (!h->state) return r->pMethods->xRead(r, p, n, off);
  std::unique_lock lock(h->owner->mu);
  if (int rc = h->owner->gate(lock, h)) return rc;
  const std::vector<Op>& ops = h->state->ops;
  if (ops.empty()) return r->pMethods->xRead(r, p, n, off);
  int rc = r->pMethods->xRead(r, p, n, off);  // zero-fills past the real end
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
  auto* buf = static_cast<unsigned char*>(p);
  const std::int64_t end = off + n;
  std::int64_t size = real_size(r);
  if (size < 0) return SQLITE_IOERR_FSTAT;
  for (const Op& op : ops) {
    if (op.truncate) {
      if (op.off < end) {
        const std::int64_t from = std::max<std::int64_t>(op.off, off);
        std::memset(buf + (from - off), 0, static_cast<std::size_t>(end - from));
      }
      size = op.off;
    } else {
      const std::int64_t a = std::max<std::int64_t>(op.off, off);
      const std::int64_t b = std::min<std::int64_t>(op.off + std::ssize(op.data), end);
      if (a < b)
        std::memcpy(buf + (a - off), op.data.data() + (a - op.off),
                    static_cast<std::size_t>(b - a));
      size = std::max<std::int64_t>(size, op.off + std::ssize(op.data));
    }
  }
  if (size < end) {
    const std::int64_t from = std::max<std::int64_t>(size, off);
    std::memset(buf + (from - off), 0, static_cast<std::size_t>(end - from));
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

int x_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  Handle* h = handle(f);
  if (!h->state) return real(f)->pMethods->xWrite(real(f), p, n, off);
  std::unique_lock lock(h->owner->mu);
  if (int rc = h->owner->gate(lock, h, true)) return rc;
  const auto* b = static_cast<const unsigned char*>(p);
  h->state->ops.push_back(Op{false, off, std::vector<unsigned char>(b, b + n)});
  ++h->owner->stats.writes;
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  Handle* h = handle(f);
  if (!h->state) return real(f)->pMethods->xTruncate(real(f), size);
  std::unique_lock lock(h->owner->mu);
  if (int rc = h->owner->gate(lock, h, true)) return rc;
  h->state->ops.push_back(Op{true, size, {}});
  return SQLITE_OK;
}

int x_sync(sqlite3_file* f, int flags) {
  Handle* h = handle(f);
  if (!h->state) return real(f)->pMethods->xSync(real(f), flags);
  std::unique_lock lock(h->owner->mu);
  if (int rc = h->owner->gate(lock, h, true)) return rc;
  try {
    h->owner->apply_durably(real(f), *h->state);
  } catch (const std::exception&) {
    return SQLITE_IOERR_FSYNC;
  }
  ++h->owner->stats.syncs;
  return SQLITE_OK;
}

int x_file_size(sqlite3_file* f, sqlite3_int64* out) {
  Handle* h = handle(f);
  if (!h->state) return real(f)->pMethods->xFileSize(real(f), out);
  std::unique_lock lock(h->owner->mu);
  if (int rc = h->owner->gate(lock, h)) return rc;
  std::int64_t size = real_size(real(f));
  if (size < 0) return SQLITE_IOERR_FSTAT;
  *out = replay_size(size, h->state->ops);
  return SQLITE_OK;
}

int x_lock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int x_check_reserved(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  // Extending the real file behind the model's back would make unsynced
  // space durable; the hint is only a hint.
  if (op == SQLITE_FCNTL_SIZE_HINT && handle(f)->state) return SQLITE_OK;
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_chars(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int x_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
  return real(f)->pMethods->xShmMap(real(f), pg, sz, extend, pp);
}
int x_shm_lock(sqlite3_file* f, int off, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), off, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
int x_fetch(sqlite3_file*, sqlite3_int64, int, void** pp) {
  *pp = nullptr;  // no memory map: every read goes through the model
  return SQLITE_OK;
}
int x_unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

const sqlite3_io_methods kMethods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved,
    x_file_control,
    x_sector_size,
    x_device_chars,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

int x_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* sv = reinterpret_cast<ShimVfs*>(vfs);
  {
    std::unique_lock lock(sv->owner->mu);
    if (sv->owner->cut) {  // the machine is off: no file is opened, let alone created
      ++sv->owner->blocked;
      sv->owner->power.wait(lock, [&] { return !sv->owner->cut; });
      --sv->owner->blocked;
      f->pMethods = nullptr;
      return SQLITE_CANTOPEN;
    }
  }
  Handle* h = handle(f);
  h->owner = sv->owner;
  new (&h->state) std::shared_ptr<FileState>();
  h->real = reinterpret_cast<sqlite3_file*>(h + 1);
  f->pMethods = nullptr;
  constexpr int kTracked =
      SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL;
  const bool tracked = name && (flags & kTracked) && !(flags & SQLITE_OPEN_DELETEONCLOSE);
  int rc = sv->root->xOpen(sv->root, name, h->real, flags, out_flags);
  if (rc == SQLITE_OK && h->real->pMethods) {
    if (h->real->pMethods->iVersion < 3) {
      h->real->pMethods->xClose(h->real);
      h->state.~shared_ptr<FileState>();
      return SQLITE_CANTOPEN;
    }
    if (tracked) {
      std::lock_guard lock(sv->owner->mu);
      h->state = sv->owner->state_for(name);
    }
    f->pMethods = &kMethods;
  } else {
    h->state.~shared_ptr<FileState>();
  }
  return rc;
}

int x_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  auto* sv = reinterpret_cast<ShimVfs*>(vfs);
  {
    std::unique_lock lock(sv->owner->mu);
    if (sv->owner->cut) {
      ++sv->owner->blocked;
      sv->owner->power.wait(lock, [&] { return !sv->owner->cut; });
      --sv->owner->blocked;
      return SQLITE_IOERR_DELETE;
    }
    sv->owner->files.erase(name);  // open descriptors keep the unlinked file's state
  }
  return sv->root->xDelete(sv->root, name, sync_dir);
}

std::mutex g_install_mutex;
std::map<std::string, std::unique_ptr<PowerCutVfs>>& registry() {
  static std::map<std::string, std::unique_ptr<PowerCutVfs>> r;
  return r;
}
std::map<std::string, std::unique_ptr<ShimVfs>>& shims() {
  static std::map<std::string, std::unique_ptr<ShimVfs>> r;
  return r;
}

/// The byte range [first, second) of piece k of a write: its part of the k-th
/// 512-byte sector the write touches.
std::pair<std::int64_t, std::int64_t> piece(const Op& op, std::size_t k) {
  const std::int64_t sector = (op.off / kSector + static_cast<std::int64_t>(k)) * kSector;
  return {std::max<std::int64_t>(op.off, sector),
          std::min<std::int64_t>(op.off + std::ssize(op.data), sector + kSector)};
}

/// Writes [off, off + n) of `data` to the real file `fd` (the power cut's writes).
void pwrite_all(int fd, const unsigned char* data, std::int64_t n, std::int64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, static_cast<std::size_t>(n), off);
    if (w < 0) throw std::runtime_error("power-cut VFS: pwrite failed");
    data += w;
    n -= w;
    off += w;
  }
}

}  // namespace

void PowerCutVfs::Impl::cut_file(FileState& st, PowerCutVfs::Loss loss, std::mt19937_64& rng) {
  stats.files_pending += st.ops.empty() ? 0 : 1;
  for (const Op& op : st.ops) {
    ++stats.pending_ops;
    stats.pending_bytes += op.data.size();
  }
  if (loss == PowerCutVfs::Loss::Unsynced || st.ops.empty()) {
    st.ops.clear();
    return;
  }
  const int fd = ::open(st.path.c_str(), O_WRONLY);
  if (fd < 0) {  // deleted meanwhile: nothing of it can survive
    st.ops.clear();
    return;
  }
  struct stat sb {};
  ::fstat(fd, &sb);
  const std::int64_t durable_end = sb.st_size;

  // Which pieces reach the disk: per op, a mask over its 512-byte sectors
  // (a truncate is one piece).
  const bool in_order = std::uniform_int_distribution<int>(0, 1)(rng) == 0;
  const std::size_t n = st.ops.size();
  std::vector<std::vector<bool>> keep(n);
  const std::size_t prefix = std::uniform_int_distribution<std::size_t>(0, n)(rng);
  std::bernoulli_distribution coin(0.5), sector_coin(0.75);
  for (std::size_t i = 0; i < n; ++i) {
    const Op& op = st.ops[i];
    const std::int64_t first = op.off / kSector;
    const std::int64_t last = op.truncate ? first : (op.off + std::ssize(op.data) - 1) / kSector;
    const auto pieces = static_cast<std::size_t>(op.data.empty() ? 1 : last - first + 1);
    keep[i].assign(pieces, false);
    if (in_order) {
      // A device that writes in order: everything before `prefix`, then a
      // torn prefix of that one op's sectors.
      if (i < prefix) keep[i].assign(pieces, true);
      if (i == prefix) {
        const std::size_t torn = std::uniform_int_distribution<std::size_t>(0, pieces)(rng);
        for (std::size_t k = 0; k < torn && k < pieces; ++k) keep[i][k] = true;
        if (op.truncate) keep[i][0] = false;
      }
    } else if (coin(rng)) {
      for (std::size_t k = 0; k < pieces; ++k) keep[i][k] = op.truncate || sector_coin(rng);
    }
  }

  // The size the file reaches with what was kept, then garbage where a lost
  // piece lay beyond the durable end and below that size ("new file space
  // originally contains garbage"), then the kept pieces in order.
  std::int64_t size = durable_end;
  for (std::size_t i = 0; i < n; ++i) {
    const Op& op = st.ops[i];
    for (std::size_t k = 0; k < keep[i].size(); ++k) {
      if (!keep[i][k]) continue;
      size = op.truncate ? op.off : std::max(size, piece(op, k).second);
    }
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::size_t i = 0; i < n; ++i) {
    const Op& op = st.ops[i];
    if (op.truncate) continue;
    for (std::size_t k = 0; k < keep[i].size(); ++k) {
      const auto [a, b] = piece(op, k);
      if (keep[i][k]) {
        ++stats.kept_sectors;
        continue;
      }
      ++stats.dropped_sectors;
      const std::int64_t ga = std::max(a, durable_end), gb = std::min(b, size);
      if (ga >= gb) continue;
      std::vector<unsigned char> junk(static_cast<std::size_t>(gb - ga));
      for (auto& c : junk) c = static_cast<unsigned char>(byte(rng));
      pwrite_all(fd, junk.data(), std::ssize(junk), ga);
      stats.garbage_bytes += junk.size();
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Op& op = st.ops[i];
    bool any = false;
    for (std::size_t k = 0; k < keep[i].size(); ++k) {
      if (!keep[i][k]) continue;
      any = true;
      if (op.truncate) {
        if (::ftruncate(fd, op.off) != 0)
          throw std::runtime_error("power-cut VFS: ftruncate failed");
        continue;
      }
      const auto [a, b] = piece(op, k);
      pwrite_all(fd, op.data.data() + (a - op.off), b - a, a);
    }
    stats.kept_ops += any ? 1 : 0;
  }
  ::close(fd);
  st.ops.clear();
}

PowerCutVfs::PowerCutVfs(std::string name) : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
}
PowerCutVfs::~PowerCutVfs() = default;

PowerCutVfs& PowerCutVfs::install(const std::string& name) {
  std::lock_guard lock(g_install_mutex);
  auto& reg = registry();
  if (auto it = reg.find(name); it != reg.end()) return *it->second;
  sqlite3_initialize();
  sqlite3_vfs* root = sqlite3_vfs_find(nullptr);
  if (!root) throw std::runtime_error("no default SQLite VFS");
  std::unique_ptr<PowerCutVfs> owner(new PowerCutVfs(name));
  owner->impl_->root = root;
  auto sv = std::make_unique<ShimVfs>();
  sv->vfs = *root;
  sv->vfs.pNext = nullptr;
  sv->vfs.szOsFile = static_cast<int>(sizeof(Handle)) + root->szOsFile;
  sv->vfs.zName = owner->impl_->name.c_str();
  sv->vfs.pAppData = nullptr;
  sv->vfs.xOpen = x_open;
  sv->vfs.xDelete = x_delete;
  sv->root = root;
  sv->owner = owner->impl_.get();
  // The other entries (xAccess, xFullPathname, ...) are the root's own,
  // called with our sqlite3_vfs*: the unix VFS reads nothing else from it.
  if (sqlite3_vfs_register(&sv->vfs, 0) != SQLITE_OK)
    throw std::runtime_error("cannot register VFS " + name);
  shims().emplace(name, std::move(sv));  // registered for the process's life
  return *reg.emplace(name, std::move(owner)).first->second;
}

const std::string& PowerCutVfs::name() const { return impl_->name; }

void PowerCutVfs::cut(Loss loss, std::uint64_t seed) {
  std::lock_guard lock(impl_->mu);
  impl_->cut_now(loss, seed);
}

void PowerCutVfs::arm(std::uint64_t step, Loss loss, std::uint64_t seed) {
  std::lock_guard lock(impl_->mu);
  impl_->cut_at_step = step == 0 ? 0 : impl_->stats.steps + step;
  impl_->armed_loss = loss;
  impl_->armed_seed = seed;
}

bool PowerCutVfs::is_cut() const {
  std::lock_guard lock(impl_->mu);
  return impl_->cut;
}

int PowerCutVfs::blocked() const {
  std::lock_guard lock(impl_->mu);
  return impl_->blocked;
}

void PowerCutVfs::power_on() {
  std::lock_guard lock(impl_->mu);
  for (auto& [path, st] : impl_->files) {
    st->ops.clear();
    st->dead = true;  // descriptors opened before the cut only fail from now on
  }
  impl_->files.clear();
  impl_->stats = {};
  impl_->cut_at_step = 0;
  impl_->cut = false;
  impl_->power.notify_all();
}

PowerCutVfs::Stats PowerCutVfs::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace soleus::test_support
