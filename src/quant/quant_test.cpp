// Tests for quant/quant.h that need no file: error bounds of quantize→dequantize round trips
// (spec gguf-and-quants §5 (c)), exact layouts of hand-built blocks, refusal of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/quant.h"

using namespace fitserve;
using quant::Type;

namespace {

std::vector<float> random_row(int64_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = nd(rng);
  return v;
}

std::vector<float> round_trip(Type t, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(quant::row_bytes(t, n));
  quant::quantize_row(t, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  quant::dequantize_row(t, q.data(), y.data(), n);
  return y;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

}  // namespace

TEST(Quant, Q8_0ErrorWithinHalfStep) {
  const auto x = random_row(4096, 1);
  std::vector<quant::BlockQ8_0> q(4096 / 32);
  quant::quantize_row(Type::Q8_0, x.data(), q.data(), 4096);
  std::vector<float> y(4096);
  quant::dequantize_row(Type::Q8_0, q.data(), y.data(), 4096);
  for (size_t i = 0; i < x.size(); ++i) {
    const float d = quant::fp16_to_fp32(q[i / 32].d);
    // d is f16-rounded while the quantizer used the exact amax/127: allow the scale error too.
    ASSERT_LE(std::fabs(x[i] - y[i]), d * 0.5f + std::fabs(x[i]) * 1e-3f + 1e-7f) << i;
  }
}

TEST(Quant, Q4_0ErrorBoundAndExtremeMapsToZero) {
  const auto x = random_row(2048, 2);
  std::vector<quant::BlockQ4_0> q(2048 / 32);
  quant::quantize_row(Type::Q4_0, x.data(), q.data(), 2048);
  std::vector<float> y(2048);
  quant::dequantize_row(Type::Q4_0, q.data(), y.data(), 2048);
  for (size_t b = 0; b < q.size(); ++b) {
    const float d = std::fabs(quant::fp16_to_fp32(q[b].d));
    int imax = 0;
    for (int j = 1; j < 32; ++j)
      if (std::fabs(x[b * 32 + j]) > std::fabs(x[b * 32 + imax])) imax = j;
    const uint8_t code = imax < 16 ? (q[b].qs[imax] & 15) : (q[b].qs[imax - 16] >> 4);
    EXPECT_EQ(code, 0) << "block " << b;  // -8·d == max
    for (int j = 0; j < 32; ++j)
      ASSERT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), d * 1.01f + 1e-6f) << b << ":" << j;
  }
}

TEST(Quant, RoundTripRmseOrdering) {
  // More bits -> smaller error; every type stays within a sane bound of the data scale (1.0).
  const auto x = random_row(8192, 3);
  struct Case { Type t; double max_rmse; };
  const Case cases[] = {
      {Type::F16, 1e-3},   {Type::BF16, 6e-3},  {Type::Q8_0, 6e-3},  {Type::Q8_1, 6e-3},
      {Type::Q8_K, 1e-2},  {Type::Q6_K, 2.5e-2}, {Type::Q5_0, 6e-2}, {Type::Q5_1, 5e-2},
      {Type::Q5_K, 5e-2},  {Type::Q4_0, 1.2e-1}, {Type::Q4_1, 1.0e-1}, {Type::Q4_K, 1.0e-1},
      {Type::IQ4_NL, 1.1e-1}, {Type::IQ4_XS, 1.1e-1}, {Type::MXFP4, 2.0e-1}, {Type::Q3_K, 2.2e-1},
      {Type::Q2_K, 4.0e-1},
  };
  for (const auto& c : cases) {
    const double e = rmse(x, round_trip(c.t, x));
    EXPECT_LT(e, c.max_rmse) << quant::type_name(c.t);
    EXPECT_GT(e, 0.0) << quant::type_name(c.t);
  }
  EXPECT_EQ(rmse(x, round_trip(Type::F32, x)), 0.0);
  EXPECT_LT(rmse(x, round_trip(Type::Q6_K, x)), rmse(x, round_trip(Type::Q4_K, x)));
  EXPECT_LT(rmse(x, round_trip(Type::Q4_K, x)), rmse(x, round_trip(Type::Q3_K, x)));
  EXPECT_LT(rmse(x, round_trip(Type::Q3_K, x)), rmse(x, round_trip(Type::Q2_K, x)));
}

TEST(Quant, KQuantErrorWithinSubBlockScale) {
  const auto x = random_row(1024, 4, 3.f);
  for (Type t : {Type::Q4_K, Type::Q5_K}) {
    std::vector<uint8_t> q(quant::row_bytes(t, 1024));
    quant::quantize_row(t, x.data(), q.data(), 1024);
    std::vector<float> y(1024);
    quant::dequantize_row(t, q.data(), y.data(), 1024);
    const size_t bb = static_cast<size_t>(quant::type_info(t).bytes);
    for (int i = 0; i < 1024; ++i) {
      const auto* b = reinterpret_cast<const quant::BlockQ4_K*>(q.data() + (i / 256) * bb);  // same header
      uint8_t sc, m;
      quant::k_scale_min((i % 256) / 32, b->scales, sc, m);
      const float step = quant::fp16_to_fp32(b->d) * sc;
      ASSERT_LE(std::fabs(x[i] - y[i]), step + 1e-5f) << quant::type_name(t) << " " << i;
    }
  }
}

