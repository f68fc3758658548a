// common::format_fixed: the one fixed-point formatter of messages and tables.
#include <doctest/doctest.h>

#include <string>

#include "soleus/common/format.hpp"

using soleus::common::format_fixed;

TEST_CASE("format_fixed: digits after the point, rounding, sign, large values") {
  CHECK(format_fixed(12.5, 2) == "12.50");
  CHECK(format_fixed(1800.0, 1) == "1800.0");
  CHECK(format_fixed(0.00015, 4) == "0.0001");  // binary 0.00015 is just below the half
  CHECK(format_fixed(2.25, 1) == "2.2");        // to even, as printf
  CHECK(format_fixed(-0.04, 1) == "-0.0");
  CHECK(format_fixed(3.7, 0) == "4");
  const std::string big = format_fixed(1e60, 4);  // longer than any fixed buffer it replaced
  CHECK(big.size() > 64);  // 60 digits: the double nearest 1e60 is just below it
  CHECK(big.substr(big.size() - 5) == ".0000");
}
