// Scalar reference dot kernels: one weight row · one activation row, per type pair of spec §6.
// Per block the integer dot is exact (int32); scales are applied in float32 per block (legacy) or
// per 256-super-block (K-quants). Float types accumulate in double. These define the numbers the
// SIMD variants are tested against.
#include <cstring>

#include "quant/blocks.h"
#include "quant/dot_internal.h"
#include "quant/fp16.h"

namespace fitserve::quant::detail {

namespace {

using DotFn = float (*)(const uint8_t* w, const uint8_t* a, int64_t k);

float dot_f32(const uint8_t* w, const uint8_t* a, int64_t k) {
  double s = 0;
  for (int64_t i = 0; i < k; ++i) {
    float x, y;
    std::memcpy(&x, w + 4 * i, 4);
    std::memcpy(&y, a + 4 * i, 4);
    s += static_cast<double>(x * y);
  }
  return static_cast<float>(s);
}

template <float (*Cvt)(uint16_t)>
float dot_h16(const uint8_t* w, const uint8_t* a, int64_t k) {
  double s = 0;
  for (int64_t i = 0; i < k; ++i) {
    uint16_t x, y;
    std::memcpy(&x, w + 2 * i, 2);
    std::memcpy(&y, a + 2 * i, 2);
    s += static_cast<double>(Cvt(x) * Cvt(y));
  }
  return static_cast<float>(s);
}
float cvt_f16(uint16_t h) { return fp16_to_fp32(h); }
float cvt_bf16(uint16_t h) { return bf16_to_fp32(h); }

// Unpacks a 32-element legacy block into signed integer weights and, where present, its min.
struct Unpacked {
  int q[32];
  float d;
  float m;  // Q4_1/Q5_1 only
};

inline void nibbles(const uint8_t* qs, int* q, int off) {
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 15) - off;
    q[j + 16] = (qs[j] >> 4) - off;
  }
}
inline void high_bits(const uint8_t* qh4, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  for (int j = 0; j < 32; ++j) q[j] += static_cast<int>(((qh >> j) & 1) << 4);
}

template <Type T>
void unpack(const uint8_t* p, Unpacked& u) {
  if constexpr (T == Type::Q4_0) {
    const auto* b = reinterpret_cast<const BlockQ4_0*>(p);
    u.d = fp16_to_fp32(b->d);
    nibbles(b->qs, u.q, 8);
  } else if constexpr (T == Type::Q4_1) {
    const auto* b = reinterpret_cast<const BlockQ4_1*>(p);
    u.d = fp16_to_fp32(b->d);
    u.m = fp16_to_fp32(b->m);
    nibbles(b->qs, u.q, 0);
  } else if constexpr (T == Type::Q5_0) {
    const auto* b = reinterpret_cast<const BlockQ5_0*>(p);
    u.d = fp16_to_fp32(b->d);
    nibbles(b->qs, u.q, 0);
    high_bits(b->qh, u.q);
    for (int& v : u.q) v -= 16;
  } else if constexpr (T == Type::Q5_1) {
    const auto* b = reinterpret_cast<const BlockQ5_1*>(p);
    u.d = fp16_to_fp32(b->d);
    u.m = fp16_to_fp32(b->m);
    nibbles(b->qs, u.q, 0);
    high_bits(b->qh, u.q);
  } else if constexpr (T == Type::Q8_0) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(p);
    u.d = fp16_to_fp32(b->d);
    for (int j = 0; j < 32; ++j) u.q[j] = b->qs[j];
  } else if constexpr (T == Type::IQ4_NL) {
    const auto* b = reinterpret_cast<const BlockIQ4_NL*>(p);
    u.d = fp16_to_fp32(b->d);
    for (int j = 0; j < 16; ++j) {
      u.q[j] = kIQ4NLValues[b->qs[j] & 15];
      u.q[j + 16] = kIQ4NLValues[b->qs[j] >> 4];
    }
  } else if constexpr (T == Type::MXFP4) {
    const auto* b = reinterpret_cast<const BlockMXFP4*>(p);
    u.d = bits_f32(e8m0_half_bits(b->e));
    for (int j = 0; j < 16; ++j) {
      u.q[j] = kMXFP4Values[b->qs[j] & 15];
      u.q[j + 16] = kMXFP4Values[b->qs[j] >> 4];
    }
  }
}

