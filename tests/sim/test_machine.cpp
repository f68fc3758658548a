#include <doctest/doctest.h>

#include <cmath>

#include "sim_test_util.hpp"
#include "soleus/sim/machine.hpp"

using namespace soleus::sim;
using soleus::drivers::Table;

namespace {
std::vector<std::uint8_t> pdu_read(std::uint8_t fc, int addr, int n) {
  return {fc, static_cast<std::uint8_t>(addr >> 8), static_cast<std::uint8_t>(addr),
          static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
}
std::vector<std::uint8_t> pdu_write1(int addr, std::uint16_t v) {
  return {0x06, static_cast<std::uint8_t>(addr >> 8), static_cast<std::uint8_t>(addr),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}
std::vector<std::uint8_t> pdu_fc23(int raddr, int rn, int waddr,
                                   const std::vector<std::uint16_t>& w) {
  std::vector<std::uint8_t> p{0x17,
                              static_cast<std::uint8_t>(raddr >> 8),
                              static_cast<std::uint8_t>(raddr),
                              0,
                              static_cast<std::uint8_t>(rn),
                              static_cast<std::uint8_t>(waddr >> 8),
                              static_cast<std::uint8_t>(waddr),
                              0,
                              static_cast<std::uint8_t>(w.size()),
                              static_cast<std::uint8_t>(2 * w.size())};
  for (auto v : w) {
    p.push_back(static_cast<std::uint8_t>(v >> 8));
    p.push_back(static_cast<std::uint8_t>(v));
  }
  return p;
}
/// Words of a register-read reply; empty on an exception.
std::vector<std::uint16_t> words(const Transaction& t) {
  std::vector<std::uint16_t> w;
  if (!t.reply || t.pdu.size() < 2 || (t.pdu[0] & 0x80)) return w;
  for (std::size_t i = 2; i + 1 < t.pdu.size(); i += 2)
    w.push_back(static_cast<std::uint16_t>((t.pdu[i] << 8) | t.pdu[i + 1]));
  return w;
}
int exception_of(const Transaction& t) {
  return t.reply && t.pdu.size() == 2 && (t.pdu[0] & 0x80) ? t.pdu[1] : 0;
}

struct Sim {
  explicit Sim(const std::string& cfg = "config/sim.toml")
      : m(test::load_config(cfg), AthleteSettings{}, 3) {}
  Transaction tx(std::uint8_t unit, const std::vector<std::uint8_t>& pdu, bool tcp = true) {
    return m.transact(unit, pdu, tcp);
  }
  void run_ms(int n) {
    for (int i = 0; i < n; ++i) m.step();
  }
  Machine m;
};
}  // namespace

TEST_CASE("machine: the ICD's holding registers read back their power-up values") {
  Sim s;
  const auto w = words(s.tx(1, pdu_read(0x03, 0, 6)));
  REQUIRE(w.size() == 6);
  CHECK(w[0] == 0);     // CONTROL
  CHECK(w[1] == 0);     // TORQUE_CMD
  CHECK(w[2] == 3000);  // SPEED_LIMIT rpm
  CHECK(w[3] == 100);   // TORQUE_SLEW 10 %/ms in 0.1 %
  CHECK(w[4] == 0);     // COMM_TIMEOUT off
  CHECK(w[5] == 3000);  // TORQUE_LIMIT 300 %
  const auto c = words(s.tx(2, pdu_read(0x03, 0, 2)));
  REQUIRE(c.size() == 2);
  CHECK(c[0] == 0);
}

TEST_CASE("machine: status input registers follow the ICD and the mirror repeats them") {
  Sim s;
  s.run_ms(100);
  const auto in = words(s.tx(1, pdu_read(0x04, 0, 8)));
  REQUIRE(in.size() == 8);
  CHECK(in[0] == 0x0001);  // READY only
  CHECK(in[1] == 0);
  const std::int32_t pos =
      static_cast<std::int32_t>((static_cast<std::uint32_t>(in[2]) << 16) | in[3]);
  CHECK(pos == doctest::Approx(s.m.plant().state().x_mm * 1000).epsilon(0.001));
  CHECK(static_cast<std::int16_t>(in[6]) > 250);        // temperature 0.1 °C, > 25 °C
  CHECK(in[7] == doctest::Approx(3250).epsilon(0.02));  // bus 325 V
  const auto mirror = words(s.tx(1, pdu_read(0x03, 100, 8)));
  CHECK(mirror == in);
}

TEST_CASE(
    "machine: FC 23 writes CONTROL and TORQUE_CMD and reads the status mirror in one transaction") {
  Sim s;
  const auto w = words(s.tx(1, pdu_fc23(100, 8, 0, {1, 200})));  // enable, 20 %
  REQUIRE(w.size() == 8);
  CHECK((w[0] & 0x2) != 0);  // ENABLED at once
  s.run_ms(50);
  CHECK(s.m.drive().torque_pct() == doctest::Approx(20.0));
  const auto in = words(s.tx(1, pdu_read(0x04, 5, 1)));
  CHECK(static_cast<std::int16_t>(in.at(0)) == 200);
}

TEST_CASE("machine: exception replies for illegal function, address and value") {
  Sim s;
  CHECK(exception_of(s.tx(1, {0x2B, 0x0E, 0x01, 0x00})) == 1);
  CHECK(exception_of(s.tx(1, pdu_read(0x03, 6, 1))) == 2);  // nothing at holding 6
  CHECK(exception_of(s.tx(1, pdu_read(0x03, 0, 7))) == 2);  // runs into 6
  CHECK(exception_of(s.tx(1, pdu_read(0x04, 0, 9))) == 2);
  CHECK(exception_of(s.tx(1, pdu_read(0x03, 0, 0))) == 3);    // quantity 0
  CHECK(exception_of(s.tx(1, pdu_read(0x03, 0, 126))) == 3);  // quantity > 125
  CHECK(exception_of(s.tx(1, pdu_read(0x01, 0, 1))) == 2);    // no coils
  CHECK(exception_of(s.tx(1, pdu_write1(100, 1))) == 2);      // the mirror is read-only
  CHECK(exception_of(s.tx(1, pdu_write1(5, 3001))) == 3);     // TORQUE_LIMIT beyond 300 %
  CHECK(exception_of(s.tx(2, pdu_write1(0, 7))) == 3);        // unknown load-cell command
  CHECK(exception_of(s.tx(2, pdu_write1(1, 10))) == 3);       // filter 0..9
  // A refused write changes nothing.
  CHECK(words(s.tx(1, pdu_read(0x03, 5, 1))).at(0) == 3000);
  CHECK(s.m.counters().exceptions == 11);
}

TEST_CASE("machine: unknown unit ids: silence on RTU, exception 0x0B from the TCP gateway") {
  Sim s;
  CHECK_FALSE(s.tx(9, pdu_read(0x03, 0, 1), false).reply);
  CHECK(exception_of(s.tx(9, pdu_read(0x03, 0, 1), true)) == 0x0B);
}

TEST_CASE(
    "machine: COMM_TIMEOUT through Modbus: fault 6, then FAULT_RESET edge with ENABLE clear") {
  Sim s;
  s.tx(1, pdu_write1(4, 100));
  s.tx(1, pdu_write1(0, 1));
  s.run_ms(99);
  CHECK(words(s.tx(1, pdu_read(0x04, 0, 2))).at(0) == 0x3);  // READY | ENABLED
  s.run_ms(2);
  auto st = words(s.tx(1, pdu_read(0x04, 0, 2)));
  CHECK(st.at(0) == 0x4);  // FAULT only
  CHECK(st.at(1) == 6);
  s.tx(1, pdu_write1(0, 0));
  s.tx(1, pdu_write1(0, 2));
  st = words(s.tx(1, pdu_read(0x04, 0, 2)));
  CHECK(st.at(0) == 0x1);
  CHECK(st.at(1) == 0);
}

TEST_CASE("machine: load cell over Modbus: counter, tare through COMMAND reading back 0") {
  Sim s;
  s.run_ms(100);
  const auto a = words(s.tx(2, pdu_read(0x04, 0, 4)));
  s.run_ms(100);
  const auto b = words(s.tx(2, pdu_read(0x04, 0, 4)));
  REQUIRE(a.size() == 4);
  CHECK(static_cast<std::uint16_t>(b[3] - a[3]) == 20);
  // Force: net 0.1 N, s32 high word first; the pad rests on the thighs (≈ its weight).
  const auto f = static_cast<std::int32_t>((static_cast<std::uint32_t>(b[0]) << 16) | b[1]);
  CHECK(f == doctest::Approx(785).epsilon(0.05));
  s.tx(2, pdu_write1(0, 1));
  CHECK(words(s.tx(2, pdu_read(0x03, 0, 1))).at(0) == 1);
  CHECK((words(s.tx(2, pdu_read(0x04, 2, 1))).at(0) & 0x8) != 0);  // TARE_BUSY at once
  s.run_ms(10);
  CHECK((words(s.tx(2, pdu_read(0x04, 2, 1))).at(0) & 0x8) != 0);
  s.run_ms(150);
  CHECK(words(s.tx(2, pdu_read(0x03, 0, 1))).at(0) == 0);
  const auto c = words(s.tx(2, pdu_read(0x04, 0, 2)));
  CHECK(std::abs(static_cast<std::int32_t>((static_cast<std::uint32_t>(c[0]) << 16) | c[1])) < 30);
}

TEST_CASE(
    "machine: a vendor-B map (f32 low-word-first force, other addresses, no mirror) by "
    "configuration alone") {
  Sim s("config/sim-vendor-b.toml");
  const auto& cfg = s.m.config();
  s.run_ms(200);
  const auto& fs = cfg.load_cell.force;
  CHECK(fs.type == soleus::drivers::ValueType::F32);
  CHECK(fs.order == soleus::drivers::WordOrder::LowFirst);
  const auto fw =
      words(s.tx(static_cast<std::uint8_t>(cfg.units.load_cell), pdu_read(0x04, fs.address, 2)));
  REQUIRE(fw.size() == 2);
  const auto force = soleus::drivers::decode(fs, fw);
  REQUIRE(force);
  CHECK(*force == doctest::Approx(s.m.cell().force_n()).epsilon(0.001));
  // Position with this map's scale decodes to the same pad height.
  const auto& ps = cfg.drive.position;
  const auto pw =
      words(s.tx(static_cast<std::uint8_t>(cfg.units.drive), pdu_read(0x04, ps.address, 2)));
  REQUIRE(pw.size() == 2);
  const auto counts = soleus::drivers::decode(ps, pw);
  REQUIRE(counts);
  CHECK(*counts / cfg.mechanics.counts_per_mm ==
        doctest::Approx(s.m.plant().state().x_mm).epsilon(0.01));
  CHECK(cfg.drive.status_mirror_address == -1);
  // The ICD's addresses are not there.
  CHECK(exception_of(s.tx(static_cast<std::uint8_t>(cfg.units.drive), pdu_read(0x03, 100, 8))) ==
        2);
  // NaN force travels as a float NaN, which the codec refuses.
  s.m.cell().set_nan(true);
  s.run_ms(10);
  const auto nw =
      words(s.tx(static_cast<std::uint8_t>(cfg.units.load_cell), pdu_read(0x04, fs.address, 2)));
  CHECK_FALSE(soleus::drivers::decode(fs, nw));
}

TEST_CASE("machine: transport faults: drop, outage, odd replies") {
  Sim s;
  CHECK(s.m.control_line(R"({"cmd":"fault","kind":"drop","p":1})").find("\"ok\":true") !=
        std::string::npos);
  CHECK_FALSE(s.tx(1, pdu_read(0x03, 0, 1)).reply);
  s.m.control_line(R"({"cmd":"fault","kind":"drop","p":0})");
  CHECK(s.tx(1, pdu_read(0x03, 0, 1)).reply);
  s.m.control_line(R"({"cmd":"fault","kind":"outage","seconds":0.5})");
  s.run_ms(499);
  CHECK_FALSE(s.tx(1, pdu_read(0x03, 0, 1)).reply);
  s.run_ms(1);
  CHECK(s.tx(1, pdu_read(0x03, 0, 1)).reply);
  s.m.control_line(R"({"cmd":"fault","kind":"bad_crc","count":2})");
  CHECK(s.tx(1, pdu_read(0x03, 0, 1)).odd == OddReply::BadCrc);
  CHECK(s.tx(1, pdu_read(0x03, 0, 1)).odd == OddReply::BadCrc);
  CHECK(s.tx(1, pdu_read(0x03, 0, 1)).odd == OddReply::None);
  s.m.control_line(R"({"cmd":"fault","kind":"exception"})");
  CHECK(exception_of(s.tx(1, pdu_read(0x03, 0, 1))) == 4);
}

TEST_CASE(
    "machine: odd replies at a rate: about p of them, counted ones first, p 0 and clear end it") {
  Sim s;
  s.m.control_line(R"({"cmd":"fault","kind":"wrong_tid","count":2})");
  CHECK(s.m.control_line(R"({"cmd":"fault","kind":"bad_crc","p":0.1})").find("\"ok\":true") !=
        std::string::npos);
  CHECK(s.tx(1, pdu_read(0x03, 0, 1)).odd == OddReply::WrongTransaction);
  CHECK(s.tx(1, pdu_read(0x03, 0, 1)).odd == OddReply::WrongTransaction);
  int bad = 0, other = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto t = s.tx(1, pdu_read(0x03, 0, 1));
    REQUIRE(t.reply);
    bad += t.odd == OddReply::BadCrc;
    other += t.odd != OddReply::BadCrc && t.odd != OddReply::None;
  }
  CHECK(bad > 140);  // 200 expected
  CHECK(bad < 260);
  CHECK(other == 0);
  s.m.control_line(R"({"cmd":"fault","kind":"bad_crc","p":1})");
  for (int i = 0; i < 50; ++i) CHECK(s.tx(2, pdu_read(0x04, 0, 1)).odd == OddReply::BadCrc);
  s.m.control_line(R"({"cmd":"fault","kind":"bad_crc","p":0})");
  CHECK(s.tx(1, pdu_read(0x03, 0, 1)).odd == OddReply::None);
  s.m.control_line(R"({"cmd":"fault","kind":"exception","p":1})");
  CHECK(exception_of(s.tx(1, pdu_read(0x03, 0, 1))) == 4);
  s.m.control_line(R"({"cmd":"fault","kind":"clear"})");
  CHECK(s.tx(1, pdu_read(0x03, 0, 1)).odd == OddReply::None);
  for (const char* bad_p : {R"({"cmd":"fault","kind":"bad_crc","p":1.5})",
                            R"({"cmd":"fault","kind":"wrong_unit","p":-0.1})"})
    CHECK(s.m.control_line(bad_p).find("\"ok\":false") != std::string::npos);
}

TEST_CASE("machine: a value freeze holds the FORCE register while the sample counter moves") {
  Sim s;
  s.run_ms(50);
  s.m.control_line(R"({"cmd":"fault","kind":"cell_value_freeze"})");
  const auto w0 = words(s.tx(2, pdu_read(0x04, 0, 4)));
  s.run_ms(100);
  const auto w1 = words(s.tx(2, pdu_read(0x04, 0, 4)));
  CHECK(w1.at(0) == w0.at(0));  // FORCE (s32, two words) held
  CHECK(w1.at(1) == w0.at(1));
  CHECK(w1.at(3) != w0.at(3));  // the counter moved
  s.m.control_line(R"({"cmd":"fault","kind":"cell_value_freeze","on":false})");
  CHECK_FALSE(s.m.cell().value_frozen());
}

TEST_CASE("machine: device faults through the control channel reach the registers") {
  Sim s;
  s.m.control_line(R"({"cmd":"fault","kind":"sto"})");
  CHECK((words(s.tx(1, pdu_read(0x04, 0, 1))).at(0) & 0x8) != 0);
  s.tx(1, pdu_write1(0, 1));
  CHECK_FALSE(s.m.drive().enabled());
  s.m.control_line(R"({"cmd":"fault","kind":"sto","on":false})");
  s.m.control_line(R"({"cmd":"fault","kind":"drive_fault","code":4})");
  CHECK(words(s.tx(1, pdu_read(0x04, 1, 1))).at(0) == 4);
  s.m.control_line(R"({"cmd":"fault","kind":"cell_freeze"})");
  s.run_ms(5);
  const auto c0 = words(s.tx(2, pdu_read(0x04, 3, 1))).at(0);
  s.run_ms(100);
  CHECK(words(s.tx(2, pdu_read(0x04, 3, 1))).at(0) == c0);
  s.m.control_line(R"({"cmd":"fault","kind":"adc_error"})");
  s.m.control_line(R"({"cmd":"fault","kind":"overload"})");
  CHECK((words(s.tx(2, pdu_read(0x04, 2, 1))).at(0) & 0x6) == 0x6);
  s.m.control_line(R"({"cmd":"fault","kind":"clear"})");
  s.run_ms(10);
  CHECK(words(s.tx(2, pdu_read(0x04, 3, 1))).at(0) != c0);
  CHECK((words(s.tx(2, pdu_read(0x04, 2, 1))).at(0) & 0x4) == 0);
  CHECK((words(s.tx(2, pdu_read(0x04, 2, 1))).at(0) & 0x2) != 0);  // the overload latch stays
}

TEST_CASE("machine: control channel: truth, state, athlete settings and refusals") {
  Sim s;
  auto v = boost::json::parse(s.m.control_line(R"({"cmd":"truth","drop_pct":15})")).as_object();
  CHECK(v["ok"].as_bool());
  CHECK(v["full_reps"].as_int64() == 0);
  CHECK(v["first_drop_rep"].is_null());
  CHECK(v["phase"].as_string() == "waiting");
  v = boost::json::parse(s.m.control_line(R"({"cmd":"state"})")).as_object();
  CHECK(v["ok"].as_bool());
  CHECK(v["registers"].as_object()["drive"].as_object()["holding"].as_object()["5"].as_int64() ==
        3000);
  v = boost::json::parse(
          s.m.control_line(
              R"({"cmd":"athlete","style":"push_hard","capacity_n":900,"tempo":"2-1-2-1"})"))
          .as_object();
  CHECK(v["ok"].as_bool());
  CHECK(s.m.athlete().settings().style == AthleteStyle::PushHard);
  CHECK(s.m.athlete().capacity_n() == 900);
  CHECK(s.m.athlete().settings().tempo.concentric_s == 2);
  for (const char* bad :
       {R"({"cmd":"athlete","colour":"red"})", R"({"cmd":"athlete","tempo":"fast"})",
        R"({"cmd":"fault","kind":"meteor"})", R"({"cmd":"fault","kind":"drop"})",
        R"({"cmd":"nope"})", "not json", R"({"cmd":"athlete","capacity_n":-5})"}) {
    v = boost::json::parse(s.m.control_line(bad)).as_object();
    CHECK_MESSAGE(!v["ok"].as_bool(), bad);
    CHECK(v.contains("error"));
  }
  v = boost::json::parse(s.m.control_line(R"({"cmd":"reset"})")).as_object();
  CHECK(v["ok"].as_bool());
}

TEST_CASE(
    "machine: an outside force source takes the athlete's place, and its support bypasses the load "
    "cell") {
  Sim s;
  s.m.plant().place(60, 0);
  int calls = 0;
  double felt_enabled = -1;
  s.m.set_force_source([&](const AthleteInput& in, std::int64_t now_ms) {
    ++calls;
    felt_enabled = in.drive_enabled ? 1 : 0;
    CHECK(now_ms == calls);
    // Holds the pad's weight: 30 N through the thighs, the rest from below.
    return OutsideForces{30.0, 78.5 - 30.0};
  });
  s.run_ms(200);
  CHECK(calls == 200);
  CHECK(felt_enabled == 0);
  CHECK(s.m.plant().state().x_mm == doctest::Approx(60.0));            // held: nothing moves
  CHECK(s.m.cell().force_n() == doctest::Approx(30.0).epsilon(0.05));  // only the contact
  CHECK(s.m.athlete().reps().empty());
  // Nothing holds the pad: it falls under its own weight (≈ 0.71 m/s²).
  s.m.set_force_source([](const AthleteInput&, std::int64_t) { return OutsideForces{}; });
  s.run_ms(100);
  CHECK(s.m.plant().state().v_mm_s == doctest::Approx(-71.4).epsilon(0.03));
}

TEST_CASE(
    "machine: values a register cannot hold are saturated, with the map's word order (literal "
    "words)") {
  using soleus::drivers::ValueType;
  using soleus::drivers::WordOrder;
  auto cfg = test::load_config();
  cfg.drive.temperature.scale = 0.0001;  // ~30 °C = raw 300 000: beyond s16
  cfg.drive.bus_voltage.scale = 0.001;   // ~325 V = raw 325 000: beyond u16
  cfg.drive.position.scale = 1e-6;       // ~30 000 counts = raw 3e10: beyond s32
  cfg.drive.position.order = WordOrder::LowFirst;
  Machine m(cfg, AthleteSettings{}, 3);
  for (int i = 0; i < 100; ++i) m.step();
  CHECK(m.reg(1, Table::Input, 6) == 0x7FFF);
  CHECK(m.reg(1, Table::Input, 7) == 0xFFFF);
  CHECK(m.reg(1, Table::Input, 2) == 0xFFFF);  // s32 max, low word first
  CHECK(m.reg(1, Table::Input, 3) == 0x7FFF);

  auto down = test::load_config();
  down.drive.position.scale = 1e-6;
  down.drive.position_positive_up = false;     // -3e10: s32 min, high word first
  down.load_cell.force.type = ValueType::F32;  // a positive force beyond float: +infinity
  down.load_cell.force.order = WordOrder::LowFirst;
  down.load_cell.force.scale = 1e-40;
  Machine d(down, AthleteSettings{}, 3);
  for (int i = 0; i < 100; ++i) d.step();
  CHECK(d.reg(1, Table::Input, 2) == 0x8000);
  CHECK(d.reg(1, Table::Input, 3) == 0x0000);
  REQUIRE(d.cell().force_n() > 0);
  CHECK(d.reg(2, Table::Input, 0) == 0x0000);
  CHECK(d.reg(2, Table::Input, 1) == 0x7F80);
  d.cell().set_nan(true);  // a NaN force is a float NaN
  for (int i = 0; i < 10; ++i) d.step();
  CHECK(d.reg(2, Table::Input, 0) == 0x0000);
  CHECK(d.reg(2, Table::Input, 1) == 0x7FC0);

  // A NaN force in an integer register reads as the type's largest value.
  Machine n(test::load_config(), AthleteSettings{}, 3);
  n.cell().set_nan(true);
  for (int i = 0; i < 10; ++i) n.step();
  CHECK(n.reg(2, Table::Input, 0) == 0x7FFF);
  CHECK(n.reg(2, Table::Input, 1) == 0xFFFF);
}
