// Tests quant::gemm's batch invariance: for small batches (2 <= n_cols <= 8, the decode-sized
// batches of speculative verification and of several slots decoding) every column equals, bit
// for bit, a one-column call (GEMV) on that activation row — on every ISA this CPU has and for
// every weight type. Larger batches (prompt processing) may take tiled GEMM kernels that round
// differently: n_cols = 9 is checked to be exact where it is, and close to the GEMV elsewhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quant/dot.h"
#include "quant/quant.h"
#include "quant/kernel_testing.h"

using namespace fitserve;
using quant::Isa;
using quant::Type;

namespace {

constexpr int64_t kMaxInvariantCols = 8;


using quant::testing::IsaGuard;
using quant::testing::kAllTypes;

// The AVX-512 GEMM kernels of the 32-element block types (dot_t_avx512.cpp) sum in another order
// than their GEMV; every other (ISA, type) has one accumulation structure for all n_cols.
bool tiled_gemm_differs(Isa isa, Type w) {
  if (isa != Isa::AVX512) return false;
  switch (w) {
    case Type::Q4_0: case Type::Q4_1: case Type::Q5_0: case Type::Q5_1: case Type::Q8_0:
    case Type::IQ4_NL: case Type::MXFP4:
      return true;
    default:
      return false;
  }
}

struct Batch {
  int64_t k, n_rows;
  size_t ws, as;
  std::vector<uint8_t> W, A;
};

Batch make_batch(Type w, int64_t k, int64_t n_rows, int64_t n_cols, uint32_t seed) {
  std::mt19937 rng(seed);
  Batch b{k, n_rows, (quant::row_bytes(w, k) + 5) & ~size_t(3), (quant::act_row_bytes(w, k) + 7) & ~size_t(3), {}, {}};
  b.W.assign(b.ws * static_cast<size_t>(n_rows), 0xA5);
  b.A.assign(b.as * static_cast<size_t>(n_cols), 0x5A);
  for (int64_t i = 0; i < n_rows; ++i) {
    std::normal_distribution<float> nd(0.f, 0.05f + static_cast<float>(i % 5));
    std::vector<float> x(static_cast<size_t>(k));
    for (auto& v : x) v = nd(rng);
    quant::quantize_row(w, x.data(), b.W.data() + i * b.ws, k);
  }
  for (int64_t j = 0; j < n_cols; ++j) {
    std::normal_distribution<float> nd(0.f, 1.f + static_cast<float>(j % 3));
    std::vector<float> x(static_cast<size_t>(k));
    for (auto& v : x) v = nd(rng);
    quant::quantize_act_row(w, x.data(), b.A.data() + j * b.as, k);
  }
  return b;
}

TEST(GemvBatch, SmallBatchColumnsEqualGemvExactly) {
  IsaGuard g;
  uint32_t seed = 4200;
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512}) {
    if (static_cast<int>(isa) > static_cast<int>(quant::best_isa())) continue;
    quant::set_isa(isa);
    for (Type w : kAllTypes) {
      const int64_t blk = quant::type_info(w).block;
      // odd block counts: a partial last group of 16 blocks (and a lone last pair / quad)
      std::vector<int64_t> ks;
      if (blk == 1) ks = {17, 1001};
      else if (blk == 32) ks = {32, 96, 544, 1504};
      else ks = {256, 1280};
      for (int64_t k : ks) {
        const int64_t n_rows = 37;  // two full blocks of 16 rows and 5 more
        const int64_t max_cols = kMaxInvariantCols + 1;
        const Batch b = make_batch(w, k, n_rows, max_cols, ++seed);
        // reference: each activation row alone
        std::vector<float> one(static_cast<size_t>(n_rows * max_cols));
        for (int64_t j = 0; j < max_cols; ++j)
          quant::gemm(w, k, b.W.data(), b.ws, n_rows, b.A.data() + j * b.as, b.as, 1, one.data() + j * n_rows, 1);
        for (int64_t n_cols = 2; n_cols <= max_cols; ++n_cols) {
          const size_t cs = static_cast<size_t>(n_rows) + 3;
          std::vector<float> C(cs * static_cast<size_t>(n_cols), -777.f);
          quant::gemm(w, k, b.W.data(), b.ws, n_rows, b.A.data(), b.as, n_cols, C.data(), cs);
          const bool exact = n_cols <= kMaxInvariantCols || !tiled_gemm_differs(isa, w);
          for (int64_t j = 0; j < n_cols; ++j) {
            const float* got = C.data() + j * cs;
            const float* ref = one.data() + j * n_rows;
            const std::string what = std::string(quant::isa_name(isa)) + " " + quant::type_name(w) +
                                     " k=" + std::to_string(k) + " n_cols=" + std::to_string(n_cols) +
                                     " col " + std::to_string(j);
            if (exact) {
              ASSERT_EQ(std::memcmp(got, ref, sizeof(float) * static_cast<size_t>(n_rows)), 0) << what;
            } else {
              for (int64_t i = 0; i < n_rows; ++i)
                ASSERT_NEAR(got[i], ref[i], 1e-4f * (1.f + std::fabs(ref[i]))) << what << " row " << i;
            }
            for (size_t i = static_cast<size_t>(n_rows); i < cs && j + 1 < n_cols; ++i)
              ASSERT_EQ(got[i], -777.f) << what << ": wrote past its rows";
          }
        }
      }
    }
  }
}

// Row ranges: ops::matmul splits rows over threads, also for batches; a row's result does not
// depend on the range it is computed in.
TEST(GemvBatch, SmallBatchIgnoresRowSplit) {
  IsaGuard g;
  quant::set_isa(quant::best_isa());
  for (Type w : {Type::Q8_0, Type::Q4_0, Type::Q5_1, Type::IQ4_NL, Type::MXFP4, Type::Q4_K}) {
    const int64_t k = quant::type_info(w).block == 32 ? 800 : 768;
    const int64_t n_rows = 29, n_cols = 5;
    const Batch b = make_batch(w, k, n_rows, n_cols, 77);
    std::vector<float> whole(static_cast<size_t>(n_rows * n_cols)), split(whole.size(), -1.f);
    quant::gemm(w, k, b.W.data(), b.ws, n_rows, b.A.data(), b.as, n_cols, whole.data(), n_rows);
    for (int64_t cut : {1, 7, 16, 17}) {
      quant::gemm(w, k, b.W.data(), b.ws, cut, b.A.data(), b.as, n_cols, split.data(), n_rows);
      quant::gemm(w, k, b.W.data() + cut * b.ws, b.ws, n_rows - cut, b.A.data(), b.as, n_cols, split.data() + cut, n_rows);
      EXPECT_EQ(std::memcmp(whole.data(), split.data(), sizeof(float) * whole.size()), 0)
          << quant::type_name(w) << " cut " << cut;
    }
  }
}

}  // namespace
