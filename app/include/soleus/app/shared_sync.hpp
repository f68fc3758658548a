#pragma once
/// Members who train on any machine of the gym (issue 14 §2, docs/fleet.md
/// "Shared records", "Catch-up", "PINs"): the fleet::Participant that
/// publishes this machine's shared records, applies the others', imports
/// their sets, and catches up on reconnect. The link (libmosquitto, another
/// part of fleet/) calls it on its own thread; it has its own SQLite
/// connection and never touches the loop.
///
/// Topics (relative to `<prefix>/<site>/`):
///  * `shared/<kind>/<uid>`: retained, QoS 1, one per record:
///    {"kind", "uid", "version": {"hlc": "<16 hex>", "machine"}, "base":
///    {…} | null, "deleted": bool, "data": {…}};
///  * `+/sets`: the others' sets (the outbox's envelope, id `<M>/set/<n>`),
///    imported once;
///  * `<M>/catchup/request` {"from", "since": {machine: set id}, "only"?}
///    and the answer `<X>/catchup/to/<M>` {"from", "upto", "more", "sets":
///    [envelope…]}: after each reconnect a machine asks for every peer's
///    sets after the last it has had in full from that peer.
///
/// PIN hashes leave the machine only sealed with the site's pepper
/// (pin_seal.hpp): "sealed1$ITER$SALT$MASKED"; a machine without the pepper
/// cannot read them, and the payload holds no PIN and no plain hash.
#include <cstddef>
#include <memory>
#include <string>

#include "soleus/fleet/config.hpp"
#include "soleus/fleet/participant.hpp"
#include "soleus/storage/shared.hpp"

namespace soleus::app {

struct SharedSyncConfig {
  std::string db_path;             ///< the store (its own connection)
  std::string machine;             ///< [fleet] machine
  std::string pepper;              ///< the content of [fleet] pin_pepper_file (at least 16 bytes)
  std::size_t catchup_batch = 50;  ///< sets per catch-up answer
  std::size_t max_payload = 256 * 1024;  ///< a larger message is refused
  /// The ids of imported sets: in soleusd the writer's allocate_set_id, the
  /// one source of set ids (storage::shared::SetIdSource says why).
  storage::shared::SetIdSource set_ids;
};

/// The participant; throws std::invalid_argument for a missing machine or a short pepper.
std::unique_ptr<fleet::Participant> make_shared_sync(const SharedSyncConfig& config);

/// The wiring's one call: the participant for the machine of `cfg` on the
/// store at `db_path`, with the pepper read from cfg.pin_pepper_file (which
/// the shared records need: without it they would carry no PIN, or a PIN
/// another machine cannot check). Register it with the link (Link::add).
/// Throws std::invalid_argument with the reason.
std::unique_ptr<fleet::Participant> make_shared_sync(const fleet::FleetConfig& cfg,
                                                     const std::string& db_path,
                                                     storage::shared::SetIdSource set_ids);

/// The pepper from [fleet] pin_pepper_file: refused when missing, shorter
/// than 16 bytes or readable by group or others. A trailing newline is not
/// part of it.
std::string read_pin_pepper(const std::string& path);

}  // namespace soleus::app
