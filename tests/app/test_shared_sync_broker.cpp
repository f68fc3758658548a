// Members who train on any machine, through a real mosquitto (issue 14 §2):
// three machines' shared-records participants, each behind its own
// fleet::Link (libmosquitto, TLS with the rig's CA, its own account under the
// contract's ACL), each with its own SQLite file. A member created on A with
// a PIN logs in on B; concurrent edits of a programme on A and B converge on
// every machine with the loser audited; a machine whose link was down for a
// day of sets (300) catches up through the exchange; the monitor sees no PIN
// and no plain hash.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include "soleus/app/shared_sync.hpp"
#include "soleus/fleet/link.hpp"
#include "soleus/hmi/security.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/test_support/mosquitto_rig.hpp"
#include "soleus/test_support/process.hpp"

using namespace soleus;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPepper = "the-gym's-pepper-0123456789abcdef";

/// Waits for `pred` with a deadline, polling (no sleep hides a race: the
/// condition is what is waited for).
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

struct Machine {
  std::string name;
  std::string path;
  fleet::FleetConfig cfg;
  storage::Database db;  ///< the API's connection
  std::unique_ptr<fleet::Participant> shared;
  std::unique_ptr<fleet::Link> link;
};

struct Site {
  test::MosquittoRig rig;
  test::TempDir dir;
  std::vector<std::unique_ptr<Machine>> ms;

  Site() : rig(test::MosquittoRigOptions{}) {
    rig.start();
    const std::string pepper = dir.file("pepper");  // the site's secret, mode 600
    std::ofstream(pepper) << kPepper << "\n";
    std::filesystem::permissions(
        pepper, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    for (const char* n : {"a", "b", "c"}) {
      auto m = std::make_unique<Machine>();
      m->name = n;
      m->path = dir.file(std::string(n) + ".db");
      m->db = storage::Database::open(m->path);
      storage::migrate(m->db);
      m->cfg.broker = rig.url(test::Listener::tls);
      m->cfg.tls = true;
      m->cfg.host = "127.0.0.1";
      m->cfg.port = rig.port(test::Listener::tls);
      m->cfg.machine = n;
      m->cfg.site = rig.options().site;
      m->cfg.topic_prefix = rig.options().prefix;
      m->cfg.ca_file = rig.ca_file();
      m->cfg.username = n;
      m->cfg.pin_pepper_file = pepper;
      // The wiring's one call; no writer serves these stores (the table's rowid).
      m->shared = app::make_shared_sync(m->cfg, m->path, {});
      ms.push_back(std::move(m));
    }
  }
  ~Site() {
    for (auto& m : ms)
      if (m->link) m->link->stop();
  }
  Machine& operator[](std::size_t i) { return *ms[i]; }

  void up(Machine& m) {
    fleet::LinkOptions o;
    o.cfg = m.cfg;
    o.password = rig.password(m.name);
    o.reconnect_min_ms = 100;
    o.reconnect_max_ms = 500;
    m.link = std::make_unique<fleet::Link>(o);
    m.link->add(*m.shared);
    m.link->start();
  }
  void down(Machine& m) {
    m.link->stop();
    m.link.reset();
  }
};

const storage::Actor kStaff{"staff", std::nullopt};

std::int64_t count(Machine& m, const std::string& sql) { return m.db.scalar_int(sql); }

}  // namespace

