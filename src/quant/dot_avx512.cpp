// AVX-512 (F/BW/VL/DQ/VNNI, optional BF16) kernels for float weights and 32-element blocks.
//
// Layout of the work: the matrix is cut into tiles of R weight rows × C activation rows; each tile
// keeps R·C float accumulators (16 lanes each) in registers over the whole k. k is walked in
// groups of 16 blocks. Per group, phase A decodes the R weight rows into unsigned bytes (two
// blocks per 512-bit register) plus per-pair scale vectors on the stack; phase B streams the C
// activation rows and, per pair of blocks, does one VPDPBUSD (u8 × s8 → s32) per (row, column).
// Weights with an offset (q − 8, q − 16, or signed values biased by +128) are kept unsigned; the
// offset times the activation sum is folded into the integer accumulator's start value, so each
// block's integer dot stays exact. Scales: s32 → float, × (d_w · d_a) per block, FMA.
// Everything here has internal linkage (see blocks.h on ISA-specific code sharing).
// GCC 12 reports its own _mm*_undefined_* helpers as uninitialized uses.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/dot_internal.h"

namespace fitserve::quant::detail {

namespace {

#define FS_INLINE inline __attribute__((always_inline))

template <bool B>
struct Bool {
  static constexpr bool value = B;
};

FS_INLINE __m512 gather_f16(const uint8_t* base, __m512i idx, __mmask16 m) {
  const __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, base, 1);
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

// Word permutation tables to pull one 16-bit field (byte offset kOff, block stride kStride bytes)
// of each of a full group of 16 blocks out of plain 64-byte loads: load pair q (words 64q ..
// 64q+63 from the group start) supplies the fields inside it. Cheaper than VPGATHERDD (which
// cost ~1 cycle per block in GEMV). Odd positions (MXFP4's byte fields) are flagged in `odd`.
template <int kStride, int kOff>
struct WordPerm {
  static constexpr int kWords = 16 * kStride / 2;  // whole words inside the group
  static constexpr int kPairs = (kWords + 63) / 64;
  alignas(64) uint16_t idx[kPairs][32];
  uint32_t take[kPairs];  // which of the 16 outputs pair q supplies
  uint16_t odd;           // outputs whose field starts at an odd byte
};
template <int kStride, int kOff>
constexpr WordPerm<kStride, kOff> make_word_perm() {
  using T = WordPerm<kStride, kOff>;
  T t{};
  t.odd = 0;
  for (int q = 0; q < T::kPairs; ++q) {
    t.take[q] = 0;
    for (int i = 0; i < 32; ++i) t.idx[q][i] = 0;
    for (int i = 0; i < 16; ++i) {
      const int byte = kOff + kStride * i;
      const int w = byte / 2 - 64 * q;
      if (w >= 0 && w < 64) {
        t.idx[q][i] = static_cast<uint16_t>(w);
        t.take[q] |= 1u << i;
      }
      if (byte & 1) t.odd = static_cast<uint16_t>(t.odd | (1u << i));
    }
  }
  return t;
}
template <int kStride, int kOff>
constexpr WordPerm<kStride, kOff> kWordPerm = make_word_perm<kStride, kOff>();

// The 16-bit words holding field kOff of 16 consecutive blocks (all inside the group), in the
// low 256 bits. For an odd field position the wanted byte is the word's high byte.
template <int kStride, int kOff>
FS_INLINE __m256i words16_full(const uint8_t* base) {
  using T = WordPerm<kStride, kOff>;
  const uint16_t* p = reinterpret_cast<const uint16_t*>(base);
  __m512i res = _mm512_setzero_si512();
#pragma GCC unroll 16
  for (int q = 0; q < T::kPairs; ++q) {
    const int w0 = 64 * q, w1 = 64 * q + 32;
    const int n0 = T::kWords - w0 >= 32 ? 32 : T::kWords - w0;
    const int n1 = T::kWords - w1 >= 32 ? 32 : (T::kWords - w1 > 0 ? T::kWords - w1 : 0);
    const __mmask32 m0 = n0 >= 32 ? 0xFFFFFFFFu : ((1u << n0) - 1u);
    const __mmask32 m1 = n1 >= 32 ? 0xFFFFFFFFu : ((1u << n1) - 1u);
    const __m512i lo = _mm512_maskz_loadu_epi16(m0, p + w0);
    const __m512i hi = _mm512_maskz_loadu_epi16(m1, p + w1);
    const __m512i t = _mm512_permutex2var_epi16(lo, _mm512_load_si512(kWordPerm<kStride, kOff>.idx[q]), hi);
    res = _mm512_mask_mov_epi16(res, kWordPerm<kStride, kOff>.take[q], t);
  }
  return _mm512_castsi512_si256(res);
}

template <int kStride, int kOff>
FS_INLINE __m512 f16x16_full(const uint8_t* base) {
  static_assert(kStride % 2 == 0 && kOff % 2 == 0);
  return _mm512_cvtph_ps(words16_full<kStride, kOff>(base));
}

// The f16 fields of nbg (≤ 16) blocks: permutes for a full group, a masked gather otherwise.
template <int kStride, int kOff>
FS_INLINE __m512 f16x16(const uint8_t* base, __m512i idx, int nbg, __mmask16 m) {
  if (nbg == 16) return f16x16_full<kStride, kOff>(base);
  return gather_f16(base + kOff, idx, m);
}

FS_INLINE __m512i loadu256z(const uint8_t* p) {
  return _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Two blocks' 16 packed nibble bytes -> 64 bytes 0..15 in element order [b0: 0..31 | b1: 0..31].
template <bool kOne>
FS_INLINE __m512i nib_pair(const uint8_t* q0, const uint8_t* q1) {
  __m512i z = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q0)));
  if constexpr (!kOne)
    z = _mm512_mask_broadcast_i32x4(z, 0xFF00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q1)));
  const __m512i sh = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);  // high nibbles in 128-bit lanes 1, 3
  return _mm512_and_si512(_mm512_srlv_epi64(z, sh), _mm512_set1_epi8(0x0F));
}

