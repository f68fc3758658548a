// Drivers ↔ soleus-sim over real Modbus: TCP, and RTU through a fresh socat
// pty pair per test (8N1 on the pty). Each test starts its own simulator on
// ports the OS chooses, and compares what the drivers decode with the
// simulator's own view (its control channel's "state" reply). mbpoll, a Modbus
// master nobody here wrote, cross-checks the simulator against the ICD.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "drivers_test_util.hpp"
#include "soleus/drivers/devices.hpp"
#include "soleus/drivers/modbus_bus.hpp"
#include "soleus/test_support/process.hpp"
#include "soleus/test_support/sim_process.hpp"

namespace json = boost::json;
using namespace soleus::drivers;
namespace machine = soleus::machine;
using soleus::test::SimProcess;
using soleus::test::SocatPair;

namespace {

const std::string kSimToml = soleus::test::config_path("sim.toml");
const std::string kVendorB = soleus::test::config_path("sim-vendor-b.toml");

double num(const json::value& v) {
  if (v.is_double()) return v.as_double();
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_bool()) return v.as_bool() ? 1.0 : 0.0;
  FAIL("not a number: " << json::serialize(v));
  return 0;
}

json::object request(const SimProcess& sim, const std::string& req) {
  const std::string reply = sim.control(req);
  json::value v = json::parse(reply);
  REQUIRE_MESSAGE(v.is_object(), reply);
  REQUIRE_MESSAGE(v.as_object().contains("ok"), reply);
  REQUIRE_MESSAGE(v.as_object().at("ok").as_bool(), reply);
  return v.as_object();
}

json::object state(const SimProcess& sim) { return request(sim, R"({"cmd":"state"})"); }

std::uint16_t raw_reg(const json::object& st, const char* unit, const char* table, int address) {
  return static_cast<std::uint16_t>(
      num(st.at("registers").at(unit).at(table).at(std::to_string(address))));
}

/// The simulator's configuration as the drivers see it, over TCP to `sim`.
MachineConfig tcp_to(const SimProcess& sim, const std::string& file = kSimToml) {
  auto cfg = soleus::test::load_machine(file);
  cfg.transport.kind = TransportConfig::Kind::Tcp;
  cfg.transport.host = "127.0.0.1";
  cfg.transport.port = sim.modbus_port();
  // Generous on a loaded test machine; the count tests need no retries.
  cfg.transport.response_timeout_ms = 500;
  cfg.transport.retries = 0;
  return cfg;
}

MachineConfig rtu_to(const std::string& device, const std::string& file = kSimToml) {
  auto cfg = soleus::test::load_machine(file);
  cfg.transport.kind = TransportConfig::Kind::Rtu;
  cfg.transport.device = device;
  cfg.transport.baud = 115200;
  cfg.transport.parity = 'N';
  cfg.transport.response_timeout_ms = 500;
  cfg.transport.byte_timeout_ms = 20;
  cfg.transport.retries = 0;
  return cfg;
}

/// Waits (bounded) until the pad and the load cell have settled after
/// start-up: moving values would change between the reads being compared.
void wait_at_rest(const SimProcess& sim) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int still = 0;
  while (still < 3 && std::chrono::steady_clock::now() < deadline) {
    const json::object st = state(sim);
    const auto& cell = st.at("load_cell").as_object();
    const bool settled = std::fabs(num(st.at("pad").at("velocity_mm_s"))) < 0.01 &&
                         (cell.at("stable").as_bool() || cell.at("adc_error").as_bool());
    still = settled ? still + 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE_MESSAGE(still >= 3, "the simulated pad did not come to rest");
}

