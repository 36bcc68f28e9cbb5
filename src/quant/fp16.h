// quant/fp16.h — exact scalar conversions between float32 and the two 16-bit float formats.
// Offers: fp32_to_fp16(float) / fp16_to_fp32(uint16_t)   IEEE binary16, round-to-nearest-even,
//           subnormals, overflow -> Inf, NaN stays NaN (quiet bit set);
//         fp32_to_bf16(float) / bf16_to_fp32(uint16_t)   bfloat16 = upper half of binary32,
//           round-to-nearest-even on the dropped half, NaN keeps its top bits + the quiet bit;
//         fp16_row_to_fp32 / fp32_row_to_fp16 / bf16_row_to_fp32 / fp32_row_to_bf16 (row loops).
// All functions are branch-light integer code (no table, no FPU mode dependence), so they give the
// same bits on every CPU and in every ISA variant.
// Every function is always_inline: when a *_avx2.cpp / *_avx512.cpp file includes this header,
// no out-of-line copy compiled with wider ISA flags can be shared with baseline code.
#pragma once
#include <cstdint>
#include <cstring>

#ifndef FS_ALWAYS_INLINE
#define FS_ALWAYS_INLINE inline __attribute__((always_inline))
#endif

namespace fitserve::quant {

FS_ALWAYS_INLINE uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
FS_ALWAYS_INLINE float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

FS_ALWAYS_INLINE float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) return bits_f32(sign | 0x7F800000u | (man << 13));  // Inf / NaN (payload kept)
  if (exp != 0) return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
  // Zero or subnormal: man * 2^-24 is exact in float32.
  const float mag = static_cast<float>(man) * bits_f32(0x33800000u);  // 2^-24
  return bits_f32(sign | f32_bits(mag));
}

FS_ALWAYS_INLINE uint16_t fp32_to_fp16(float f) {
  const uint32_t u = f32_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u)  // NaN: keep the top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  const uint32_t e = a >> 23;  // biased float exponent
  if (e >= 143) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 2^16 (and Inf): overflow
  if (e >= 113) {  // normal half (possibly rounding up to the next binade or to Inf)
    uint32_t h = ((e - 112u) << 10) | ((a >> 13) & 0x3FFu);
    const uint32_t rem = a & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  // Subnormal half: value = m * 2^(e-150) with m = 24-bit significand; half units are 2^-24.
  if (e < 102) return sign;  // < 2^-25: rounds to zero (exactly 2^-25 is e == 102)
  const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - e;  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

FS_ALWAYS_INLINE float bf16_to_fp32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

FS_ALWAYS_INLINE uint16_t fp32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

FS_ALWAYS_INLINE void fp16_row_to_fp32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}
FS_ALWAYS_INLINE void fp32_row_to_fp16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}
FS_ALWAYS_INLINE void bf16_row_to_fp32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(src[i]);
}
FS_ALWAYS_INLINE void fp32_row_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_bf16(src[i]);
}

}  // namespace fitserve::quant
