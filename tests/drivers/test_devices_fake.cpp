// ModbusBus, ServoDrive and LoadCell against an in-process fake Modbus TCP
// server (tests/support): deterministic checks of the read plans, the frames
// each cycle costs, decoding, configure() read-back, the fault-reset edge,
// garbage values, timeouts, exceptions and reconnection.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "drivers_test_util.hpp"
#include "soleus/drivers/devices.hpp"
#include "soleus/drivers/modbus_bus.hpp"
#include "soleus/test_support/fake_modbus_server.hpp"

using namespace soleus::drivers;
namespace machine = soleus::machine;
using soleus::test::FakeModbusServer;
using soleus::test::tcp_machine;

namespace {

constexpr int kDrive = 1, kCell = 2;
constexpr int kFc03 = 3, kFc04 = 4, kFc06 = 6, kFc16 = 16, kFc23 = 23;

/// Fills the drive's status (input 0..7 and the mirror at holding 100..107).
void set_drive_status(FakeModbusServer& srv, std::array<std::uint16_t, 8> regs) {
  for (int i = 0; i < 8; ++i) {
    srv.set_input(kDrive, i, regs[static_cast<std::size_t>(i)]);
    srv.set_holding(kDrive, 100 + i, regs[static_cast<std::size_t>(i)]);
  }
}

// STATUS READY|ENABLED, no fault, POSITION 100000 counts, SPEED 60 rpm,
// TORQUE_ACTUAL 50.0 %, TEMPERATURE 37.0 °C, BUS_VOLTAGE 310.0 V.
constexpr std::array<std::uint16_t, 8> kStatus{0x0003, 0, 0x0001, 0x86A0, 60, 500, 370, 3100};

}  // namespace

TEST_CASE("drive: one exchange on the reference map is exactly one FC 23") {
  FakeModbusServer srv({kDrive, kCell});
  const auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  set_drive_status(srv, kStatus);

  machine::DriveCommand cmd;
  cmd.enable = true;
  cmd.force_n = 1000.0;
  cmd.back_driven = false;
  machine::DriveStatus st;
  const BusStats before = bus.stats();
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  const BusStats after = bus.stats();
  CHECK(srv.total_requests() == 1);
  CHECK(srv.requests(kFc23) == 1);
  CHECK(after.transactions - before.transactions == 1);
  // TCP: MBAP 7 + PDU. FC 23 writing 2, reading 8: 7+14 and 7+18 bytes.
  CHECK(after.bytes_tx - before.bytes_tx == 21);
  CHECK(after.bytes_rx - before.bytes_rx == 25);

  // Command as the drive sees it: ENABLE, torque for 1000 N driving down.
  CHECK(srv.holding(kDrive, 0) == 0x0001);
  const double pct = cfg.mechanics.torque_pct_for_force(1000.0, false);
  CHECK(static_cast<std::int16_t>(srv.holding(kDrive, 1)) ==
        static_cast<int>(std::lround(pct * 10)));

  // Status in engineering units.
  CHECK(st.ready);
  CHECK(st.enabled);
  CHECK_FALSE(st.fault);
  CHECK_FALSE(st.sto);
  CHECK(st.fault_code == 0);
  CHECK(st.position_mm == doctest::Approx(100.0));
  CHECK(st.velocity_mm_s == doctest::Approx(10.0));
  CHECK(st.torque_pct == doctest::Approx(50.0));
  // Moving up: the user back-drives the screw, F = T·2π/lead/η.
  CHECK(st.force_n == doctest::Approx(cfg.mechanics.force_from_torque_pct(50.0, true)));
  CHECK(st.temperature_c == doctest::Approx(37.0));
  CHECK(st.bus_voltage_v == doctest::Approx(310.0));
}