/// Sandwiches the simulator's state between two driver reads, and checks every
/// ICD signal: flags and codes equal, numbers within their resolution.
void check_every_signal(const SimProcess& sim, const MachineConfig& cfg, ServoDrive& drive,
                        LoadCell& cell) {
  machine::DriveStatus d1, d2;
  machine::LoadCellSample c1, c2;
  REQUIRE(drive.read_status(d1) == BusResult::Ok);
  REQUIRE(cell.read(c1) == BusResult::Ok);
  const json::object st = state(sim);
  REQUIRE(drive.read_status(d2) == BusResult::Ok);
  REQUIRE(cell.read(c2) == BusResult::Ok);
  const auto& sd = st.at("drive").as_object();
  const auto& pad = st.at("pad").as_object();
  const auto& sc = st.at("load_cell").as_object();
  const auto within = [](double sim_value, double a, double b, double tol) {
    return sim_value >= std::min(a, b) - tol && sim_value <= std::max(a, b) + tol;
  };
  INFO("drivers: force " << c1.force_n << " / " << c2.force_n << " N, position " << d1.position_mm
                         << " / " << d2.position_mm << " mm, velocity " << d1.velocity_mm_s << " / "
                         << d2.velocity_mm_s << " mm/s");
  INFO("state: " << json::serialize(st.at("drive")) << json::serialize(st.at("pad"))
                 << json::serialize(st.at("load_cell")));
  CHECK(d2.ready == sd.at("ready").as_bool());
  CHECK(d2.enabled == sd.at("enabled").as_bool());
  CHECK(d2.fault == sd.at("fault").as_bool());
  CHECK(d2.sto == sd.at("sto").as_bool());
  CHECK(d2.speed_limited == sd.at("speed_limited").as_bool());
  CHECK(d2.torque_limited == sd.at("torque_limited").as_bool());
  CHECK(d2.fault_code == static_cast<int>(num(sd.at("fault_code"))));
  // Within one count and a half of the map's position resolution.
  const double count_mm = std::fabs(cfg.drive.position.scale) / cfg.mechanics.counts_per_mm;
  CHECK(within(num(pad.at("position_mm")), d1.position_mm, d2.position_mm, 1.5 * count_mm));
  CHECK(within(num(pad.at("velocity_mm_s")), d1.velocity_mm_s, d2.velocity_mm_s, 0.17));
  CHECK(within(num(sd.at("torque_pct")), d1.torque_pct, d2.torque_pct, 0.051));
  CHECK(within(num(sd.at("temperature_c")), d1.temperature_c, d2.temperature_c, 0.051));
  // The simulated DC bus has a ripple of ±0.5 V (0.7 and 13.3 Hz), which is not
  // monotonic between the reads: allow it (a wrong scale would be off by 10×).
  CHECK(within(num(sd.at("bus_voltage_v")), d1.bus_voltage_v, d2.bus_voltage_v, 0.6));
  CHECK(d2.bus_voltage_v > 100.0);
  CHECK(within(num(sc.at("force_n")), c1.force_n, c2.force_n, 0.051));
  CHECK(c2.stable == sc.at("stable").as_bool());
  CHECK(c2.overload == sc.at("overload").as_bool());
  CHECK(c2.adc_error == sc.at("adc_error").as_bool());
  CHECK(c2.tare_busy == sc.at("tare_busy").as_bool());
  const auto counter = static_cast<std::uint32_t>(num(sc.at("counter")));
  const std::uint32_t m = 65536;
  CHECK((counter - c1.counter) % m <= (c2.counter - c1.counter) % m);
}

void check_signals_with_faults(const SimProcess& sim, const MachineConfig& cfg, ServoDrive& drive,
                               LoadCell& cell) {
  wait_at_rest(sim);
  // The simulated cell has sample noise: freeze it so that the comparison is exact.
  request(sim, R"({"cmd":"fault","kind":"cell_freeze","on":true})");
  check_every_signal(sim, cfg, drive, cell);
  request(sim, R"({"cmd":"fault","kind":"drive_fault","code":4})");
  request(sim, R"({"cmd":"fault","kind":"sto","on":true})");
  request(sim, R"({"cmd":"fault","kind":"overload"})");
  request(sim, R"({"cmd":"fault","kind":"adc_error","on":true})");
  machine::DriveStatus d;
  REQUIRE(drive.read_status(d) == BusResult::Ok);
  CHECK(d.fault);
  CHECK(d.sto);
  CHECK(d.fault_code == 4);
  CHECK(drive.fault_name(d.fault_code) == "over-temperature");
  machine::LoadCellSample c;
  REQUIRE(cell.read(c) == BusResult::Ok);
  CHECK(c.overload);
  CHECK(c.adc_error);
  check_every_signal(sim, cfg, drive, cell);
  request(sim, R"({"cmd":"fault","kind":"clear"})");
}

/// A load cell whose counter moved: it is live, sampled at about 200 Hz.
void check_counter_moves(LoadCell& cell) {
  machine::LoadCellSample a, b;
  REQUIRE(cell.read(a) == BusResult::Ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  REQUIRE(cell.read(b) == BusResult::Ok);
  CHECK(b.counter != a.counter);
}

}  // namespace

TEST_CASE("sim tcp: every ICD signal reads back as the simulator set it") {
  SimProcess sim;
  sim.start_tcp(kSimToml, {"--noise-n", "0"});
  const auto cfg = tcp_to(sim);
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  auto cell = make_modbus_load_cell(bus, cfg);
  check_signals_with_faults(sim, cfg, *drive, *cell);
  check_counter_moves(*cell);
}

