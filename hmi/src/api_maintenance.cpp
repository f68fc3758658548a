#include <boost/json.hpp>

#include "api_internal.hpp"
#include "soleus/common/log.hpp"

// /maintenance/{diagnostics,tare,span,range-check,fault-reset} (maintenance role).

namespace soleus::hmi {
using namespace detail;

ApiResponse Api::Impl::maintenance(const Route& r, const Session&) {
  const std::string& what = r.seg[1];
  if (what == "diagnostics") return json_response(200, backend.diagnostics());
  const json::object body = parse_body(r.req->body, true);
  Fields f(body);
  json::object args;
  MaintenanceAction a = MaintenanceAction::Tare;
  if (what == "span") {
    a = MaintenanceAction::Span;
    auto known = f.number("known_n", 1, 10000);
    if (!known) fail(422, "known_n", "is required: the known weight's force in N");
    args["known_n"] = *known;
  } else if (what == "range-check") {
    a = MaintenanceAction::RangeCheck;
  } else if (what == "fault-reset") {
    a = MaintenanceAction::FaultReset;
  }
  f.finish();
  log::notice("hmi: maintenance action ", what);
  return from_result(backend.maintenance(a, args));
}

}  // namespace soleus::hmi
