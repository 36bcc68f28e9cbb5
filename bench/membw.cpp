// membw — memory read bandwidth of this machine, the bound for token generation (every weight
// byte is read once per generated token).
// N threads (default 2) each stream-read their own contiguous slice of one buffer much larger
// than the caches (default 1 GiB), summing 64-bit lanes with the widest vector loads the CPU has
// (AVX-512, else AVX2, else scalar). A run = all threads reading their slice once, started
// together; GB/s = buffer bytes / wall time of the slowest thread. Best and median of --reps.
// --prefetch B adds a software prefetch B bytes ahead of the loads (AVX-512 only), the technique
// the GEMV kernels use; on the 2-core Zen 5 VM it reads more than the plain loads (see
// docs/performance.md), so it is the tighter bound for them.
// Usage: membw [--threads 2] [--mb 1024] [--reps 10] [--prefetch BYTES] [--json]
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "read_probe.h"

namespace {

using fitserve::bench::read_sum_avx2;
using fitserve::bench::read_sum_avx512;

// --prefetch BYTES: the distances the probe is compiled for.
size_t g_pf = 0;
uint64_t sum_scalar(const uint8_t* p, size_t n) {
  const uint64_t* q = reinterpret_cast<const uint64_t*>(p);
  uint64_t s0 = 0, s1 = 0;
  for (size_t i = 0; i + 2 <= n / 8; i += 2) {
    s0 += q[i];
    s1 += q[i + 1];
  }
  return s0 + s1;
}

using SumFn = uint64_t (*)(const uint8_t*, size_t);

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 10;
  size_t mb = 1024;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: %s needs a value\n", a.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--threads") threads = std::atoi(next());
    else if (a == "--mb") mb = size_t(std::atol(next()));
    else if (a == "--reps") reps = std::atoi(next());
    else if (a == "--json") json = true;
    else if (a == "--prefetch") g_pf = size_t(std::atol(next()));
    else {
      std::fprintf(stderr, "usage: membw [--threads 2] [--mb 1024] [--reps 10] [--prefetch BYTES] [--json]\n");
      return a == "-h" || a == "--help" ? 0 : 1;
    }
  }
  if (threads < 1 || reps < 1 || mb < 16) {
    std::fprintf(stderr, "error: invalid arguments\n");
    return 1;
  }
  const char* isa = "scalar";
  SumFn fn = sum_scalar;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    switch (g_pf) {
      case 0: fn = read_sum_avx512<0>; break;
      case 1024: fn = read_sum_avx512<1024>; break;
      case 2048: fn = read_sum_avx512<2048>; break;
      case 4096: fn = read_sum_avx512<4096>; break;
      case 8192: fn = read_sum_avx512<8192>; break;
      default:
        std::fprintf(stderr, "error: --prefetch must be 0, 1024, 2048, 4096 or 8192\n");
        return 1;
    }
    isa = g_pf ? "avx512+prefetch" : "avx512";
  } else if (__builtin_cpu_supports("avx2")) {
    fn = read_sum_avx2, isa = "avx2";
  }

  const size_t bytes = mb << 20;
  const size_t slice = (bytes / size_t(threads)) & ~size_t(255);
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, bytes));
  if (!buf) {
    std::fprintf(stderr, "error: cannot allocate %zu MiB\n", mb);
    return 1;
  }
  for (size_t i = 0; i < bytes; i += 8) {  // real pages, not the shared zero page
    uint64_t v = i * 0x9E3779B97F4A7C15ull;
    std::memcpy(buf + i, &v, 8);
  }

  std::atomic<int> go{0}, ready{0};
  std::atomic<uint64_t> sink{0};
  std::vector<double> gbs;
  for (int r = 0; r < reps + 1; ++r) {  // the first run warms up (page tables, frequency)
    go = 0;
    ready = 0;
    std::vector<std::chrono::steady_clock::time_point> end(static_cast<size_t>(threads));
    std::vector<std::thread> th;
    for (int t = 0; t < threads; ++t)
      th.emplace_back([&, t] {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) {
        }
        sink += fn(buf + size_t(t) * slice, slice);
        end[size_t(t)] = std::chrono::steady_clock::now();
      });
    while (ready.load() < threads) {
    }
    auto t0 = std::chrono::steady_clock::now();
    go.store(1, std::memory_order_release);
    for (auto& x : th) x.join();
    auto t1 = *std::max_element(end.begin(), end.end());
    double s = std::chrono::duration<double>(t1 - t0).count();
    if (r > 0) gbs.push_back(double(slice) * threads / s / 1e9);
  }
  std::free(buf);
  std::vector<double> sorted = gbs;
  std::sort(sorted.begin(), sorted.end());
  const double best = sorted.back(), median = sorted[sorted.size() / 2];
  if (json)
    std::printf("{\"threads\": %d, \"mb\": %zu, \"isa\": \"%s\", \"reps\": %d, \"best_gbs\": %.3f, \"median_gbs\": %.3f}\n", threads, mb,
                isa, reps, best, median);
  else
    std::printf("read bandwidth: %d threads, %zu MiB, %s loads: best %.2f GB/s, median %.2f GB/s over %d runs (checksum %llu)\n",
                threads, mb, isa, best, median, reps, (unsigned long long)(sink.load() & 0xff));
  return 0;
}
