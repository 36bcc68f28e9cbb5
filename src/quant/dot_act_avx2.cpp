// AVX2 activation quantizers (Q8_0, Q8_1, F16), same rules and bytes as the scalar ones in
// dot.cpp (round half to even by the default rounding mode; NaN lanes count as 0 in the max and
// quantize to 0). Everything here has internal linkage (see blocks.h).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/dot_internal.h"
#include "quant/fp16.h"

namespace fitserve::quant::detail {

namespace {

#define FS_INLINE inline __attribute__((always_inline))

FS_INLINE __m256 abs_nonan(__m256 v) {
  const __m256 a = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
  return _mm256_and_ps(a, _mm256_cmp_ps(a, a, _CMP_ORD_Q));
}
FS_INLINE __m256i round_nonan(__m256 v) {
  return _mm256_and_si256(_mm256_cvtps_epi32(v), _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_ORD_Q)));
}
FS_INLINE void store_f16(uint8_t* p, float f) {
  const uint16_t h = fp32_to_fp16(f);
  std::memcpy(p, &h, 2);
}

template <bool kSum>
void act_q8(const float* x, uint8_t* dst, int64_t k) {
  constexpr size_t bb = kSum ? 36 : 34, qoff = kSum ? 4 : 2;
  for (int64_t i = 0; i < k / 32; ++i, x += 32, dst += bb) {
    __m256 v[4];
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
      v[j] = _mm256_loadu_ps(x + 8 * j);
      m = _mm256_max_ps(m, abs_nonan(v[j]));
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const float d = amax / 127.f;
    const __m256 id = _mm256_set1_ps(amax != 0.f ? 127.f / amax : 0.f);
    __m256i q[4];
    for (int j = 0; j < 4; ++j) q[j] = round_nonan(_mm256_mul_ps(v[j], id));
    // int32 -> int8 (values are within ±127), restoring element order after the lane-wise packs
    const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + qoff), p8);
    store_f16(dst, d);
    if constexpr (kSum) {
      const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
      __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
      t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
      store_f16(dst + 2, d * static_cast<float>(_mm_cvtsi128_si32(t)));
    }
  }
}

void act_q8_0(const float* x, uint8_t* dst, int64_t k) { act_q8<false>(x, dst, k); }
void act_q8_1(const float* x, uint8_t* dst, int64_t k) { act_q8<true>(x, dst, k); }

void act_f16(const float* x, uint8_t* dst, int64_t k) {
  int64_t i = 0;
  for (; i + 8 <= k; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < k; ++i) store_f16(dst + 2 * i, x[i]);
}

}  // namespace

void fill_act_avx2(GemmTable& t) {
  t.act[static_cast<uint32_t>(Type::Q8_0)] = act_q8_0;
  t.act[static_cast<uint32_t>(Type::Q8_1)] = act_q8_1;
  t.act[static_cast<uint32_t>(Type::F16)] = act_f16;
}

}  // namespace fitserve::quant::detail
