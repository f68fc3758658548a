#pragma once
/// Non-blocking hand-over between the control thread and everyone else.
///
///  - SpscRing: a bounded single-producer single-consumer ring (lock-free,
///    storage allocated once). push() never blocks; when full it returns false
///    and the producer counts the loss.
///  - CommandQueue: a bounded multi-producer queue. Producers take a mutex;
///    the loop only ever try_locks it, so a producer holding the lock delays
///    a command by one cycle, never the loop.
///  - Latest: latest-wins publication of a value. The loop publishes with
///    try_lock (a reader copying at that instant makes it skip one cycle, and
///    the skip is counted); readers copy under the lock.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace soleus::controller {

template <class T>
class SpscRing {
 public:
  explicit SpscRing(std::size_t capacity) : buf_(capacity + 1) {}
  bool push(const T& v) {
    std::size_t h = head_.load(std::memory_order_relaxed);
    std::size_t n = next(h);
    if (n == tail_.load(std::memory_order_acquire)) return false;
    buf_[h] = v;
    head_.store(n, std::memory_order_release);
    return true;
  }
  bool pop(T& out) {
    std::size_t t = tail_.load(std::memory_order_relaxed);
    if (t == head_.load(std::memory_order_acquire)) return false;
    out = buf_[t];
    tail_.store(next(t), std::memory_order_release);
    return true;
  }
  std::size_t capacity() const { return buf_.size() - 1; }
  std::size_t size() const {
    std::size_t h = head_.load(std::memory_order_acquire),
                t = tail_.load(std::memory_order_acquire);
    return h >= t ? h - t : h + buf_.size() - t;
  }

 private:
  std::size_t next(std::size_t i) const { return i + 1 == buf_.size() ? 0 : i + 1; }
  std::vector<T> buf_;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

template <class T>
class CommandQueue {
 public:
  explicit CommandQueue(std::size_t capacity) : ring_(capacity) {}
  /// Any thread. false when full.
  bool post(const T& v) {
    std::lock_guard<std::mutex> lock(m_);
    return ring_.push(v);
  }
  /// The loop: takes at most `max` commands if the lock is free right now.
  template <class F>
  int drain(F&& f, int max) {
    std::unique_lock<std::mutex> lock(m_, std::try_to_lock);
    if (!lock.owns_lock()) return -1;
    int n = 0;
    T v;
    while (n < max && ring_.pop(v)) {
      f(v);
      ++n;
    }
    return n;
  }

 private:
  std::mutex m_;
  SpscRing<T> ring_;
};

template <class T>
class Latest {
 public:
  /// The loop. false (and nothing published) when a reader holds the lock.
  bool publish(const T& v) {
    std::unique_lock<std::mutex> lock(m_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    value_ = v;
    return true;
  }
  T read() const {
    std::lock_guard<std::mutex> lock(m_);
    return value_;
  }

 private:
  mutable std::mutex m_;
  T value_{};
};

}  // namespace soleus::controller
