// The fleet link's participants besides the outbox (docs/fleet.md). The
// shared records ("Shared records") and the catch-up of sets ("Catch-up")
// register theirs here: one line each, in the order their messages go.
#include "soleus/app/fleet.hpp"

namespace soleus::app {

std::vector<std::unique_ptr<fleet::Participant>> make_fleet_participants(
    const FleetContext& /*ctx*/) {
  std::vector<std::unique_ptr<fleet::Participant>> out;
  return out;
}

}  // namespace soleus::app
