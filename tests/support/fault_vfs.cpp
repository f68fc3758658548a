#include "soleus/test_support/fault_vfs.hpp"

#include <sqlite3.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace soleus::test_support {

namespace {

struct ShimFile {
  sqlite3_file base;  // must be first: SQLite sees a sqlite3_file*
  FaultVfs* owner;
  sqlite3_file* real;  // lives in the tail of this allocation (szOsFile)
};

struct ShimVfs {
  sqlite3_vfs vfs;
  sqlite3_vfs* root;
  FaultVfs* owner;
};

ShimFile* shim(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }
sqlite3_file* real(sqlite3_file* f) { return shim(f)->real; }

int x_close(sqlite3_file* f) {
  int rc = real(f)->pMethods ? real(f)->pMethods->xClose(real(f)) : SQLITE_OK;
  f->pMethods = nullptr;
  return rc;
}
int x_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
  return real(f)->pMethods->xRead(real(f), p, n, off);
}
int x_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  FaultVfs* o = shim(f)->owner;
  if (int rc = o->gate(SQLITE_IOERR_WRITE)) return rc;
  o->count_write();
  return real(f)->pMethods->xWrite(real(f), p, n, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = shim(f)->owner->gate(SQLITE_IOERR_TRUNCATE)) return rc;
  return real(f)->pMethods->xTruncate(real(f), size);
}
int x_sync(sqlite3_file* f, int flags) {
  FaultVfs* o = shim(f)->owner;
  if (int rc = o->gate(SQLITE_IOERR_FSYNC)) return rc;
  o->count_sync();
  return real(f)->pMethods->xSync(real(f), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real(f)->pMethods->xFileSize(real(f), size);
}
int x_lock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int x_check_reserved(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
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
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** pp) {
  return real(f)->pMethods->xFetch(real(f), off, amt, pp);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), off, p);
}

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
  ShimFile* s = shim(f);
  s->owner = sv->owner;
  s->real = reinterpret_cast<sqlite3_file*>(s + 1);
  f->pMethods = nullptr;
  if (sv->owner->mode() == FaultVfs::Mode::ReadOnly && (flags & SQLITE_OPEN_CREATE) && name) {
    int exists = 0;
    sv->root->xAccess(sv->root, name, SQLITE_ACCESS_EXISTS, &exists);
    if (!exists) return SQLITE_CANTOPEN;  // a read-only file system cannot create files
  }
  int rc = sv->root->xOpen(sv->root, name, s->real, flags, out_flags);
  if (rc == SQLITE_OK && s->real->pMethods) {
    if (s->real->pMethods->iVersion < 3) {
      s->real->pMethods->xClose(s->real);
      return SQLITE_CANTOPEN;
    }
    f->pMethods = &kMethods;
  }
  return rc;
}

std::mutex g_mutex;
struct Registered {
  Registered(std::unique_ptr<ShimVfs> v, std::unique_ptr<FaultVfs> o)
      : vfs(std::move(v)), owner(std::move(o)) {}
  Registered(Registered&&) = default;
  std::unique_ptr<ShimVfs> vfs;
  std::unique_ptr<FaultVfs> owner;
  ~Registered() {
    if (vfs) sqlite3_vfs_unregister(&vfs->vfs);
  }
};
std::map<std::string, Registered>& registry() {
  static std::map<std::string, Registered> r;
  return r;
}

}  // namespace

FaultVfs& FaultVfs::install(const std::string& name) {
  std::lock_guard lock(g_mutex);
  auto& reg = registry();
  if (auto it = reg.find(name); it != reg.end()) return *it->second.owner;
  sqlite3_initialize();
  sqlite3_vfs* root = sqlite3_vfs_find(nullptr);
  if (!root) throw std::runtime_error("no default SQLite VFS");
  // Both live as long as the process, like the registration.
  std::unique_ptr<FaultVfs> holder(new FaultVfs(name));
  FaultVfs* owner = holder.get();
  auto sv = std::make_unique<ShimVfs>();
  sv->vfs = *root;
  sv->vfs.pNext = nullptr;
  sv->vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + root->szOsFile;
  sv->vfs.zName = owner->name_.c_str();
  sv->vfs.pAppData = nullptr;
  sv->vfs.xOpen = x_open;
  sv->root = root;
  sv->owner = owner;
  // The remaining entries (xDelete, xAccess, xFullPathname, ...) are the
  // root's own, called with our sqlite3_vfs*: the unix VFS does not read its
  // own fields from that pointer except through pAppData, which is NULL there too.
  if (sqlite3_vfs_register(&sv->vfs, 0) != SQLITE_OK)
    throw std::runtime_error("cannot register VFS " + name);
  reg.emplace(name, Registered(std::move(sv), std::move(holder)));
  return *owner;
}

void FaultVfs::set_mode(Mode m) {
  mode_.store(m);
  mode_.notify_all();
}

int FaultVfs::gate(int fail_code) {
  for (;;) {
    Mode m = mode_.load();
    switch (m) {
      case Mode::None: return 0;
      case Mode::Full:
        if (fail_code != SQLITE_IOERR_WRITE) return 0;  // only writes need space
        ++failures_;
        return SQLITE_FULL;
      case Mode::IoErr: ++failures_; return fail_code;
      case Mode::ReadOnly:
        if (fail_code == SQLITE_IOERR_FSYNC) return 0;  // nothing to sync, nothing fails
        ++failures_;
        return SQLITE_READONLY;
      case Mode::Stall:
        ++stalled_;
        stalled_.notify_all();
        mode_.wait(Mode::Stall);  // until set_mode() changes it
        --stalled_;
        continue;  // then obey the new mode
    }
  }
}

bool FaultVfs::wait_stalled(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (stalled_.load() == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polls a condition, bounded
  }
  return true;
}

}  // namespace soleus::test_support
