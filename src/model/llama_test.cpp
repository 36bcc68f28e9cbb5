// Golden tests of the llama forward pass on stories260K (a real trained model, F32) against the
// reference implementation's teacher-forced log-probs and greedy continuations.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/testdata.h"
#include "engine/runner.h"
#include "gguf/gguf.h"
#include "quant/quant.h"
#include "sampling/sampler.h"

using namespace fitserve;
namespace t = fitserve::core::test;

namespace {

nlohmann::json load_json(const std::string& p) {
  std::ifstream f(p);
  if (!f) throw std::runtime_error("cannot open " + p);
  return nlohmann::json::parse(f);
}

struct Stats {
  double mean = 0, max = 0;
  double top1_agree = 0;
};

// |Δ logprob| of the golden top-1 at every position, and top-1 agreement.
Stats compare_teacher(engine::Runner& r, const nlohmann::json& g) {
  std::vector<int32_t> toks = g["tokens"].get<std::vector<int32_t>>();
  r.reset();
  auto logits = r.eval(toks, true);
  const int nv = r.n_vocab();
  Stats s;
  int n = 0, agree = 0;
  for (auto& p : g["positions"]) {
    int pos = p["pos"];
    float lse;
    auto top = sampling::log_softmax_top(logits.data() + size_t(pos) * nv, nv, 1, &lse);
    int gid = p["top"][0][0];
    double glp = p["top"][0][1];
    double ours = logits[size_t(pos) * nv + gid] - lse;
    double d = std::fabs(ours - glp);
    s.mean += d;
    s.max = std::max(s.max, d);
    // Near-tie rule (testdata README): a different top-1 is accepted only where the golden's
    // own top-2 gap is below 5e-3 and ours is the golden's second choice.
    bool tie = p["top"].size() > 1 && double(p["top"][0][1]) - double(p["top"][1][1]) < 5e-3 && top[0].first == int(p["top"][1][0]);
    agree += top[0].first == gid || tie;
    ++n;
  }
  s.mean /= n;
  s.top1_agree = double(agree) / n;
  return s;
}

std::vector<int32_t> greedy(engine::Runner& r, std::vector<int32_t> prompt, int n) {
  r.reset();
  std::vector<int32_t> out;
  auto logits = r.eval(prompt, false);
  for (int i = 0; i < n; ++i) {
    int32_t id = sampling::argmax(logits.data(), r.n_vocab());
    out.push_back(id);
    logits = r.eval({id}, false);
  }
  return out;
}

engine::RunnerOptions opts(const std::string& path, const std::string& kv = "f16") {
  engine::RunnerOptions o;
  o.model_path = path;
  o.n_ctx = 320;
  o.n_threads = 2;
  o.type_k = o.type_v = kv;
  return o;
}

const char* kGolden[] = {"stories260K.once.json", "stories260K.park.json"};

}  // namespace

TEST(Llama, TeacherForcedMatchesReference) {
  engine::Runner r(opts(t::repo_data("stories260K.gguf")));
  for (auto name : kGolden) {
    auto g = load_json(t::repo_data(name));
    Stats s = compare_teacher(r, g);
    // Measured: max 0.0031 / mean 0.0006 (park), within 2e-3 (once). The goldens carry the
    // reference's f16 rounding: an exact float64 re-implementation (scripts/stories260k_f64.py)
    // is 0.0037 / 0.0026 away from them, and an f16 KV cache alone moves the top-1 log-prob by
    // up to 0.0041, so the bound is 5e-3 (max) and 1e-3 (mean).
    EXPECT_EQ(s.top1_agree, 1.0) << name;
    EXPECT_LE(s.max, 5e-3) << name << " mean " << s.mean;
    EXPECT_LE(s.mean, 1e-3) << name;
  }
}

TEST(Llama, GreedyContinuationIsExact) {
  engine::Runner r(opts(t::repo_data("stories260K.gguf")));
  for (auto name : kGolden) {
    auto g = load_json(t::repo_data(name));
    auto toks = g["tokens"].get<std::vector<int32_t>>();
    int np = g["n_prompt"];
    std::vector<int32_t> prompt(toks.begin(), toks.begin() + np);
    auto gen = greedy(r, prompt, int(toks.size()) - np);
    ASSERT_TRUE(r.tokenizer());
    // Positions past the first near-tie (park.json, pos 80: gap 0.0012) may diverge.
    size_t n_cmp = gen.size();
    for (size_t i = 0; i < gen.size(); ++i) {
      auto& top = g["positions"][np - 1 + i]["top"];
      if (double(top[0][1]) - double(top[1][1]) < 5e-3) { n_cmp = i; break; }
    }
    EXPECT_GE(n_cmp, 40u) << name;
    EXPECT_EQ(std::vector<int32_t>(gen.begin(), gen.begin() + n_cmp), std::vector<int32_t>(toks.begin() + np, toks.begin() + np + n_cmp)) << name;
    if (n_cmp == gen.size()) {
      // The continuation text: the prompt's pieces + the generated ones, minus the prompt's text.
      std::vector<int32_t> all = prompt;
      all.insert(all.end(), gen.begin(), gen.end());
      std::string full = r.tokenizer()->detokenize(all, false), pre = r.tokenizer()->detokenize(prompt, false);
      EXPECT_EQ(full.substr(pre.size()), g["continuation_text"].get<std::string>()) << name;
    }
  }
  // The 256-step greedy file from [BOS].
  auto g = load_json(t::repo_data("stories260K.greedy.json"));
  auto want = g["greedy_ids"].get<std::vector<int32_t>>();
  auto gen = greedy(r, {1}, int(want.size()));
  EXPECT_EQ(gen, want);
}

