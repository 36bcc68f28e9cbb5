// Speculative decoding with the Gemma 4 MTP assistant on the tiny dense test pair
// (shared/testdata/models/gemma4-dense{,-assistant}-{F16,Q8_0}.gguf): greedy and seeded
// sampling give exactly the tokens of plain generation for several n-max; the statistics add up;
// n-min / p-min limit drafting; the cache is rolled back to the emitted tokens; wrong drafters
// are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "core/error.h"
#include "core/testdata.h"
#include "engine/runner.h"
#include "engine/speculative.h"
#include "gguf/gguf.h"
#include "quant/dot.h"

using namespace fitserve;
using namespace fitserve::engine;
namespace t = fitserve::core::test;

namespace {

std::string model(const std::string& stem) { return t::testdata("models/" + stem + ".gguf"); }

#define REQUIRE_PAIR(type)                                                                              \
  do {                                                                                                  \
    if (!t::exists(model("gemma4-dense-" + std::string(type))) ||                                       \
        !t::exists(model("gemma4-dense-assistant-" + std::string(type))))                               \
      GTEST_SKIP() << "test data not found: " << model("gemma4-dense{,-assistant}-" + std::string(type)); \
  } while (0)

RunnerOptions opts(const std::string& type, int32_t n_ctx = 256) {
  RunnerOptions o;
  o.model_path = model("gemma4-dense-" + type);
  o.n_ctx = n_ctx;
  o.n_threads = 2;
  return o;
}

// The golden teacher sequence's first tokens (BOS 2 + random ids) as a prompt.
std::vector<int32_t> prompt() { return {2, 158, 97, 19, 228, 246, 124, 237, 154, 107, 83, 43}; }

sampling::SamplingParams greedy() {
  sampling::SamplingParams p;
  p.temperature = 0;
  return p;
}

std::vector<int32_t> run(Runner& r, Drafter* d, const sampling::SamplingParams& sp, int32_t n, SpecParams spec = {},
                         SpecStats* st = nullptr) {
  sampling::Sampler s(sp, r.n_vocab());
  return generate(r, d, prompt(), n, s, spec, {}, st);
}

// Plain and speculative generation must agree token for token.
void check_identical(const std::string& type, const sampling::SamplingParams& sp) {
  Runner r(opts(type));
  Drafter d(model("gemma4-dense-assistant-" + type), r);
  const int32_t n = 64;
  const auto plain = run(r, nullptr, sp, n);
  ASSERT_EQ(plain.size(), size_t(n));
  for (int32_t n_max : {1, 2, 3, 5}) {
    SpecParams spec;
    spec.n_max = n_max;
    SpecStats st;
    const auto fast = run(r, &d, sp, n, spec, &st);
    EXPECT_EQ(fast, plain) << type << " n_max " << n_max;
    std::printf("%s %s n_max %d: %s\n", type.c_str(), sp.greedy() ? "greedy" : "sampled", n_max, st.str().c_str());
    EXPECT_GT(st.drafted, 0);
    EXPECT_LE(st.accepted, st.drafted);
    EXPECT_LE(st.drafted, int64_t(n_max) * st.verif_steps);
    // Every verification emits its accepted drafts plus one token; the prompt's logits give one.
    EXPECT_LE(int64_t(fast.size()), 1 + st.accepted + st.verif_steps + (n - 1));
    ASSERT_EQ(st.accepted_at.size(), size_t(n_max));
    int64_t sum = 0;
    for (size_t i = 0; i < st.accepted_at.size(); ++i) {
      sum += st.accepted_at[i];
      if (i > 0) {
        EXPECT_LE(st.accepted_at[i], st.accepted_at[i - 1]);  // position i needs position i-1
      }
    }
    EXPECT_EQ(sum, st.accepted);
    EXPECT_NEAR(st.mean_accept_len(), 1.0 + double(st.accepted) / double(st.verif_steps), 1e-12);
    // The cache holds the prompt and every emitted token but the last (not decoded yet).
    EXPECT_EQ(r.n_past(), int32_t(prompt().size() + fast.size() - 1));
    EXPECT_EQ(r.cache().pos_max(0), r.n_past() - 1);
  }
}

TEST(Speculative, GreedyIsTokenIdenticalF16) {
  REQUIRE_PAIR("F16");
  check_identical("F16", greedy());
}
// Q8_0 weights, every ISA: a verify batch (n_max + 1 <= 6 columns) goes through the same
// kernels as a single-token decode, column for column (quant/dot.h: batches of up to 8
// activation rows are bit-identical to GEMV), so speculation changes no logit.
TEST(Speculative, GreedyIsTokenIdenticalQ8_0) {
  REQUIRE_PAIR("Q8_0");
  const quant::Isa saved = quant::active_isa();
  for (quant::Isa isa : {quant::Isa::Scalar, quant::Isa::AVX2, quant::Isa::AVX512}) {
    if (int(isa) > int(quant::best_isa())) continue;
    quant::set_isa(isa);
    SCOPED_TRACE(quant::isa_name(isa));
    check_identical("Q8_0", greedy());
  }
  quant::set_isa(saved);
}
// One sampler draw per emitted token, from the target's logits with the same history: the same
// seed gives the same tokens with or without speculation.
TEST(Speculative, SeededSamplingIsTokenIdentical) {
  REQUIRE_PAIR("F16");
  sampling::SamplingParams sp;
  sp.temperature = 0.8f;
  sp.top_k = 40;
  sp.seed = 1234;
  check_identical("F16", sp);
  sp.temperature = 1.5f;
  sp.top_k = 0;
  sp.top_p = 1.0f;
  sp.min_p = 0;
  sp.repeat_penalty = 1.3f;
  sp.seed = 7;
  check_identical("F16", sp);
}

// A drafter that proposes the plain greedy continuation (wrong on every 4th step), and records
// the h it was given at the first step of each round: exercises full and partial acceptance,
// rollback and the pending_h bookkeeping (§7: h = target hidden at pos0 − 1).
class OracleDrafter : public Drafter {
 public:
  OracleDrafter(std::vector<int32_t> ref, int32_t n_vocab, int32_t n_embd) : ref_(std::move(ref)), V(n_vocab), E(n_embd) {}
  void step(int64_t n, const int32_t* tokens, const float* h, const int32_t* pos_, const int32_t*, const kv::KvCache&,
            core::ThreadPool&, float* logits, float* h_next) override {
    ASSERT_EQ(n, 1);  // generate() drafts one sequence
    const int32_t token = tokens[0], pos = pos_[0];
    j_ = pos == last_pos_ ? j_ + 1 : 0;
    if (j_ == 0) rounds.push_back({pos, std::vector<float>(h, h + E)});
    last_pos_ = pos;
    EXPECT_EQ(token, j_ == 0 ? ref_[size_t(pos)] : last_);
    int32_t c = size_t(pos + 1 + j_) < ref_.size() ? ref_[size_t(pos + 1 + j_)] : 0;
    if (++calls_ % 4 == 0) c = (c + 1) % V;
    std::fill(logits, logits + V, 0.0f);
    logits[c] = 20.0f;
    std::fill(h_next, h_next + E, 0.0f);
    last_ = c;
  }
  std::vector<std::pair<int32_t, std::vector<float>>> rounds;

