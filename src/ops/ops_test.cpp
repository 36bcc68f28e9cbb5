// Tests for ops/vec.h kernels (every ISA level vs the scalar reference) and ops/ops.h
// (norms, softmax, activations, RoPE) against independent double-precision references.
#include "ops/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "ops/vec.h"

namespace ops = fitserve::ops;
using ops::VecKernels;
using ops::VecLevel;

namespace {

std::vector<float> randv(int64_t n, uint32_t seed, float lo = -3.0f, float hi = 3.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<const VecKernels*> simd_levels() {
  std::vector<const VecKernels*> out;
  for (VecLevel l : {VecLevel::AVX2, VecLevel::AVX512})
    if (const VecKernels* k = ops::vec_kernels_for(l)) out.push_back(k);
  return out;
}

const int64_t kSizes[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257, 1000};

// |a − b| <= atol + rtol·|b|
::testing::AssertionResult near(float a, double b, double rtol, double atol) {
  if (std::isnan(a) && std::isnan(b)) return ::testing::AssertionSuccess();
  if (std::isinf(b) && a == b) return ::testing::AssertionSuccess();
  if (std::fabs(a - b) <= atol + rtol * std::fabs(b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << a << " vs " << b << " (diff " << std::fabs(a - b) << ")";
}

}  // namespace

TEST(Vec, ScalarTableAlwaysPresentAndBestIsChosen) {
  ASSERT_NE(ops::vec_kernels_for(VecLevel::Scalar), nullptr);
  const VecKernels* best = ops::vec_kernels_for(ops::vec_level());
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(&ops::vec_kernels(), best);
  std::printf("vec kernels in use: %s\n", ops::vec_kernels().name);
}

TEST(Vec, ReductionsMatchScalar) {
  const VecKernels& ref = *ops::vec_kernels_for(VecLevel::Scalar);
  for (const VecKernels* k : simd_levels()) {
    for (int64_t n : kSizes) {
      auto a = randv(n, 1 + n), b = randv(n, 2 + n);
      double dd = 0, ss = 0;
      for (int64_t i = 0; i < n; ++i) dd += double(a[i]) * b[i], ss += double(a[i]) * a[i];
      EXPECT_TRUE(near(k->dot(a.data(), b.data(), n), dd, 1e-5, 1e-5)) << k->name << " n=" << n;
      EXPECT_TRUE(near(k->sum_sq(a.data(), n), ss, 1e-5, 1e-5)) << k->name << " n=" << n;
      EXPECT_EQ(k->max(a.data(), n), ref.max(a.data(), n)) << k->name << " n=" << n;
      if (n > 0) {
        std::vector<float> y1(n), y2(n);
        const float m = ref.max(a.data(), n);
        const float s1 = k->exp_sum(a.data(), m, y1.data(), n);
        const float s2 = ref.exp_sum(a.data(), m, y2.data(), n);
        EXPECT_TRUE(near(s1, s2, 2e-6, 0)) << k->name << " n=" << n;
        for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(near(y1[i], y2[i], 2e-6, 1e-30)) << k->name << " i=" << i;
      }
    }
  }
}

TEST(Vec, ExpEdgeCases) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-inf, -1000.0f, -100.0f, -87.0f, -20.0f, -1e-8f, 0.0f, 1e-8f, 1.0f, 20.0f, 80.0f};
  for (const VecKernels* k : simd_levels()) {
    std::vector<float> y(x.size());
    k->exp_sum(x.data(), 0.0f, y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_TRUE(near(y[i], std::exp(double(x[i])), 3e-7, 1e-37)) << k->name << " x=" << x[i];
    // masked tail lanes are exp(-inf) = 0 and must not enter the sum
    const float s = k->exp_sum(x.data() + 6, 0.0f, y.data(), 3);
    EXPECT_TRUE(near(s, 1.0 + std::exp(1e-8) + std::exp(1.0), 3e-7, 0)) << k->name;
  }
}

TEST(Vec, ElementwiseMatchScalar) {
  const VecKernels& ref = *ops::vec_kernels_for(VecLevel::Scalar);
  for (const VecKernels* k : simd_levels()) {
    for (int64_t n : kSizes) {
      auto a = randv(n, 10 + n, -12.0f, 12.0f), b = randv(n, 20 + n);
      std::vector<float> y1(n + 1, 7.0f), y2(n + 1, 7.0f);  // sentinel checks tail stores
      auto check = [&](const char* what, double rtol, double atol) {
        for (int64_t i = 0; i <= n; ++i)
          ASSERT_TRUE(near(y1[i], y2[i], rtol, atol)) << k->name << " " << what << " n=" << n << " i=" << i;
      };
      k->scale(a.data(), 0.37f, y1.data(), n), ref.scale(a.data(), 0.37f, y2.data(), n), check("scale", 1e-7, 0);
      k->scale_mul(a.data(), 0.37f, b.data(), y1.data(), n), ref.scale_mul(a.data(), 0.37f, b.data(), y2.data(), n),
          check("scale_mul", 1e-6, 0);
      k->add(a.data(), b.data(), y1.data(), n), ref.add(a.data(), b.data(), y2.data(), n), check("add", 0, 0);
      k->mul(a.data(), b.data(), y1.data(), n), ref.mul(a.data(), b.data(), y2.data(), n), check("mul", 0, 0);
      std::copy(b.begin(), b.end(), y1.begin()), std::copy(b.begin(), b.end(), y2.begin());
      k->axpy(1.5f, a.data(), y1.data(), n), ref.axpy(1.5f, a.data(), y2.data(), n), check("axpy", 1e-6, 1e-6);
      k->silu(a.data(), y1.data(), n), ref.silu(a.data(), y2.data(), n), check("silu", 2e-6, 1e-7);
      k->gelu_tanh(a.data(), y1.data(), n), ref.gelu_tanh(a.data(), y2.data(), n), check("gelu", 2e-6, 1e-7);
      k->swiglu(a.data(), b.data(), y1.data(), n), ref.swiglu(a.data(), b.data(), y2.data(), n),
          check("swiglu", 2e-6, 1e-7);
      k->geglu(a.data(), b.data(), y1.data(), n), ref.geglu(a.data(), b.data(), y2.data(), n), check("geglu", 2e-6, 1e-7);
      k->softcap(a.data(), 5.0f, y1.data(), n), ref.softcap(a.data(), 5.0f, y2.data(), n), check("softcap", 1e-6, 1e-7);
      // in place
      std::copy(a.begin(), a.end(), y1.begin());
      k->silu(y1.data(), y1.data(), n), ref.silu(a.data(), y2.data(), n), check("silu in place", 2e-6, 1e-7);
    }
  }
}

TEST(Vec, ActivationsAgainstDoubleFormulas) {
  std::vector<float> x = {-200.0f, -30.0f, -5.0f, -1.0f, -0.1f, -1e-4f, 0.0f, 1e-4f, 0.15f, 0.25f, 0.5f, 3.0f, 30.0f, 200.0f};
  const int64_t n = static_cast<int64_t>(x.size());
  for (VecLevel l : {VecLevel::Scalar, VecLevel::AVX2, VecLevel::AVX512}) {
    const VecKernels* k = ops::vec_kernels_for(l);
    if (!k) continue;
    std::vector<float> s(n), g(n), c(n);
    k->silu(x.data(), s.data(), n);
    k->gelu_tanh(x.data(), g.data(), n);
    k->softcap(x.data(), 30.0f, c.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double v = x[i];
      const double gd = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
      EXPECT_TRUE(near(s[i], v / (1 + std::exp(-v)), 3e-6, 1e-30)) << k->name << " silu " << v;
      EXPECT_TRUE(near(g[i], gd, 3e-6, 1e-30)) << k->name << " gelu " << v;
      EXPECT_TRUE(near(c[i], 30 * std::tanh(v / 30), 1e-6, 1e-12)) << k->name << " softcap " << v;
    }
  }
}

TEST(Vec, HalfConversionsMatchScalar) {  // scalar = quant/fp16.h, exact by its own tests
  // SIMD conversions agree with the scalar ones on random and special values.
  std::mt19937 rng(5);
  std::vector<float> x(1001);
  for (auto& v : x) {
    uint32_t b = rng();
    if (rng() % 2) b = (b & 0x8fffffffu) | 0x30000000u;  // bias towards the f16 range
    std::memcpy(&v, &b, 4);
  }
  x[0] = 65520.0f, x[1] = -0.0f, x[2] = 0x1p-25f, x[3] = 1.0f + 0x1p-11f, x[4] = 1e-30f;
  x[5] = 0x1.8p-24f, x[6] = 65519.0f, x[7] = std::numeric_limits<float>::infinity(), x[8] = 1e10f;
  std::vector<uint16_t> h1(x.size()), h2(x.size());
  std::vector<float> f1(x.size()), f2(x.size());
  std::vector<uint16_t> bf(x.size());
  for (size_t i = 0; i < x.size(); ++i) bf[i] = static_cast<uint16_t>(rng());
  const VecKernels& ref = *ops::vec_kernels_for(VecLevel::Scalar);
  for (const VecKernels* k : simd_levels()) {
    for (int64_t n : {int64_t{1001}, int64_t{13}, int64_t{5}}) {
      k->f32_to_f16(x.data(), h1.data(), n);
      ref.f32_to_f16(x.data(), h2.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(x[i])) continue;
        ASSERT_EQ(h1[i], h2[i]) << k->name << " x=" << x[i];
      }
      k->f16_to_f32(h2.data(), f1.data(), n);
      ref.f16_to_f32(h2.data(), f2.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(std::memcmp(&f1[i], &f2[i], 4), 0) << k->name << " i=" << i;
      k->bf16_to_f32(bf.data(), f1.data(), n);
      ref.bf16_to_f32(bf.data(), f2.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(std::memcmp(&f1[i], &f2[i], 4), 0) << k->name << " i=" << i;
    }
  }
}

TEST(Vec, BlockDequantizationIsBitExact) {
  std::mt19937 rng(8);
  const VecKernels& ref = *ops::vec_kernels_for(VecLevel::Scalar);
  for (const VecKernels* k : simd_levels()) {
    for (int64_t n : {32, 96, 512}) {
      for (auto [bytes, fn, rfn] : {std::tuple{34, k->q8_0_to_f32, ref.q8_0_to_f32}, std::tuple{18, k->q4_0_to_f32, ref.q4_0_to_f32}}) {
        std::vector<uint8_t> x(static_cast<size_t>(n / 32 * bytes));
        for (auto& b : x) b = static_cast<uint8_t>(rng());
        for (size_t blk = 0; blk < x.size(); blk += bytes) x[blk + 1] &= 0x7b;  // finite scales (some subnormal)
        std::vector<float> y1(n), y2(n);
        fn(x.data(), y1.data(), n);
        rfn(x.data(), y2.data(), n);
        ASSERT_EQ(std::memcmp(y1.data(), y2.data(), n * sizeof(float)), 0) << k->name << " block bytes " << bytes;
      }
    }
  }
}

TEST(Vec, TilesMatchScalar) {
  const VecKernels& ref = *ops::vec_kernels_for(VecLevel::Scalar);
  for (const VecKernels* k : simd_levels()) {
    for (int d : {1, 5, 16, 40, 64, 100, 256}) {
      for (int M : {1, 2, 3, 5, 8}) {
        for (int T : {1, 3, 4, 9}) {
          const size_t qs = d + 3, ks = d + 1, ss = T + 2, vs = d + 5, os = d + 2;
          auto Q = randv(M * qs, 1), K = randv(T * ks, 2), P = randv(M * ss, 3, 0, 1), V = randv(T * vs, 4);
          std::vector<float> S1(M * ss, 9.0f), S2(M * ss, 9.0f);
          k->dot_tile(Q.data(), qs, M, K.data(), ks, T, d, S1.data(), ss);
          ref.dot_tile(Q.data(), qs, M, K.data(), ks, T, d, S2.data(), ss);
          for (size_t i = 0; i < S1.size(); ++i)
            ASSERT_TRUE(near(S1[i], S2[i], 1e-5, 1e-5)) << k->name << " d=" << d << " M=" << M << " T=" << T;
          auto O1 = randv(M * os, 6), O2 = O1;
          k->acc_tile(P.data(), ss, M, V.data(), vs, T, d, O1.data(), os);
          ref.acc_tile(P.data(), ss, M, V.data(), vs, T, d, O2.data(), os);
          for (size_t i = 0; i < O1.size(); ++i)
            ASSERT_TRUE(near(O1[i], O2[i], 1e-5, 1e-5)) << k->name << " d=" << d << " M=" << M << " T=" << T;
        }
      }
    }
  }
}

TEST(Ops, RmsNormMatchesDouble) {
  for (int64_t n : {1, 7, 64, 2560}) {
    auto x = randv(n, 3), w = randv(n, 4);
    std::vector<float> y(n), yw(n);
    ops::rms_norm(x.data(), y.data(), n, 1e-6f);
    ops::rms_norm(x.data(), yw.data(), n, 1e-6f, w.data());
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double s = 1.0 / std::sqrt(ss / n + 1e-6);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(near(y[i], x[i] * s, 1e-5, 1e-6)) << i;
      ASSERT_TRUE(near(yw[i], x[i] * s * w[i], 1e-5, 1e-6)) << i;
    }
  }
  // rows, in place, and the pooled variant agree with the single-row version
  const int64_t rows = 40, n = 1024;
  auto x = randv(rows * n, 9);
  std::vector<float> a(x), b(x);
  fitserve::core::ThreadPool pool(2);
  ops::rms_norm_rows(a.data(), n, a.data(), n, rows, n, 1e-5f);
  ops::rms_norm_rows(pool, b.data(), 0, b.data(), 0, rows, n, 1e-5f);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> y(n);
    ops::rms_norm(x.data() + r * n, y.data(), n, 1e-5f);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(a[r * n + i], y[i]);
      ASSERT_EQ(b[r * n + i], y[i]);
    }
  }
}

