// soleusd's durability, against soleus-sim over TCP and a real SQLite file:
//  * kill -9 mid-set, many times: the file stays intact, everything the API
//    reported is on disk, the restart closes the interrupted set;
//  * disk full / read-only during a set (soleusd-test's SOLEUS_TEST_HOOKS:
//    the daemon's database through FaultVfs): the set ends with storage_fault,
//    new sets are refused, the loop keeps its timing, nothing committed is
//    lost, recovery;
//  * the sd_notify protocol on a real AF_UNIX datagram socket: READY only
//    once the drive is armed, WATCHDOG only while the loop runs, STOPPING.
// Every wait is a bounded poll on a condition; no sleep is an assertion.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "soleus/hmi/security.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/test_support/http_client.hpp"
#include "soleus/test_support/process.hpp"
#include "soleus/test_support/sim_process.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using soleus::storage::Database;

namespace {

using soleus::test::get;
using soleus::test::num;
using soleus::test::post;
using soleus::test::read_text;
using soleus::test::Reply;
using soleus::test::tail;

void replace(std::string& s, const std::string& from, const std::string& to) {
  REQUIRE_NOTHROW(soleus::test::replace_once(s, from, to));
}

/// Environment for the next child only (the test process is single-threaded
/// when it starts children).
struct ScopedEnv {
  std::vector<std::string> names;
  void set(const std::string& k, const std::string& v) {
    ::setenv(k.c_str(), v.c_str(), 1);
    names.push_back(k);
  }
  ~ScopedEnv() {
    for (const auto& k : names) ::unsetenv(k.c_str());
  }
};

bool poll_until(const std::function<bool()>& cond, std::chrono::milliseconds limit,
                std::chrono::milliseconds every = 100ms) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(every);
  }
  return cond();
}

// Short reps over a short range (45 mm at 45 mm/s): many reps in little time,
// well inside the machine's speed limit (0.5-0-0.5-0 over the athlete's
// default 100 mm would ask for 200 mm/s, beyond max_speed_mm_s).
constexpr const char* kTempo = "1-0-1-0";

/// soleus-sim on a fixed port plus soleusd restarted at will on the same
/// database file, HMI on a free port, --json-lines.
struct Rig {
  soleus::test::TempDir dir;
  soleus::test::SimProcess sim;
  soleus::test::ChildProcess daemon;
  int modbus_port = 0;
  int port = 0;
  int resets = 0;  ///< fault resets wait_ready() had to do through the API
  std::string config_path;

  Rig() {
    modbus_port = soleus::test::free_tcp_port();
    const std::string base = std::string(SOLEUS_SOURCE_DIR) + "/config/sim.toml";
    std::string cfg = read_text(base);
    replace(cfg, "port = 1502", "port = " + std::to_string(modbus_port));
    replace(cfg, "port = 8080", "port = 0");
    const auto at = cfg.find("\nstaff_pin_hash = \"");
    REQUIRE(at != std::string::npos);
    const auto end = cfg.find('\n', at + 1);
    cfg.replace(at + 1, end - at - 1,
                "staff_pin_hash = \"" + soleus::hmi::make_pin_hash("2580", 100000) + "\"");
    const auto mat = cfg.find("\nmaintenance_pin_hash = \"");
    REQUIRE(mat != std::string::npos);
    const auto mend = cfg.find('\n', mat + 1);
    cfg.replace(mat + 1, mend - mat - 1,
                "maintenance_pin_hash = \"" + soleus::hmi::make_pin_hash("4321", 100000) + "\"");
    // The shared 2-core box runs several builds, simulators and daemons at
    // once: a simulator can be descheduled for tens of ms. The bus timeout,
    // the drive's watchdog and the supervisor's windows are widened (as
    // tests/e2e does over a pty), so that these tests judge storage and
    // process behaviour, not the box's scheduler. retry_ms short: recovery
    // within the test's patience.
    replace(cfg, "response_timeout_ms = 4 ", "response_timeout_ms = 8 ");
    replace(cfg, "retries = 1 ", "retries = 0 ");
    replace(cfg, "watchdog_ms = 100.0", "watchdog_ms = 250.0");
    replace(cfg, "[control]\n",
            "[control]\ncomm_loss_cycles = 10\ncomm_loss_window_ms = 200\nstale_cell_ms = 150\n"
            "ramp_in_s = 0.5\n");
    replace(cfg, "[storage]\n", "[storage]\nretry_ms = 500\n");
    config_path = dir.file("soleus.toml");
    std::ofstream(config_path) << cfg;
  }
  ~Rig() {
    daemon.stop();
    sim.stop();
  }
  std::string db_path() const { return dir.file("soleus-sim.db"); }

