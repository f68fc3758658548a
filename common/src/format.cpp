#include "soleus/common/format.hpp"

#include <cstdio>

namespace soleus::common {

std::string format_fixed(double v, int decimals) {
  const int n = std::snprintf(nullptr, 0, "%.*f", decimals, v);
  std::string out(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
  std::snprintf(out.data(), out.size() + 1, "%.*f", decimals, v);
  return out;
}

}  // namespace soleus::common