TEST_CASE("drive: read_status reads the mirror in one FC 03 and writes nothing") {
  FakeModbusServer srv({kDrive, kCell});
  const auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  set_drive_status(srv, {0x0008 | 0x0004, 6, 0xFFFF, 0xFC18, 0xFFF6, 0xFE0C, 0xFF9C, 0});
  machine::DriveStatus st;
  REQUIRE(drive->read_status(st) == BusResult::Ok);
  CHECK(srv.total_requests() == 1);
  CHECK(srv.requests(kFc03) == 1);
  CHECK(st.sto);
  CHECK(st.fault);
  CHECK_FALSE(st.ready);
  CHECK(st.fault_code == 6);
  CHECK(drive->fault_name(st.fault_code) == "communication loss");
  CHECK(st.position_mm == doctest::Approx(-1.0));           // -1000 counts
  CHECK(st.velocity_mm_s == doctest::Approx(-10.0 / 6.0));  // -10 rpm
  CHECK(st.torque_pct == doctest::Approx(-50.0));
  CHECK(st.temperature_c == doctest::Approx(-10.0));
}

TEST_CASE("drive: configure() arms the limits and reads them back") {
  FakeModbusServer srv({kDrive, kCell});
  const auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  std::string detail;
  const machine::DriveSetup setup = machine::DriveSetup::from_limits(cfg.limits);
  REQUIRE(drive->configure(setup, detail) == BusResult::Ok);
  CHECK(detail.empty());
  // SPEED_LIMIT 100 mm/s = 600 rpm.
  CHECK(srv.holding(kDrive, 2) == 600);
  // TORQUE_SLEW: 6000 N/s back-driven = 0.270 %/ms, floored to 0.2 %/ms (raw 2).
  CHECK(srv.holding(kDrive, 3) == 2);
  CHECK(srv.holding(kDrive, 4) == 100);
  // TORQUE_LIMIT: 1800 N back-driven = 81.08 %, floored to 81.0 %: the force
  // at the pad stays ≤ 1800 N in both directions.
  CHECK(srv.holding(kDrive, 5) == 810);
  CHECK(cfg.mechanics.force_from_torque_pct(81.0, true) <= 1800.0);
  CHECK(cfg.mechanics.force_from_torque_pct(81.0, false) <= 1800.0);
  // Contiguous setup registers: one FC 16 and one FC 03 read-back.
  CHECK(srv.requests(kFc16) == 1);
  CHECK(srv.requests(kFc03) == 1);
  CHECK(srv.total_requests() == 2);
  // The slew armed, as force per second at the pad in the slower direction
  // (the motor driving: 0.2 %/ms × η), for the floor's plan: ~3.6 kN/s, not 6000.
  const double armed = drive->armed_slew_n_per_s();
  CHECK(armed == doctest::Approx(cfg.mechanics.force_from_torque_pct(200.0, false)));
  CHECK(armed < 4000.0);
  CHECK(armed > 3000.0);
  // The read-back finds it unchanged; a drive that lost it is found.
  CHECK(drive->verify_setup(detail) == BusResult::Ok);
  srv.set_holding(kDrive, 4, 0);  // COMM_TIMEOUT back at its power-up 0
  CHECK(drive->verify_setup(detail) == BusResult::BadValue);
  CHECK(detail.find("COMM_TIMEOUT") != std::string::npos);
}

TEST_CASE("drive: configure() fails with a readable detail when a value does not stick") {
  FakeModbusServer srv({kDrive, kCell});
  const auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  srv.set_after_reply(kDrive, 5, 3000);  // the drive keeps its default TORQUE_LIMIT
  std::string detail;
  CHECK(drive->configure(machine::DriveSetup::from_limits(cfg.limits), detail) ==
        BusResult::BadValue);
  CHECK(detail.find("TORQUE_LIMIT") != std::string::npos);
  CHECK(detail.find("300") != std::string::npos);
  // An unarmed watchdog is refused before anything is written.
  machine::DriveSetup off = machine::DriveSetup::from_limits(cfg.limits);
  off.watchdog_ms = 0;
  srv.reset_counts();
  CHECK(drive->configure(off, detail) == BusResult::BadValue);
  CHECK(detail.find("COMM_TIMEOUT") != std::string::npos);
  CHECK(srv.total_requests() == 0);
}

TEST_CASE("drive: configure() refuses a TORQUE_LIMIT above 300 % and writes nothing") {
  // A rated torque entered 10x too small: 1800 N would be 810.7 % of it.
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  cfg.mechanics.rated_torque_nm = 0.318;
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  std::string detail;
  CHECK(drive->configure(machine::DriveSetup::from_limits(cfg.limits), detail) ==
        BusResult::BadValue);
  INFO(detail);
  CHECK(detail.find("TORQUE_LIMIT") != std::string::npos);
  CHECK(detail.find("300 %") != std::string::npos);
  CHECK(srv.total_requests() == 0);
  CHECK(srv.holding(kDrive, 5) == 0);
}

