// Members who train on any machine (issue 14 §2): three machines, each with
// its own real SQLite file and its shared-records participant, joined by an
// in-memory bus that delivers as a broker does (retained per topic, echo to
// the sender, QoS 1 redelivery as duplicates, any order, machines that are
// offline miss what is not retained). No broker: the link is another part.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "soleus/app/pin_seal.hpp"
#include "soleus/app/session_runner.hpp"
#include "soleus/app/shared_sync.hpp"
#include "soleus/hmi/security.hpp"
#include "soleus/storage/assessments.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/storage/shared.hpp"
#include "soleus/storage/staff.hpp"

using namespace soleus;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPepper = "site-secret-pepper-0123456789";

bool matches(const std::string& filter, const std::string& topic) {
  std::size_t f = 0, t = 0;
  while (f < filter.size()) {
    if (filter[f] == '#') return true;
    if (filter[f] == '+') {
      const auto end = topic.find('/', t);
      t = end == std::string::npos ? topic.size() : end;
      ++f;
      continue;
    }
    if (t >= topic.size() || filter[f] != topic[t]) return false;
    ++f;
    ++t;
  }
  return t == topic.size();
}

struct Machine {
  std::string name;
  std::string path;
  std::unique_ptr<fleet::Participant> p;
  storage::Database db;  ///< the API's connection
  bool online = true;
};

/// A broker in memory.
struct Bus {
  std::map<std::string, fleet::Message> retained;
  std::vector<Machine*> machines;
  std::vector<fleet::Message> log;  ///< everything published
  bool duplicates = false;          ///< deliver each message twice (QoS 1 after a lost PUBACK)
  bool reverse = false;             ///< deliver batches and retained messages in reverse order
  bool late_echo = false;           ///< the sender's own copy comes after the round's others

  void deliver_to(Machine& m, const fleet::Message& msg) {
    for (const auto& f : m.p->subscriptions())
      if (matches(f, msg.topic)) {
        m.p->on_message(msg);
        if (duplicates) m.p->on_message(msg);
        return;
      }
  }
  /// Until no online machine has anything to send.
  void pump() {
    for (int round = 0; round < 10000; ++round) {
      bool any = false;
      std::vector<std::pair<Machine*, fleet::Message>> echoes;
      for (auto* m : machines) {
        if (!m->online) continue;
        auto out = m->p->outgoing(100);
        if (reverse) std::reverse(out.begin(), out.end());
        for (const auto& msg : out) {
          any = true;
          log.push_back(msg);
          if (msg.retained) retained[msg.topic] = msg;
          for (auto* to : machines) {
            if (!to->online) continue;
            if (late_echo && to == m) echoes.emplace_back(to, msg);
            else deliver_to(*to, msg);
          }
          m->p->acknowledged(msg);
        }
      }
      for (auto& [to, msg] : echoes)
        if (to->online) deliver_to(*to, msg);
      if (!any) return;
    }
    FAIL("the bus did not settle");
  }
  void disconnect(Machine& m) { m.online = false; }
  /// Reconnect: the retained messages, then on_connected().
  void connect(Machine& m) {
    m.online = true;
    std::vector<fleet::Message> r;
    for (const auto& [t, msg] : retained) r.push_back(msg);
    if (reverse) std::reverse(r.begin(), r.end());
    for (const auto& msg : r) deliver_to(m, msg);
    m.p->on_connected();
  }
};

struct Fleet {
  fs::path dir;
  std::vector<std::unique_ptr<Machine>> ms;
  Bus bus;
  std::int64_t t = 1'800'000'000'000;

