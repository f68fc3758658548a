#pragma once
/// Register-map codec: between raw Modbus words and engineering units, driven
/// entirely by configuration (table, address, type, word order, scale, offset).
///
/// Principle of operation:
///  1. A SignalSpec says where a value lives and how it is encoded.
///  2. decode() assembles 1 or 2 words in the configured word order, interprets
///     them as u16/s16/u32/s32/f32 (sign-extending as the type says), then
///     applies  engineering = raw * scale + offset.
///  3. Anything that is not a finite number (a float NaN or infinity from the
///     device) is refused: decode() returns nullopt, never a number.
///  4. encode() inverts step 2, rounds to the nearest raw integer and refuses
///     values the type cannot hold (no silent wrap-around).
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace soleus::drivers {

enum class Table { Holding, Input, Coil, Discrete };
enum class ValueType { U16, S16, U32, S32, F32 };
enum class WordOrder { HighFirst, LowFirst };

const char* to_string(Table t);
const char* to_string(ValueType t);

/// Where one signal lives and how it is encoded. `present == false` means the
/// device does not have this signal (allowed only for optional signals).
struct SignalSpec {
  bool present = false;
  Table table = Table::Holding;
  int address = 0;  ///< 0-based protocol address
  ValueType type = ValueType::U16;
  WordOrder order = WordOrder::HighFirst;
  double scale = 1.0;  ///< engineering = raw * scale + offset
  double offset = 0.0;

  int words() const {
    return (type == ValueType::U32 || type == ValueType::S32 || type == ValueType::F32) ? 2 : 1;
  }
  int end() const { return address + words(); }  ///< one past the last address
};

/// Decodes the words at spec.address. `words` must hold spec.words() entries.
/// Returns nullopt for a non-finite value (NaN, infinity).
std::optional<double> decode(const SignalSpec& spec, std::span<const std::uint16_t> words);
/// Raw integer (or float) value before scale/offset; for bit fields and counters.
std::optional<double> decode_raw(const SignalSpec& spec, std::span<const std::uint16_t> words);

/// Encodes an engineering value into spec.words() words. Returns false (and
/// writes nothing) when the value is not finite or does not fit the type.
bool encode(const SignalSpec& spec, double value, std::span<std::uint16_t> words);

/// Rounds an engineering value towards the safe side of the raw resolution
/// (never above `value`), keeping at least one least significant bit when
/// `at_least_one_lsb` (a slew of 0 would freeze the torque). An f32 register
/// keeps the value as it is.
double floor_to_resolution(const SignalSpec& spec, double value, bool at_least_one_lsb);

}  // namespace soleus::drivers
