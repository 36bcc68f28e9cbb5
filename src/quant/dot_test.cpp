// Tests for quant/dot.h: the scalar kernels against a double-precision dot over the exactly
// dequantized weights and activations; every SIMD variant this CPU has against the scalar kernels
// on random data and odd shapes; activation quantization rules; argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/dot.h"
#include "quant/fp16.h"
#include "quant/quant.h"
#include "quant/kernel_testing.h"

using namespace fitserve;
using quant::Isa;
using quant::Type;

namespace {


using quant::testing::IsaGuard;
using quant::testing::kAllTypes;

std::vector<float> randn(size_t n, std::mt19937& rng, float scale = 1.f) {
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// A quantized problem: n_rows weight rows and n_cols activation rows of length k.
struct Problem {
  Type w;
  int64_t k, n_rows, n_cols;
  size_t ws, as;
  std::vector<uint8_t> W, A;
};

Problem make_problem(Type w, int64_t k, int64_t n_rows, int64_t n_cols, uint32_t seed, size_t pad_w = 0,
                     size_t pad_a = 0) {
  std::mt19937 rng(seed);
  Problem p{w, k, n_rows, n_cols, quant::row_bytes(w, k) + pad_w, quant::act_row_bytes(w, k) + pad_a, {}, {}};
  // pad to a multiple of 4 so F32 / Q8_K rows stay aligned
  p.ws = (p.ws + 3) & ~size_t(3);
  p.as = (p.as + 3) & ~size_t(3);
  p.W.assign(p.ws * static_cast<size_t>(n_rows) + 64, 0xA5);
  p.A.assign(p.as * static_cast<size_t>(n_cols) + 64, 0x5A);
  for (int64_t i = 0; i < n_rows; ++i) {
    // vary the row scale so blocks have very different d
    const auto x = randn(static_cast<size_t>(k), rng, 0.05f + static_cast<float>(i % 5));
    quant::quantize_row(w, x.data(), p.W.data() + i * p.ws, k);
  }
  for (int64_t j = 0; j < n_cols; ++j) {
    auto x = randn(static_cast<size_t>(k), rng, 1.f + static_cast<float>(j % 3));
    if (j % 4 == 3)  // an activation with a zero block and a spike
      for (int64_t t = 0; t < std::min<int64_t>(k, 32); ++t) x[static_cast<size_t>(t)] = 0.f;
    quant::quantize_act_row(w, x.data(), p.A.data() + j * p.as, k);
  }
  return p;
}

std::vector<float> run(const Problem& p, size_t cs) {
  std::vector<float> C(cs * static_cast<size_t>(p.n_cols), -777.f);
  quant::gemm(p.w, p.k, p.W.data(), p.ws, p.n_rows, p.A.data(), p.as, p.n_cols, C.data(), cs);
  return C;
}

// Double-precision reference: exact dequantized values; Q8_1 activations contribute their
// stored s = f16(d·Σq) for the min term, as the format defines. Also returns Σ|w·a|.
double ref_dot(const Problem& p, int64_t i, int64_t j, double* mag) {
  const int64_t k = p.k;
  std::vector<float> w(static_cast<size_t>(k)), a(static_cast<size_t>(k));
  quant::dequantize_row(p.w, p.W.data() + i * p.ws, w.data(), k);
  const Type at = quant::vec_dot_type(p.w);
  quant::dequantize_row(at, p.A.data() + j * p.as, a.data(), k);
  double s = 0, m = 0;
  for (int64_t t = 0; t < k; ++t) {
    s += static_cast<double>(w[static_cast<size_t>(t)]) * a[static_cast<size_t>(t)];
    m += std::fabs(static_cast<double>(w[static_cast<size_t>(t)]) * a[static_cast<size_t>(t)]);
  }
  if (at == Type::Q8_1) {
    // The kernel's min term is m_w·s_a with the stored s_a instead of m_w·d_a·Σq_a.
    const size_t wb = p.w == Type::Q5_1 ? sizeof(quant::BlockQ5_1) : sizeof(quant::BlockQ4_1);
    const auto* ab = reinterpret_cast<const quant::BlockQ8_1*>(p.A.data() + j * p.as);
    for (int64_t b = 0; b < k / 32; ++b) {
      uint16_t hm;
      std::memcpy(&hm, p.W.data() + i * p.ws + b * wb + 2, 2);
      double sum_a = 0;
      for (int t = 0; t < 32; ++t) sum_a += a[static_cast<size_t>(32 * b + t)];
      s += quant::fp16_to_fp32(hm) * (quant::fp16_to_fp32(ab[b].s) - sum_a);
    }
  }
  *mag = m;
  return s;
}

int64_t block_of(Type w) {
  return std::max(quant::type_info(w).block, quant::type_info(quant::vec_dot_type(w)).block);
}

}  // namespace

TEST(Dot, VecDotTypesAndSizes) {
  EXPECT_EQ(quant::vec_dot_type(Type::Q4_0), Type::Q8_0);
  EXPECT_EQ(quant::vec_dot_type(Type::Q4_1), Type::Q8_1);
  EXPECT_EQ(quant::vec_dot_type(Type::Q5_1), Type::Q8_1);
  EXPECT_EQ(quant::vec_dot_type(Type::IQ4_NL), Type::Q8_0);
  EXPECT_EQ(quant::vec_dot_type(Type::MXFP4), Type::Q8_0);
  EXPECT_EQ(quant::vec_dot_type(Type::Q6_K), Type::Q8_K);
  EXPECT_EQ(quant::vec_dot_type(Type::IQ4_XS), Type::Q8_K);
  EXPECT_EQ(quant::vec_dot_type(Type::F16), Type::F16);
  EXPECT_EQ(quant::vec_dot_type(Type::BF16), Type::BF16);
  EXPECT_EQ(quant::act_row_bytes(Type::Q4_0, 4096), 4096u / 32 * 34);
  EXPECT_EQ(quant::act_row_bytes(Type::Q4_K, 4096), 4096u / 256 * 292);
  EXPECT_EQ(quant::act_row_bytes(Type::F32, 7), 28u);
}

TEST(Dot, ActivationQ8_0UsesHalfEvenRounding) {
  // amax = 127 -> id = 1 exactly; 2.5 -> 2 and -3.5 -> -4 (half to even), unlike roundf.
  std::vector<float> x(32, 0.f);
  x[0] = 127.f;
  x[1] = 2.5f;
  x[2] = -3.5f;
  x[3] = 0.5f;
  quant::BlockQ8_0 b;
  quant::quantize_act_row(Type::Q4_0, x.data(), &b, 32);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], -4);
  EXPECT_EQ(b.qs[3], 0);
  EXPECT_EQ(quant::fp16_to_fp32(b.d), quant::fp16_to_fp32(quant::fp32_to_fp16(1.0f)));
  quant::BlockQ8_1 b1;
  quant::quantize_act_row(Type::Q4_1, x.data(), &b1, 32);
  EXPECT_EQ(quant::fp16_to_fp32(b1.s), 127.f + 2.f - 4.f);
  // all-zero block: d = 0, q = 0
  std::vector<float> z(32, 0.f);
  quant::quantize_act_row(Type::Q8_0, z.data(), &b, 32);
  EXPECT_EQ(b.d, 0);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(b.qs[i], 0);
}

