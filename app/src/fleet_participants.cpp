// The fleet link's participants besides the outbox (docs/fleet.md). The
// shared records ("Shared records") and the catch-up of sets ("Catch-up")
// register theirs here: one line each, in the order their messages go.
#include "soleus/app/fleet.hpp"
#include "soleus/app/shared_sync.hpp"
#include "soleus/common/log.hpp"

namespace soleus::app {

std::vector<std::unique_ptr<fleet::Participant>> make_fleet_participants(const FleetContext& ctx) {
  std::vector<std::unique_ptr<fleet::Participant>> out;
  // Members, programmes, assignments, progression, assessments and staff
  // accounts shared as retained records, other machines' sets imported and
  // caught up on reconnect ("Shared records", "Catch-up"): on with the site's
  // pepper, which seals the PIN hashes they carry.
  if (ctx.cfg.fleet && !ctx.cfg.fleet->pin_pepper_file.empty())
    // Imported sets take their ids where the control loop takes its own.
    out.push_back(make_shared_sync(*ctx.cfg.fleet, ctx.cfg.storage.db_path,
                                   [&store = ctx.store] { return store.allocate_set_id(); }));
  else if (ctx.cfg.fleet)
    log::notice(
        "fleet: no pin_pepper_file in [fleet]: members, programmes and sets stay on this "
        "machine (docs/fleet.md, \"Shared records\")");
  return out;
}

}  // namespace soleus::app
