// bench/read_probe.h — the memory-read kernels behind the bandwidth probes of membw, gen_profile
// and gemv_bench, so every probe measures the same loop.
// Offers: read_sum_avx512<kPf>(p, n) — sums n bytes (multiple of 256) with four independent
// AVX-512 loads per 256 bytes; with kPf > 0 also a software prefetch kPf bytes ahead, as the GEMV
// kernels do; read_sum_avx2(p, n) and read_sum_plain(p, n) for machines without AVX-512;
// median(v).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fitserve::bench {

template <size_t kPf>
__attribute__((target("avx512f"))) inline uint64_t read_sum_avx512(const uint8_t* p, size_t n) {
  __m512i a = _mm512_set1_epi64(0), b = a, c = a, d = a;
  for (size_t i = 0; i + 256 <= n; i += 256) {
    if constexpr (kPf > 0)
      for (size_t l = 0; l < 256; l += 64) _mm_prefetch(reinterpret_cast<const char*>(p + i + kPf + l), _MM_HINT_T0);
    a = _mm512_add_epi64(a, _mm512_load_si512(p + i));
    b = _mm512_add_epi64(b, _mm512_load_si512(p + i + 64));
    c = _mm512_add_epi64(c, _mm512_load_si512(p + i + 128));
    d = _mm512_add_epi64(d, _mm512_load_si512(p + i + 192));
  }
  alignas(64) uint64_t t[8];
  _mm512_store_si512(t, _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

__attribute__((target("avx2"))) inline uint64_t read_sum_avx2(const uint8_t* p, size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a = _mm256_add_epi64(a, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_add_epi64(b, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    c = _mm256_add_epi64(c, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    d = _mm256_add_epi64(d, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
  return t[0] + t[1] + t[2] + t[3];
}

inline uint64_t read_sum_plain(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) s += *reinterpret_cast<const uint64_t*>(p + i);
  return s;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace fitserve::bench
