#pragma once
/// Typed, bounded reading of TOML configuration with errors that name the file,
/// the line and the key (in the manner of Klipper's getfloat(minval=, maxval=)).
///
/// Principle of operation:
///  1. Document parses the whole file with toml++; a syntax error becomes a
///     ConfigError with toml++'s line.
///  2. Each component reads its own Section through typed getters. Every getter
///     records the key as used and checks type and range at once.
///  3. The component calls finish() on its Section: any key it did not read is
///     unknown and refused, with its own line. Nothing is ever silently ignored.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
class node;
}  // namespace v3
}  // namespace toml

namespace soleus::config {

/// A configuration error: where it is, which key, and what is wrong.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, std::string key, std::string message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& key() const { return key_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_;
  std::string key_;
  std::string message_;
};

class Section;

/// A parsed TOML document. Keeps the toml++ tree alive for its Sections.
class Document {
 public:
  /// Throws ConfigError (with the syntax error's line) when the file cannot be read or parsed.
  static Document parse_file(const std::string& path);
  static Document parse_string(std::string_view text, const std::string& name);
  Section root() const;
  const std::string& file() const { return *file_; }

 private:
  std::shared_ptr<toml::table> table_;
  std::shared_ptr<const std::string> file_;
};

/// A table (or inline table) of the document, with the dotted path that names it.
class Section {
 public:
  Section(std::shared_ptr<toml::table> owner, const toml::table* table, std::string path,
          std::shared_ptr<const std::string> file);

  bool has(std::string_view key) const;
  /// Keys present in this table, in file order.
  std::vector<std::string> keys() const;
  const std::string& path() const { return path_; }
  const std::string& file() const { return *file_; }
  /// Line of the key in the file (of the table itself when the key is absent).
  int line_of(std::string_view key) const;
  /// Dotted name of a key in this section, e.g. "limits.max_load_n".
  std::string key_name(std::string_view key) const;

  /// A floating-point (or integer) value within [min, max]. Required unless a default is given.
  double number(std::string_view key, double min, double max) const;
  double number(std::string_view key, double def, double min, double max) const;
  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max) const;
  std::int64_t integer(std::string_view key, std::int64_t def, std::int64_t min,
                       std::int64_t max) const;
  std::string string(std::string_view key) const;
  std::string string(std::string_view key, const std::string& def) const;
  /// A string that must be one of `allowed`.
  std::string choice(std::string_view key, std::initializer_list<std::string_view> allowed) const;
  std::string choice(std::string_view key, const std::string& def,
                     std::initializer_list<std::string_view> allowed) const;
  bool boolean(std::string_view key, bool def) const;
  bool boolean(std::string_view key) const;

  /// A sub-table (ordinary or inline). The optional form returns nullopt when absent.
  Section section(std::string_view key) const;
  std::optional<Section> optional_section(std::string_view key) const;

  /// Throws a ConfigError located at `key` (or at the table when key is empty).
  [[noreturn]] void fail(std::string_view key, const std::string& message) const;
  /// Refuses every key of this table that no getter has read.
  void finish() const;

 private:
  const toml::node* node(std::string_view key) const;
  void mark(std::string_view key) const;
  [[noreturn]] void fail_type(std::string_view key, const char* expected) const;

  std::shared_ptr<toml::table> owner_;
  const toml::table* table_;
  std::string path_;
  std::shared_ptr<const std::string> file_;
  std::shared_ptr<std::set<std::string, std::less<>>> used_;
};

}  // namespace soleus::config
