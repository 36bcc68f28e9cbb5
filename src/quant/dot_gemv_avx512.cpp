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
// Small batches (1 < n_cols <= kGemvMaxCols, decode-sized: speculative verification, several
// slots decoding) run here too: each weight row is decoded once and applied to up to 4 staged
// activation rows, each column with its own 4 accumulators fed in exactly the GEMV's order, so
// column j is bit-identical to a GEMV of activation row j (batch invariance); columns 4..7 take
// the row's decoded form, stored while computing columns 0..3. Per (row, column, pair) this
// costs VPDPBUSD, convert, permute, FMA where the tiled GEMM needs ~1.4 operations per block, so
// from 4 columns on it is compute-bound and slower than the tiled form for the cheaply decoded
// Q5_0/Q5_1/MXFP4 (see docs/performance.md); the dispatcher's kGemvMaxCols caps that.
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
size_t stage_bytes(int64_t nb) {
  return static_cast<size_t>((nb + 1) / 2 * 128 + (nb + 15) / 16 * 64 * (D::kMin ? 2 : 1));
}

template <class D>
Staged stage(int64_t nb, const uint8_t* A, uint8_t* s) {
  using Ac = Act<D::kMin>;
  const int64_t np = (nb + 1) / 2;
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

// One pair of blocks (p = pair index within the group) of one row, w its decoded quants.
template <class D>
FS_INLINE void pair_step(__m512i w, const uint8_t* sp, int p, __m512 s16, __m512& acc) {
  const __m512i isum = _mm512_dpbusd_epi32(_mm512_load_si512(sp + 64), w, _mm512_load_si512(sp));
  const __m512i pi = _mm512_add_epi32(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                      _mm512_set1_epi32(2 * p));
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_permutexvar_ps(pi, s16), acc);
}

// A row's decoded weights for the column chunks after the first (kBuf: 0 = decode only, 1 = decode
// and store, 2 = load what 1 stored): per group of 16 blocks 64 B scales d_w, 64 B mins, then
// 8 × 64 B quants (8 pairs, or 4 quads as low and high nibbles).
constexpr size_t kDecGroup = 640;

template <int kBuf>
FS_INLINE __m512i dec_i(__m512i v, uint8_t* p) {
  if constexpr (kBuf == 1) _mm512_store_si512(p, v);
  if constexpr (kBuf == 2) return _mm512_load_si512(p);
  return v;
}
template <int kBuf>
FS_INLINE __m512 dec_f(__m512 v, uint8_t* p) {
  if constexpr (kBuf == 1) _mm512_store_ps(p, v);
  if constexpr (kBuf == 2) return _mm512_load_ps(p);
  return v;
}
// The weight loads and decode, skipped when kBuf = 2 (the compiler drops the unused value).
#define FS_DEC_I(kBuf, expr, p) dec_i<kBuf>((kBuf) == 2 ? _mm512_setzero_si512() : (expr), (p))
#define FS_DEC_F(kBuf, expr, p) dec_f<kBuf>((kBuf) == 2 ? _mm512_setzero_ps() : (expr), (p))

// One weight row against NC staged activation rows: out[c] = dot(row, column c). The weight
// decode is shared; each column's accumulators see exactly the NC = 1 sequence of operations.
template <class D, int NC, int kBuf>
FS_INLINE void row_pairs(int64_t nb, const uint8_t* row, const Staged* st, __m512i widx, uint8_t* dec, float* out) {
  const int64_t nfullg = nb / 16;
  constexpr size_t pf = kStreamPrefetch;
  __m512 acc[NC][4];
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c) acc[c][0] = acc[c][1] = acc[c][2] = acc[c][3] = _mm512_setzero_ps();
  for (int64_t g = 0; g < nfullg; ++g) {
    const uint8_t* wg = row + g * 16 * D::kB;
    uint8_t* dg = dec + g * kDecGroup;
    if constexpr (kBuf != 2) prefetch_range(wg + pf, 16 * D::kB);
    const __m512 dw = FS_DEC_F(kBuf, D::scales(wg, widx, 16, 0xFFFF), dg);
    __m512 s16[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) s16[c] = _mm512_mul_ps(dw, _mm512_load_ps(st[c].da + 16 * g));
    if constexpr (D::kMin) {
      const __m512 mw = FS_DEC_F(kBuf, (f16x16_full<D::kB, D::kMOff>(wg)), dg + 64);
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) acc[c][0] = _mm512_fmadd_ps(mw, _mm512_load_ps(st[c].sa + 16 * g), acc[c][0]);
    }