  explicit Fleet(std::vector<std::string> names) {
    dir = fs::temp_directory_path() / ("soleus-shared-" + std::to_string(std::random_device{}()) +
                                       "-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    for (const auto& n : names) {
      auto m = std::make_unique<Machine>();
      m->name = n;
      m->path = (dir / (n + ".db")).string();
      m->db = storage::Database::open(m->path);
      storage::migrate(m->db);
      app::SharedSyncConfig c;
      c.db_path = m->path;
      c.machine = n;
      c.pepper = kPepper;
      m->p = app::make_shared_sync(c);
      bus.machines.push_back(m.get());
      ms.push_back(std::move(m));
    }
  }
  ~Fleet() {
    ms.clear();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  Machine& operator[](std::size_t i) { return *ms[i]; }

  /// A set as the daemon's writer stores it, with `reps` counted reps.
  std::int64_t add_set(Machine& m, std::optional<std::int64_t> session, std::int64_t member,
                       std::optional<std::int64_t> step, int index, const char* reason, int reps) {
    auto s = m.db.prepare(
        "INSERT INTO sets (session_id, member_id, step_id, set_index, started_ms, ended_ms, "
        "mode, load_n, stop_reason, reps) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'isotonic', 900, ?7, "
        "?8)");
    s.bind(1, session).bind(2, member).bind(3, step).bind(4, index).bind(5, t).bind(6, t + 60'000);
    s.bind(7, reason).bind(8, reps);
    s.run();
    const auto id = m.db.last_insert_rowid();
    for (int n = 1; n <= reps; ++n) {
      auto r = m.db.prepare(
          "INSERT INTO reps (set_id, seq, n, t_start_s, peak_force_n, mean_force_n, concentric_s, "
          "top_pause_s, eccentric_s, bottom_pause_s, rom_mm, rom_pct, mean_velocity_mm_s, "
          "smoothness, on_tempo, tempo_deviation_s, tut_s) "
          "VALUES (?1, ?2, ?2, 0, 900, 800, 3, 1, 3, 1, 100, 95, 30, 0.9, 1, 0.1, 8)");
      r.bind(1, id).bind(2, n);
      r.run();
    }
    t += 120'000;
    return id;
  }
  /// What the outbox (another part) publishes for a set: the contract's envelope.
  void publish_set(Machine& m, std::int64_t set_id) {
    const auto data = storage::shared::set_data(m.db, set_id);
    REQUIRE(data);
    fleet::Message msg{m.name + "/sets",
                       "{\"id\":\"" + m.name + "/set/" + std::to_string(set_id) +
                           "\",\"machine\":\"" + m.name +
                           "\",\"kind\":\"set\",\"t_ms\":0,\"data\":" + *data + "}",
                       1, false};
    bus.log.push_back(msg);
    for (auto* to : bus.machines)
      if (to->online) bus.deliver_to(*to, msg);
  }
};

const storage::Actor kStaff{"staff", std::nullopt};

storage::ProgrammeSpec programme_spec() {
  storage::ProgrammeSpec p;
  p.name = "Soleus base";
  p.sessions_per_week = 3;
  p.block_weeks = 6;
  storage::StepSpec a;  // 2 × 12 at 900 N, +5 % when every set reached its target
  a.sets = 2;
  a.target_reps = 12;
  a.load_n = 900.0;
  a.progress_when = "all_sets_target";
  a.progress_rule = "load_pct";
  a.progress_amount = 5;
  p.steps = {a};
  return p;
}

std::int64_t member_id(Machine& m, const std::string& number) {
  const auto row = storage::find_member_by_number(m.db, number);
  REQUIRE(row);
  return row->id;
}

std::int64_t count(Machine& m, const std::string& sql) { return m.db.scalar_int(sql); }

}  // namespace

TEST_CASE(
    "shared: a member created on A logs in on B, continues the programme there, sees A's sets") {
  Fleet f({"alpha", "bravo", "charlie"});
  Machine& a = f[0];
  Machine& b = f[1];
  f.bus.disconnect(b);  // B is off while A does everything
  const std::string pin_hash = hmi::make_pin_hash("482913", hmi::kMinPinHashIterations);
  const auto ma = storage::add_member(a.db, "1042", "Ann", kStaff);
  storage::MemberUpdate u;
  u.pin_hash = pin_hash;
  storage::update_member(a.db, ma, u, kStaff);
  const auto pa = storage::add_programme(a.db, programme_spec(), kStaff);
  storage::assign_programme(a.db, ma, pa, f.t, kStaff);
  f.bus.pump();

  // Ann's first session, on A, complete: step 1 earns a level.
  auto plan = app::runner::load_plan(a.db, ma);
  REQUIRE(plan);
  const auto s = app::runner::open_session(a.db, *plan, f.t);
  f.add_set(a, s, ma, plan->steps[0].id, 1, "target_reached", 12);
  f.add_set(a, s, ma, plan->steps[0].id, 2, "target_reached", 12);
  app::runner::close_session(a.db, s, *plan, f.t, "done");
  CHECK(app::runner::load_plan(a.db, ma)->steps[0].level == 1);
  f.bus.pump();

  // B comes back: retained records, then the catch-up brings A's sets.
  f.bus.connect(b);
  f.bus.pump();
  const auto mb = member_id(b, "1042");
  const auto row = storage::get_member(b.db, mb);
  REQUIRE(row);
  REQUIRE(row->pin_hash);
  CHECK(hmi::verify_pin("482913", *row->pin_hash));  // the PIN set on A verifies on B
  CHECK_FALSE(hmi::verify_pin("482914", *row->pin_hash));
  auto plan_b = app::runner::load_plan(b.db, mb);
  REQUIRE(plan_b);
  CHECK(plan_b->steps[0].level == 1);  // A's progression
  storage::SetFilter filter;
  filter.member_id = mb;
  const auto history = storage::query_sets(b.db, filter);
  REQUIRE(history.size() == 2);  // A's sets in B's history, with their reps
  CHECK(storage::get_reps(b.db, history[0].id).size() == 12);
  CHECK(app::runner::schedule_input(b.db, *plan_b).session_starts_ms.size() == 1);

  // The next session, on B: it prescribes the progressed load and runs as any.
  std::string why;
  CHECK(app::runner::prescribe(plan_b->steps[0], plan_b->assessed_max_n, 2000, why)->load_n == 945);
  const auto sb = app::runner::open_session(b.db, *plan_b, f.t);
  f.add_set(b, sb, mb, plan_b->steps[0].id, 1, "target_reached", 12);
  const auto pos = app::runner::locate(*plan_b, app::runner::session_sets(b.db, sb));
  CHECK(pos.step == 0);
  CHECK(pos.set_index == 2);
  f.add_set(b, sb, mb, plan_b->steps[0].id, 2, "target_reached", 12);
  app::runner::close_session(b.db, sb, *plan_b, f.t, "done");
  f.bus.pump();
  // ... and A and C see level 2.
  CHECK(app::runner::load_plan(a.db, ma)->steps[0].level == 2);
  CHECK(app::runner::load_plan(f[2].db, member_id(f[2], "1042"))->steps[0].level == 2);

  // Edits one after the other (A's session, then B's) are no conflict.
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(count(f[i], "SELECT count(*) FROM audit WHERE field = 'fleet_conflict'") == 0);
  // B's sets reach A (the outbox's live messages, or the catch-up they trigger).
  {
    auto own = b.db.prepare("SELECT id FROM sets WHERE origin_machine IS NULL");
    while (own.step()) f.publish_set(b, own.int64(0));
  }
  f.bus.pump();
  filter.member_id = ma;
  CHECK(storage::query_sets(a.db, filter).size() == 4);

  // PINs: nothing on the wire holds the PIN or the plain hash.
  const auto plain_hex = pin_hash.substr(pin_hash.rfind('$') + 1);
  for (const auto& m : f.bus.log) {
    CHECK(m.payload.find("482913") == std::string::npos);
    CHECK(m.payload.find(plain_hex) == std::string::npos);
    CHECK(m.payload.find("pbkdf2-sha256") == std::string::npos);
  }
}

namespace {

/// A programme made on f[0] and shared with everyone online: its id there,
/// its uid, and its id on f[1].
struct SharedProgramme {
  std::int64_t on_first;
  std::string uid;
  std::int64_t on_second;
};
SharedProgramme shared_programme(Fleet& f) {
  SharedProgramme p;
  p.on_first = storage::add_programme(f[0].db, programme_spec(), kStaff);
  f.bus.pump();
  p.uid =
      f[0].db.scalar_text("SELECT uid FROM programmes WHERE id = " + std::to_string(p.on_first));
  p.on_second = f[1].db.scalar_int("SELECT id FROM programmes WHERE uid = '" + p.uid + "'");
  REQUIRE(p.on_second > 0);
  return p;
}
std::string programme_name(Machine& m, const std::string& uid) {
  return m.db.scalar_text("SELECT name FROM programmes WHERE uid = '" + uid + "'");
}

}  // namespace

TEST_CASE("shared: concurrent edits of one programme on A and B converge, the loser is audited") {
  Fleet f({"alpha", "bravo", "charlie"});
  Machine& a = f[0];
  Machine& b = f[1];
  const auto prog = shared_programme(f);
  const auto pa = prog.on_first, pb = prog.on_second;
  const std::string& uid = prog.uid;
  // Both edit while cut off from each other.
  f.bus.disconnect(a);
  f.bus.disconnect(b);
  storage::set_programme_field(a.db, pa, storage::ProgrammeField::Name, std::string("Name by A"),
                               f.t);
  storage::set_programme_field(b.db, pb, storage::ProgrammeField::Name, std::string("Name by B"),
                               f.t);
  storage::set_programme_field(b.db, pb, storage::ProgrammeField::Notes, std::string("B's notes"),
                               f.t);
  SUBCASE("one after the other") {
    f.bus.connect(a);
    f.bus.pump();
    f.bus.connect(b);
    f.bus.pump();
  }
  SUBCASE("both at once, each one's own copy coming back after the other's") {
    f.bus.late_echo = true;
    f.bus.connect(a);
    f.bus.connect(b);
    f.bus.pump();
  }
  const auto name = [&](Machine& m) { return programme_name(m, uid); };
  CHECK(name(a) == name(b));
  CHECK(name(b) == name(f[2]));
  CHECK(name(a) == "Name by B");  // B edited after A (its HLC is higher; a tie would go to "bravo")
  // Every machine's audit trail holds A's lost version, with its values, once.
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("machine " << f[i].name);
    CHECK(count(f[i], "SELECT count(*) FROM audit WHERE field = 'fleet_conflict'") == 1);
    const auto lost = f[i].db.scalar_text(
        "SELECT before FROM audit WHERE entity = 'programme' AND field = 'fleet_conflict'");
    CHECK(lost.find("\"machine\":\"alpha\"") != std::string::npos);
    CHECK(lost.find("Name by A") != std::string::npos);
  }
}