TEST_CASE("sim rtu: every ICD signal reads back as the simulator set it (socat pty pair)") {
  SocatPair pty;
  SimProcess sim;
  sim.start_rtu(kSimToml, pty.b(), 115200, "N", {"--noise-n", "0"});
  const auto cfg = rtu_to(pty.a());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  auto cell = make_modbus_load_cell(bus, cfg);
  check_signals_with_faults(sim, cfg, *drive, *cell);
  check_counter_moves(*cell);
}

TEST_CASE("sim: configure() arms COMM_TIMEOUT, TORQUE_LIMIT, SPEED_LIMIT and TORQUE_SLEW") {
  SimProcess sim;
  sim.start_tcp(kSimToml);
  const auto cfg = tcp_to(sim);
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  // Before: the ICD's default torque limit.
  CHECK(raw_reg(state(sim), "drive", "holding", 5) == 3000);
  std::string detail;
  REQUIRE_MESSAGE(
      drive->configure(machine::DriveSetup::from_limits(cfg.limits), detail) == BusResult::Ok,
      detail);
  const json::object st = state(sim);
  const auto& sd = st.at("drive").as_object();
  CHECK(num(sd.at("comm_timeout_ms")) == doctest::Approx(100.0));
  CHECK(num(sd.at("torque_limit_pct")) == doctest::Approx(81.0));
  CHECK(num(sd.at("speed_limit_rpm")) == doctest::Approx(600.0));
  CHECK(num(sd.at("torque_slew_pct_ms")) == doctest::Approx(0.2));
  CHECK(raw_reg(st, "drive", "holding", 4) == 100);
  CHECK(raw_reg(st, "drive", "holding", 5) == 810);
}

namespace {

/// One exchange and one load-cell read: the transactions and bytes of one
/// control cycle, and what the simulator counted.
void check_one_cycle(const SimProcess& sim, ModbusBus& bus, ServoDrive& drive, LoadCell& cell,
                     std::uint64_t drive_tx, std::uint64_t drive_rx, std::uint64_t cell_tx,
                     std::uint64_t cell_rx) {
  machine::DriveStatus st;
  machine::LoadCellSample s;
  REQUIRE(drive.read_status(st) == BusResult::Ok);  // warm up the link
  const double requests0 = num(state(sim).at("counters").at("requests"));
  BusStats s0 = bus.stats();
  machine::DriveCommand cmd;  // disabled, no torque: nothing moves
  REQUIRE(drive.exchange(cmd, st) == BusResult::Ok);
  BusStats s1 = bus.stats();
  CHECK(s1.transactions - s0.transactions == 1);
  CHECK(s1.bytes_tx - s0.bytes_tx == drive_tx);
  CHECK(s1.bytes_rx - s0.bytes_rx == drive_rx);
  REQUIRE(cell.read(s) == BusResult::Ok);
  BusStats s2 = bus.stats();
  CHECK(s2.transactions - s1.transactions == 1);
  CHECK(s2.bytes_tx - s1.bytes_tx == cell_tx);
  CHECK(s2.bytes_rx - s1.bytes_rx == cell_rx);
  // The simulator saw exactly these two requests (the state query is not Modbus).
  CHECK(num(state(sim).at("counters").at("requests")) - requests0 == 2);
  MESSAGE("one control cycle: " << (s2.transactions - s0.transactions) << " transactions, "
                                << (s2.bytes_tx - s0.bytes_tx) + (s2.bytes_rx - s0.bytes_rx)
                                << " bytes");
}

}  // namespace

TEST_CASE("sim tcp: one cycle is one FC 23 and one FC 04") {
  SimProcess sim;
  sim.start_tcp(kSimToml);
  const auto cfg = tcp_to(sim);
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  auto cell = make_modbus_load_cell(bus, cfg);
  // TCP: MBAP 7 + PDU.
  check_one_cycle(sim, bus, *drive, *cell, 7 + 14, 7 + 18, 7 + 5, 7 + 10);
  // The command reached the drive: ENABLE with a torque for 100 N.
  machine::DriveCommand cmd;
  cmd.enable = true;
  cmd.force_n = 100.0;
  machine::DriveStatus st;
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
  const auto sd = state(sim).at("drive").as_object();
  CHECK((static_cast<int>(num(sd.at("control"))) & 1) == 1);
  CHECK(num(sd.at("torque_cmd_pct")) ==
        doctest::Approx(cfg.mechanics.torque_pct_for_force(100.0, false)).epsilon(0.02));
  cmd.enable = false;
  REQUIRE(drive->exchange(cmd, st) == BusResult::Ok);
}