#pragma GCC unroll 8
    for (int p = 0; p < 8; ++p) {
      const __m512i w = FS_DEC_I(kBuf, D::template pair<false>(wg + 2 * p * D::kB), dg + 128 + 64 * p);
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) pair_step<D>(w, st[c].pairs + (g * 8 + p) * 128, p, s16[c], acc[c][p & 3]);
    }
  }
  if (const int nbg = static_cast<int>(nb - 16 * nfullg); nbg > 0) {  // last partial group
    const int64_t g = nfullg;
    const __mmask16 m = static_cast<__mmask16>((1u << nbg) - 1u);
    const uint8_t* wg = row + g * 16 * D::kB;
    uint8_t* dg = dec + g * kDecGroup;
    if constexpr (kBuf != 2) prefetch_range(wg + pf, nbg * D::kB);
    const __m512 dw = FS_DEC_F(kBuf, D::scales(wg, widx, nbg, m), dg);
    __m512 s16[NC];
    for (int c = 0; c < NC; ++c) s16[c] = _mm512_mul_ps(dw, _mm512_load_ps(st[c].da + 16 * g));
    if constexpr (D::kMin) {
      const __m512 mw = FS_DEC_F(kBuf, (f16x16<D::kB, D::kMOff>(wg, widx, nbg, m)), dg + 64);
      for (int c = 0; c < NC; ++c) acc[c][0] = _mm512_fmadd_ps(mw, _mm512_load_ps(st[c].sa + 16 * g), acc[c][0]);
    }
    const int nfull = nbg / 2;
    for (int p = 0; p < nfull; ++p) {
      const __m512i w = FS_DEC_I(kBuf, D::template pair<false>(wg + 2 * p * D::kB), dg + 128 + 64 * p);
      for (int c = 0; c < NC; ++c) pair_step<D>(w, st[c].pairs + (g * 8 + p) * 128, p, s16[c], acc[c][p & 3]);
    }
    if (nbg & 1) {
      const __m512i w = FS_DEC_I(kBuf, D::template pair<true>(wg + 2 * nfull * D::kB), dg + 128 + 64 * nfull);
      for (int c = 0; c < NC; ++c)
        pair_step<D>(w, st[c].pairs + (g * 8 + nfull) * 128, nfull, s16[c], acc[c][nfull & 3]);
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c)
    out[c] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[c][0], acc[c][1]), _mm512_add_ps(acc[c][2], acc[c][3])));
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
size_t stage_quads_bytes(int64_t nb) {
  return static_cast<size_t>((nb + 3) / 4 * 192 + (nb + 15) / 16 * 64 * (Q::D::kMin ? 2 : 1));
}

template <class Q>
Staged stage_quads(int64_t nb, const uint8_t* A, uint8_t* s) {
  using D = typename Q::D;
  using Ac = Act<D::kMin>;
  const int64_t nq = (nb + 3) / 4;
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

// Per-call constants of the quad form.
template <class Q>
struct QuadConsts {
  __m512i widx, idx[4], sidx[4];
  __mmask32 mfull[5], mlast[5];
  int nblast;
  explicit QuadConsts(int64_t nb) {
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    widx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(Q::D::kB));
    for (int q = 0; q < 4; ++q) {
      idx[q] = _mm512_load_si512(kQuadIdx<Q>.v[q]);
      sidx[q] = _mm512_add_epi32(_mm512_srli_epi32(iota, 2), _mm512_set1_epi32(4 * q));  // lane -> block 4q + lane/4
    }
    nblast = static_cast<int>(nb - 16 * ((nb + 15) / 16 - 1));
    masks(16, mfull);
    masks(nblast, mlast);
  }
  // Word masks of the 5 loads of a group of nbg blocks (full groups: 4 whole loads + 16 words).
  static void masks(int nbg, __mmask32* m) {
    const int words = nbg * Q::D::kB / 2;
    for (int l = 0; l < 5; ++l) {
      const int n = words - 32 * l;
      m[l] = n >= 32 ? 0xFFFFFFFFu : n <= 0 ? 0u : (1u << n) - 1u;
    }
  }
};

