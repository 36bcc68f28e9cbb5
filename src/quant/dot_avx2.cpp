// AVX2 (+FMA, F16C, BMI2) kernels for float weights and 32-element blocks.
//
// Same tiling as the AVX-512 file (R weight rows × C activation rows, float accumulators in
// registers over all of k), one block per 256-bit register, groups of 8 blocks. Phase A decodes
// R rows of a group into signed bytes (q − offset, or the code-book value) and per-block scale
// vectors; phase B uses the sign trick for VPMADDUBSW (|w| × sign(a, w), at most 2·128·127 per
// pair, so no saturation), VPMADDWD with ones → exact int32 per block; then × d_w·d_a and FMA.
// Q4_1/Q5_1 are unsigned (no offset) and add m_w·s_a per block from the Q8_1 activation.
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

FS_INLINE uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
FS_INLINE __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
FS_INLINE __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

FS_INLINE float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// f16 scales of n (≤ 8) blocks `stride` bytes apart; lanes ≥ n are 0.
FS_INLINE __m256 gather_f16(const uint8_t* base, __m256i idx, int n) {
  const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
  const __m256i v = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(base), idx, m, 1);
  // low 16 bits of each dword -> 8 packed halves
  const __m256i ctl = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12,
                                       13, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, ctl), 0x08);
  return _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
}

// 16 packed nibble bytes -> 32 bytes 0..15 in element order.
FS_INLINE __m256i nibbles(const uint8_t* q) {
  const __m128i x = load128(q);
  const __m256i z = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
  return _mm256_and_si256(z, _mm256_set1_epi8(0x0F));
}

FS_INLINE __m256i lut16(const int8_t* v) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v)));
}

// Bit j of qh -> 0x10 in byte j.
FS_INLINE __m256i high_bits(uint32_t qh) {
  const __m256i rep = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)),
                                          _mm256_setr_epi64x(0x0000000000000000LL, 0x0101010101010101LL,
                                                             0x0202020202020202LL, 0x0303030303030303LL));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(rep, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Decoders: kB bytes per block; block() gives 32 bytes (signed if !kUnsigned).
struct DQ4_0 {
  static constexpr int kB = 18;
  static constexpr bool kMin = false;
  static FS_INLINE __m256i block(const uint8_t* b) { return _mm256_sub_epi8(nibbles(b + 2), _mm256_set1_epi8(8)); }
};
struct DQ4_1 {
  static constexpr int kB = 20, kMOff = 2;
  static constexpr bool kMin = true;
  static FS_INLINE __m256i block(const uint8_t* b) { return nibbles(b + 4); }
};
struct DQ5_0 {
  static constexpr int kB = 22;
  static constexpr bool kMin = false;
  static FS_INLINE __m256i block(const uint8_t* b) {
    return _mm256_sub_epi8(_mm256_or_si256(nibbles(b + 6), high_bits(load32(b + 2))), _mm256_set1_epi8(16));
  }
};
struct DQ5_1 {
  static constexpr int kB = 24, kMOff = 2;
  static constexpr bool kMin = true;
  static FS_INLINE __m256i block(const uint8_t* b) { return _mm256_or_si256(nibbles(b + 8), high_bits(load32(b + 4))); }
};
struct DQ8_0 {
  static constexpr int kB = 34;
  static constexpr bool kMin = false;
  static FS_INLINE __m256i block(const uint8_t* b) { return load256(b + 2); }
};
struct DIQ4_NL {
  static constexpr int kB = 18;
  static constexpr bool kMin = false;
  static FS_INLINE __m256i block(const uint8_t* b) { return _mm256_shuffle_epi8(lut16(kIQ4NLValues), nibbles(b + 2)); }
};
struct DMXFP4 {
  static constexpr int kB = 17;
  static constexpr bool kMin = false;
  static FS_INLINE __m256i block(const uint8_t* b) { return _mm256_shuffle_epi8(lut16(kMXFP4Values), nibbles(b + 1)); }
};

template <class D>
FS_INLINE __m256 weight_scales(const uint8_t* row, __m256i idx, int n) {
  if constexpr (D::kB == 17) {  // MXFP4: E8M0 halves
    const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
    const __m256i g = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(row), idx, m, 1);
    const __m256i e = _mm256_and_si256(g, _mm256_set1_epi32(0xFF));
    const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
    const __m256i sub = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
    const __m256i small = _mm256_cmpgt_epi32(_mm256_set1_epi32(2), e);
    return _mm256_castsi256_ps(_mm256_blendv_epi8(normal, sub, small));
  } else {
    return gather_f16(row, idx, n);
  }
}