TEST_CASE("sim rtu: one cycle is 17 + 21 and 8 + 13 bytes, as in the ICD's bus budget") {
  SocatPair pty;
  SimProcess sim;
  sim.start_rtu(kSimToml, pty.b(), 115200, "N");
  const auto cfg = rtu_to(pty.a());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  auto cell = make_modbus_load_cell(bus, cfg);
  check_one_cycle(sim, bus, *drive, *cell, 17, 21, 8, 13);
}

TEST_CASE("mbpoll reads the simulator's registers and gets the ICD's values") {
  SimProcess sim;
  sim.start_tcp(kSimToml, {"--noise-n", "0"});
  const std::string port = std::to_string(sim.modbus_port());
  const auto poll = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"mbpoll", "-m", "tcp", "-p", port, "-0", "-1", "-o", "2"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.emplace_back("127.0.0.1");
    const auto r = soleus::test::run_command(argv);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return soleus::test::mbpoll_values(r.output);
  };
  // Unit 1 holding 0..5: CONTROL .. TORQUE_LIMIT. TORQUE_LIMIT defaults to 3000.
  auto h = poll({"-a", "1", "-t", "4", "-r", "0", "-c", "6"});
  REQUIRE(h.size() == 6);
  CHECK(h[5] == "3000");
  const json::object st = state(sim);
  CHECK(std::stoi(h[4]) == static_cast<int>(num(st.at("drive").at("comm_timeout_ms"))));
  // Unit 1 input 0: STATUS with READY (bit 0) set, no FAULT (bit 2).
  auto in = poll({"-a", "1", "-t", "3", "-r", "0", "-c", "2"});
  REQUIRE(in.size() == 2);
  CHECK((std::stoi(in[0]) & 0x1) == 1);
  CHECK((std::stoi(in[0]) & 0x4) == 0);
  CHECK(in[1] == "0");
  // POSITION as a 32-bit big-endian integer: counts = 1000 per mm.
  auto pos = poll({"-a", "1", "-t", "3:int", "-B", "-r", "2", "-c", "1"});
  REQUIRE(pos.size() == 1);
  CHECK(std::stod(pos[2]) ==
        doctest::Approx(num(state(sim).at("pad").at("position_mm")) * 1000.0).epsilon(0.01));
  // The status mirror at holding 100 repeats input 0.
  auto mirror = poll({"-a", "1", "-t", "4", "-r", "100", "-c", "1"});
  CHECK(mirror[100] == in[0]);
  // Unit 2: the sample counter moves.
  auto c1 = poll({"-a", "2", "-t", "3", "-r", "3", "-c", "1"});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto c2 = poll({"-a", "2", "-t", "3", "-r", "3", "-c", "1"});
  REQUIRE(c1.count(3) == 1);
  REQUIRE(c2.count(3) == 1);
  CHECK(c1[3] != c2[3]);
}

TEST_CASE("sim faults: dropped replies are counted timeouts") {
  SimProcess sim;
  sim.start_tcp(kSimToml);
  auto cfg = tcp_to(sim);
  cfg.transport.response_timeout_ms = 30;
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto cell = make_modbus_load_cell(bus, cfg);
  machine::LoadCellSample s;
  REQUIRE(cell->read(s) == BusResult::Ok);
  request(sim, R"({"cmd":"fault","kind":"drop","p":1.0})");
  for (int i = 0; i < 3; ++i) CHECK(cell->read(s) == BusResult::Timeout);
  CHECK(bus.stats().timeouts == 3);
  request(sim, R"({"cmd":"fault","kind":"drop","p":0.0})");
  CHECK(cell->read(s) == BusResult::Ok);
}

TEST_CASE("sim faults: reads recover after an outage without restarting anything (TCP)") {
  SimProcess sim;
  sim.start_tcp(kSimToml);
  auto cfg = tcp_to(sim);
  cfg.transport.response_timeout_ms = 20;
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  machine::DriveStatus st;
  REQUIRE(drive->read_status(st) == BusResult::Ok);
  request(sim, R"({"cmd":"fault","kind":"outage","seconds":0.5})");
  // Poll like a control loop would (every 10 ms) until the drive answers again.
  const auto start = std::chrono::steady_clock::now();
  int failures = 0;
  BusResult r = BusResult::Timeout;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    r = drive->read_status(st);
    if (r == BusResult::Ok && failures > 0) break;
    if (r != BusResult::Ok) ++failures;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(r == BusResult::Ok);
  CHECK(failures > 0);
  CHECK(bus.stats().timeouts > 0);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds(400));
  CHECK(elapsed < std::chrono::milliseconds(3500));  // outage + at most the 2 s back-off
  MESSAGE("outage: " << failures << " failed reads, " << bus.stats().timeouts << " timeouts, "
                     << bus.stats().disconnects << " disconnects, " << bus.stats().reconnects
                     << " reconnects");
}