// Legacy weights against Q8_0 (kMin = false) or Q8_1 (kMin = true: adds m_w·s_a per block).
template <Type T, bool kMin>
float dot_legacy(const uint8_t* w, const uint8_t* a, int64_t k) {
  const int wb = type_info(T).bytes;
  const int64_t nb = k / 32;
  float sum = 0;
  Unpacked u;
  for (int64_t i = 0; i < nb; ++i) {
    unpack<T>(w + i * wb, u);
    int sumi = 0;
    if constexpr (kMin) {
      const auto* y = reinterpret_cast<const BlockQ8_1*>(a) + i;
      for (int j = 0; j < 32; ++j) sumi += u.q[j] * y->qs[j];
      sum += (u.d * fp16_to_fp32(y->d)) * static_cast<float>(sumi) + u.m * fp16_to_fp32(y->s);
    } else {
      const auto* y = reinterpret_cast<const BlockQ8_0*>(a) + i;
      for (int j = 0; j < 32; ++j) sumi += u.q[j] * y->qs[j];
      sum += static_cast<float>(sumi) * (u.d * fp16_to_fp32(y->d));
    }
  }
  return sum;
}

// ---- K-quants against Q8_K: exact int32 per super-block, then d_w·d_a and dmin_w·d_a ----

float dot_q2_k(const uint8_t* w, const uint8_t* a, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ2_K*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t i = 0; i < k / 256; ++i) {
    int isum = 0, msum = 0;
    for (int s = 0; s < 16; ++s) {
      int t = 0;
      for (int e = 16 * s; e < 16 * s + 16; ++e) {
        const int n = e / 128, j = (e % 128) / 32, l = e % 32;
        t += ((x[i].qs[32 * n + l] >> (2 * j)) & 3) * y[i].qs[e];
      }
      isum += (x[i].scales[s] & 15) * t;
      msum += (x[i].scales[s] >> 4) * y[i].bsums[s];
    }
    sum += fp16_to_fp32(x[i].d) * y[i].d * static_cast<float>(isum) -
           fp16_to_fp32(x[i].dmin) * y[i].d * static_cast<float>(msum);
  }
  return sum;
}

float dot_q3_k(const uint8_t* w, const uint8_t* a, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ3_K*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t i = 0; i < k / 256; ++i) {
    int isum = 0;
    for (int s = 0; s < 16; ++s) {
      const uint8_t* S = x[i].scales;
      const int lo = s < 8 ? (S[s] & 15) : (S[s - 8] >> 4);
      const int sc = (lo | (((S[8 + s % 4] >> (2 * (s / 4))) & 3) << 4)) - 32;
      int t = 0;
      for (int e = 16 * s; e < 16 * s + 16; ++e) {
        const int n = e / 128, j = (e % 128) / 32, l = e % 32;
        const int q = ((x[i].qs[32 * n + l] >> (2 * j)) & 3) - (((x[i].hmask[l] >> (4 * n + j)) & 1) ? 0 : 4);
        t += q * y[i].qs[e];
      }
      isum += sc * t;
    }
    sum += fp16_to_fp32(x[i].d) * y[i].d * static_cast<float>(isum);
  }
  return sum;
}

template <bool kQ5>
float dot_q45_k(const uint8_t* w, const uint8_t* a, int64_t k) {
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  const size_t wb = kQ5 ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  float sum = 0;
  for (int64_t i = 0; i < k / 256; ++i) {
    const uint8_t* p = w + i * wb;
    const auto* h = reinterpret_cast<const BlockQ4_K*>(p);  // d, dmin, scales: same offsets
    const uint8_t* qs = kQ5 ? reinterpret_cast<const BlockQ5_K*>(p)->qs : h->qs;
    int isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      k_scale_min(j, h->scales, sc, m);
      const int c = j / 2, hb = j % 2;
      int t = 0;
      for (int l = 0; l < 32; ++l) {
        int q = (qs[32 * c + l] >> (4 * hb)) & 15;
        if constexpr (kQ5) q |= ((reinterpret_cast<const BlockQ5_K*>(p)->qh[l] >> j) & 1) << 4;
        t += q * y[i].qs[32 * j + l];
      }
      isum += sc * t;
      msum += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += fp16_to_fp32(h->d) * y[i].d * static_cast<float>(isum) -
           fp16_to_fp32(h->dmin) * y[i].d * static_cast<float>(msum);
  }
  return sum;
}