// Software prefetch distance (bytes): at least 4 rows and ≥ 16 KB further down. Each weight row
// is a short stream the hardware prefetchers do not ramp up on.
FS_INLINE size_t prefetch_bytes(size_t ws) {
  const size_t rows = (16384 + ws - 1) / ws;
  return (rows < 4 ? 4 : rows) * ws;
}

// GEMV (one activation row): decode and multiply in registers, no staging.
template <class D, int R>
void gemv_blocks(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* A, float* Cm) {
  constexpr int kAB = D::kMin ? 36 : 34, kAQs = D::kMin ? 4 : 2;
  __m256 acc[R], s8[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const __m256i iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  const __m256i widx = _mm256_mullo_epi32(iota, _mm256_set1_epi32(D::kB));
  const __m256i aidx = _mm256_mullo_epi32(iota, _mm256_set1_epi32(kAB));
  const __m256i ones = _mm256_set1_epi16(1);
  const size_t pf = prefetch_bytes(ws);
  for (int64_t g0 = 0; g0 < nb; g0 += 8) {
    const int nbg = nb - g0 < 8 ? static_cast<int>(nb - g0) : 8;
    const uint8_t* arow = A + g0 * kAB;
    const __m256 da = gather_f16(arow, aidx, nbg);
    __m256 sa;
    if constexpr (D::kMin) sa = gather_f16(arow + 2, aidx, nbg);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* row = W + r * ws + g0 * D::kB;
      for (int l = 0; l < nbg * D::kB; l += 64) _mm_prefetch(reinterpret_cast<const char*>(row + pf + l), _MM_HINT_T0);
      s8[r] = _mm256_mul_ps(weight_scales<D>(row, widx, nbg), da);
      if constexpr (D::kMin) acc[r] = _mm256_fmadd_ps(gather_f16(row + D::kMOff, widx, nbg), sa, acc[r]);
    }
    for (int p = 0; p < nbg; ++p) {
      const __m256i a = load256(arow + p * kAB + kAQs);
      const __m256i pi = _mm256_set1_epi32(p);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256i w = D::block(W + r * ws + (g0 + p) * D::kB);
        __m256i p16;
        if constexpr (D::kMin)
          p16 = _mm256_maddubs_epi16(w, a);
        else
          p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
        const __m256i isum = _mm256_madd_epi16(p16, ones);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_permutevar8x32_ps(s8[r], pi), acc[r]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) Cm[r] = hsum(acc[r]);
}

template <class D, int R, int C>
void tile_blocks(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, float* Cm, size_t cs) {
  constexpr int kAB = D::kMin ? 36 : 34, kAQs = D::kMin ? 4 : 2;
  alignas(32) __m256i wq[R][8];
  alignas(32) __m256i wabs[R][8];
  alignas(32) __m256 sdw[R][8];
  alignas(32) __m256 mw[R];
  alignas(32) __m256 da[C];
  __m256 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  const __m256i iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  const __m256i widx = _mm256_mullo_epi32(iota, _mm256_set1_epi32(D::kB));
  const __m256i aidx = _mm256_mullo_epi32(iota, _mm256_set1_epi32(kAB));
  const __m256i ones = _mm256_set1_epi16(1);
  const size_t pf = prefetch_bytes(ws);
  for (int64_t g0 = 0; g0 < nb; g0 += 8) {
    const int nbg = nb - g0 < 8 ? static_cast<int>(nb - g0) : 8;
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* row = W + r * ws + g0 * D::kB;
      for (int l = 0; l < nbg * D::kB; l += 64) _mm_prefetch(reinterpret_cast<const char*>(row + pf + l), _MM_HINT_T0);
      const __m256 dw = weight_scales<D>(row, widx, nbg);
      if constexpr (D::kMin) mw[r] = gather_f16(row + D::kMOff, widx, nbg);
      for (int p = 0; p < nbg; ++p) {
        const __m256i w = D::block(row + p * D::kB);
        wq[r][p] = w;
        if constexpr (!D::kMin) wabs[r][p] = _mm256_sign_epi8(w, w);
        sdw[r][p] = _mm256_permutevar8x32_ps(dw, _mm256_set1_epi32(p));
      }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const uint8_t* arow = A + c * as + g0 * kAB;
      da[c] = gather_f16(arow, aidx, nbg);
      if constexpr (D::kMin) {
        const __m256 sa = gather_f16(arow + 2, aidx, nbg);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(mw[r], sa, acc[r][c]);
      }
    }
    for (int p = 0; p < nbg; ++p) {
      const __m256i pi = _mm256_set1_epi32(p);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const __m256i a = load256(A + c * as + (g0 + p) * kAB + kAQs);
        const __m256 sda = _mm256_permutevar8x32_ps(da[c], pi);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          __m256i p16;
          if constexpr (D::kMin)
            p16 = _mm256_maddubs_epi16(wq[r][p], a);
          else
            p16 = _mm256_maddubs_epi16(wabs[r][p], _mm256_sign_epi8(a, wq[r][p]));
          const __m256i isum = _mm256_madd_epi16(p16, ones);
          // the GEMV's operations: isum · (d_w·d_a) (a broadcast of the product is the product of
          // the broadcasts), so every column equals a one-column call bit for bit
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(sdw[r][p], sda), acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) Cm[c * cs + r] = hsum(acc[r][c]);
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

// ---- float weights: 8 elements per step; the k % 8 tail goes through a zero-padded copy ----

struct LF32 {
  static constexpr int kEl = 4;
  static FS_INLINE __m256 load(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
};
struct LF16 {
  static constexpr int kEl = 2;
  static FS_INLINE __m256 load(const uint8_t* p) { return _mm256_cvtph_ps(load128(p)); }
};
struct LBF16 {
  static constexpr int kEl = 2;
  static FS_INLINE __m256 load(const uint8_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
  }
};

template <class L, int R, int C>
FS_INLINE void float_step(const uint8_t* const* w, const uint8_t* const* a, int64_t off, size_t pf,
                          __m256 (&acc)[R][C]) {
  __m256 av[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) av[c] = L::load(a[c] + off);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(w[r] + off + pf), _MM_HINT_T0);
    const __m256 wv = L::load(w[r] + off);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(wv, av[c], acc[r][c]);
  }
}

template <class L>
struct FloatKernel {
  template <int R, int C>
  static void run(int64_t k, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, float* Cm, size_t cs) {
    __m256 acc[R][C];
    const uint8_t* w[R];
    const uint8_t* a[C];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      w[r] = W + r * ws;
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) a[c] = A + c * as;
    int64_t i = 0;
    const size_t pf = prefetch_bytes(ws);
    for (; i + 8 <= k; i += 8) float_step<L, R, C>(w, a, i * L::kEl, pf, acc);
    if (i < k) {  // tail: zero-padded copies
      alignas(32) uint8_t tw[R][32] = {}, ta[C][32] = {};
      const uint8_t* pw[R];
      const uint8_t* pa[C];
      const size_t nbytes = static_cast<size_t>(k - i) * L::kEl;
      for (int r = 0; r < R; ++r) {
        std::memcpy(tw[r], w[r] + i * L::kEl, nbytes);
        pw[r] = tw[r];
      }
      for (int c = 0; c < C; ++c) {
        std::memcpy(ta[c], a[c] + i * L::kEl, nbytes);
        pa[c] = ta[c];
      }
      float_step<L, R, C>(pw, pa, 0, 0, acc);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) Cm[c * cs + r] = hsum(acc[r][c]);
  }
};

