// AVX-512 (F/BW/VL/DQ/VNNI) GEMV (n_cols = 1) for the 32-element block types, one weight row at
// a time so that each thread reads its rows as one ascending stream.
//
// Why one row: on the 2-core Zen 5 VM, tiles of 4 rows (four interleaved streams, the activation
// loads shared) read Q8_0 from DRAM at ~34 GB/s on 2 threads where one ascending stream per thread
// reaches ~40 (and 67 vs 51 in the machine's fast-memory state), although the 4-row tile needs
// fewer instructions. What one row loses — the activation's loads, its −offset·Σa and its scales
// are no longer shared by 4 rows — is staged once per call instead: per pair of activation blocks
// 64 bytes of quants (aligned, one load) and 16 int32 −offset·Σa (the start value of the VPDPBUSD,
// so each block's integer dot stays exact), per group of 16 blocks the 16 scales d_a as floats
// (and s_a for Q8_1). The FMA chain over the row is split over 4 accumulators (one per pair mod 4)
// so that the FMA latency does not bound a single row.
// Per (row, pair of blocks): weight decode, VPDPBUSD, convert, scale permute, FMA.
// Everything here has internal linkage (see blocks.h on ISA-specific code sharing).
// GCC 12 reports its own _mm*_undefined_* helpers as uninitialized uses.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/dot_avx512_blocks.h"
#include "quant/dot_internal.h"

namespace fitserve::quant::detail {

namespace {

// Staged activation: np = ceil(nb / 2) pairs of [64 B quants | 64 B −offset·Σa], then per group of
// 16 blocks 16 floats d_a (and 16 floats s_a for Q8_1).
struct Staged {
  const uint8_t* pairs;  // 128 bytes per pair
  const float* da;       // 16 per group
  const float* sa;       // 16 per group (Q8_1 only)
};

template <class D>
Staged stage(int64_t nb, const uint8_t* A) {
  using Ac = Act<D::kMin>;
  const int64_t np = (nb + 1) / 2, ng = (nb + 15) / 16;
  uint8_t* s = scratch(static_cast<size_t>(np * 128 + ng * 64 * (D::kMin ? 2 : 1)));
  const __m512i offv = _mm512_set1_epi8(static_cast<char>(D::kOff));
  for (int64_t p = 0; p < np; ++p) {
    const uint8_t* b = A + 2 * p * Ac::kB;
    const __m512i a = 2 * p + 1 < nb ? Ac::template pair<false>(b) : Ac::template pair<true>(b);
    _mm512_store_si512(s + 128 * p, a);
    __m512i nsa = _mm512_setzero_si512();
    if constexpr (D::kOff != 0) nsa = _mm512_sub_epi32(nsa, _mm512_dpbusd_epi32(_mm512_setzero_si512(), offv, a));
    _mm512_store_si512(s + 128 * p + 64, nsa);
  }
  float* da = reinterpret_cast<float*>(s + np * 128);
  float* sa = da + 16 * ng;
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i aidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(Ac::kB));
  for (int64_t g = 0; g < ng; ++g) {
    const int nbg = nb - 16 * g < 16 ? static_cast<int>(nb - 16 * g) : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << nbg) - 1u);
    const uint8_t* arow = A + 16 * g * Ac::kB;
    _mm512_store_ps(da + 16 * g, f16x16<Ac::kB, 0>(arow, aidx, nbg, m));
    if constexpr (D::kMin) _mm512_store_ps(sa + 16 * g, f16x16<Ac::kB, 2>(arow, aidx, nbg, m));
  }
  return Staged{s, da, sa};
}

// One pair of blocks (p = pair index within the group) of one row.
template <class D, bool kOne>
FS_INLINE void pair_step(const uint8_t* wp, const uint8_t* sp, int p, __m512 s16, __m512& acc) {
  const __m512i w = D::template pair<kOne>(wp);
  const __m512i isum = _mm512_dpbusd_epi32(_mm512_load_si512(sp + 64), w, _mm512_load_si512(sp));
  const __m512i pi = _mm512_add_epi32(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                      _mm512_set1_epi32(2 * p));
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_permutexvar_ps(pi, s16), acc);
}

template <class D>
void gemv_rows(int64_t nb, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, float* C) {
  const int64_t nfullg = nb / 16;
  const Staged st = stage<D>(nb, A);
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i widx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D::kB));
  constexpr size_t pf = kStreamPrefetch;
  for (int64_t i = 0; i < n_rows; ++i) {
    const uint8_t* row = W + i * ws;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t g = 0; g < nfullg; ++g) {
      const uint8_t* wg = row + g * 16 * D::kB;
      const uint8_t* sg = st.pairs + g * 8 * 128;
      prefetch_range(wg + pf, 16 * D::kB);
      const __m512 s16 = _mm512_mul_ps(D::scales(wg, widx, 16, 0xFFFF), _mm512_load_ps(st.da + 16 * g));
      if constexpr (D::kMin)
        acc[0] = _mm512_fmadd_ps(f16x16_full<D::kB, D::kMOff>(wg), _mm512_load_ps(st.sa + 16 * g), acc[0]);
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p) pair_step<D, false>(wg + 2 * p * D::kB, sg + 128 * p, p, s16, acc[p & 3]);
    }
    if (const int nbg = static_cast<int>(nb - 16 * nfullg); nbg > 0) {  // last partial group
      const int64_t g = nfullg;
      const __mmask16 m = static_cast<__mmask16>((1u << nbg) - 1u);
      const uint8_t* wg = row + g * 16 * D::kB;
      const uint8_t* sg = st.pairs + g * 8 * 128;
      prefetch_range(wg + pf, nbg * D::kB);
      const __m512 s16 = _mm512_mul_ps(D::scales(wg, widx, nbg, m), _mm512_load_ps(st.da + 16 * g));
      if constexpr (D::kMin)
        acc[0] = _mm512_fmadd_ps(f16x16<D::kB, D::kMOff>(wg, widx, nbg, m), _mm512_load_ps(st.sa + 16 * g), acc[0]);
      const int nfull = nbg / 2;
      for (int p = 0; p < nfull; ++p) pair_step<D, false>(wg + 2 * p * D::kB, sg + 128 * p, p, s16, acc[p & 3]);
      if (nbg & 1) pair_step<D, true>(wg + 2 * nfull * D::kB, sg + 128 * nfull, nfull, s16, acc[nfull & 3]);
    }
    C[i] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  }
}

// Column by column: the dispatcher sends n_cols > 1 to dot_t_avx512.cpp, so this only has to be
// correct for that case, and fast for n_cols = 1.
template <class D>
void gemv_cols(int64_t k, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, size_t as, int64_t n_cols,
               float* C, size_t cs) {
  for (int64_t j = 0; j < n_cols; ++j) gemv_rows<D>(k / 32, W, ws, n_rows, A + j * as, C + j * cs);
}

}  // namespace

void fill_gemv_avx512(GemmTable& t) {
  auto set = [&](Type ty, GemmFn f) { t.fn[static_cast<uint32_t>(ty)] = f; };
  set(Type::Q4_0, gemv_cols<DQ4_0>);
  set(Type::Q4_1, gemv_cols<DQ4_1>);
  set(Type::Q5_0, gemv_cols<DQ5_0>);
  set(Type::Q5_1, gemv_cols<DQ5_1>);
  set(Type::Q8_0, gemv_cols<DQ8_0>);
  set(Type::IQ4_NL, gemv_cols<DIQ4_NL>);
  set(Type::MXFP4, gemv_cols<DMXFP4>);
}

}  // namespace fitserve::quant::detail
