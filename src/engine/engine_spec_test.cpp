// Speculative decoding in the scheduler (Engine with an MTP assistant, spec gemma4-mtp.md §8) on
// the tiny dense F16 pair (shared/testdata/models/gemma4-dense{,-assistant}-F16.gguf; F16 is
// batch-invariant, so exact identity holds). The target has no vocabulary, and the Engine needs
// one: the tests serve copies with a synthetic 256-token vocabulary (engine/vocab_testing.h).
// With -np 1 and -np 3 concurrent requests: greedy and seeded sampling give the tokens of plain
// serving; stop strings, n_predict, cancellation and the context end behave the same; draft
// counters add up; an oracle drafter exercises acceptance, rollback and pending_h per slot.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/testdata.h"
#include "engine/engine.h"
#include "engine/runner.h"
#include "engine/speculative.h"
#include "engine/vocab_testing.h"

using namespace fitserve;
using namespace fitserve::engine;
namespace t = fitserve::core::test;

namespace {

std::string model(const std::string& stem) { return t::testdata("models/" + stem + ".gguf"); }

// The F16 target and assistant with a vocabulary (written once per process; the plan checks
// that both carry the same one).
std::string g_target, g_assistant;

using fitserve::engine::testing::write_with_vocab;

class EngineSpec : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (t::exists(model("gemma4-dense-F16")) && t::exists(model("gemma4-dense-assistant-F16"))) {
      g_target = write_with_vocab(model("gemma4-dense-F16"));
      g_assistant = write_with_vocab(model("gemma4-dense-assistant-F16"));
    }
  }
  static void TearDownTestSuite() {
    for (std::string* p : {&g_target, &g_assistant}) {
      if (!p->empty()) std::filesystem::remove(*p);
      p->clear();
    }
  }
  void SetUp() override {
    if (g_target.empty()) GTEST_SKIP() << "test data not found: " << model("gemma4-dense{,-assistant}-F16");
  }
};

EngineOptions options(int32_t np, bool draft, int32_t n_ctx_slot = 256, int32_t n_max = 3) {
  EngineOptions o;
  o.model_path = g_target;
  o.n_ctx = n_ctx_slot * np;
  o.n_parallel = np;
  o.n_threads = 2;
  if (draft) o.draft_path = g_assistant;
  o.spec.n_max = n_max;
  return o;
}

// Three different prompts (BOS + ids).
std::vector<int32_t> prompt(int i) {
  static const std::vector<std::vector<int32_t>> p = {
      {2, 158, 97, 19, 228, 246, 124, 237, 154, 107, 83, 43},
      {2, 11, 200, 31, 77, 5, 190},
      {2, 42, 42, 180, 66, 129, 250, 9, 14, 88, 201, 17, 99, 140, 33},
  };
  return p[static_cast<size_t>(i) % p.size()];
}

Request request(int i, const sampling::SamplingParams& sp, int32_t n_predict) {
  Request r;
  r.prompt = prompt(i);
  r.sampling = sp;
  r.n_predict = n_predict;
  r.ignore_eos = true;
  return r;
}

sampling::SamplingParams greedy() {
  sampling::SamplingParams p;
  p.temperature = 0;
  return p;
}