// One weight row against NC staged activation rows (quad form), as row_pairs.
template <class Q, int NC, int kBuf>
FS_INLINE void row_quads(int64_t nb, const uint8_t* row, const Staged* st, const QuadConsts<Q>& k, uint8_t* dec,
                         float* out) {
  using D = typename Q::D;
  constexpr int kB = D::kB;
  const int64_t ng = (nb + 15) / 16;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NC][4];
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c) acc[c][0] = acc[c][1] = acc[c][2] = acc[c][3] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    const bool last = g + 1 == ng;
    const int nbg = last ? k.nblast : 16;
    const __mmask32* m = last ? k.mlast : k.mfull;
    const uint8_t* wg = row + g * 16 * kB;
    uint8_t* dg = dec + g * kDecGroup;
    if constexpr (kBuf != 2) prefetch_range(wg + kStreamPrefetch, nbg * kB);
    const __mmask16 bm = static_cast<__mmask16>((1u << nbg) - 1u);
    const __m512 dw = FS_DEC_F(kBuf, D::scales(wg, k.widx, nbg, bm), dg);
    __m512 s16[NC];
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) s16[c] = _mm512_mul_ps(dw, _mm512_load_ps(st[c].da + 16 * g));
    if constexpr (D::kMin) {
      const __m512 mw = FS_DEC_F(kBuf, (f16x16<kB, D::kMOff>(wg, k.widx, nbg, bm)), dg + 64);
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) acc[c][0] = _mm512_fmadd_ps(mw, _mm512_load_ps(st[c].sa + 16 * g), acc[c][0]);
    }
    __m512i L[5];
    if constexpr (kBuf != 2) {
#pragma GCC unroll 5
      for (int l = 0; l < 5; ++l) L[l] = _mm512_maskz_loadu_epi16(m[l], wg + 64 * l);
    }
    const int nq = (nbg + 3) / 4;
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      if (q >= nq) break;
      __m512i lo, hi;
      if constexpr (kBuf == 2) {
        lo = _mm512_load_si512(dg + 128 + 128 * q);
        hi = _mm512_load_si512(dg + 192 + 128 * q);
      } else {
        const int li = kQuadIdx<Q>.load[q];
        const __m512i v = _mm512_permutex2var_epi16(L[li], k.idx[q], L[li + 1]);
        lo = _mm512_and_si512(v, low4);
        hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        if constexpr (Q::kLut) {
          lo = _mm512_shuffle_epi8(lut16(kIQ4Lut), lo);
          hi = _mm512_shuffle_epi8(lut16(kIQ4Lut), hi);
        }
        if constexpr (kBuf == 1) {
          _mm512_store_si512(dg + 128 + 128 * q, lo);
          _mm512_store_si512(dg + 192 + 128 * q, hi);
        }
      }
#pragma GCC unroll 4
      for (int c = 0; c < NC; ++c) {
        const uint8_t* sq = st[c].pairs + (g * 4 + q) * 192;
        const __m512i isum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_load_si512(sq + 128), lo, _mm512_load_si512(sq)),
                                                 hi, _mm512_load_si512(sq + 64));
        acc[c][q] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_permutexvar_ps(k.sidx[q], s16[c]), acc[c][q]);
      }
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c)
    out[c] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[c][0], acc[c][1]), _mm512_add_ps(acc[c][2], acc[c][3])));
}

// Pair form: per-call constants and the row kernel behind the common driver.
template <class D>
struct PairK {
  struct Consts {
    __m512i widx;
    explicit Consts(int64_t) {
      const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
      widx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D::kB));
    }
  };
  static size_t bytes(int64_t nb) { return stage_bytes<D>(nb); }
  static Staged stage(int64_t nb, const uint8_t* A, uint8_t* dst) { return fitserve::quant::detail::stage<D>(nb, A, dst); }
  template <int NC, int kBuf>
  static FS_INLINE void row(int64_t nb, const uint8_t* r, const Staged* st, const Consts& k, uint8_t* dec, float* out) {
    row_pairs<D, NC, kBuf>(nb, r, st, k.widx, dec, out);
  }
};
template <class Q>
struct QuadK {
  using Consts = QuadConsts<Q>;
  static size_t bytes(int64_t nb) { return stage_quads_bytes<Q>(nb); }
  static Staged stage(int64_t nb, const uint8_t* A, uint8_t* dst) { return stage_quads<Q>(nb, A, dst); }
  template <int NC, int kBuf>
  static FS_INLINE void row(int64_t nb, const uint8_t* r, const Staged* st, const Consts& k, uint8_t* dec, float* out) {
    row_quads<Q, NC, kBuf>(nb, r, st, k, dec, out);
  }
};

