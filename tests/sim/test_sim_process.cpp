// soleus-sim as a program: mbpoll (a Modbus master nobody here wrote) reads
// the ICD's values over TCP and over RTU through a socat pty pair; the control
// channel and --ctl; wire-time emulation; clean exit on SIGTERM.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <regex>
#include <thread>

#include "soleus/test_support/sim_process.hpp"

using namespace soleus::test;

namespace {
std::string cfg(const std::string& name) {
  return std::string(SOLEUS_SOURCE_DIR) + "/config/" + name;
}

/// Runs mbpoll once and returns {reference: value} from its "[ref]: value" lines.
std::map<int, long long> mbpoll(std::vector<std::string> args) {
  args.insert(args.begin(), "mbpoll");
  const RunResult r = run_command(args, std::chrono::milliseconds(10000));
  INFO("mbpoll output:\n" << r.output);
  REQUIRE(r.exit_code == 0);
  std::map<int, long long> out;
  static const std::regex line(R"(\[(\d+)\]:\s+(-?\d+))");
  for (std::sregex_iterator it(r.output.begin(), r.output.end(), line), end; it != end; ++it)
    out[std::stoi((*it)[1])] = std::stoll((*it)[2]);
  return out;
}

bool have(const char* prog) {
  return run_command({"sh", "-c", std::string("command -v ") + prog}).exit_code == 0;
}

boost::json::object ctl(const SimProcess& sim, const std::string& req) {
  return boost::json::parse(sim.control(req)).as_object();
}
}  // namespace

TEST_CASE("soleus-sim over TCP: mbpoll reads the ICD's registers, the load-cell counter moves") {
  REQUIRE(sim_available());
  if (!have("mbpoll")) return;
  SimProcess sim;
  sim.start_tcp(cfg("sim.toml"));
  const std::string port = std::to_string(sim.modbus_port());
  const std::vector<std::string> tcp{"-m", "tcp", "-p", port, "-0", "-1", "-o", "2"};
  auto with = [&](std::vector<std::string> a, std::vector<std::string> values = {}) {
    a.insert(a.end(), tcp.begin(), tcp.end());
    a.emplace_back("127.0.0.1");
    a.insert(a.end(), values.begin(), values.end());
    return a;
  };
  // Unit 1 holding 0..5: CONTROL, TORQUE_CMD, SPEED_LIMIT, TORQUE_SLEW, COMM_TIMEOUT, TORQUE_LIMIT.
  auto hr = mbpoll(with({"-a", "1", "-t", "4", "-r", "0", "-c", "6"}));
  CHECK(hr[0] == 0);
  CHECK(hr[2] == 3000);
  CHECK(hr[4] == 0);
  CHECK(hr[5] == 3000);
  // Input 0: STATUS READY; position s32 high word first (mbpoll -B) ≈ 30 mm = 30000 counts.
  auto st = mbpoll(with({"-a", "1", "-t", "3", "-r", "0", "-c", "2"}));
  CHECK(st[0] == 1);
  CHECK(st[1] == 0);
  auto pos = mbpoll(with({"-a", "1", "-t", "3:int", "-B", "-r", "2", "-c", "1"}));
  CHECK(pos[2] == doctest::Approx(30000).epsilon(0.02));
  // mbpoll writes COMM_TIMEOUT; it reads back.
  mbpoll(with({"-a", "1", "-t", "4", "-r", "4"}, {"250"}));
  CHECK(mbpoll(with({"-a", "1", "-t", "4", "-r", "4", "-c", "1"}))[4] == 250);
  // Unit 2: the sample counter moves at 200 Hz.
  const auto c1 = mbpoll(with({"-a", "2", "-t", "3", "-r", "3", "-c", "1"}))[3];
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto c2 = mbpoll(with({"-a", "2", "-t", "3", "-r", "3", "-c", "1"}))[3];
  const long long moved = (c2 - c1 + 65536) % 65536;
  CHECK(moved >= 40);
  CHECK(moved <= 200);
  // The control channel sees the same machine.
  auto state = ctl(sim, R"({"cmd":"state"})");
  CHECK(state["drive"].as_object()["comm_timeout_ms"].to_number<double>() == 250);
  auto truth = ctl(sim, R"({"cmd":"truth"})");
  CHECK(truth["ok"].as_bool());
  // --ctl exits non-zero for a refused request.
  CHECK(run_command(
            {sim_executable(), "--ctl", std::to_string(sim.control_port()), R"({"cmd":"nope"})"})
            .exit_code == 1);
  // Clean exit on SIGTERM.
  sim.stop();
}

