#pragma once
/// Numbers as people read them in messages and tables.
#include <string>

namespace soleus::common {

/// `v` with `decimals` digits after the point ("%.*f"), e.g. 12.5 -> "12.50" for 2.
std::string format_fixed(double v, int decimals);

}  // namespace soleus::common