  void start_sim(const std::vector<std::string>& extra = {"--athlete-style", "tempo", "--tempo",
                                                          kTempo, "--bottom-mm", "30", "--top-mm",
                                                          "75"}) {
    std::vector<std::string> args = {
        "--config",       std::string(SOLEUS_SOURCE_DIR) + "/config/sim.toml",
        "--tcp",          "127.0.0.1:" + std::to_string(modbus_port),
        "--control-port", "0",
        "--noise-n",      "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    sim.start(args);
  }

  /// soleusd, or soleusd-test for the cases that need its test hooks.
  void start_daemon(const char* exe = SOLEUSD_EXE) {
    daemon.start({exe, "--config", config_path, "--json-lines"});
    auto rest = daemon.wait_for_line("soleusd: HMI at http://127.0.0.1:", 30s);
    REQUIRE_MESSAGE(rest, "no HMI line; daemon:\n" << daemon.output());
    port = std::stoi(*rest);
    REQUIRE(port > 0);
  }

  void kill9() {
    REQUIRE(daemon.running());
    ::kill(daemon.pid(), SIGKILL);
    auto code = daemon.wait_exit(10s);
    REQUIRE(code);
    CHECK(*code == 128 + SIGKILL);
  }

  json::object status() {
    auto r = get(port, "/api/v1/status");
    REQUIRE_MESSAGE(r.status == 200, r.text);
    return r.body.as_object();
  }

  static bool has_fault(const json::object& st, const std::string& code) {
    for (const auto& f : st.at("faults").as_array())
      if (f.as_object().at("code").as_string() == code) return true;
    return false;
  }

  /// Armed, idle (or resting) and nothing latched. A fault the loaded box
  /// caused (a comm loss while the simulator was descheduled) is reset
  /// through the maintenance API, and said so.
  void wait_ready(std::chrono::seconds limit = 30s) {
    std::string last, maintenance;
    auto next_reset = Clock::now() + 3s;
    const bool ok = poll_until(
        [&] {
          auto r = get(port, "/api/v1/status");
          last = r.text;
          if (r.status != 200) return false;
          const auto& o = r.body.as_object();
          const std::string st(o.at("state").as_string());
          if (st == "fault" && Clock::now() > next_reset) {
            if (maintenance.empty()) maintenance = login(R"({"role":"maintenance","pin":"4321"})");
            auto rr = post(port, "/api/v1/maintenance/fault-reset", "", maintenance);
            ++resets;
            MESSAGE("fault latched while waiting for ready (" << last << "): reset -> "
                                                              << rr.status);
            next_reset = Clock::now() + 3s;
          }
          return (st == "idle" || st == "rest") && o.at("faults").as_array().empty();
        },
        limit);
    REQUIRE_MESSAGE(ok, "the machine did not become ready: " << last << "\ndaemon:\n"
                                                             << tail(daemon.output()));
  }

  std::string login(const std::string& body) {
    auto r = post(port, "/api/v1/login", body);
    REQUIRE_MESSAGE(r.status == 200, r.text);
    return std::string(r.body.at("token").as_string());
  }

  std::int64_t start_set(const std::string& token, int reps = 100, double load = 400,
                         std::int64_t member = 0) {
    const std::string body = "{\"mode\":\"isotonic\",\"load_n\":" + std::to_string(load) +
                             ",\"tempo\":\"" + kTempo +
                             "\",\"target_reps\":" + std::to_string(reps) +
                             (member ? ",\"member_id\":" + std::to_string(member) : "") + "}";
    auto r = post(port, "/api/v1/sets", body, token);
    REQUIRE_MESSAGE(r.status == 201, r.text << "\ndaemon:\n" << tail(daemon.output()));
    return r.body.at("id").as_int64();
  }

  /// The JSON lines of `type` printed so far.
  std::vector<json::object> lines(const std::string& type) const {
    std::vector<json::object> out;
    const std::string prefix = "{\"type\":\"" + type + "\"";
    for (const auto& l : daemon.lines()) {
      if (l.rfind(prefix, 0) != 0) continue;
      boost::system::error_code ec;
      auto v = json::parse(l, ec);
      if (!ec && v.is_object()) out.push_back(v.as_object());
    }
    return out;
  }
  std::optional<json::object> result_of(std::int64_t set_id) const {
    for (const auto& r : lines("result"))
      if (r.at("id").as_int64() == set_id) return r;
    return std::nullopt;
  }
};

std::int64_t count(Database& db, const std::string& sql) { return db.scalar_int(sql); }

/// The odometer is written in the same transactions as what it counts: after
/// any crash it agrees exactly with the rows.
void check_odometer(Database& db) {
  INFO("odometer vs rows");
  CHECK(count(db, "SELECT reps FROM odometer") ==
        count(db, "SELECT count(*) FROM reps WHERE partial = 0"));
  CHECK(count(db, "SELECT sets FROM odometer") ==
        count(db, "SELECT count(*) FROM sets WHERE ended_ms IS NOT NULL"));
  CHECK(count(db,
              "SELECT count(*) FROM (SELECT code, count(*) AS n FROM events WHERE severity = 2 "
              "GROUP BY code) e FULL JOIN odometer_faults f USING (code) "
              "WHERE coalesce(e.n, -1) <> coalesce(f.count, -1)") == 0);
  auto st = db.prepare(
      "SELECT highest_force_n, (SELECT coalesce(max(peak_force_n), 0) FROM reps) FROM odometer");
  REQUIRE(st.step());
  CHECK(st.real(0) >= st.real(1) - 1e-6);
}

void check_integrity_ok(const std::string& path) {
  const auto rep = soleus::storage::check_integrity(path);
  std::string all;
  for (const auto& p : rep.problems) all += p + "; ";
  CHECK_MESSAGE(rep.ok, "integrity_check: " << all);
}

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE(
    "durability: kill -9 of soleusd mid-set 20 times: every reported rep and event is on disk") {
  if (!soleus::test::sim_available()) {
    MESSAGE("soleus-sim not built: skipped");
    return;
  }
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("SOLEUS_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  MESSAGE("seed " << seed << " (SOLEUS_TEST_SEED=" << seed << " repeats this run)");
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> kill_after_ms(300, 7000);

  Rig rig;
  rig.start_sim();  // stays up across the daemon's deaths (its drive watchdog trips: correct)
  constexpr int kKillsMidSet = 20;
  int kills_mid_set = 0, iterations = 0;
  std::int64_t previous_set = 0, member = 0;
  bool previous_running = false;
  std::size_t reported_reps_total = 0, reported_events_total = 0;
  while (kills_mid_set < kKillsMidSet && iterations < kKillsMidSet + 10) {
    ++iterations;
    CAPTURE(iterations);
    rig.start_daemon();
    rig.wait_ready();
    const std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");
    if (member == 0) {
      // A member with a stored range: the sets skip the calibration rep, so
      // reps are committed within the kill window. Its bottom is a little
      // below where the pad rests (29.7 mm), so the load is on at rest (the
      // load fades to zero at the range's bottom, and the simulated athlete
      // waits for load before its first rep).
      auto m = post(rig.port, "/api/v1/members", R"({"number":"4711","name":"Crash Test"})", staff);
      REQUIRE_MESSAGE(m.status == 201, m.text);
      member = m.body.at("id").as_int64();
      auto db = Database::open(rig.db_path(), Database::Access::ReadWrite);
      soleus::storage::MemberUpdate u;
      u.rom_bottom_mm = std::optional<double>(27.0);
      u.rom_top_mm = std::optional<double>(74.0);
      REQUIRE(soleus::storage::update_member(db, member, u, soleus::storage::Actor{}));
    }
    if (previous_set > 0) {
      // The set the kill interrupted was closed at this start (unless the kill
      // came before its row was committed: then the API never showed it).
      auto r = get(rig.port, "/api/v1/sets/" + std::to_string(previous_set), staff);
      if (r.status == 404) {
        MESSAGE("set " << previous_set << " was killed before its row was committed");
      } else {
        REQUIRE_MESSAGE(r.status == 200, r.text);
        CHECK(r.body.at("state").as_string() == "done");
        if (previous_running) CHECK(r.body.at("stop_reason").as_string() == "shutdown");
      }
    }
    const std::int64_t id = rig.start_set(staff, 100, 400, member);
    const int delay = kill_after_ms(rng);
    MESSAGE("iteration " << iterations << ": set " << id << ", kill -9 after " << delay << " ms");

    // "Reported": what the API said before the kill (it shows committed reps only).
    std::map<int, double> reported_reps;                  // n -> peak force
    std::map<std::int64_t, std::string> reported_events;  // id -> code
    const auto kill_at = Clock::now() + std::chrono::milliseconds(delay);
    bool running_at_kill = false;
    while (Clock::now() < kill_at) {
      auto s = get(rig.port, "/api/v1/sets/" + std::to_string(id), staff);
      if (s.status == 200) {
        for (const auto& rv : s.body.at("rep_log").as_array())
          reported_reps[static_cast<int>(rv.at("n").as_int64())] = num(rv.at("peak_force_n"));
        running_at_kill = s.body.at("state").as_string() != "done";
      }
      auto e = get(rig.port, "/api/v1/events?limit=30", staff);
      if (e.status == 200)
        for (const auto& ev : e.body.at("events").as_array())
          reported_events[ev.at("id").as_int64()] = std::string(ev.at("code").as_string());
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 120)(rng)));
    }
    {
      std::string codes;
      for (const auto& e : rig.lines("event")) codes += std::string(e.at("code").as_string()) + " ";
      MESSAGE("  before the kill: " << rig.lines("rep").size() << " rep lines, "
                                    << reported_reps.size()
                                    << " reps committed and reported; events: " << codes);
    }
    rig.kill9();
    kills_mid_set += running_at_kill ? 1 : 0;
    reported_reps_total += reported_reps.size();
    reported_events_total += reported_events.size();

