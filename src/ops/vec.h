// ops/vec.h — the run-time dispatched vector kernels behind ops/ops.h and ops/attention.h.
// Offers: ops::VecKernels (a table of plain-function kernels over float/f16/bf16 arrays),
// vec_kernels() (the best table for this CPU, chosen once; FITSERVE_ISA=scalar|avx2|avx512
// caps it), vec_kernels_for(level) (a specific table, nullptr if the CPU lacks it — for tests)
// and the scalar reference table (vec_kernels_for(VecLevel::Scalar), always present).
// Every kernel accepts n == 0 and unaligned pointers; y may alias x unless noted.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fitserve::ops {

enum class VecLevel { Scalar = 0, AVX2 = 1, AVX512 = 2 };

struct VecKernels {
  const char* name;
  float (*dot)(const float* a, const float* b, int64_t n);
  float (*sum_sq)(const float* x, int64_t n);
  float (*max)(const float* x, int64_t n);  // -inf for n == 0
  // y = exp(x - sub); returns the sum of y (the softmax denominator).
  float (*exp_sum)(const float* x, float sub, float* y, int64_t n);
  void (*scale)(const float* x, float s, float* y, int64_t n);                  // y = s·x
  void (*scale_mul)(const float* x, float s, const float* w, float* y, int64_t n);  // y = s·x·w
  void (*add)(const float* a, const float* b, float* y, int64_t n);             // y = a + b
  void (*mul)(const float* a, const float* b, float* y, int64_t n);             // y = a·b
  void (*axpy)(float a, const float* x, float* y, int64_t n);                   // y += a·x
  void (*silu)(const float* x, float* y, int64_t n);                            // x·σ(x)
  void (*gelu_tanh)(const float* x, float* y, int64_t n);
  void (*swiglu)(const float* g, const float* u, float* y, int64_t n);  // silu(g)·u
  void (*geglu)(const float* g, const float* u, float* y, int64_t n);   // gelu_tanh(g)·u
  void (*softcap)(const float* x, float cap, float* y, int64_t n);      // cap·tanh(x/cap)
  void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n);
  void (*bf16_to_f32)(const uint16_t* x, float* y, int64_t n);
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n);  // round to nearest even
  // Rows of Q8_0 / Q4_0 blocks (n a multiple of 32) to f32, bit-identical to quant::dequantize_row.
  void (*q8_0_to_f32)(const uint8_t* x, float* y, int64_t n);
  void (*q4_0_to_f32)(const uint8_t* x, float* y, int64_t n);
  // Attention micro-kernels (row-major tiles; no aliasing between inputs and outputs):
  // S[m·s_stride + t] = Q[m·q_stride .. +d) · K[t·k_stride .. +d)   for m < M, t < T
  void (*dot_tile)(const float* Q, size_t q_stride, int M, const float* K, size_t k_stride, int T,
                   int d, float* S, size_t s_stride);
  // O[m·o_stride .. +d) += Σ_t P[m·p_stride + t] · V[t·v_stride .. +d)
  void (*acc_tile)(const float* P, size_t p_stride, int M, const float* V, size_t v_stride, int T,
                   int d, float* O, size_t o_stride);
};

const VecKernels& vec_kernels();
const VecKernels* vec_kernels_for(VecLevel level);
VecLevel vec_level();  // the level vec_kernels() uses

namespace detail {
// Tables compiled in the ISA-specific translation units.
const VecKernels& vec_kernels_avx2();
const VecKernels& vec_kernels_avx512();
}  // namespace detail

}  // namespace fitserve::ops
