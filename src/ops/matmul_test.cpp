// Tests ops::matmul: bit-identical results for every thread count, equal (to float rounding) to
// one unsplit quant::gemm call, and close to a double-precision product of the dequantized weights.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "ops/ops.h"
#include "quant/dot.h"
#include "quant/quant.h"

namespace ops = fitserve::ops;
namespace quant = fitserve::quant;
using fitserve::core::ThreadPool;

namespace {

struct Case {
  quant::Type t;
  int64_t n_rows, k, n_cols;
};

}  // namespace

TEST(Matmul, MatchesUnsplitGemmAndDoubleReference) {
  const Case cases[] = {
      {quant::Type::F32, 37, 64, 1},     {quant::Type::F16, 70, 96, 5},    {quant::Type::BF16, 33, 64, 3},
      {quant::Type::Q8_0, 200, 256, 1},  {quant::Type::Q8_0, 40, 128, 19}, {quant::Type::Q4_0, 129, 512, 1},
      {quant::Type::Q4_0, 16, 64, 37},   {quant::Type::Q4_K, 48, 512, 2},  {quant::Type::Q6_K, 100, 256, 9},
      {quant::Type::Q5_0, 300, 96, 1},   {quant::Type::Q4_0, 600, 64, 130}, {quant::Type::Q8_0, 5000, 32, 1},
      {quant::Type::Q6_K, 333, 512, 1},  {quant::Type::Q4_0, 17, 544, 1},  {quant::Type::Q4_1, 95, 96, 1},
  };
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1, 1);
  ThreadPool p1(1), p2(2), p3(3), p5(5);
  ops::Scratch scratch;
  for (const Case& c : cases) {
    ASSERT_TRUE(quant::gemm_supported(c.t)) << quant::type_name(c.t);
    const size_t ws = quant::row_bytes(c.t, c.k);
    std::vector<float> wf(c.n_rows * c.k), x(c.n_cols * c.k);
    for (auto& v : wf) v = u(rng);
    for (auto& v : x) v = u(rng);
    std::vector<uint8_t> W(ws * c.n_rows);
    for (int64_t i = 0; i < c.n_rows; ++i) quant::quantize_row(c.t, wf.data() + i * c.k, W.data() + ws * i, c.k);
    // Unsplit single call as the oracle for the threading.
    std::vector<uint8_t> A(quant::act_row_bytes(c.t, c.k) * c.n_cols);
    for (int64_t j = 0; j < c.n_cols; ++j)
      quant::quantize_act_row(c.t, x.data() + j * c.k, A.data() + quant::act_row_bytes(c.t, c.k) * j, c.k);
    std::vector<float> oracle(c.n_rows * c.n_cols);
    quant::gemm(c.t, c.k, W.data(), ws, c.n_rows, A.data(), quant::act_row_bytes(c.t, c.k), c.n_cols, oracle.data(),
                c.n_rows);
    // Dequantized weights × f32 activations in double: bounds the activation quantization error.
    std::vector<float> wd(c.k), y1;
    for (ThreadPool* pool : {&p1, &p2, &p3, &p5}) {
      std::vector<float> y(c.n_rows * c.n_cols, -1.0f);
      ops::matmul(*pool, c.t, W.data(), ws, c.n_rows, c.k, x.data(), c.n_cols, y.data(), scratch);
      if (y1.empty()) y1 = y;
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_EQ(y[i], y1[i]) << quant::type_name(c.t) << " threads=" << pool->size() << " i=" << i;
        ASSERT_NEAR(y[i], oracle[i], 1e-5 * (1 + std::fabs(oracle[i]))) << quant::type_name(c.t) << " i=" << i;
      }
    }
    std::vector<float> y(c.n_rows * c.n_cols);
    ops::matmul(p3, c.t, W.data(), ws, c.n_rows, c.k, x.data(), c.n_cols, y.data(), scratch);
    for (int64_t i = 0; i < c.n_rows; ++i) {
      quant::dequantize_row(c.t, W.data() + ws * i, wd.data(), c.k);
      for (int64_t j = 0; j < c.n_cols; ++j) {
        double ref = 0, mag = 0;
        for (int64_t e = 0; e < c.k; ++e) {
          ref += double(wd[e]) * x[j * c.k + e];
          mag += std::fabs(double(wd[e]) * x[j * c.k + e]);
        }
        // Q8 activations carry <= 1/254 relative error per element; float types almost none.
        const double tol = (c.t == quant::Type::F32 ? 1e-6 : c.t == quant::Type::F16 || c.t == quant::Type::BF16 ? 1e-2 : 5e-3) * mag + 1e-6;
        ASSERT_NEAR(y[j * c.n_rows + i], ref, tol) << quant::type_name(c.t) << " i=" << i << " j=" << j;
      }
    }
  }
}

TEST(Matmul, StridedInputsAndOutputs) {
  const int64_t n_rows = 20, k = 64, n_cols = 6, xs = 80, ys = 27;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> W(n_rows * k), X(n_cols * xs), Y(n_cols * ys, 5.0f), Yd(n_rows * n_cols);
  for (auto& v : W) v = u(rng);
  for (auto& v : X) v = u(rng);
  std::vector<float> Xd(n_cols * k);
  for (int64_t j = 0; j < n_cols; ++j)
    for (int64_t e = 0; e < k; ++e) Xd[j * k + e] = X[j * xs + e];
  ThreadPool pool(2);
  ops::Scratch scratch;
  ops::matmul(pool, quant::Type::F32, W.data(), k * 4, n_rows, k, X.data(), n_cols, Y.data(), scratch, xs, ys);
  ops::matmul(pool, quant::Type::F32, W.data(), k * 4, n_rows, k, Xd.data(), n_cols, Yd.data(), scratch);
  for (int64_t j = 0; j < n_cols; ++j) {
    for (int64_t i = 0; i < n_rows; ++i) ASSERT_EQ(Y[j * ys + i], Yd[j * n_rows + i]);
    for (int64_t i = n_rows; i < ys; ++i) ASSERT_EQ(Y[j * ys + i], 5.0f);  // padding untouched
  }
}

TEST(Matmul, RejectsUnsupportedTypes) {
  ThreadPool pool(1);
  ops::Scratch scratch;
  float x[32] = {}, y[1];
  EXPECT_THROW(ops::matmul(pool, quant::Type::I32, x, 128, 1, 32, x, 1, y, scratch), fitserve::core::Error);
  ThreadPool pool3(3);  // k not a multiple of the block: refused before any thread starts
  std::vector<float> xs(48 * 4), ys(64 * 4);
  std::vector<uint8_t> w(18 * 2 * 64);
  EXPECT_THROW(ops::matmul(pool3, quant::Type::Q4_0, w.data(), 36, 64, 48, xs.data(), 4, ys.data(), scratch),
               fitserve::core::Error);
}
