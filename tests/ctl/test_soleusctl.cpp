// soleusctl events, sets, export, db check and db backup: the real binary
// against a real database file built through the storage library (migrated
// schema, members through members.hpp, sets/reps/events inserted as the
// writer would store them).
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "soleus/common/time.hpp"
#include "soleus/ctl/ctl.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/open.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/test_support/process.hpp"

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace soleus;

namespace {

constexpr std::int64_t kBase = 1'794'991'800'000;  // 2026-11-18T08:50:00Z
constexpr int kEvents = 237;
constexpr int kRecent = 3;  // events in the last hour, for --since 2h

int severity_of(int i) { return i % 10 == 0 ? 2 : i % 5 == 0 ? 1 : 0; }
std::string code_of(int i) {
  if (severity_of(i) == 2) return i % 20 == 0 ? "comm_loss" : "drive_fault";
  if (severity_of(i) == 1) return "comm_glitch";
  return i % 2 ? "set_started" : "set_ended";
}

struct Fixture {
  test::TempDir dir;
  std::string db;
  std::int64_t ann = 0, bob = 0, two = 0;

  Fixture() : db(dir.file("soleus.db")) {
    setenv("TZ", "UTC", 1);  // the table's local times, for the children too
    auto d = storage::Database::open(db);
    storage::migrate(d);
    ann = storage::add_member(d, "1042", "Ann, \"The\" Example", {});
    bob = storage::add_member(d, "7", "Bob", {});
    two = storage::add_member(d, "2", "Two", {});  // number "2", id 3: --member 2 is this one
    REQUIRE(bob == 2);
    REQUIRE(two == 3);
    storage::Transaction tx(d);
    auto set = d.prepare(
        "INSERT INTO sets (id, member_id, started_ms, ended_ms, mode, load_n, tempo, target_reps, "
        "stop_reason, reps, partial_reps, tut_s) VALUES (?1, ?2, ?3, ?4, 'isotonic', ?5, "
        "'3-1-3-1', 12, ?6, ?7, ?8, ?9)");
    struct S {
      std::int64_t id;
      std::optional<std::int64_t> member;
      std::int64_t day;
      int reps, partial;
    };
    // Ids grow with time, as the daemon allocates them. Ann: sets 1, 3, 4 (4 has no
    // reps); Bob: 2, 5; a guest: 6.
    const std::vector<S> sets = {{1, ann, 0, 2, 1}, {2, bob, 0, 1, 0}, {3, ann, 1, 2, 0},
                                 {4, ann, 2, 0, 0}, {5, bob, 3, 1, 0}, {6, std::nullopt, 3, 1, 0}};
    for (const auto& s : sets) {
      const std::int64_t t = kBase + s.day * 86'400'000 + s.id * 60'000;
      set.bind(1, s.id)
          .bind(2, s.member)
          .bind(3, t)
          .bind(4, t + 50'000)
          .bind(5, 400.0 + static_cast<double>(s.id))
          .bind(6, "target_reached")
          .bind(7, s.reps)
          .bind(8, s.partial)
          .bind(9, 8.0 * s.reps);
      set.run();
      set.reset();
    }
    auto rep = d.prepare(
        "INSERT INTO reps (set_id, seq, n, partial, t_start_s, peak_force_n, mean_force_n, "
        "concentric_s, top_pause_s, eccentric_s, bottom_pause_s, rom_mm, rom_pct, "
        "mean_velocity_mm_s, smoothness, on_tempo, tempo_deviation_s, tut_s) VALUES "
        "(?1, ?2, ?3, ?4, ?5, 850, 760, 3, 1, 3, 1, 108, 97, 36, 0.9, 1, 0.05, 8)");
    auto add_reps = [&](std::int64_t set_id, int full, int partial) {
      int seq = 0;
      for (int k = 0; k < full + partial; ++k) {
        const bool p = k >= full;
        rep.bind(1, set_id).bind(2, ++seq).bind(3, p ? 0 : k + 1).bind(4, p).bind(5, 8.0 * k);
        rep.run();
        rep.reset();
      }
    };
    add_reps(1, 2, 1);
    add_reps(2, 1, 0);
    add_reps(3, 2, 0);
    add_reps(5, 1, 0);
    add_reps(6, 1, 0);
    auto ev = d.prepare(
        "INSERT INTO events (id, t_ms, severity, code, message, set_id, context) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    for (int i = 1; i <= kEvents; ++i) {
      ev.bind(1, std::int64_t{i})
          .bind(2, kBase + std::int64_t{i} * 600'000)
          .bind(3, severity_of(i))
          .bind(4, code_of(i))
          .bind(5, i == 7 ? "a message, with a comma" : "event " + std::to_string(i))
          .bind(6, i % 40 == 0 ? std::optional<std::int64_t>(4) : std::nullopt)
          .bind(7, "{\"i\":" + std::to_string(i) + "}");
      ev.run();
      ev.reset();
    }
    for (int k = 0; k < kRecent; ++k) {
      ev.bind(1, std::int64_t{1000 + k})
          .bind(2, common::unix_ms_now() - std::int64_t{30 + k} * 60'000)
          .bind(3, 0)
          .bind(4, "boot")
          .bind(5, "recent")
          .bind_null(6)
          .bind_null(7);
      ev.run();
      ev.reset();
    }
    tx.commit();
  }
};

test::RunResult run_ctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SOLEUSCTL_EXE};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_command(argv, std::chrono::seconds(30));
}

json::object ctl_json(const std::vector<std::string>& args) {
  auto r = run_ctl(args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  boost::system::error_code ec;
  auto v = json::parse(r.output, ec);
  REQUIRE_MESSAGE((!ec && v.is_object()), r.output);
  return v.as_object();
}

std::vector<std::int64_t> ids_of(const json::object& o, const char* key) {
  std::vector<std::int64_t> ids;
  for (const auto& e : o.at(key).as_array()) ids.push_back(e.at("id").as_int64());
  return ids;
}

/// Lines of a table's body: after the "----" rule, up to the blank line.
std::vector<std::string> body_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  std::string l;
  bool in_body = false;
  while (std::getline(in, l)) {
    if (!in_body) {
      in_body = l.rfind("--", 0) == 0;
      continue;
    }
    if (l.empty()) break;
    lines.push_back(l);
  }
  return lines;
}

int expected(auto pred) {
  int n = 0;
  for (int i = 1; i <= kEvents; ++i) n += pred(i) ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("soleusctl events: table, filters, paging, JSON") {
  Fixture fx;
  const std::string total = std::to_string(kEvents + kRecent);

  SUBCASE("default: the newest 50, a footer with the count and the next page") {
    auto r = run_ctl({"--db", fx.db, "events"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    auto rows = body_lines(r.output);
    CHECK(rows.size() == 50);
    CHECK(rows.front().find("1000") ==
          rows.front().find_first_not_of(' '));  // newest: the recent ones
    CHECK(r.output.find(total + " events match") != std::string::npos);
    CHECK(r.output.find("--before-id ") != std::string::npos);
    CHECK(r.output.find("a message, with a comma") == std::string::npos);  // that one is old
  }
  SUBCASE("pages: page 2 differs from page 1, keyset = offset, every event exactly once") {
    auto p1 = ids_of(ctl_json({"--db", fx.db, "--json", "events", "--limit", "20"}), "events");
    auto p2o = ctl_json({"--db", fx.db, "--json", "events", "--limit", "20", "--page", "2"});
    auto p2 = ids_of(p2o, "events");
    REQUIRE(p1.size() == 20);
    REQUIRE(p2.size() == 20);
    for (auto id : p2) CHECK(std::find(p1.begin(), p1.end(), id) == p1.end());
    CHECK(p1.back() > p2.front());
    auto k2 = ids_of(ctl_json({"--db", fx.db, "--json", "events", "--limit", "20", "--before-id",
                               std::to_string(p1.back())}),
                     "events");
    CHECK(k2 == p2);
    CHECK(p2o.at("matched").as_int64() == kEvents + kRecent);

    // The table's footer names the command for the next page.
    auto t = run_ctl({"--db", fx.db, "events", "--limit", "20"});
    CHECK(t.output.find("older: soleusctl events --limit 20 --before-id " +
                        std::to_string(p1.back())) != std::string::npos);

    std::vector<std::int64_t> all;
    std::optional<std::int64_t> before;
    for (int guard = 0; guard < 100; ++guard) {
      std::vector<std::string> a = {"--db", fx.db, "--json", "events", "--limit", "17"};
      if (before) a.insert(a.end(), {"--before-id", std::to_string(*before)});
      auto o = ctl_json(a);
      auto ids = ids_of(o, "events");
      all.insert(all.end(), ids.begin(), ids.end());
      if (o.at("next_before_id").is_null()) break;
      before = o.at("next_before_id").as_int64();
    }
    CHECK(all.size() == static_cast<std::size_t>(kEvents + kRecent));
    CHECK(std::set<std::int64_t>(all.begin(), all.end()).size() == all.size());
    // Newest first: the recent events (ids 1000.. at now-30 min, now-31 min, ...), then 237..1.
    std::vector<std::int64_t> want = {1000, 1001, 1002};
    for (int i = kEvents; i >= 1; --i) want.push_back(i);
    CHECK(all == want);
  }
  SUBCASE("filters: severity, code, set, since/until, relative age") {
    auto err =
        ctl_json({"--db", fx.db, "--json", "events", "--severity", "error", "--limit", "1000"});
    CHECK(err.at("matched").as_int64() == expected([](int i) { return severity_of(i) == 2; }));
    for (const auto& e : err.at("events").as_array())
      CHECK(e.at("severity").as_string() == "error");
    auto warn = ctl_json({"--db", fx.db, "--json", "events", "--severity", "warning"});
    CHECK(warn.at("matched").as_int64() == expected([](int i) { return severity_of(i) >= 1; }));
    auto cl =
        ctl_json({"--db", fx.db, "--json", "events", "--code", "comm_loss", "--limit", "1000"});
    CHECK(cl.at("matched").as_int64() == expected([](int i) { return code_of(i) == "comm_loss"; }));
    CHECK(cl.at("events").as_array().size() ==
          static_cast<std::size_t>(cl.at("matched").as_int64()));
    for (const auto& e : cl.at("events").as_array()) CHECK(e.at("code").as_string() == "comm_loss");
    auto st = ctl_json({"--db", fx.db, "--json", "events", "--set", "4"});
    CHECK(st.at("matched").as_int64() == kEvents / 40);
    // Events 1..237 are 10 min apart from kBase (08:50Z); [09:00Z, 10:00Z) holds i = 1..6.
    auto win = ctl_json({"--db", fx.db, "--json", "events", "--since", "2026-11-18T09:00:00Z",
                         "--until", "2026-11-18 10:00"});  // TZ=UTC: local = UTC
    CHECK(win.at("matched").as_int64() == 6);
    auto ms = ctl_json({"--db", fx.db, "--json", "events", "--since",
                        std::to_string(kBase + std::int64_t{230} * 600'000)});
    CHECK(ms.at("matched").as_int64() == 8 + kRecent);  // 230..237 and the recent ones
    auto recent = ctl_json({"--db", fx.db, "--json", "events", "--since", "2h"});
    CHECK(recent.at("matched").as_int64() == kRecent);
    CHECK(recent.at("next_before_id").is_null());
    auto t = run_ctl(
        {"--db", fx.db, "events", "--code", "comm_glitch", "--since", "2026-11-19", "--context"});
    CHECK_MESSAGE(t.exit_code == 0, t.output);
    CHECK(t.output.find("{\"i\":") != std::string::npos);
    CHECK(t.output.find("set_started") == std::string::npos);
  }
}

TEST_CASE("soleusctl: exit codes and help") {
  Fixture fx;
  auto bad = run_ctl({"--db", fx.db, "events", "--bogus"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("--bogus") != std::string::npos);
  auto lim = run_ctl({"--db", fx.db, "events", "--limit", "0"});
  CHECK(lim.exit_code == 2);
  CHECK(lim.output.find("--limit") != std::string::npos);
  auto lim2 = run_ctl({"--db", fx.db, "events", "--limit", "1001"});
  CHECK(lim2.exit_code == 2);
  auto since = run_ctl({"--db", fx.db, "events", "--since", "yesterday"});
  CHECK(since.exit_code == 2);
  CHECK(since.output.find("--since") != std::string::npos);
  auto sev = run_ctl({"--db", fx.db, "events", "--severity", "fatal"});
  CHECK(sev.exit_code == 2);
  CHECK(sev.output.find("fatal") != std::string::npos);
  CHECK(run_ctl({"--db", fx.db, "events", "--page", "2", "--before-id", "5"}).exit_code == 2);
  CHECK(run_ctl({"--db", fx.db, "frobnicate"}).exit_code == 2);
  CHECK(run_ctl({}).exit_code == 2);
  auto missing = run_ctl({"--db", fx.dir.file("nope.db"), "events"});
  CHECK(missing.exit_code == 3);
  CHECK(missing.output.find("nope.db") != std::string::npos);
  CHECK(run_ctl({"--db", fx.dir.file("nope.db"), "sets"}).exit_code == 3);
  CHECK(run_ctl({"--db", fx.dir.file("nope.db"), "db", "check"}).exit_code == 3);
  auto nocfg = run_ctl({"--config", fx.dir.file("nope.toml"), "events"});
  CHECK(nocfg.exit_code == 2);
  CHECK(nocfg.output.find("nope.toml") != std::string::npos);
  // Not a Soleus database: an empty SQLite file.
  {
    auto d = storage::Database::open(fx.dir.file("empty.db"));
    d.exec("CREATE TABLE t (x)");
  }
  CHECK(run_ctl({"--db", fx.dir.file("empty.db"), "events"}).exit_code == 3);

  // The configuration's [storage] db_path is used without --db.
  {
    std::ifstream in(std::string(SOLEUS_SOURCE_DIR) + "/config/sim.toml");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string cfg = ss.str();
    const std::string from = "db_path = \"soleus-sim.db\"";
    const auto p = cfg.find(from);
    REQUIRE(p != std::string::npos);
    cfg.replace(p, from.size(), "db_path = \"soleus.db\"");
    std::ofstream(fx.dir.file("soleus.toml")) << cfg;
    auto viacfg =
        run_ctl({"--config", fx.dir.file("soleus.toml"), "--json", "events", "--limit", "1"});
    CHECK_MESSAGE(viacfg.exit_code == 0, viacfg.output);
    CHECK(viacfg.output.find("\"matched\":" + std::to_string(kEvents + kRecent)) !=
          std::string::npos);
  }

  auto help = run_ctl({"--help"});
  CHECK(help.exit_code == 0);
  for (const char* c : {"events", "sets", "export", "db check", "db backup", "status", "probe"})
    CHECK_MESSAGE(help.output.find(c) != std::string::npos, c);
  auto eh = run_ctl({"events", "--help"});
  CHECK(eh.exit_code == 0);
  for (const char* o :
       {"--severity", "--code", "--since", "--until", "--set", "--limit", "--page", "--before-id"})
    CHECK_MESSAGE(eh.output.find(o) != std::string::npos, o);
  auto bh = run_ctl({"db", "backup", "--help"});
  CHECK(bh.exit_code == 0);
  CHECK(bh.output.find("--force") != std::string::npos);
  CHECK(run_ctl({"export", "--help"}).output.find("--format") != std::string::npos);
  CHECK(run_ctl({"sets", "--help"}).output.find("--member") != std::string::npos);
}

TEST_CASE("soleusctl sets: filters by member (number or id) and date") {
  Fixture fx;
  auto all = run_ctl({"--db", fx.db, "sets"});
  REQUIRE_MESSAGE(all.exit_code == 0, all.output);
  CHECK(body_lines(all.output).size() == 6);
  CHECK(all.output.find("guest") != std::string::npos);
  CHECK(all.output.find("target_reached") != std::string::npos);
  CHECK(all.output.find("stop reason") != std::string::npos);
  CHECK(ids_of(ctl_json({"--db", fx.db, "--json", "sets", "--member", "1042"}), "sets") ==
        std::vector<std::int64_t>{4, 3, 1});
  CHECK(ids_of(ctl_json({"--db", fx.db, "--json", "sets", "--member", "7"}), "sets") ==
        std::vector<std::int64_t>{5, 2});
  CHECK(ids_of(ctl_json({"--db", fx.db, "--json", "sets", "--member", "id:2"}), "sets") ==
        std::vector<std::int64_t>{5, 2});
  CHECK(ids_of(ctl_json({"--db", fx.db, "--json", "sets", "--member", "2"}), "sets")
            .empty());  // number 2
  auto none = run_ctl({"--db", fx.db, "sets", "--member", "9999"});
  CHECK(none.exit_code == 1);
  CHECK(none.output.find("9999") != std::string::npos);
  // Days: 0 = 2026-11-18 ... 3 = 2026-11-21 (UTC).
  CHECK(ids_of(ctl_json(
                   {"--db", fx.db, "--json", "sets", "--from", "2026-11-19", "--to", "2026-11-20"}),
               "sets") == std::vector<std::int64_t>{4, 3});
  CHECK(ids_of(ctl_json({"--db", fx.db, "--json", "sets", "--to", "2026-11-18"}), "sets") ==
        std::vector<std::int64_t>{2, 1});
  auto lim = ctl_json({"--db", fx.db, "--json", "sets", "--limit", "4"});
  CHECK(ids_of(lim, "sets").size() == 4);
  REQUIRE(lim.at("next_before_id").is_int64());
  auto rest = ctl_json({"--db", fx.db, "--json", "sets", "--limit", "4", "--before-id",
                        std::to_string(lim.at("next_before_id").as_int64())});
  CHECK(ids_of(rest, "sets").size() == 2);
  CHECK(rest.at("next_before_id").is_null());
  CHECK(run_ctl({"--db", fx.db, "sets", "--from", "2026-13-01"}).exit_code == 2);
}

TEST_CASE("soleusctl export: one CSV of sets and reps, JSON, --out") {
  Fixture fx;
  auto r = run_ctl({"--db", fx.db, "export", "--member", "1042"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  auto rows = ctl::parse_csv(r.output);
  REQUIRE(rows.size() == 1 + 6);  // header + set 1: 3 attempts, set 3: 2, set 4: none (1 row)
  const auto& h = rows[0];
  auto col = [&](const std::string& name) {
    const auto it = std::find(h.begin(), h.end(), name);
    REQUIRE_MESSAGE(it != h.end(), name);
    return static_cast<std::size_t>(it - h.begin());
  };
  for (const auto& row : rows) CHECK(row.size() == h.size());
  CHECK(rows[1][col("member_name")] == "Ann, \"The\" Example");  // RFC 4180 quoting survived
  CHECK(rows[1][col("member_number")] == "1042");
  CHECK(rows[1][col("set_id")] == "1");
  CHECK(rows[1][col("rep_seq")] == "1");
  CHECK(rows[3][col("rep_partial")] == "1");
  CHECK(rows[4][col("set_id")] == "3");
  CHECK(rows[6][col("set_id")] == "4");
  CHECK(rows[6][col("rep_seq")].empty());
  (void)col("stop_reason");
  (void)col("rep_peak_force_n");

  auto j = ctl_json({"--db", fx.db, "export", "--member", "1042", "--format", "json"});
  CHECK(j.at("member").at("number").as_string() == "1042");
  CHECK(j.at("sets").as_array().size() == 3);
  CHECK(j.at("member").as_object().contains("pin_hash") == false);

  const std::string out = fx.dir.file("ann.csv");
  auto w = run_ctl({"--db", fx.db, "export", "--member", "id:1", "--out", out});
  CHECK_MESSAGE(w.exit_code == 0, w.output);
  std::ifstream in(out, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ctl::parse_csv(ss.str()).size() == 7);
  CHECK(ss.str().find("\r\n") != std::string::npos);  // RFC 4180 line ends
  CHECK(!fs::exists(out + ".tmp"));

  CHECK(run_ctl({"--db", fx.db, "export", "--member", "nobody"}).exit_code == 1);
  CHECK(run_ctl({"--db", fx.db, "export"}).exit_code == 2);
  CHECK(run_ctl({"--db", fx.db, "export", "--member", "7", "--format", "xml"}).exit_code == 2);
}

TEST_CASE("soleusctl db check and db backup") {
  Fixture fx;
  auto ok = run_ctl({"--db", fx.db, "db", "check"});
  CHECK_MESSAGE(ok.exit_code == 0, ok.output);
  CHECK(ok.output.find("OK") != std::string::npos);
  CHECK(ok.output.find("events") != std::string::npos);
  auto okj = ctl_json({"--db", fx.db, "--json", "db", "check"});
  CHECK(okj.at("ok").as_bool());
  CHECK(okj.at("schema_version").as_int64() == storage::kSchemaVersion);
  CHECK(okj.at("tables").at("events").as_int64() == kEvents + kRecent);
  CHECK(okj.at("tables").at("sets").as_int64() == 6);
  CHECK(okj.at("db_bytes").as_int64() > 0);

  // A copy with its middle overwritten.
  const std::string bad = fx.dir.file("corrupt.db");
  fs::copy_file(fx.db, bad);
  const auto size = fs::file_size(bad);
  REQUIRE(size > 8 * 4096);
  {
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2 / 4096 * 4096));
    const std::string junk(4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto c = run_ctl({"--db", bad, "db", "check"});
  CHECK_MESSAGE(c.exit_code == 1, c.output);
  CHECK(c.output.find("PROBLEMS FOUND") != std::string::npos);
  auto cj = run_ctl({"--db", bad, "--json", "db", "check"});
  CHECK(cj.exit_code == 1);
  CHECK(cj.output.find("\"ok\":false") != std::string::npos);
  // Not a database at all.
  std::ofstream(fx.dir.file("garbage.db")) << std::string(10000, 'x');
  CHECK(run_ctl({"--db", fx.dir.file("garbage.db"), "db", "check"}).exit_code == 1);

  const std::string copy = fx.dir.file("backup.db");
  auto b = run_ctl({"--db", fx.db, "db", "backup", copy});
  REQUIRE_MESSAGE(b.exit_code == 0, b.output);
  CHECK(b.output.find("integrity_check of the copy: ok") != std::string::npos);
  CHECK(fs::exists(copy));
  CHECK(!fs::exists(copy + ".tmp"));
  CHECK(storage::check_integrity(copy).ok);
  {
    auto d = storage::Database::open(copy, storage::Database::Access::ReadOnly);
    CHECK(d.scalar_int("SELECT count(*) FROM events") == kEvents + kRecent);
  }
  auto again = run_ctl({"--db", fx.db, "db", "backup", copy});
  CHECK(again.exit_code == 2);
  CHECK(again.output.find("--force") != std::string::npos);
  CHECK(run_ctl({"--db", fx.db, "db", "backup", copy, "--force"}).exit_code == 0);
  CHECK(run_ctl({"--db", fx.db, "db", "backup", fx.db, "--force"}).exit_code == 2);
  CHECK(run_ctl({"--db", fx.db, "db", "backup"}).exit_code == 2);
  CHECK(run_ctl({"--db", fx.dir.file("nope.db"), "db", "backup", fx.dir.file("x.db")}).exit_code ==
        3);
}
