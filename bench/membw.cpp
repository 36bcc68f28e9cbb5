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

namespace {

__attribute__((target("avx512f"))) uint64_t sum_avx512(const uint8_t* p, size_t n) {
  __m512i a = _mm512_set1_epi64(0), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    a = _mm512_add_epi64(a, _mm512_load_si512(p + i));
    b = _mm512_add_epi64(b, _mm512_load_si512(p + i + 64));
    c = _mm512_add_epi64(c, _mm512_load_si512(p + i + 128));
    d = _mm512_add_epi64(d, _mm512_load_si512(p + i + 192));
  }
  alignas(64) uint64_t t[8];
  _mm512_store_si512(t, _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

// The same with a software prefetch g_pf bytes ahead (--prefetch), as the GEMV kernels do.
size_t g_pf = 0;
__attribute__((target("avx512f"))) uint64_t sum_avx512_pf(const uint8_t* p, size_t n) {
  __m512i a = _mm512_set1_epi64(0), b = a, c = a, d = a;
  const size_t pf = g_pf;
  for (size_t i = 0; i + 256 <= n; i += 256) {
    for (size_t l = 0; l < 256; l += 64) _mm_prefetch(reinterpret_cast<const char*>(p + i + pf + l), _MM_HINT_T0);
    a = _mm512_add_epi64(a, _mm512_load_si512(p + i));
    b = _mm512_add_epi64(b, _mm512_load_si512(p + i + 64));
    c = _mm512_add_epi64(c, _mm512_load_si512(p + i + 128));
    d = _mm512_add_epi64(d, _mm512_load_si512(p + i + 192));
  }
  alignas(64) uint64_t t[8];
  _mm512_store_si512(t, _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

__attribute__((target("avx2"))) uint64_t sum_avx2(const uint8_t* p, size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a = _mm256_add_epi64(a, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_add_epi64(b, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    c = _mm256_add_epi64(c, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    d = _mm256_add_epi64(d, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
  alignas(32) uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), s);
  return t[0] + t[1] + t[2] + t[3];
}

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
  if (__builtin_cpu_supports("avx512f")) fn = g_pf ? sum_avx512_pf : sum_avx512, isa = g_pf ? "avx512+prefetch" : "avx512";
  else if (__builtin_cpu_supports("avx2")) fn = sum_avx2, isa = "avx2";

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
