// plan/plan_test.cpp — KV sizing (spec gguf-and-quants §9, §11.1), plan totals, fitting under a cap.
#include "plan/plan.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "plan/test_util.h"

namespace fitserve::plan {
namespace {

using quant::Type;

ModelHeaders from_writer(const gguf::Writer& w, const std::string& name) {
  auto f = std::make_shared<const gguf::File>(gguf::File::parse(core::MappedFile::from_bytes(w.to_bytes(), name)));
  return read_headers(f);
}

// Spec §11.1 worked example (its assumed 12B shape: full layers 2 KV heads x 512, q8_0 cache).
TEST(Kv, Gemma12BWorkedExample) {
  test::G4Shape s;  // 48 layers, (5 SWA, 1 full) x 8, window 1024
  s.kv_full = 2;
  ModelHeaders m = from_writer(test::g4_writer(s), "12b");
  RunSettings rs;
  rs.n_ctx = 32768;
  rs.type_k = rs.type_v = Type::Q8_0;
  rs.n_ubatch = 512;
  KvLayout kv = kv_layer_layout(m, rs);
  EXPECT_EQ(kv.n_full, 8);
  EXPECT_EQ(kv.n_swa, 40);
  EXPECT_EQ(kv.cells_full, 32768);
  EXPECT_EQ(kv.cells_swa, 1536);
  EXPECT_EQ(kv.layers[5].k_row + kv.layers[5].v_row, 2176u);
  EXPECT_EQ(kv.layers[0].k_row + kv.layers[0].v_row, 4352u);
  EXPECT_EQ(kv.bytes_full, 570425344u);  // "570 MB"
  EXPECT_EQ(kv.bytes_swa, 267386880u);   // "267 MB"
  rs.n_ubatch = 2048;
  EXPECT_EQ(kv_layer_layout(m, rs).cells_swa, 3072);
  EXPECT_EQ(kv_layer_layout(m, rs).bytes_swa, 534773760u);  // "535 MB"
  rs.n_ubatch = 512;
  rs.n_seq = 4;
  rs.kv_unified = true;
  EXPECT_EQ(kv_layer_layout(m, rs).cells_swa, 4608);
  EXPECT_EQ(kv_layer_layout(m, rs).bytes_swa, 802160640u);  // "802 MB"
}

// Spec gemma4-text §9 worked example: 31B, one sequence, 131072, n_ub 512, f16.
TEST(Kv, Gemma31BWorkedExample) {
  test::G4Shape s;
  s.n_layer = 60;
  s.n_embd = 5376;
  s.n_head = 32;
  s.kv_swa = 16;
  s.kv_full = 4;
  ModelHeaders m = from_writer(test::g4_writer(s), "31b");
  RunSettings rs;
  rs.n_ctx = 131072;
  KvLayout kv = kv_layer_layout(m, rs);
  EXPECT_EQ(kv.bytes_full, 10ull << 30);  // 81 920 B x 131 072 = 10 GiB
  EXPECT_EQ(kv.cells_swa, 1536);
  EXPECT_EQ(kv.bytes_swa, 1536ull * 819200);
}

TEST(Kv, DenseModelHandComputed) {
  auto path = test::model("gemma4-dense-Q4_0.gguf");
  PLAN_REQUIRE_FILE(path);
  ModelHeaders m = open_headers(path);
  RunSettings rs;
  rs.n_ctx = 1000;  // padded to 1024
  KvLayout kv = kv_layer_layout(m, rs);
  EXPECT_EQ(kv.n_ctx, 1024);
  // SWA: pad(min(1024, 16 + 512), 256) = 768 cells; every layer's K and V rows are 64 f16 = 128 B.
  EXPECT_EQ(kv.cells_swa, 768);
  EXPECT_EQ(kv.bytes_swa, 5u * 768 * 256);
  EXPECT_EQ(kv.bytes_full, 1u * 1024 * 256);
  rs.type_k = rs.type_v = Type::Q8_0;  // 64 elements = 2 blocks of 34 B
  EXPECT_EQ(kv_layer_layout(m, rs).bytes_full, 1u * 1024 * 136);
  rs.swa_full = true;
  EXPECT_EQ(kv_layer_layout(m, rs).cells_swa, 1024);
  // Non-unified streams: 3 sequences of pad(1024/3) = 512 cells, n_ctx recomputed = 1536.
  RunSettings r3;
  r3.n_ctx = 1024;
  r3.n_seq = 3;
  KvLayout k3 = kv_layer_layout(m, r3);
  EXPECT_EQ(k3.n_stream, 3);
  EXPECT_EQ(k3.n_ctx_seq, 512);
  EXPECT_EQ(k3.n_ctx, 1536);
  EXPECT_EQ(k3.cells_swa, 512);  // pad(min(512, 16 + 512)) = 512
  EXPECT_EQ(k3.bytes_full, 3u * 512 * 256);
}

TEST(Kv, SharedLayersAreFree) {
  auto path = test::model("gemma4-e-F16.gguf");
  PLAN_REQUIRE_FILE(path);
  ModelHeaders m = open_headers(path);
  RunSettings rs;
  rs.n_ctx = 4096;
  KvLayout kv = kv_layer_layout(m, rs);
  EXPECT_EQ(kv.n_shared, 3);
  EXPECT_EQ(kv.n_swa, 2);
  EXPECT_EQ(kv.n_full, 1);
  for (int l = 3; l < 6; ++l) {
    EXPECT_EQ(kv.layers[l].bytes, 0u);
    EXPECT_FALSE(kv.layers[l].owns);
  }
  EXPECT_EQ(kv.layers[3].source, 1);
  EXPECT_EQ(kv.layers[5].source, 2);
  EXPECT_EQ(kv.bytes_full, 4096u * (128 + 128));  // 1 KV head x 64, f16
  EXPECT_EQ(kv.bytes_swa, 2u * 768 * (64 + 64));   // 1 x 32, pad(16 + 512) = 768 cells
}

TEST(Kv, LlamaAndRowBlockCheck) {
  auto path = core::test::repo_data("stories260K.gguf");
  PLAN_REQUIRE_FILE(path);
  ModelHeaders m = open_headers(path);
  RunSettings rs;  // n_ctx auto = training context 2048
  KvLayout kv = kv_layer_layout(m, rs);
  EXPECT_EQ(kv.n_ctx, 2048);
  EXPECT_EQ(kv.n_swa, 0);
  EXPECT_EQ(kv.total(), 5u * 2048 * (64 + 64));  // 4 KV heads x 8 = 32 f16 each
  rs.type_k = Type::Q4_0;  // 32 elements = one block: fine
  EXPECT_EQ(kv_layer_layout(m, rs).total(), 5u * 2048 * (18 + 64));
  // A row width that is not a multiple of the block is refused with a clear message.
  test::G4Shape s;
  s.n_layer = 6;
  s.kv_swa = 1;
  s.d_swa = 48;
  ModelHeaders odd = from_writer(test::g4_writer(s), "odd");
  RunSettings q;
  q.n_ctx = 512;
  q.type_k = Type::Q8_0;
  try {
    kv_layer_layout(odd, q);
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("-ctk q8_0 needs cache rows that are a multiple of 32"), std::string::npos) << e.what();
  }
  q.type_k = Type::Q4_K;  // not a cache type
  EXPECT_THROW(make_plan(odd, q), core::Error);
}

TEST(Plan, ComponentsSumToTotalAndWeightsAreExact) {
  auto t = test::model("gemma4-dense-Q4_0.gguf");
  auto d = test::model("gemma4-dense-assistant-Q8_0.gguf");
  PLAN_REQUIRE_FILE(t);
  PLAN_REQUIRE_FILE(d);
  ModelHeaders text = open_headers(t), draft = open_headers(d);
  RunSettings rs;
  rs.n_ctx = 4096;
  Plan p = make_plan(ModelSet{&text, nullptr, &draft}, rs);
  uint64_t sum = 0, detail = 0;
  for (const auto& c : p.components) (c.depth == 0 ? sum : detail) += c.bytes;
  EXPECT_EQ(sum, p.total);
  EXPECT_EQ(detail, text.weight_bytes);  // the by-type rows add up to the text weights
  EXPECT_EQ(p.weights_text, text.weight_bytes);
  EXPECT_EQ(p.weights_draft, draft.weight_bytes);
  EXPECT_EQ(p.total, p.weights_text + p.weights_draft + p.kv_bytes + p.compute_bytes + p.output_bytes);
  EXPECT_EQ(p.kv_bytes, p.kv.total());  // the assistant owns no cache
  EXPECT_EQ(p.settings.n_outputs_max, 4);  // 1 sequence x (1 + 3 drafted)
  EXPECT_GE(p.output_bytes, 4u * 256 * 4);
  EXPECT_GT(p.draft_compute.total(), 0u);  // the assistant has its own compute buffers
}

TEST(Plan, ComputeScalesWithUbatchAndContext) {
  auto t = test::model("gemma4-moe-Q4_0.gguf");
  PLAN_REQUIRE_FILE(t);
  ModelHeaders m = open_headers(t);
  RunSettings a;
  a.n_ctx = 4096;
  a.n_ubatch = 256;
  RunSettings b = a;
  b.n_ubatch = 512;
  Plan pa = make_plan(m, a), pb = make_plan(m, b);
  EXPECT_EQ(pa.compute.n_tokens, 256);
  EXPECT_EQ(pb.compute.hidden, 2 * pa.compute.hidden);
  EXPECT_GT(pa.compute.moe, 0u);
  RunSettings c = a;
  c.n_ctx = 8192;
  Plan pc = make_plan(m, c);
  // Compute does not grow with the context: attention masks on the fly and tiles the keys.
  EXPECT_EQ(pc.compute.total(), pa.compute.total());
  EXPECT_EQ(pc.compute.masks, 0u);
  EXPECT_GT(pc.kv_bytes, pa.kv_bytes);
}

TEST(Plan, MaxContextIsTheLargestThatFits) {
  test::G4Shape s;  // 12B-shaped header, no weights: KV + compute + output only
  ModelHeaders m = from_writer(test::g4_writer(s), "12b");
  RunSettings rs;
  rs.type_k = rs.type_v = Type::Q8_0;
  const uint64_t budget = 1ull << 30;
  int64_t n = max_context(ModelSet{&m}, rs, budget);
  ASSERT_GT(n, 0);
  EXPECT_EQ(n % 256, 0);
  rs.n_ctx = n;
  EXPECT_LE(make_plan(m, rs).total, budget);
  rs.n_ctx = n + 256;
  EXPECT_GT(make_plan(m, rs).total, budget);
  // Tiny budgets: nothing fits.
  RunSettings r0;
  EXPECT_EQ(max_context(ModelSet{&m}, r0, 1000), 0);
  // A huge budget is clamped to the training context.
  EXPECT_EQ(max_context(ModelSet{&m}, r0, 1ull << 50), 262144);
}

TEST(Plan, FitResolvesAutoAndRefusesWithOneMessage) {
  auto t = test::model("gemma4-dense-Q8_0.gguf");
  PLAN_REQUIRE_FILE(t);
  ModelHeaders m = open_headers(t);
  ModelSet set{&m};
  RunSettings rs;  // -c auto
  const uint64_t cap = 8ull << 20, margin = 1ull << 20;
  FitResult r = fit(set, rs, cap, margin);
  EXPECT_TRUE(r.auto_ctx);
  EXPECT_GT(r.max_ctx, 0);
  EXPECT_EQ(r.plan.settings.n_ctx, r.max_ctx);
  EXPECT_LE(r.plan.total, cap - margin);
  // Explicit context above what fits: the same "does not fit" error, naming what it needs.
  rs.n_ctx = 8192;
  Plan big = make_plan(set, rs);
  ASSERT_GT(big.total, cap - margin);
  try {
    fit(set, rs, cap, margin);
    FAIL() << "expected oom";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), "oom");
    std::string w = e.what();
    EXPECT_NE(w.find("does not fit"), std::string::npos) << w;
    EXPECT_NE(w.find("needs " + format_bytes(big.total)), std::string::npos) << w;
    EXPECT_NE(w.find(format_bytes(big.total - (cap - margin)) + " more"), std::string::npos) << w;
    EXPECT_NE(w.find("largest context that fits is " + std::to_string(r.max_ctx)), std::string::npos) << w;
    EXPECT_EQ(e.message(), does_not_fit_message(big, cap, margin));
  }
  // Weights alone larger than the cap.
  EXPECT_THROW(fit(set, RunSettings{}, m.weight_bytes, 0), core::Error);
}

