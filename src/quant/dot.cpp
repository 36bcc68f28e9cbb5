// Dispatcher for quant/dot.h: CPU feature detection, the per-ISA kernel tables, activation
// quantization (identical bytes for every ISA), argument validation.
#include "quant/dot.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "core/error.h"
#include "quant/blocks.h"
#include "core/cpu.h"
#include "quant/dot_internal.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace fitserve::quant {

namespace {

bool cpu_has_avx2() {
  const auto& c = core::cpu();
  return c.avx2 && c.fma && c.f16c && c.bmi2;
}
bool cpu_has_avx512() {
  const auto& c = core::cpu();
  return cpu_has_avx2() && c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx512vnni;
}
bool cpu_has_avx512bf16() { return core::cpu().avx512bf16; }

Isa detect_best() {
  if (cpu_has_avx512()) return Isa::AVX512;
  if (cpu_has_avx2()) return Isa::AVX2;
  return Isa::Scalar;
}

Isa initial_isa() {
  const Isa best = detect_best();
  if (const char* e = std::getenv("FITSERVE_ISA"); e && *e) {
    const std::string v(e);
    Isa want = best;
    if (v == "scalar") want = Isa::Scalar;
    else if (v == "avx2") want = Isa::AVX2;
    else if (v == "avx512") want = Isa::AVX512;
    if (static_cast<int>(want) <= static_cast<int>(best)) return want;
  }
  return best;
}

std::atomic<int>& isa_state() {
  static std::atomic<int> s{static_cast<int>(initial_isa())};
  return s;
}

const detail::GemmTable& table_for(Isa isa) {
  static detail::GemmTable tables[3];
  static std::once_flag once[3];
  const int i = static_cast<int>(isa);
  std::call_once(once[i], [i] {
    detail::GemmTable& t = tables[i];
    if (i == static_cast<int>(Isa::AVX512)) {
      detail::fill_gemm_avx512(t, cpu_has_avx512bf16());
      detail::fill_gemm_k_avx512(t);
      detail::fill_gemm_t_avx512(t);
      detail::fill_gemv_avx512(t);
      detail::fill_act_avx512(t);
    } else if (i == static_cast<int>(Isa::AVX2)) {
      detail::fill_gemm_avx2(t);
      detail::fill_gemm_k_avx2(t);
      detail::fill_act_avx2(t);
    }
    detail::GemmTable scalar;
    detail::fill_gemm_scalar(scalar);
    for (uint32_t j = 0; j < kTypeCount; ++j)
      if (!t.fn[j]) t.fn[j] = scalar.fn[j];
  });
  return tables[i];
}

// Q8_0 / Q8_1 activation rule of the reference CPU SIMD path: id = 127/amax, round half to even
// (1.5·2^23 trick, exact for |v| < 2^22; NaN -> 0). SIMD variants produce the same bytes.
template <bool kSum>
void act_q8(const float* x, uint8_t* dst, int64_t k) {
  const size_t bb = kSum ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
  for (int64_t i = 0; i < k / 32; ++i, x += 32, dst += bb) {
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) {
      const float a = std::fabs(x[j]);
      amax = a > amax ? a : amax;
    }
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    int8_t* qs = reinterpret_cast<int8_t*>(dst + (kSum ? 4 : 2));
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      const float v = (x[j] * id + 12582912.f) - 12582912.f;
      const int q = (v >= -127.f && v <= 127.f) ? static_cast<int>(v) : 0;
      qs[j] = static_cast<int8_t>(q);
      sum += q;
    }
    const uint16_t hd = fp32_to_fp16(d);
    std::memcpy(dst, &hd, 2);
    if constexpr (kSum) {
      const uint16_t hs = fp32_to_fp16(d * static_cast<float>(sum));
      std::memcpy(dst + 2, &hs, 2);
    }
  }
}

void check_k(Type w, int64_t k) {
  if (!gemm_supported(w))
    throw core::Error("quant", std::string("no matmul kernel for weight type ") + type_name(w),
                      "supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K..Q6_K IQ4_NL IQ4_XS MXFP4");
  const int64_t blk = std::max(type_info(w).block, type_info(vec_dot_type(w)).block);
  if (k <= 0 || k % blk != 0)
    throw core::Error("quant", std::string("matmul over ") + std::to_string(k) + " elements: not a positive multiple of " +
                                   std::to_string(blk) + " as " + type_name(w) + " weights require");
}

}  // namespace