// Submits every request at once (they run concurrently on -np slots) and waits for all.
std::vector<Result> run_all(Engine& e, std::vector<Request> reqs,
                            const std::function<bool(size_t, const TokenEvent&)>& on_token = {}) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Result> out(reqs.size());
  size_t done = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    std::function<bool(const TokenEvent&)> tok;
    if (on_token) tok = [i, &on_token](const TokenEvent& ev) { return on_token(i, ev); };
    e.submit(std::move(reqs[i]), tok, [&, i](const Result& r) {
      std::lock_guard<std::mutex> lk(mu);
      out[i] = r;
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lk(mu);
  cv.wait(lk, [&] { return done == out.size(); });
  return out;
}

void expect_same(const std::vector<Result>& plain, const std::vector<Result>& fast, const std::string& what) {
  ASSERT_EQ(plain.size(), fast.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    SCOPED_TRACE(what + ", request " + std::to_string(i));
    EXPECT_EQ(fast[i].tokens, plain[i].tokens);
    EXPECT_EQ(fast[i].text, plain[i].text);
    EXPECT_EQ(fast[i].finish_reason, plain[i].finish_reason);
    EXPECT_EQ(fast[i].stop_word, plain[i].stop_word);
    EXPECT_EQ(plain[i].timings.draft_n, 0);
    EXPECT_LE(fast[i].timings.draft_accepted_n, fast[i].timings.draft_n);
  }
}

int64_t drafted(const std::vector<Result>& rs) {
  int64_t n = 0;
  for (const auto& r : rs) n += r.timings.draft_n;
  return n;
}

// Same tokens with and without the drafter, for -np 1 (requests one after another on one slot)
// and -np 3 (all three in the same batches); counters in Result, /metrics and /slots agree.
void check_identical(const sampling::SamplingParams& sp) {
  for (int32_t np : {1, 3}) {
    SCOPED_TRACE("np " + std::to_string(np));
    std::vector<Request> reqs;
    for (int i = 0; i < 3; ++i) reqs.push_back(request(i, sp, 40));
    auto plain_e = Engine::create(options(np, false));
    auto fast_e = Engine::create(options(np, true));
    const auto plain = run_all(*plain_e, reqs);
    const auto fast = run_all(*fast_e, reqs);
    expect_same(plain, fast, sp.greedy() ? "greedy" : "sampled");
    for (const auto& r : plain) EXPECT_EQ(r.tokens.size(), 40u);
    const int64_t n = drafted(fast);
    EXPECT_GT(n, 0);
    const Metrics m = fast_e->metrics();
    EXPECT_EQ(int64_t(m.spec_draft_tokens_total), n);
    int64_t acc = 0;
    for (const auto& r : fast) acc += r.timings.draft_accepted_n;
    EXPECT_EQ(int64_t(m.spec_accepted_tokens_total), acc);
    EXPECT_GT(m.spec_drafts_total, 0u);
    EXPECT_LE(m.spec_draft_tokens_total, 3 * m.spec_drafts_total);  // n-max 3
    EXPECT_EQ(plain_e->metrics().spec_drafts_total, 0u);
    std::printf("np %d %s: drafted %lld, accepted %lld in %llu verifications\n", np, sp.greedy() ? "greedy" : "sampled",
                static_cast<long long>(n), static_cast<long long>(acc), static_cast<unsigned long long>(m.spec_drafts_total));
    auto slots = fast_e->slots();
    ASSERT_FALSE(slots.empty());
    EXPECT_TRUE(slots[0].speculative);
    EXPECT_FALSE(plain_e->slots()[0].speculative);
  }
}

TEST_F(EngineSpec, GreedyIsTokenIdentical) { check_identical(greedy()); }

// One sampler draw per emitted token: the same seed gives the same tokens.
TEST_F(EngineSpec, SeededSamplingIsTokenIdentical) {
  sampling::SamplingParams sp;
  sp.temperature = 0.9f;
  sp.top_k = 40;
  sp.seed = 1234;
  check_identical(sp);
  sp.temperature = 1.5f;
  sp.top_k = 0;
  sp.top_p = 1.0f;
  sp.min_p = 0;
  sp.repeat_penalty = 1.3f;
  sp.seed = 7;
  check_identical(sp);
}

// n_predict, stop strings, EOG, cancellation and the context end end a request at the same token
// as without speculation, and leave the slot's cache consistent: a follow-up request that reuses
// the cached prefix continues exactly like plain serving.
TEST_F(EngineSpec, StopsBehaveAsWithoutSpeculation) {
  for (int32_t np : {1, 3}) {
    SCOPED_TRACE("np " + std::to_string(np));
    auto plain_e = Engine::create(options(np, false, 64));
    auto fast_e = Engine::create(options(np, true, 64, 5));
    // cancel_after > 0: on_token returns false at that token of each request.
    auto both = [&](const std::vector<Request>& reqs, const std::string& what, int cancel_after = 0) {
      std::vector<Result> r[2];
      for (int k = 0; k < 2; ++k) {
        std::vector<int> seen(reqs.size(), 0);
        std::function<bool(size_t, const TokenEvent&)> on_token;
        if (cancel_after > 0) on_token = [&](size_t i, const TokenEvent&) { return ++seen[i] < cancel_after; };
        r[k] = run_all(k == 0 ? *plain_e : *fast_e, reqs, on_token);
      }
      expect_same(r[0], r[1], what);
      return r[0];
    };
    // n_predict: inside a draft round and at its edges.
    for (int32_t n : {1, 2, 3, 5, 6, 9}) {
      std::vector<Request> reqs;
      for (int i = 0; i < 3; ++i) reqs.push_back(request(i, greedy(), n));
      for (const auto& r : both(reqs, "n_predict " + std::to_string(n))) {
        EXPECT_EQ(r.tokens.size(), size_t(n));
        EXPECT_EQ(r.finish_reason, "length");
      }
    }
    // The context end (64 per slot): generation until it is full.
    {
      std::vector<Request> reqs;
      for (int i = 0; i < 3; ++i) reqs.push_back(request(i, greedy(), -1));
      for (const auto& r : both(reqs, "context end")) EXPECT_EQ(r.finish_reason, "length");
    }
    // Stop strings: the piece of a token in the middle of the plain output.
    std::vector<Request> reqs;
    std::vector<Result> ref;
    for (int i = 0; i < 3; ++i) reqs.push_back(request(i, greedy(), 30));
    ref = run_all(*plain_e, reqs);
    for (int i = 0; i < 3; ++i) {
      const auto& toks = ref[size_t(i)].tokens;
      size_t j = 5;
      while (j < toks.size() && std::find(toks.begin(), toks.begin() + long(j), toks[j]) != toks.begin() + long(j)) ++j;
      ASSERT_LT(j, toks.size());
      reqs[size_t(i)].stop = {"[" + std::to_string(toks[j]) + "]", "never"};
    }
    auto stopped = both(reqs, "stop strings");
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(stopped[i].finish_reason, "stop");
      EXPECT_LT(stopped[i].tokens.size(), 30u);
    }
    // EOG: without ignore_eos the random model may stop at <eos> (token 1); same either way.
    for (auto& r : reqs) {
      r.stop.clear();
      r.ignore_eos = false;
    }
    both(reqs, "eog");
    // Cancellation from on_token after 4 tokens.
    for (auto& r : reqs) {
      r.n_predict = 30;
      r.ignore_eos = true;
    }
    for (const auto& r : both(reqs, "cancel", 4)) {
      EXPECT_EQ(r.finish_reason, "cancelled");
      EXPECT_EQ(r.tokens.size(), 4u);
    }
    // Follow-ups on the cached prefixes (prompt + what was generated).
    std::vector<Request> next;
    for (int i = 0; i < 3; ++i) {
      Request r = request(i, greedy(), 12);
      r.prompt.insert(r.prompt.end(), ref[size_t(i)].tokens.begin(), ref[size_t(i)].tokens.begin() + 10);
      next.push_back(r);
    }
    for (const auto& r : both(next, "follow-up")) EXPECT_GT(r.timings.cache_n, 0);
  }
}