float dot_q6_k(const uint8_t* w, const uint8_t* a, int64_t k) {
  const auto* x = reinterpret_cast<const BlockQ6_K*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t i = 0; i < k / 256; ++i) {
    int isum = 0;
    for (int s = 0; s < 16; ++s) {
      int t = 0;
      for (int e = 16 * s; e < 16 * s + 16; ++e) {
        const int n = e / 128, g = (e % 128) / 32, l = e % 32;
        const int low = (x[i].ql[64 * n + l + 32 * (g & 1)] >> (4 * (g >> 1))) & 15;
        const int high = (x[i].qh[32 * n + l] >> (2 * g)) & 3;
        t += ((low | (high << 4)) - 32) * y[i].qs[e];
      }
      isum += x[i].scales[s] * t;
    }
    sum += fp16_to_fp32(x[i].d) * y[i].d * static_cast<float>(isum);
  }
  return sum;
}

float dot_iq4_xs(const uint8_t* w, const uint8_t* a, int64_t k) {
  const auto* x = reinterpret_cast<const BlockIQ4_XS*>(w);
  const auto* y = reinterpret_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t i = 0; i < k / 256; ++i) {
    int isum = 0;
    for (int b = 0; b < 8; ++b) {
      const int ls = ((x[i].scales_l[b / 2] >> (4 * (b % 2))) & 15) | (((x[i].scales_h >> (2 * b)) & 3) << 4);
      const uint8_t* qs = x[i].qs + 16 * b;
      const int8_t* q8 = y[i].qs + 32 * b;
      int t = 0;
      for (int j = 0; j < 16; ++j) t += kIQ4NLValues[qs[j] & 15] * q8[j] + kIQ4NLValues[qs[j] >> 4] * q8[j + 16];
      isum += (ls - 32) * t;
    }
    sum += fp16_to_fp32(x[i].d) * y[i].d * static_cast<float>(isum);
  }
  return sum;
}

template <DotFn F>
void gemm_rows(int64_t k, const uint8_t* W, size_t ws, int64_t n_rows, const uint8_t* A, size_t as,
               int64_t n_cols, float* C, size_t cs) {
  for (int64_t j = 0; j < n_cols; ++j)
    for (int64_t i = 0; i < n_rows; ++i) C[j * cs + i] = F(W + i * ws, A + j * as, k);
}

}  // namespace

void fill_gemm_scalar(GemmTable& t) {
  auto set = [&](Type ty, GemmFn f) { t.fn[static_cast<uint32_t>(ty)] = f; };
  set(Type::F32, gemm_rows<dot_f32>);
  set(Type::F16, gemm_rows<dot_h16<cvt_f16>>);
  set(Type::BF16, gemm_rows<dot_h16<cvt_bf16>>);
  set(Type::Q4_0, gemm_rows<dot_legacy<Type::Q4_0, false>>);
  set(Type::Q4_1, gemm_rows<dot_legacy<Type::Q4_1, true>>);
  set(Type::Q5_0, gemm_rows<dot_legacy<Type::Q5_0, false>>);
  set(Type::Q5_1, gemm_rows<dot_legacy<Type::Q5_1, true>>);
  set(Type::Q8_0, gemm_rows<dot_legacy<Type::Q8_0, false>>);
  set(Type::IQ4_NL, gemm_rows<dot_legacy<Type::IQ4_NL, false>>);
  set(Type::MXFP4, gemm_rows<dot_legacy<Type::MXFP4, false>>);
  set(Type::Q2_K, gemm_rows<dot_q2_k>);
  set(Type::Q3_K, gemm_rows<dot_q3_k>);
  set(Type::Q4_K, gemm_rows<dot_q45_k<false>>);
  set(Type::Q5_K, gemm_rows<dot_q45_k<true>>);
  set(Type::Q6_K, gemm_rows<dot_q6_k>);
  set(Type::IQ4_XS, gemm_rows<dot_iq4_xs>);
}

}  // namespace fitserve::quant::detail
