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
Staged stage_scales(int64_t nb, const uint8_t* A, uint8_t* dst);

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
  Staged st = stage_scales<D>(nb, A, s + np * 128);
  st.pairs = s;
  return st;
}

// d_a (and s_a) of each group of 16 activation blocks as floats, at dst.
template <class D>
Staged stage_scales(int64_t nb, const uint8_t* A, uint8_t* dst) {
  using Ac = Act<D::kMin>;
  const int64_t ng = (nb + 15) / 16;
  float* da = reinterpret_cast<float*>(dst);
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
  return Staged{nullptr, da, sa};
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

// ---- nibble types with word-aligned quants (Q4_0, IQ4_NL, Q4_1): four blocks per register ----
// A block's 16 quant bytes hold elements 0..15 in the low and 16..31 in the high nibbles. One
// VPERMT2W gathers the quants of 4 blocks from two 64-byte loads of the row; masking gives the low
// nibbles, a shift the high ones, and two chained VPDPBUSD against activations staged in the same
// order ([4 × elements 0..15], [4 × elements 16..31]) leave each block's exact dot in 4 int32
// lanes: per 4 blocks 2 VPDPBUSD, 1 convert, 1 permute, 1 FMA, where the pair form needs twice as
// many. The 5 loads of a group of 16 blocks (partial groups masked: no read past the row) serve
// its 4 quads; blocks past nb meet zero activations and zero scales.
struct QQ4_0 {
  using D = DQ4_0;
  static constexpr int kQs = 2;
  static constexpr bool kLut = false;
};
struct QIQ4_NL {
  using D = DIQ4_NL;
  static constexpr int kQs = 2;
  static constexpr bool kLut = true;
};
struct QQ4_1 {
  using D = DQ4_1;
  static constexpr int kQs = 4;
  static constexpr bool kLut = false;
};

// VPERMT2W indices of quad q: output word 8j + t = quant word t of block 4q + j, counted from the
// first of the two loads the quad uses (load (4q·kB)/64).
template <class Q>
struct QuadIdx {
  alignas(64) uint16_t v[4][32];
  int load[4];
};
template <class Q>
constexpr QuadIdx<Q> make_quad_idx() {
  constexpr int kB = Q::D::kB;
  static_assert(kB % 2 == 0 && Q::kQs % 2 == 0);
  QuadIdx<Q> x{};
  for (int q = 0; q < 4; ++q) {
    x.load[q] = 4 * q * kB / 64;
    const int off = (4 * q * kB - 64 * x.load[q]) / 2;
    for (int i = 0; i < 32; ++i) x.v[q][i] = static_cast<uint16_t>(off + ((i / 8) * kB + Q::kQs) / 2 + i % 8);
  }
  return x;
}
template <class Q>
constexpr QuadIdx<Q> kQuadIdx = make_quad_idx<Q>();

// Staged activation for the quad form: per quad [64 B elements 0..15 | 64 B elements 16..31 |
// 16 int32 −offset·Σa], zero past nb; then d_a (and s_a) per group as in stage().
template <class Q>
Staged stage_quads(int64_t nb, const uint8_t* A) {
  using D = typename Q::D;
  using Ac = Act<D::kMin>;
  const int64_t nq = (nb + 3) / 4, ng = (nb + 15) / 16;
  uint8_t* s = scratch(static_cast<size_t>(nq * 192 + ng * 64 * (D::kMin ? 2 : 1)));
  const __m512i offv = _mm512_set1_epi8(static_cast<char>(D::kOff));
  for (int64_t q = 0; q < nq; ++q) {
    __m512i lo = _mm512_setzero_si512(), hi = lo;
    for (int j = 0; j < 4 && 4 * q + j < nb; ++j) {
      const uint8_t* b = A + (4 * q + j) * Ac::kB + Ac::kQs;
      lo = _mm512_mask_broadcast_i32x4(lo, static_cast<__mmask16>(0xF << (4 * j)), _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
      hi = _mm512_mask_broadcast_i32x4(hi, static_cast<__mmask16>(0xF << (4 * j)), _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16)));
    }
    uint8_t* o = s + 192 * q;
    _mm512_store_si512(o, lo);
    _mm512_store_si512(o + 64, hi);
    __m512i nsa = _mm512_setzero_si512();
    if constexpr (D::kOff != 0)
      nsa = _mm512_sub_epi32(nsa, _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), offv, lo), offv, hi));
    _mm512_store_si512(o + 128, nsa);
  }
  Staged st = stage_scales<D>(nb, A, s + nq * 192);
  st.pairs = s;
  return st;
}

