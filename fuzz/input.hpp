#pragma once
// A fuzz input read front to back, so that seeds are easy to write by hand
// (fuzz/corpus/make_seeds.py): u8, big-endian u16 (as on the Modbus wire) and
// f64 (IEEE-754 bits, big-endian). Past the end every read gives 0.
#include <bit>
#include <cstddef>
#include <cstdint>

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
  std::size_t left() const { return n_ - i_; }
  std::uint8_t u8() { return i_ < n_ ? p_[i_++] : 0; }
  std::uint16_t u16() {
    const std::uint16_t hi = u8();
    return static_cast<std::uint16_t>(hi << 8 | u8());
  }
  double f64() {
    std::uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v = v << 8 | u8();
    return std::bit_cast<double>(v);
  }
  /// 0 .. n-1
  int pick(int n) { return u8() % n; }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
  std::size_t i_ = 0;
};
