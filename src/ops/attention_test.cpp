// Tests ops::attention directly on plain f32 rows (the vision encoder's use: no cache, no mask),
// and its shape checks. The typed-cache cases are covered in kv/attention_test.cpp.
#include "ops/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "core/error.h"

namespace ops = fitserve::ops;
using fitserve::core::ThreadPool;

TEST(Attention, PlainF32BidirectionalMatchesNaive) {
  const int n = 45, n_head = 6, n_head_kv = 3, d = 40;  // d not a multiple of the SIMD width
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  // K and V as [n_head_kv][n][d] (head-major, like the cache) and Q as [n][n_head][d].
  std::vector<float> K(n_head_kv * n * d), V(n_head_kv * n * d), Q(n * n_head * d);
  for (auto* v : {&K, &V, &Q})
    for (auto& x : *v) x = u(rng);
  std::vector<int32_t> cell_pos(n), pos(n);
  std::iota(cell_pos.begin(), cell_pos.end(), 0);
  std::iota(pos.begin(), pos.end(), 0);
  ops::KvView kv;
  kv.type_k = kv.type_v = fitserve::quant::Type::F32;
  kv.n_head_kv = n_head_kv;
  kv.head_dim_k = kv.head_dim_v = d;
  kv.k = reinterpret_cast<const uint8_t*>(K.data());
  kv.v = reinterpret_cast<const uint8_t*>(V.data());
  kv.k_row_stride = kv.v_row_stride = d * sizeof(float);
  kv.k_head_stride = kv.v_head_stride = static_cast<size_t>(n) * d * sizeof(float);
  kv.cell_pos = cell_pos.data();
  kv.n_cells = n;
  kv.pos_max = n - 1;
  ops::AttnParams p;
  p.scale = 1.0f / std::sqrt(float(d));
  p.mask.causal = false;
  std::vector<float> out(n * n_head * d);
  ops::Scratch scratch;
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    ops::attention(pool, kv, Q.data(), 0, pos.data(), n, n_head, out.data(), 0, p, scratch);
    for (int r = 0; r < n; ++r)
      for (int h = 0; h < n_head; ++h) {
        const int g = h / (n_head / n_head_kv);
        std::vector<double> s(n);
        double mx = -1e300, den = 0;
        for (int j = 0; j < n; ++j) {
          double dd = 0;
          for (int i = 0; i < d; ++i) dd += double(Q[(r * n_head + h) * d + i]) * K[(g * n + j) * d + i];
          s[j] = dd * p.scale;
          mx = std::max(mx, s[j]);
        }
        for (int j = 0; j < n; ++j) den += std::exp(s[j] - mx);
        for (int i = 0; i < d; ++i) {
          double o = 0;
          for (int j = 0; j < n; ++j) o += std::exp(s[j] - mx) / den * V[(g * n + j) * d + i];
          ASSERT_NEAR(out[(r * n_head + h) * d + i], o, 2e-5) << "r=" << r << " h=" << h << " i=" << i;
        }
      }
  }
  // No visible key (window excludes everything older, query before all keys): zeros.
  ops::AttnParams none;
  none.mask.causal = true;
  const int32_t before = -5;
  ThreadPool pool(1);
  ops::attention(pool, kv, Q.data(), 0, &before, 1, n_head, out.data(), 0, none, scratch);
  for (int i = 0; i < n_head * d; ++i) ASSERT_EQ(out[i], 0.0f);
}

TEST(Attention, RejectsBadShapes) {
  ops::KvView kv;
  kv.n_head_kv = 3;
  kv.head_dim_k = kv.head_dim_v = 32;
  ThreadPool pool(1);
  ops::Scratch scratch;
  float q[64] = {}, out[64] = {};
  const int32_t pos = 0;
  EXPECT_THROW(ops::attention(pool, kv, q, 0, &pos, 1, 4, out, 0, {}, scratch), fitserve::core::Error);  // 4 % 3
  kv.n_head_kv = 0;
  EXPECT_THROW(ops::attention(pool, kv, q, 0, &pos, 1, 4, out, 0, {}, scratch), fitserve::core::Error);
}