TEST(Llama, BatchSplitGivesSameLogits) {
  auto g = load_json(t::repo_data("stories260K.park.json"));
  auto toks = g["tokens"].get<std::vector<int32_t>>();
  engine::Runner one(opts(t::repo_data("stories260K.gguf")));
  auto a = one.eval(toks, true);
  auto o = opts(t::repo_data("stories260K.gguf"));
  o.n_ubatch = 7;
  engine::Runner split(o);
  auto b = split.eval(toks, true);
  ASSERT_EQ(a.size(), b.size());
  double md = 0;
  for (size_t i = 0; i < a.size(); ++i) md = std::max(md, double(std::fabs(a[i] - b[i])));
  EXPECT_LE(md, 1e-3);
}

TEST(Llama, QuantizedKvCacheStaysClose) {
  // Stated tolerances on |Δ| of the golden top-1 log-prob. bf16 K/V: mean <= 0.01, max <= 0.05,
  // top-1 >= 97%. q8_0 K/V (8-wide heads, each row one zero-padded block): mean <= 0.04,
  // max <= 0.25, top-1 >= 95% (measured 0.011 / 0.08 and 0.024 / 0.13, 96.4%).
  struct Tol { const char* kv; double mean, max, agree; };
  for (Tol tol : {Tol{"q8_0", 0.04, 0.25, 0.95}, Tol{"bf16", 0.01, 0.05, 0.97}}) {
    const char* kv = tol.kv;
    engine::Runner r(opts(t::repo_data("stories260K.gguf"), kv));
    for (auto name : kGolden) {
      Stats s = compare_teacher(r, load_json(t::repo_data(name)));
      EXPECT_GE(s.top1_agree, tol.agree) << kv << " " << name;
      EXPECT_LE(s.mean, tol.mean) << kv << " " << name;
      EXPECT_LE(s.max, tol.max) << kv << " " << name;
    }
    auto g = load_json(t::repo_data("stories260K.once.json"));
    auto toks = g["tokens"].get<std::vector<int32_t>>();
    int np = g["n_prompt"];
    auto gen = greedy(r, std::vector<int32_t>(toks.begin(), toks.begin() + np), 20);
    EXPECT_EQ(gen, std::vector<int32_t>(toks.begin() + np, toks.begin() + np + 20)) << kv;
  }
}

// Requantizes stories260K's matrices with our writer + reference quantizers and checks the copy
// still follows the reference closely (the 172-wide ffn_down rows stay F16: not a block multiple).
TEST(Llama, RequantizedCopiesRunAndStayClose) {
  auto src = gguf::File::open(t::repo_data("stories260K.gguf"));
  struct Case { quant::Type type; double max_mean; double min_agree; };
  for (Case c : {Case{quant::Type::Q8_0, 0.02, 0.95}, Case{quant::Type::Q4_0, 0.35, 0.70}}) {
    gguf::Writer w;
    for (auto& kv : src.metadata()) w.set_value(kv.key, kv.value);
    for (auto& ti : src.tensors()) {
      std::vector<int64_t> ne(ti.ne, ti.ne + std::max(ti.n_dims, 1));
      quant::Type dst = ti.type;
      if (ti.n_dims >= 2) dst = ti.ne[0] % 32 == 0 ? c.type : quant::Type::F16;
      std::vector<uint8_t> out(quant::row_bytes(dst, ti.ne[0]) * size_t(ti.n_rows()));
      std::vector<float> row(size_t(ti.ne[0]));
      for (int64_t rr = 0; rr < ti.n_rows(); ++rr) {
        quant::dequantize_row(ti.type, ti.data + rr * ti.row_bytes(), row.data(), ti.ne[0]);
        quant::quantize_row(dst, row.data(), out.data() + rr * quant::row_bytes(dst, ti.ne[0]), ti.ne[0]);
      }
      w.add_tensor(ti.name, dst, ne, out.data(), out.size());
    }
    std::string path = ::testing::TempDir() + "/stories260K-" + quant::type_name(c.type) + ".gguf";
    w.write_file(path);
    engine::Runner r(opts(path));
    for (auto name : kGolden) {
      Stats s = compare_teacher(r, load_json(t::repo_data(name)));
      EXPECT_LE(s.mean, c.max_mean) << quant::type_name(c.type) << " " << name;
      EXPECT_GE(s.top1_agree, c.min_agree) << quant::type_name(c.type) << " " << name;
    }
    std::remove(path.c_str());
  }
}

TEST(Llama, BadInputsAreClearErrors) {
  auto o = opts(t::repo_data("stories260K.gguf"));
  o.n_ctx = 16;
  engine::Runner r(o);
  std::vector<int32_t> many(20, 5);
  EXPECT_THROW(r.eval(many, false), core::Error);
  auto bad = opts(t::repo_data("stories260K.gguf"), "q3_k");
  EXPECT_THROW(engine::Runner{bad}, core::Error);
  auto missing = opts("/nonexistent.gguf");
  EXPECT_THROW(engine::Runner{missing}, core::Error);
  // An architecture we do not support.
  auto src = gguf::File::open(t::repo_data("stories260K.gguf"));
  gguf::Writer w;
  for (auto& kv : src.metadata()) w.set_value(kv.key, kv.value);
  w.set_string("general.architecture", "mamba");
  std::string path = ::testing::TempDir() + "/arch.gguf";
  w.write_file(path);
  try {
    engine::Runner x(opts(path));
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported model architecture 'mamba'"), std::string::npos) << e.what();
  }
}
