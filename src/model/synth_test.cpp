// model/synth_test.cpp — synthetic Gemma 4 GGUFs: real tensor layout, metadata, sane values.
#include "model/synth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include "core/error.h"
#include "core/testdata.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

namespace fitserve::model {
namespace {

using quant::Type;

std::string tmp_path(const std::string& name) {
  return ::testing::TempDir() + "synth_" + std::to_string(::getpid()) + "_" + name;
}

struct Written {
  std::string path;
  explicit Written(std::string p) : path(std::move(p)) {}
  ~Written() { std::remove(path.c_str()); }
};

std::set<std::string> layer_suffixes(const gguf::File& f, int layer) {
  std::set<std::string> s;
  const std::string pre = "blk." + std::to_string(layer) + ".";
  for (const auto& t : f.tensors())
    if (t.name.rfind(pre, 0) == 0) s.insert(t.name.substr(pre.size()));
  return s;
}

// Every quantized or float matrix: finite values, mean ~0, std ~0.02.
void expect_sane_weights(const gguf::File& f) {
  int checked = 0;
  for (const auto& t : f.tensors()) {
    if (t.n_dims < 2 || t.name.find("ffn_gate_inp") != std::string::npos) continue;
    std::vector<float> row(static_cast<size_t>(t.ne[0]));
    double sum = 0, sq = 0;
    int64_t n = 0;
    for (int64_t r = 0; r < std::min<int64_t>(t.n_rows(), 8); ++r) {
      quant::dequantize_row(t.type, t.data + r * t.row_bytes(), row.data(), t.ne[0]);
      for (float x : row) {
        ASSERT_TRUE(std::isfinite(x)) << t.name;
        sum += x;
        sq += double(x) * x;
        ++n;
      }
    }
    double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
    EXPECT_LT(std::fabs(mean), 0.005) << t.name << " " << quant::type_name(t.type);
    EXPECT_GT(sd, 0.012) << t.name << " " << quant::type_name(t.type);
    EXPECT_LT(sd, 0.03) << t.name << " " << quant::type_name(t.type);
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

TEST(Synth, TinyQ4_0MatchesTheRealDenseLayout) {
  Written out(tmp_path("tiny_q4_0.gguf"));
  SynthOptions opt;  // no vocabulary: tokenizer "none", 256 tokens
  SynthResult r = write_synth_model(synth_preset("tiny"), opt, out.path);
  gguf::File f = gguf::File::open(out.path);
  EXPECT_EQ(r.file_bytes, f.file_size());
  EXPECT_EQ(static_cast<size_t>(r.n_tensors), f.tensors().size());
  EXPECT_EQ(f.architecture(), "gemma4");
  EXPECT_EQ(f.get_int("gemma4.block_count"), 6);
  EXPECT_EQ(f.get_int("gemma4.vocab_size"), 256);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "none");
  const gguf::Value* pat = f.find("gemma4.attention.sliding_window_pattern");
  ASSERT_TRUE(pat && pat->is_array() && pat->elem_type == gguf::ValueType::BOOL);
  EXPECT_EQ(pat->int_at(0), 1);
  EXPECT_EQ(pat->int_at(5), 0);
  const gguf::Value* kv = f.find("gemma4.attention.head_count_kv");
  ASSERT_TRUE(kv && kv->is_array() && kv->elem_type == gguf::ValueType::I32);
  EXPECT_EQ(kv->int_at(0), 2);
  EXPECT_EQ(kv->int_at(5), 1);
  // Same tensors per layer as the reference-quantized dense test model (12B/31B layout, K=V).
  auto ref_path = core::test::testdata("models/gemma4-dense-Q4_0.gguf");
  if (core::test::exists(ref_path)) {
    gguf::File ref = gguf::File::open(ref_path);
    EXPECT_EQ(layer_suffixes(f, 0), layer_suffixes(ref, 0));
    EXPECT_EQ(layer_suffixes(f, 5), layer_suffixes(ref, 5));
    for (const auto& t : ref.tensors()) {
      // The test models are untied (output.weight Q6_K, token_embd Q4_0); real Gemma 4 is tied.
      if (t.name == "output.weight" || t.name == "token_embd.weight") continue;
      const auto* s = f.tensor(t.name);
      ASSERT_NE(s, nullptr) << t.name;
      EXPECT_EQ(s->shape_str(), t.shape_str()) << t.name;
      EXPECT_EQ(s->type, t.type) << t.name;  // F32 norms, Q4_0 matrices (llama-quantize's choice)
    }
  }
  EXPECT_EQ(f.tensor("token_embd.weight")->type, Type::Q6_K);
  EXPECT_EQ(f.tensor("blk.5.attn_v.weight"), nullptr);  // K=V full layer
  EXPECT_NE(f.tensor("blk.4.attn_v.weight"), nullptr);
  // Norms are 1.0; rope_freqs are 1 for the rotated quarter, 1e30 after.
  const float* norm = reinterpret_cast<const float*>(f.tensor("blk.0.attn_norm.weight")->data);
  EXPECT_EQ(norm[0], 1.0f);
  const auto* rf = f.tensor("rope_freqs.weight");
  ASSERT_EQ(rf->ne[0], 32);
  EXPECT_EQ(reinterpret_cast<const float*>(rf->data)[7], 1.0f);
  EXPECT_EQ(reinterpret_cast<const float*>(rf->data)[8], 1e30f);
  expect_sane_weights(f);
}

TEST(Synth, Q4_KFallbacksAndQ8_0) {
  Written a(tmp_path("tiny_q4_k.gguf")), b(tmp_path("tiny_q8_0.gguf"));
  SynthOptions opt;
  opt.type = Type::Q4_K;
  write_synth_model(synth_preset("tiny"), opt, a.path);
  gguf::File f = gguf::File::open(a.path);
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight")->type, Type::Q4_K);       // rows of 256
  EXPECT_EQ(f.tensor("blk.0.attn_output.weight")->type, Type::Q5_0);  // rows of 128: fallback
  EXPECT_EQ(f.tensor("blk.5.attn_output.weight")->type, Type::Q4_K);  // full layer: 4 x 64 = 256
  EXPECT_EQ(f.tensor("blk.0.ffn_gate.weight")->type, Type::Q4_K);
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight")->type, Type::Q5_0);     // n_ff 128
  EXPECT_EQ(f.get_int("general.file_type"), 15);
  expect_sane_weights(f);
  opt.type = Type::Q8_0;
  write_synth_model(synth_preset("tiny"), opt, b.path);
  gguf::File g = gguf::File::open(b.path);
  EXPECT_EQ(g.tensor("token_embd.weight")->type, Type::Q8_0);
  expect_sane_weights(g);
  opt.type = Type::F16;
  EXPECT_THROW(write_synth_model(synth_preset("tiny"), opt, b.path), core::Error);
}

TEST(Synth, ELayoutAndMoeLayoutMatchTheTestModels) {
  SynthPreset e = with_layers(synth_preset("e2b"), 10);
  EXPECT_EQ(e.shared_kv, 5);  // layer 4 full, layer 3 SWA: valid reuse sources
  e.n_embd = 256;
  e.n_ff = 256;
  e.n_ff_wide = 512;
  e.n_pl = 32;
  e.d_swa = 32;
  e.d_full = 64;
  Written a(tmp_path("e.gguf"));
  SynthOptions opt;
  opt.type = Type::Q8_0;
  write_synth_model(e, opt, a.path);
  gguf::File f = gguf::File::open(a.path);
  const gguf::Value* ff = f.find("gemma4.feed_forward_length");
  ASSERT_TRUE(ff && ff->is_array());
  EXPECT_EQ(ff->int_at(4), 256);
  EXPECT_EQ(ff->int_at(5), 512);  // double-wide on the shared-KV layers
  EXPECT_EQ(f.get_int("gemma4.attention.shared_kv_layers"), 5);
  EXPECT_EQ(f.get_int("gemma4.attention.head_count_kv"), 1);  // scalar, as E2B
  EXPECT_EQ(f.tensor("per_layer_model_proj.weight")->type, Type::F16);
  EXPECT_EQ(f.tensor("per_layer_token_embd.weight")->shape_str(), "[320, 256]");
  auto eref = core::test::testdata("models/gemma4-e-F16.gguf");
  if (core::test::exists(eref)) {
    gguf::File ref = gguf::File::open(eref);
    EXPECT_EQ(layer_suffixes(f, 0), layer_suffixes(ref, 0));
    EXPECT_EQ(layer_suffixes(f, 7), layer_suffixes(ref, 3));  // shared layers keep their K/V tensors
  }
  SynthPreset m = with_layers(synth_preset("26b-a4b"), 2);
  m.n_embd = 256;
  m.n_ff = 256;
  m.n_ff_exp = 32;
  m.n_expert = 8;
  m.d_swa = 32;
  m.d_full = 64;
  Written b(tmp_path("moe.gguf"));
  opt.type = Type::Q4_0;
  write_synth_model(m, opt, b.path);
  gguf::File g = gguf::File::open(b.path);
  EXPECT_EQ(g.tensor("blk.0.ffn_gate_up_exps.weight")->shape_str(), "[256, 64, 8]");
  EXPECT_EQ(g.tensor("blk.0.ffn_gate_inp.weight")->type, Type::F32);
  EXPECT_EQ(g.tensor("blk.0.attn_k.weight")->type, Type::Q8_0);  // >= 8 experts
  auto mref = core::test::testdata("models/gemma4-moe-Q4_0.gguf");
  if (core::test::exists(mref)) {
    gguf::File ref = gguf::File::open(mref);
    EXPECT_EQ(layer_suffixes(g, 0), layer_suffixes(ref, 0));
    EXPECT_EQ(layer_suffixes(g, 1), layer_suffixes(ref, 3));  // full layer, no attn_v
  }
  expect_sane_weights(g);
}

TEST(Synth, FullVocabularyCopiedAndDeterministic) {
  const std::string vocab = default_vocab_path();
  if (!core::test::exists(vocab)) GTEST_SKIP() << "missing test file " << vocab;
  SynthPreset p = synth_preset("tiny");
  p.n_embd = 32;  // keeps token_embd (262144 rows) small: 8.9 MB of Q8_0
  p.n_head = 2;
  p.kv_swa = p.kv_full = 1;
  p.d_swa = 16;
  p.d_full = 32;
  p.n_ff = 64;
  Written a(tmp_path("v1.gguf")), b(tmp_path("v2.gguf"));
  SynthOptions opt;
  opt.vocab_path = vocab;
  opt.threads = 1;
  SynthResult r = write_synth_model(p, opt, a.path);
  EXPECT_EQ(r.n_vocab, 262144);
  gguf::File f = gguf::File::open(a.path);
  gguf::File v = gguf::File::open(vocab);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->count, 262144u);
  EXPECT_EQ(f.find("tokenizer.ggml.merges")->count, v.find("tokenizer.ggml.merges")->count);
  EXPECT_EQ(f.get_string("tokenizer.chat_template"), v.get_string("tokenizer.chat_template"));
  EXPECT_FALSE(f.has("gemma4.vocab_size"));
  EXPECT_EQ(f.tensor("token_embd.weight")->shape_str(), "[32, 262144]");
  EXPECT_EQ(f.tensor("token_embd.weight")->type, Type::Q8_0);  // Q6_K wanted, 32-wide rows
  // Same seed, other thread count: identical bytes (multi-chunk embedding table).
  opt.threads = 3;
  write_synth_model(p, opt, b.path);
  std::ifstream ia(a.path, std::ios::binary), ib(b.path, std::ios::binary);
  std::string ca((std::istreambuf_iterator<char>(ia)), {}), cb((std::istreambuf_iterator<char>(ib)), {});
  EXPECT_TRUE(ca == cb);
  opt.seed = 2;
  write_synth_model(p, opt, b.path);
  std::ifstream ic(b.path, std::ios::binary);
  std::string cc((std::istreambuf_iterator<char>(ic)), {});
  EXPECT_EQ(ca.size(), cc.size());
  EXPECT_FALSE(ca == cc);
}

TEST(Synth, MissingVocabularySaysWhatToDo) {
  SynthOptions opt;
  opt.vocab_path = "/nonexistent/vocab.gguf";
  try {
    write_synth_model(synth_preset("tiny"), opt, tmp_path("never.gguf"));
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--vocab"), std::string::npos) << e.what();
  }
  EXPECT_THROW(synth_preset("70b"), core::Error);
}

TEST(Synth, PresetParameterCountsMatchPublishedSizes) {
  auto params = [](const std::string& name) {
    double n = 0;
    for (const auto& t : synth_tensors(synth_preset(name), Type::Q4_0, 262144)) {
      double k = 1;
      for (auto d : t.ne) k *= double(d);
      n += k;
    }
    return n / 1e9;
  };
  EXPECT_NEAR(params("gemma4-1b"), 1.08, 0.05);
  EXPECT_NEAR(params("12b"), 11.9, 0.1);   // spec §11.1: 11.92 B (published 11.95 B)
  // No published totals in the specs for these; the size class must hold.
  EXPECT_NEAR(params("31b"), 31.0, 2.0);
  EXPECT_NEAR(params("26b-a4b"), 25.5, 1.5);
  EXPECT_NEAR(params("e4b"), 8.0, 1.0);
  EXPECT_NEAR(params("e2b"), 4.9, 0.5);
  // The E2B per-layer embedding table: spec gemma4-text §4, ~2.35e9 elements.
  double ple = 0;
  for (const auto& t : synth_tensors(synth_preset("e2b"), Type::Q4_0, 262144))
    if (t.name == "per_layer_token_embd.weight") ple = double(t.ne[0]) * double(t.ne[1]);
  EXPECT_NEAR(ple, 2.35e9, 0.01e9);
  // Layer counts and patterns of spec gemma4-text §9.
  EXPECT_EQ(synth_preset("e2b").n_layer, 35);
  EXPECT_TRUE(synth_preset("e2b").is_full(34));
  EXPECT_FALSE(synth_preset("e2b").is_full(33));
  EXPECT_TRUE(synth_preset("e2b").is_full(14));  // last own-KV layer (n_kv_start 15) is full
  EXPECT_TRUE(synth_preset("e4b").is_full(23));  // n_kv_start 24
  EXPECT_EQ(synth_preset("31b").n_layer, 60);
}

}  // namespace
}  // namespace fitserve::model
