#pragma once
/// Logging to stderr with sd-daemon priority prefixes ("<3>", "<4>", ...), so
/// that journald records the level of every line. Thread-safe; one line per call.
/// GCC 12 has no <format>, so a line is the concatenation of its arguments:
///   log::info("loop at ", hz, " Hz");
#include <sstream>
#include <string_view>

namespace soleus::log {

enum class Level { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

/// Lines above this level are dropped. Default Info.
void set_level(Level level);
Level level();
/// Parses "error", "warning", "notice", "info", "debug"; returns false on anything else.
bool parse_level(std::string_view text, Level& out);

void write(Level level, std::string_view message);

template <class... Args>
void line(Level lv, const Args&... args) {
  if (static_cast<int>(lv) > static_cast<int>(level())) return;
  std::ostringstream os;
  (os << ... << args);
  write(lv, os.str());
}
template <class... Args>
void error(const Args&... a) {
  line(Level::Error, a...);
}
template <class... Args>
void warn(const Args&... a) {
  line(Level::Warning, a...);
}
template <class... Args>
void notice(const Args&... a) {
  line(Level::Notice, a...);
}
template <class... Args>
void info(const Args&... a) {
  line(Level::Info, a...);
}
template <class... Args>
void debug(const Args&... a) {
  line(Level::Debug, a...);
}

}  // namespace soleus::log