    // The file after the kill, before any restart touches it.
    check_integrity_ok(rig.db_path());
    {
      auto db = Database::open(rig.db_path(), Database::Access::ReadOnly);
      for (const auto& [n, peak] : reported_reps) {
        auto st = db.prepare(
            "SELECT peak_force_n FROM reps WHERE set_id = ?1 AND n = ?2 AND partial = 0");
        st.bind(1, id).bind(2, n);
        CHECK_MESSAGE(st.step(),
                      "rep " << n << " of set " << id << " was reported but is not on disk");
      }
      for (const auto& [eid, code] : reported_events) {
        auto st = db.prepare("SELECT code FROM events WHERE id = ?1");
        st.bind(1, eid);
        REQUIRE_MESSAGE(st.step(),
                        "event " << eid << " (" << code << ") was reported but is not on disk");
        CHECK(st.text(0) == code);
      }
      check_odometer(db);
    }
    previous_set = id;
    previous_running = running_at_kill;
  }
  MESSAGE(iterations << " kills, " << kills_mid_set << " of them mid-set; " << reported_reps_total
                     << " reps and " << reported_events_total << " events reported and found");
  CHECK(kills_mid_set >= kKillsMidSet);
  CHECK(reported_reps_total > 0);
  // After each kill the drive's COMM_TIMEOUT tripped in the simulator; the
  // new daemon re-arms it and clears it with its own boot reset. A reset
  // through the API is only for a comm loss the loaded box caused at start.
  MESSAGE(rig.resets << " fault resets through the API were needed");
  CHECK(rig.resets <= kKillsMidSet / 4);

  // A last start closes the last interrupted set; a clean stop leaves no set open.
  rig.start_daemon();
  rig.wait_ready();
  CHECK(rig.daemon.stop(15s) == 0);
  check_integrity_ok(rig.db_path());
  auto db = Database::open(rig.db_path(), Database::Access::ReadOnly);
  CHECK(count(db, "SELECT count(*) FROM sets WHERE ended_ms IS NULL") == 0);
  CHECK(count(db, "SELECT count(*) FROM sets WHERE stop_reason = 'shutdown'") >= kills_mid_set);
  CHECK(count(db, "SELECT count(*) FROM events WHERE code = 'set_interrupted'") ==
        count(db, "SELECT count(*) FROM sets WHERE stop_reason = 'shutdown'"));
  check_odometer(db);
  CHECK(count(db, "SELECT reps FROM odometer") > 0);
}