TEST_CASE("drive: a fault reset is a 0→1 edge with ENABLE clear, then back to 0") {
  FakeModbusServer srv({kDrive, kCell});
  const auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  set_drive_status(srv, kStatus);
  machine::DriveStatus st;
  machine::DriveCommand cmd;
  cmd.enable = true;
  cmd.force_n = 500;
  cmd.fault_reset = true;
  // The drive may hold a 1 from an earlier run: the first request writes 0.
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  CHECK(srv.holding(kDrive, 0) == 0x0000);
  CHECK(srv.holding(kDrive, 1) == 0);  // no torque while resetting
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  CHECK(srv.holding(kDrive, 0) == 0x0002);  // FAULT_RESET, ENABLE clear
  cmd.fault_reset = false;
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  CHECK(srv.holding(kDrive, 0) == 0x0001);  // back to 0, enabled
  cmd.fault_reset = true;
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  CHECK(srv.holding(kDrive, 0) == 0x0002);  // a fresh edge
  cmd.fault_reset = false;
  cmd.quick_stop = true;
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  CHECK(srv.holding(kDrive, 0) == (0x0001 | 0x0004));
  CHECK(srv.holding(kDrive, 1) == 0);
}

TEST_CASE("drive: torque sign follows signs.torque_positive") {
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  cfg.drive.torque_positive_down = false;
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  set_drive_status(srv, kStatus);
  machine::DriveCommand cmd;
  cmd.enable = true;
  cmd.force_n = 1000.0;
  machine::DriveStatus st;
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  CHECK(static_cast<std::int16_t>(srv.holding(kDrive, 1)) < -300);
  CHECK(st.torque_pct == doctest::Approx(-50.0));  // reported positive down
}

TEST_CASE(
    "drive: without a mirror, one FC 16 plus batched reads, split writes when not contiguous") {
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  cfg.drive.status_mirror_address = -1;
  {
    ModbusBus bus(cfg.transport);
    REQUIRE(bus.connect() == BusResult::Ok);
    auto drive = make_modbus_drive(bus, cfg);
    set_drive_status(srv, kStatus);
    machine::DriveStatus st;
    machine::DriveCommand cmd;
    REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
    CHECK(srv.requests(kFc16) == 1);
    CHECK(srv.requests(kFc04) == 1);  // input 0..7 in one read
    CHECK(srv.total_requests() == 2);
    CHECK(st.position_mm == doctest::Approx(100.0));
  }
  // CONTROL at 0, TORQUE_CMD at 10; BUS_VOLTAGE moved 20 registers away.
  srv.reset_counts();
  cfg.drive.torque_cmd.address = 10;
  cfg.drive.bus_voltage.address = 27;
  srv.set_input(kDrive, 27, 2400);
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  machine::DriveStatus st;
  machine::DriveCommand cmd;
  cmd.enable = true;
  cmd.force_n = 100;
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  CHECK(srv.requests(kFc06) == 2);
  CHECK(srv.requests(kFc04) == 2);  // gap of 20 > 8: two reads
  CHECK(srv.total_requests() == 4);
  CHECK(srv.holding(kDrive, 10) != 0);
  CHECK(st.bus_voltage_v == doctest::Approx(240.0));
}

TEST_CASE("drive: garbage from the device is BadValue, never a number") {
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  machine::DriveStatus st;
  st.temperature_c = 21.0;
  auto bad = kStatus;
  bad[6] = 0x7FFF;  // 3276.7 °C: impossible
  set_drive_status(srv, bad);
  CHECK(drive->read_status(st) == BusResult::BadValue);
  CHECK(st.temperature_c == 21.0);  // untouched
  // A float speed that is NaN.
  cfg.drive.speed.type = ValueType::F32;
  cfg.drive.speed.address = 8;
  auto drive2 = make_modbus_drive(bus, cfg);
  set_drive_status(srv, kStatus);
  srv.set_holding(kDrive, 108, 0x7FC0);
  srv.set_holding(kDrive, 109, 0x0000);
  CHECK(drive2->read_status(st) == BusResult::BadValue);
}

