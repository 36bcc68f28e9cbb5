// Golden test against tests/data/quant-golden.gguf (written by the reference implementation):
//  - every q.<type> tensor dequantizes to exactly the float bits of dq.<type>;
//  - quantizing `input` reproduces q.<type> byte for byte. This holds for every type in the file
//    (F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4),
//    K-quants included, so the test demands byte equality for all of them.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "core/testdata.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

using namespace fitserve;
namespace t = fitserve::core::test;

namespace {

const std::string kFile = "quant-golden.gguf";

gguf::File open_golden() { return gguf::File::open(t::repo_data(kFile)); }

}  // namespace

TEST(QuantGolden, DequantizeMatchesReferenceBits) {
  if (!t::exists(t::repo_data(kFile))) GTEST_SKIP() << "missing " << t::repo_data(kFile);
  const auto f = open_golden();
  std::set<quant::Type> seen;
  for (const auto& ti : f.tensors()) {
    if (ti.name.rfind("q.", 0) != 0) continue;
    const auto* dq = f.tensor("dq." + ti.name.substr(2));
    ASSERT_NE(dq, nullptr) << ti.name;
    ASSERT_EQ(dq->type, quant::Type::F32);
    ASSERT_EQ(dq->n_elements(), ti.n_elements());
    std::vector<float> out(static_cast<size_t>(ti.ne[0]));
    int64_t mismatches = 0;
    for (int64_t r = 0; r < ti.n_rows(); ++r) {
      quant::dequantize_row(ti.type, ti.data + r * ti.row_bytes(), out.data(), ti.ne[0]);
      const uint8_t* want = dq->data + r * ti.ne[0] * 4;
      for (int64_t i = 0; i < ti.ne[0]; ++i)
        if (std::memcmp(&out[static_cast<size_t>(i)], want + i * 4, 4) != 0) ++mismatches;
    }
    EXPECT_GT(ti.n_rows() * ti.ne[0], 0);
    EXPECT_EQ(mismatches, 0) << ti.name << " (" << quant::type_name(ti.type) << ")";
    seen.insert(ti.type);
  }
  // The file covers every must-support quantized type.
  for (auto ty : {quant::Type::F16, quant::Type::BF16, quant::Type::Q4_0, quant::Type::Q4_1,
                  quant::Type::Q5_0, quant::Type::Q5_1, quant::Type::Q8_0, quant::Type::Q2_K,
                  quant::Type::Q3_K, quant::Type::Q4_K, quant::Type::Q5_K, quant::Type::Q6_K,
                  quant::Type::IQ4_NL, quant::Type::IQ4_XS, quant::Type::MXFP4})
    EXPECT_TRUE(seen.count(ty)) << quant::type_name(ty);
}

TEST(QuantGolden, QuantizeInputReproducesReferenceBytes) {
  if (!t::exists(t::repo_data(kFile))) GTEST_SKIP() << "missing " << t::repo_data(kFile);
  const auto f = open_golden();
  const auto* in = f.tensor("input");
  ASSERT_NE(in, nullptr);
  ASSERT_EQ(in->type, quant::Type::F32);
  const int64_t n = in->ne[0];
  std::vector<float> row(static_cast<size_t>(n));
  int checked = 0;
  for (const auto& ti : f.tensors()) {
    if (ti.name.rfind("q.", 0) != 0) continue;
    ASSERT_EQ(ti.ne[0], n);
    ASSERT_EQ(ti.n_rows(), in->n_rows());
    std::vector<uint8_t> got(ti.row_bytes());
    const size_t blk_bytes = static_cast<size_t>(quant::type_info(ti.type).bytes);
    int64_t bad_blocks = 0, blocks = 0;
    for (int64_t r = 0; r < ti.n_rows(); ++r) {
      std::memcpy(row.data(), in->data + r * n * 4, static_cast<size_t>(n) * 4);
      quant::quantize_row(ti.type, row.data(), got.data(), n);
      const uint8_t* want = ti.data + r * ti.row_bytes();
      for (size_t b = 0; b < got.size(); b += blk_bytes, ++blocks)
        if (std::memcmp(got.data() + b, want + b, blk_bytes) != 0) ++bad_blocks;
    }
    EXPECT_EQ(blocks, ti.n_elements() / quant::type_info(ti.type).block);
    EXPECT_EQ(bad_blocks, 0) << ti.name << ": " << bad_blocks << " of " << blocks << " blocks differ";
    ++checked;
  }
  EXPECT_EQ(checked, 15);
}