// ---------------------------------------------------------------------------

namespace {

void storage_fault_during_a_set(const std::string& mode) {
  if (!soleus::test::sim_available()) {
    MESSAGE("soleus-sim not built: skipped");
    return;
  }
  Rig rig;
  rig.start_sim();
  const std::string fault_file = rig.dir.file("storage-fault");
  {
    ScopedEnv env;
    env.set("SOLEUS_TEST_HOOKS", "1");
    env.set("SOLEUS_TEST_STORAGE_FAULT_FILE", fault_file);
    rig.start_daemon(SOLEUSD_TEST_EXE);
  }
  rig.wait_ready();
  const std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");

  // A first set to its end, and a second one running with reps committed.
  const std::int64_t first = rig.start_set(staff, 2);
  REQUIRE_MESSAGE(poll_until([&] { return rig.result_of(first).has_value(); }, 60s),
                  tail(rig.daemon.output()));
  rig.wait_ready();
  const std::int64_t id = rig.start_set(staff);
  REQUIRE_MESSAGE(poll_until(
                      [&] {
                        auto s = get(rig.port, "/api/v1/sets/" + std::to_string(id), staff);
                        return s.status == 200 && s.body.at("rep_log").as_array().size() >= 2;
                      },
                      60s),
                  tail(rig.daemon.output()));
  const auto before = rig.status();
  const double p99_before = num(before.at("loop").at("p99_ms"));
  const double overruns_before = num(before.at("loop").at("overruns"));
  std::int64_t reps_before = 0, sets_before = 0;
  {
    auto db = Database::open(rig.db_path(), Database::Access::ReadOnly);
    reps_before = count(db, "SELECT count(*) FROM reps");
    sets_before = count(db, "SELECT count(*) FROM sets");
  }
  CHECK(reps_before >= 3);  // the first set's 2 (+ calibration partials) and this one's

  // The disk fails.
  std::ofstream(fault_file) << mode << "\n";
  REQUIRE_MESSAGE(poll_until([&] { return rig.result_of(id).has_value(); }, 30s),
                  "the set did not end after the storage fault\n"
                      << tail(rig.daemon.output()));
  CHECK(rig.result_of(id)->at("stop_reason").as_string() == "storage_fault");
  bool fault_line = false;
  for (const auto& e : rig.lines("event"))
    fault_line |= e.at("code").as_string() == "storage_fault";
  CHECK(fault_line);
  {
    const auto st = rig.status();
    CHECK(Rig::has_fault(st, "storage_fault"));
    // New sets are refused while the store cannot write.
    auto r = post(rig.port, "/api/v1/sets",
                  std::string(R"({"mode":"isotonic","load_n":400,"tempo":")") + kTempo +
                      R"(","target_reps":3})",
                  staff);
    CHECK_MESSAGE(r.status == 409, r.text);
  }
  // The loop did not notice: it never touches storage.
  const auto during = rig.status();
  const double p99_during = num(during.at("loop").at("p99_ms"));
  const double overruns_during = num(during.at("loop").at("overruns"));
  MESSAGE(mode << ": loop p99 " << p99_before << " -> " << p99_during << " ms, overruns "
               << overruns_before << " -> " << overruns_during);
  CHECK(p99_during <= std::max(p99_before * 1.5, p99_before + 3.0));
  CHECK(p99_during <= 50.0);  // far inside the drive's watchdog
  CHECK(overruns_during - overruns_before <= 20);
  // Nothing committed before the fault is lost.
  {
    auto db = Database::open(rig.db_path(), Database::Access::ReadOnly);
    CHECK(count(db, "SELECT count(*) FROM reps") >= reps_before);
    CHECK(count(db, "SELECT count(*) FROM sets") >= sets_before);
  }

  // The disk comes back: the writer's retry succeeds, everything kept is written.
  std::ofstream(fault_file) << "none\n";
  REQUIRE_MESSAGE(poll_until([&] { return !Rig::has_fault(rig.status(), "storage_fault"); }, 30s),
                  tail(rig.daemon.output()));
  REQUIRE(poll_until(
      [&] {
        auto db = Database::open(rig.db_path(), Database::Access::ReadOnly);
        return count(db, "SELECT count(*) FROM events WHERE code = 'storage_recovered'") == 1;
      },
      30s));
  {
    auto db = Database::open(rig.db_path(), Database::Access::ReadOnly);
    // The fault's own event was kept in memory and written after the recovery, before it.
    CHECK(count(db, "SELECT count(*) FROM events WHERE code = 'storage_fault' AND severity = 2") ==
          1);
    CHECK(count(db,
                "SELECT (SELECT id FROM events WHERE code = 'storage_fault') < "
                "(SELECT id FROM events WHERE code = 'storage_recovered')") == 1);
    CHECK(
        count(db,
              "SELECT count(*) FROM odometer_faults WHERE code = 'storage_fault' AND count = 1") ==
        1);
    CHECK(count(db, "SELECT count(*) FROM reps") >= reps_before);
    auto st = db.prepare("SELECT stop_reason FROM sets WHERE id = ?1");
    st.bind(1, id);
    REQUIRE(st.step());
    CHECK(st.opt_text(0) == std::optional<std::string>("storage_fault"));
  }
  // The daemon's own line follows when its main thread sees the writer healthy again.
  CHECK(poll_until(
      [&] {
        for (const auto& e : rig.lines("event"))
          if (e.at("code").as_string() == "storage_recovered") return true;
        return false;
      },
      10s));

  // New sets are accepted again.
  rig.wait_ready();
  const std::int64_t again = rig.start_set(staff, 1);
  CHECK(again > id);
  REQUIRE_MESSAGE(poll_until([&] { return rig.result_of(again).has_value(); }, 60s),
                  tail(rig.daemon.output()));
  CHECK(rig.daemon.stop(15s) == 0);
  check_integrity_ok(rig.db_path());
  auto db = Database::open(rig.db_path(), Database::Access::ReadOnly);
  check_odometer(db);
  CHECK(count(db, "SELECT count(*) FROM sets WHERE ended_ms IS NULL") == 0);
}

}  // namespace

