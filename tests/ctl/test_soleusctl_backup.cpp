// soleusctl db backup while soleusd runs a set against soleus-sim: every copy
// is a consistent database (integrity_check ok) holding the running set's
// row, and later copies hold at least the reps of earlier ones.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "soleus/common/time.hpp"
#include "soleus/hmi/security.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/open.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/test_support/http_client.hpp"
#include "soleus/test_support/process.hpp"
#include "soleus/test_support/sim_process.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace soleus;

namespace {

using test::get;
using test::post;
using test::read_text;
using test::Reply;

void replace(std::string& s, const std::string& from, const std::string& to) {
  REQUIRE_NOTHROW(test::replace_once(s, from, to));
}

}  // namespace

TEST_CASE("soleusctl db backup while soleusd runs a set") {
  if (!test::sim_available()) {
    MESSAGE("soleus-sim not built: skipped");
    return;
  }
  // The tempo athlete of test_daemon_api: a 0.5-0-0.5-0 set with the simulator's
  // default athlete ends at once (over-speed, user_left), so no copy would be "during".
  const std::string tempo = "1.5-0.5-1.5-0.5";
  test::TempDir dir;
  test::SimProcess sim;
  const std::string base = std::string(SOLEUS_SOURCE_DIR) + "/config/sim.toml";
  sim.start_tcp(base, {"--noise-n", "2", "--athlete-style", "tempo", "--tempo", tempo});
  std::string cfg = read_text(base);
  replace(cfg, "port = 1502", "port = " + std::to_string(sim.modbus_port()));
  replace(cfg, "port = 8080", "port = 0");
  // The test's own maintenance PIN in place of the demo one: a fault latched
  // by a starved loop on a busy box is reset as a technician would.
  {
    const auto at = cfg.find("\nmaintenance_pin_hash = \"");
    REQUIRE(at != std::string::npos);
    const auto end = cfg.find('\n', at + 1);
    cfg.replace(at + 1, end - at - 1,
                "maintenance_pin_hash = \"" + hmi::make_pin_hash("2580", 100000) + "\"");
  }
  const std::string config = dir.file("soleus.toml");
  std::ofstream(config) << cfg;
  // A log of 100 000 older events, so each copy takes long enough to overlap
  // the writer's commits (a fresh database copies in a few milliseconds).
  {
    auto db = storage::Database::open(dir.file("soleus-sim.db"));
    db.exec("PRAGMA page_size = 8192");
    storage::configure_connection(db);
    storage::migrate(db);
    storage::Transaction tx(db);
    auto st = db.prepare(
        "INSERT INTO events (t_ms, severity, code, message) VALUES (?1, ?2, 'comm_glitch', "
        "'an older event of a typical length for the log')");
    const std::int64_t t0 = common::unix_ms_now() - 100'000LL * 60'000;
    for (int i = 0; i < 100'000; ++i) {
      st.bind(1, static_cast<std::int64_t>(t0 + i * 60'000LL)).bind(2, i % 3 == 0 ? 1 : 0);
      st.run();
      st.reset();
    }
    tx.commit();
  }
  test::ChildProcess daemon;
  daemon.start({SOLEUSD_EXE, "--config", config});
  auto rest = daemon.wait_for_line("soleusd: HMI at http://127.0.0.1:", 20s);
  REQUIRE_MESSAGE(rest, "no HMI line; daemon:\n" << daemon.output());
  const int port = std::stoi(*rest);

  auto daemon_tail = [&] {
    const std::string out = daemon.output();
    return out.size() > 3000 ? out.substr(out.size() - 3000) : out;
  };
  // Ready: armed, idle, nothing latched (a latched fault is reset).
  std::string maintenance;
  int resets = 0;
  auto wait_ready = [&] {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = get(port, "/api/v1/status");
      if (r.status == 200) {
        const std::string st(r.body.at("state").as_string());
        if ((st == "idle" || st == "rest") && r.body.at("faults").as_array().empty()) return;
        if (st == "fault") {
          if (maintenance.empty()) {
            auto m = post(port, "/api/v1/login", R"({"role":"maintenance","pin":"2580"})");
            REQUIRE_MESSAGE(m.status == 200, m.text);
            maintenance = std::string(m.body.at("token").as_string());
          }
          post(port, "/api/v1/maintenance/fault-reset", "", maintenance);
          ++resets;
          std::this_thread::sleep_for(500ms);
        }
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL("machine not ready; daemon:\n" << daemon_tail());
  };
  wait_ready();
  auto login = post(port, "/api/v1/login", R"({"role":"guest"})");
  REQUIRE_MESSAGE(login.status == 200, login.text);
  const std::string token(login.body.at("token").as_string());

  // Copies, one a second, while a set runs. On a loaded 2-core box a set may
  // end early (a loop overrun turned comm_loss): then another set is started,
  // up to four, until four copies were taken mid-set, one of them with a rep.
  int copies = 0, mid_set = 0, sets = 0;
  std::int64_t most_reps = 0;
  while (!(mid_set >= 4 && most_reps >= 1) && sets < 4) {
    if (sets > 0) wait_ready();
    auto start = post(
        port, "/api/v1/sets",
        R"({"mode":"isotonic","load_n":300,"tempo":")" + tempo + R"(","target_reps":40})", token);
    REQUIRE_MESSAGE(start.status == 201, start.text << "\ndaemon:\n" << daemon_tail());
    const std::int64_t set_id = start.body.at("id").as_int64();
    ++sets;
    std::int64_t last_reps = 0;
    for (int k = 0; k < 15 && !(mid_set >= 4 && most_reps >= 1); ++k) {
      std::this_thread::sleep_for(1s);
      const bool active = get(port, "/api/v1/status").body.at("set_id") == json::value(set_id);
      const std::string copy =
          dir.file("backup-" + std::to_string(set_id) + "-" + std::to_string(k) + ".db");
      auto r = test::run_command({SOLEUSCTL_EXE, "--config", config, "db", "backup", copy}, 60s);
      INFO("set " << set_id << " copy " << k << " (set active before: " << active
                  << "): " << r.output);
      REQUIRE(r.exit_code == 0);
      ++copies;
      CHECK(storage::check_integrity(copy).ok);
      auto db = storage::Database::open(copy, storage::Database::Access::ReadOnly);
      CHECK(db.scalar_text("PRAGMA journal_mode") == "delete");  // one self-contained file
      auto row = storage::get_set(db, set_id);
      REQUIRE_MESSAGE(row, "the copy lacks set " << set_id);
      const auto reps = static_cast<std::int64_t>(storage::get_reps(db, set_id).size());
      CHECK(reps >= last_reps);  // snapshots move forward only
      last_reps = reps;
      if (!row->ended_ms) {
        ++mid_set;
        most_reps = std::max(most_reps, reps);
      }
      // The copy is readable by soleusctl itself.
      auto ev = test::run_command({SOLEUSCTL_EXE, "--db", copy, "--json", "events", "--set",
                                   std::to_string(set_id), "--code", "set_started"});
      CHECK_MESSAGE(ev.output.find("\"matched\":1") != std::string::npos, ev.output);
      CHECK(db.scalar_int("SELECT count(*) FROM events") > 100'000);
      db.close();
      std::filesystem::remove(copy);
      if (!active && row->ended_ms) break;  // the set ended: no more "during"
    }
    post(port, "/api/v1/sets/current/stop", "");
  }
  INFO("fault resets: " << resets << "; daemon:\n" << daemon_tail());
  CHECK(copies >= 4);
  CHECK_MESSAGE(mid_set >= 4,
                "copies taken with a set still running: " << mid_set << " in " << sets << " sets");
  CHECK(most_reps >= 1);  // a copy taken mid-set holds the set's committed reps

  // The live database passes db check while the daemon holds it.
  auto chk = test::run_command({SOLEUSCTL_EXE, "--config", config, "db", "check"}, 60s);
  CHECK_MESSAGE(chk.exit_code == 0, chk.output);
  CHECK(daemon.stop(10s) == 0);
  sim.stop();
}