 private:
  std::vector<int32_t> ref_;
  int32_t V, E;
  int32_t last_pos_ = -1, j_ = 0, last_ = -1;
  int64_t calls_ = 0;
};

TEST(Speculative, AcceptanceRollbackAndPendingHidden) {
  REQUIRE_PAIR("F16");
  Runner r(opts("F16"));
  const int32_t n = 48;
  const auto plain = run(r, nullptr, greedy(), n);
  std::vector<int32_t> ref = prompt();
  ref.insert(ref.end(), plain.begin(), plain.end());
  for (int32_t n_max : {1, 3, 6}) {
    OracleDrafter d(ref, r.n_vocab(), r.model().info().n_embd);
    SpecParams spec;
    spec.n_max = n_max;
    SpecStats st;
    EXPECT_EQ(run(r, &d, greedy(), n, spec, &st), plain) << "n_max " << n_max;
    std::printf("oracle n_max %d: %s\n", n_max, st.str().c_str());
    EXPECT_GT(st.accepted, 0);
    EXPECT_LT(st.accepted, st.drafted);  // every 4th proposal is wrong
    EXPECT_GT(st.mean_accept_len(), 1.0);
    if (n_max > 1) {
      EXPECT_GT(st.accepted_at[1], 0);
    }
    // pending_h at each round = the target's post-norm hidden of position pos0 − 1.
    Runner fresh(opts("F16"));
    for (const auto& [pos0, h] : d.rounds) {
      std::vector<float> hid;
      fresh.reset();
      fresh.eval(std::vector<int32_t>(ref.begin(), ref.begin() + pos0), false, &hid);
      ASSERT_EQ(hid.size(), h.size());
      double se = 0, sr = 0;
      for (size_t i = 0; i < h.size(); ++i) {
        se += (double(h[i]) - hid[i]) * (double(h[i]) - hid[i]);
        sr += double(hid[i]) * hid[i];
      }
      EXPECT_LT(std::sqrt(se / sr), 1e-5) << "round at pos0 " << pos0;
    }
    EXPECT_GT(d.rounds.size(), 4u);
  }
}

TEST(Speculative, DraftLimits) {
  REQUIRE_PAIR("F16");
  Runner r(opts("F16"));
  Drafter d(model("gemma4-dense-assistant-F16"), r);
  const auto plain = run(r, nullptr, greedy(), 40);
  SpecStats none, all, some;
  SpecParams spec;
  spec.n_max = 3;
  spec.n_min = 4;  // no draft can reach 4 tokens
  EXPECT_EQ(run(r, &d, greedy(), 40, spec, &none), plain);
  EXPECT_EQ(none.drafted, 0);
  EXPECT_EQ(none.verif_steps, 0);
  spec.n_min = 0;
  EXPECT_EQ(run(r, &d, greedy(), 40, spec, &all), plain);
  spec.p_min = 0.9f;  // only confident candidates
  EXPECT_EQ(run(r, &d, greedy(), 40, spec, &some), plain);
  EXPECT_LT(some.drafted, all.drafted);
  EXPECT_GE(some.acceptance(), all.acceptance());
  spec.p_min = 1.5f;
  EXPECT_THROW(run(r, &d, greedy(), 4, spec), core::Error);
}

// Stopping early (on_token returns false; n_predict reached inside an accepted run; the context
// filling up) leaves the cache holding exactly the emitted tokens but the last.
TEST(Speculative, StopsAndContextEnd) {
  REQUIRE_PAIR("F16");
  Runner r(opts("F16", 32));
  Drafter d(model("gemma4-dense-assistant-F16"), r);
  sampling::Sampler s(greedy(), r.n_vocab());
  SpecParams spec;
  spec.n_max = 5;
  int seen = 0;
  auto out = generate(r, &d, prompt(), 100, s, spec, [&](int32_t) { return ++seen < 7; });
  EXPECT_EQ(out.size(), 7u);
  EXPECT_EQ(r.n_past(), int32_t(prompt().size() + out.size() - 1));
  for (int32_t n : {1, 2, 9, 10}) {
    s.reset();
    out = generate(r, &d, prompt(), n, s, spec);
    EXPECT_EQ(out.size(), size_t(n));
    EXPECT_EQ(r.n_past(), int32_t(prompt().size()) + n - 1);
  }
  s.reset();
  out = generate(r, &d, prompt(), -1, s, spec);  // until the 32-token context is full
  EXPECT_EQ(prompt().size() + out.size(), 33u);
  s.reset();
  sampling::Sampler s2(greedy(), r.n_vocab());
  EXPECT_EQ(out, generate(r, nullptr, prompt(), -1, s2, spec));
}

std::string write_wrong_assistant() {
  auto f = gguf::File::open(model("gemma4-dense-assistant-F16"));
  gguf::Writer w;
  for (const auto& kv : f.metadata())
    if (kv.key != "general.alignment") w.set_value(kv.key, kv.value);
  w.set_u32("gemma4-assistant.embedding_length_out", 512);
  for (const auto& ti : f.tensors()) w.add_tensor(ti.name, ti.type, std::vector<int64_t>(ti.ne, ti.ne + std::max(1, ti.n_dims)), ti.data, ti.nbytes);
  const std::string path = (std::filesystem::temp_directory_path() / ("fitserve_spec_wrong_" + std::to_string(::getpid()) + ".gguf")).string();
  w.write_file(path);
  return path;
}

std::string error_of(const std::string& path, const Runner& r) {
  try {
    Drafter d(path, r);
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), "model");
    return e.what();
  }
  return "(loaded)";
}

TEST(Speculative, WrongDraftersAreRefused) {
  REQUIRE_PAIR("F16");
  Runner r(opts("F16"));
  const std::string wrong = write_wrong_assistant();
  EXPECT_NE(error_of(wrong, r).find("n_embd=512"), std::string::npos) << error_of(wrong, r);
  std::filesystem::remove(wrong);
  EXPECT_NE(error_of(model("gemma4-dense-Q8_0"), r).find("cannot be used as a drafter"), std::string::npos);
  // An assistant of another target: the E-series test model has the same width but reads
  // single-KV-head caches.
  const std::string e = model("gemma4-e-F16");
  if (t::exists(e)) {
    RunnerOptions oe = opts("F16");
    oe.model_path = e;
    Runner rE(oe);
    const std::string msg = error_of(model("gemma4-dense-assistant-F16"), rE);
    EXPECT_NE(msg.find("KV heads"), std::string::npos) << msg;
  }
}

}  // namespace