TEST_CASE("durability: disk full during a set ends it with storage_fault and recovers") {
  storage_fault_during_a_set("full");
}

TEST_CASE("durability: read-only disk during a set ends it with storage_fault and recovers") {
  storage_fault_during_a_set("readonly");
}

// ---------------------------------------------------------------------------

TEST_CASE(
    "durability: the odometer counts reps and sets and motor-on time and highest force and "
    "faults") {
  if (!soleus::test::sim_available()) {
    MESSAGE("soleus-sim not built: skipped");
    return;
  }
  Rig rig;
  rig.start_sim();
  rig.start_daemon();
  rig.wait_ready();
  const std::string staff = rig.login(R"({"role":"staff","pin":"2580"})");
  const std::int64_t a = rig.start_set(staff, 3);
  REQUIRE_MESSAGE(poll_until([&] { return rig.result_of(a).has_value(); }, 60s),
                  tail(rig.daemon.output()));
  rig.wait_ready();
  const std::int64_t b = rig.start_set(staff, 2, 500);
  REQUIRE_MESSAGE(poll_until([&] { return rig.result_of(b).has_value(); }, 60s),
                  tail(rig.daemon.output()));
  int counted = 0;
  double peak = 0;
  for (const auto& r : rig.lines("rep")) {
    counted += r.at("partial").as_bool() ? 0 : 1;
    peak = std::max(peak, num(r.at("peak_force_n")));
  }
  // Normally 3 + 2 counted reps; a set the loaded box ended early (comm_loss)
  // has fewer: the odometer must agree with what was reported either way.
  MESSAGE("sets ended " << rig.result_of(a)->at("stop_reason").as_string() << " and "
                        << rig.result_of(b)->at("stop_reason").as_string() << ", " << counted
                        << " counted reps, peak " << peak << " N");
  CHECK(rig.daemon.stop(15s) == 0);

  auto db = Database::open(rig.db_path(), Database::Access::ReadOnly);
  const auto odo = soleus::storage::read_odometer(db);
  CHECK(odo.reps == counted);
  CHECK(odo.reps >= 1);
  CHECK(odo.sets == 2);
  // The drive was enabled through two sets of 1 s phases.
  CHECK(odo.motor_on_s > 2.0);
  CHECK(odo.motor_on_s < 120.0);
  CHECK(odo.highest_force_n >= peak);
  CHECK(odo.highest_force_n > 78.5);  // at least the pad's weight on the cell
  check_odometer(db);

  // A second run adds to it; error events are counted per code.
  {
    rig.start_daemon();
    rig.wait_ready();
    const std::string t = rig.login(R"({"role":"staff","pin":"2580"})");
    const std::int64_t c = rig.start_set(t, 20);
    REQUIRE(poll_until(
        [&] {
          auto r = get(rig.port, "/api/v1/sets/" + std::to_string(c), t);
          return (r.status == 200 && !r.body.at("rep_log").as_array().empty()) ||
                 rig.result_of(c).has_value();
        },
        60s));
    rig.sim.control(R"({"cmd":"fault","kind":"drive_fault","code":1})");
    REQUIRE_MESSAGE(poll_until([&] { return rig.result_of(c).has_value(); }, 30s),
                    tail(rig.daemon.output()));
    CHECK(rig.daemon.stop(15s) == 0);
  }
  auto db2 = Database::open(rig.db_path(), Database::Access::ReadOnly);
  const auto odo2 = soleus::storage::read_odometer(db2);
  CHECK(odo2.sets == 3);
  CHECK(odo2.reps >= odo.reps);
  CHECK(odo2.motor_on_s > odo.motor_on_s);
  CHECK(!odo2.faults.empty());
  check_odometer(db2);
}

