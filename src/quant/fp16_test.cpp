// Tests for quant/fp16.h: exhaustive fp16 round trips against an independent double-precision
// model, the rounding rules at every binade edge, subnormals, Inf/NaN, and bf16 rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "quant/fp16.h"

using namespace fitserve::quant;

namespace {

// Independent model of binary16: value of a bit pattern computed with ldexp in double.
double half_value(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 31) v = m ? NAN : INFINITY;
  else if (e == 0) v = std::ldexp(m, -24);
  else v = std::ldexp(1024 + m, e - 25);
  return s ? -v : v;
}

// Reference f32 -> f16 by exhaustive-ish search: nearest representable, ties to even mantissa.
uint16_t model_to_half(float f) {
  if (std::isnan(f)) return 0x7E00;
  const double x = std::fabs(static_cast<double>(f));
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  if (x >= 65520.0) return sign | 0x7C00;  // halfway between 65504 and 2^16 rounds to Inf
  // binary search over positive finite halves 0..0x7BFF (monotonic in value)
  int lo = 0, hi = 0x7BFF;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (half_value(static_cast<uint16_t>(mid)) <= x) lo = mid; else hi = mid - 1;
  }
  int best = lo;
  if (lo < 0x7BFF) {
    const double dl = x - half_value(static_cast<uint16_t>(lo));
    const double du = half_value(static_cast<uint16_t>(lo + 1)) - x;
    if (du < dl || (du == dl && (lo & 1))) best = lo + 1;
  }
  return static_cast<uint16_t>(sign | best);
}

float from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
uint32_t to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

}  // namespace

TEST(Fp16, AllHalvesToFloatAndBack) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    const double v = half_value(static_cast<uint16_t>(h));
    if (std::isnan(v)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      // payload kept, quiet bit forced on the way back
      ASSERT_EQ(fp32_to_fp16(f), static_cast<uint16_t>(h | 0x0200)) << std::hex << h;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), v) << std::hex << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h;
    ASSERT_EQ(fp32_to_fp16(f), h) << std::hex << h;
  }
}

TEST(Fp16, RoundingMatchesModelAtMidpointsAndNeighbours) {
  // For every pair of adjacent positive halves: the midpoint and the floats right next to it.
  for (uint32_t h = 0; h < 0x7C00; ++h) {
    const double a = half_value(static_cast<uint16_t>(h));
    const double b = h + 1 < 0x7C00 ? half_value(static_cast<uint16_t>(h + 1)) : 65536.0;
    const float mid = static_cast<float>((a + b) / 2);  // exact in float
    ASSERT_EQ(static_cast<double>(mid), (a + b) / 2);
    for (float f : {mid, std::nextafter(mid, 0.f), std::nextafter(mid, INFINITY)}) {
      ASSERT_EQ(fp32_to_fp16(f), model_to_half(f)) << f;
      ASSERT_EQ(fp32_to_fp16(-f), model_to_half(-f)) << -f;
    }
  }
}

TEST(Fp16, RandomFloatsMatchModel) {
  std::mt19937 rng(123);
  for (int i = 0; i < 200000; ++i) {
    const float f = from_bits(static_cast<uint32_t>(rng()));
    if (std::isnan(f)) {
      EXPECT_EQ(fp32_to_fp16(f) & 0x7E00, 0x7E00);
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), model_to_half(f)) << std::hexfloat << f;
  }
}

TEST(Fp16, EdgeCases) {
  EXPECT_EQ(fp32_to_fp16(0.f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(INFINITY), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(65504.f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65520.f), 0x7C00);      // tie -> even -> overflow to Inf
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.f, -25), 1.f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.f, -25)), 0x0002);  // 1.5 ulp tie -> even (2)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(fp32_to_fp16(from_bits(0x00000001)), 0x0000);  // float subnormal
  EXPECT_EQ(fp32_to_fp16(-from_bits(0x00000001)), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.f, -11)), 0x3C00);  // tie -> even
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.f, -11)), 0x3C02);
  EXPECT_EQ(fp16_to_fp32(0x3C00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xC000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.f, -24));
  EXPECT_TRUE(std::isinf(fp16_to_fp32(0x7C00)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7E00)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7C01)));  // signalling NaN stays NaN
}

TEST(Bf16, RulesAndRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(h));
    ASSERT_EQ(to_bits(f), h << 16);
    if (std::isnan(f))
      ASSERT_EQ(fp32_to_bf16(f), static_cast<uint16_t>(h | 0x40));
    else
      ASSERT_EQ(fp32_to_bf16(f), h);
  }
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3F808000)), 0x3F80);  // tie -> even (down)
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3F818000)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3F808001)), 0x3F81);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x7F7FFFFF)), 0x7F80);  // max float rounds to Inf
  EXPECT_EQ(fp32_to_bf16(from_bits(0x7F800001)), 0x7FC0);  // sNaN -> quiet, top bits kept
  EXPECT_EQ(fp32_to_bf16(from_bits(0xFFA12345)), 0xFFE1);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x00008000)), 0x0000);  // subnormal tie -> even, not flushed
  EXPECT_EQ(fp32_to_bf16(from_bits(0x00018000)), 0x0002);
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const uint32_t u = static_cast<uint32_t>(rng());
    const float f = from_bits(u);
    if (std::isnan(f)) continue;
    // model: nearest of the two candidates, ties to even
    const uint32_t lo = u & 0xFFFF0000u, hi = lo + 0x10000u;
    const double x = f, a = from_bits(lo), b = std::isinf(from_bits(hi)) && !std::isinf(f)
        ? std::copysign(std::ldexp(1.0, 128), x) : static_cast<double>(from_bits(hi));
    const double da = std::fabs(x - a), db = std::fabs(b - x);
    const uint16_t want = static_cast<uint16_t>((db < da || (db == da && ((lo >> 16) & 1))) ? hi >> 16 : lo >> 16);
    ASSERT_EQ(fp32_to_bf16(f), want) << std::hex << u;
  }
}