TEST_CASE(
    "shared: the loser published after the winner is not what a late machine gets: the winner "
    "goes out again") {
  // The broker keeps the last copy published on a topic, not the newest
  // version. A comes back with an edit older than B's and publishes it before
  // B's retained copy reaches it: the retained copy is then A's, and charlie,
  // off all this time, would take it when it connects and keep it.
  Fleet f({"alpha", "bravo", "charlie"});
  Machine& a = f[0];
  Machine& b = f[1];
  Machine& c = f[2];
  const auto prog = shared_programme(f);
  const auto pa = prog.on_first, pb = prog.on_second;
  const std::string& uid = prog.uid;
  f.bus.disconnect(a);
  f.bus.disconnect(c);
  storage::set_programme_field(a.db, pa, storage::ProgrammeField::Name, std::string("Name by A"),
                               f.t);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // B's edit is later
  storage::set_programme_field(b.db, pb, storage::ProgrammeField::Name, std::string("Name by B"),
                               f.t);
  f.bus.pump();  // B's version retained
  // A is back and sends its pending edit before any retained copy reaches it.
  a.online = true;
  f.bus.pump();
  a.p->on_connected();
  f.bus.pump();
  const auto name = [&](Machine& m) { return programme_name(m, uid); };
  CHECK(name(b) == "Name by B");
  CHECK(name(a) == "Name by B");
  CHECK(f.bus.retained.at("shared/programme/" + uid).payload.find("Name by B") !=
        std::string::npos);
  // charlie connects: the retained copies are all it gets.
  f.bus.connect(c);
  f.bus.pump();
  CHECK(name(c) == "Name by B");
  CHECK(count(a, "SELECT count(*) FROM audit WHERE field = 'fleet_conflict'") == 1);
  CHECK(count(b, "SELECT count(*) FROM audit WHERE field = 'fleet_conflict'") == 1);
}