// ---------------------------------------------------------------------------

namespace {

/// A bound AF_UNIX datagram socket (NOTIFY_SOCKET) and what arrives on it.
class NotifySocket {
 public:
  struct Message {
    Clock::time_point at;
    std::string text;
  };
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof a.sun_path);
    std::copy(path.begin(), path.end(), a.sun_path);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] {
      char buf[4096];
      while (!stop_) {
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) continue;
        std::lock_guard lk(mutex_);
        messages_.push_back({Clock::now(), std::string(buf, static_cast<std::size_t>(n))});
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  std::vector<Message> messages() const {
    std::lock_guard lk(mutex_);
    return messages_;
  }
  /// Messages holding the line `assignment` (e.g. "READY=1").
  std::vector<Clock::time_point> times_of(const std::string& assignment) const {
    std::vector<Clock::time_point> out;
    for (const auto& m : messages()) {
      std::istringstream in(m.text);
      for (std::string line; std::getline(in, line);)
        if (line == assignment) out.push_back(m.at);
    }
    return out;
  }
  std::string dump() const {
    std::string s;
    const auto t0 = messages().empty() ? Clock::now() : messages().front().at;
    for (const auto& m : messages())
      s +=
          std::to_string(std::chrono::duration<double>(m.at - t0).count()) + " s: " + m.text + "\n";
    return s;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Message> messages_;
  std::thread thread_;
};

}  // namespace