TEST(Dot, ScalarMatchesDoubleReference) {
  IsaGuard g;
  quant::set_isa(Isa::Scalar);
  for (Type w : kAllTypes) {
    const int64_t blk = block_of(w);
    for (int64_t k : {blk, 3 * blk, 16 * blk}) {
      const auto p = make_problem(w, k, 5, 3, 11 + static_cast<uint32_t>(k));
      const auto C = run(p, 5);
      for (int64_t j = 0; j < p.n_cols; ++j)
        for (int64_t i = 0; i < p.n_rows; ++i) {
          double mag;
          const double want = ref_dot(p, i, j, &mag);
          const double got = C[static_cast<size_t>(j * 5 + i)];
          ASSERT_LE(std::fabs(got - want), 2e-6 * mag + 1e-30)
              << quant::type_name(w) << " k=" << k << " row " << i << " col " << j << " want " << want;
        }
    }
  }
}

TEST(Dot, EveryIsaMatchesScalarOnOddShapes) {
  IsaGuard g;
  std::vector<Isa> isas;
  for (Isa i : {Isa::AVX2, Isa::AVX512})
    if (static_cast<int>(i) <= static_cast<int>(quant::best_isa())) isas.push_back(i);
  if (isas.empty()) GTEST_SKIP() << "this CPU has neither AVX2 nor AVX-512";
  const int64_t row_counts[] = {1, 2, 3, 4, 5, 7, 9, 13, 16, 37};
  uint32_t seed = 100;
  for (Type w : kAllTypes) {
    const int64_t blk = block_of(w);
    std::vector<int64_t> ks;
    if (blk == 1) ks = {1, 7, 15, 16, 17, 31, 33, 100, 1000, 4099};
    else if (blk == 32) ks = {32, 64, 96, 480, 512, 544, 1056, 4096};
    else ks = {256, 512, 768, 2304, 4096};
    for (int64_t k : ks) {
      const int64_t n_rows = row_counts[seed % 10];
      const int64_t n_cols = 1 + (seed % 9);
      ++seed;
      const auto p = make_problem(w, k, n_rows, n_cols, seed, (seed % 3) * 2, (seed % 2) * 4);
      const size_t cs = static_cast<size_t>(n_rows) + (seed % 4);
      quant::set_isa(Isa::Scalar);
      const auto ref = run(p, cs);
      for (Isa isa : isas) {
        quant::set_isa(isa);
        const auto got = run(p, cs);
        for (int64_t j = 0; j < n_cols; ++j)
          for (int64_t i = 0; i < static_cast<int64_t>(cs); ++i) {
            const size_t at = static_cast<size_t>(j) * cs + static_cast<size_t>(i);
            if (i >= n_rows) {  // outside the output block: untouched
              ASSERT_EQ(got[at], -777.f);
              continue;
            }
            double mag;
            ref_dot(p, i, j, &mag);
            ASSERT_LE(std::fabs(static_cast<double>(got[at]) - ref[at]), 1e-5 * mag + 1e-30)
                << quant::isa_name(isa) << " " << quant::type_name(w) << " k=" << k << " rows=" << n_rows
                << " cols=" << n_cols << " at row " << i << " col " << j << " scalar " << ref[at];
          }
      }
    }
  }
}

