// soleusd-test's make_daemon_hooks() (soleus/app/daemon.hpp): the test hooks
// of docs/storage.md, "Test hooks". Only with SOLEUS_TEST_HOOKS=1. The main
// thread polls two files every 100 ms: the storage fault file's first word
// sets the FaultVfs mode the database is opened through, the hang file's
// existence blocks the control loop, the clock file's number (ms) shifts the
// wall clock (common::set_wall_clock_offset_ms). soleusd links none of this
// (app/src/no_daemon_hooks.cpp).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "soleus/app/daemon.hpp"
#include "soleus/common/log.hpp"
#include "soleus/common/time.hpp"
#include "soleus/controller/control_loop.hpp"
#include "soleus/test_support/fault_vfs.hpp"

namespace soleus::app {

namespace {

using test_support::FaultVfs;

class EnvTestHooks final : public DaemonHooks {
 public:
  EnvTestHooks(FaultVfs& vfs, std::string fault_file, std::string hang_file, std::string clock_file)
      : vfs_(vfs),
        fault_file_(std::move(fault_file)),
        hang_file_(std::move(hang_file)),
        clock_file_(std::move(clock_file)) {}

  void configure(DaemonConfig& cfg) override { cfg.storage.vfs = vfs_.name(); }

  std::string describe(const DaemonConfig& cfg) const override {
    return "test hooks enabled (SOLEUS_TEST_HOOKS=1): storage through " + cfg.storage.vfs +
           ", fault file '" + fault_file_ + "', hang file '" + hang_file_ + "', clock file '" +
           clock_file_ + "'; never on a machine in use";
  }

  void poll(controller::ControlLoop& loop) override {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_poll_) return;
    next_poll_ = now + std::chrono::milliseconds(100);
    if (!fault_file_.empty()) {
      std::string word;
      std::ifstream(fault_file_) >> word;  // a missing file reads as "none"
      FaultVfs::Mode m{};
      if (!parse_mode(word, m)) {
        if (word != bad_word_)
          log::warn("test hooks: ", fault_file_, ": unknown storage mode '", word, "'");
        bad_word_ = word;
      } else if (m != mode_) {
        log::warn("test hooks: storage mode ", word.empty() ? "none" : word);
        vfs_.set_mode(m);
        mode_ = m;
      }
    }
    if (!clock_file_.empty()) {
      // The wall clock's offset in ms (a missing or empty file: 0). Calendar
      // time only: the control loop runs on the steady clock.
      long long offset = 0;
      std::ifstream in(clock_file_);
      if (in && !(in >> offset)) offset = 0;
      if (offset != common::wall_clock_offset_ms()) {
        log::warn("test hooks: wall clock moved by ", offset, " ms");
        common::set_wall_clock_offset_ms(offset);
      }
    }
    if (!hang_file_.empty()) {
      std::error_code ec;
      const bool h = std::filesystem::exists(hang_file_, ec);
      if (h != hang_) {
        log::warn("test hooks: control loop ", h ? "hung" : "released");
        loop.set_test_hang(h);
        hang_ = h;
      }
    }
  }

  /// A stalled writer would never join: the disk comes back at exit.
  void release() override { vfs_.set_mode(FaultVfs::Mode::None); }

 private:
  static bool parse_mode(const std::string& word, FaultVfs::Mode& m) {
    using M = FaultVfs::Mode;
    if (word.empty() || word == "none") m = M::None;
    else if (word == "full") m = M::Full;
    else if (word == "readonly") m = M::ReadOnly;
    else if (word == "ioerr") m = M::IoErr;
    else if (word == "stall") m = M::Stall;
    else return false;
    return true;
  }

  FaultVfs& vfs_;
  std::string fault_file_, hang_file_, clock_file_, bad_word_;
  std::chrono::steady_clock::time_point next_poll_{};
  FaultVfs::Mode mode_ = FaultVfs::Mode::None;
  bool hang_ = false;
};

}  // namespace

std::unique_ptr<DaemonHooks> make_daemon_hooks() {
  const char* on = std::getenv("SOLEUS_TEST_HOOKS");
  if (!on || std::string_view(on) != "1") return nullptr;
  std::string fault_file, hang_file;
  if (const char* f = std::getenv("SOLEUS_TEST_STORAGE_FAULT_FILE")) fault_file = f;
  if (const char* f = std::getenv("SOLEUS_TEST_HANG_FILE")) hang_file = f;
  std::string clock_file;
  if (const char* f = std::getenv("SOLEUS_TEST_CLOCK_FILE")) clock_file = f;
  return std::make_unique<EnvTestHooks>(FaultVfs::install(), std::move(fault_file),
                                        std::move(hang_file), std::move(clock_file));
}

}  // namespace soleus::app