TEST_CASE("soleus-sim over RTU: both unit ids answer on one socat pty pair (mbpoll RTU, 8N1)") {
  REQUIRE(sim_available());
  if (!have("mbpoll") || !have("socat")) return;
  SocatPair pair;
  SimProcess sim;
  sim.start_rtu(cfg("sim.toml"), pair.a(), 115200, "N");
  const std::vector<std::string> rtu{"-m",   "rtu", "-b", "115200", "-P",
                                     "none", "-0",  "-1", "-o",     "1"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), rtu.begin(), rtu.end());
    a.push_back(pair.b());
    return a;
  };
  auto hr = mbpoll(with({"-a", "1", "-t", "4", "-r", "0", "-c", "6"}));
  CHECK(hr[5] == 3000);
  auto mirror = mbpoll(with({"-a", "1", "-t", "4", "-r", "100", "-c", "8"}));
  CHECK(mirror[100] == 1);
  auto cell = mbpoll(with({"-a", "2", "-t", "4", "-r", "0", "-c", "2"}));
  CHECK(cell[0] == 0);
  CHECK(cell[1] == 0);
  auto counters = ctl(sim, R"({"cmd":"state"})")["counters"].as_object();
  CHECK(counters["replies"].to_number<std::int64_t>() >= 3);
  CHECK(counters["bad_frames"].to_number<std::int64_t>() == 0);
}

TEST_CASE("soleus-sim --wire-time: an FC 04 to the load cell takes about the ICD's 6.0 ms") {
  REQUIRE(sim_available());
  SimProcess sim;
  sim.start_tcp(cfg("sim.toml"), {"--wire-time", "--baud", "115200"});
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(sim.modbus_port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const int n = 20;
  double best = 1e9;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const std::uint8_t req[12] = {0, static_cast<std::uint8_t>(i), 0, 0, 0, 6, 2, 0x04, 0, 0, 0, 4};
    const auto s = std::chrono::steady_clock::now();
    REQUIRE(::write(fd, req, sizeof req) == static_cast<ssize_t>(sizeof req));
    std::uint8_t rep[64];
    std::size_t got = 0;
    while (got < 17) {  // MBAP 7 + 04 08 + 8 bytes
      const ssize_t r = ::read(fd, rep + got, sizeof rep - got);
      REQUIRE(r > 0);
      got += static_cast<std::size_t>(r);
    }
    CHECK(rep[1] == static_cast<std::uint8_t>(i));
    best = std::min(
        best,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  const double mean =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / n;
  ::close(fd);
  CHECK(best >= 5.9);
  CHECK(mean < 12.0);
}

TEST_CASE("soleus-sim: a bad config is refused with the file, line and key") {
  REQUIRE(sim_available());
  TempDir dir;
  const std::string bad = dir.file("bad.toml");
  {
    FILE* f = std::fopen(bad.c_str(), "w");
    REQUIRE(f);
    const std::string text = R"([transport]
kind = "tcp"
[drive]
[drive.registers]
control = { table = "holding", address = 0, type = "u16" }
)";
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  const RunResult r = run_command({sim_executable(), "--config", bad, "--tcp", "0"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("bad.toml") != std::string::npos);
  CHECK(run_command({sim_executable(), "--help"}).exit_code == 0);
}