// Code books biased by +128 so that they are unsigned bytes for VPDPBUSD.
struct Lut {
  alignas(16) uint8_t v[16];
};
constexpr Lut make_lut(const int8_t* src) {
  Lut l{};
  for (int i = 0; i < 16; ++i) l.v[i] = static_cast<uint8_t>(src[i] + 128);
  return l;
}
constexpr Lut kIQ4Lut = make_lut(kIQ4NLValues);
constexpr Lut kMXFP4Lut = make_lut(kMXFP4Values);

FS_INLINE __m512i lut16(const Lut& l) {
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(l.v)));
}

FS_INLINE uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---- weight decoders: bytes per block, offset, scale gathering, pair decoding ----

struct DQ4_0 {
  static constexpr int kB = 18, kOff = 8;
  static constexpr bool kMin = false;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) { return nib_pair<kOne>(b + 2, b + kB + 2); }
};

struct DQ4_1 {
  static constexpr int kB = 20, kOff = 0, kMOff = 2;
  static constexpr bool kMin = true;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) { return nib_pair<kOne>(b + 4, b + kB + 4); }
};

template <int kB_, int kQh, int kQs, int kOff_, bool kMin_>
struct DQ5 {
  static constexpr int kB = kB_, kOff = kOff_, kMOff = 2;
  static constexpr bool kMin = kMin_;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    const __m512i z = nib_pair<kOne>(b + kQs, b + kB + kQs);
    uint64_t h = load32(b + kQh);
    if constexpr (!kOne) h |= static_cast<uint64_t>(load32(b + kB + kQh)) << 32;
    return _mm512_mask_add_epi8(z, _cvtu64_mask64(h), z, _mm512_set1_epi8(16));
  }
};
using DQ5_0 = DQ5<22, 2, 6, 16, false>;
using DQ5_1 = DQ5<24, 4, 8, 0, true>;

struct DQ8_0 {
  static constexpr int kB = 34, kOff = 128;
  static constexpr bool kMin = false;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    __m512i z = loadu256z(b + 2);
    if constexpr (!kOne) z = _mm512_inserti64x4(z, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + kB + 2)), 1);
    return _mm512_xor_si512(z, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};

struct DIQ4_NL {
  static constexpr int kB = 18, kOff = 128;
  static constexpr bool kMin = false;
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) { return f16x16<kB, 0>(row, idx, n, m); }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    return _mm512_shuffle_epi8(lut16(kIQ4Lut), nib_pair<kOne>(b + 2, b + kB + 2));
  }
};

