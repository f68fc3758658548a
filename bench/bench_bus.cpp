// bench_bus: bus cost of one control cycle through the real drivers.
//
// Runs N control cycles (drive exchange + load-cell read, exactly what the
// control loop does) against a Modbus server — soleus-sim, or the machine —
// and prints transactions and bytes per cycle, and the cycle's duration
// (p50/p99/max). With soleus-sim's --wire-time the duration is what the RS-485
// wire would cost at the configured baud rate, so the highest loop rate the
// bus allows follows: 1 / p99.
//
// usage: bench_bus --config FILE [--port P] [--cycles N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "soleus/common/config_reader.hpp"
#include "soleus/drivers/devices.hpp"

using namespace soleus;

int main(int argc, char** argv) {
  std::string config_path;
  int port = 0, cycles = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (a == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
    else if (a == "--cycles" && i + 1 < argc) cycles = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: bench_bus --config FILE [--port P] [--cycles N]\n");
      return 1;
    }
  }
  if (config_path.empty() || cycles < 1) {
    std::fprintf(stderr, "usage: bench_bus --config FILE [--port P] [--cycles N]\n");
    return 1;
  }
  drivers::MachineConfig cfg;
  try {
    auto doc = config::Document::parse_file(config_path);
    cfg = drivers::MachineConfig::parse(doc.root());
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "bench_bus: %s\n", e.what());
    return 2;
  }
  if (port) cfg.transport.port = port;
  cfg.transport.response_timeout_ms = std::max(cfg.transport.response_timeout_ms, 50.0);
  drivers::ModbusBus bus(cfg.transport);
  auto drive = drivers::make_modbus_drive(bus, cfg);
  auto cell = drivers::make_modbus_load_cell(bus, cfg);
  if (bus.connect() != drivers::BusResult::Ok) {
    std::fprintf(stderr, "bench_bus: cannot connect: %s\n", bus.last_error().c_str());
    return 3;
  }
  machine::DriveCommand cmd;  // disabled, zero force: nothing moves
  machine::DriveStatus st;
  machine::LoadCellSample cs;
  // Warm up, then measure.
  for (int i = 0; i < 20; ++i) {
    (void)drive->exchange(cmd, st);
    (void)cell->read(cs);
  }
  const auto before = bus.stats();
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(cycles));
  int failed = 0;
  for (int i = 0; i < cycles; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = drive->exchange(cmd, st) == drivers::BusResult::Ok &&
                    cell->read(cs) == drivers::BusResult::Ok;
    const auto t1 = std::chrono::steady_clock::now();
    if (!ok) ++failed;
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  const auto after = bus.stats();
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[static_cast<std::size_t>(p * static_cast<double>(ms.size() - 1))];
  };
  const double n = cycles;
  const bool rtu = cfg.transport.kind == drivers::TransportConfig::Kind::Rtu;
  std::printf("transport            %s\n", rtu ? "rtu" : "tcp");
  std::printf("cycles               %d (%d failed)\n", cycles, failed);
  std::printf("transactions/cycle   %.2f\n",
              static_cast<double>(after.transactions - before.transactions) / n);
  std::printf(
      "bytes/cycle          %.1f (request %.1f + response %.1f)\n",
      static_cast<double>(after.bytes_tx + after.bytes_rx - before.bytes_tx - before.bytes_rx) / n,
      static_cast<double>(after.bytes_tx - before.bytes_tx) / n,
      static_cast<double>(after.bytes_rx - before.bytes_rx) / n);
  std::printf("cycle ms             p50 %.3f  p99 %.3f  max %.3f\n", pct(0.5), pct(0.99),
              ms.back());
  std::printf("max loop rate        %.1f Hz (1 / p99)\n", 1000.0 / pct(0.99));
  std::printf("errors               timeouts %llu, crc %llu, framing %llu, exceptions %llu\n",
              static_cast<unsigned long long>(after.timeouts - before.timeouts),
              static_cast<unsigned long long>(after.crc_errors - before.crc_errors),
              static_cast<unsigned long long>(after.framing_errors - before.framing_errors),
              static_cast<unsigned long long>(after.exceptions - before.exceptions));
  return failed == cycles ? 3 : 0;
}
