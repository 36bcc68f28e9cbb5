// plan/headers_test.cpp — hparams and weight totals read from the shared test models' headers.
#include "plan/headers.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "plan/test_util.h"

namespace fitserve::plan {
namespace {

using test::model;
using test::vision;

TEST(Headers, DenseGemma4PerLayerKvAndKEqV) {
  auto path = model("gemma4-dense-Q4_0.gguf");
  PLAN_REQUIRE_FILE(path);
  ModelHeaders h = open_headers(path);
  EXPECT_EQ(h.kind, ModelKind::Text);
  EXPECT_EQ(h.arch, "gemma4");
  EXPECT_EQ(h.n_layer, 6);
  EXPECT_EQ(h.n_embd, 256);
  EXPECT_EQ(h.n_vocab, 256);
  EXPECT_EQ(h.n_swa, 16);
  EXPECT_EQ(h.n_ctx_train, 8192);
  ASSERT_EQ(h.layers.size(), 6u);
  for (int l = 0; l < 5; ++l) {
    EXPECT_TRUE(h.layers[l].swa) << l;
    EXPECT_EQ(h.layers[l].n_head_kv, 2);
    EXPECT_EQ(h.layers[l].d_k, 32);
    EXPECT_TRUE(h.layers[l].owns_kv);
  }
  EXPECT_FALSE(h.layers[5].swa);
  EXPECT_EQ(h.layers[5].n_head_kv, 1);
  EXPECT_EQ(h.layers[5].d_k, 64);
  EXPECT_EQ(h.layers[5].k_width(), 64);
  EXPECT_FALSE(h.tied_embeddings);
  // README: 87 tensors: F32 44, Q4_0 42, Q6_K 1.
  EXPECT_EQ(h.by_type[quant::Type::F32].tensors, 44);
  EXPECT_EQ(h.by_type[quant::Type::Q4_0].tensors, 42);
  EXPECT_EQ(h.by_type[quant::Type::Q6_K].tensors, 1);
  uint64_t sum = 0;
  for (const auto& t : h.file().tensors()) sum += t.nbytes;
  EXPECT_EQ(h.weight_bytes, sum);
  EXPECT_LE(h.weight_bytes + h.header_bytes, h.file_bytes);
  EXPECT_EQ(h.file_bytes, 815968u);
}

TEST(Headers, SharedKvLayersReadEarlierCaches) {
  auto path = model("gemma4-e-F16.gguf");
  PLAN_REQUIRE_FILE(path);
  ModelHeaders h = open_headers(path);
  EXPECT_EQ(h.n_shared_kv, 3);
  EXPECT_EQ(h.n_embd_per_layer, 32);
  // [S,S,G,S,S,G], layers 3..5 reuse: SWA -> layer 1, full -> layer 2.
  EXPECT_TRUE(h.layers[2].owns_kv);
  EXPECT_FALSE(h.layers[3].owns_kv);
  EXPECT_EQ(h.layers[3].kv_source, 1);
  EXPECT_EQ(h.layers[4].kv_source, 1);
  EXPECT_EQ(h.layers[5].kv_source, 2);
  EXPECT_EQ(h.layers[0].n_ff, 64);
  EXPECT_EQ(h.layers[5].n_ff, 128);
  EXPECT_EQ(h.layers[0].n_head_kv, 1);  // scalar broadcast
}

TEST(Headers, MoeAndAssistant) {
  auto moe = model("gemma4-moe-Q8_0.gguf");
  auto asst = model("gemma4-dense-assistant-Q8_0.gguf");
  PLAN_REQUIRE_FILE(moe);
  PLAN_REQUIRE_FILE(asst);
  ModelHeaders m = open_headers(moe);
  EXPECT_EQ(m.n_expert, 8);
  EXPECT_EQ(m.n_expert_used, 2);
  EXPECT_EQ(m.n_ff_exp, 32);
  ModelHeaders a = open_headers(asst);
  EXPECT_EQ(a.kind, ModelKind::Assistant);
  EXPECT_EQ(a.n_embd, 128);
  EXPECT_EQ(a.n_embd_out, 256);
  for (const auto& l : a.layers) EXPECT_FALSE(l.owns_kv);
}

TEST(Headers, LlamaStories) {
  auto path = core::test::repo_data("stories260K.gguf");
  PLAN_REQUIRE_FILE(path);
  ModelHeaders h = open_headers(path);
  EXPECT_EQ(h.arch, "llama");
  EXPECT_EQ(h.n_layer, 5);
  EXPECT_EQ(h.n_vocab, 512);
  EXPECT_FALSE(h.has_swa());
  EXPECT_EQ(h.layers[0].n_head_kv, 4);
  EXPECT_EQ(h.layers[0].d_k, 8);  // 64 / 8 heads
  EXPECT_EQ(h.weight_bytes, 1171200u);  // all F32, per the models README
}

TEST(Headers, Mmproj) {
  auto v = vision("mmproj-gemma4v-e64.gguf");
  auto uv = vision("mmproj-gemma4uv-e64.gguf");
  PLAN_REQUIRE_FILE(v);
  PLAN_REQUIRE_FILE(uv);
  ModelHeaders a = open_headers(v);
  EXPECT_EQ(a.kind, ModelKind::Mmproj);
  EXPECT_EQ(a.mm.projector, "gemma4v");
  EXPECT_EQ(a.mm.n_embd_vision, 64);
  EXPECT_EQ(a.n_embd, 64);
  EXPECT_EQ(a.mm.width, 48);
  EXPECT_EQ(a.mm.n_layer, 2);
  ModelHeaders b = open_headers(uv);
  EXPECT_EQ(b.mm.projector, "gemma4uv");
  EXPECT_EQ(b.n_embd, 64);
}

TEST(Headers, BadMetadataIsAnErrorNotACrash) {
  test::G4Shape s;
  s.n_layer = 4;
  gguf::Writer w = test::g4_writer(s);
  w.set_array_i32("gemma4.attention.head_count_kv", {8, 8, 8});  // wrong length
  auto f = std::make_shared<const gguf::File>(gguf::File::parse(core::MappedFile::from_bytes(w.to_bytes(), "bad.gguf")));
  try {
    read_headers(f);
    FAIL() << "expected an error";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("head_count_kv has 3 entries but block_count is 4"), std::string::npos) << e.what();
  }
  gguf::Writer w2 = test::g4_writer(s);
  w2.remove("gemma4.embedding_length");
  auto f2 = std::make_shared<const gguf::File>(gguf::File::parse(core::MappedFile::from_bytes(w2.to_bytes(), "bad2.gguf")));
  EXPECT_THROW(read_headers(f2), core::Error);
  gguf::Writer w3 = test::g4_writer(s);
  w3.set_u32("gemma4.attention.shared_kv_layers", 4);  // no layer left with its own cache
  auto f3 = std::make_shared<const gguf::File>(gguf::File::parse(core::MappedFile::from_bytes(w3.to_bytes(), "bad3.gguf")));
  EXPECT_THROW(read_headers(f3), core::Error);
}

}  // namespace
}  // namespace fitserve::plan
