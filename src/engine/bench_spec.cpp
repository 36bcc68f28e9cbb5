// engine/bench_spec.cpp — `fitserve bench -md`: generation speed with and without the MTP drafter.
// Method: speculation needs tokens the target itself would generate (random tokens, as in the
// plain tg test, would reject every draft), so the first tg N test is repeated as greedy
// generation from a prompt — the prompt is a fixed English sentence when the model has a
// tokenizer, else BOS + 15 seeded random ids — once with one target decode per token
// ("tgN/greedy") and once with drafting + batch verification ("tgN/draft-mtp"). Both time only
// the N generated tokens (the prompt is evaluated before the clock starts), after one warmup
// each, -r repetitions with the cache cleared. Greedy output is the same with and without the
// drafter, so both variants do the same work; acceptance statistics are summed over repetitions.
#include <chrono>
#include <cstdio>
#include <random>

#include "core/error.h"
#include "engine/bench.h"
#include "engine/runner.h"
#include "engine/speculative.h"
#include "sampling/sampler.h"

namespace fitserve::engine {

namespace {

const char* kPromptText =
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined "
    "movable metal type, oil-based ink and a wooden screw press into a system";

std::vector<int32_t> bench_prompt(const Runner& runner, uint32_t seed) {
  if (const tokenizer::Tokenizer* tok = runner.tokenizer()) {
    auto p = tok->tokenize(kPromptText, tok->add_bos(), false);
    if (!p.empty()) return p;
  }
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, runner.n_vocab() - 1);
  std::vector<int32_t> p(16);
  for (auto& x : p) x = pick(rng);
  const tokenizer::Tokenizer* tok = runner.tokenizer();
  p[0] = tok && tok->bos() >= 0 ? tok->bos() : 2;  // BOS (id 2 by convention for vocab-less files)
  if (p[0] >= runner.n_vocab()) p[0] = 0;
  return p;
}

}  // namespace

void run_spec_tests(Runner& runner, const BenchConfig& cfg, ModelResult& r, const Progress& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  const TestResult* tg = r.find(true);
  if (!tg) return;  // no tg test: nothing to speculate on
  const int32_t n_gen = tg->test.n_gen;
  const std::string time = tg->time;  // (r.tests grows below)
  SpecParams sp;
  sp.n_max = cfg.draft_n_max;
  sp.n_min = cfg.draft_n_min;
  sp.p_min = cfg.draft_p_min;
  Drafter drafter(cfg.draft_path, runner);
  const std::vector<int32_t> prompt = bench_prompt(runner, cfg.seed);
  if (int64_t(prompt.size()) + n_gen + sp.n_max + 1 > runner.n_ctx())
    throw core::Error("usage", "bench: the speculative tg test needs " + std::to_string(prompt.size() + n_gen + sp.n_max + 1) +
                                   " cells, the context has " + std::to_string(runner.n_ctx()));
  sampling::SamplingParams greedy;
  greedy.temperature = 0;

  SpecBench sb;
  sb.n_gen = n_gen;
  sb.n_prompt = int32_t(prompt.size());
  sb.n_max = sp.n_max;
  sb.n_min = sp.n_min;
  sb.p_min = sp.p_min;
  SpecStats total;
  std::vector<int32_t> ref;
  for (Drafter* d : {static_cast<Drafter*>(nullptr), &drafter}) {
    TestResult tr;
    tr.test = TestSpec{0, n_gen, d ? "draft-mtp" : "greedy"};
    tr.time = time;
    auto once = [&](int32_t n, SpecStats* st) {
      sampling::Sampler s(greedy, runner.n_vocab());
      GenTimings tm;
      auto out = generate(runner, d, prompt, n, s, sp, {}, st, &tm);
      return std::make_pair(out, tm);
    };
    if (cfg.warmup) once(std::min(n_gen, 8), nullptr);
    for (int rep = 0; rep < cfg.reps; ++rep) {
      SpecStats st;
      auto [out, tm] = once(n_gen, &st);
      if (!d) ref = out;
      else if (out != ref) say(tr.test.name() + ": note: the drafted output differs from plain greedy (a near-tie; see docs/performance.md)");
      if (d) total.add(st);
      tr.ns.push_back(tm.gen_ms * 1e6);
      tr.ts.push_back(tm.gen_ms > 0 ? 1000.0 * double(tm.gen_n) / tm.gen_ms : 0.0);
      char b[160];
      std::snprintf(b, sizeof b, "%s: repetition %d/%d: %.2f t/s", tr.test.name().c_str(), rep + 1, cfg.reps, tr.ts.back());
      say(b + (d ? "; " + st.str() : std::string()));
    }
    tr.t_ns = mean_sd(tr.ns);
    tr.t_ts = mean_sd(tr.ts);
    r.tests.push_back(std::move(tr));
  }
  sb.drafted = total.drafted;
  sb.accepted = total.accepted;
  sb.verif_steps = total.verif_steps;
  for (size_t i = 0; i < total.accepted_at.size(); ++i) sb.rate_at.push_back(total.rate_at(i));
  r.spec = sb;
  r.has_spec = true;
  char b[96];
  std::snprintf(b, sizeof b, "%.1f%% (mean len %.2f, n-max %d)", 100.0 * sb.acceptance(), sb.mean_len(), sb.n_max);
  r.acceptance = b;
  r.draft_note = "MTP assistant " + cfg.draft_path + ", greedy tg" + std::to_string(n_gen) + " from a " + std::to_string(prompt.size()) +
                 "-token prompt: " + total.str();
}

}  // namespace fitserve::engine