template <class Q>
void gemv_rows_quad(int64_t nb, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, float* C) {
  using D = typename Q::D;
  constexpr int kB = D::kB;
  const int64_t ng = (nb + 15) / 16;
  const Staged st = stage_quads<Q>(nb, A);
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i widx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(kB));
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512i idx[4], sidx[4];
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    idx[q] = _mm512_load_si512(kQuadIdx<Q>.v[q]);
    sidx[q] = _mm512_add_epi32(_mm512_srli_epi32(iota, 2), _mm512_set1_epi32(4 * q));  // lane -> block 4q + lane/4
  }
  // Word masks of the 5 loads of a group of nbg blocks (full groups: 4 whole loads + 16 words).
  auto masks = [](int nbg, __mmask32* m) {
    const int words = nbg * kB / 2;
    for (int l = 0; l < 5; ++l) {
      const int n = words - 32 * l;
      m[l] = n >= 32 ? 0xFFFFFFFFu : n <= 0 ? 0u : (1u << n) - 1u;
    }
  };
  __mmask32 mfull[5], mlast[5];
  masks(16, mfull);
  const int nblast = static_cast<int>(nb - 16 * (ng - 1));
  masks(nblast, mlast);
  for (int64_t i = 0; i < n_rows; ++i) {
    const uint8_t* row = W + i * ws;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t g = 0; g < ng; ++g) {
      const bool last = g + 1 == ng;
      const int nbg = last ? nblast : 16;
      const __mmask32* m = last ? mlast : mfull;
      const uint8_t* wg = row + g * 16 * kB;
      const uint8_t* sg = st.pairs + g * 4 * 192;
      prefetch_range(wg + kStreamPrefetch, nbg * kB);
      const __m512 s16 = _mm512_mul_ps(D::scales(wg, widx, nbg, static_cast<__mmask16>((1u << nbg) - 1u)),
                                       _mm512_load_ps(st.da + 16 * g));
      if constexpr (D::kMin)
        acc[0] = _mm512_fmadd_ps(f16x16<kB, D::kMOff>(wg, widx, nbg, static_cast<__mmask16>((1u << nbg) - 1u)),
                                 _mm512_load_ps(st.sa + 16 * g), acc[0]);
      __m512i L[5];
#pragma GCC unroll 5
      for (int l = 0; l < 5; ++l) L[l] = _mm512_maskz_loadu_epi16(m[l], wg + 64 * l);
      const int nq = (nbg + 3) / 4;
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        if (q >= nq) break;
        const int li = kQuadIdx<Q>.load[q];
        const __m512i v = _mm512_permutex2var_epi16(L[li], idx[q], L[li + 1]);
        __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        if constexpr (Q::kLut) {
          lo = _mm512_shuffle_epi8(lut16(kIQ4Lut), lo);
          hi = _mm512_shuffle_epi8(lut16(kIQ4Lut), hi);
        }
        const uint8_t* sq = sg + 192 * q;
        const __m512i isum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_load_si512(sq + 128), lo, _mm512_load_si512(sq)),
                                                 hi, _mm512_load_si512(sq + 64));
        acc[q] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_permutexvar_ps(sidx[q], s16), acc[q]);
      }
    }
    C[i] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  }
}

template <class Q>
void gemv_cols_quad(int64_t k, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, size_t as, int64_t n_cols,
                    float* C, size_t cs) {
  for (int64_t j = 0; j < n_cols; ++j) gemv_rows_quad<Q>(k / 32, W, ws, n_rows, A + j * as, C + j * cs);
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
  set(Type::Q4_0, gemv_cols_quad<QQ4_0>);
  set(Type::Q4_1, gemv_cols_quad<QQ4_1>);
  set(Type::Q5_0, gemv_cols<DQ5_0>);
  set(Type::Q5_1, gemv_cols<DQ5_1>);
  set(Type::Q8_0, gemv_cols<DQ8_0>);
  set(Type::IQ4_NL, gemv_cols_quad<QIQ4_NL>);
  set(Type::MXFP4, gemv_cols<DMXFP4>);
}

}  // namespace fitserve::quant::detail
