// Reference IQ4_NL / IQ4_XS quantizers (no importance matrix): for each 32-value block, pick the
// best code-book index per value for a grid of trial scales (±7 steps) with x² weights, keep the
// scale of least weighted error; IQ4_XS then stores 6-bit block scales under one f16 super-scale
// and re-picks the indices with the stored scales.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/fp16.h"
#include "quant/quant_internal.h"

namespace fitserve::quant::detail {

namespace {

constexpr int kTries = 7;

// Index of the code-book value nearest to x (values sorted ascending; ties go up).
int best_index(float x) {
  const int8_t* v = kIQ4NLValues;
  if (x <= v[0]) return 0;
  if (x >= v[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < v[mid])
      hi = mid;
    else
      lo = mid;
  }
  return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi;
}

// Quantizes one super-block of `n` values made of blocks of 32. Writes the f16 super-scale to
// *dh, packed nibbles to q4 (n/2 bytes) and, when n > 32, 6-bit block scales to sh/sl.
void iq4_impl(int n, const float* x, uint16_t* dh, uint8_t* q4, uint16_t* sh, uint8_t* sl) {
  uint8_t L[256];
  float weight[32], scales[8];
  const float v0 = kIQ4NLValues[0];
  std::memset(q4, 0, static_cast<size_t>(n / 2));
  *dh = fp32_to_fp16(0.f);
  float max_scale = 0, amax_scale = 0;
  const int nblk = n / 32;
  for (int ib = 0; ib < nblk; ++ib) {
    const float* xb = x + 32 * ib;
    uint8_t* Lb = L + 32 * ib;
    for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
    float amax = 0, mx = 0;
    for (int j = 0; j < 32; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        mx = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    float d = -mx / v0;
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const int l = best_index(id * xb[j]);
      Lb[j] = static_cast<uint8_t>(l);
      const float q = kIQ4NLValues[l];
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -kTries; itry <= kTries; ++itry) {
      id = (static_cast<float>(itry) + v0) / mx;
      sumqx = sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const int l = best_index(id * xb[j]);
        const float q = kIQ4NLValues[l];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    const float abs_d = std::fabs(d);
    if (abs_d > amax_scale) {
      amax_scale = abs_d;
      max_scale = d;
    }
  }
  if (nblk > 1) {
    *sh = 0;
    std::memset(sl, 0, static_cast<size_t>(nblk / 2));
    const float d = -max_scale / 32;
    *dh = fp32_to_fp16(d);
    const float id = d != 0.f ? 1 / d : 0.f;
    for (int ib = 0; ib < nblk; ++ib) {
      int l = std::clamp(nearest_int(id * scales[ib]), -32, 31);
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.f ? 1 / dl : 0.f;
      for (int j = 0; j < 32; ++j) L[32 * ib + j] = static_cast<uint8_t>(best_index(idl * x[32 * ib + j]));
      l += 32;
      if (ib % 2 == 0)
        sl[ib / 2] = static_cast<uint8_t>(l & 15);
      else
        sl[ib / 2] = static_cast<uint8_t>(sl[ib / 2] | ((l & 15) << 4));
      *sh = static_cast<uint16_t>(*sh | ((l >> 4) << (2 * ib)));
    }
  } else {
    *dh = fp32_to_fp16(scales[0]);
    const float id = scales[0] != 0.f ? 1 / scales[0] : 0.f;
    for (int j = 0; j < n; ++j) L[j] = static_cast<uint8_t>(best_index(id * x[j]));
  }
  for (int i = 0; i < n / 32; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

}  // namespace

void quantize_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) iq4_impl(32, x + 32 * i, &y[i].d, y[i].qs, nullptr, nullptr);
}

void quantize_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    uint16_t sh = 0;
    iq4_impl(256, x + 256 * i, &y[i].d, y[i].qs, &sh, y[i].scales_l);
    y[i].scales_h = sh;
  }
}

}  // namespace fitserve::quant::detail