TEST(Ops, LayerNormAndQuickGeluMatchDouble) {
  for (int64_t n : {1, 5, 64, 6912}) {
    auto x = randv(n, 5, 2.0f, 6.0f), w = randv(n, 6), b = randv(n, 7);  // offset mean on purpose
    std::vector<float> y(n), g(n);
    ops::layer_norm(x.data(), y.data(), n, 1e-5f, w.data(), b.data());
    ops::gelu_quick(x.data(), g.data(), n);
    double mean = 0, var = 0;
    for (float v : x) mean += v;
    mean /= n;
    for (float v : x) var += (v - mean) * (v - mean);
    var /= n;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(near(y[i], (x[i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i], 1e-4, 1e-5)) << i;
      ASSERT_TRUE(near(g[i], x[i] / (1 + std::exp(-1.702 * x[i])), 3e-6, 1e-7)) << i;
    }
  }
  std::vector<float> x = {-3.0f, 0.0f, 2.0f}, y(3);
  ops::layer_norm(x.data(), y.data(), 3, 0.0f);  // no weight, no bias: zero mean, unit variance
  EXPECT_NEAR(y[0] + y[1] + y[2], 0.0, 1e-6);
  EXPECT_NEAR(y[0] * y[0] + y[1] * y[1] + y[2] * y[2], 3.0, 1e-5);
}

