// Hazard 5 (docs/safety.md): a property test from the controller's final
// clamp through the drive's unit conversion into the TORQUE_CMD register: over
// random inputs (NaN and ±inf included), the torque written never exceeds the
// TORQUE_LIMIT that configure() armed and read back, in either friction
// assumption, and a command that cannot be encoded writes 0.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "drivers_test_util.hpp"
#include "soleus/controller/clamp.hpp"
#include "soleus/drivers/devices.hpp"
#include "soleus/drivers/modbus_bus.hpp"
#include "soleus/test_support/fake_modbus_server.hpp"

using namespace soleus::drivers;
namespace machine = soleus::machine;
using soleus::test::FakeModbusServer;
using soleus::test::tcp_machine;

TEST_CASE(
    "clamp to drive: 20 000 random commands, NaN and +-inf: the torque written never exceeds the "
    "armed TORQUE_LIMIT") {
  constexpr int kDrive = 1, kCell = 2;
  FakeModbusServer srv({kDrive, kCell});
  const auto cfg = tcp_machine(srv.port());
  ModbusBus bus(cfg.transport);
  REQUIRE(bus.connect() == BusResult::Ok);
  auto drive = make_modbus_drive(bus, cfg);
  std::string detail;
  REQUIRE(drive->configure(machine::DriveSetup::from_limits(cfg.limits), detail) == BusResult::Ok);
  const int limit_raw = srv.holding(kDrive, 5);  // 0.1 % of rated
  REQUIRE(limit_raw > 0);
  for (int i = 0; i < 8; ++i) srv.set_input(kDrive, i, i == 0 ? 0x0003 : 0);
  for (int i = 0; i < 8; ++i) srv.set_holding(kDrive, 100 + i, i == 0 ? 0x0003 : 0);

  soleus::controller::OutputClamp clamp(cfg.limits, 3.0, 3.0);
  clamp.set_drive_slew(drive->armed_slew_n_per_s());
  std::mt19937_64 rng(20261206);
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  auto pick = [&](double lo, double hi) {
    switch (rng() % 20) {
      case 0: return nan;
      case 1: return inf;
      case 2: return -inf;
      case 3: return (rng() % 2 ? 1.0 : -1.0) * 1e12;
      default: return lo + (hi - lo) * std::uniform_real_distribution<double>(0, 1)(rng);
    }
  };
  int written = 0, zeros = 0, worst_raw = 0;
  for (int i = 0; i < 20000; ++i) {
    const double asked = pick(-4000, 6000);
    const double pos = pick(-10, 160), vel = pick(-300, 300), floor = pick(-5, 80);
    const double dt = rng() % 50 == 0 ? pick(-1, 1) : 0.01;
    const double out = clamp.apply(asked, pos, vel, floor, dt);
    machine::DriveCommand cmd;
    cmd.enable = true;
    cmd.force_n = out;
    cmd.back_driven = rng() % 2 == 0;
    machine::DriveStatus st;
    const BusResult r = drive->exchange(cmd, st);
    const int raw = static_cast<std::int16_t>(srv.holding(kDrive, 1));
    CAPTURE(i);
    CAPTURE(asked);
    CAPTURE(out);
    CAPTURE(cmd.back_driven);
    CHECK(std::abs(raw) <= limit_raw);
    worst_raw = std::max(worst_raw, std::abs(raw));
    if (r == BusResult::Ok) ++written;
    else {
      CHECK(raw == 0);  // not encodable: zeros go out
      ++zeros;
    }
  }
  MESSAGE("clamp to drive: " << written << " commands written, " << zeros
                             << " refused as zeros; largest torque " << worst_raw / 10.0
                             << " % of rated against TORQUE_LIMIT " << limit_raw / 10.0 << " %");
  CHECK(written > 15000);
}
