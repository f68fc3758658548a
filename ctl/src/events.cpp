// soleusctl events: the technicians' log, read from the database directly
// (read-only), so it works while the daemon is down.
#include <boost/json.hpp>
#include <iostream>

#include "soleus/app/views_from_storage.hpp"
#include "soleus/ctl/ctl.hpp"
#include "soleus/ctl/table.hpp"
#include "soleus/storage/queries.hpp"

namespace soleus::ctl {

namespace {

namespace json = boost::json;

/// The command line that shows the next (older) page: the user's own
/// arguments without their paging, plus --before-id.
std::string next_page_hint(const Args& a, std::int64_t before_id) {
  std::string s = "soleusctl events";
  for (std::size_t i = 0; i < a.raw.size(); ++i) {
    const std::string& w = a.raw[i];
    if (w == "--page" || w == "--before-id") {
      ++i;
      continue;
    }
    if (w.rfind("--page=", 0) == 0 || w.rfind("--before-id=", 0) == 0) continue;
    const bool plain = !w.empty() && w.find_first_of(" \t'\"$`\\;&|<>*?()") == std::string::npos;
    s += " " + (plain ? w : "'" + w + "'");
  }
  return s + " --before-id " + std::to_string(before_id);
}

int run_events(Context& ctx, const Args& a) {
  storage::EventFilter f;
  if (auto v = a.get("--severity")) {
    storage::Severity s{};
    if (!storage::parse_severity(*v, s))
      throw UsageError("events: --severity: '" + *v + "' is not info, warning or error");
    f.min_severity = s;
  }
  if (auto v = a.get("--code")) {
    if (v->empty()) throw UsageError("events: --code: empty");
    f.code = *v;
  }
  if (auto v = a.get("--since")) f.since_ms = parse_time_option(*v, "events: --since", false);
  if (auto v = a.get("--until")) f.until_ms = parse_time_option(*v, "events: --until", true);
  if (f.since_ms && f.until_ms && *f.since_ms >= *f.until_ms)
    throw UsageError("events: --since is not before --until");
  if (auto v = a.get("--set")) f.set_id = parse_int(*v, "events: --set", 1, INT64_MAX);
  if (auto v = a.get("--limit"))
    f.limit = static_cast<int>(parse_int(*v, "events: --limit", 1, 1000));
  int page = 1;
  if (a.has("--page") && a.has("--before-id"))
    throw UsageError("events: give --page or --before-id, not both");
  if (auto v = a.get("--page")) {
    page = static_cast<int>(parse_int(*v, "events: --page", 1, 1000000));
    const std::int64_t offset = static_cast<std::int64_t>(page - 1) * f.limit;
    if (offset > 100000)
      throw UsageError("events: --page " + *v +
                       ": only the first 100 000 rows can be reached by "
                       "page number; use --before-id (the footer shows it) for older pages");
    f.offset = static_cast<int>(offset);
  }
  if (auto v = a.get("--before-id"))
    f.before_id = parse_int(*v, "events: --before-id", 1, INT64_MAX);

  const std::string path = database_path(ctx);
  auto db = open_store_readonly(path);
  storage::EventPage result;
  std::int64_t total = 0;
  try {
    result = storage::query_events(db, f);
    total = storage::count_events(db, f);
  } catch (const storage::SqliteError& e) {
    throw Unreachable("cannot read the events of " + path + ": " + e.what() +
                      (e.is_corruption() ? " (run: soleusctl db check)" : ""));
  }
  // Ids are >= 1, so 0 means "no older page" (and spares GCC 12 a false
  // maybe-uninitialized warning on an optional<int64_t>).
  const std::int64_t next = result.next ? result.next->id : 0;

  std::ostream& out = *ctx.out;
  if (ctx.json) {
    json::array rows;
    for (const auto& e : result.rows) rows.push_back(hmi::to_json(app::event_view(e)));
    json::object o;
    o["events"] = std::move(rows);
    o["matched"] = total;
    o["limit"] = f.limit;
    if (a.has("--page")) o["page"] = page;
    o["next_before_id"] = next ? json::value(next) : json::value(nullptr);
    out << hmi::write_json(o) << "\n";
    return kOk;
  }
  const bool context = a.has("--context");
  std::vector<Column> cols = {{"id", true}, {"time"},      {"severity"},
                              {"code"},     {"set", true}, {"message"}};
  if (context) {
    cols.back().max_width = 60;
    cols.push_back({"context"});
  }
  Table t(cols);
  for (const auto& e : result.rows)
    t.add({std::to_string(e.id), format_local(e.t_ms), storage::to_string(e.severity), e.code,
           e.set_id ? std::to_string(*e.set_id) : "", e.message, e.context.value_or("")});
  if (t.rows() > 0) t.print(out);
  // The footer: how many matched, where this page is, how to get the next.
  std::string where;
  if (result.rows.empty()) where = "no events shown";
  else if (a.has("--before-id"))
    where = format_count(static_cast<std::int64_t>(result.rows.size())) + " shown, older than id " +
            *a.get("--before-id");
  else {
    const std::int64_t first = static_cast<std::int64_t>(page - 1) * f.limit + 1;
    where = "rows " + format_count(first) + "-" +
            format_count(first + static_cast<std::int64_t>(result.rows.size()) - 1) + " (page " +
            std::to_string(page) + " of " +
            format_count(std::max<std::int64_t>(1, (total + f.limit - 1) / f.limit)) + ")";
  }
  out << "\n"
      << format_count(total) << (total == 1 ? " event matches" : " events match")
      << ", newest first; " << where << ".\n";
  if (next) out << "older: " << next_page_hint(a, next) << "\n";
  else if (!result.rows.empty()) out << "(no older events match)\n";
  return kOk;
}

}  // namespace

std::vector<Command> log_commands() {
  return {
      {"events",
       "[--severity info|warning|error] [--code CODE] [--since T] [--until T] [--set ID] "
       "[--limit N] [--page K | --before-id ID] [--context]",
       "The technicians' log, newest first, with filters and paging.\n"
       "Read from the database directly, read-only: works while soleusd runs or is down.",
       {{"--severity", "S",
         "this severity and worse: info (all), warning (warning + error), error"},
        {"--code", "CODE", "exactly this event code (docs/events.md), e.g. comm_loss"},
        {"--since", "T", "events at or after T"},
        {"--until", "T", "events before T (a date alone: up to the end of that day)"},
        {"--set", "ID", "events of one set"},
        {"--limit", "N", "rows per page, 1..1000 (default 50)"},
        {"--page", "K", "page K (1 = newest) by offset: fine for the first pages"},
        {"--before-id", "ID",
         "the page of events older than event ID (keyset paging: as fast\n"
         "on page 10 000 as on page 1; the footer prints the next one)"},
        {"--context", "", "add the JSON context column"}},
       0,
       "T is a date/time (2026-11-22, \"2026-11-22 18:05\" local, 2026-11-22T18:05:00Z or\n"
       "+01:00), an age before now (90s, 30m, 2h, 7d, 2w) or Unix milliseconds.\n"
       "The database is --db FILE, or [storage] db_path of --config FILE.\n"
       "--json prints {\"events\":[...],\"matched\":N,\"limit\":N,\"next_before_id\":ID|null}.\n",
       run_events},
  };
}

}  // namespace soleus::ctl
