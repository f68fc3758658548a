#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "soleus/app/daemon_config.hpp"
#include "soleus/common/format.hpp"
#include "soleus/common/time.hpp"
#include "soleus/ctl/ctl.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/schema.hpp"

namespace soleus::ctl {

bool Args::has(const std::string& name) const {
  return values.count(name) != 0 || std::find(flags.begin(), flags.end(), name) != flags.end();
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

Args parse_args(const Command& cmd, const std::vector<std::string>& args) {
  Args a;
  a.raw = args;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& w = args[i];
    if (w.size() > 2 && w.compare(0, 2, "--") == 0) {
      const auto eq = w.find('=');
      const std::string name = w.substr(0, eq);
      const auto spec = std::find_if(cmd.options.begin(), cmd.options.end(),
                                     [&](const OptionSpec& o) { return o.name == name; });
      if (spec == cmd.options.end())
        throw UsageError(cmd.name + ": unknown option '" + name + "' (see soleusctl " + cmd.name +
                         " --help)");
      if (spec->value.empty()) {
        if (eq != std::string::npos)
          throw UsageError(cmd.name + ": " + name + " takes no value ('" + w + "')");
        a.flags.push_back(name);
      } else if (eq != std::string::npos) {
        a.values[name] = w.substr(eq + 1);
      } else {
        if (i + 1 >= args.size())
          throw UsageError(cmd.name + ": " + name + " needs a value (" + spec->value + ")");
        a.values[name] = args[++i];
      }
    } else {
      if (static_cast<int>(a.positional.size()) >= cmd.max_positional)
        throw UsageError(cmd.name + ": unexpected argument '" + w + "'");
      a.positional.push_back(w);
    }
  }
  return a;
}

void print_command_help(const Command& cmd, std::ostream& os) {
  os << "usage: soleusctl [--config FILE] [--db FILE] [--json] " << cmd.name
     << (cmd.synopsis.empty() ? "" : " ") << cmd.synopsis << "\n\n"
     << cmd.summary << "\n";
  if (!cmd.options.empty()) {
    os << "\noptions:\n";
    for (const auto& o : cmd.options) {
      std::string left = "  " + o.name + (o.value.empty() ? "" : " " + o.value);
      if (left.size() < 24) left.resize(24, ' ');
      else left += "\n" + std::string(24, ' ');
      os << left;
      // Continuation lines of the help text are indented under it.
      for (char c : o.help) {
        os << c;
        if (c == '\n') os << std::string(24, ' ');
      }
      os << "\n";
    }
  }
  if (!cmd.details.empty()) os << "\n" << cmd.details;
  os << "\nexit codes: 0 ok, 1 problem found / nothing to show for what was asked,\n"
        "            2 usage or configuration error, 3 cannot open the database or reach the\n"
        "            daemon or machine, 4 partial failure\n";
}

// ---- values ----------------------------------------------------------------------

std::int64_t parse_int(std::string_view text, const std::string& name, std::int64_t min,
                       std::int64_t max) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, v);
  if (text.empty() || r.ec != std::errc() || r.ptr != end)
    throw UsageError(name + ": '" + std::string(text) + "' is not an integer");
  if (v < min || v > max)
    throw UsageError(name + ": " + std::string(text) + " is out of range (" + std::to_string(min) +
                     ".." + std::to_string(max) + ")");
  return v;
}

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

/// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t& pos, int n, int& out) {
  if (pos + static_cast<std::size_t>(n) > s.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(n);
  return true;
}

std::optional<std::int64_t> parse_age(std::string_view s, std::int64_t now_ms) {
  if (s.size() < 2) return std::nullopt;
  const char unit = s.back();
  double mult = 0;
  switch (unit) {
    case 's': mult = 1e3; break;
    case 'm': mult = 60e3; break;
    case 'h': mult = 3600e3; break;
    case 'd': mult = 86400e3; break;
    case 'w': mult = 7 * 86400e3; break;
    default: return std::nullopt;
  }
  const std::string_view num = s.substr(0, s.size() - 1);
  if (num.empty() || num.front() == '.' || num.back() == '.' ||
      !std::all_of(num.begin(), num.end(),
                   [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) ||
      std::count(num.begin(), num.end(), '.') > 1)
    return std::nullopt;
  const double v = std::stod(std::string(num));
  if (v * mult > 100.0 * 365 * 86400e3) return std::nullopt;  // beyond a century: a typo
  return now_ms - static_cast<std::int64_t>(std::llround(v * mult));
}

}  // namespace

