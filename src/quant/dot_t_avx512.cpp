// AVX-512 (F/BW/VL/DQ/VNNI) GEMM for 32-element block types when n_cols > 1 (prompt processing),
// in "lane = block" form: a group of 16 blocks is transposed so that 32-bit lane i of eight
// registers holds block i's bytes 4t..4t+3 (t = 0..7). Eight VPDPBUSD then leave each block's
// exact integer dot in its own lane, and one convert + one FMA with the 16 per-block scale
// products d_w·d_a finishes the group — 11 operations per (row, column, 16 blocks) instead of 32
// for the pairwise form used by GEMV. The activation rows are transposed once per call into
// thread-local scratch (with their scales and −offset·Σa per block); weight rows are transposed
// once per tile of 4 rows and reused for 4 activation rows.
// Everything here has internal linkage (see blocks.h on ISA-specific code sharing).
// GCC 12 reports its own _mm*_undefined_* helpers as uninitialized uses.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "quant/blocks.h"
#include "quant/dot_avx512_blocks.h"
#include "quant/dot_internal.h"

namespace fitserve::quant::detail {

namespace {

// Per activation row and group: 8 × 64 bytes of transposed quants, then 16 floats d_a,
// 16 int32 −offset·Σa, 16 floats s_a (Q8_1 only).
constexpr int kGroupBytes = 11 * 64;
constexpr int kDaOff = 8 * 64, kNsaOff = 9 * 64, kSaOff = 10 * 64;

// Output position 4t+m takes input dword 4m+t: a 4×4 transpose inside each group of 4 lanes
// across the 4 128-bit lanes.
alignas(64) constexpr int32_t kT4x4[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};

FS_INLINE __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// 16 blocks (stride bytes apart) × 16 bytes at p -> out[u] (u = 0..3): lane i = dword u of block i.
FS_INLINE void transpose_16x4(const uint8_t* p, size_t stride, __m512i* out) {
  const __m512i idx = _mm512_load_si512(kT4x4);
  __m512i t[4];
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const uint8_t* b = p + 4 * j * stride;
    __m512i z = _mm512_castsi128_si512(load128(b));
    z = _mm512_inserti32x4(z, load128(b + stride), 1);
    z = _mm512_inserti32x4(z, load128(b + 2 * stride), 2);
    z = _mm512_inserti32x4(z, load128(b + 3 * stride), 3);
    t[j] = _mm512_permutexvar_epi32(idx, z);  // 128-bit lane u = dword u of blocks 4j..4j+3
  }
  const __m512i x0 = _mm512_shuffle_i32x4(t[0], t[1], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i x1 = _mm512_shuffle_i32x4(t[0], t[1], _MM_SHUFFLE(3, 2, 3, 2));
  const __m512i x2 = _mm512_shuffle_i32x4(t[2], t[3], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i x3 = _mm512_shuffle_i32x4(t[2], t[3], _MM_SHUFFLE(3, 2, 3, 2));
  out[0] = _mm512_shuffle_i32x4(x0, x2, _MM_SHUFFLE(2, 0, 2, 0));
  out[1] = _mm512_shuffle_i32x4(x0, x2, _MM_SHUFFLE(3, 1, 3, 1));
  out[2] = _mm512_shuffle_i32x4(x1, x3, _MM_SHUFFLE(2, 0, 2, 0));
  out[3] = _mm512_shuffle_i32x4(x1, x3, _MM_SHUFFLE(3, 1, 3, 1));
}

// A group of up to 16 blocks; a short last group is copied into zeroed storage first so the
// full-group code never reads past the row.
template <int kB>
FS_INLINE const uint8_t* full_group(const uint8_t* p, int nbg, uint8_t* tmp) {
  if (nbg == 16) return p;
  std::memset(tmp, 0, 16 * kB);
  std::memcpy(tmp, p, static_cast<size_t>(nbg) * kB);
  return tmp;
}

// Per-type facts for the transposed form.
template <class D> struct TInfo;
template <> struct TInfo<DQ4_0> { static constexpr int kQs = 2, kQh = -1; static constexpr bool kNib = true, kLut = false; };
template <> struct TInfo<DQ4_1> { static constexpr int kQs = 4, kQh = -1; static constexpr bool kNib = true, kLut = false; };
template <> struct TInfo<DQ5_0> { static constexpr int kQs = 6, kQh = 2; static constexpr bool kNib = true, kLut = false; };
template <> struct TInfo<DQ5_1> { static constexpr int kQs = 8, kQh = 4; static constexpr bool kNib = true, kLut = false; };
template <> struct TInfo<DQ8_0> { static constexpr int kQs = 2, kQh = -1; static constexpr bool kNib = false, kLut = false; };
template <> struct TInfo<DIQ4_NL> { static constexpr int kQs = 2, kQh = -1; static constexpr bool kNib = true, kLut = true; };
template <> struct TInfo<DMXFP4> { static constexpr int kQs = 1, kQh = -1; static constexpr bool kNib = true, kLut = true; };

// Transposed unsigned weights of one row's group (w[t], lane i = elements 4t..4t+3 of block i)
// plus the 16 block scales (and mins).
template <class D>
FS_INLINE void decode_group(const uint8_t* row, int nbg, __m512i* w, __m512& dw, __m512& mw) {
  using I = TInfo<D>;
  alignas(64) uint8_t tmp[16 * D::kB];
  const uint8_t* src = full_group<D::kB>(row, nbg, tmp);
  dw = D::scales(src, _mm512_setzero_si512(), 16, 0xFFFF);
  if constexpr (D::kMin) mw = f16x16_full<D::kB, D::kMOff>(src);
  if constexpr (I::kNib) {
    __m512i q[4];
    transpose_16x4(src + I::kQs, D::kB, q);
    const __m512i low4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      w[u] = _mm512_and_si512(q[u], low4);
      w[u + 4] = _mm512_and_si512(_mm512_srli_epi16(q[u], 4), low4);
    }
    if constexpr (I::kLut) {
      const __m512i lut = lut16(std::is_same_v<D, DMXFP4> ? kMXFP4Lut : kIQ4Lut);
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) w[t] = _mm512_shuffle_epi8(lut, w[t]);
    }
    if constexpr (I::kQh >= 0) {
      // lane i = qh of block i; element 4t+b takes bit 4t+b (byte t/2, bit 4(t&1)+b)
      const __m512i h = _mm512_or_si512(_mm512_cvtepu16_epi32(words16_full<D::kB, I::kQh>(src)),
                                        _mm512_slli_epi32(_mm512_cvtepu16_epi32(words16_full<D::kB, I::kQh + 2>(src)), 16));
      // VPSHUFB index of byte 0 of each dword inside its 128-bit lane
      const __m512i dword0 = _mm512_set_epi32(12 * 0x01010101, 8 * 0x01010101, 4 * 0x01010101, 0, 12 * 0x01010101,
                                              8 * 0x01010101, 4 * 0x01010101, 0, 12 * 0x01010101, 8 * 0x01010101,
                                              4 * 0x01010101, 0, 12 * 0x01010101, 8 * 0x01010101, 4 * 0x01010101, 0);
      const __m512i sixteen = _mm512_set1_epi8(16);
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) {
        const __m512i rep = _mm512_shuffle_epi8(h, _mm512_add_epi8(dword0, _mm512_set1_epi8(static_cast<char>(t / 2))));
        const __m512i bits = _mm512_set1_epi32(t & 1 ? static_cast<int>(0x80402010u) : 0x08040201);
        const __mmask64 k = _mm512_test_epi8_mask(rep, bits);
        w[t] = _mm512_mask_add_epi8(w[t], k, w[t], sixteen);
      }
    }
  } else {  // Q8_0: signed bytes, biased to unsigned
    transpose_16x4(src + I::kQs, D::kB, w);
    transpose_16x4(src + I::kQs + 16, D::kB, w + 4);
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) w[t] = _mm512_xor_si512(w[t], bias);
  }
}

