#pragma once
/// End-to-end harness: soleusd ↔ soleus-sim over real Modbus.
///
/// Principle of operation:
///  1. A simulator is started (TCP on a port the OS picks, or RTU on one end of
///     a fresh socat pty pair) with the athlete and faults a scenario asks for.
///  2. A copy of config/sim.toml pointing at it is written to a temporary
///     directory, and soleusd runs one set from it (--run-set), printing its
///     events, reps, results and trace samples as JSON lines.
///  3. The scenario may act while the set runs (inject a fault, kill the
///     daemon). Afterwards the simulator's ground truth is read, and the test
///     compares what the daemon reported with what really happened.
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "soleus/test_support/process.hpp"
#include "soleus/test_support/sim_process.hpp"

namespace soleus::e2e {

namespace json = boost::json;

struct Scenario {
  std::vector<std::string> sim_args;  ///< athlete and fault flags for soleus-sim
  std::string set_json;               ///< POST /api/v1/sets's body
  int trace_every = 0;                ///< trace sample every N cycles (0: none)
  bool rtu = false;                   ///< over RTU through a socat pty pair
  /// Replacements applied to config/sim.toml (text, then its replacement).
  std::vector<std::pair<std::string, std::string>> config_edits;
  std::chrono::seconds timeout{150};
  /// A command soleusd runs under (its arguments follow), e.g. with-journal-socket.sh.
  std::vector<std::string> daemon_prefix;
};

/// What a run produced.
struct Run {
  std::vector<json::object> reps, events, traces;
  std::optional<json::object> result;
  json::object truth;  ///< the simulator's ground truth after the set
  json::object state;  ///< the simulator's state after the set
  std::optional<int> exit_code;
  std::string daemon_output;

  int counted_reps() const;
  int partial_reps() const;
  std::string stop_reason() const;
  bool has_event(const std::string& code) const;
};

/// A running scenario, for tests that act during the set.
class Live {
 public:
  explicit Live(const Scenario& s);
  ~Live();
  test::SimProcess& sim() { return sim_; }
  test::ChildProcess& daemon() { return daemon_; }
  /// Waits (bounded) until the daemon has printed at least `n` lines of `type`.
  bool wait_for(const std::string& type, std::size_t n, std::chrono::milliseconds timeout);
  /// Waits for the daemon to exit, then collects everything.
  Run finish(std::chrono::milliseconds timeout);
  /// Collects what is there now (the daemon may have been killed).
  Run collect();
  json::object sim_json(const std::string& request);

 private:
  Scenario scenario_;
  test::TempDir dir_;
  std::optional<test::SocatPair> socat_;
  test::SimProcess sim_;
  test::ChildProcess daemon_;
};

/// Runs a scenario to the end of its set.
Run run(const Scenario& s);

double num(const json::value& v);

}  // namespace soleus::e2e
