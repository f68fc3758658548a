#pragma once
// Helpers for the storage tests: a temporary directory, and waiting for a
// condition with a deadline (never a fixed sleep standing in for logic).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "soleus/storage/config.hpp"

namespace soleus::storage::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "soleus-sto-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// A configuration for tests: short periods so that a fault is retried quickly.
inline StorageConfig test_config(const std::string& path, const std::string& vfs = {}) {
  StorageConfig c;
  c.db_path = path;
  c.flush_ms = 10;
  c.retry_ms = 20;
  c.busy_timeout_ms = 2000;
  c.trace_retention_days = 0;
  c.vfs = vfs;
  return c;
}

}  // namespace soleus::storage::test