// A drafter that proposes each slot's plain greedy continuation (wrong on every 4th row) and
// records the h it gets at the first step of each round: full and partial acceptance, rollback
// and pending_h per slot (§7: h = the target's post-norm hidden of position pos0 − 1).
class OracleDrafter : public Drafter {
 public:
  OracleDrafter(std::map<int32_t, std::vector<int32_t>> refs, int32_t n_vocab, int32_t n_embd)
      : refs_(std::move(refs)), V(n_vocab), E(n_embd) {}
  void step(int64_t n, const int32_t* tokens, const float* h, const int32_t* pos, const int32_t* seq, const kv::KvCache&,
            core::ThreadPool&, float* logits, float* h_next) override {
    std::lock_guard<std::mutex> lk(mu);
    rows_per_call.push_back(n);
    for (int64_t r = 0; r < n; ++r) {
      State& s = state_[seq[r]];
      const std::vector<int32_t>& ref = refs_.at(seq[r]);
      s.j = pos[r] == s.last_pos ? s.j + 1 : 0;
      if (s.j == 0) rounds.push_back({seq[r], pos[r], std::vector<float>(h + r * E, h + (r + 1) * E)});
      s.last_pos = pos[r];
      EXPECT_EQ(tokens[r], s.j == 0 ? ref[size_t(pos[r])] : s.last) << "seq " << seq[r] << " pos " << pos[r];
      int32_t c = size_t(pos[r] + 1 + s.j) < ref.size() ? ref[size_t(pos[r] + 1 + s.j)] : 4;
      if (++calls_ % 4 == 0) c = (c + 1) % V;
      std::fill(logits + r * V, logits + (r + 1) * V, 0.0f);
      logits[r * V + c] = 20.0f;
      std::fill(h_next + r * E, h_next + (r + 1) * E, 0.0f);
      s.last = c;
    }
  }
  struct Round {
    int32_t seq, pos0;
    std::vector<float> h;
  };
  std::mutex mu;
  std::vector<Round> rounds;
  std::vector<int64_t> rows_per_call;

 private:
  struct State {
    int32_t last_pos = -1, j = 0, last = -1;
  };
  std::map<int32_t, std::vector<int32_t>> refs_;
  std::map<int32_t, State> state_;
  int32_t V, E;
  int64_t calls_ = 0;
};