TEST_CASE(
    "shared, real broker: a member from A logs in on B, concurrent edits converge, a day offline "
    "catches up") {
  Site s;
  Machine& a = s[0];
  Machine& b = s[1];
  Machine& c = s[2];
  test::MqttProbe monitor(s.rig.probe_options("monitor"));
  REQUIRE(monitor.connect() == 0);
  REQUIRE(monitor.subscribe("soleus/gym/#") <= 1);
  for (auto* m : {&a, &b, &c}) s.up(*m);

  // A member with a PIN, a programme and an assignment, created on A.
  const auto ann = storage::add_member(a.db, "1042", "Ann", kStaff);
  storage::MemberUpdate u;
  const std::string hash = hmi::make_pin_hash("20417", hmi::kMinPinHashIterations);
  u.pin_hash = hash;
  storage::update_member(a.db, ann, u, kStaff);
  storage::ProgrammeSpec spec;
  spec.name = "Base";
  spec.steps.resize(1);
  spec.steps[0].load_n = 900.0;
  const auto prog = storage::add_programme(a.db, spec, kStaff);
  storage::assign_programme(a.db, ann, prog, 1'800'000'000'000, kStaff);
  const auto has_ann = [](Machine& m) {
    const auto row = storage::find_member_by_number(m.db, "1042");
    return row && row->pin_hash && m.db.scalar_int("SELECT count(*) FROM assignments") == 1;
  };
  REQUIRE_MESSAGE(eventually([&] { return has_ann(b) && has_ann(c); }, 10s), s.rig.log());
  CHECK(hmi::verify_pin("20417", *storage::find_member_by_number(b.db, "1042")->pin_hash));

  // Concurrent edits of the programme on A and B while both links are down.
  const auto uid = a.db.scalar_text("SELECT uid FROM programmes");
  REQUIRE(eventually([&] { return count(b, "SELECT count(*) FROM programmes") == 1; }, 10s));
  const auto prog_b = b.db.scalar_int("SELECT id FROM programmes");
  s.down(a);
  s.down(b);
  storage::set_programme_field(a.db, prog, storage::ProgrammeField::Name, std::string("A's name"),
                               1);
  storage::set_programme_field(b.db, prog_b, storage::ProgrammeField::Name, std::string("B's name"),
                               2);
  s.up(a);
  s.up(b);
  const auto name = [&](Machine& m) { return m.db.scalar_text("SELECT name FROM programmes"); };
  REQUIRE_MESSAGE(
      eventually(
          [&] { return name(a) == "B's name" && name(b) == "B's name" && name(c) == "B's name"; },
          10s),
      s.rig.log());
  for (auto* m : {&a, &b, &c}) {
    INFO("machine " << m->name);
    CHECK(eventually(
        [&] {
          return count(*m,
                       "SELECT count(*) FROM audit WHERE field = 'fleet_conflict' AND "
                       "before LIKE '%\"machine\":\"a\"%A''s name%'") == 1;
        },
        5s));
  }

  // C's link is down for a day of sets on A (300, with 4 reps each).
  s.down(c);
  for (int i = 0; i < 300; ++i) {
    auto st = a.db.prepare(
        "INSERT INTO sets (member_id, started_ms, ended_ms, mode, load_n, stop_reason, reps) "
        "VALUES (?1, ?2, ?3, 'isotonic', 900, 'target_reached', 4)");
    st.bind(1, ann).bind(2, std::int64_t{1'800'000'000'000} + i * 300'000);
    st.bind(3, std::int64_t{1'800'000'000'000} + i * 300'000 + 60'000);
    st.run();
    const auto id = a.db.last_insert_rowid();
    for (int n = 1; n <= 4; ++n) {
      auto r = a.db.prepare(
          "INSERT INTO reps (set_id, seq, n, t_start_s, peak_force_n, mean_force_n, concentric_s, "
          "top_pause_s, eccentric_s, bottom_pause_s, rom_mm, rom_pct, mean_velocity_mm_s, "
          "smoothness, on_tempo, tempo_deviation_s, tut_s) "
          "VALUES (?1, ?2, ?2, 0, 900, 800, 3, 1, 3, 1, 100, 95, 30, 0.9, 1, 0.1, 8)");
      r.bind(1, id).bind(2, n);
      r.run();
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  s.up(c);
  REQUIRE_MESSAGE(eventually([&] { return count(c, "SELECT count(*) FROM sets") == 300; }, 20s),
                  s.rig.log());
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  MESSAGE("catch-up of 300 sets (1200 reps) after reconnect: " << ms << " ms");
  CHECK(count(c, "SELECT count(*) FROM reps") == 1200);
  CHECK(count(c, "SELECT count(DISTINCT origin_set_id) FROM sets WHERE origin_machine = 'a'") ==
        300);
  // The answers went to C alone: B (no outbox in this test, so no live sets)
  // has none until its own next reconnect.
  CHECK(count(b, "SELECT count(*) FROM sets") == 0);

  // Nothing on the wire holds the PIN or the plain hash.
  const auto plain = hash.substr(hash.rfind('$') + 1);
  for (const auto& m : monitor.messages()) {
    CHECK(m.payload.find("20417") == std::string::npos);
    CHECK(m.payload.find(plain) == std::string::npos);
  }
}