// GEMV (n_cols = 1) has its own kernels: every type and k against scalar, and every row's result
// bit-identical whichever row range it is computed in (ops::matmul splits rows by thread count).
TEST(Dot, GemvMatchesScalarAndIgnoresRowSplit) {
  IsaGuard g;
  std::vector<Isa> isas;
  for (Isa i : {Isa::AVX2, Isa::AVX512})
    if (static_cast<int>(i) <= static_cast<int>(quant::best_isa())) isas.push_back(i);
  uint32_t seed = 900;
  for (Type w : kAllTypes) {
    const int64_t blk = block_of(w);
    std::vector<int64_t> ks;
    if (blk == 1) ks = {1, 17, 1000};
    else if (blk == 32) ks = {32, 64, 96, 480, 512, 544, 1056, 1536};
    else ks = {256, 768, 1536};
    for (int64_t k : ks) {
      const int64_t n_rows = 21;
      ++seed;
      const auto p = make_problem(w, k, n_rows, 1, seed, (seed % 3) * 2, 0);
      quant::set_isa(Isa::Scalar);
      const auto ref = run(p, static_cast<size_t>(n_rows));
      for (Isa isa : isas) {
        quant::set_isa(isa);
        const auto whole = run(p, static_cast<size_t>(n_rows));
        for (int64_t i = 0; i < n_rows; ++i) {
          double mag;
          ref_dot(p, i, 0, &mag);
          ASSERT_LE(std::fabs(static_cast<double>(whole[i]) - ref[i]), 1e-5 * mag + 1e-30)
              << quant::isa_name(isa) << " " << quant::type_name(w) << " k=" << k << " row " << i;
        }
        for (int64_t cut : {1, 3, 4, 7, 16}) {  // rows [0, cut) and [cut, n) in two calls
          std::vector<float> C(static_cast<size_t>(n_rows), -777.f);
          quant::gemm(p.w, k, p.W.data(), p.ws, cut, p.A.data(), p.as, 1, C.data(), 1);
          quant::gemm(p.w, k, p.W.data() + cut * p.ws, p.ws, n_rows - cut, p.A.data(), p.as, 1, C.data() + cut, 1);
          for (int64_t i = 0; i < n_rows; ++i)
            ASSERT_EQ(C[i], whole[i]) << quant::isa_name(isa) << " " << quant::type_name(w) << " k=" << k << " cut "
                                      << cut << " row " << i;
        }
      }
    }
  }
}

