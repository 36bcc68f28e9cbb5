// quant/quant.h — row conversion between float32 and every computable ggml tensor type.
// Offers:
//   dequantize_row(t, src, dst, n)  F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 Q2_K Q3_K Q4_K
//                                   Q5_K Q6_K Q8_K IQ4_NL IQ4_XS MXFP4; bit-exact with the
//                                   reference dequantizers (spec gguf-and-quants §4).
//   quantize_row(t, src, dst, n)    reference ("_ref", no importance matrix) quantizers for F32
//                                   F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 Q2_K Q3_K Q4_K Q5_K
//                                   Q6_K Q8_K IQ4_NL IQ4_XS MXFP4 (§5), same float32 arithmetic.
//   can_dequantize(t), can_quantize(t)
// n must be a multiple of the type's block size; other types, or a bad n, throw
// core::Error("quant", ...) naming the type. dst must hold row_bytes(t, n) bytes (quantize) or
// n floats (dequantize). Rows need no alignment beyond the block struct's natural one
// (2 bytes; 4 for Q8_K, 1 for MXFP4).
#pragma once
#include <cstdint>

#include "quant/types.h"

namespace fitserve::quant {

bool can_dequantize(Type t);
bool can_quantize(Type t);
void dequantize_row(Type t, const void* src, float* dst, int64_t n);
void quantize_row(Type t, const float* src, void* dst, int64_t n);

}  // namespace fitserve::quant
