// ops/vec.cpp — scalar reference kernels and the run-time choice of the kernel table.
#include "ops/vec.h"

#include "core/cpu.h"

#include "quant/fp16.h"
#include "quant/quant.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

namespace fitserve::ops {

namespace {

float s_dot(const float* a, const float* b, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
float s_sum_sq(const float* x, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}
float s_max(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}
float s_exp_sum(const float* x, float sub, float* y, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = std::exp(x[i] - sub);
    s += y[i];
  }
  return s;
}
void s_scale(const float* x, float s, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
}
void s_scale_mul(const float* x, float s, const float* w, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s * w[i];
}
void s_add(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void s_mul(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
void s_axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
inline float silu1(float x) { return x / (1.0f + std::exp(-x)); }
// 0.5·x·(1 + tanh(u)) written as x·sigmoid(2u): no cancellation for negative x.
inline float gelu1(float x) {
  const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);  // √(2/π)·(x + 0.044715x³)
  return x / (1.0f + std::exp(-2.0f * u));
}
void s_silu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = silu1(x[i]);
}
void s_gelu_tanh(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = gelu1(x[i]);
}
void s_swiglu(const float* g, const float* u, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = silu1(g[i]) * u[i];
}
void s_geglu(const float* g, const float* u, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = gelu1(g[i]) * u[i];
}
void s_softcap(const float* x, float cap, float* y, int64_t n) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) y[i] = cap * std::tanh(x[i] * inv);
}
void s_f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = quant::fp16_to_fp32(x[i]);
}
void s_bf16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t b = static_cast<uint32_t>(x[i]) << 16;
    std::memcpy(&y[i], &b, 4);
  }
}
void s_f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = quant::fp32_to_fp16(x[i]);
}
void s_q8_0_to_f32(const uint8_t* x, float* y, int64_t n) { quant::dequantize_row(quant::Type::Q8_0, x, y, n); }
void s_q4_0_to_f32(const uint8_t* x, float* y, int64_t n) { quant::dequantize_row(quant::Type::Q4_0, x, y, n); }
void s_dot_tile(const float* Q, size_t qs, int M, const float* K, size_t ks, int T, int d,
                float* S, size_t ss) {
  for (int m = 0; m < M; ++m)
    for (int t = 0; t < T; ++t) S[m * ss + t] = s_dot(Q + m * qs, K + t * ks, d);
}
void s_acc_tile(const float* P, size_t ps, int M, const float* V, size_t vs, int T, int d, float* O,
                size_t os) {
  for (int m = 0; m < M; ++m)
    for (int t = 0; t < T; ++t) s_axpy(P[m * ps + t], V + t * vs, O + m * os, d);
}

const VecKernels kScalar = {
    "scalar",    s_dot,   s_sum_sq, s_max,          s_exp_sum,     s_scale,       s_scale_mul,
    s_add,       s_mul,   s_axpy,   s_silu,         s_gelu_tanh,   s_swiglu,      s_geglu,
    s_softcap,   s_f16_to_f32,      s_bf16_to_f32,  s_f32_to_f16,  s_q8_0_to_f32, s_q4_0_to_f32,
    s_dot_tile,  s_acc_tile,
};

bool cpu_has_avx2() {
  const auto& c = core::cpu();
  return c.avx2 && c.fma && c.f16c && c.bmi2;
}
bool cpu_has_avx512() {
  const auto& c = core::cpu();
  return cpu_has_avx2() && c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq;
}

VecLevel pick_level() {
  VecLevel cap = VecLevel::AVX512;
  if (const char* e = std::getenv("FITSERVE_ISA")) {
    const std::string_view v(e);
    if (v == "scalar") cap = VecLevel::Scalar;
    else if (v == "avx2") cap = VecLevel::AVX2;
  }
  if (cap >= VecLevel::AVX512 && cpu_has_avx512()) return VecLevel::AVX512;
  if (cap >= VecLevel::AVX2 && cpu_has_avx2()) return VecLevel::AVX2;
  return VecLevel::Scalar;
}

}  // namespace

const VecKernels* vec_kernels_for(VecLevel level) {
  switch (level) {
    case VecLevel::Scalar: return &kScalar;
    case VecLevel::AVX2: return cpu_has_avx2() ? &detail::vec_kernels_avx2() : nullptr;
    case VecLevel::AVX512: return cpu_has_avx512() ? &detail::vec_kernels_avx512() : nullptr;
  }
  return nullptr;
}

VecLevel vec_level() {
  static const VecLevel level = pick_level();
  return level;
}

const VecKernels& vec_kernels() {
  static const VecKernels* k = vec_kernels_for(vec_level());
  return *k;
}

}  // namespace fitserve::ops
