#include "soleus/common/config_reader.hpp"

#include <toml++/toml.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace soleus::config {

ConfigError::ConfigError(std::string file, int line, std::string key, std::string message)
    : std::runtime_error(file + ":" + std::to_string(line) + ": " +
                         (key.empty() ? std::string() : key + ": ") + message),
      file_(std::move(file)),
      line_(line),
      key_(std::move(key)),
      message_(std::move(message)) {}

Document Document::parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, 0, "", "cannot open the configuration file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_string(ss.str(), path);
}

Document Document::parse_string(std::string_view text, const std::string& name) {
  Document d;
  d.file_ = std::make_shared<const std::string>(name);
  try {
    d.table_ = std::make_shared<toml::table>(toml::parse(text, name));
  } catch (const toml::parse_error& e) {
    throw ConfigError(name, static_cast<int>(e.source().begin.line), "",
                      std::string("TOML syntax error: ") + std::string(e.description()));
  }
  return d;
}

Section Document::root() const { return Section(table_, table_.get(), "", file_); }

Section::Section(std::shared_ptr<toml::table> owner, const toml::table* table, std::string path,
                 std::shared_ptr<const std::string> file)
    : owner_(std::move(owner)),
      table_(table),
      path_(std::move(path)),
      file_(std::move(file)),
      used_(std::make_shared<std::set<std::string, std::less<>>>()) {}

bool Section::has(std::string_view key) const { return table_->contains(key); }

std::vector<std::string> Section::keys() const {
  std::vector<std::string> out;
  for (auto&& [k, v] : *table_) out.emplace_back(k.str());
  return out;
}

std::string Section::key_name(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  if (key.empty()) return path_;
  return path_ + "." + std::string(key);
}

int Section::line_of(std::string_view key) const {
  if (!key.empty()) {
    if (auto it = table_->find(key); it != table_->end()) {
      if (auto l = it->second.source().begin.line; l > 0) return static_cast<int>(l);
      if (auto l = it->first.source().begin.line; l > 0) return static_cast<int>(l);
    }
  }
  return static_cast<int>(table_->source().begin.line);
}

const toml::node* Section::node(std::string_view key) const {
  auto it = table_->find(key);
  return it == table_->end() ? nullptr : &it->second;
}

void Section::mark(std::string_view key) const { used_->emplace(key); }

void Section::fail(std::string_view key, const std::string& message) const {
  throw ConfigError(*file_, line_of(key), key_name(key), message);
}

void Section::fail_type(std::string_view key, const char* expected) const {
  fail(key, std::string("expected ") + expected);
}

namespace {
std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

double Section::number(std::string_view key, double min, double max) const {
  mark(key);
  const toml::node* n = node(key);
  if (!n) fail(key, "required key is missing");
  double v;
  if (auto f = n->value_exact<double>()) v = *f;
  else if (auto i = n->value_exact<std::int64_t>()) v = static_cast<double>(*i);
  else fail_type(key, "a number");
  if (!std::isfinite(v)) fail(key, "must be a finite number");
  if (v < min || v > max)
    fail(key, fmt(v) + " is out of range [" + fmt(min) + ", " + fmt(max) + "]");
  return v;
}

double Section::number(std::string_view key, double def, double min, double max) const {
  if (!has(key)) {
    mark(key);
    return def;
  }
  return number(key, min, max);
}

std::int64_t Section::integer(std::string_view key, std::int64_t min, std::int64_t max) const {
  mark(key);
  const toml::node* n = node(key);
  if (!n) fail(key, "required key is missing");
  auto i = n->value_exact<std::int64_t>();
  if (!i) fail_type(key, "an integer");
  if (*i < min || *i > max)
    fail(key, std::to_string(*i) + " is out of range [" + std::to_string(min) + ", " +
                  std::to_string(max) + "]");
  return *i;
}

std::int64_t Section::integer(std::string_view key, std::int64_t def, std::int64_t min,
                              std::int64_t max) const {
  if (!has(key)) {
    mark(key);
    return def;
  }
  return integer(key, min, max);
}

std::string Section::string(std::string_view key) const {
  mark(key);
  const toml::node* n = node(key);
  if (!n) fail(key, "required key is missing");
  auto s = n->value_exact<std::string>();
  if (!s) fail_type(key, "a string");
  return *s;
}

std::string Section::string(std::string_view key, const std::string& def) const {
  if (!has(key)) {
    mark(key);
    return def;
  }
  return string(key);
}

namespace {
std::string join(std::initializer_list<std::string_view> allowed) {
  std::string out;
  for (auto a : allowed) {
    if (!out.empty()) out += ", ";
    out += '"';
    out += a;
    out += '"';
  }
  return out;
}
}  // namespace

std::string Section::choice(std::string_view key,
                            std::initializer_list<std::string_view> allowed) const {
  std::string v = string(key);
  for (auto a : allowed)
    if (v == a) return v;
  fail(key, "\"" + v + "\" is not one of " + join(allowed));
}

std::string Section::choice(std::string_view key, const std::string& def,
                            std::initializer_list<std::string_view> allowed) const {
  if (!has(key)) {
    mark(key);
    return def;
  }
  return choice(key, allowed);
}

bool Section::boolean(std::string_view key) const {
  mark(key);
  const toml::node* n = node(key);
  if (!n) fail(key, "required key is missing");
  auto b = n->value_exact<bool>();
  if (!b) fail_type(key, "true or false");
  return *b;
}

bool Section::boolean(std::string_view key, bool def) const {
  if (!has(key)) {
    mark(key);
    return def;
  }
  return boolean(key);
}

Section Section::section(std::string_view key) const {
  mark(key);
  const toml::node* n = node(key);
  if (!n) fail(key, "required table is missing");
  const toml::table* t = n->as_table();
  if (!t) fail_type(key, "a table");
  return Section(owner_, t, key_name(key), file_);
}

std::optional<Section> Section::optional_section(std::string_view key) const {
  if (!has(key)) {
    mark(key);
    return std::nullopt;
  }
  return section(key);
}

void Section::finish() const {
  for (auto&& [k, v] : *table_) {
    if (used_->find(k.str()) == used_->end()) {
      fail(k.str(), "unknown key (check its spelling; docs/configuration.md lists every key)");
    }
  }
}

}  // namespace soleus::config
