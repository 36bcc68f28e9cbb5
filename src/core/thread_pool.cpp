// core/thread_pool.cpp — persistent workers, spin-then-futex dispatch, physical core count.
#include "core/thread_pool.h"

#include <climits>
#include <chrono>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace fitserve::core {

namespace {

thread_local int tls_depth = 0;  // > 0 while this thread executes a pool task

struct BarrierAbort {};  // unwinds threads waiting in barrier() after another task threw

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

uint32_t* word_of(std::atomic<uint32_t>& a) { return reinterpret_cast<uint32_t*>(&a); }

void futex_wait(std::atomic<uint32_t>& a, uint32_t expected) {
  syscall(SYS_futex, word_of(a), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& a) {
  syscall(SYS_futex, word_of(a), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

bool read_int_file(const std::string& path, long& out) {
  std::ifstream f(path);
  if (!f) return false;
  f >> out;
  return static_cast<bool>(f);
}

// Physical cores from sysfs topology, restricted to the CPUs in `cpus`. 0 if unavailable.
int cores_from_sysfs(const std::vector<int>& cpus) {
  std::set<std::pair<long, long>> cores;
  for (int c : cpus) {
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(c) + "/topology/";
    long pkg = 0, core = 0;
    if (!read_int_file(base + "physical_package_id", pkg) || !read_int_file(base + "core_id", core))
      return 0;
    cores.insert({pkg, core});
  }
  return static_cast<int>(cores.size());
}

// Physical cores from /proc/cpuinfo ("processor", "physical id", "core id"). 0 if unavailable.
int cores_from_cpuinfo(const std::vector<int>& cpus) {
  std::ifstream f("/proc/cpuinfo");
  if (!f) return 0;
  std::set<int> wanted(cpus.begin(), cpus.end());
  std::set<std::pair<long, long>> cores;
  long proc = -1, pkg = 0, core = -1;
  auto flush = [&] {
    if (proc >= 0 && core >= 0 && (wanted.empty() || wanted.count(static_cast<int>(proc))))
      cores.insert({pkg, core});
    proc = -1, pkg = 0, core = -1;
  };
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) {
      flush();
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    long v = 0;
    try {
      v = std::stol(line.substr(colon + 1));
    } catch (...) {
      continue;
    }
    if (key == "processor") proc = v;
    else if (key == "physical id") pkg = v;
    else if (key == "core id") core = v;
  }
  flush();
  return static_cast<int>(cores.size());
}

// CPU quota of this process's cgroup in whole CPUs (rounded up); 0 if none or unknown.
int cgroup_cpu_limit() {
  long quota = -1, period = 0;
  {  // cgroup v2: "max 100000" or "<quota> <period>"
    std::ifstream f("/sys/fs/cgroup/cpu.max");
    std::string q;
    if (f >> q >> period && q != "max") {
      try {
        quota = std::stol(q);
      } catch (...) {
        quota = -1;
      }
    }
  }
  if (quota <= 0 && read_int_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", quota) && quota > 0)
    read_int_file("/sys/fs/cgroup/cpu/cpu.cfs_period_us", period);
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>((quota + period - 1) / period);
}

}  // namespace

int default_threads() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  int n = cpus.empty() ? 0 : cores_from_sysfs(cpus);
  if (n <= 0) n = cores_from_cpuinfo(cpus);
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (!cpus.empty() && n > static_cast<int>(cpus.size())) n = static_cast<int>(cpus.size());
  if (const int quota = cgroup_cpu_limit(); quota > 0 && n > quota) n = quota;
  return n > 0 ? n : 1;
}

ThreadPool::ThreadPool(int n_threads, int spin_us)
    : n_threads_(n_threads > 0 ? n_threads : default_threads()), spin_us_(spin_us < 0 ? 0 : spin_us) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stop_.store(true, std::memory_order_relaxed);
    gen_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(gen_);
  }
  for (auto& t : workers_) t.join();
}

void ThreadPool::wait_word(std::atomic<uint32_t>& w, uint32_t seen, std::atomic<int>& sleepers) {
  if (spin_us_ > 0) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto limit = std::chrono::microseconds(spin_us_);
    for (uint32_t i = 1;; ++i) {
      if (w.load(std::memory_order_acquire) != seen) return;
      cpu_relax();
      if ((i & 127) == 0 && std::chrono::steady_clock::now() - t0 > limit) break;
    }
  }
  // Dekker-style handshake with the waker: it bumps w, then reads sleepers (both seq_cst).
  sleepers.fetch_add(1, std::memory_order_seq_cst);
  while (w.load(std::memory_order_seq_cst) == seen) futex_wait(w, seen);
  sleepers.fetch_sub(1, std::memory_order_relaxed);
}

