// AVX2 (+FMA, F16C, BMI2) kernels for Q4_K, Q5_K and Q6_K weights against Q8_K activations.
// Tiles of R rows × C activation rows; per super-block phase A decodes each weight row into eight
// 32-byte registers of unsigned quants in activation order plus one 16-bit scale vector per
// register; phase B: VPMADDUBSW (no saturation: q ≤ 63, |a| ≤ 127), VPMADDWD with the scales,
// exact int32 sums; mins / Q6_K's −32 offset from the Q8_K block sums.
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
FS_INLINE __m256i load256(const void* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

FS_INLINE float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

struct Decoded {
  __m256i wq[8];  // unsigned quants, 32 activation elements each
  __m256i sc[8];  // int16 scale per maddubs word
  __m256i aux;    // Q4/5_K: mins duplicated per 16-sum pair; Q6_K: the 16 scales
  __m256 d, dmin;
};

template <bool kQ5>
FS_INLINE void decode_q45(const uint8_t* p, Decoded& o) {
  const auto* x = reinterpret_cast<const BlockQ4_K*>(p);
  uint16_t hd, hm;
  std::memcpy(&hd, p, 2);
  std::memcpy(&hm, p + 2, 2);
  o.d = _mm256_set1_ps(_cvtsh_ss(hd));
  o.dmin = _mm256_set1_ps(_cvtsh_ss(hm));
  const uint32_t w0 = load32(x->scales), w1 = load32(x->scales + 4), w2 = load32(x->scales + 8);
  const uint32_t sl = w0 & 0x3F3F3F3Fu, sh = (w2 & 0x0F0F0F0Fu) | ((w0 >> 2) & 0x30303030u);
  const uint32_t ml = w1 & 0x3F3F3F3Fu, mh = ((w2 >> 4) & 0x0F0F0F0Fu) | ((w1 >> 2) & 0x30303030u);
  const __m128i b8 = _mm_set_epi32(static_cast<int>(mh), static_cast<int>(ml), static_cast<int>(sh),
                                   static_cast<int>(sl));
  const __m256i s16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(b8));
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) o.sc[j] = _mm256_shuffle_epi8(s16, _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * j)));
  const __m128i m8 = _mm_srli_si128(b8, 8);
  o.aux = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
  const uint8_t* qs = kQ5 ? reinterpret_cast<const BlockQ5_K*>(p)->qs : x->qs;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256i qh = _mm256_setzero_si256();
  if constexpr (kQ5) qh = load256(reinterpret_cast<const BlockQ5_K*>(p)->qh);
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m256i q = load256(qs + 32 * c);
    __m256i lo = _mm256_and_si256(q, low4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
    if constexpr (kQ5) {
      // bit j of qh (j = 2c for lo, 2c+1 for hi) -> bit 4 of the same byte
      const __m256i b10 = _mm256_set1_epi8(0x10);
      const int jl = 2 * c, jh = 2 * c + 1;
      const __m256i tl = jl <= 4 ? _mm256_sll_epi16(qh, _mm_cvtsi32_si128(4 - jl)) : _mm256_srl_epi16(qh, _mm_cvtsi32_si128(jl - 4));
      const __m256i th = jh <= 4 ? _mm256_sll_epi16(qh, _mm_cvtsi32_si128(4 - jh)) : _mm256_srl_epi16(qh, _mm_cvtsi32_si128(jh - 4));
      lo = _mm256_or_si256(lo, _mm256_and_si256(tl, b10));
      hi = _mm256_or_si256(hi, _mm256_and_si256(th, b10));
    }
    o.wq[2 * c] = lo;
    o.wq[2 * c + 1] = hi;
  }
}

FS_INLINE void decode_q6(const uint8_t* p, Decoded& o) {
  const auto* x = reinterpret_cast<const BlockQ6_K*>(p);
  uint16_t hd;
  std::memcpy(&hd, &x->d, 2);
  o.d = _mm256_set1_ps(_cvtsh_ss(hd));
  const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x->scales));
  o.aux = _mm256_cvtepi8_epi16(sc8);
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {  // register j covers sub-blocks 2j (low lane) and 2j+1 (high lane)
    const __m128i ctl = _mm_set_epi64x(0x0101010101010101LL * (2 * j + 1), 0x0101010101010101LL * (2 * j));
    o.sc[j] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, ctl));
  }
  const __m256i low4 = _mm256_set1_epi8(0x0F), b45 = _mm256_set1_epi8(0x30);
