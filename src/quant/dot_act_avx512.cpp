// AVX-512 activation quantizers (Q8_0, Q8_1, Q8_K, F16). They implement exactly the rules of the
// scalar ones in dot.cpp / quantize_k.cpp (round half to even by the CPU's default rounding mode,
// NaN lanes count as 0 in the max and quantize to 0), so every ISA writes the same bytes.
// Everything here has internal linkage (see blocks.h on ISA-specific code sharing).
// GCC 12 reports its own _mm*_undefined_* helpers as uninitialized uses.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/dot_internal.h"
#include "quant/fp16.h"

namespace fitserve::quant::detail {

namespace {

#define FS_INLINE inline __attribute__((always_inline))

// |x| with NaN -> 0.
FS_INLINE __m512 abs_nonan(__m512 v) {
  const __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7FFFFFFF)));
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, a, _CMP_ORD_Q), a);
}
// round-half-even(v) as int32 (default MXCSR rounding), NaN -> 0.
FS_INLINE __m512i round_nonan(__m512 v) { return _mm512_maskz_cvtps_epi32(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v); }

FS_INLINE void store_f16(uint8_t* p, float f) {
  const uint16_t h = fp32_to_fp16(f);
  std::memcpy(p, &h, 2);
}

template <bool kSum>
void act_q8(const float* x, uint8_t* dst, int64_t k) {
  constexpr size_t bb = kSum ? 36 : 34, qoff = kSum ? 4 : 2;
  for (int64_t i = 0; i < k / 32; ++i, x += 32, dst += bb) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(abs_nonan(v0), abs_nonan(v1)));
    const float d = amax / 127.f;
    const __m512 id = _mm512_set1_ps(amax != 0.f ? 127.f / amax : 0.f);
    const __m512i q0 = round_nonan(_mm512_mul_ps(v0, id)), q1 = round_nonan(_mm512_mul_ps(v1, id));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + qoff), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + qoff + 16), _mm512_cvtepi32_epi8(q1));
    store_f16(dst, d);
    if constexpr (kSum) store_f16(dst + 2, d * static_cast<float>(_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1))));
  }
}

void act_q8_0(const float* x, uint8_t* dst, int64_t k) { act_q8<false>(x, dst, k); }
void act_q8_1(const float* x, uint8_t* dst, int64_t k) { act_q8<true>(x, dst, k); }

// Q8_K reference rule: signed value of largest magnitude (first wins), iscale = −127/max,
// q = min(127, round(iscale·x)), 16-element sums, d = 1/iscale; all-zero block -> zeros.
void act_q8_k(const float* x, uint8_t* dst, int64_t k) {
  for (int64_t i = 0; i < k / 256; ++i, x += 256, dst += sizeof(BlockQ8_K)) {
    auto* y = reinterpret_cast<BlockQ8_K*>(dst);
    __m512 m = _mm512_setzero_ps();
    for (int j = 0; j < 16; ++j) m = _mm512_max_ps(m, abs_nonan(_mm512_loadu_ps(x + 16 * j)));
    const float amax = _mm512_reduce_max_ps(m);
    if (amax == 0.f) {
      std::memset(y, 0, sizeof(BlockQ8_K));
      continue;
    }
    float mx = 0.f;
    for (int j = 0; j < 16; ++j) {
      const __mmask16 hit = _mm512_cmp_ps_mask(abs_nonan(_mm512_loadu_ps(x + 16 * j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (hit) {
        mx = x[16 * j + __builtin_ctz(hit)];
        break;
      }
    }
    const float iscale = -127.f / mx;
    const __m512 is = _mm512_set1_ps(iscale);
    for (int j = 0; j < 16; ++j) {
      const __m512i q = _mm512_min_epi32(round_nonan(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * j), is)), _mm512_set1_epi32(127));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y->qs + 16 * j), _mm512_cvtepi32_epi8(q));
      y->bsums[j] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    y->d = 1 / iscale;
  }
}

void act_f16(const float* x, uint8_t* dst, int64_t k) {
  int64_t i = 0;
  for (; i + 16 <= k; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < k; ++i) store_f16(dst + 2 * i, x[i]);
}

}  // namespace

void fill_act_avx512(GemmTable& t) {
  t.act[static_cast<uint32_t>(Type::Q8_0)] = act_q8_0;
  t.act[static_cast<uint32_t>(Type::Q8_1)] = act_q8_1;
  t.act[static_cast<uint32_t>(Type::Q8_K)] = act_q8_k;
  t.act[static_cast<uint32_t>(Type::F16)] = act_f16;
}

}  // namespace fitserve::quant::detail