void ThreadPool::execute(int ith) {
  ++tls_depth;
  try {
    fn_(ctx_, ith, n_threads_);
  } catch (const BarrierAbort&) {
    // another task's exception is the one to report
  } catch (...) {
    std::lock_guard<std::mutex> lock(err_mu_);
    if (!error_) error_ = std::current_exception();
    failed_.store(true, std::memory_order_release);
  }
  --tls_depth;
}

void ThreadPool::finish_slot() {
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    done_.fetch_add(1, std::memory_order_seq_cst);
    if (done_sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(done_);
  }
}

// Claims and runs unclaimed slots of generation `gen` until none is left. The claim word carries
// the generation, so a late thread can never take a slot of a later run by mistake; fn_ and ctx_
// stay valid while any claimed slot is unfinished (the caller waits for all of them).
bool ThreadPool::claim_and_execute(uint32_t gen) {
  bool ran = false;
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(c >> 32) != gen || (c & kTeamBit) ||
        static_cast<uint32_t>(c) >= static_cast<uint32_t>(n_threads_))
      return ran;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    execute(static_cast<int>(static_cast<uint32_t>(c)));
    finish_slot();
    ran = true;
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker_main(int ith) {
  uint32_t handled = 0;  // the last generation this worker took part in (or skipped)
  for (;;) {
    wait_word(gen_, handled, gen_sleepers_);
    handled = gen_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    // claim_ is published before gen_ moves, so it is at least as new as `handled`. If it is
    // newer, run `handled` finished without this worker (never a team run: those wait for every
    // worker); the newer run is joined once gen_ catches up.
    const uint64_t c = claim_.load(std::memory_order_acquire);
    if (static_cast<uint32_t>(c >> 32) != handled) continue;
    if (c & kTeamBit) {
      execute(ith);
      finish_slot();
    } else {
      claim_and_execute(handled);
    }
  }
}

void ThreadPool::run_raw(void (*fn)(void*, int, int), void* ctx, bool team) {
  if (n_threads_ == 1 || tls_depth > 0) {  // single thread, or nested inside a task: inline
    ++tls_depth;
    struct Guard {
      ~Guard() { --tls_depth; }
    } guard;
    fn(ctx, 0, 1);
    return;
  }
  std::lock_guard<std::mutex> lock(run_mu_);
  fn_ = fn;
  ctx_ = ctx;
  error_ = nullptr;
  failed_.store(false, std::memory_order_relaxed);
  bar_count_.store(0, std::memory_order_relaxed);
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  const uint32_t gen = gen_.load(std::memory_order_relaxed) + 1;
  claim_.store((static_cast<uint64_t>(gen) << 32) | (team ? kTeamBit : 0) | 1u, std::memory_order_release);
  const uint32_t done_seen = done_.load(std::memory_order_relaxed);
  gen_.fetch_add(1, std::memory_order_seq_cst);  // publishes everything above
  if (gen_sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(gen_);
  execute(0);
  if (!team) claim_and_execute(gen);  // run the slots of workers that have not shown up
  wait_word(done_, done_seen, done_sleepers_);
  if (error_) {
    std::exception_ptr e = std::exchange(error_, nullptr);
    std::rethrow_exception(e);
  }
}

void ThreadPool::barrier(int ith) {
  if (n_threads_ == 1 || tls_depth > 1) return;  // inline (nested) runs have a single thread
  if (!(claim_.load(std::memory_order_relaxed) & kTeamBit))
    throw std::logic_error("ThreadPool::barrier() is only allowed inside run_team()");
  const uint32_t g = bar_gen_.load(std::memory_order_acquire);
  if (bar_count_.fetch_add(1, std::memory_order_acq_rel) == n_threads_ - 1) {
    bar_count_.store(0, std::memory_order_relaxed);
    bar_gen_.fetch_add(1, std::memory_order_release);
    return;
  }
  for (uint32_t i = 1; bar_gen_.load(std::memory_order_acquire) == g; ++i) {
    if (failed_.load(std::memory_order_acquire)) throw BarrierAbort{};
    cpu_relax();
    if ((i & 1023) == 0) sched_yield();  // oversubscribed machines: let the others run
  }
}

}  // namespace fitserve::core
