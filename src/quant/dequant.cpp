// Reference dequantizers (spec gguf-and-quants §4). Arithmetic order matters for bit-exactness:
// sub-block scales are formed first (d·sc as float), then multiplied by the quant.
#include <cstring>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace fitserve::quant {

namespace {

void deq_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 15) - 8) * d;
      y[j + 16] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void deq_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 15) * d + m;
      y[j + 16] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void deq_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = fp16_to_fp32(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int lo = (x[i].qs[j] & 15) | (((qh >> j) & 1) << 4);
      const int hi = (x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      y[j] = static_cast<float>(lo - 16) * d;
      y[j + 16] = static_cast<float>(hi - 16) * d;
    }
  }
}

void deq_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = fp16_to_fp32(x[i].d), m = fp16_to_fp32(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int lo = (x[i].qs[j] & 15) | (((qh >> j) & 1) << 4);
      const int hi = (x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      y[j] = static_cast<float>(lo) * d + m;
      y[j + 16] = static_cast<float>(hi) * d + m;
    }
  }
}

void deq_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void deq_q8_1(const BlockQ8_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void deq_q2_k(const BlockQ2_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    for (int e = 0; e < 256; e += 16) {
      const uint8_t sc = x[i].scales[e / 16];
      const float dl = d * static_cast<float>(sc & 15);
      const float ml = dmin * static_cast<float>(sc >> 4);
      for (int t = e; t < e + 16; ++t) {
        const int n = t / 128, j = (t % 128) / 32, l = t % 32;
        const int q = (x[i].qs[32 * n + l] >> (2 * j)) & 3;
        *y++ = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

int q3k_scale(const uint8_t* S, int s) {
  const int lo = s < 8 ? (S[s] & 15) : (S[s - 8] >> 4);
  const int hi = (S[8 + s % 4] >> (2 * (s / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

void deq_q3_k(const BlockQ3_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int e = 0; e < 256; e += 16) {
      const float dl = d * static_cast<float>(q3k_scale(x[i].scales, e / 16));
      for (int t = e; t < e + 16; ++t) {
        const int n = t / 128, j = (t % 128) / 32, l = t % 32;
        const int low = (x[i].qs[32 * n + l] >> (2 * j)) & 3;
        const int h = (x[i].hmask[l] >> (4 * n + j)) & 1;
        *y++ = dl * static_cast<float>(low - (h ? 0 : 4));
      }
    }
  }
}

template <class B, bool kHigh>
void deq_q45_k(const B* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d), dmin = fp16_to_fp32(x[i].dmin);
    for (int c = 0; c < 4; ++c) {
      for (int h = 0; h < 2; ++h) {
        uint8_t sc, m;
        k_scale_min(2 * c + h, x[i].scales, sc, m);
        const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
        for (int l = 0; l < 32; ++l) {
          int q = (x[i].qs[32 * c + l] >> (4 * h)) & 15;
          if constexpr (kHigh) q |= ((x[i].qh[l] >> (2 * c + h)) & 1) << 4;
          *y++ = d1 * static_cast<float>(q) - m1;
        }
      }
    }
  }
}

void deq_q6_k(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int e = 0; e < 256; ++e) {
      const int n = e / 128, g = (e % 128) / 32, l = e % 32;
      const int low = (x[i].ql[64 * n + l + 32 * (g & 1)] >> (4 * (g >> 1))) & 15;
      const int high = (x[i].qh[32 * n + l] >> (2 * g)) & 3;
      const float ds = d * static_cast<float>(x[i].scales[e / 16]);
      *y++ = ds * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

void deq_q8_k(const BlockQ8_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i)
    for (int j = 0; j < 256; ++j) *y++ = x[i].d * static_cast<float>(x[i].qs[j]);
}

void deq_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIQ4NLValues[x[i].qs[j] & 15]);
      y[j + 16] = d * static_cast<float>(kIQ4NLValues[x[i].qs[j] >> 4]);
    }
  }
}

