#pragma once
/// A plain text table for soleusctl: columns padded to their widest cell,
/// numbers right-aligned, one header line and a rule.
#include <cstddef>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace soleus::ctl {

struct Column {
  Column(std::string t, bool r = false, std::size_t w = 0)
      : title(std::move(t)), right(r), max_width(w) {}
  std::string title;
  bool right = false;         ///< right-align (numbers)
  std::size_t max_width = 0;  ///< cut longer cells with "..." (0 = never)
};

class Table {
 public:
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  /// One row; missing cells are empty, extra cells are ignored.
  void add(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }
  /// Writes the header, a rule and the rows. Widths count UTF-8 code points;
  /// the last column is not padded.
  void print(std::ostream& os) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

/// Width of a UTF-8 string in code points.
std::size_t display_width(const std::string& s);

}  // namespace soleus::ctl