TEST_CASE(
    "drive: a command that does not fit writes control 0 and torque 0, and still reports it") {
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  set_drive_status(srv, kStatus);
  machine::DriveStatus st;
  machine::DriveCommand cmd;
  cmd.enable = true;
  cmd.force_n = 1000.0;
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  REQUIRE(srv.holding(kDrive, 0) == 0x0001);
  REQUIRE(srv.holding(kDrive, 1) != 0);
  // NaN, infinity, and a force whose torque the s16 register cannot hold
  // (1e7 N is about 450 000 % of rated torque): never nothing written, which
  // would leave the drive on its last command until the watchdog.
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity(), -1e7, 1e7}) {
    CAPTURE(bad);
    cmd.force_n = 1000.0;
    REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
    REQUIRE(srv.holding(kDrive, 0) == 0x0001);
    srv.reset_counts();
    cmd.force_n = bad;
    CHECK(drive->exchange(cmd, st) == BusResult::BadValue);
    CHECK(srv.requests(kFc23) == 1);
    CHECK(srv.holding(kDrive, 0) == 0x0000);  // ENABLE off
    CHECK(srv.holding(kDrive, 1) == 0);       // no torque
  }
  // A control word the map cannot encode (ENABLE on a bit a u16 with this
  // scale cannot carry) is the same: zeros go out.
  auto cfg2 = cfg;
  cfg2.drive.control.scale = 1e-6;  // 1 → raw 1e6: does not fit a u16, while 0 does
  auto drive2 = make_modbus_drive(bus, cfg2);
  srv.set_holding(kDrive, 0, 0x0001);
  srv.set_holding(kDrive, 1, 500);
  srv.reset_counts();
  cmd.force_n = 1000.0;
  CHECK(drive2->exchange(cmd, st) == BusResult::BadValue);
  CHECK(srv.requests(kFc23) == 1);
  CHECK(srv.holding(kDrive, 0) == 0x0000);
  CHECK(srv.holding(kDrive, 1) == 0);
}

TEST_CASE("load cell: one FC 04 of force, status and counter, sign and flags") {
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto cell = make_modbus_load_cell(bus, cfg);
  srv.set_input(kCell, 0, 0xFFFF);
  srv.set_input(kCell, 1, 0xFF83);           // -12.5 N
  srv.set_input(kCell, 2, 0x0001 | 0x0004);  // STABLE, ADC_ERROR
  srv.set_input(kCell, 3, 65535);
  machine::LoadCellSample s;
  const BusStats before = bus.stats();
  REQUIRE(cell->read(s) == BusResult::Ok);
  CHECK(srv.requests(kFc04) == 1);
  CHECK(srv.total_requests() == 1);
  CHECK(bus.stats().bytes_tx - before.bytes_tx == 7 + 5);
  CHECK(bus.stats().bytes_rx - before.bytes_rx == 7 + 10);
  CHECK(s.force_n == doctest::Approx(-12.5));
  CHECK(s.stable);
  CHECK(s.adc_error);
  CHECK_FALSE(s.overload);
  CHECK_FALSE(s.tare_busy);
  CHECK(s.counter == 65535);
  cfg.load_cell.compression_positive = false;
  auto tension = make_modbus_load_cell(bus, cfg);
  REQUIRE(tension->read(s) == BusResult::Ok);
  CHECK(s.force_n == doctest::Approx(12.5));
}

TEST_CASE("load cell: a float32 low-word-first force, NaN is BadValue") {
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  cfg.load_cell.force.type = ValueType::F32;
  cfg.load_cell.force.order = WordOrder::LowFirst;
  cfg.load_cell.force.scale = 1.0;
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto cell = make_modbus_load_cell(bus, cfg);
  srv.set_input(kCell, 0, 0x0000);
  srv.set_input(kCell, 1, 0x4148);  // 12.5f, low word first
  machine::LoadCellSample s;
  REQUIRE(cell->read(s) == BusResult::Ok);
  CHECK(s.force_n == doctest::Approx(12.5));
  srv.set_input(kCell, 1, 0x7FC0);  // NaN
  CHECK(cell->read(s) == BusResult::BadValue);
}

