// ops/scratch.h — reusable, grow-only work buffers for the ops (no allocation once warmed up).
// Offers: ops::Scratch with shared(bytes, slot) (one 64-byte aligned buffer per slot, for data
// all threads read, e.g. quantized activations) and per_thread(ith, bytes) (a private buffer per
// thread; call reserve_threads(nth) before a parallel region so threads can grow theirs at once).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

namespace fitserve::ops {

class Scratch {
 public:
  // Slot 0: matmul activations; slot 1: attention partial results; others free for callers.
  static constexpr int kSlots = 4;

  void* shared(size_t bytes, int slot = 0) { return slots_[slot].get(bytes); }
  void reserve_threads(int nth) {
    if (static_cast<int>(threads_.size()) < nth) threads_.resize(static_cast<size_t>(nth));
  }
  void* per_thread(int ith, size_t bytes) { return threads_[static_cast<size_t>(ith)].get(bytes); }

 private:
  struct Buf {
    struct Free {
      void operator()(void* p) const { std::free(p); }
    };
    std::unique_ptr<void, Free> p;
    size_t cap = 0;
    void* get(size_t bytes) {
      if (bytes > cap) {
        const size_t n = (bytes + 4095) & ~size_t{4095};
        void* q = std::aligned_alloc(64, n);
        if (!q) throw std::bad_alloc();
        p.reset(q);
        cap = n;
      }
      return p.get();
    }
  };
  Buf slots_[kSlots];
  std::vector<Buf> threads_;
};

}  // namespace fitserve::ops