TEST(Ops, SoftmaxMatchesDouble) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {1, 5, 16, 33, 1000}) {
    auto x = randv(n, 11, -20, 20);
    if (n > 3) x[1] = -inf;
    std::vector<float> y(n);
    ops::softmax(x.data(), y.data(), n);
    double m = -1e300, s = 0;
    for (float v : x) m = std::max(m, double(v));
    for (float v : x) s += std::exp(double(v) - m);
    double tot = 0;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(near(y[i], std::exp(double(x[i]) - m) / s, 1e-5, 1e-9)) << i;
      tot += y[i];
    }
    EXPECT_NEAR(tot, 1.0, 1e-5);
    if (n > 3) EXPECT_EQ(y[1], 0.0f);
  }
  std::vector<float> all_masked(5, -inf);
  ops::softmax(all_masked.data(), 5);
  for (float v : all_masked) EXPECT_EQ(v, 0.0f);
}

// ---- RoPE -----------------------------------------------------------------------------------

namespace {

// Independent reference: angle from pow() in double, pairs chosen from the mode.
void rope_ref(std::vector<double>& x, int n_head, int hd, int n_rot, ops::RopeMode mode, double base,
              double fscale, const float* ff, int pos) {
  for (int h = 0; h < n_head; ++h) {
    double* v = x.data() + h * hd;
    for (int i = 0; i < n_rot / 2; ++i) {
      const double th = fscale * pos * std::pow(base, -2.0 * i / n_rot) / (ff ? ff[i] : 1.0);
      const int a = mode == ops::RopeMode::Neox ? i : 2 * i;
      const int b = mode == ops::RopeMode::Neox ? i + n_rot / 2 : 2 * i + 1;
      const double x0 = v[a], x1 = v[b];
      v[a] = x0 * std::cos(th) - x1 * std::sin(th);
      v[b] = x0 * std::sin(th) + x1 * std::cos(th);
    }
  }
}

}  // namespace

