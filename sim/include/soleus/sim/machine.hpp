#pragma once
/// The simulated reference machine: servo drive, load cell, pad mechanics and
/// the virtual athlete, behind register tables laid out by the same machine
/// configuration the daemon uses.
///
/// Principle of operation:
///  1. Construction places every signal of the DriveMap and LoadCellMap at its
///     configured table, address, type, word order and scale; the rest of the
///     address space answers ILLEGAL DATA ADDRESS. Host-written signals are
///     writable holding registers; everything else is read-only. The status
///     mirror (when configured) repeats the status input-register block as
///     read-only holding registers.
///  2. step() advances 1 ms: drive (watchdog, limits, speed loop) → athlete
///     (force on the pad) → plant (motion, friction, hard stops) → load cell.
///     An outside force source (set_force_source) may take the athlete's
///     place: the controller's unit tests put their scripted athlete there.
///     Before any register is read (transact, reg, state) every output signal
///     is encoded into the tables with drivers::encode (applying the map's
///     sign conventions) from the state after the last step; values a type
///     cannot hold are saturated.
///  3. transact() runs one Modbus request under the machine's lock: the
///     transport-fault plan (outage, dropped reply, odd reply) is drawn, the
///     PDU is handled against the unit's tables, and holding-register writes
///     are decoded with drivers::decode and applied to the models at the
///     current simulation time. A refused value writes nothing.
///  4. The JSON control channel (truth, state, athlete, fault, bench, noise,
///     reset; docs/simulator.md) is ControlChannel (control_channel.hpp);
///     control(), control_line(), truth() and state() forward to it.
#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "soleus/drivers/machine_config.hpp"
#include "soleus/sim/athlete.hpp"
#include "soleus/sim/drive_model.hpp"
#include "soleus/sim/load_cell_model.hpp"
#include "soleus/sim/modbus_pdu.hpp"
#include "soleus/sim/plant.hpp"

namespace soleus::sim {

/// An injected misbehaviour of the next reply (for the drivers' tests).
enum class OddReply { None, BadCrc, WrongUnit, WrongTransaction, Exception };

/// The outcome of one request, for the transport to put on the wire.
struct Transaction {
  bool reply = false;  ///< false: say nothing (dropped, outage, unknown unit)
  std::uint8_t unit = 0;
  std::vector<std::uint8_t> pdu;  ///< reply PDU
  OddReply odd = OddReply::None;
};

/// Counters of the Modbus side, since start (or reset).
struct SimCounters {
  std::uint64_t requests = 0, replies = 0, exceptions = 0, dropped = 0, outage_ignored = 0,
                odd_replies = 0, unknown_unit = 0, bad_frames = 0, drive_power_cycles = 0;
};

/// The forces an outside source puts on the pad in one step, in place of the
/// virtual athlete's (Machine::set_force_source). N, positive up.
struct OutsideForces {
  double contact_n = 0;  ///< on the pad through the thighs: the load cell reads it
  double support_n =
      0;  ///< on the carriage, past the load cell (an obstruction under it): the cell does not
};
/// Called once per step with what the athlete would feel and the simulation
/// time, under the machine's lock: it must not call back into the Machine.
using ForceSource = std::function<OutsideForces(const AthleteInput& in, std::int64_t now_ms)>;

/// How long the drive answers nothing after its power returns (ICD, "Power-up").
inline constexpr double kDriveBootS = 1.5;

/// Machine-level noise (not the athlete's): load-cell noise and drift, drive
/// supply ripple. Kept across reset(); set with set_noise() or the control
/// channel's `noise` command.
struct NoiseSettings {
  double cell_noise_n = 0.4;      ///< load-cell rms noise per sample, N
  double cell_drift_n_per_s = 0;  ///< load-cell zero drift rate bound, N/s (ICD: ≤ 0.5)
  double cell_drift_max_n = 10;   ///< bound of the drift itself, N
  double drive_ripple_v = 0;      ///< DC-bus supply ripple amplitude, V (100 Hz)
};

class Machine {
 public:
  Machine(const drivers::MachineConfig& cfg, const AthleteSettings& athlete,
          std::uint64_t seed = 1);
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  /// One millisecond of simulation (takes the lock).
  void step();
  /// Steps until now_ms() reaches `ms`, at most `max_steps` (takes the lock once).
  int advance_to(std::int64_t ms, int max_steps = 1000);
  std::int64_t now_ms() const;

  /// Replaces the virtual athlete by an outside source of the forces on the
  /// pad (an empty one gives the athlete back). The athlete then records no
  /// truth. Kept across reset().
  void set_force_source(ForceSource source);