TEST_CASE("load cell: tare writes the command and waits for it to read 0") {
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto cell = make_modbus_load_cell(bus, cfg);
  srv.set_after_reply(kCell, 0, 0);  // the transmitter finishes at once
  CHECK(cell->tare() == BusResult::Ok);
  CHECK(srv.requests(kFc06) == 1);
  CHECK(srv.requests(kFc03) >= 1);
  CHECK(cell->set_filter(4) == BusResult::Ok);
  CHECK(srv.holding(kCell, 1) == 4);
  CHECK(cell->set_filter(-1) == BusResult::BadValue);
}

TEST_CASE("bus: a dropped reply is a counted timeout, a retry recovers within the call") {
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  cfg.transport.retries = 0;
  cfg.transport.response_timeout_ms = 100;
  std::array<std::uint16_t, 4> w{};
  {
    ModbusBus bus(cfg.transport);
    REQUIRE(bus.connect() == BusResult::Ok);
    srv.drop_next(1);
    CHECK(bus.read_input(kCell, 0, w) == BusResult::Timeout);
    CHECK(bus.stats().timeouts == 1);
    CHECK(bus.read_input(kCell, 0, w) == BusResult::Ok);
  }  // the fake serves one client at a time

  cfg.transport.retries = 1;
  ModbusBus bus2(cfg.transport);
  REQUIRE(bus2.connect() == BusResult::Ok);
  srv.drop_next(1);
  CHECK(bus2.read_input(kCell, 0, w) == BusResult::Ok);
  CHECK(bus2.stats().transactions == 2);
  CHECK(bus2.stats().timeouts == 1);
  CHECK(bus2.stats().ok == 1);
}

TEST_CASE("bus: exception replies are counted, not retried") {
  FakeModbusServer srv({kDrive, kCell}, 64);
  auto cfg = tcp_machine(srv.port());
  cfg.transport.retries = 2;
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  std::array<std::uint16_t, 4> w{};
  CHECK(bus.read_input(kCell, 100, w) == BusResult::Exception);
  CHECK(bus.stats().exceptions == 1);
  CHECK(bus.stats().transactions == 1);
  CHECK(bus.read_input(kCell, 0, w) == BusResult::Ok);
}

TEST_CASE("bus: a lost connection is reconnected after the back-off, without a restart") {
  FakeModbusServer srv({kDrive, kCell});
  auto cfg = tcp_machine(srv.port());
  cfg.transport.retries = 0;
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  std::array<std::uint16_t, 4> w{};
  REQUIRE(bus.read_input(kCell, 0, w) == BusResult::Ok);
  srv.disconnect_client();
  CHECK(bus.read_input(kCell, 0, w) == BusResult::Disconnected);
  CHECK(bus.stats().disconnects == 1);
  // Within the back-off nothing is sent.
  const auto tx = bus.stats().transactions;
  CHECK(bus.read_input(kCell, 0, w) == BusResult::Disconnected);
  CHECK(bus.stats().transactions == tx);
  // It comes back by itself (the first back-off is 50 ms).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  BusResult r = BusResult::Disconnected;
  while (r != BusResult::Ok && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    r = bus.read_input(kCell, 0, w);
  }
  CHECK(r == BusResult::Ok);
  CHECK(bus.stats().reconnects == 1);
}

TEST_CASE("bus: while the server is gone, calls return at once and send nothing") {
  auto cfg = tcp_machine(1);
  {
    // A port that was just free: nothing listens there.
    FakeModbusServer probe({kDrive});
    cfg.transport.port = probe.port();
  }
  ModbusBus bus(cfg.transport);
  CHECK(bus.connect() == BusResult::Disconnected);
  CHECK_FALSE(bus.last_error().empty());
  std::array<std::uint16_t, 1> w{};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) CHECK(bus.read_holding(kDrive, 0, w) == BusResult::Disconnected);
  // 200 calls within the back-off: at most a few connection attempts, no waiting.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1000));
  CHECK(bus.stats().transactions == 0);
  CHECK(bus.stats().reconnects == 0);
}