TEST(Ops, RopeMatchesReference) {
  struct Case {
    ops::RopeMode mode;
    int hd, n_rot;
    float base, fscale;
    bool ff;
  };
  const Case cases[] = {
      {ops::RopeMode::Neox, 64, 64, 10000, 1, false},  {ops::RopeMode::Normal, 64, 64, 10000, 1, false},
      {ops::RopeMode::Neox, 64, 32, 10000, 1, false},  {ops::RopeMode::Normal, 48, 16, 500000, 0.5f, false},
      {ops::RopeMode::Neox, 256, 256, 10000, 1, true}, {ops::RopeMode::Normal, 32, 32, 10000, 1, true},
  };
  const int n_head = 3;
  const int32_t pos[] = {0, 1, 17, 300, 4095};
  for (const Case& c : cases) {
    auto ffv = randv(c.n_rot / 2, 77, 0.5f, 4.0f);
    const float* ff = c.ff ? ffv.data() : nullptr;
    auto x = randv(5 * n_head * c.hd, 31);
    std::vector<float> y = x;
    ops::RopeParams p{c.mode, c.n_rot, c.base, c.fscale, ff};
    ops::rope(y.data(), 5, n_head, c.hd, 0, pos, p);
    for (int t = 0; t < 5; ++t) {
      std::vector<double> r(x.begin() + t * n_head * c.hd, x.begin() + (t + 1) * n_head * c.hd);
      rope_ref(r, n_head, c.hd, c.n_rot, c.mode, c.base, c.fscale, ff, pos[t]);
      for (int i = 0; i < n_head * c.hd; ++i) {
        // f32 angle of p·θ_i carries ~p·2^-24 relative error, hence the position-scaled tolerance.
        const double tol = 2e-6 + 4e-7 * pos[t];
        ASSERT_NEAR(y[t * n_head * c.hd + i], r[i], tol) << "mode=" << int(c.mode) << " t=" << t << " i=" << i;
        if (i % c.hd >= c.n_rot) ASSERT_EQ(y[t * n_head * c.hd + i], x[t * n_head * c.hd + i]);
      }
    }
  }
}

