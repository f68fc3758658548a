#pragma once
/// JSON views of the controller's values, shared by soleusd's line output,
/// the API and soleusctl, so every consumer sees the same names (issue 5's
/// contract).
#include <boost/json.hpp>
#include <optional>
#include <string>

#include "soleus/controller/control_loop.hpp"

namespace soleus::app {

boost::json::object to_json(const controller::Event& e);
boost::json::object to_json(const controller::RepRecord& r);
boost::json::object to_json(const controller::SetResult& r);
boost::json::object to_json(const controller::TraceSample& t);
/// GET /api/v1/status's shape: state, position_mm, force_n, load_n, set_id,
/// faults [{code, message, since}], loop {hz, p99_ms, overruns}.
boost::json::object status_json(const controller::Snapshot& s);

}  // namespace soleus::app
