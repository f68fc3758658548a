#pragma once
/// A bounded multi-producer, multi-consumer queue of trivially copyable values
/// that never blocks and never allocates after construction (D. Vyukov's
/// bounded MPMC array queue).
///
/// Principle of operation:
///  1. Capacity is rounded up to a power of two; each cell holds a value and
///     a sequence number, initially its own index.
///  2. A producer reads the enqueue position p. If cell[p].seq == p the cell
///     is free: it claims p with one compare-and-swap on the position, writes
///     the value, then publishes it by storing seq = p + 1 (release). If
///     seq < p the queue is full: try_push returns false at once.
///  3. A consumer does the same at the dequeue position d, waiting for
///     seq == d + 1; after reading it frees the cell for the next lap by
///     storing seq = d + capacity.
///  4. No step waits for another thread: a full or empty queue is reported,
///     never waited on. A failed CAS (another producer won) retries at the
///     new position; that is the only loop.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace soleus::storage {

template <class T>
class BoundedQueue {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit BoundedQueue(std::size_t capacity) {
    std::size_t c = 2;
    while (c < capacity) c <<= 1;
    mask_ = c - 1;
    cells_ = std::make_unique<Cell[]>(c);
    for (std::size_t i = 0; i < c; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  std::size_t capacity() const { return mask_ + 1; }

  /// O(1), lock-free. False when full (nothing is written).
  bool try_push(const T& v) {
    std::size_t pos = enqueue_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[pos & mask_];
      std::size_t seq = c.seq.load(std::memory_order_acquire);
      auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (diff == 0) {
        if (enqueue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.value = v;
          c.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = enqueue_.load(std::memory_order_relaxed);
      }
    }
  }

  /// O(1), lock-free. False when empty.
  bool try_pop(T& out) {
    std::size_t pos = dequeue_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[pos & mask_];
      std::size_t seq = c.seq.load(std::memory_order_acquire);
      auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
      if (diff == 0) {
        if (dequeue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = c.value;
          c.seq.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = dequeue_.load(std::memory_order_relaxed);
      }
    }
  }

  /// Approximate number of values held (exact when no one is pushing or popping).
  std::size_t size_approx() const {
    std::size_t e = enqueue_.load(std::memory_order_relaxed);
    std::size_t d = dequeue_.load(std::memory_order_relaxed);
    return e >= d ? e - d : 0;
  }

 private:
  struct Cell {
    std::atomic<std::size_t> seq;
    T value;
  };
  std::unique_ptr<Cell[]> cells_;
  std::size_t mask_ = 0;
  alignas(64) std::atomic<std::size_t> enqueue_{0};
  alignas(64) std::atomic<std::size_t> dequeue_{0};
};

}  // namespace soleus::storage