  /// Machine-level noise; applies at once (the load cell and drive keep their state).
  void set_noise(const NoiseSettings& n);
  NoiseSettings noise() const;

  /// One Modbus request PDU for `unit`; `tcp` selects the gateway's answer to
  /// an unknown unit (exception 0x0B) instead of RTU silence.
  Transaction transact(std::uint8_t unit, std::span<const std::uint8_t> pdu, bool tcp);
  /// A malformed frame seen by a transport (bad CRC, garbage), for the counters.
  void note_bad_frame();

  /// One request of the control channel (ControlChannel::handle, takes the
  /// lock); always returns an object with "ok".
  boost::json::object control(const boost::json::value& request);
  /// Same for a line of text (parses the JSON first).
  std::string control_line(const std::string& line);

  /// The control channel's `truth` and `state` answers (no lock).
  boost::json::object truth(double drop_pct = 20.0, int skip_reps = 0) const;
  boost::json::object state() const;

  // Direct access for unit tests (no lock: only while no server runs).
  DriveModel& drive() { return drive_; }
  LoadCellModel& cell() { return cell_; }
  Athlete& athlete() { return athlete_; }
  Plant& plant() { return plant_; }
  const drivers::MachineConfig& config() const { return cfg_; }
  /// Raw register of a unit's table (no lock), for tests.
  std::uint16_t reg(int unit, drivers::Table table, int address) const;
  SimCounters counters() const;

 private:
  struct Bank {
    std::vector<std::uint16_t> holding, input;
    std::vector<std::uint8_t> coil, discrete;
    std::vector<std::uint8_t> holding_kind;  // 0 absent, 1 writable, 2 read-only
    std::vector<std::uint8_t> input_def, coil_def, discrete_def;
    Bank();
  };
  class Target;
  friend class Target;
  friend class ControlChannel;  // the JSON control channel reads and sets the state below

  void step_locked();
  void reset_locked();
  void drive_power_up_registers();
  void power_cycle_drive(double boot_s);
  /// The drive's setup registers back at their power-up values (fault `setup_lost`).
  void lose_drive_setup();
  void define(Bank& b, const drivers::SignalSpec& s, bool writable);
  void put(Bank& b, const drivers::SignalSpec& s, double value) const;
  /// Encodes every output signal into the tables. step() only marks them
  /// stale; they are encoded when next read (sync_registers), so a host that
  /// polls every few ms does not pay for an encode every ms.
  void update_registers() const;
  void sync_registers() const {
    if (regs_stale_) update_registers();
  }
  modbus::Exception write_holding(int unit_index, int address,
                                  std::span<const std::uint16_t> values);
  Bank& bank(int unit_index) { return unit_index == 0 ? drive_bank_ : cell_bank_; }
  void apply_noise();

  mutable std::mutex mutex_;
  drivers::MachineConfig cfg_;
  AthleteSettings athlete_settings_;
  std::uint64_t seed_;
  NoiseSettings noise_{};
  std::int64_t now_ms_ = 0;
  DriveModel drive_;
  LoadCellModel cell_;
  Athlete athlete_;
  Plant plant_;
  ForceSource force_source_;
  mutable Bank drive_bank_, cell_bank_;
  mutable bool regs_stale_ = false;
  int mirror_lo_ = 0, mirror_hi_ = 0;  // status input block mirrored at status_mirror_address

  // Transport faults.
  std::mt19937_64 rng_;
  double drop_p_ = 0;
  // The maintenance bench: whether the athlete sits on the machine, a dead
  // weight on the pad (N, pulling down), and the load-cell transmitter's
  // gain error (it reports gain × the true force: out of calibration).
  bool bench_seated_ = true;
  double bench_weight_n_ = 0;
  double bench_cell_gain_ = 1;
  // How the load cell is mounted (docs/simulator.md, "The load cell's
  // reading"): false = it reads the user's contact force (the pad's weight
  // tared out); true = the pad's weight hangs on the cell once the pad is
  // off its lower stop (tared with the pad resting on the stop), so it reads
  // contact − pad weight in use.
  bool cell_pad_on_cell_ = false;
  std::int64_t outage_until_ms_ = -1;
  std::int64_t drive_boot_until_ms_ =
      -1;  ///< the drive boots after a power cycle: no answers until then
  int odd_left_[5] = {0, 0, 0, 0, 0};
  double odd_p_[4] = {0, 0, 0,
                      0};  ///< per-reply probability of each odd kind (after the counted ones)
  SimCounters counters_;
  double travel_fault_mm_s_ = 150.0;
};

}  // namespace soleus::sim