TEST_CASE(
    "durability: sd_notify: READY only once the drive is armed then WATCHDOG=1 and STOPPING=1") {
  if (!soleus::test::sim_available()) {
    MESSAGE("soleus-sim not built: skipped");
    return;
  }
  Rig rig;
  NotifySocket notify(rig.dir.file("notify.sock"));
  {
    ScopedEnv env;
    env.set("NOTIFY_SOCKET", rig.dir.file("notify.sock"));
    env.set("WATCHDOG_USEC", "1000000");
    ::unsetenv("WATCHDOG_PID");  // unset: the watchdog is meant for whoever reads WATCHDOG_USEC
    rig.start_daemon();          // the machine is not there yet
  }
  // No READY while the machine does not answer; the status says so.
  REQUIRE(poll_until([&] { return !notify.times_of("STATUS=Connecting to the machine").empty(); },
                     10s));
  const bool early = poll_until([&] { return !notify.times_of("READY=1").empty(); }, 3s);
  CHECK_MESSAGE(!early, notify.dump());
  bool not_answering = false;
  for (const auto& m : notify.messages())
    not_answering |= m.text.find("machine not answering") != std::string::npos;
  CHECK_MESSAGE(not_answering, notify.dump());
  CHECK(notify.times_of("WATCHDOG=1").size() >= 1);  // the loop runs: it retries the link

  const auto sim_started = Clock::now();
  rig.start_sim();
  REQUIRE_MESSAGE(poll_until([&] { return !notify.times_of("READY=1").empty(); }, 30s),
                  notify.dump() << tail(rig.daemon.output()));
  CHECK(notify.times_of("READY=1").front() > sim_started);
  CHECK(notify.times_of("READY=1").size() == 1);
  // READY means armed: the status agrees.
  CHECK(rig.status().at("state").as_string() != "");

  // WATCHDOG=1 keeps coming, at about half the 1 s interval.
  const auto t_ready = notify.times_of("READY=1").front();
  REQUIRE(poll_until(
      [&] {
        auto w = notify.times_of("WATCHDOG=1");
        return std::count_if(w.begin(), w.end(), [&](auto t) { return t > t_ready; }) >= 4;
      },
      15s));
  auto w = notify.times_of("WATCHDOG=1");
  double worst_gap = 0;
  for (std::size_t i = 1; i < w.size(); ++i)
    if (w[i - 1] > t_ready)
      worst_gap = std::max(worst_gap, std::chrono::duration<double>(w[i] - w[i - 1]).count());
  MESSAGE("worst WATCHDOG=1 gap after READY: " << worst_gap << " s");
  CHECK(worst_gap < 1.0);

  // SIGTERM: STOPPING=1, the unload, exit 0.
  CHECK(rig.daemon.stop(15s) == 0);
  CHECK_MESSAGE(notify.times_of("STOPPING=1").size() == 1, notify.dump());
}

