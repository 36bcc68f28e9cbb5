// AVX-512 (F/BW/VL/DQ/VNNI, optional BF16) kernels for float weights: tiles of 4 rows × 4
// columns, FMA (F32; F16/BF16 converted) or VDPBF16PS (BF16 × BF16 with AVX512_BF16).
// The 32-element block types are in dot_gemv_avx512.cpp (GEMV) and dot_t_avx512.cpp (GEMM).
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
}

}  // namespace fitserve::quant::detail