#ifdef SOLEUS_HAVE_VENDOR_B
TEST_CASE(
    "sim vendor B: another map (float32 force low word first, no mirror) by configuration alone") {
  SimProcess sim;
  sim.start_tcp(kVendorB, {"--noise-n", "0"});
  const auto cfg = tcp_to(sim, kVendorB);
  REQUIRE(cfg.drive.status_mirror_address < 0);
  REQUIRE(cfg.load_cell.force.type == ValueType::F32);
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  auto cell = make_modbus_load_cell(bus, cfg);
  std::string detail;
  REQUIRE_MESSAGE(
      drive->configure(machine::DriveSetup::from_limits(cfg.limits), detail) == BusResult::Ok,
      detail);
  check_signals_with_faults(sim, cfg, *drive, *cell);
  // Without a mirror a cycle costs a write and the batched reads, still no
  // more than one transaction per table region.
  machine::DriveStatus st;
  const auto t0 = bus.stats().transactions;
  REQUIRE(drive->exchange(machine::DriveCommand{}, st) == BusResult::Ok);
  const auto per_cycle = bus.stats().transactions - t0;
  CHECK(per_cycle >= 2);
  CHECK(per_cycle <= 4);
  MESSAGE("vendor B: " << per_cycle << " transactions per drive exchange");
  // NaN from the float force register is reported, never passed on as a number.
  request(sim, R"({"cmd":"fault","kind":"clear"})");  // an ADC error would mask the NaN
  machine::LoadCellSample s;
  REQUIRE(cell->read(s) == BusResult::Ok);
  request(sim, R"({"cmd":"fault","kind":"nan_force","on":true})");
  // The transmitter publishes it with its next sample (200 Hz): allow a few.
  const auto read_until = [&](BusResult want) {
    BusResult r = BusResult::Ok;
    for (int i = 0; i < 50 && (r = cell->read(s)) != want; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return r;
  };
  CHECK(read_until(BusResult::BadValue) == BusResult::BadValue);
  s.force_n = 12345.0;
  CHECK(cell->read(s) == BusResult::BadValue);
  CHECK(s.force_n == 12345.0);  // the sample is not overwritten with garbage
  request(sim, R"({"cmd":"fault","kind":"nan_force","on":false})");
  CHECK(read_until(BusResult::Ok) == BusResult::Ok);
  CHECK(std::isfinite(s.force_n));
}
#endif

TEST_CASE(
    "sim faults: a bad CRC (RTU) and an odd reply (TCP) are counted by class, and the bus goes "
    "on") {
  {
    SocatPair pty;
    SimProcess sim;
    sim.start_rtu(kSimToml, pty.b(), 115200, "N");
    const auto cfg = rtu_to(pty.a());
    ModbusBus bus(cfg.transport);
    REQUIRE(bus.connect() == BusResult::Ok);
    auto cell = make_modbus_load_cell(bus, cfg);
    machine::LoadCellSample s;
    REQUIRE(cell->read(s) == BusResult::Ok);
    request(sim, R"({"cmd":"fault","kind":"bad_crc","count":1})");
    CHECK(cell->read(s) == BusResult::CrcError);
    CHECK(bus.stats().crc_errors == 1);
    CHECK(cell->read(s) == BusResult::Ok);
  }
  SimProcess sim;
  sim.start_tcp(kSimToml);
  const auto cfg = tcp_to(sim);
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto cell = make_modbus_load_cell(bus, cfg);
  machine::LoadCellSample s;
  REQUIRE(cell->read(s) == BusResult::Ok);
  request(sim, R"({"cmd":"fault","kind":"exception","count":1})");
  CHECK(cell->read(s) == BusResult::Exception);
  CHECK(bus.stats().exceptions == 1);
  request(sim, R"({"cmd":"fault","kind":"wrong_tid","count":1})");
  CHECK(cell->read(s) == BusResult::FramingError);
  CHECK(bus.stats().framing_errors == 1);
  CHECK(cell->read(s) == BusResult::Ok);
}