TEST_CASE("shared: duplicates, any order, records before what they refer to") {
  Fleet f({"alpha", "bravo", "charlie"});
  Machine& a = f[0];
  Machine& c = f[2];
  f.bus.disconnect(c);
  f.bus.duplicates = true;
  f.bus.reverse = true;  // assignments and progression arrive before their member and programme
  const auto ma = storage::add_member(a.db, "7", "Bo", kStaff);
  const auto pa = storage::add_programme(a.db, programme_spec(), kStaff);
  storage::assign_programme(a.db, ma, pa, f.t, kStaff);
  auto plan = app::runner::load_plan(a.db, ma);
  const auto s = app::runner::open_session(a.db, *plan, f.t);
  f.add_set(a, s, ma, plan->steps[0].id, 1, "target_reached", 12);
  f.add_set(a, s, ma, plan->steps[0].id, 2, "target_reached", 12);
  app::runner::close_session(a.db, s, *plan, f.t, "done");
  f.bus.pump();
  f.bus.connect(c);
  f.bus.pump();
  const auto mc = member_id(c, "7");
  const auto plan_c = app::runner::load_plan(c.db, mc);
  REQUIRE(plan_c);
  CHECK(plan_c->steps[0].level == 1);
  CHECK(count(c, "SELECT count(*) FROM fleet_parked") == 0);
  CHECK(count(c, "SELECT count(*) FROM sets") == 2);  // once each, though delivered twice
  CHECK(count(c, "SELECT count(*) FROM audit WHERE field = 'fleet_conflict'") == 0);
  // A set that arrives before its member waits for it.
  Fleet g({"alpha", "bravo"});
  const auto m2 = storage::add_member(g[0].db, "8", "Cy", kStaff);
  const auto set = g.add_set(g[0], std::nullopt, m2, std::nullopt, 1, "user_stop", 3);
  g.publish_set(g[0], set);  // before the member's record
  CHECK(count(g[1], "SELECT count(*) FROM fleet_parked WHERE kind = 'set'") == 1);
  g.bus.pump();
  CHECK(count(g[1], "SELECT count(*) FROM fleet_parked") == 0);
  CHECK(count(g[1], "SELECT count(*) FROM sets WHERE origin_machine = 'alpha'") == 1);
  CHECK(count(g[1], "SELECT count(*) FROM reps") == 3);
}

TEST_CASE("shared: erasure on A propagates as a tombstone, and the erased member's sets go too") {
  Fleet f({"alpha", "bravo", "charlie"});
  Machine& a = f[0];
  const auto ma = storage::add_member(a.db, "99", "Dee", kStaff);
  const auto set = f.add_set(a, std::nullopt, ma, std::nullopt, 1, "user_stop", 5);
  f.bus.pump();
  f.publish_set(a, set);
  CHECK(count(f[1], "SELECT count(*) FROM sets") == 1);
  f.bus.disconnect(f[2]);
  CHECK(storage::erase_member(a.db, ma, kStaff).found);
  f.bus.pump();
  CHECK_FALSE(storage::find_member_by_number(f[1].db, "99"));
  CHECK(count(f[1], "SELECT count(*) FROM sets") == 0);
  CHECK(count(f[1], "SELECT count(*) FROM reps") == 0);
  f.bus.connect(f[2]);  // offline during the erasure: the retained tombstone reaches it
  f.bus.pump();
  CHECK_FALSE(storage::find_member_by_number(f[2].db, "99"));
  CHECK(count(f[2], "SELECT count(*) FROM sets") == 0);
  // A member B never received, whose set waits on B, erased on A: the set goes too.
  const auto x = storage::add_member(a.db, "100", "Xan", kStaff);
  f.publish_set(a, f.add_set(a, std::nullopt, x, std::nullopt, 1, "user_stop", 2));
  CHECK(count(f[1], "SELECT count(*) FROM fleet_parked WHERE kind = 'set'") == 1);
  storage::erase_member(a.db, x, kStaff);
  f.bus.pump();
  CHECK(count(f[1], "SELECT count(*) FROM fleet_parked") == 0);
  CHECK(count(f[1], "SELECT count(*) FROM sets") == 0);
  CHECK_FALSE(storage::find_member_by_number(f[1].db, "100"));
  // The tombstone holds no personal data.
  int tombstones = 0;
  for (const auto& [topic, msg] : f.bus.retained)
    if (msg.payload.find("\"deleted\":true") != std::string::npos) {
      ++tombstones;
      CHECK(msg.payload.find("Dee") == std::string::npos);
      CHECK(msg.payload.find("Xan") == std::string::npos);
      CHECK(msg.payload.find("\"data\":{}") != std::string::npos);
    }
  CHECK(tombstones == 2);
}

TEST_CASE("shared: a machine off for a whole day of sets (300) catches up on reconnect") {
  Fleet f({"alpha", "bravo"});
  Machine& a = f[0];
  Machine& b = f[1];
  const auto ma = storage::add_member(a.db, "5", "Eve", kStaff);
  f.bus.pump();
  f.bus.disconnect(b);
  for (int i = 0; i < 300; ++i) {
    const auto id = f.add_set(a, std::nullopt, ma, std::nullopt, 1, "target_reached", 4);
    f.publish_set(a, id);  // the live stream B misses
  }
  CHECK(count(b, "SELECT count(*) FROM sets") == 0);
  f.bus.connect(b);
  f.bus.pump();
  CHECK(count(b, "SELECT count(*) FROM sets WHERE origin_machine = 'alpha'") == 300);
  CHECK(count(b, "SELECT count(DISTINCT origin_set_id) FROM sets") == 300);
  CHECK(count(b, "SELECT count(*) FROM reps") == 1200);
  CHECK(count(b, "SELECT caught_up_to FROM fleet_peers WHERE machine = 'alpha'") ==
        count(a, "SELECT max(id) FROM sets"));
  // Again: nothing new is sent twice.
  f.bus.disconnect(b);
  f.bus.connect(b);
  f.bus.pump();
  CHECK(count(b, "SELECT count(*) FROM sets") == 300);
}