namespace detail {
uint8_t* scratch(size_t bytes) {
  struct Buf {
    uint8_t* p = nullptr;
    size_t n = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf b;
  if (bytes > b.n) {
    std::free(b.p);
    b.n = (bytes + 4095) & ~size_t(4095);
    b.p = static_cast<uint8_t*>(std::aligned_alloc(64, b.n));
    if (!b.p) {
      b.n = 0;
      throw core::Error("oom", "quant: cannot allocate " + std::to_string(bytes) + " bytes of gemm scratch");
    }
  }
  return b.p;
}
}  // namespace detail

Isa best_isa() {
  static const Isa b = detect_best();
  return b;
}
Isa active_isa() { return static_cast<Isa>(isa_state().load(std::memory_order_relaxed)); }
void set_isa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(best_isa()))
    throw core::Error("quant", std::string("this CPU does not support ") + isa_name(isa),
                      std::string("best available: ") + isa_name(best_isa()));
  isa_state().store(static_cast<int>(isa), std::memory_order_relaxed);
}
const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::AVX2: return "avx2";
    case Isa::AVX512: return "avx512";
  }
  return "?";
}

bool gemm_supported(Type w) {
  switch (w) {
    case Type::F32: case Type::F16: case Type::BF16: case Type::Q4_0: case Type::Q4_1:
    case Type::Q5_0: case Type::Q5_1: case Type::Q8_0: case Type::Q2_K: case Type::Q3_K:
    case Type::Q4_K: case Type::Q5_K: case Type::Q6_K: case Type::IQ4_NL: case Type::IQ4_XS:
    case Type::MXFP4:
      return true;
    default:
      return false;
  }
}

Type vec_dot_type(Type w) {
  switch (w) {
    case Type::F32: return Type::F32;
    case Type::F16: return Type::F16;
    case Type::BF16: return Type::BF16;
    case Type::Q4_0: case Type::Q5_0: case Type::Q8_0: case Type::IQ4_NL: case Type::MXFP4:
      return Type::Q8_0;
    case Type::Q4_1: case Type::Q5_1:
      return Type::Q8_1;
    case Type::Q2_K: case Type::Q3_K: case Type::Q4_K: case Type::Q5_K: case Type::Q6_K:
    case Type::IQ4_XS:
      return Type::Q8_K;
    default:
      throw core::Error("quant", std::string("no matmul kernel for weight type ") + type_name(w));
  }
}

size_t act_row_bytes(Type w, int64_t k) {
  check_k(w, k);
  return row_bytes(vec_dot_type(w), k);
}

void quantize_act_row(Type w, const float* x, void* dst, int64_t k) {
  check_k(w, k);
  auto* d = static_cast<uint8_t*>(dst);
  const Type at = vec_dot_type(w);
  if (const detail::ActFn f = table_for(active_isa()).act[static_cast<uint32_t>(at)]) {
    f(x, d, k);
    return;
  }
  switch (at) {
    case Type::Q8_0: act_q8<false>(x, d, k); return;
    case Type::Q8_1: act_q8<true>(x, d, k); return;
    default: quantize_row(vec_dot_type(w), x, dst, k); return;  // F32 F16 BF16 Q8_K: reference
  }
}

void gemm(Type w, int64_t k, const void* W, size_t w_stride, int64_t n_rows, const void* A,
          size_t a_stride, int64_t n_cols, float* C, size_t c_stride) {
  check_k(w, k);
  if (n_rows <= 0 || n_cols <= 0) return;
  if (w_stride < row_bytes(w, k) || (n_cols > 1 && a_stride < row_bytes(vec_dot_type(w), k)) ||
      (n_cols > 1 && c_stride < static_cast<size_t>(n_rows)))
    throw core::Error("quant", "gemm: a row stride is smaller than its row");
  const auto& t = table_for(active_isa());
  const uint32_t id = static_cast<uint32_t>(w);
  const detail::GemmFn f = n_cols > detail::kGemvMaxCols && t.multi[id] ? t.multi[id] : t.fn[id];
  f(k, static_cast<const uint8_t*>(W), w_stride, n_rows,
                                 static_cast<const uint8_t*>(A), a_stride, n_cols, C, c_stride);
}

}  // namespace fitserve::quant
