// soleusctl sets and export: members' history, read from the database
// directly (read-only).
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "soleus/app/views_from_storage.hpp"
#include "soleus/ctl/ctl.hpp"
#include "soleus/ctl/table.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/queries.hpp"

namespace soleus::ctl {

namespace {

namespace json = boost::json;

template <class F>
auto reading(const std::string& path, F&& f) {
  try {
    return f();
  } catch (const storage::SqliteError& e) {
    throw Unreachable("cannot read " + path + ": " + e.what() +
                      (e.is_corruption() ? " (run: soleusctl db check)" : ""));
  }
}

int run_sets(Context& ctx, const Args& a) {
  storage::SetFilter f;
  f.limit = 50;
  if (auto v = a.get("--limit"))
    f.limit = static_cast<int>(parse_int(*v, "sets: --limit", 1, 10000));
  if (auto v = a.get("--from")) f.from_ms = parse_time_option(*v, "sets: --from", false);
  if (auto v = a.get("--to")) f.to_ms = parse_time_option(*v, "sets: --to", true);
  if (f.from_ms && f.to_ms && *f.from_ms >= *f.to_ms)
    throw UsageError("sets: --from is not before --to");
  if (auto v = a.get("--before-id")) f.before_id = parse_int(*v, "sets: --before-id", 1, INT64_MAX);
  const std::string path = database_path(ctx);
  auto db = open_store_readonly(path);
  if (auto v = a.get("--member")) {
    f.member_id = reading(path, [&] { return resolve_member(db, *v); });
    if (!f.member_id) {
      *ctx.err << "soleusctl: sets: no member with number or id '" << *v << "'\n";
      return kProblem;
    }
  }
  const int limit = f.limit;
  f.limit = limit + 1;  // one more: is there an older page?
  auto rows = reading(path, [&] { return storage::query_sets(db, f); });
  const bool more = rows.size() > static_cast<std::size_t>(limit);
  if (more) rows.pop_back();
  // Member numbers, looked up once each.
  std::map<std::int64_t, std::string> numbers;
  auto number = [&](std::optional<std::int64_t> id) -> std::string {
    if (!id) return "guest";
    auto it = numbers.find(*id);
    if (it == numbers.end()) {
      auto m = reading(path, [&] { return storage::get_member(db, *id); });
      it = numbers.emplace(*id, m ? m->number : "#" + std::to_string(*id)).first;
    }
    return it->second;
  };

  std::ostream& out = *ctx.out;
  if (ctx.json) {
    json::array arr;
    for (const auto& s : rows) {
      json::object o = hmi::to_json(app::set_view(s)).as_object();
      o["member_number"] = s.member_id ? json::value(number(s.member_id)) : json::value(nullptr);
      arr.push_back(std::move(o));
    }
    json::object o;
    o["sets"] = std::move(arr);
    o["limit"] = limit;
    o["next_before_id"] = more ? json::value(rows.back().id) : json::value(nullptr);
    out << hmi::write_json(o) << "\n";
    return kOk;
  }
  Table t({{"id", true},
           {"started"},
           {"member"},
           {"mode"},
           {"load N", true},
           {"reps", true},
           {"partial", true},
           {"TUT s", true},
           {"stop reason"}});
  for (const auto& s : rows)
    t.add({std::to_string(s.id), format_local(s.started_ms), number(s.member_id), s.mode,
           format_fixed(s.load_n, 0), std::to_string(s.reps), std::to_string(s.partial_reps),
           format_fixed(s.tut_s, 1), s.stop_reason.value_or(s.ended_ms ? "-" : "(running)")});
  if (t.rows() > 0) t.print(out);
  out << "\n"
      << format_count(static_cast<std::int64_t>(rows.size()))
      << (rows.size() == 1 ? " set" : " sets") << ", newest first";
  if (more) out << "; older: add --before-id " << rows.back().id << "\n";
  else out << (rows.empty() ? "; none match.\n" : "; no older sets match.\n");
  return kOk;
}

/// One CSV of the member's sets and reps (app::member_csv, which the API's
/// GET /members/{id}/export.csv also writes).
std::string joined_csv(const storage::MemberRow&, const storage::MemberExport& ex,
                       std::size_t* data_rows) {
  return app::member_csv(ex, std::nullopt, std::nullopt, data_rows);
}

int run_export(Context& ctx, const Args& a) {
  const auto member = a.get("--member");
  if (!member) throw UsageError("export: --member NUMBER_OR_ID is required");
  const std::string format = a.get("--format").value_or("csv");
  if (format != "csv" && format != "json")
    throw UsageError("export: --format: '" + format + "' is not csv or json");
  if (ctx.json && format == "csv" && a.has("--format"))
    throw UsageError("export: --json and --format csv contradict each other");
  const bool as_json = format == "json" || ctx.json;
  const std::string path = database_path(ctx);
  auto db = open_store_readonly(path);
  const auto id = reading(path, [&] { return resolve_member(db, *member); });
  if (!id) {
    *ctx.err << "soleusctl: export: no member with number or id '" << *member << "'\n";
    return kProblem;
  }
  const auto m = reading(path, [&] { return storage::get_member(db, *id); });
  const auto ex = reading(path, [&] { return storage::export_member(db, *id); });
  if (!m || !ex) {
    *ctx.err << "soleusctl: export: member " << *id << " vanished while reading\n";
    return kProblem;
  }
  std::size_t rows = 0;
  const std::string text = as_json ? app::export_json(*ex) + "\n" : joined_csv(*m, *ex, &rows);
  if (auto out_path = a.get("--out")) {
    const std::string tmp = *out_path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << text;
      f.flush();
      if (!f) throw UsageError("export: --out: cannot write " + tmp);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, *out_path, ec);
    if (ec) {
      std::filesystem::remove(tmp, ec);
      throw UsageError("export: --out: cannot write " + *out_path);
    }
    *ctx.err << "soleusctl: export: member " << m->number << " (id " << m->id << ") -> "
             << *out_path;
    if (!as_json) *ctx.err << " (" << rows << " rows)";
    *ctx.err << "\n";
  } else {
    *ctx.out << text;
  }
  return kOk;
}

}  // namespace

