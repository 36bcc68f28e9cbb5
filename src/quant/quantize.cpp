// Reference quantizers for the float and 32-element ("legacy") types, plus the dispatcher
// (spec gguf-and-quants §3, §5). All arithmetic is float32 in the reference order.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "quant/fp16.h"
#include "quant/quant.h"
#include "quant/quant_internal.h"

namespace fitserve::quant {

using detail::trunc_int;

namespace {

// Signed value of largest magnitude (the first one wins on ties).
float signed_absmax(const float* x, int n) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void q_q4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    const float d = signed_absmax(x, 32) / -8.f;
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < 16; ++j) {
      const int a = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_int(x[j] * id + 8.5f))));
      const int b = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_int(x[j + 16] * id + 8.5f))));
      y[i].qs[j] = static_cast<uint8_t>((a & 15) | ((b & 15) << 4));
    }
  }
}

void q_q5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    const float d = signed_absmax(x, 32) / -16.f;
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int a = std::min(31, static_cast<int>(static_cast<int8_t>(trunc_int(x[j] * id + 16.5f))));
      const int b = std::min(31, static_cast<int>(static_cast<int8_t>(trunc_int(x[j + 16] * id + 16.5f))));
      y[i].qs[j] = static_cast<uint8_t>((a & 15) | ((b & 15) << 4));
      qh |= static_cast<uint32_t>((a >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((b >> 4) & 1) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

template <int kBits, class B>
void q_qx_1(const float* x, B* y, int64_t nb) {
  constexpr int kMax = (1 << kBits) - 1;
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float mn = FLT_MAX, mx = -FLT_MAX;
    for (int j = 0; j < 32; ++j) {
      if (x[j] < mn) mn = x[j];
      if (x[j] > mx) mx = x[j];
    }
    const float d = (mx - mn) / static_cast<float>(kMax);
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      int a, b;
      if constexpr (kBits == 4) {
        a = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_int((x[j] - mn) * id + 0.5f))));
        b = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_int((x[j + 16] - mn) * id + 0.5f))));
      } else {
        a = static_cast<uint8_t>(trunc_int((x[j] - mn) * id + 0.5f));
        b = static_cast<uint8_t>(trunc_int((x[j + 16] - mn) * id + 0.5f));
        qh |= static_cast<uint32_t>((a >> 4) & 1) << j;
        qh |= static_cast<uint32_t>((b >> 4) & 1) << (j + 16);
      }
      y[i].qs[j] = static_cast<uint8_t>((a & 15) | ((b & 15) << 4));
    }
    if constexpr (kBits == 5) std::memcpy(y[i].qh, &qh, 4);
  }
}

template <class B, bool kSum>
void q_q8(const float* x, B* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      const int q = trunc_int(std::round(x[j] * id));
      y[i].qs[j] = static_cast<int8_t>(q);
      sum += static_cast<int8_t>(q);
    }
    if constexpr (kSum) y[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

int mxfp4_best_index(float x, float scale) {
  int best = 0;
  float best_err = std::fabs(static_cast<float>(kMXFP4Values[0]) * scale - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(static_cast<float>(kMXFP4Values[i]) * scale - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

void q_mxfp4(const float* x, BlockMXFP4* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const uint8_t e =
        amax > 0.f ? static_cast<uint8_t>(trunc_int(std::floor(std::log2(amax)) - 2.f + 127.f)) : 0;
    const float scale = bits_f32(e8m0_half_bits(e));
    y[i].e = e;
    for (int j = 0; j < 16; ++j)
      y[i].qs[j] = static_cast<uint8_t>(mxfp4_best_index(x[j], scale) |
                                        (mxfp4_best_index(x[j + 16], scale) << 4));
  }
}

}  // namespace

// Every type we can read we can also write (the same must-support set, one list).
bool can_quantize(Type t) { return can_dequantize(t); }

void quantize_row(Type t, const float* src, void* dst, int64_t n) {
  if (!can_quantize(t))
    throw core::Error("quant", std::string("cannot quantize to tensor type ") + type_name(t),
                      "supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 Q2_K..Q6_K Q8_K IQ4_NL IQ4_XS MXFP4");
  const int blk = type_info(t).block;
  if (n < 0 || n % blk != 0)
    throw core::Error("quant", std::string("quantize_row: ") + std::to_string(n) +
                                   " elements is not a multiple of the " + type_name(t) + " block (" +
                                   std::to_string(blk) + ")");
  const int64_t nb = n / blk;
  switch (t) {
    case Type::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case Type::F16: fp32_row_to_fp16(src, static_cast<uint16_t*>(dst), n); return;
    case Type::BF16: fp32_row_to_bf16(src, static_cast<uint16_t*>(dst), n); return;
    case Type::Q4_0: q_q4_0(src, static_cast<BlockQ4_0*>(dst), nb); return;
    case Type::Q4_1: q_qx_1<4>(src, static_cast<BlockQ4_1*>(dst), nb); return;
    case Type::Q5_0: q_q5_0(src, static_cast<BlockQ5_0*>(dst), nb); return;
    case Type::Q5_1: q_qx_1<5>(src, static_cast<BlockQ5_1*>(dst), nb); return;
    case Type::Q8_0: q_q8<BlockQ8_0, false>(src, static_cast<BlockQ8_0*>(dst), nb); return;
    case Type::Q8_1: q_q8<BlockQ8_1, true>(src, static_cast<BlockQ8_1*>(dst), nb); return;
    case Type::Q2_K: detail::quantize_q2_k(src, static_cast<BlockQ2_K*>(dst), nb); return;
    case Type::Q3_K: detail::quantize_q3_k(src, static_cast<BlockQ3_K*>(dst), nb); return;
    case Type::Q4_K: detail::quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), nb); return;
    case Type::Q5_K: detail::quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), nb); return;
    case Type::Q6_K: detail::quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), nb); return;
    case Type::Q8_K: detail::quantize_q8_k(src, static_cast<BlockQ8_K*>(dst), nb); return;
    case Type::IQ4_NL: detail::quantize_iq4_nl(src, static_cast<BlockIQ4_NL*>(dst), nb); return;
    case Type::IQ4_XS: detail::quantize_iq4_xs(src, static_cast<BlockIQ4_XS*>(dst), nb); return;
    case Type::MXFP4: q_mxfp4(src, static_cast<BlockMXFP4*>(dst), nb); return;
    default: break;
  }
}

}  // namespace fitserve::quant