std::optional<std::int64_t> parse_time(std::string_view s, std::int64_t now_ms, bool end_of_day,
                                       std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<std::int64_t> {
    if (error) *error = why;
    return std::nullopt;
  };
  const std::string hint =
      "give a date/time (2026-11-22, \"2026-11-22 18:05\", 2026-11-22T18:05:00Z), an age "
      "(30m, 2h, 7d) or Unix milliseconds";
  if (s.empty()) return fail("empty time; " + hint);
  if (all_digits(s)) {
    if (s.size() < 11 || s.size() > 15)
      return fail("'" + std::string(s) + "': Unix time must be in milliseconds (13 digits); or " +
                  hint);
    return std::stoll(std::string(s));
  }
  if (auto age = parse_age(s, now_ms)) return age;

  std::size_t p = 0;
  std::tm tm{};
  int year = 0, mon = 0, day = 0;
  if (!digits(s, p, 4, year) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, mon) ||
      p >= s.size() || s[p++] != '-' || !digits(s, p, 2, day))
    return fail("'" + std::string(s) + "' is not a time; " + hint);
  int hour = 0, min = 0, sec = 0, millis = 0;
  bool has_time = false;
  if (p < s.size() && (s[p] == 'T' || s[p] == ' ')) {
    ++p;
    has_time = true;
    if (!digits(s, p, 2, hour) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, min))
      return fail("'" + std::string(s) + "': the time must be HH:MM[:SS[.fff]]");
    if (p < s.size() && s[p] == ':') {
      ++p;
      if (!digits(s, p, 2, sec)) return fail("'" + std::string(s) + "': bad seconds");
      if (p < s.size() && s[p] == '.') {
        ++p;
        int n = 0;
        double frac = 0, scale = 0.1;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          frac += (s[p++] - '0') * scale;
          scale /= 10;
          ++n;
        }
        if (n == 0) return fail("'" + std::string(s) + "': bad fraction of a second");
        millis = static_cast<int>(frac * 1000 + 1e-6);
      }
    }
  }
  bool utc = false;
  int offset_min = 0;
  if (p < s.size()) {
    if (s[p] == 'Z' || s[p] == 'z') {
      utc = true;
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      const int sign = s[p++] == '-' ? -1 : 1;
      int oh = 0, om = 0;
      if (!digits(s, p, 2, oh)) return fail("'" + std::string(s) + "': bad zone offset");
      if (p < s.size() && s[p] == ':') ++p;
      if (!digits(s, p, 2, om) || oh > 23 || om > 59)
        return fail("'" + std::string(s) + "': bad zone offset");
      utc = true;
      offset_min = sign * (oh * 60 + om);
    }
  }
  if (p != s.size())
    return fail("'" + std::string(s) + "': unexpected text after the time; " + hint);
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
    return fail("'" + std::string(s) + "': no such date or time");
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  // Round trip: 2026-02-30 is refused, not moved to March.
  std::tm check = tm;
  const time_t probe = timegm(&check);
  std::tm back{};
  gmtime_r(&probe, &back);
  if (back.tm_mday != day || back.tm_mon != mon - 1)
    return fail("'" + std::string(s) + "': no such date");
  if (!has_time && end_of_day) tm.tm_mday += 1;  // the next midnight (mktime normalises)
  time_t t = 0;
  if (utc) {
    t = timegm(&tm) - static_cast<time_t>(offset_min) * 60;
  } else {
    tm.tm_isdst = -1;
    t = mktime(&tm);
  }
  return static_cast<std::int64_t>(t) * 1000 + millis;
}

std::int64_t parse_time_option(std::string_view text, const std::string& name, bool end_of_day) {
  std::string err;
  auto t = parse_time(text, common::unix_ms_now(), end_of_day, &err);
  if (!t) throw UsageError(name + ": " + err);
  return *t;
}

std::string format_local(std::int64_t ms) {
  const time_t t = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string format_bytes(std::int64_t bytes) {
  std::ostringstream os;
  if (bytes < 1024) os << bytes << " B";
  else if (bytes < 1024 * 1024)
    os << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / 1024.0 << " KiB";
  else if (bytes < 1024LL * 1024 * 1024)
    os << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1024.0 * 1024)
       << " MiB";
  else
    os << std::fixed << std::setprecision(2) << static_cast<double>(bytes) / (1024.0 * 1024 * 1024)
       << " GiB";
  return os.str();
}

std::string format_count(std::int64_t n) {
  std::string digits_ = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits_.size(); ++i) {
    if (i > 0 && (digits_.size() - i) % 3 == 0) out += ' ';
    out += digits_[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string format_fixed(double v, int decimals) { return common::format_fixed(v, decimals); }

// ---- the database ------------------------------------------------------------------

std::string database_path(const Context& ctx) {
  if (ctx.db_path) return *ctx.db_path;
  return app::load_daemon_config(ctx.config_path).storage.db_path;
}

storage::Database open_store_readonly(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Unreachable("cannot open the database " + path + ": no such file");
  try {
    auto db = storage::Database::open(path, storage::Database::Access::ReadOnly);
    const int v = storage::schema_version(db);
    if (v < 1)
      throw Unreachable(path +
                        " is not a Soleus database (schema version 0: empty or "
                        "another program's file)");
    if (v > storage::kSchemaVersion)
      std::cerr << "soleusctl: warning: " << path << " has schema version " << v
                << ", newer than this soleusctl's " << storage::kSchemaVersion
                << "; reading it anyway\n";
    return db;
  } catch (const storage::SqliteError& e) {
    throw Unreachable("cannot read the database " + path + ": " + e.what() +
                      (e.is_corruption() ? " (run: soleusctl db check)" : ""));
  }
}

std::optional<std::int64_t> resolve_member(storage::Database& db, const std::string& text) {
  if (text.rfind("id:", 0) == 0) {
    const auto id = parse_int(text.substr(3), "--member", 1, INT64_MAX);
    if (storage::get_member(db, id)) return id;
    return std::nullopt;
  }
  if (auto m = storage::find_member_by_number(db, text)) return m->id;
  if (all_digits(text) && text.size() < 19) {
    const auto id = std::stoll(text);
    if (storage::get_member(db, id)) return id;
  }
  return std::nullopt;
}

std::vector<std::vector<std::string>> parse_csv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
      continue;
    }
    any = true;
    if (c == '"') quoted = true;
    else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else {
      field += c;
    }
  }
  if (any || !field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace soleus::ctl