void deq_iq4_xs(const BlockIQ4_XS* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int b = 0; b < 8; ++b, y += 32) {
      const int ls = ((x[i].scales_l[b / 2] >> (4 * (b % 2))) & 15) | (((x[i].scales_h >> (2 * b)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = x[i].qs + 16 * b;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIQ4NLValues[qs[j] & 15]);
        y[j + 16] = dl * static_cast<float>(kIQ4NLValues[qs[j] >> 4]);
      }
    }
  }
}

void deq_mxfp4(const BlockMXFP4* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = bits_f32(e8m0_half_bits(x[i].e));
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(kMXFP4Values[x[i].qs[j] & 15]) * d;
      y[j + 16] = static_cast<float>(kMXFP4Values[x[i].qs[j] >> 4]) * d;
    }
  }
}

}  // namespace

bool can_dequantize(Type t) {
  switch (t) {
    case Type::F32: case Type::F16: case Type::BF16: case Type::Q4_0: case Type::Q4_1:
    case Type::Q5_0: case Type::Q5_1: case Type::Q8_0: case Type::Q8_1: case Type::Q2_K:
    case Type::Q3_K: case Type::Q4_K: case Type::Q5_K: case Type::Q6_K: case Type::Q8_K:
    case Type::IQ4_NL: case Type::IQ4_XS: case Type::MXFP4:
      return true;
    default:
      return false;
  }
}

void dequantize_row(Type t, const void* src, float* dst, int64_t n) {
  if (!can_dequantize(t))
    throw core::Error("quant", std::string("cannot dequantize tensor type ") + type_name(t),
                      "supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K..Q6_K IQ4_NL IQ4_XS MXFP4");
  const int blk = type_info(t).block;
  if (n < 0 || n % blk != 0)
    throw core::Error("quant", std::string("dequantize_row: ") + std::to_string(n) +
                                   " elements is not a multiple of the " + type_name(t) + " block (" +
                                   std::to_string(blk) + ")");
  const int64_t nb = n / blk;
  switch (t) {
    case Type::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case Type::F16: fp16_row_to_fp32(static_cast<const uint16_t*>(src), dst, n); return;
    case Type::BF16: bf16_row_to_fp32(static_cast<const uint16_t*>(src), dst, n); return;
    case Type::Q4_0: deq_q4_0(static_cast<const BlockQ4_0*>(src), dst, nb); return;
    case Type::Q4_1: deq_q4_1(static_cast<const BlockQ4_1*>(src), dst, nb); return;
    case Type::Q5_0: deq_q5_0(static_cast<const BlockQ5_0*>(src), dst, nb); return;
    case Type::Q5_1: deq_q5_1(static_cast<const BlockQ5_1*>(src), dst, nb); return;
    case Type::Q8_0: deq_q8_0(static_cast<const BlockQ8_0*>(src), dst, nb); return;
    case Type::Q8_1: deq_q8_1(static_cast<const BlockQ8_1*>(src), dst, nb); return;
    case Type::Q2_K: deq_q2_k(static_cast<const BlockQ2_K*>(src), dst, nb); return;
    case Type::Q3_K: deq_q3_k(static_cast<const BlockQ3_K*>(src), dst, nb); return;
    case Type::Q4_K: deq_q45_k<BlockQ4_K, false>(static_cast<const BlockQ4_K*>(src), dst, nb); return;
    case Type::Q5_K: deq_q45_k<BlockQ5_K, true>(static_cast<const BlockQ5_K*>(src), dst, nb); return;
    case Type::Q6_K: deq_q6_k(static_cast<const BlockQ6_K*>(src), dst, nb); return;
    case Type::Q8_K: deq_q8_k(static_cast<const BlockQ8_K*>(src), dst, nb); return;
    case Type::IQ4_NL: deq_iq4_nl(static_cast<const BlockIQ4_NL*>(src), dst, nb); return;
    case Type::IQ4_XS: deq_iq4_xs(static_cast<const BlockIQ4_XS*>(src), dst, nb); return;
    case Type::MXFP4: deq_mxfp4(static_cast<const BlockMXFP4*>(src), dst, nb); return;
    default: break;
  }
}

}  // namespace fitserve::quant
