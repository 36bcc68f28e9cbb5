// quant/quant_internal.h — helpers shared by the reference quantizers (not a public API).
// Offers: nearest_int (ggml's round-half-even via the 1.5·2^23 trick), trunc_int (C cast with
// a guard for non-finite input), kGroupMaxEps, and the per-type block quantizers of
// quantize_k.cpp / quantize_iq.cpp used by quantize.cpp's dispatcher.
#pragma once
#include <cstdint>
#include <cstring>

#include "quant/blocks.h"

namespace fitserve::quant::detail {

constexpr float kGroupMaxEps = 1e-15f;

// Round half to even for |v| < 2^22, exactly as the reference computes it (adds 1.5·2^23 and
// reads the low mantissa bits); garbage but no UB for other inputs.
inline int nearest_int(float v) {
  const float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007FFFFF) - 0x00400000;
}

// C-style truncating float -> int; non-finite or huge input gives 0 instead of UB.
inline int trunc_int(float v) {
  return (v > -2147483648.f && v < 2147483648.f) ? static_cast<int>(v) : 0;
}

void quantize_q2_k(const float* x, BlockQ2_K* y, int64_t nb);
void quantize_q3_k(const float* x, BlockQ3_K* y, int64_t nb);
void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t nb);
void quantize_q5_k(const float* x, BlockQ5_K* y, int64_t nb);
void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t nb);
void quantize_q8_k(const float* x, BlockQ8_K* y, int64_t nb);
void quantize_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t nb);
void quantize_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t nb);

}  // namespace fitserve::quant::detail
