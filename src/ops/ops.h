// ops/ops.h — CPU kernels on plain float arrays: norms, RoPE, softmax, activations,
// element-wise helpers, and the quantized matmul (weights of any quant type × f32 activations).
// Offers: rms_norm / rms_norm_rows, layer_norm, rope (Normal and NEOX, partial n_rot, per-pair frequency
// factors, one position per token) with a reusable RopeTable, softmax, softcap, silu, gelu_tanh,
// gelu_quick, swiglu, geglu, add, mul, scale, axpy, dot, f16/bf16 conversions, and matmul().
// Conventions: inputs first, then outputs; y may alias x for the element-wise functions; every
// kernel picks AVX-512 / AVX2 / scalar at run time (ops/vec.h), results agree to ~1e-6 relative.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "ops/scratch.h"
#include "quant/types.h"

namespace fitserve::ops {

// ---- norms ----------------------------------------------------------------------------------
// y = x / sqrt(mean(x²) + eps) · w   (w == nullptr: no weight). n elements.
void rms_norm(const float* x, float* y, int64_t n, float eps, const float* w = nullptr);
// The same over n_rows rows (strides in floats; 0 means n). Gemma's per-head q/k norm is
// rms_norm_rows(q, head_dim, q, head_dim, n_tokens·n_head, head_dim, eps, w).
void rms_norm_rows(const float* x, size_t x_stride, float* y, size_t y_stride, int64_t n_rows,
                   int64_t n, float eps, const float* w = nullptr);
void rms_norm_rows(core::ThreadPool& pool, const float* x, size_t x_stride, float* y,
                   size_t y_stride, int64_t n_rows, int64_t n, float eps, const float* w = nullptr);

// y = (x − mean) / sqrt(var + eps) · w + b  (w, b optional). Vision patch embedding (LayerNorm).
void layer_norm(const float* x, float* y, int64_t n, float eps, const float* w = nullptr,
                const float* b = nullptr);

// ---- softmax and friends --------------------------------------------------------------------
// Numerically stable softmax over n values (in place allowed). All −inf input gives all 0.
void softmax(const float* x, float* y, int64_t n);
inline void softmax(float* x, int64_t n) { softmax(x, x, n); }
// y = cap · tanh(x / cap) (logit soft-capping; Gemma's final_logit_softcapping). cap > 0.
void softcap(const float* x, float* y, int64_t n, float cap);

// ---- activations and element-wise -----------------------------------------------------------
void silu(const float* x, float* y, int64_t n);       // x·sigmoid(x)
void gelu_tanh(const float* x, float* y, int64_t n);  // 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))
void gelu_quick(const float* x, float* y, int64_t n);  // x·sigmoid(1.702·x)
void swiglu(const float* gate, const float* up, float* y, int64_t n);  // silu(gate)·up
void geglu(const float* gate, const float* up, float* y, int64_t n);   // gelu_tanh(gate)·up
void add(const float* a, const float* b, float* y, int64_t n);
void mul(const float* a, const float* b, float* y, int64_t n);
void scale(const float* x, float s, float* y, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);  // y += a·x
float dot(const float* a, const float* b, int64_t n);
void f16_to_f32(const uint16_t* x, float* y, int64_t n);
void bf16_to_f32(const uint16_t* x, float* y, int64_t n);
void f32_to_f16(const float* x, uint16_t* y, int64_t n);

// ---- RoPE -----------------------------------------------------------------------------------
enum class RopeMode {
  Normal,  // rotates pairs (x[2i], x[2i+1]), i < n_rot/2
  Neox,    // rotates pairs (x[i], x[i + n_rot/2]), i < n_rot/2 (Gemma, Qwen, ...)
};

struct RopeParams {
  RopeMode mode = RopeMode::Neox;
  int n_rot = 0;                        // rotated dims (even, <= head_dim); dims >= n_rot untouched
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;              // linear position scaling
  const float* freq_factors = nullptr;  // optional, n_rot/2 divisors of the angle (rope_freqs)
};

// cos/sin of θ_i = freq_scale · p · base^(−2i/n_rot) / ff_i for each token, built once and reused
// by every layer with the same parameters (θ is built by repeated f32 multiplication, as the
// reference CPU implementation does).
class RopeTable {
 public:
  void build(const RopeParams& p, const int32_t* pos, int64_t n_tokens);
  int64_t n_tokens() const { return n_tokens_; }
  int half() const { return half_; }
  const RopeParams& params() const { return params_; }
  const float* cos(int64_t t) const { return cs_.data() + static_cast<size_t>(t) * 2 * half_; }
  const float* sin(int64_t t) const { return cos(t) + half_; }

 private:
  RopeParams params_;
  int half_ = 0;
  int64_t n_tokens_ = 0;
  std::vector<float> cs_;  // per token: half cos values then half sin values
};

// In place on x = [n_tokens][n_head][head_dim] (token_stride in floats between tokens; 0 means
// n_head·head_dim). Throws core::Error("ops") if n_rot is odd or exceeds head_dim.
void rope(float* x, int64_t n_tokens, int n_head, int head_dim, size_t token_stride,
          const RopeTable& table);
void rope(float* x, int64_t n_tokens, int n_head, int head_dim, size_t token_stride,
          const int32_t* pos, const RopeParams& p);

// ---- matmul ---------------------------------------------------------------------------------
// Y[j·y_stride + i] = Σ_k W[i][k] · X[j·x_stride + k] for output rows i < n_rows (out features)
// and columns j < n_cols (tokens). W rows have wtype and are w_stride bytes apart; X and Y are
// f32 (strides in floats; 0 means k and n_rows). Activations are quantized once to the weight
// type's dot type (in parallel); blocks of output rows (multiples of 16) × columns (64) go to
// whichever thread is free. The split depends only on the shape: results are bit-identical for
// every thread count.
void matmul(core::ThreadPool& pool, quant::Type wtype, const void* W, size_t w_stride,
            int64_t n_rows, int64_t k, const float* X, int64_t n_cols, float* Y, Scratch& scratch,
            size_t x_stride = 0, size_t y_stride = 0);

}  // namespace fitserve::ops