TEST_F(EngineSpec, OracleAcceptanceRollbackAndPendingHidden) {
  const int32_t np = 3, n = 40;
  std::vector<Request> reqs;
  for (int i = 0; i < np; ++i) {
    reqs.push_back(request(i, greedy(), n));
    reqs.back().slot_id = i;  // slot i = sequence i: the oracle knows whose continuation to give
  }
  auto plain_e = Engine::create(options(np, false));
  const auto plain = run_all(*plain_e, reqs);
  std::map<int32_t, std::vector<int32_t>> refs;
  for (int i = 0; i < np; ++i) {
    refs[i] = prompt(i);
    refs[i].insert(refs[i].end(), plain[size_t(i)].tokens.begin(), plain[size_t(i)].tokens.end());
  }
  for (int32_t n_max : {1, 3, 6}) {
    SCOPED_TRACE("n_max " + std::to_string(n_max));
    OracleDrafter* oracle = nullptr;
    EngineOptions o = options(np, false, 256, n_max);
    o.make_drafter = [&](const model::Model& m) {
      auto d = std::make_unique<OracleDrafter>(refs, m.info().n_vocab, m.info().n_embd);
      oracle = d.get();
      return std::unique_ptr<Drafter>(std::move(d));
    };
    auto fast_e = Engine::create(o);
    const auto fast = run_all(*fast_e, reqs);
    expect_same(plain, fast, "oracle");
    const Metrics m = fast_e->metrics();
    std::printf("oracle n_max %d: drafted %llu, accepted %llu in %llu verifications\n", n_max,
                static_cast<unsigned long long>(m.spec_draft_tokens_total),
                static_cast<unsigned long long>(m.spec_accepted_tokens_total),
                static_cast<unsigned long long>(m.spec_drafts_total));
    EXPECT_GT(m.spec_accepted_tokens_total, 0u);
    EXPECT_LT(m.spec_accepted_tokens_total, m.spec_draft_tokens_total);  // every 4th proposal is wrong
    // Accepted drafts save target steps: fewer verifications than tokens.
    EXPECT_LT(m.spec_drafts_total, uint64_t(np * (n - 1)));
    for (const auto& r : fast) EXPECT_GT(r.timings.draft_accepted_n, 0);
    // Stops inside a run of accepted drafts: a stop string, a small n_predict, a cancellation.
    std::vector<Request> stops = reqs;
    for (int i = 0; i < np; ++i) {
      const auto& toks = plain[size_t(i)].tokens;
      size_t j = 10 + size_t(i);
      while (j < toks.size() && std::find(toks.begin(), toks.begin() + long(j), toks[j]) != toks.begin() + long(j)) ++j;
      ASSERT_LT(j, toks.size());
      stops[size_t(i)].stop = {"[" + std::to_string(toks[j]) + "]"};
    }
    expect_same(run_all(*plain_e, stops), run_all(*fast_e, stops), "oracle stop strings");
    for (auto& r : stops) {
      r.stop.clear();
      r.n_predict = 7;
    }
    expect_same(run_all(*plain_e, stops), run_all(*fast_e, stops), "oracle n_predict 7");
    for (auto& r : stops) r.n_predict = 30;
    std::vector<int> seen(stops.size(), 0);
    auto cancel = [&](size_t i, const TokenEvent&) { return ++seen[i] < 9; };
    const auto pc = run_all(*plain_e, stops, cancel);
    seen.assign(stops.size(), 0);
    expect_same(pc, run_all(*fast_e, stops, cancel), "oracle cancel");
    ASSERT_NE(oracle, nullptr);
    fast_e->shutdown();
    // The slots drafted together: some assistant calls carried rows of several slots.
    EXPECT_GT(*std::max_element(oracle->rows_per_call.begin(), oracle->rows_per_call.end()), 1);
    // pending_h at each round = the target's hidden of pos0 − 1, computed alone.
    RunnerOptions ro;
    ro.model_path = model("gemma4-dense-F16");
    ro.n_ctx = 256;
    ro.n_threads = 2;
    Runner fresh(ro);
    ASSERT_GT(oracle->rounds.size(), size_t(3 * np));
    for (const auto& rd : oracle->rounds) {
      std::vector<float> hid;
      fresh.reset();
      const auto& ref = refs[rd.seq];
      fresh.eval(std::vector<int32_t>(ref.begin(), ref.begin() + rd.pos0), false, &hid);
      ASSERT_EQ(hid.size(), rd.h.size());
      double se = 0, sr = 0;
      for (size_t i = 0; i < hid.size(); ++i) {
        se += (double(rd.h[i]) - hid[i]) * (double(rd.h[i]) - hid[i]);
        sr += double(hid[i]) * hid[i];
      }
      EXPECT_LT(std::sqrt(se / sr), 1e-5) << "seq " << rd.seq << " pos0 " << rd.pos0;
    }
  }
}

// A drafter that does not fit the target is refused when the engine starts.
TEST_F(EngineSpec, WrongDrafterIsRefused) {
  EngineOptions o = options(1, false);
  o.draft_path = g_target;  // a text model, not an assistant
  try {
    Engine::create(o);
    FAIL() << "loaded";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), "model");
    EXPECT_NE(std::string(e.what()).find("cannot be used as a drafter"), std::string::npos) << e.what();
  }
  o.draft_path = g_assistant;
  o.spec.p_min = 2.0f;
  EXPECT_THROW(Engine::create(o), core::Error);
}

}  // namespace