std::vector<Command> history_commands() {
  return {
      {"sets",
       "[--member NUMBER_OR_ID] [--from T] [--to T] [--limit N] [--before-id ID]",
       "Sets, newest first, by member and date.\n"
       "Columns: id, start, member, mode, load, reps, partial reps, time under tension, stop\n"
       "reason. Read from the database directly, read-only.",
       {{"--member", "M", "one member: the member number, or the id (\"id:12\" is always the id)"},
        {"--from", "T", "sets started at or after T"},
        {"--to", "T", "sets started before T (a date alone: up to the end of that day)"},
        {"--limit", "N", "rows, 1..10000 (default 50)"},
        {"--before-id", "ID", "sets older than set ID (the next page; the footer prints it)"}},
       0,
       "T as for events: a date/time, an age (7d) or Unix milliseconds. Exit 1 when the member\n"
       "does not exist (a member without sets is exit 0 with no rows).\n",
       run_sets},
      {"export",
       "--member NUMBER_OR_ID [--format csv|json] [--out FILE]",
       "A member's data as CSV or JSON (the data-subject export).\n"
       "csv: one CSV (RFC 4180, CRLF) with one row per rep attempt and its set's columns in\n"
       "front (a set without reps: one row, rep columns empty), oldest first, the member's\n"
       "number and name in the first columns. json: member, assignments, sessions, sets with\n"
       "their rep logs (never the PIN hash).",
       {{"--member", "M", "the member number, or the id (\"id:12\" is always the id)"},
        {"--format", "F", "csv (default) or json (also --json)"},
        {"--out", "FILE", "write FILE (via FILE.tmp, then renamed) instead of standard output"}},
       0,
       "Exit 1 when the member does not exist.\n",
       run_export},
  };
}

}  // namespace soleus::ctl
