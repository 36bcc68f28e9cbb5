// quant/dot_internal.h — the contract between dot.cpp's dispatcher and the per-ISA kernel files
// (dot_scalar.cpp, dot_*_avx2.cpp, dot_*_avx512.cpp). Not a public API.
// A GemmFn computes C[j·cs + i] = dot(W row i, A row j) for one weight type, k already validated.
// The fill_* functions only store pointers; the dispatcher calls an ISA's fill function only
// after checking the CPU supports that ISA.
#pragma once
#include <cstddef>
#include <cstdint>

#include "quant/types.h"

namespace fitserve::quant::detail {

using GemmFn = void (*)(int64_t k, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A,
                        size_t as, int64_t n_cols, float* C, size_t cs);

// Activation quantizer: k floats -> one row of the activation type (same bytes in every ISA).
using ActFn = void (*)(const float* x, uint8_t* dst, int64_t k);

// Batches of up to this many activation rows use fn (the GEMV kernels), whose columns are
// bit-identical to one-column calls; multi takes only larger ones.
constexpr int64_t kGemvMaxCols = 8;

struct GemmTable {
  GemmFn fn[kTypeCount] = {};     // any n_cols
  GemmFn multi[kTypeCount] = {};  // optional override for n_cols > kGemvMaxCols (prompt processing)
  ActFn act[kTypeCount] = {};     // indexed by the activation type (Q8_0, Q8_1, Q8_K, F16); null = scalar
};

// Thread-local, 64-byte aligned scratch of at least `bytes` (valid until the next call on this
// thread). Defined in dot.cpp (baseline code), usable from every kernel file.
uint8_t* scratch(size_t bytes);

void fill_gemm_scalar(GemmTable& t);
void fill_gemm_avx2(GemmTable& t);      // dot_avx2.cpp: float types + 32-blocks
void fill_gemm_k_avx2(GemmTable& t);    // dot_k_avx2.cpp: Q4_K Q5_K Q6_K
void fill_gemm_avx512(GemmTable& t, bool has_bf16);  // dot_avx512.cpp
void fill_gemm_k_avx512(GemmTable& t);  // dot_k_avx512.cpp
void fill_gemm_t_avx512(GemmTable& t);  // dot_t_avx512.cpp: multi-column GEMM for 32-blocks
void fill_gemv_avx512(GemmTable& t);    // dot_gemv_avx512.cpp: 32-blocks, one row at a time (GEMV)
void fill_act_avx2(GemmTable& t);       // dot_act_avx2.cpp: activation quantizers
void fill_act_avx512(GemmTable& t);     // dot_act_avx512.cpp

}  // namespace fitserve::quant::detail
