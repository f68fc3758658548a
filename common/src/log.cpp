#include "soleus/common/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace soleus::log {
namespace {
std::atomic<Level> g_level{Level::Info};
std::mutex g_mutex;
}  // namespace

void set_level(Level lv) { g_level.store(lv); }
Level level() { return g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view t, Level& out) {
  if (t == "error") out = Level::Error;
  else if (t == "warning") out = Level::Warning;
  else if (t == "notice") out = Level::Notice;
  else if (t == "info") out = Level::Info;
  else if (t == "debug") out = Level::Debug;
  else return false;
  return true;
}

void write(Level lv, std::string_view message) {
  std::string lineout;
  lineout.reserve(message.size() + 5);
  lineout += '<';
  lineout += static_cast<char>('0' + static_cast<int>(lv));
  lineout += '>';
  lineout += message;
  lineout += '\n';
  std::lock_guard lock(g_mutex);
  std::fwrite(lineout.data(), 1, lineout.size(), stderr);
}

}  // namespace soleus::log
