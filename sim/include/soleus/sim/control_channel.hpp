#pragma once
/// The simulator's JSON control channel: one request object {"cmd": ...} in,
/// one reply object with "ok" out (docs/simulator.md, "The control channel").
/// It is the simulator's test and demo interface, not part of the machine: the
/// machine model (machine.hpp) knows nothing of JSON requests.
///
/// Principle of operation:
///  1. handle() checks the request's shape and its "cmd", reads the command's
///     keys (refusing unknown keys and values out of range with
///     {"ok":false,"error":...}), and runs it under the machine's lock: ping,
///     truth, state, athlete, fault, bench, noise, reset, help.
///  2. truth() and state() are the answers to `truth` and `state`: the
///     athlete's ground truth, and every model's state, the injected faults,
///     the counters and the raw registers. The caller holds the machine's lock.
///  3. Machine::control(), Machine::control_line(), Machine::truth() and
///     Machine::state() forward here (callers keep the Machine's interface).
#include <boost/json.hpp>
#include <string>

namespace soleus::sim {

class Machine;

class ControlChannel {
 public:
  explicit ControlChannel(Machine& machine) : m_(machine) {}

  /// One request; always returns an object with "ok" (and "error" when false).
  boost::json::object handle(const boost::json::value& request);
  /// Same for a line of text (parses the JSON first).
  std::string handle_line(const std::string& line);

  /// The athlete's ground truth (the `truth` command). Caller holds the lock.
  static boost::json::object truth(const Machine& m, double drop_pct, int skip_reps);
  /// Every model's state, faults, counters and raw registers (the `state`
  /// command). Caller holds the lock.
  static boost::json::object state(const Machine& m);

 private:
  // The commands that change the machine; the caller holds the lock.
  boost::json::object fault_cmd(const boost::json::object& req);
  boost::json::object athlete_cmd(const boost::json::object& req);
  boost::json::object bench_cmd(const boost::json::object& req);
  boost::json::object noise_cmd(const boost::json::object& req);

  static boost::json::object noise_json(const Machine& m);
  static boost::json::object settings_json(const Machine& m);
  static boost::json::object registers_json(const Machine& m, int unit_index);

  Machine& m_;
};

}  // namespace soleus::sim
