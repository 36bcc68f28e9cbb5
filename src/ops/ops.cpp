// ops/ops.cpp — norms, softmax, activations, element-wise helpers and RoPE over ops/vec.h.
#include "ops/ops.h"

#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"
#include "ops/vec.h"

namespace fitserve::ops {

void rms_norm(const float* x, float* y, int64_t n, float eps, const float* w) {
  const VecKernels& k = vec_kernels();
  const float mean = n > 0 ? k.sum_sq(x, n) / static_cast<float>(n) : 0.0f;
  const float s = 1.0f / std::sqrt(mean + eps);
  if (w) k.scale_mul(x, s, w, y, n);
  else k.scale(x, s, y, n);
}

void rms_norm_rows(const float* x, size_t x_stride, float* y, size_t y_stride, int64_t n_rows,
                   int64_t n, float eps, const float* w) {
  if (x_stride == 0) x_stride = static_cast<size_t>(n);
  if (y_stride == 0) y_stride = static_cast<size_t>(n);
  for (int64_t r = 0; r < n_rows; ++r) rms_norm(x + r * x_stride, y + r * y_stride, n, eps, w);
}

void rms_norm_rows(core::ThreadPool& pool, const float* x, size_t x_stride, float* y,
                   size_t y_stride, int64_t n_rows, int64_t n, float eps, const float* w) {
  if (x_stride == 0) x_stride = static_cast<size_t>(n);
  if (y_stride == 0) y_stride = static_cast<size_t>(n);
  if (n_rows * n < 32768) {  // not worth a dispatch
    rms_norm_rows(x, x_stride, y, y_stride, n_rows, n, eps, w);
    return;
  }
  pool.parallel_for(n_rows, [&](int64_t r) { rms_norm(x + r * x_stride, y + r * y_stride, n, eps, w); });
}

void layer_norm(const float* x, float* y, int64_t n, float eps, const float* w, const float* b) {
  if (n <= 0) return;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double var = 0;
  for (int64_t i = 0; i < n; ++i) var += double(x[i] - mean) * double(x[i] - mean);
  const float s = 1.0f / std::sqrt(static_cast<float>(var / static_cast<double>(n)) + eps);
  for (int64_t i = 0; i < n; ++i) {
    const float v = (x[i] - mean) * s;
    y[i] = (w ? v * w[i] : v) + (b ? b[i] : 0.0f);
  }
}

void softmax(const float* x, float* y, int64_t n) {
  const VecKernels& k = vec_kernels();
  const float m = k.max(x, n);
  if (!(m > -std::numeric_limits<float>::infinity())) {  // empty, all −inf, or NaN max
    for (int64_t i = 0; i < n; ++i) y[i] = std::isnan(m) ? m : 0.0f;
    return;
  }
  const float s = k.exp_sum(x, m, y, n);
  k.scale(y, 1.0f / s, y, n);
}

void softcap(const float* x, float* y, int64_t n, float cap) { vec_kernels().softcap(x, cap, y, n); }
void silu(const float* x, float* y, int64_t n) { vec_kernels().silu(x, y, n); }
void gelu_tanh(const float* x, float* y, int64_t n) { vec_kernels().gelu_tanh(x, y, n); }
void gelu_quick(const float* x, float* y, int64_t n) {
  // x·σ(1.702x) = silu(1.702x) / 1.702
  const VecKernels& k = vec_kernels();
  k.scale(x, 1.702f, y, n);
  k.silu(y, y, n);
  k.scale(y, 1.0f / 1.702f, y, n);
}
void swiglu(const float* g, const float* u, float* y, int64_t n) { vec_kernels().swiglu(g, u, y, n); }
void geglu(const float* g, const float* u, float* y, int64_t n) { vec_kernels().geglu(g, u, y, n); }
void add(const float* a, const float* b, float* y, int64_t n) { vec_kernels().add(a, b, y, n); }
void mul(const float* a, const float* b, float* y, int64_t n) { vec_kernels().mul(a, b, y, n); }
void scale(const float* x, float s, float* y, int64_t n) { vec_kernels().scale(x, s, y, n); }
void axpy(float a, const float* x, float* y, int64_t n) { vec_kernels().axpy(a, x, y, n); }
float dot(const float* a, const float* b, int64_t n) { return vec_kernels().dot(a, b, n); }
void f16_to_f32(const uint16_t* x, float* y, int64_t n) { vec_kernels().f16_to_f32(x, y, n); }
void bf16_to_f32(const uint16_t* x, float* y, int64_t n) { vec_kernels().bf16_to_f32(x, y, n); }
void f32_to_f16(const float* x, uint16_t* y, int64_t n) { vec_kernels().f32_to_f16(x, y, n); }

// ---- RoPE -----------------------------------------------------------------------------------

void RopeTable::build(const RopeParams& p, const int32_t* pos, int64_t n_tokens) {
  if (p.n_rot <= 0 || p.n_rot % 2 != 0)
    throw core::Error("ops", "rope: n_rot must be positive and even, got " + std::to_string(p.n_rot));
  params_ = p;
  half_ = p.n_rot / 2;
  n_tokens_ = n_tokens;
  cs_.resize(static_cast<size_t>(n_tokens) * 2 * static_cast<size_t>(half_));
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* c = cs_.data() + static_cast<size_t>(t) * 2 * half_;
    float* s = c + half_;
    float theta = static_cast<float>(pos[t]);
    for (int i = 0; i < half_; ++i) {
      const float ff = p.freq_factors ? p.freq_factors[i] : 1.0f;
      const float th = p.freq_scale * (theta / ff);
      c[i] = std::cos(th);
      s[i] = std::sin(th);
      theta *= theta_scale;
    }
  }
}

namespace {

void rope_head(float* x, RopeMode mode, int half, const float* c, const float* s) {
  if (mode == RopeMode::Neox) {
    float* a = x;
    float* b = x + half;
    for (int i = 0; i < half; ++i) {
      const float x0 = a[i], x1 = b[i];
      a[i] = x0 * c[i] - x1 * s[i];
      b[i] = x0 * s[i] + x1 * c[i];
    }
  } else {
    for (int i = 0; i < half; ++i) {
      const float x0 = x[2 * i], x1 = x[2 * i + 1];
      x[2 * i] = x0 * c[i] - x1 * s[i];
      x[2 * i + 1] = x0 * s[i] + x1 * c[i];
    }
  }
}

}  // namespace

void rope(float* x, int64_t n_tokens, int n_head, int head_dim, size_t token_stride,
          const RopeTable& table) {
  const int half = table.half();
  if (2 * half > head_dim)
    throw core::Error("ops", "rope: n_rot " + std::to_string(2 * half) + " exceeds head_dim " +
                                 std::to_string(head_dim));
  if (n_tokens > table.n_tokens())
    throw core::Error("ops", "rope: table built for fewer tokens than given");
  if (token_stride == 0) token_stride = static_cast<size_t>(n_head) * head_dim;
  const RopeMode mode = table.params().mode;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* c = table.cos(t);
    const float* s = table.sin(t);
    for (int h = 0; h < n_head; ++h)
      rope_head(x + t * token_stride + static_cast<size_t>(h) * head_dim, mode, half, c, s);
  }
}

void rope(float* x, int64_t n_tokens, int n_head, int head_dim, size_t token_stride,
          const int32_t* pos, const RopeParams& p) {
  thread_local RopeTable table;  // grow-only: no allocation once warmed up
  table.build(p, pos, n_tokens);
  rope(x, n_tokens, n_head, head_dim, token_stride, table);
}

}  // namespace fitserve::ops
