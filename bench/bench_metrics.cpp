// The cost of one GET /metrics rendering: a MetricsView as soleusd fills it
// (every block, the outbox included, 18 stop reasons) rendered N times.
// Prints the bytes of one exposition and the mean time per render.
//   build/bench/bench_metrics [N]        (N = 20000)
// Instructions of one render with callgrind:
//   valgrind --tool=callgrind --toggle-collect='soleus::hmi::render_metrics*'
//            build/bench/bench_metrics 1
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "soleus/hmi/metrics.hpp"

int main(int argc, char** argv) {
  using namespace soleus::hmi;
  const long n = argc > 1 ? std::atol(argv[1]) : 20000;
  MetricsView v;
  v.version = "0.1.0";
  v.start_time_s = 1796624234.754;
  v.state = "active";
  v.armed = true;
  v.loop = {100.2, 100, 9.99, 10.07, 12.7, 12, 3600000, 0, 0, 0, 0, 0};
  v.bus = {3600000, 7200000, 3, 1, 2, 1, 0, 119000000, 151000000, true};
  v.drive_temperature_c = 41.5;
  v.drive_bus_voltage_v = 325.2;
  v.odometer = OdometerView{123456, 10234, 812.5, 1830.2, 1790000000000};
  for (const char* r :
       {"target_reached", "hold_complete", "force_drop", "range_loss", "pace_loss", "stall",
        "loss_of_control", "user_stop", "pain", "user_left", "estop", "drive_fault", "comm_loss",
        "sensor_fault", "overspeed", "travel_limit", "storage_fault", "shutdown"})
    v.stops.push_back({r, 17, 204});
  v.storage = StorageHealthView{true, true, "", 0, 120000, 9000000, 40000, 0, 0, 0, 0};
  HistogramView h;
  h.bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
  h.buckets = {0, 10, 2000, 30000, 39000, 39900, 40000, 40000, 40000, 40000, 40000, 40000};
  h.count = 40000;
  h.sum = 180.25;
  v.storage_commit = h;
  v.outbox = OutboxMetricsView{{{"set", 3}, {"event", 12}, {"metrics", 40}}, 95.5, 0, false};

  std::size_t bytes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) bytes += render_metrics(v).size();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("bench_metrics: one exposition %zu bytes; %ld renders, %.1f us each\n",
              n > 0 ? bytes / static_cast<std::size_t>(n) : 0, n,
              n > 0 ? s / static_cast<double>(n) * 1e6 : 0.0);
  return 0;
}