TEST_CASE("shared: catch-up answers stay under the payload limit with sets of 100 reps") {
  Fleet f({"alpha", "bravo"});
  const auto ma = storage::add_member(f[0].db, "6", "Ivo", kStaff);
  f.bus.pump();
  f.bus.disconnect(f[1]);
  for (int i = 0; i < 60; ++i)
    f.add_set(f[0], std::nullopt, ma, std::nullopt, 1, "target_reached", 100);
  f.bus.log.clear();
  f.bus.connect(f[1]);
  f.bus.pump();
  CHECK(count(f[1], "SELECT count(*) FROM sets") == 60);
  CHECK(count(f[1], "SELECT count(*) FROM reps") == 6000);
  std::size_t answers = 0, largest = 0;
  for (const auto& m : f.bus.log)
    if (m.topic.find("/catchup/to/") != std::string::npos) {
      ++answers;
      largest = std::max(largest, m.payload.size());
    }
  MESSAGE("60 sets of 100 reps: " << answers << " answers, the largest " << largest << " bytes");
  CHECK(largest <= 256 * 1024);
  CHECK(answers > 2);
}

TEST_CASE("shared: malformed and oversized payloads are refused, nothing else lost") {
  Fleet f({"alpha", "bravo"});
  const auto ma = storage::add_member(f[0].db, "11", "Flo", kStaff);
  f.bus.pump();
  Machine& b = f[1];
  const auto before = count(b, "SELECT count(*) FROM members");
  b.p->on_message({"shared/member/0123", "not json", 1, true});
  b.p->on_message({"shared/member/0123456789abcdef0123456789abcdef",
                   "{\"kind\":\"member\",\"uid\":\"0123456789abcdef0123456789abcdef\"}", 1, true});
  b.p->on_message(
      {"shared/member/0123456789abcdef0123456789abcdef", std::string(300 * 1024, ' '), 1, true});
  b.p->on_message(
      {"alpha/sets", "{\"id\":\"bravo/set/1\",\"machine\":\"alpha\",\"data\":{}}", 1, false});
  CHECK(count(b, "SELECT count(*) FROM members") == before);
  CHECK(storage::find_member_by_number(b.db, "11"));
  // Sets in another machine's name (the ACL lets a machine publish only under
  // its own name; the topic says who sent it): refused, no watermark raised.
  const auto set = f.add_set(f[0], std::nullopt, ma, std::nullopt, 1, "user_stop", 2);
  const auto data = *storage::shared::set_data(f[0].db, set);
  const std::string env = "{\"id\":\"alpha/set/" + std::to_string(set) +
                          "\",\"machine\":\"alpha\",\"kind\":\"set\",\"t_ms\":0,\"data\":" + data +
                          "}";
  b.p->on_message({"charlie/sets", env, 1, false});
  b.p->on_message({"charlie/catchup/to/bravo",
                   "{\"from\":\"alpha\",\"upto\":1000000,\"more\":false,\"sets\":[" + env + "]}", 1,
                   false});
  b.p->on_message({"charlie/catchup/to/bravo",
                   "{\"from\":\"charlie\",\"upto\":5,\"more\":false,\"sets\":[" + env + "]}", 1,
                   false});
  CHECK(count(b, "SELECT count(*) FROM sets") == 0);
  CHECK(count(b, "SELECT count(*) FROM fleet_peers WHERE machine = 'alpha'") == 0);
  b.p->on_message({"alpha/sets", env, 1, false});  // from its own machine: taken
  CHECK(count(b, "SELECT count(*) FROM sets WHERE origin_machine = 'alpha'") == 1);
}

