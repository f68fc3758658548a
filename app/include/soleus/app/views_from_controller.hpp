#pragma once
/// The controller's values as the one schema's views (hmi/views.hpp), one
/// function per conversion: used by soleusd's --json-lines and by the API
/// (DaemonBackend), and rendered only by the hmi renderers (hmi::to_json).
/// Loop times (monotonic seconds) become Unix ms (wall_ms_of_loop_time).
#include <boost/json/value.hpp>
#include <optional>
#include <vector>

#include "soleus/controller/control_loop.hpp"
#include "soleus/hmi/views.hpp"
#include "soleus/storage/records.hpp"

namespace soleus::app {

hmi::EventView event_view(const controller::Event& e);
/// The event as the store keeps it and the journal gets it (soleusd writes this).
storage::EventRecord event_record(const controller::Event& e);
/// Every attempt: `partial` is the controller's `counted` inverted.
/// The rep as the store keeps it (soleusd writes this; its view is the
/// stored row's, views_from_storage's rep_view).
storage::RepRecord rep_record(const controller::RepRecord& r);
hmi::RepView rep_view(const controller::RepRecord& r);
/// A finished set as soleusd knows it at its end (state "done", rep_log null:
/// the reps went out one by one), with what was asked from its start record
/// (mode, load, tempo, member, target) when there is one.
hmi::SetView set_view(const controller::SetResult& r,
                      const std::optional<storage::SetStartRecord>& start = std::nullopt);
/// The faults latched in a snapshot (times in Unix ms); without storage_fault,
/// which the backend adds.
std::vector<hmi::FaultView> fault_views(const controller::Snapshot& s);
/// GET /api/v1/status's view of a snapshot, with fault_views(s).
hmi::StatusView status_view(const controller::Snapshot& s);
/// The live WebSocket's frame of a snapshot, with fault_views(s).
hmi::LiveFrame live_frame(const controller::Snapshot& s);
/// A rep attempt as the live screen's per-rep feedback (LiveFrame::last_rep).
hmi::RepFeedbackView rep_feedback_view(const controller::RepRecord& r);

/// GET /diagnostics' view of a snapshot: signals, bus, loop, state; the
/// backend adds the store's health, the odometer and the last range check.
hmi::DiagnosticsView diagnostics_view(const controller::Snapshot& s);

/// A trace sample (soleusd --json-lines --trace-every): no view of its own
/// (only the JSON lines show it); non-finite numbers as null.
boost::json::value trace_json(const controller::TraceSample& t);

}  // namespace soleus::app