// ---- tiling driver: 4-row tiles (tails 2, 1) × 2-column tiles (tail 1); rows outer ----

template <class K, int R>
void drive_cols(int64_t k, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, int64_t n_cols, float* Cm,
                size_t cs) {
  int64_t j = 0;
  for (; j + 2 <= n_cols; j += 2) K::template run<R, 2>(k, W, ws, A + j * as, as, Cm + j * cs, cs);
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

void fill_gemm_avx2(GemmTable& t) {
  auto set = [&](Type ty, GemmFn f) { t.fn[static_cast<uint32_t>(ty)] = f; };
  set(Type::F32, gemm_drive<FloatKernel<LF32>>);
  set(Type::F16, gemm_drive<FloatKernel<LF16>>);
  set(Type::BF16, gemm_drive<FloatKernel<LBF16>>);
  set(Type::Q4_0, gemm_drive<BlockKernel<DQ4_0>>);
  set(Type::Q4_1, gemm_drive<BlockKernel<DQ4_1>>);
  set(Type::Q5_0, gemm_drive<BlockKernel<DQ5_0>>);
  set(Type::Q5_1, gemm_drive<BlockKernel<DQ5_1>>);
  set(Type::Q8_0, gemm_drive<BlockKernel<DQ8_0>>);
  set(Type::IQ4_NL, gemm_drive<BlockKernel<DIQ4_NL>>);
  set(Type::MXFP4, gemm_drive<BlockKernel<DMXFP4>>);
}

}  // namespace fitserve::quant::detail