struct DMXFP4 {
  static constexpr int kB = 17, kOff = 128;
  static constexpr bool kMin = false;
  // 2^(e-128): e >= 2 -> exponent field e-1; e = 0, 1 -> subnormals 2^-128, 2^-127.
  static FS_INLINE __m512 scales(const uint8_t* row, __m512i idx, int n, __mmask16 m) {
    __m512i e;
    if (n == 16) {
      const __m256i w = words16_full<kB, 0>(row);
      const __m256i sh = _mm256_maskz_mov_epi16(kWordPerm<kB, 0>.odd, _mm256_set1_epi16(8));
      e = _mm512_cvtepu16_epi32(_mm256_and_si256(_mm256_srlv_epi16(w, sh), _mm256_set1_epi16(0xFF)));
    } else {
      const __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, row, 1);
      e = _mm512_and_si512(g, _mm512_set1_epi32(0xFF));
    }
    const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
    const __m512i sub = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
    const __mmask16 small = _mm512_cmplt_epu32_mask(e, _mm512_set1_epi32(2));
    return _mm512_castsi512_ps(_mm512_mask_blend_epi32(small, normal, sub));
  }
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    return _mm512_shuffle_epi8(lut16(kMXFP4Lut), nib_pair<kOne>(b + 1, b + kB + 1));
  }
};

// Activation blocks: Q8_0 (d, qs[32]) or Q8_1 (d, s, qs[32]).
template <bool kQ8_1>
struct Act {
  static constexpr int kB = kQ8_1 ? 36 : 34, kQs = kQ8_1 ? 4 : 2;
  template <bool kOne>
  static FS_INLINE __m512i pair(const uint8_t* b) {
    __m512i z = loadu256z(b + kQs);
    if constexpr (!kOne) z = _mm512_inserti64x4(z, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + kB + kQs)), 1);
    return z;
  }
};

// Software prefetch distance: the same group of blocks this many bytes' worth of rows further
// down (at least 4 rows). Each weight row is a short stream, too short for the hardware
// prefetchers to ramp up; without this, GEMV from DRAM runs ~3x slower.
FS_INLINE size_t prefetch_bytes(size_t ws) {
  const size_t rows = (16384 + ws - 1) / ws;
  return (rows < 4 ? 4 : rows) * ws;
}

FS_INLINE void prefetch_range(const uint8_t* p, int bytes) {
  for (int l = 0; l < bytes; l += 64) _mm_prefetch(reinterpret_cast<const char*>(p + l), _MM_HINT_T0);
}

// GEMV (one activation row): decode and multiply in registers, no staging.
template <class D, int R>
void gemv_blocks(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* A, float* Cm) {
  using Ac = Act<D::kMin>;
  __m512 acc[R], s16[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i widx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D::kB));
  const __m512i aidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(Ac::kB));
  const __m512i pidx0 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i offv = _mm512_set1_epi8(static_cast<char>(D::kOff));
  const size_t pf = prefetch_bytes(ws);
  for (int64_t g0 = 0; g0 < nb; g0 += 16) {
    const int nbg = nb - g0 < 16 ? static_cast<int>(nb - g0) : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << nbg) - 1u);
    const int nfull = nbg / 2;
    const uint8_t* arow = A + g0 * Ac::kB;
    const __m512 da = f16x16<Ac::kB, 0>(arow, aidx, nbg, m);
    __m512 sa;
    if constexpr (D::kMin) sa = f16x16<Ac::kB, 2>(arow, aidx, nbg, m);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* row = W + r * ws + g0 * D::kB;
      prefetch_range(row + pf, nbg * D::kB);
      s16[r] = _mm512_mul_ps(D::scales(row, widx, nbg, m), da);
      if constexpr (D::kMin) acc[r] = _mm512_fmadd_ps(f16x16<D::kB, D::kMOff>(row, widx, nbg, m), sa, acc[r]);
    }
    auto step = [&](int p, auto one) {
      constexpr bool kOne = decltype(one)::value;
      const __m512i a = Ac::template pair<kOne>(arow + 2 * p * Ac::kB);
      __m512i nsa = _mm512_setzero_si512();
      if constexpr (D::kOff != 0) nsa = _mm512_sub_epi32(nsa, _mm512_dpbusd_epi32(_mm512_setzero_si512(), offv, a));
      const __m512i pi = _mm512_add_epi32(pidx0, _mm512_set1_epi32(2 * p));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m512i w = D::template pair<kOne>(W + r * ws + (g0 + 2 * p) * D::kB);
        const __m512i isum = _mm512_dpbusd_epi32(nsa, w, a);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_permutexvar_ps(pi, s16[r]), acc[r]);
      }
    };
    for (int p = 0; p < nfull; ++p) step(p, Bool<false>{});
    if (nbg & 1) step(nfull, Bool<true>{});
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) Cm[r] = _mm512_reduce_add_ps(acc[r]);
}

