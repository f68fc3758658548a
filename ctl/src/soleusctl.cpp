// soleusctl: the technicians' command-line tool (over SSH on the machine).
// This file only dispatches: the commands live in ctl/src/ (docs/soleusctl.md).
// Exit codes: 0 ok, 1 problem found, 2 usage or configuration error,
// 3 database or daemon or machine unreachable, 4 partial failure.
#include <iostream>
#include <string>
#include <vector>

#include "soleus/common/config_reader.hpp"
#include "soleus/common/version.hpp"
#include "soleus/ctl/ctl.hpp"

namespace {

using soleus::kDefaultConfig;

std::vector<soleus::ctl::Command> all_commands() {
  std::vector<soleus::ctl::Command> all;
  for (auto part : {soleus::ctl::machine_commands(), soleus::ctl::log_commands(),
                    soleus::ctl::history_commands(), soleus::ctl::db_commands()})
    for (auto& c : part) all.push_back(std::move(c));
  return all;
}

void usage(std::ostream& os, const std::vector<soleus::ctl::Command>& cmds) {
  os << "usage: soleusctl [--config FILE] [--db FILE] [--json] COMMAND [ARGS]\n"
        "       soleusctl COMMAND --help\n"
        "       soleusctl --version\n\ncommands:\n";
  for (const auto& c : cmds) {
    std::string left = "  " + c.name;
    if (left.size() < 16) left.resize(16, ' ');
    const auto nl = c.summary.find('\n');
    os << left << c.summary.substr(0, nl) << "\n";
  }
  os << "\nglobal options (anywhere on the line):\n"
        "  --config FILE   the daemon's configuration (default "
     << kDefaultConfig
     << ")\n"
        "  --db FILE       the database to read (default: [storage] db_path of the configuration)\n"
        "  --json          JSON instead of a table\n"
        "  -h, --help      this help, or a command's with COMMAND --help\n"
        "  --version       print the program's name and version and exit\n"
        "\nexit codes: 0 ok, 1 problem found / nothing to show for what was asked,\n"
        "            2 usage or configuration error, 3 cannot open the database or reach the\n"
        "            daemon or machine, 4 partial failure\n"
        "\nsee also: man 8 soleusctl, /usr/share/doc/soleus/soleusctl.md\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace soleus::ctl;
  const auto commands = all_commands();
  Context ctx;
  ctx.config_path = kDefaultConfig;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  bool help = false;
  bool version = false;
  std::vector<std::string> words;
  try {
    // Global options may stand anywhere; everything else is the command's.
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&](const std::string& name) -> std::string {
        if (a.size() > name.size() && a[name.size()] == '=') return a.substr(name.size() + 1);
        if (i + 1 >= argc) throw UsageError(name + " needs a value (FILE)");
        return argv[++i];
      };
      if (a == "--config" || a.rfind("--config=", 0) == 0) ctx.config_path = value("--config");
      else if (a == "--db" || a.rfind("--db=", 0) == 0) ctx.db_path = value("--db");
      else if (a == "--json") ctx.json = true;
      else if (a == "-h" || a == "--help") help = true;
      else if (a == "--version") version = true;
      else words.push_back(a);
    }
    if (version) {
      std::cout << "soleusctl " << soleus::kVersion << "\n";
      return kOk;
    }
    if (words.empty()) {
      usage(help ? std::cout : std::cerr, commands);
      return help ? kOk : kUsage;
    }
    // "db check" and "db backup" are two words.
    std::string name = words[0];
    std::size_t used = 1;
    if (name == "db") {
      if (words.size() < 2 || words[1].rfind("-", 0) == 0) {
        if (help) {
          for (const auto& c : commands)
            if (c.name.rfind("db ", 0) == 0) print_command_help(c, std::cout), std::cout << "\n";
          return kOk;
        }
        throw UsageError("db: needs a subcommand: check or backup");
      }
      name += " " + words[1];
      used = 2;
    }
    const Command* cmd = nullptr;
    for (const auto& c : commands)
      if (c.name == name) cmd = &c;
    if (!cmd) {
      std::cerr << "soleusctl: unknown command '" << name << "'\n\n";
      usage(std::cerr, commands);
      return kUsage;
    }
    if (help) {
      print_command_help(*cmd, std::cout);
      return kOk;
    }
    const Args args = parse_args(*cmd, {words.begin() + static_cast<long>(used), words.end()});
    return cmd->run(ctx, args);
  } catch (const UsageError& e) {
    std::cerr << "soleusctl: " << e.what() << "\n";
    return kUsage;
  } catch (const soleus::config::ConfigError& e) {
    std::cerr << "soleusctl: configuration error: " << e.what()
              << (ctx.db_path ? "" : "\n(--db FILE reads a database without a configuration file)")
              << "\n";
    return kUsage;
  } catch (const Unreachable& e) {
    std::cerr << "soleusctl: " << e.what() << "\n";
    return kUnreachable;
  } catch (const soleus::storage::SqliteError& e) {
    std::cerr << "soleusctl: database error: " << e.what() << "\n";
    return kUnreachable;
  } catch (const std::exception& e) {
    std::cerr << "soleusctl: " << e.what() << "\n";
    return kPartial;
  }
}
