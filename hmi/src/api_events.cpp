#include <boost/json.hpp>

#include <cctype>
#include <string>

#include "api_internal.hpp"
#include "soleus/common/time.hpp"

// GET /events: the event log's query parameters.

namespace soleus::hmi {
using namespace detail;

ApiResponse Api::Impl::events(const Route& r) {
  EventQuery q;
  for (const auto& [k, v] : r.query) {
    auto digits = [&](std::size_t max_len) {
      if (v.empty() || v.size() > max_len) return false;
      for (char c : v)
        if (c < '0' || c > '9') return false;
      return true;
    };
    if (k == "since") {
      if (digits(15)) q.since_ms = std::stoll(v);
      else if (auto t = common::parse_iso_utc(v)) q.since_ms = *t;
      else
        fail(422, "since",
             "\"" + v + "\" is neither Unix ms nor a UTC time like 2025-11-23T18:05:00Z");
    } else if (k == "severity") {
      if (v != "info" && v != "warning" && v != "error")
        fail(422, "severity", "\"" + v + "\" is not one of info, warning, error");
      q.severity = v;
    } else if (k == "code") {
      bool ok = !v.empty() && v.size() <= 64;
      for (char c : v)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
          ok = false;
      if (!ok) fail(422, "code", "an event code is 1 to 64 letters, digits, '_', '-' or '.'");
      q.code = v;
    } else if (k == "before") {
      if (!digits(15)) fail(400, "before", "must be an event id");
      q.before_id = std::stoll(v);
    } else if (k == "offset") {
      if (!digits(6)) fail(400, "offset", "must be a non-negative integer");
      const long long o = std::stoll(v);
      if (o > 100000) fail(422, "offset", std::to_string(o) + " is out of range [0, 100000]");
      q.offset = static_cast<int>(o);
    } else if (k == "limit") {
      if (!digits(6)) fail(400, "limit", "must be an integer");
      const long long l = std::stoll(v);
      if (l < 1 || l > 500) fail(422, "limit", std::to_string(l) + " is out of range [1, 500]");
      q.limit = static_cast<int>(l);
    } else {
      fail(400, k, "unknown parameter (since, severity, code, before, offset, limit)");
    }
  }
  const EventPage page = backend.events(q);
  json::array a;
  for (const auto& e : page.events) a.push_back(to_json(e));
  return json_response(200, json::object{{"events", std::move(a)},
                                         {"next_before", opt(page.next_before)},
                                         {"total", opt(page.total)}});
}

}  // namespace soleus::hmi