TEST(Plan, MmprojAndClassicDraftComponents) {
  auto t = test::vision("gemma4-vis-text-e64.gguf");
  auto v = test::vision("mmproj-gemma4v-e64.gguf");
  auto d = test::model("gemma4-full-vocab-Q8_0.gguf");
  PLAN_REQUIRE_FILE(t);
  PLAN_REQUIRE_FILE(v);
  PLAN_REQUIRE_FILE(d);
  ModelHeaders text = open_headers(t), mm = open_headers(v), draft = open_headers(d);
  RunSettings rs;
  rs.n_ctx = 2048;
  Plan p = make_plan(ModelSet{&text, &mm, &draft}, rs);
  EXPECT_EQ(p.weights_mmproj, mm.weight_bytes);
  EXPECT_GT(p.mmproj_compute.total(), 0u);
  // A classic draft model has its own cache, sized by the same rules.
  EXPECT_EQ(p.draft_kv.total(), kv_layer_layout(draft, p.settings).total());
  EXPECT_GT(p.draft_kv.total(), 0u);
  EXPECT_EQ(p.kv_bytes, p.kv.total() + p.draft_kv.total());
  // Passing the files in the wrong roles is refused.
  EXPECT_THROW(make_plan(ModelSet{&mm}, rs), core::Error);
  EXPECT_THROW(make_plan(ModelSet{&text, &draft}, rs), core::Error);
}