TEST_CASE("durability: sd_notify: a hung control loop stops WATCHDOG=1") {
  if (!soleus::test::sim_available()) {
    MESSAGE("soleus-sim not built: skipped");
    return;
  }
  Rig rig;
  rig.start_sim();
  NotifySocket notify(rig.dir.file("notify.sock"));
  const std::string hang_file = rig.dir.file("hang");
  {
    ScopedEnv env;
    env.set("NOTIFY_SOCKET", rig.dir.file("notify.sock"));
    env.set("WATCHDOG_USEC", "1000000");
    env.set("SOLEUS_TEST_HOOKS", "1");
    env.set("SOLEUS_TEST_HANG_FILE", hang_file);
    ::unsetenv("WATCHDOG_PID");
    rig.start_daemon(SOLEUSD_TEST_EXE);
  }
  REQUIRE_MESSAGE(poll_until([&] { return !notify.times_of("READY=1").empty(); }, 30s),
                  notify.dump());
  const auto t_ready = notify.times_of("READY=1").front();
  REQUIRE(poll_until(
      [&] {
        auto w = notify.times_of("WATCHDOG=1");
        return std::count_if(w.begin(), w.end(), [&](auto t) { return t > t_ready; }) >= 3;
      },
      15s));

  std::ofstream(hang_file) << "hang\n";
  const auto t_hang = Clock::now();
  // The main thread sees the file within 100 ms; one WATCHDOG=1 may already be
  // on its way (the heartbeat moved since the last one). After that: silence,
  // for more than 3 watchdog intervals.
  const auto grace = 1000ms;
  std::this_thread::sleep_for(grace + 3500ms);  // observation window, not an assertion on timing
  CHECK(rig.daemon.running());
  std::size_t late = 0;
  for (auto t : notify.times_of("WATCHDOG=1")) late += t > t_hang + grace ? 1 : 0;
  CHECK_MESSAGE(late == 0, notify.dump() << tail(rig.daemon.output()));
  // The main thread is alive (the HMI answers); only the loop is stuck.
  CHECK(get(rig.port, "/api/v1/status").status == 200);
  rig.kill9();  // SIGTERM would wait for an unload the hung loop never does
}
