#include "soleus/app/set_params.hpp"

namespace soleus::app {

std::optional<controller::SetParams> to_params(const hmi::SetRequest& q) {
  controller::SetParams p;
  if (!controller::parse_mode(q.mode, p.mode)) return std::nullopt;
  p.load_n = q.load_n;
  p.tempo.eccentric_s = q.eccentric_s;
  p.tempo.bottom_s = q.bottom_s;
  p.tempo.concentric_s = q.concentric_s;
  p.tempo.top_s = q.top_s;
  p.target_reps = q.target_reps.value_or(0);
  p.hold_s = q.hold_s.value_or(0);
  p.force_drop_pct = q.force_drop_pct;
  p.eccentric_pct = q.eccentric_pct;
  p.member_id = q.member_id;
  return p;
}

}  // namespace soleus::app
