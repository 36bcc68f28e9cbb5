// quant/dot.h — the engine's matrix-multiply kernels over quantized weights (spec §6).
// Offers:
//   Isa { Scalar, AVX2, AVX512 }; best_isa() (AVX512 = F+BW+VL+DQ+VNNI; AVX2 = AVX2+FMA+F16C+BMI2),
//   active_isa() / set_isa(isa) (tests force each variant; default best_isa(), or the env var
//   FITSERVE_ISA=scalar|avx2|avx512 read once), isa_name(isa).
//   vec_dot_type(w): the activation format used against weights of type w —
//     F32→F32, F16→F16, BF16→BF16 (products of the converted values, as the reference CPU path);
//     Q4_0 Q5_0 Q8_0 IQ4_NL MXFP4 → Q8_0; Q4_1 Q5_1 → Q8_1; Q2_K..Q6_K IQ4_XS → Q8_K.
//   act_row_bytes(w, k), quantize_act_row(w, x, dst, k): one activation row (k floats) in that
//     format. Q8_0/Q8_1 use the reference CPU SIMD rule (d = amax/127, q = round-half-even(x·127/amax),
//     s = d·Σq), Q8_K the reference rule; every ISA variant produces identical bytes.
//   gemm(w, k, W, w_stride, n_rows, A, a_stride, n_cols, C, c_stride):
//     C[j·c_stride + i] = dot(row i of W, activation row j of A) for i < n_rows, j < n_cols.
//     W rows are w_stride bytes apart (row_bytes(w, k) or more), A rows a_stride bytes apart
//     (act_row_bytes or more). n_cols = 1 is the decode (GEMV) case. Single-threaded: callers split
//     row ranges across threads. SIMD kernels (AVX-512 / AVX2): F32 F16 BF16 Q4_0 Q4_1 Q5_0
//     Q5_1 Q8_0 IQ4_NL MXFP4 Q4_K Q5_K Q6_K on both; Q2_K Q3_K IQ4_XS on AVX-512 only (AVX2 and
//     Scalar use the scalar integer kernel). On AVX-512 the 32-element block types use a
//     thread-local scratch: ~2 bytes per element of each activation row for n_cols <= 8 (staged
//     once per call; n_cols > 4 adds ~20 bytes per block for one decoded weight row), ~1.4 per
//     activation element for larger n_cols. A row's result does not depend on the row range.
//   Batch invariance: for n_cols <= 8 (decode-sized batches: speculative verification, several
//     slots decoding) column j is bit-identical to gemm(..., n_cols = 1) on activation row j, on
//     every ISA and type (AVX-512 applies each decoded weight row to every column with the GEMV's
//     accumulation order). Larger n_cols stay exact except for the AVX-512 32-element block
//     types (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL MXFP4), whose tiled GEMM sums in another order.
//   gemm_supported(w); k must be a multiple of max(block(w), block(vec_dot_type(w))) — else
//   core::Error("quant"). Pointers need the block struct's alignment (2 bytes; 4 for F32/Q8_K).
// Results: each block's integer dot is exact; scales and the sum are float32, so variants agree
// to float rounding (tests bound |variant − scalar| relative to Σ|w·a|).
#pragma once
#include <cstddef>
#include <cstdint>

#include "quant/types.h"

namespace fitserve::quant {

enum class Isa { Scalar = 0, AVX2 = 1, AVX512 = 2 };

Isa best_isa();
Isa active_isa();
void set_isa(Isa isa);  // throws core::Error if this CPU lacks it
const char* isa_name(Isa isa);

bool gemm_supported(Type w);
Type vec_dot_type(Type w);
size_t act_row_bytes(Type w, int64_t k);
void quantize_act_row(Type w, const float* x, void* dst, int64_t k);

void gemm(Type w, int64_t k, const void* W, size_t w_stride, int64_t n_rows, const void* A,
          size_t a_stride, int64_t n_cols, float* C, size_t c_stride);

}  // namespace fitserve::quant
