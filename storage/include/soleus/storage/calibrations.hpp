#pragma once
/// The `calibrations` table (migration 3): the load cell's span factor found
/// with a known weight, and the range checks' results. Typed functions for
/// the daemon's maintenance routines; each call is one transaction on the
/// connection given (the API threads' own, or the daemon's at start-up).
#include <cstdint>
#include <optional>
#include <string_view>

#include "soleus/storage/database.hpp"
#include "soleus/storage/members.hpp"

namespace soleus::storage {

/// Stores a span factor (kind 'span', ok) with its details (JSON) and the
/// audit trail's entry `load_cell.span` before → after, in one transaction:
/// both or neither. Throws SqliteError.
void record_span_calibration(Database& db, const Actor& who, std::int64_t t_ms, double gain,
                             double previous_gain, std::string_view details_json);

/// Stores a range check's result (kind 'range_check'): ok, the travel found
/// (mm) and the whole result (JSON). Throws SqliteError.
void record_range_check(Database& db, std::int64_t t_ms, bool ok, double travel_mm,
                        std::string_view details_json);

/// The factor of the last successful span calibration; nullopt when there
/// has been none. Throws SqliteError.
std::optional<double> latest_span_gain(Database& db);

}  // namespace soleus::storage
