// core/thread_pool.h — a persistent pool of worker threads for the compute kernels.
// Offers: core::ThreadPool(n) (n-1 workers + the calling thread) with
//   run(f):      calls f(ith, nth) once for every ith in [0, nth) and returns when all are done.
//                Slots are claimed by whichever thread gets there first — the caller included —
//                so a worker that the OS has descheduled (oversubscribed machine, CPU quota)
//                never stalls the job: the others run its slot. Spin-then-futex dispatch,
//                well under a microsecond to a few microseconds when the workers are awake.
//   run_team(f): the same, but slot ith runs on thread ith, so f may call barrier(ith).
//   parallel_for(n, f) (f(i) for i in [0, n), contiguous static split), parallel_for_range(n,
//   grain, f) (f(begin, end) over dynamically claimed chunks);
// and default_threads() = physical cores available to this process (affinity mask and cgroup
// CPU quota respected).
// Exceptions thrown by a task are caught and the first one is rethrown in the caller; threads
// waiting in barrier() then leave too. A run issued from inside a task executes inline (nth = 1).
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace fitserve::core {

// Physical cores usable by this process (affinity mask ∩ /sys topology; falls back to
// /proc/cpuinfo, then std::thread::hardware_concurrency()), capped by a cgroup CPU quota
// (cpu.max / cpu.cfs_quota_us, rounded up). Always >= 1.
int default_threads();

class ThreadPool {
 public:
  // n_threads <= 0 means default_threads(). spin_us: how long an idle worker (and the caller
  // waiting for completion) busy-waits before sleeping on a futex.
  explicit ThreadPool(int n_threads = 0, int spin_us = 200);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls f(ith, nth) once for each ith in [0, nth = size()), on any of the pool's threads.
  template <class F>
  void run(F&& f) {
    using Fn = std::remove_reference_t<F>;
    run_raw([](void* ctx, int ith, int nth) { (*static_cast<Fn*>(ctx))(ith, nth); },
            const_cast<void*>(static_cast<const void*>(&f)), false);
  }
  // Calls f(ith, nth) on thread ith (0 = the caller); f may synchronize with barrier(ith).
  template <class F>
  void run_team(F&& f) {
    using Fn = std::remove_reference_t<F>;
    run_raw([](void* ctx, int ith, int nth) { (*static_cast<Fn*>(ctx))(ith, nth); },
            const_cast<void*>(static_cast<const void*>(&f)), true);
  }

  // f(i) for every i in [0, n); thread t gets the contiguous range [n*t/nth, n*(t+1)/nth).
  template <class F>
  void parallel_for(int64_t n, F&& f) {
    if (n <= 0) return;
    if (n == 1 || n_threads_ == 1) {
      for (int64_t i = 0; i < n; ++i) f(i);
      return;
    }
    run([&](int ith, int nth) {
      const int64_t b = n * ith / nth, e = n * (ith + 1) / nth;
      for (int64_t i = b; i < e; ++i) f(i);
    });
  }

  // f(begin, end) over chunks of `grain` indices claimed dynamically (load balancing).
  template <class F>
  void parallel_for_range(int64_t n, int64_t grain, F&& f) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n <= grain || n_threads_ == 1) {
      f(int64_t{0}, n);
      return;
    }
    std::atomic<int64_t> next{0};
    run([&](int, int) {
      for (;;) {
        const int64_t b = next.fetch_add(grain, std::memory_order_relaxed);
        if (b >= n) break;
        f(b, b + grain < n ? b + grain : n);
      }
    });
  }

  // Barrier among the nth threads of the current run_team(); call it from every thread or none.
  // If a task of the run throws, threads waiting here leave by exception too (no deadlock).
  // Calling it inside run() (not run_team) throws std::logic_error.
  void barrier(int ith);

  // The untyped entry point behind run() (team = false) and run_team() (team = true).
  void run_raw(void (*fn)(void*, int, int), void* ctx, bool team);

 private:
  void worker_main(int ith);
  void execute(int ith);
  void finish_slot();
  bool claim_and_execute(uint32_t gen);
  void wait_word(std::atomic<uint32_t>& w, uint32_t seen, std::atomic<int>& sleepers);

  int n_threads_ = 1;
  int spin_us_ = 200;
  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // serializes run() calls from different threads

  // Dispatch state.
  void (*fn_)(void*, int, int) = nullptr;
  void* ctx_ = nullptr;
  alignas(64) std::atomic<uint32_t> gen_{0};       // bumped once per run()
  alignas(64) std::atomic<int> gen_sleepers_{0};   // workers asleep on gen_
  // (generation << 32) | kTeamBit? | next unclaimed slot: the run's identity, kind and progress
  // in one word, so a late worker can never mix up two runs.
  static constexpr uint64_t kTeamBit = uint64_t{1} << 31;
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<int> pending_{0};        // slots 1..nth-1 not finished yet
  alignas(64) std::atomic<uint32_t> done_{0};      // bumped when pending_ reaches 0
  alignas(64) std::atomic<int> done_sleepers_{0};  // 1 while the caller sleeps on done_
  alignas(64) std::atomic<int> bar_count_{0};
  alignas(64) std::atomic<uint32_t> bar_gen_{0};
  alignas(64) std::atomic<bool> failed_{false};   // a task of the current run threw
  std::atomic<bool> stop_{false};
  std::mutex err_mu_;
  std::exception_ptr error_;
};

}  // namespace fitserve::core