// One activation row's group: transposed quants, d_a, −off·Σa, s_a.
template <class D>
FS_INLINE void prep_group(const uint8_t* ab, int nbg, uint8_t* out) {
  using Ac = Act<D::kMin>;
  alignas(64) uint8_t tmp[16 * Ac::kB];
  const uint8_t* src = full_group<Ac::kB>(ab, nbg, tmp);
  __m512i a[8];
  transpose_16x4(src + Ac::kQs, Ac::kB, a);
  transpose_16x4(src + Ac::kQs + 16, Ac::kB, a + 4);
  __m512i sum = _mm512_setzero_si512();
#pragma GCC unroll 8
  for (int t = 0; t < 8; ++t) {
    _mm512_store_si512(out + 64 * t, a[t]);
    if constexpr (D::kOff != 0) sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(static_cast<char>(D::kOff)), a[t]);
  }
  _mm512_store_ps(out + kDaOff, f16x16_full<Ac::kB, 0>(src));
  _mm512_store_si512(out + kNsaOff, _mm512_sub_epi32(_mm512_setzero_si512(), sum));
  if constexpr (D::kMin) _mm512_store_ps(out + kSaOff, f16x16_full<Ac::kB, 2>(src));
}

template <class D, int R, int C>
void tile_t(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* P, size_t ps, float* Cm, size_t cs) {
  alignas(64) __m512i wt[R][8];
  __m512 dw[R], mw[R];
  __m512 acc[R][C];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  const size_t pf = prefetch_bytes(ws);
  for (int64_t g0 = 0, g = 0; g0 < nb; g0 += 16, ++g) {
    const int nbg = nb - g0 < 16 ? static_cast<int>(nb - g0) : 16;
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* row = W + r * ws + g0 * D::kB;
      prefetch_range(row + pf, nbg * D::kB);
      decode_group<D>(row, nbg, wt[r], dw[r], mw[r]);
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const uint8_t* pg = P + c * ps + g * kGroupBytes;
      __m512i a[8];
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) a[t] = _mm512_load_si512(pg + 64 * t);
      const __m512 da = _mm512_load_ps(pg + kDaOff);
      const __m512i nsa = _mm512_load_si512(pg + kNsaOff);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        __m512i isum = nsa;
#pragma GCC unroll 8
        for (int t = 0; t < 8; ++t) isum = _mm512_dpbusd_epi32(isum, wt[r][t], a[t]);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw[r], da), acc[r][c]);
        if constexpr (D::kMin) acc[r][c] = _mm512_fmadd_ps(mw[r], _mm512_load_ps(pg + kSaOff), acc[r][c]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) Cm[c * cs + r] = _mm512_reduce_add_ps(acc[r][c]);
}