template <class D, int R, int C>
void tile_blocks(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, float* Cm, size_t cs) {
  using Ac = Act<D::kMin>;
  alignas(64) __m512i wq[R][8];
  alignas(64) __m512 sdw[R][8];
  alignas(64) __m512 mw[R];
  alignas(64) __m512 da[C];
  __m512 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i widx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D::kB));
  const __m512i aidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(Ac::kB));
  const __m512i pidx0 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i offv = _mm512_set1_epi8(static_cast<char>(D::kOff));
  const size_t pf = prefetch_bytes(ws);
  for (int64_t g0 = 0; g0 < nb; g0 += 16) {
    const int nbg = nb - g0 < 16 ? static_cast<int>(nb - g0) : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << nbg) - 1u);
    const int nfull = nbg / 2, np = (nbg + 1) / 2;
    // Phase A: decode R rows of this group.
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* row = W + r * ws + g0 * D::kB;
      prefetch_range(row + pf, nbg * D::kB);
      const __m512 dw = D::scales(row, widx, nbg, m);
      if constexpr (D::kMin) mw[r] = f16x16<D::kB, D::kMOff>(row, widx, nbg, m);
      for (int p = 0; p < nfull; ++p) {
        wq[r][p] = D::template pair<false>(row + 2 * p * D::kB);
        sdw[r][p] = _mm512_permutexvar_ps(_mm512_add_epi32(pidx0, _mm512_set1_epi32(2 * p)), dw);
      }
      if (np > nfull) {
        wq[r][nfull] = D::template pair<true>(row + 2 * nfull * D::kB);
        sdw[r][nfull] = _mm512_permutexvar_ps(_mm512_add_epi32(pidx0, _mm512_set1_epi32(2 * nfull)), dw);
      }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const uint8_t* arow = A + c * as + g0 * Ac::kB;
      da[c] = f16x16<Ac::kB, 0>(arow, aidx, nbg, m);
      if constexpr (D::kMin) {
        const __m512 sa = f16x16<Ac::kB, 2>(arow, aidx, nbg, m);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(mw[r], sa, acc[r][c]);
      }
    }
    // Phase B: one pair of blocks at a time, all columns, all rows.
    for (int p = 0; p < np; ++p) {
      const __m512i pi = _mm512_add_epi32(pidx0, _mm512_set1_epi32(2 * p));
      const bool one = p == nfull;
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const uint8_t* ab = A + c * as + (g0 + 2 * p) * Ac::kB;
        const __m512i a = one ? Ac::template pair<true>(ab) : Ac::template pair<false>(ab);
        __m512i nsa = _mm512_setzero_si512();
        if constexpr (D::kOff != 0) nsa = _mm512_sub_epi32(nsa, _mm512_dpbusd_epi32(_mm512_setzero_si512(), offv, a));
        const __m512 sda = _mm512_permutexvar_ps(pi, da[c]);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m512i isum = _mm512_dpbusd_epi32(nsa, wq[r][p], a);
          acc[r][c] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum), sda), sdw[r][p], acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) Cm[c * cs + r] = _mm512_reduce_add_ps(acc[r][c]);
}

template <class D>
struct BlockKernel {
  template <int R, int C>
  static void run(int64_t k, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, float* Cm, size_t cs) {
    if constexpr (C == 1)
      gemv_blocks<D, R>(k / 32, W, ws, A, Cm);
    else
      tile_blocks<D, R, C>(k / 32, W, ws, A, as, Cm, cs);
  }
};

// ---- float weights: F32·F32, F16·F16 (converted), BF16·BF16 (converted, or VDPBF16PS) ----

struct LF32 {
  static constexpr int kStep = 16, kEl = 4;
  static FS_INLINE __m512 load(const uint8_t* p, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(p) + i);
  }
};
struct LF16 {
  static constexpr int kStep = 16, kEl = 2;
  static FS_INLINE __m512 load(const uint8_t* p, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(p) + i));
  }
};
struct LBF16 {
  static constexpr int kStep = 16, kEl = 2;
  static FS_INLINE __m512 load(const uint8_t* p, int64_t i, __mmask16 m) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(p) + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
};

template <class L, int R, int C>
FS_INLINE void float_step(const uint8_t* W, size_t ws, const uint8_t* A, size_t as, int64_t i, __mmask16 m,
                          size_t pf, __m512 (&acc)[R][C]) {
  __m512 a[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) a[c] = L::load(A + c * as, i, m);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(W + r * ws + i * L::kEl + pf), _MM_HINT_T0);
    const __m512 w = L::load(W + r * ws, i, m);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(w, a[c], acc[r][c]);
  }
}

