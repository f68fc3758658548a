#pragma once
/// MachineIo: the only way the controller touches the machine.
///
/// Principle of operation:
///  1. The control loop calls exchange() exactly once per cycle. It writes the
///     command computed in the previous cycle and reads the drive status and
///     the load cell. With a status mirror on the drive (FC 23), the write and
///     the drive read are one transaction, so the command of cycle k reaches
///     the drive at the start of cycle k+1: one period of latency, always.
///  2. exchange() never throws and never blocks longer than the bus timeouts.
///     A failed read is reported with drive_ok / cell_ok = false; the values
///     of a failed read are not used (the supervisor counts them).
///  3. arm() writes COMM_TIMEOUT, TORQUE_LIMIT, SPEED_LIMIT and TORQUE_SLEW and
///     reads them back; verify_setup() only reads them back and compares.
///     The loop arms at boot, after a reconnect and whenever "armed" was
///     cleared (a drive fault, a drive not READY, no answer for more than two
///     cycles, a read-back that differs); it verifies before every enable and
///     once a second. Until armed, the supervisor refuses to enable the drive
///     and the loop never writes ENABLE without QUICK_STOP.
///  4. The implementation (Modbus in drivers/, the proving ground's in-process
///     bus, fakes in tests) owns its buses and
///     is used from the control thread only. It knows registers; the
///     controller knows N, mm and mm/s.
#include <cstdint>
#include <string>

#include "soleus/machine/units.hpp"

namespace soleus::machine {

/// One cycle's inputs.
struct MachineInputs {
  double t_s = 0;         ///< monotonic time of the cycle, s (stamped by the loop)
  bool drive_ok = false;  ///< the drive transaction succeeded; `drive` is fresh
  DriveStatus drive;
  bool cell_ok = false;  ///< the load-cell read succeeded; `cell` is fresh
  bool cell_skipped =
      false;  ///< the loop did not read the cell this cycle (planned; not a failure)
  LoadCellSample cell;
  /// Increments every time the link to the devices is re-established; the
  /// loop re-arms the drive when it changes.
  std::uint32_t link_generation = 0;
};

/// A read-back of the drive's setup registers.
enum class SetupCheck {
  Same,      ///< the drive holds what was armed
  Differs,   ///< it answered with other values (or was never armed)
  NoAnswer,  ///< the read failed: nothing learned
};

/// Counters of the machine interface, for diagnostics and the benchmark.
struct IoStats {
  std::uint64_t cycles = 0;
  std::uint64_t drive_errors = 0;
  std::uint64_t cell_errors = 0;
  std::uint64_t transactions = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t crc_errors = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t bytes_tx = 0;
  std::uint64_t bytes_rx = 0;
};

class MachineIo {
 public:
  virtual ~MachineIo() = default;
  /// One cycle: writes `cmd`, reads drive and load cell into `in` (except t_s).
  /// With `read_cell` false the load cell is not read this cycle (the loop
  /// spends its bus time on a read-back instead): in.cell_ok is false and
  /// in.cell_skipped true.
  virtual void exchange(const DriveCommand& cmd, MachineInputs& in, bool read_cell) = 0;
  void exchange(const DriveCommand& cmd, MachineInputs& in) { exchange(cmd, in, true); }
  /// Writes the drive's static setup and reads it back. false (with a
  /// readable `detail`) means the motor must not be enabled.
  [[nodiscard]] virtual bool arm(const DriveSetup& setup, std::string& detail) = 0;
  /// Reads the drive's setup back and compares it with what arm() wrote.
  [[nodiscard]] virtual SetupCheck verify_setup(std::string& detail) = 0;
  /// The drive's armed torque slew as force per second at the pad (the
  /// slower direction); 0 when unknown. The floor approach plans with it.
  virtual double armed_slew_n_per_s() const { return 0; }
  /// Starts a load-cell command (tare with the pad at rest and nobody on it,
  /// or clearing the overload latch) without waiting: false (with `detail`)
  /// when it could not be written. The loop then polls it once per cycle.
  enum class CellCommand { Tare, ClearOverload };
  [[nodiscard]] virtual bool start_cell_command(CellCommand c, std::string& detail) = 0;
  /// One read of the command's progress: Done, Busy, or Failed (`detail`).
  enum class CellPoll { Done, Busy, Failed };
  [[nodiscard]] virtual CellPoll poll_cell_command(std::string& detail) = 0;
  /// Readable name of a drive fault code ("communication loss").
  virtual std::string fault_name(int code) const = 0;
  /// The code the drive raises when its own watchdog expired: the only drive
  /// fault the automatic reset at boot may clear (-1: none).
  virtual int comm_loss_fault_code() const { return -1; }
  virtual IoStats stats() const = 0;
};

}  // namespace soleus::machine