template <class D, int R>
void tile_cols(int64_t nb, const uint8_t* W, size_t ws, const uint8_t* P, size_t ps, int64_t n_cols, float* Cm,
               size_t cs) {
  int64_t j = 0;
  for (; j + 4 <= n_cols; j += 4) tile_t<D, R, 4>(nb, W, ws, P + j * ps, ps, Cm + j * cs, cs);
  if (n_cols - j >= 2) {
    tile_t<D, R, 2>(nb, W, ws, P + j * ps, ps, Cm + j * cs, cs);
    j += 2;
  }
  if (j < n_cols) tile_t<D, R, 1>(nb, W, ws, P + j * ps, ps, Cm + j * cs, cs);
}

template <class D>
void gemm_t(int64_t k, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, size_t as, int64_t n_cols,
            float* Cm, size_t cs) {
  using Ac = Act<D::kMin>;
  const int64_t nb = k / 32, ng = (nb + 15) / 16;
  const size_t ps = static_cast<size_t>(ng) * kGroupBytes;
  uint8_t* P = scratch(ps * static_cast<size_t>(n_cols));
  for (int64_t c = 0; c < n_cols; ++c)
    for (int64_t g = 0; g < ng; ++g) {
      const int nbg = nb - 16 * g < 16 ? static_cast<int>(nb - 16 * g) : 16;
      prep_group<D>(A + c * as + 16 * g * Ac::kB, nbg, P + c * ps + g * kGroupBytes);
    }
  int64_t i = 0;
  for (; i + 4 <= n_rows; i += 4) tile_cols<D, 4>(nb, W + i * ws, ws, P, ps, n_cols, Cm + i, cs);
  if (n_rows - i >= 2) {
    tile_cols<D, 2>(nb, W + i * ws, ws, P, ps, n_cols, Cm + i, cs);
    i += 2;
  }
  if (i < n_rows) tile_cols<D, 1>(nb, W + i * ws, ws, P, ps, n_cols, Cm + i, cs);
}

}  // namespace

void fill_gemm_t_avx512(GemmTable& t) {
  t.multi[static_cast<uint32_t>(Type::Q4_0)] = gemm_t<DQ4_0>;
  t.multi[static_cast<uint32_t>(Type::Q4_1)] = gemm_t<DQ4_1>;
  t.multi[static_cast<uint32_t>(Type::Q5_0)] = gemm_t<DQ5_0>;
  t.multi[static_cast<uint32_t>(Type::Q5_1)] = gemm_t<DQ5_1>;
  t.multi[static_cast<uint32_t>(Type::Q8_0)] = gemm_t<DQ8_0>;
  t.multi[static_cast<uint32_t>(Type::IQ4_NL)] = gemm_t<DIQ4_NL>;
  t.multi[static_cast<uint32_t>(Type::MXFP4)] = gemm_t<DMXFP4>;
}

}  // namespace fitserve::quant::detail
