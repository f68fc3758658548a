#include "soleus/ctl/table.hpp"

#include <algorithm>
#include <ostream>

namespace soleus::ctl {

std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;  // count lead bytes only
  return n;
}

namespace {
std::string cut(const std::string& s, std::size_t max) {
  if (max < 4 || display_width(s) <= max) return s;
  std::string out;
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (n == max - 3) break;
      ++n;
    }
    out += s[i];
  }
  return out + "...";
}
}  // namespace

void Table::add(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (std::size_t i = 0; i < cells.size(); ++i) {
    // One line per row: line breaks in a cell are shown as spaces.
    std::replace(cells[i].begin(), cells[i].end(), '\n', ' ');
    std::replace(cells[i].begin(), cells[i].end(), '\r', ' ');
    cells[i] = cut(cells[i], columns_[i].max_width);
  }
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& os) const {
  std::vector<std::size_t> w(columns_.size());
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    w[i] = display_width(columns_[i].title);
    for (const auto& r : rows_) w[i] = std::max(w[i], display_width(r[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::size_t pad = w[i] - display_width(cells[i]);
      const bool last = i + 1 == cells.size();
      if (i > 0) out += "  ";
      if (columns_[i].right) out += std::string(pad, ' ') + cells[i];
      else out += cells[i] + (last ? "" : std::string(pad, ' '));
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();  // an empty last cell
    os << out << "\n";
  };
  std::vector<std::string> head;
  std::vector<std::string> rule;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    head.push_back(columns_[i].title);
    rule.push_back(std::string(w[i], '-'));
  }
  line(head);
  line(rule);
  for (const auto& r : rows_) line(r);
}

}  // namespace soleus::ctl