TEST(Ops, RopeNeoxIsRelativeAndProportionalFactorsFreezePairs) {
  // q·k after rotation depends only on the position difference.
  const int hd = 128;
  auto q = randv(hd, 1), k = randv(hd, 2);
  ops::RopeParams p{ops::RopeMode::Neox, hd, 10000.0f, 1.0f, nullptr};
  auto dot_at = [&](int pq, int pk) {
    std::vector<float> a(q), b(k);
    ops::rope(a.data(), 1, 1, hd, 0, &pq, p);
    ops::rope(b.data(), 1, 1, hd, 0, &pk, p);
    return ops::dot(a.data(), b.data(), hd);
  };
  EXPECT_NEAR(dot_at(10, 3), dot_at(107, 100), 1e-4);
  EXPECT_GT(std::fabs(dot_at(10, 3) - dot_at(10, 9)), 1e-3);
  // Gemma 4 full layers: factors 1e30 beyond the first 16 of 64 pairs leave those pairs as they are.
  std::vector<float> ff(64, 1e30f);
  for (int i = 0; i < 16; ++i) ff[i] = 1.0f;
  ops::RopeParams g{ops::RopeMode::Neox, hd, 1e6f, 1.0f, ff.data()};
  std::vector<float> y(q);
  const int32_t pos = 1000;
  ops::rope(y.data(), 1, 1, hd, 0, &pos, g);
  for (int i = 0; i < hd / 2; ++i) {
    if (i < 16) {
      EXPECT_NE(y[i], q[i]);
    } else {
      EXPECT_NEAR(y[i], q[i], 1e-6);
      EXPECT_NEAR(y[i + hd / 2], q[i + hd / 2], 1e-6);
    }
  }
}

TEST(Ops, RopeRejectsBadRotation) {
  std::vector<float> x(64);
  const int32_t pos = 1;
  ops::RopeParams odd{ops::RopeMode::Neox, 7, 10000.0f, 1.0f, nullptr};
  EXPECT_THROW(ops::rope(x.data(), 1, 1, 64, 0, &pos, odd), fitserve::core::Error);
  ops::RopeParams wide{ops::RopeMode::Neox, 128, 10000.0f, 1.0f, nullptr};
  EXPECT_THROW(ops::rope(x.data(), 1, 1, 64, 0, &pos, wide), fitserve::core::Error);
}