// One row against NC columns, kBuf as above; out[c] goes to C[c·cs].
template <class K, int NC, int kBuf>
FS_INLINE void row_nc(int64_t nb, const uint8_t* r, const Staged* st, const typename K::Consts& k, uint8_t* dec,
                      float* C, size_t cs) {
  float out[NC];
  K::template row<NC, kBuf>(nb, r, st, k, dec, out);
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c) C[c * cs] = out[c];
}

// GEMV (n_cols = 1) and small batches (n_cols <= kGemvMaxCols; the dispatcher sends larger ones
// to dot_t_avx512.cpp). Every column is staged once; then per row columns 0..3 are computed from
// the weights (n_cols > 4: storing the row's decoded form, ~40 B per block) and columns 4.. from
// that decoded form, so each row is read from memory and decoded once and every column gets
// exactly the n_cols = 1 result.
template <class K>
void gemv_cols(int64_t k, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, size_t as, int64_t n_cols,
               float* C, size_t cs) {
  if (n_cols > kGemvMaxCols) {  // not sent here by the dispatcher; correct anyway
    for (int64_t j = 0; j < n_cols; j += kGemvMaxCols)
      gemv_cols<K>(k, W, ws, n_rows, A + j * as, as, n_cols - j < kGemvMaxCols ? n_cols - j : kGemvMaxCols, C + j * cs, cs);
    return;
  }
  const int64_t nb = k / 32;
  const size_t sb = K::bytes(nb);  // a multiple of 64: every column's staging stays aligned
  const size_t db = n_cols > 4 ? static_cast<size_t>((nb + 15) / 16) * kDecGroup : 0;
  uint8_t* s = scratch(sb * static_cast<size_t>(n_cols) + db);
  uint8_t* dec = s + sb * static_cast<size_t>(n_cols);
  Staged st[kGemvMaxCols];
  for (int64_t j = 0; j < n_cols; ++j) st[j] = K::stage(nb, A + j * as, s + j * sb);
  const typename K::Consts kc(nb);
  if (n_cols == 1) {  // GEMV: its own loop
    for (int64_t i = 0; i < n_rows; ++i) row_nc<K, 1, 0>(nb, W + i * ws, st, kc, dec, C + i, cs);
    return;
  }
  for (int64_t i = 0; i < n_rows; ++i) {
    const uint8_t* r = W + i * ws;
    float* Ci = C + i;
    switch (n_cols) {
      case 2: row_nc<K, 2, 0>(nb, r, st, kc, dec, Ci, cs); break;
      case 3: row_nc<K, 3, 0>(nb, r, st, kc, dec, Ci, cs); break;
      default: row_nc<K, 4, 0>(nb, r, st, kc, dec, Ci, cs); break;
      case 5: case 6: case 7: case 8:
        row_nc<K, 4, 1>(nb, r, st, kc, dec, Ci, cs);
        switch (n_cols - 4) {
          case 1: row_nc<K, 1, 2>(nb, r, st + 4, kc, dec, Ci + 4 * cs, cs); break;
          case 2: row_nc<K, 2, 2>(nb, r, st + 4, kc, dec, Ci + 4 * cs, cs); break;
          case 3: row_nc<K, 3, 2>(nb, r, st + 4, kc, dec, Ci + 4 * cs, cs); break;
          default: row_nc<K, 4, 2>(nb, r, st + 4, kc, dec, Ci + 4 * cs, cs); break;
        }
        break;
    }
  }
}

}  // namespace

void fill_gemv_avx512(GemmTable& t) {
  auto set = [&](Type ty, GemmFn f) { t.fn[static_cast<uint32_t>(ty)] = f; };
  set(Type::Q4_0, gemv_cols<QuadK<QQ4_0>>);
  set(Type::Q4_1, gemv_cols<QuadK<QQ4_1>>);
  set(Type::Q5_0, gemv_cols<PairK<DQ5_0>>);
  set(Type::Q5_1, gemv_cols<PairK<DQ5_1>>);
  set(Type::Q8_0, gemv_cols<PairK<DQ8_0>>);
  set(Type::IQ4_NL, gemv_cols<QuadK<QIQ4_NL>>);
  set(Type::MXFP4, gemv_cols<PairK<DMXFP4>>);
}

}  // namespace fitserve::quant::detail