TEST(Quant, ZeroRowsStayZero) {
  const std::vector<float> z(512, 0.f);
  for (Type t : {Type::F16, Type::BF16, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0,
                 Type::Q8_1, Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::Q8_K,
                 Type::IQ4_NL, Type::IQ4_XS, Type::MXFP4}) {
    const auto y = round_trip(t, z);
    for (float v : y) ASSERT_EQ(v, 0.f) << quant::type_name(t);
  }
}

TEST(Quant, HandBuiltBlocksDecodeAsSpecified) {
  // Q4_0: d = 0.5, nibble j low / j+16 high.
  quant::BlockQ4_0 b4{};
  b4.d = quant::fp32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b4.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[256];
  quant::dequantize_row(Type::Q4_0, &b4, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8));
    EXPECT_EQ(y[j + 16], 0.5f * (7 - j));
  }
  // Q5_0: high bit j of qh lifts element j by 16.
  quant::BlockQ5_0 b5{};
  b5.d = quant::fp32_to_fp16(1.f);
  const uint32_t qh = 0x80000001u;
  std::memcpy(b5.qh, &qh, 4);
  quant::dequantize_row(Type::Q5_0, &b5, y, 32);
  EXPECT_EQ(y[0], 0.f);
  EXPECT_EQ(y[1], -16.f);
  EXPECT_EQ(y[31], 0.f);
  // MXFP4: e = 128 -> scale 1; code 7 = 12 (doubled 6.0), code 15 = -12; e = 0 is 2^-128.
  quant::BlockMXFP4 bm{};
  bm.e = 128;
  bm.qs[0] = 0x7F;  // element 0 = code 15, element 16 = code 7
  quant::dequantize_row(Type::MXFP4, &bm, y, 32);
  EXPECT_EQ(y[0], -12.f);
  EXPECT_EQ(y[16], 12.f);
  bm.e = 0;
  bm.qs[0] = 0x01;
  quant::dequantize_row(Type::MXFP4, &bm, y, 32);
  EXPECT_EQ(y[0], std::ldexp(1.f, -128));
  // Q6_K: element e uses scales[e/16]; q = 0 with all bits clear means -32.
  quant::BlockQ6_K b6{};
  b6.d = quant::fp32_to_fp16(0.25f);
  for (int s = 0; s < 16; ++s) b6.scales[s] = static_cast<int8_t>(s - 8);
  b6.ql[0] = 0x21;  // e0 low4 = 1, e64 low4 = 2
  b6.qh[0] = 0x03 | (0x01 << 4);  // e0 high2 = 3, e64 high2 = 1
  quant::dequantize_row(Type::Q6_K, &b6, y, 256);
  EXPECT_EQ(y[0], 0.25f * -8 * ((1 | 48) - 32));
  EXPECT_EQ(y[64], 0.25f * -4 * ((2 | 16) - 32));
  EXPECT_EQ(y[255], 0.25f * 7 * -32);
}

TEST(Quant, Q8_KBsumsAndScale) {
  const auto x = random_row(512, 5);
  std::vector<quant::BlockQ8_K> q(2);
  quant::quantize_row(Type::Q8_K, x.data(), q.data(), 512);
  for (const auto& b : q) {
    int amax = 0;
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) {
        s += b.qs[16 * g + l];
        amax = std::max(amax, std::abs(int(b.qs[16 * g + l])));
      }
      EXPECT_EQ(b.bsums[g], s);
    }
    EXPECT_EQ(amax, 127);
  }
}

TEST(Quant, RejectsBadTypesAndSizes) {
  float x[256] = {};
  uint8_t buf[1024] = {};
  EXPECT_THROW(quant::quantize_row(Type::IQ2_XXS, x, buf, 256), core::Error);
  EXPECT_THROW(quant::dequantize_row(Type::IQ2_XXS, buf, x, 256), core::Error);
  EXPECT_THROW(quant::dequantize_row(Type::I32, buf, x, 1), core::Error);
  EXPECT_THROW(quant::quantize_row(Type::Q4_K, x, buf, 32), core::Error);  // not a multiple of 256
  EXPECT_THROW(quant::dequantize_row(Type::Q8_0, buf, x, 33), core::Error);
  try {
    quant::dequantize_row(Type::TQ1_0, buf, x, 256);
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("TQ1_0"), std::string::npos);
    EXPECT_EQ(e.code(), "quant");
  }
  EXPECT_FALSE(quant::can_dequantize(Type::IQ3_S));
  EXPECT_TRUE(quant::can_quantize(Type::IQ4_XS));
}

TEST(Quant, NonFiniteInputDoesNotCrash) {
  std::vector<float> x(256, 1.f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[100] = std::numeric_limits<float>::infinity();
  x[200] = -std::numeric_limits<float>::infinity();
  for (Type t : {Type::F16, Type::BF16, Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0,
                 Type::Q8_1, Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::Q8_K,
                 Type::IQ4_NL, Type::IQ4_XS, Type::MXFP4}) {
    std::vector<uint8_t> q(quant::row_bytes(t, 256));
    std::vector<float> y(256);
    quant::quantize_row(t, x.data(), q.data(), 256);
    quant::dequantize_row(t, q.data(), y.data(), 256);
    SUCCEED();
  }
  // Arbitrary bytes decode without trouble (untrusted tensor data).
  std::mt19937 rng(9);
  std::vector<uint8_t> junk(4096);
  for (auto& b : junk) b = static_cast<uint8_t>(rng());
  std::vector<float> y(512);
  for (Type t : {Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::Q8_K,
                 Type::IQ4_XS, Type::MXFP4, Type::Q4_0, Type::IQ4_NL})
    quant::dequantize_row(t, junk.data(), y.data(), 512);
}