TEST(Plan, AbsurdHeadersGiveErrorsNotWrappedNumbers) {
  test::G4Shape s;
  s.n_layer = 6;
  s.kv_swa = s.kv_full = s.n_head = 65536;
  s.d_swa = s.d_full = 65536;
  ModelHeaders m = from_writer(test::g4_writer(s), "absurd");
  RunSettings rs;
  rs.n_ctx = int64_t(1) << 32;
  EXPECT_THROW(make_plan(m, rs), core::Error);
  s.kv_swa = 1 << 17;  // above the sanity bound for heads
  EXPECT_THROW(from_writer(test::g4_writer(s), "absurd2"), core::Error);
}

TEST(Units, ParseAndFormat) {
  EXPECT_EQ(parse_size("20G"), 20ull << 30);
  EXPECT_EQ(parse_size("20GiB"), 20ull << 30);
  EXPECT_EQ(parse_size("20GB"), 20000000000ull);
  EXPECT_EQ(parse_size("512m"), 512ull << 20);
  EXPECT_EQ(parse_size("1.5T"), 3ull << 39);
  EXPECT_EQ(parse_size("1234"), 1234u);
  EXPECT_THROW(parse_size(""), core::Error);
  EXPECT_THROW(parse_size("G"), core::Error);
  EXPECT_THROW(parse_size("12X"), core::Error);
  EXPECT_THROW(parse_size("-5G"), core::Error);
  EXPECT_THROW(parse_size("1e99T"), core::Error);
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(3ull << 29), "1.50 GiB");
  EXPECT_EQ(format_bytes(838ull << 20), "838.0 MiB");
}

}  // namespace
}  // namespace fitserve::plan
