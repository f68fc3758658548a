#pragma once
/// The store's rows as the one schema's views (hmi/views.hpp), one function
/// per conversion, and the member export rendered from them: used by the API
/// (DaemonBackend), soleusctl (events, sets, export). Storage returns rows
/// only; what a row looks like in JSON or CSV is decided by hmi's renderers.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "soleus/hmi/views.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/writer.hpp"

namespace soleus::app {

hmi::EventView event_view(const storage::EventRow& e);
hmi::RepView rep_view(const storage::RepRow& r);
/// A set row without its reps (a listing): rep_log is rendered null.
hmi::SetView set_view(const storage::SetRow& s);
/// A set row with its committed reps: rep_log holds the counted ones; while
/// the set has no stop reason, reps / partial_reps / tut_s are those of the
/// committed reps (the truth the API may show of a running set), and the
/// state is "active" (the daemon refines it from the loop).
hmi::SetView set_view(const storage::SetRow& s, const std::vector<storage::RepRow>& reps);

/// A member; `has_pin` and the current assignment's programme are the
/// caller's (a member row read for the export has its PIN hash cleared).
hmi::MemberView member_view(const storage::MemberRow& m, bool has_pin,
                            std::optional<std::int64_t> programme_id);
/// A member as the API lists it: has_pin from the row's PIN hash.
hmi::MemberView member_view(const storage::MemberRow& m, std::optional<std::int64_t> programme_id);
/// The export's member: the programme of its open assignment, if any.
hmi::MemberView member_view(const storage::MemberExport& ex);
/// A set of a member's history.
hmi::HistorySetView history_set_view(const storage::SetRow& s);
/// With its % of counted reps on tempo, from its reps.
hmi::HistorySetView history_set_view(const storage::SetRow& s,
                                     const std::vector<storage::RepRow>& reps);
/// A history entry's session summary (reps, load × reps, heaviest load, TUT)
/// from its sets, and the % of counted reps on tempo from their reps.
void summarise(hmi::HistoryEntryView& e, const std::vector<std::vector<storage::RepRow>>& reps);
hmi::AssignmentView assignment_view(const storage::AssignmentRow& a);
hmi::SessionRecordView session_record_view(const storage::SessionSummaryRow& s);
hmi::StepView step_view(const storage::StepRow& s);
hmi::ProgrammeView programme_view(const storage::ProgrammeRow& p,
                                  const std::vector<storage::StepRow>& steps);

/// The writer's health and the odometer (GET /diagnostics).
hmi::StorageHealthView storage_health_view(const storage::StorageHealth& h);
hmi::OdometerView odometer_view(const storage::Odometer& o);

/// The member export as JSON text: member, assignments, sessions, and the
/// sets (oldest first) as set views with their rep_log (and with `trace`
/// [[t_s, force_n, position_mm], …] when the export has traces).
std::string export_json(const storage::MemberExport& ex);
/// The export's sets (newest first, as the store lists them) and every rep
/// attempt of them, as CSV (hmi::sets_csv, hmi::reps_csv).
std::string export_sets_csv(const storage::MemberExport& ex);
std::string export_reps_csv(const storage::MemberExport& ex);
/// A member's sets and reps as one CSV (RFC 4180, CRLF, cells guarded against
/// formula injection by hmi::csv_field): one row per rep with the member's
/// number and name and its set's columns in front (a set without reps: one
/// row, rep columns empty), oldest set first; only sets started in
/// [from_ms, to_ms) when given. soleusctl export and GET
/// /members/{id}/export.csv both write it. `data_rows`: rows written.
std::string member_csv(const storage::MemberExport& ex, std::optional<std::int64_t> from_ms = {},
                       std::optional<std::int64_t> to_ms = {}, std::size_t* data_rows = nullptr);

}  // namespace soleus::app
