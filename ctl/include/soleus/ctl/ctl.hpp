#pragma once
/// soleusctl's commands: shared pieces (exit codes, option parsing, times,
/// opening the database) for the command files in ctl/src/. soleusctl.cpp
/// only dispatches to the Command table each file provides.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "soleus/storage/database.hpp"

namespace soleus::ctl {

/// Exit codes, the same for every command (docs/soleusctl.md).
enum Exit : int {
  kOk = 0,           ///< done; for checks: nothing wrong
  kProblem = 1,      ///< a check found a problem, or the thing asked for does not exist
  kUsage = 2,        ///< bad arguments or a bad configuration file
  kUnreachable = 3,  ///< cannot open/read the database, or reach the daemon or machine
  kPartial = 4,      ///< partly done (some machine reads failed, the daemon answered an error)
};

/// Bad arguments: exit 2. The message names the argument.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// The database (or daemon) cannot be opened or read: exit 3.
struct Unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One option of a command. value empty = a flag.
struct OptionSpec {
  std::string name;   ///< "--limit"
  std::string value;  ///< "N"; empty for a flag
  std::string help;
};

/// A command's arguments after parsing.
struct Args {
  std::map<std::string, std::string> values;  ///< options with a value (last one wins)
  std::vector<std::string> flags;             ///< flags given
  std::vector<std::string> positional;
  /// The arguments as given (for "next page" hints).
  std::vector<std::string> raw;
  bool has(const std::string& name) const;
  std::optional<std::string> get(const std::string& name) const;
};

/// What every command gets from the global options.
struct Context {
  std::string config_path;             ///< --config (or the default)
  std::optional<std::string> db_path;  ///< --db
  bool json = false;                   ///< --json
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

struct Command {
  std::string name;      ///< "events", "db check"
  std::string synopsis;  ///< "[--severity S] ..." (after the name)
  std::string summary;   ///< one line
  std::vector<OptionSpec> options;
  int max_positional = 0;
  std::string details;  ///< extra help text (may be empty)
  std::function<int(Context&, const Args&)> run;
};

/// Parses `args` (the words after the command's name) against `cmd`'s options:
/// "--name VALUE", "--name=VALUE", flags, positional words. Throws UsageError
/// naming the offending argument.
Args parse_args(const Command& cmd, const std::vector<std::string>& args);
/// `soleusctl CMD --help`.
void print_command_help(const Command& cmd, std::ostream& os);

// ---- values ---------------------------------------------------------------

/// An integer in [min, max] for option `name`; throws UsageError otherwise.
std::int64_t parse_int(std::string_view text, const std::string& name, std::int64_t min,
                       std::int64_t max);

/// A point in time, as Unix ms. Accepts
///  * ISO 8601: "2026-11-22", "2026-11-22 18:05", "2026-11-22T18:05:00",
///    optional ".fff" and a zone "Z" / "+01:00" / "+0100"; without a zone the
///    time is local (TZ);
///  * an age before `now_ms`: "90s", "30m", "2h", "7d", "2w" (decimals allowed);
///  * Unix milliseconds: 11 or more digits.
/// A date without a time is that day's local midnight, or with `end_of_day`
/// the next midnight (so "--until 2026-11-22" takes the whole day).
/// nullopt with *error set when the text is none of these.
std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now_ms, bool end_of_day,
                                       std::string* error);
/// parse_time for option `name`, throwing UsageError.
std::int64_t parse_time_option(std::string_view text, const std::string& name, bool end_of_day);

/// "2026-11-22 18:05:03" in local time (TZ).
std::string format_local(std::int64_t ms);
/// "152.3 MiB"
std::string format_bytes(std::int64_t bytes);
/// "1 000 000"
std::string format_count(std::int64_t n);
/// A number with `decimals` digits after the point.
std::string format_fixed(double v, int decimals);

// ---- the database -----------------------------------------------------------

/// --db, or [storage] db_path of the configuration file (app's loader).
/// Throws config::ConfigError (exit 2) for a bad configuration.
std::string database_path(const Context& ctx);
/// Opens the database read-only and checks it is a Soleus store (schema
/// version 1..). Throws Unreachable with a message naming the file.
storage::Database open_store_readonly(const std::string& path);

/// Resolves a member given as its number (what the keypad takes) or its id:
/// "id:12" is always the id; otherwise the number is tried first, then, if
/// the text is an integer, the id. nullopt when no member matches.
std::optional<std::int64_t> resolve_member(storage::Database& db, const std::string& text);

/// RFC 4180 parsing (the store's CSV: quoted fields may hold commas, quotes
/// and line breaks). Rows of fields; a trailing line break ends the last row.
std::vector<std::vector<std::string>> parse_csv(std::string_view text);

// ---- the commands (one file each) ---------------------------------------------

std::vector<Command>
machine_commands();                   ///< ctl_machine.cpp: probe, status, check-config, hash-pin
std::vector<Command> log_commands();  ///< ctl_events.cpp: events
std::vector<Command> history_commands();  ///< ctl_history.cpp: sets, export
std::vector<Command> db_commands();       ///< ctl_db.cpp: db check, db backup

}  // namespace soleus::ctl