template <class L>
struct FloatKernel {
  template <int R, int C>
  static void run(int64_t k, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, float* Cm, size_t cs) {
    __m512 acc[R][C];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    int64_t i = 0;
    const size_t pf = prefetch_bytes(ws);
    for (; i + L::kStep <= k; i += L::kStep) float_step<L, R, C>(W, ws, A, as, i, 0xFFFF, pf, acc);
    if (i < k) float_step<L, R, C>(W, ws, A, as, i, static_cast<__mmask16>((1u << (k - i)) - 1u), pf, acc);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) Cm[c * cs + r] = _mm512_reduce_add_ps(acc[r][c]);
  }
};

// BF16 with AVX512_BF16: 32 products per VDPBF16PS (pairs summed into f32 lanes).
template <int R, int C>
FS_INLINE void bf16_step(const uint8_t* W, size_t ws, const uint8_t* A, size_t as, int64_t i, __mmask32 m,
                         size_t pf, __m512 (&acc)[R][C]) {
  __m512i a[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) a[c] = _mm512_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(A + c * as) + i);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(W + r * ws + i * 2 + pf), _MM_HINT_T0);
    const __m512i w = _mm512_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(W + r * ws) + i);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], (__m512bh)w, (__m512bh)a[c]);
  }
}

struct BF16DotKernel {
  template <int R, int C>
  static void run(int64_t k, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, float* Cm, size_t cs) {
    __m512 acc[R][C];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    int64_t i = 0;
    const size_t pf = prefetch_bytes(ws);
    for (; i + 32 <= k; i += 32) bf16_step<R, C>(W, ws, A, as, i, 0xFFFFFFFFu, pf, acc);
    if (i < k) bf16_step<R, C>(W, ws, A, as, i, static_cast<__mmask32>((1ull << (k - i)) - 1u), pf, acc);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) Cm[c * cs + r] = _mm512_reduce_add_ps(acc[r][c]);
  }
};

// ---- tiling driver: 4-row tiles (tails 2, 1) × 4-column tiles (tails 2, 1); rows outer ----

template <class K, int R>
void drive_cols(int64_t k, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, int64_t n_cols, float* Cm,
                size_t cs) {
  int64_t j = 0;
  for (; j + 4 <= n_cols; j += 4) K::template run<R, 4>(k, W, ws, A + j * as, as, Cm + j * cs, cs);
  if (n_cols - j >= 2) {
    K::template run<R, 2>(k, W, ws, A + j * as, as, Cm + j * cs, cs);
    j += 2;
  }
  if (j < n_cols) K::template run<R, 1>(k, W, ws, A + j * as, as, Cm + j * cs, cs);
}

template <class K>
void gemm_drive(int64_t k, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, size_t as, int64_t n_cols,
                float* Cm, size_t cs) {
  int64_t i = 0;
  for (; i + 4 <= n_rows; i += 4) drive_cols<K, 4>(k, W + i * ws, ws, A, as, n_cols, Cm + i, cs);
  if (n_rows - i >= 2) {
    drive_cols<K, 2>(k, W + i * ws, ws, A, as, n_cols, Cm + i, cs);
    i += 2;
  }
  if (i < n_rows) drive_cols<K, 1>(k, W + i * ws, ws, A, as, n_cols, Cm + i, cs);
}

}  // namespace

void fill_gemm_avx512(GemmTable& t, bool has_bf16) {
  auto set = [&](Type ty, GemmFn f) { t.fn[static_cast<uint32_t>(ty)] = f; };
  set(Type::F32, gemm_drive<FloatKernel<LF32>>);
  set(Type::F16, gemm_drive<FloatKernel<LF16>>);
  set(Type::BF16, has_bf16 ? gemm_drive<BF16DotKernel> : gemm_drive<FloatKernel<LBF16>>);
  set(Type::Q4_0, gemm_drive<BlockKernel<DQ4_0>>);
  set(Type::Q4_1, gemm_drive<BlockKernel<DQ4_1>>);
  set(Type::Q5_0, gemm_drive<BlockKernel<DQ5_0>>);
  set(Type::Q5_1, gemm_drive<BlockKernel<DQ5_1>>);
  set(Type::Q8_0, gemm_drive<BlockKernel<DQ8_0>>);
  set(Type::IQ4_NL, gemm_drive<BlockKernel<DIQ4_NL>>);
  set(Type::MXFP4, gemm_drive<BlockKernel<DMXFP4>>);
}

}  // namespace fitserve::quant::detail