TEST(Dot, AllVariantsShareActivationBytes) {
  // quantize_act_row is defined by one rule: the bytes do not depend on the active ISA, also for
  // rounding ties, zero blocks, max-magnitude ties of both signs, NaN/Inf and k % 16 != 0.
  IsaGuard g;
  std::mt19937 rng(3);
  auto x = randn(4096 + 256, rng, 2.f);
  for (int j = 0; j < 32; ++j) x[32 + j] = 0.f;                        // zero block
  x[64] = 127.f;                                                       // id = 1: exact ties
  for (int j = 1; j < 32; ++j) x[64 + j] = static_cast<float>(j) - 15.5f;
  x[96 + 3] = std::numeric_limits<float>::quiet_NaN();                 // NaN lane
  x[128 + 5] = std::numeric_limits<float>::infinity();                 // Inf block
  x[300] = -9.f;                                                       // Q8_K: -9 before +9
  x[400] = 9.f;
  x[1000] = 1e-40f;                                                    // denormal
  for (Type w : {Type::Q4_0, Type::Q4_1, Type::Q5_1, Type::Q4_K, Type::Q6_K, Type::F16, Type::BF16, Type::F32}) {
    for (int64_t k : {int64_t(4096), int64_t(512), int64_t(4096 + 256)}) {
      if (k % std::max<int64_t>(1, quant::type_info(quant::vec_dot_type(w)).block) != 0) continue;
      std::vector<std::vector<uint8_t>> outs;
      for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512}) {
        if (static_cast<int>(isa) > static_cast<int>(quant::best_isa())) continue;
        quant::set_isa(isa);
        std::vector<uint8_t> o(quant::act_row_bytes(w, k));
        quant::quantize_act_row(w, x.data(), o.data(), k);
        outs.push_back(o);
      }
      for (const auto& o : outs) EXPECT_EQ(o, outs[0]) << quant::type_name(w) << " k=" << k;
    }
  }
  // odd k for the float types (F16 converts in SIMD chunks plus a scalar tail)
  for (Type w : {Type::F16, Type::BF16}) {
    std::vector<std::vector<uint8_t>> outs;
    for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512}) {
      if (static_cast<int>(isa) > static_cast<int>(quant::best_isa())) continue;
      quant::set_isa(isa);
      std::vector<uint8_t> o(quant::act_row_bytes(w, 4099));
      quant::quantize_act_row(w, x.data(), o.data(), 4099);
      outs.push_back(o);
    }
    for (const auto& o : outs) EXPECT_EQ(o, outs[0]) << quant::type_name(w);
  }
  // Q8_K activations equal the reference quantizer's bytes.
  std::vector<uint8_t> ref(quant::row_bytes(Type::Q8_K, 4096)), got(ref.size());
  quant::quantize_row(Type::Q8_K, x.data(), ref.data(), 4096);
  quant::set_isa(quant::best_isa());
  quant::quantize_act_row(Type::Q4_K, x.data(), got.data(), 4096);
  EXPECT_EQ(got, ref);
}

TEST(Dot, ConcurrentCallsAgree) {
  // Callers split rows across threads; each thread has its own scratch.
  const auto p = make_problem(Type::Q4_0, 1024, 64, 7, 77);
  std::vector<float> one(64 * 7), two(64 * 7);
  quant::gemm(p.w, p.k, p.W.data(), p.ws, 64, p.A.data(), p.as, 7, one.data(), 64);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep)
        quant::gemm(p.w, p.k, p.W.data() + 16 * t * p.ws, p.ws, 16, p.A.data(), p.as, 7, two.data() + 16 * t, 64);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(one, two);
}

TEST(Dot, RejectsBadArguments) {
  std::vector<uint8_t> buf(4096);
  float c[4];
  EXPECT_THROW(quant::gemm(Type::IQ2_XXS, 256, buf.data(), 66, 1, buf.data(), 292, 1, c, 1), core::Error);
  EXPECT_THROW(quant::gemm(Type::Q4_K, 32, buf.data(), 18, 1, buf.data(), 34, 1, c, 1), core::Error);
  EXPECT_THROW(quant::gemm(Type::Q8_0, 48, buf.data(), 64, 1, buf.data(), 64, 1, c, 1), core::Error);
  EXPECT_THROW(quant::gemm(Type::Q8_0, 64, buf.data(), 10, 2, buf.data(), 68, 1, c, 2), core::Error);
  EXPECT_THROW(quant::act_row_bytes(Type::I32, 4), core::Error);
  EXPECT_THROW(quant::vec_dot_type(Type::TQ2_0), core::Error);
  if (quant::best_isa() != Isa::AVX512) {
    EXPECT_THROW(quant::set_isa(Isa::AVX512), core::Error);
  }
  EXPECT_FALSE(quant::gemm_supported(Type::IQ3_S));
  EXPECT_TRUE(quant::gemm_supported(Type::MXFP4));
}