#pragma GCC unroll 2
  for (int n = 0; n < 2; ++n) {
    const __m256i ql0 = load256(x->ql + 64 * n), ql1 = load256(x->ql + 64 * n + 32);
    const __m256i qh = load256(x->qh + 32 * n);
    o.wq[4 * n + 0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), b45));
    o.wq[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), b45));
    o.wq[4 * n + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, b45));
    o.wq[4 * n + 3] =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), b45));
  }
}

template <int kKind, int R, int C>
void tile_k(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, float* Cm, size_t cs) {
  constexpr int kB = kKind == 4 ? 144 : kKind == 5 ? 176 : 210;
  alignas(32) Decoded dec[R];
  __m256 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  const size_t pf_rows = (16384 + ws - 1) / ws;
  const size_t pf = (pf_rows < 4 ? 4 : pf_rows) * ws;
  for (int64_t b = 0; b < nb; ++b) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = W + r * ws + b * kB;
      // Rows are short streams the hardware prefetchers miss: fetch ≥ 16 KB ahead ourselves.
#pragma GCC unroll 4
      for (int l = 0; l < kB; l += 64) _mm_prefetch(reinterpret_cast<const char*>(blk + pf + l), _MM_HINT_T0);
      if constexpr (kKind == 6)
        decode_q6(blk, dec[r]);
      else
        decode_q45<kKind == 5>(blk, dec[r]);
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const auto* y = reinterpret_cast<const BlockQ8_K*>(A + c * as) + b;
      const __m256i bs = load256(y->bsums);
      const __m256 dav = _mm256_set1_ps(y->d);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j)
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(dec[r].wq[j], load256(y->qs + 32 * j)),
                                                          dec[r].sc[j]));
        const __m256i m = _mm256_madd_epi16(bs, dec[r].aux);
        if constexpr (kKind == 6) {
          isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(m, 5));
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dec[r].d, dav), acc[r][c]);
        } else {
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dec[r].d, dav), acc[r][c]);
          acc[r][c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(dec[r].dmin, dav), acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) Cm[c * cs + r] = hsum(acc[r][c]);
}

template <int kKind, int R>
void drive_cols(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* A, size_t as, int64_t n_cols, float* Cm,
                size_t cs) {
  int64_t j = 0;
  for (; j + 2 <= n_cols; j += 2) tile_k<kKind, R, 2>(nb, W, ws, A + j * as, as, Cm + j * cs, cs);
  if (j < n_cols) tile_k<kKind, R, 1>(nb, W, ws, A + j * as, as, Cm + j * cs, cs);
}

template <int kKind>
void gemm_k(int64_t k, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, size_t as, int64_t n_cols,
            float* Cm, size_t cs) {
  const int64_t nb = k / 256;
  int64_t i = 0;
  for (; i + 4 <= n_rows; i += 4) drive_cols<kKind, 4>(nb, W + i * ws, ws, A, as, n_cols, Cm + i, cs);
  if (n_rows - i >= 2) {
    drive_cols<kKind, 2>(nb, W + i * ws, ws, A, as, n_cols, Cm + i, cs);
    i += 2;
  }
  if (i < n_rows) drive_cols<kKind, 1>(nb, W + i * ws, ws, A, as, n_cols, Cm + i, cs);
}

}  // namespace

void fill_gemm_k_avx2(GemmTable& t) {
  t.fn[static_cast<uint32_t>(Type::Q4_K)] = gemm_k<4>;
  t.fn[static_cast<uint32_t>(Type::Q5_K)] = gemm_k<5>;
  t.fn[static_cast<uint32_t>(Type::Q6_K)] = gemm_k<6>;
}

}  // namespace fitserve::quant::detail
