// quant_bench — single-thread throughput of quant::gemm.
//   GEMV (n_cols = 1): GB/s of weight bytes read over a ~64 MB matrix (k = 4096), next to the
//   machine's single-thread read bandwidth measured on the same buffer size.
//   GEMM (n_cols = 64): GFLOP/s (2·rows·k·cols) on a 4096 × 4096 matrix.
// Times are the best of --reps runs of thread CPU time (robust to sharing the machine).
// With --threads N (N > 1) rows are split across N std::threads and times are wall-clock.
// Usage: quant_bench [--isa scalar|avx2|avx512] [--types Q4_0,Q8_0,...] [--mb 64] [--reps 5]
//                    [--threads 1]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "quant/dot.h"
#include "quant/quant.h"

using namespace fitserve;
using quant::Type;

namespace {

int g_threads = 1;

// Thread CPU time: on a shared machine, time spent descheduled does not count. Multi-threaded
// runs use wall-clock time.
double now_s() {
  if (g_threads > 1)
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), s);
  return t[0] + t[1] + t[2] + t[3];
}

uint64_t read_plain(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    s += v;
  }
  return s;
}

// A weight matrix of n_rows rows: 64 distinct properly quantized rows, repeated.
std::vector<uint8_t> make_weights(Type t, int64_t k, int64_t n_rows, size_t* row_bytes) {
  const size_t rb = quant::row_bytes(t, k);
  *row_bytes = rb;
  std::vector<uint8_t> w(rb * static_cast<size_t>(n_rows));
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(k));
  const int64_t distinct = std::min<int64_t>(64, n_rows);
  for (int64_t i = 0; i < distinct; ++i) {
    for (auto& v : x) v = nd(rng);
    quant::quantize_row(t, x.data(), w.data() + i * rb, k);
  }
  for (int64_t i = distinct; i < n_rows; ++i) std::memcpy(w.data() + i * rb, w.data() + (i % distinct) * rb, rb);
  return w;
}

std::vector<uint8_t> make_acts(Type t, int64_t k, int64_t n_cols, size_t* as) {
  *as = quant::act_row_bytes(t, k);
  std::vector<uint8_t> a(*as * static_cast<size_t>(n_cols));
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(k));
  for (int64_t j = 0; j < n_cols; ++j) {
    for (auto& v : x) v = nd(rng);
    quant::quantize_act_row(t, x.data(), a.data() + j * *as, k);
  }
  return a;
}

// Runs f(begin, end) over [0, n) split into g_threads contiguous ranges (multiples of 16).
template <class F>
void parallel_rows(int64_t n, F&& f) {
  if (g_threads <= 1) {
    f(int64_t(0), n);
    return;
  }
  std::vector<std::thread> ts;
  const int64_t per = ((n + g_threads - 1) / g_threads + 15) / 16 * 16;
  for (int t = 0; t < g_threads; ++t) {
    const int64_t b = std::min(n, t * per), e = std::min(n, b + per);
    if (b < e) ts.emplace_back([&f, b, e] { f(b, e); });
  }
  for (auto& t : ts) t.join();
}

template <class F>
double best_time(int reps, F&& f) {
  double best = 1e30;
  f();  // warm-up
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_s();
    f();
    best = std::min(best, now_s() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Type> types = {Type::F16,  Type::BF16, Type::Q8_0, Type::Q4_0,   Type::Q4_1,  Type::Q5_0, Type::Q5_1,
                             Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::IQ4_NL, Type::MXFP4, Type::Q2_K};
  double mb = 64;
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--isa" && i + 1 < argc) {
      const std::string v = argv[++i];
      quant::set_isa(v == "scalar" ? quant::Isa::Scalar : v == "avx2" ? quant::Isa::AVX2 : quant::Isa::AVX512);
    } else if (a == "--types" && i + 1 < argc) {
      types.clear();
      std::stringstream ss(argv[++i]);
      std::string name;
      while (std::getline(ss, name, ','))
        if (auto t = quant::type_from_name(name)) types.push_back(*t);
    } else if (a == "--mb" && i + 1 < argc) {
      mb = std::atof(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      g_threads = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--isa scalar|avx2|avx512] [--types Q4_0,...] [--mb 64] [--reps 5]\n", argv[0]);
      return 2;
    }
  }
  const int64_t k = 4096;
  std::printf("isa: %s (best %s), k = %lld, GEMV matrix ~%.0f MB, %d thread(s)\n", quant::isa_name(quant::active_isa()),
              quant::isa_name(quant::best_isa()), static_cast<long long>(k), mb, g_threads);

  {
    std::vector<uint8_t> buf(static_cast<size_t>(mb * 1e6));
    for (size_t i = 0; i < buf.size(); i += 64) buf[i] = static_cast<uint8_t>(i);
    volatile uint64_t sink = 0;
    const bool avx2 = __builtin_cpu_supports("avx2");
    const int64_t lines = static_cast<int64_t>(buf.size() / 4096);
    const double t = best_time(reps, [&] {
      parallel_rows(lines, [&](int64_t b, int64_t e) {
        const uint8_t* p = buf.data() + b * 4096;
        const size_t n = static_cast<size_t>(e - b) * 4096;
        sink = sink + (avx2 ? read_avx2(p, n) : read_plain(p, n));
      });
    });
    std::printf("read bandwidth (plain loads, %d thread(s)): %.1f GB/s\n\n", g_threads,
                static_cast<double>(lines * 4096) / t / 1e9);
  }

  std::printf("%-7s %12s %10s %10s %14s\n", "type", "gemv GB/s", "gemv ms", "rows", "gemm64 GFLOP/s");
  for (Type t : types) {
    size_t rb, as;
    const int64_t n_rows = std::max<int64_t>(4, static_cast<int64_t>(mb * 1e6 / static_cast<double>(quant::row_bytes(t, k))));
    const auto W = make_weights(t, k, n_rows, &rb);
    const auto A1 = make_acts(t, k, 1, &as);
    std::vector<float> C(static_cast<size_t>(n_rows) * 64);
    const double tv = best_time(reps, [&] {
      parallel_rows(n_rows, [&](int64_t b, int64_t e) {
        quant::gemm(t, k, W.data() + b * rb, rb, e - b, A1.data(), as, 1, C.data() + b, n_rows);
      });
    });
    // GEMM: 4096 rows × 64 columns (the first 4096 rows of the same matrix)
    const int64_t gr = std::min<int64_t>(4096, n_rows), cols = 64;
    const auto A = make_acts(t, k, cols, &as);
    const double tg = best_time(std::max(1, reps / 2), [&] {
      parallel_rows(gr, [&](int64_t b, int64_t e) {
        quant::gemm(t, k, W.data() + b * rb, rb, e - b, A.data(), as, cols, C.data() + b, gr);
      });
    });
    std::printf("%-7s %12.1f %10.2f %10lld %14.1f\n", quant::type_name(t), static_cast<double>(W.size()) / tv / 1e9,
                tv * 1e3, static_cast<long long>(n_rows), 2.0 * static_cast<double>(gr * k * cols) / tg / 1e9);
    std::fflush(stdout);
  }
  return 0;
}
