#pragma once
/// The drivers' part of a machine installation's configuration: transport,
/// unit ids, register maps and register semantics, mechanics and limits.
/// Each struct is filled by its parse() (mechanics and limits, which are the
/// machine contract's types, by parse_mechanics() and parse_limits()) from one
/// TOML section, refusing bad values with a config::ConfigError that names
/// file, line and key.
#include <map>
#include <string>
#include <vector>

#include "soleus/common/config_reader.hpp"
#include "soleus/drivers/register_map.hpp"
#include "soleus/machine/units.hpp"

namespace soleus::drivers {

/// [transport]
struct TransportConfig {
  enum class Kind { Rtu, Tcp };
  Kind kind = Kind::Tcp;           ///< kind = "rtu" | "tcp"
  std::string device;              ///< device (RTU), e.g. /dev/ttySOLEUS
  int baud = 115200;               ///< baud
  char parity = 'E';               ///< parity = "none" | "even" | "odd"
  int data_bits = 8;               ///< data_bits
  int stop_bits = 1;               ///< stop_bits
  bool rs485 = true;               ///< rs485: ask the port for RS-485 mode (ENOTTY is fine)
  std::string host = "127.0.0.1";  ///< host (TCP)
  int port = 502;                  ///< port (TCP)
  double response_timeout_ms = 5;  ///< response_timeout_ms
  double byte_timeout_ms = 2;      ///< byte_timeout_ms (RTU inter-character)
  int retries = 1;                 ///< retries after a failed transaction, within one cycle

  static TransportConfig parse(const config::Section& s);
};

/// [units]
struct UnitsConfig {
  int drive = 1;      ///< drive
  int load_cell = 2;  ///< load_cell
  static UnitsConfig parse(const config::Section& s);
};

/// [drive] register map and semantics of the servo drive.
struct DriveMap {
  // Holding registers the host writes. Engineering units: % of rated torque,
  // rpm, %/ms, ms.
  SignalSpec control;       ///< registers.control
  SignalSpec torque_cmd;    ///< registers.torque_cmd  (% of rated torque)
  SignalSpec speed_limit;   ///< registers.speed_limit (rpm)
  SignalSpec torque_slew;   ///< registers.torque_slew (% of rated torque per ms)
  SignalSpec comm_timeout;  ///< registers.comm_timeout (ms)
  SignalSpec torque_limit;  ///< registers.torque_limit (% of rated torque)
  // Status the host reads.
  SignalSpec status;         ///< registers.status (bit field)
  SignalSpec fault_code;     ///< registers.fault_code
  SignalSpec position;       ///< registers.position (counts)
  SignalSpec speed;          ///< registers.speed (rpm)
  SignalSpec torque_actual;  ///< registers.torque_actual (% of rated torque)
  SignalSpec temperature;    ///< registers.temperature (°C)
  SignalSpec bus_voltage;    ///< registers.bus_voltage (V)
  /// status_mirror_address: holding address where the status block (the input
  /// registers from the lowest to the highest status signal) is mirrored, so
  /// that one FC 23 writes the command and reads the status. -1 = no mirror.
  int status_mirror_address = -1;

  // Control-word bits (control_bits.*)
  int bit_enable = 0, bit_fault_reset = 1, bit_quick_stop = 2;
  // Status-word bits (status_bits.*)
  int bit_ready = 0, bit_enabled = 1, bit_fault = 2, bit_sto = 3, bit_speed_limited = 4,
      bit_torque_limited = 5;
  // Sign conventions (signs.*)
  bool torque_positive_down = true;  ///< signs.torque_positive = "down" | "up"
  bool position_positive_up = true;  ///< signs.position_positive = "up" | "down"
  bool speed_positive_up = true;     ///< signs.speed_positive = "up" | "down"
  /// fault_codes: code number → name, e.g. 6 = "communication loss".
  std::map<int, std::string> fault_names;
  /// The fault code the drive raises when its watchdog expires (fault_codes.comm_loss_code).
  int comm_loss_fault_code = 6;

  std::string fault_name(int code) const;
  static DriveMap parse(const config::Section& s);
};

/// [load_cell] register map and semantics of the load-cell transmitter.
struct LoadCellMap {
  SignalSpec force;           ///< registers.force (N)
  SignalSpec status;          ///< registers.status
  SignalSpec sample_counter;  ///< registers.sample_counter
  SignalSpec command;         ///< registers.command (holding)
  SignalSpec filter;          ///< registers.filter (holding, optional)
  int bit_stable = 0, bit_overload = 1, bit_adc_error = 2, bit_tare_busy = 3;  ///< status_bits.*
  int cmd_tare = 1, cmd_clear_overload = 2;  ///< commands.tare, commands.clear_overload
  bool compression_positive = true;          ///< signs.force_positive = "compression" | "tension"
  int counter_modulo = 65536;                ///< counter_modulo: the sample counter wraps here
  double sample_rate_hz = 200;               ///< sample_rate_hz: the converter's nominal rate
  static LoadCellMap parse(const config::Section& s);
};

/// [mechanics] and [limits] into the machine contract's types.
machine::Mechanics parse_mechanics(const config::Section& s);
machine::Limits parse_limits(const config::Section& s);

/// A max load this far above the drive's continuous rating at the pad still
/// loads without a warning (see check_drive_limits()).
inline constexpr double kContinuousRatingTolerance = 0.01;

/// TORQUE_LIMIT (% of rated torque) as ServoDrive::configure() arms it for a
/// force cap: converted with the back-driven direction (F = T·2π/lead/η, the
/// most force per unit of torque) and floored to the register's resolution.
double armed_torque_limit_pct(const SignalSpec& torque_limit, const machine::Mechanics& mech,
                              double force_n);

/// The drive's limits as a configuration would arm them, judged.
struct DriveLimitCheck {
  double torque_limit_pct = 0;  ///< TORQUE_LIMIT armed from limits.max_load_n
  double force_at_limit_down_n =
      0;  ///< the motor's push at the pad at that TORQUE_LIMIT, driving down
  double continuous_down_n =
      0;                ///< the rated torque at the pad in the direction a load is held (down)
  std::string error;    ///< non-empty: refuse the configuration (about limits.max_load_n)
  std::string warning;  ///< non-empty: load, but log this
};
/// Refuses a TORQUE_LIMIT above kMaxTorqueLimitPct and a downward force at
/// TORQUE_LIMIT above kHardCapN; warns when max_load_n exceeds the continuous
/// rating (driving down) by more than kContinuousRatingTolerance.
DriveLimitCheck check_drive_limits(const DriveMap& drive, const machine::Mechanics& mech,
                                   const machine::Limits& limits);

/// The drivers' whole view of a machine: what soleus-sim and the drivers share.
struct MachineConfig {
  TransportConfig transport;
  UnitsConfig units;
  DriveMap drive;
  LoadCellMap load_cell;
  machine::Mechanics mechanics;
  machine::Limits limits;
  /// What loading found worth a warning (each already logged at load).
  std::vector<std::string> warnings;
  /// Reads [transport], [units], [drive], [load_cell], [mechanics], [limits]
  /// from the root section (leaving other sections to their owners) and
  /// checks cross-section rules (e.g. overlapping registers).
  static MachineConfig parse(const config::Section& root);
};

}  // namespace soleus::drivers