TEST_CASE("shared: a flood of refused messages logs at most a line a second, with the count") {
  Fleet f({"alpha", "bravo"});
  Machine& b = f[1];
  // stderr (the journal) into a file while 500 bad records arrive.
  const auto log_path = (f.dir / "stderr.log").string();
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(log_path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  REQUIRE(fd >= 0);
  ::dup2(fd, 2);
  ::close(fd);
  for (int i = 0; i < 500; ++i) b.p->on_message({"shared/programme/flood", "not json", 1, false});
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::ifstream in(log_path);
  std::string line, all;
  int lines = 0;
  while (std::getline(in, line))
    if (line.find("refused a message") != std::string::npos) {
      ++lines;
      all += line + "\n";
    }
  INFO(all);
  CHECK(lines >= 1);
  CHECK(lines <= 2);  // the loop takes well under 2 s even under the sanitizers
  // The next line after a quiet second counts the ones left out.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::fflush(stderr);
  const int saved2 = ::dup(2);
  const int fd2 = ::open(log_path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  ::dup2(fd2, 2);
  ::close(fd2);
  b.p->on_message({"shared/programme/flood", "not json", 1, false});
  std::fflush(stderr);
  ::dup2(saved2, 2);
  ::close(saved2);
  std::ifstream in2(log_path);
  std::string text((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
  CHECK(text.find("more refused since the last such line, not logged") != std::string::npos);
}

TEST_CASE("shared: a PIN hash sealed with the pepper unseals only with it") {
  const std::string h = hmi::make_pin_hash("1234", hmi::kMinPinHashIterations);
  const auto sealed = app::seal_pin_hash(kPepper, "ab", h);
  REQUIRE(sealed);
  CHECK(sealed->find(h.substr(h.rfind('$') + 1)) == std::string::npos);
  CHECK(app::unseal_pin_hash(kPepper, "ab", *sealed) == h);
  const auto wrong = app::unseal_pin_hash("another-site-pepper-xxxx", "ab", *sealed);
  REQUIRE(wrong);
  CHECK_FALSE(hmi::verify_pin("1234", *wrong));
  CHECK_FALSE(app::seal_pin_hash(kPepper, "ab", "plain"));
}

TEST_CASE(
    "shared: a live set in another form still arrives: it triggers a catch-up from its machine") {
  Fleet f({"alpha", "bravo"});
  const auto ma = storage::add_member(f[0].db, "12", "Gil", kStaff);
  f.bus.pump();
  const auto id = f.add_set(f[0], std::nullopt, ma, std::nullopt, 1, "target_reached", 6);
  // As the API's set view renders it: local ids only, no uid.
  fleet::Message msg{"alpha/sets",
                     "{\"id\":\"alpha/set/" + std::to_string(id) +
                         "\",\"machine\":\"alpha\",\"kind\":\"set\",\"t_ms\":0,\"data\":{\"id\":" +
                         std::to_string(id) + ",\"member_id\":" + std::to_string(ma) + "}}",
                     1, false};
  f.bus.deliver_to(f[1], msg);
  f.bus.pump();
  CHECK(count(f[1], "SELECT count(*) FROM sets WHERE origin_machine = 'alpha'") == 1);
  CHECK(count(f[1], "SELECT count(*) FROM reps") == 6);
}

TEST_CASE("shared: the pepper file is refused when others may read it or it is short") {
  const fs::path dir =
      fs::temp_directory_path() / ("soleus-pepper-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  const auto write = [&](const char* name, const std::string& text, fs::perms p) {
    const auto path = dir / name;
    std::ofstream(path) << text;
    fs::permissions(path, p);
    return path.string();
  };
  const auto ok =
      write("ok", std::string(kPepper) + "\n", fs::perms::owner_read | fs::perms::owner_write);
  CHECK(app::read_pin_pepper(ok) == kPepper);
  CHECK_THROWS_AS(
      app::read_pin_pepper(write("open", kPepper, fs::perms::owner_read | fs::perms::others_read)),
      std::invalid_argument);
  CHECK_THROWS_AS(app::read_pin_pepper(write("short", "abc", fs::perms::owner_read)),
                  std::invalid_argument);
  CHECK_THROWS_AS(app::read_pin_pepper((dir / "none").string()), std::invalid_argument);
  fs::remove_all(dir);
}

TEST_CASE(
    "shared: one member number given on two machines: kept aside, applied once staff renumber") {
  Fleet f({"alpha", "bravo"});
  f.bus.disconnect(f[1]);
  storage::add_member(f[0].db, "1042", "Ann", kStaff);
  const auto bob = storage::add_member(f[1].db, "1042", "Bob", kStaff);
  f.bus.pump();
  f.bus.connect(f[1]);
  f.bus.pump();
  // Each machine keeps the other's member aside (the number is taken), nothing lost.
  CHECK(count(f[0], "SELECT count(*) FROM fleet_parked WHERE kind = 'member'") == 1);
  CHECK(count(f[1], "SELECT count(*) FROM fleet_parked WHERE kind = 'member'") == 1);
  CHECK(count(f[1], "SELECT count(*) FROM members") == 1);
  storage::set_member_number(f[1].db, bob, "1043", kStaff);
  f.bus.pump();
  for (std::size_t i = 0; i < 2; ++i) {
    INFO("machine " << f[i].name);
    CHECK(count(f[i], "SELECT count(*) FROM fleet_parked") == 0);
    CHECK(storage::find_member_by_number(f[i].db, "1042")->name == "Ann");
    CHECK(storage::find_member_by_number(f[i].db, "1043")->name == "Bob");
  }
}

namespace {
/// The record's version (hlc) and pending mark, or {0, -1} when unknown.
std::pair<std::int64_t, std::int64_t> version_of(storage::Database& db, const std::string& kind,
                                                 const std::string& uid) {
  auto st = db.prepare("SELECT hlc, pending FROM fleet_records WHERE kind = ?1 AND uid = ?2");
  st.bind(1, kind).bind(2, uid);
  if (!st.step()) return {0, -1};
  return {st.int64(0), st.int64(1)};
}
}  // namespace

TEST_CASE("shared: every storage edit of shared data bumps its record in the edit's transaction") {
  auto db = storage::Database::open(":memory:");
  storage::migrate(db);
  storage::shared::set_machine(db, "alpha");
  const auto m = storage::add_member(db, "1", "Ann", kStaff);
  const auto p = storage::add_programme(db, programme_spec(), kStaff);
  const auto uid = [&](const char* table, std::int64_t id) {
    return db.scalar_text(std::string("SELECT uid FROM ") + table +
                          " WHERE id = " + std::to_string(id));
  };
  const auto mu = uid("members", m), pu = uid("programmes", p);
  CHECK(mu.size() == 32);
  CHECK(pu.size() == 32);
  // Each edit: a newer version, pending (published ones first cleared).
  const auto bumps = [&](const std::string& kind, const std::string& u, const auto& edit) {
    const auto before = version_of(db, kind, u);
    storage::shared::mark_published(db, kind, u, before.first);
    CHECK(version_of(db, kind, u).second == 0);
    edit();
    const auto after = version_of(db, kind, u);
    CHECK(after.first > before.first);
    CHECK(after.second == 1);
  };
  bumps("member", mu, [&] {
    storage::MemberUpdate up;
    up.name = "Anna";
    storage::update_member(db, m, up, kStaff);
  });
  bumps("member", mu, [&] { storage::set_member_number(db, m, "2", kStaff); });
  bumps("member", mu, [&] { storage::flag_member(db, m, "pain", 5, std::nullopt); });
  bumps("member", mu, [&] { storage::clear_member_flag(db, m); });
  bumps("programme", pu, [&] {
    auto spec = programme_spec();
    spec.steps.push_back(spec.steps[0]);
    storage::replace_steps(db, p, spec.steps);
  });
  bumps("programme", pu, [&] {
    storage::set_programme_field(db, p, storage::ProgrammeField::Notes, std::string("n"), 1);
  });
  const auto a = storage::assign_programme(db, m, p, 1, kStaff);
  const auto au = uid("assignments", a);
  CHECK(version_of(db, "assignment", au).second == 1);
  const auto step = storage::programme_steps(db, p)[0].id;
  storage::set_step_target(db, a, step, 12, 1);
  CHECK(version_of(db, "progression", au).second == 1);
  bumps("progression", au, [&] { storage::set_step_target(db, a, step, 13, 2); });
  bumps("assignment", au, [&] { storage::end_assignment(db, m, 3, kStaff); });
  const auto s = storage::add_staff(
      db, "Pat", hmi::make_pin_hash("5555", hmi::kMinPinHashIterations), false, kStaff);
  const auto su = uid("staff_accounts", s);
  bumps("staff", su, [&] {
    storage::StaffUpdate up;
    up.active = false;
    storage::update_staff(db, s, up, kStaff);
  });
  storage::AssessmentRow as;
  as.member_id = m;
  as.t_ms = 10;
  as.complete = true;
  as.max_n = 1400;
  const auto asid = storage::record_assessment(db, as, kStaff);
  CHECK(version_of(db, "assessment", uid("assessments", asid)).second == 1);
  // A rolled-back edit leaves no mark: the mark is in the edit's transaction.
  const auto before = version_of(db, "member", mu);
  storage::shared::mark_published(db, "member", mu, before.first);
  {
    storage::Transaction tx(db);
    db.exec("UPDATE members SET name = 'X' WHERE id = " + std::to_string(m));
  }  // rolled back
  CHECK(version_of(db, "member", mu) == std::make_pair(before.first, std::int64_t{0}));
  // Erasure: a tombstone, pending.
  storage::erase_member(db, m, kStaff);
  auto st =
      db.prepare("SELECT deleted, pending FROM fleet_records WHERE kind = 'member' AND uid = ?1");
  st.bind(1, mu);
  REQUIRE(st.step());
  CHECK(st.int64(0) == 1);
  CHECK(st.int64(1) == 1);
}

TEST_CASE(
    "shared: migration 9 gives existing rows uids and marks them, the machine named later claims "
    "them") {
  auto db = storage::Database::open(":memory:");
  storage::migrate(db, 7);
  db.exec(
      "INSERT INTO members (id, number, name, created_ms, updated_ms) VALUES (1, '1', 'A', 0, 0), "
      "(2, '2', 'B', 0, 0);"
      "INSERT INTO programmes (id, name, created_ms, updated_ms) VALUES (1, 'P', 0, 0);"
      "INSERT INTO programme_steps (programme_id, position, mode, sets, target_reps, load_n) "
      "VALUES (1, 1, 'isotonic', 3, 12, 800);"
      "INSERT INTO assignments (id, member_id, programme_id, started_ms, created_ms) VALUES (1, 1, "
      "1, 0, 0);"
      "INSERT INTO step_progress (assignment_id, step_id, level, updated_ms) VALUES (1, 1, 2, 0);");
  storage::migrate(db);
  CHECK(db.scalar_int("SELECT count(DISTINCT uid) FROM members WHERE length(uid) = 32") == 2);
  CHECK(db.scalar_int("SELECT count(*) FROM fleet_records WHERE pending = 1 AND machine = ''") ==
        5);
  CHECK(storage::shared::pending_records(db, 100).empty());  // no name, nothing to publish
  storage::shared::set_machine(db, "alpha");
  const auto recs = storage::shared::pending_records(db, 100);
  CHECK(recs.size() == 5);
  for (const auto& r : recs) CHECK(r.machine == "alpha");
}

TEST_CASE(
    "shared: a staff account and an assessment made on A are on B (the staff PIN verifies there)") {
  Fleet f({"alpha", "bravo"});
  const auto m = storage::add_member(f[0].db, "3", "Hal", kStaff);
  storage::add_staff(f[0].db, "Pat", hmi::make_pin_hash("90817263", hmi::kMinPinHashIterations),
                     true, kStaff);
  storage::AssessmentRow as;
  as.member_id = m;
  as.t_ms = 1'800'000'000'000;
  as.complete = true;
  as.max_n = 1400;
  as.trials_json = R"([{"pct_of_range":50,"force_n":1400,"beyond_range":false}])";
  storage::record_assessment(f[0].db, as, kStaff);
  f.bus.pump();
  const auto staff = storage::list_staff(f[1].db);
  REQUIRE(staff.size() == 1);
  CHECK(staff[0].name == "Pat");
  CHECK(staff[0].admin);
  CHECK(hmi::verify_pin("90817263", staff[0].pin_hash));
  const auto mb = member_id(f[1], "3");
  const auto got = storage::member_assessments(f[1].db, mb);
  REQUIRE(got.size() == 1);
  CHECK(got[0].max_n == 1400);
  CHECK(got[0].trials_json.find("1400") != std::string::npos);
  CHECK(storage::get_member(f[1].db, mb)->assessed_max_n == 1400);
  CHECK(count(f[1], "SELECT count(*) FROM audit WHERE field = 'fleet_conflict'") == 0);
}

TEST_CASE(
    "shared: a machine whose clock runs 10 min behind still wins with an edit made after seeing "
    "another's") {
  Fleet f({"alpha", "bravo"});
  Machine& a = f[0];
  Machine& b = f[1];
  const auto p = storage::add_programme(a.db, programme_spec(), kStaff);
  f.bus.pump();
  // A's clock runs 10 minutes ahead of B's (the triggers' send rule then counts from it).
  a.db.exec(
      "UPDATE fleet_state SET hlc = (CAST((julianday('now') - 2440587.5) * 86400000 AS "
      "INTEGER) + 600000) * 65536");
  storage::set_programme_field(a.db, p, storage::ProgrammeField::Name, std::string("by A"), 1);
  f.bus.pump();
  const auto uid = a.db.scalar_text("SELECT uid FROM programmes");
  const auto hlc_a = storage::shared::local_record(b.db, "programme", uid)->hlc;
  CHECK(b.db.scalar_text("SELECT name FROM programmes") == "by A");
  // B edits after it saw A's version: B's version is newer although B's wall clock is behind.
  const auto pb = b.db.scalar_int("SELECT id FROM programmes");
  storage::set_programme_field(b.db, pb, storage::ProgrammeField::Name, std::string("by B"), 2);
  const auto hlc_b = storage::shared::local_record(b.db, "programme", uid)->hlc;
  CHECK(hlc_b > hlc_a);
  CHECK(hlc_b - hlc_a < 65536);  // the same millisecond, the counter one or two up
  f.bus.pump();
  CHECK(a.db.scalar_text("SELECT name FROM programmes") == "by B");
  CHECK(count(a, "SELECT count(*) FROM audit WHERE field = 'fleet_conflict'") == 0);
  CHECK(count(b, "SELECT count(*) FROM audit WHERE field = 'fleet_conflict'") == 0);
}

TEST_CASE(
    "shared: an erasure wins over an edit made elsewhere at the same time, and stays retained") {
  Fleet f({"alpha", "bravo", "charlie"});
  Machine& a = f[0];
  Machine& b = f[1];
  Machine& c = f[2];
  const auto m = storage::add_member(a.db, "77", "Jo", kStaff);
  f.bus.pump();
  const auto mb = member_id(b, "77");
  f.bus.disconnect(a);
  f.bus.disconnect(b);
  f.bus.disconnect(c);
  storage::erase_member(a.db, m, kStaff);  // A erases ...
  storage::MemberUpdate u;                 // ... and B, cut off, edits her afterwards
  u.name = "Jo Edited";
  storage::update_member(b.db, mb, u, kStaff);
  SUBCASE("B publishes its edit first") {
    f.bus.connect(b);
    f.bus.pump();
    f.bus.connect(a);
    f.bus.pump();
  }
  SUBCASE("A publishes the erasure first") {
    f.bus.connect(a);
    f.bus.pump();
    f.bus.connect(b);
    f.bus.pump();
  }
  f.bus.connect(c);  // a machine that comes later receives the erasure, not the member
  f.bus.pump();
  for (auto* x : {&a, &b, &c}) {
    INFO("machine " << x->name);
    CHECK_FALSE(storage::find_member_by_number(x->db, "77"));
    // The lost edit is audited, without the erased values.
    CHECK(count(*x,
                "SELECT count(*) FROM audit WHERE field = 'fleet_conflict' AND before LIKE "
                "'%Jo%'") == 0);
  }
  CHECK(count(b, "SELECT count(*) FROM audit WHERE field = 'fleet_conflict'") == 1);
  // A record made for her on a machine cut off at the time arrives later: dropped, not kept.
  Fleet g({"alpha", "bravo"});
  const auto gm = storage::add_member(g[0].db, "78", "Kit", kStaff);
  const auto gp = storage::add_programme(g[0].db, programme_spec(), kStaff);
  g.bus.pump();
  g.bus.disconnect(g[1]);
  storage::assign_programme(g[1].db, member_id(g[1], "78"),
                            g[1].db.scalar_int("SELECT id FROM programmes"), 5, kStaff);
  storage::erase_member(g[0].db, gm, kStaff);
  g.bus.pump();
  g.bus.connect(g[1]);
  g.bus.pump();
  (void)gp;
  for (std::size_t i = 0; i < 2; ++i) {
    INFO("machine " << g[i].name);
    CHECK(count(g[i], "SELECT count(*) FROM fleet_parked") == 0);
    CHECK(count(g[i], "SELECT count(*) FROM assignments") == 0);
    CHECK(count(g[i], "SELECT count(*) FROM members") == 0);
  }
  for (const auto& [topic, msg] : f.bus.retained)
    if (topic.rfind("shared/member/", 0) == 0)
      CHECK(msg.payload.find("\"deleted\":true") != std::string::npos);
}
