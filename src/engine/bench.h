// engine/bench.h — llama-bench-style speed measurements (`fitserve bench`) and the check of the
// memory plan against what the process really holds (`fitserve bench --mem-check`).
// Offers:
//   engine::MemStatus / read_mem_status()  VmRSS, VmHWM, RssAnon, RssFile of this process
//   engine::reset_peak_rss()               VmHWM := VmRSS (/proc/self/clear_refs); false if refused
//   engine::mean_sd(xs)                    mean and sample standard deviation (n − 1)
//   engine::gen_bytes_per_token(file)      weight bytes one generated token reads (every matrix;
//                                          embedding tables one row; the output head, tied or not)
//   engine::run_bench(cfg)                 for one model: pp N / tg N tests through Runner (spec
//                                          gguf-and-quants §13: one warmup, r repetitions with the
//                                          KV cache cleared, tokens/s per repetition), peak RSS,
//                                          and the plan's total for the same settings
//   engine::run_mem_check(cfg)             loads a model as the engine does (model, KV cache for
//                                          n_seq sequences, logits), touches every weight, fills
//                                          every KV cell, runs a full micro-batch and a decode step
//                                          per sequence, and reports RSS growth next to the plan
//   engine::format_markdown/leaderboard/csv/json, svg_chart   reports of run_bench results
//   engine::run_spec_tests(...)            (bench_spec.cpp) with a drafter (-md, a Gemma 4 MTP
//                                          assistant): the first tg N test again as greedy
//                                          generation from a prompt, without and with the
//                                          drafter — tg t/s of both, acceptance rate, mean
//                                          acceptance length, per-position rates
// mmproj files are counted in the plan and checked against the model, but not run.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace fitserve::engine {

struct MemStatus {
  uint64_t rss = 0, hwm = 0, rss_anon = 0, rss_file = 0;  // bytes
};
MemStatus read_mem_status();
bool reset_peak_rss();

struct MeanSd {
  double mean = 0, sd = 0;  // sd = 0 for fewer than 2 samples
};
MeanSd mean_sd(const std::vector<double>& xs);

uint64_t gen_bytes_per_token(const gguf::File& f);

struct TestSpec {
  int32_t n_prompt = 0, n_gen = 0;
  std::string variant;       // "" (random tokens), "greedy" or "draft-mtp" (run_spec_tests)
  std::string name() const;  // "pp512", "tg128", "pp512+tg128", "tg128/greedy", "tg128/draft-mtp"
};

struct BenchConfig {
  std::string model_path, mmproj_path, draft_path;
  std::vector<TestSpec> tests;
  int reps = 3;
  int32_t n_threads = 0;  // 0 = physical cores
  int32_t n_batch = 2048, n_ubatch = 512;
  std::string type_k = "f16", type_v = "f16";
  bool warmup = true;
  uint32_t seed = 1234;
  int32_t draft_n_max = 3, draft_n_min = 0;  // --spec-draft-n-max / -n-min / -p-min
  float draft_p_min = 0.0f;
};

// The speculative tg measurement of one model (run_spec_tests).
struct SpecBench {
  int32_t n_gen = 0, n_prompt = 0;   // tokens generated per repetition; prompt length
  int32_t n_max = 0, n_min = 0;
  float p_min = 0;
  int64_t drafted = 0, accepted = 0, verif_steps = 0;  // summed over the timed repetitions
  std::vector<double> rate_at;       // per draft position: accepted / verification steps
  double acceptance() const { return drafted ? double(accepted) / double(drafted) : 0.0; }
  double mean_len() const { return verif_steps ? 1.0 + double(accepted) / double(verif_steps) : 1.0; }
};

struct TestResult {
  TestSpec test;
  std::vector<double> ns;  // wall time of each repetition
  std::vector<double> ts;  // tokens/s of each repetition
  MeanSd t_ns, t_ts;
  std::string time;        // RFC 3339 (UTC) start of the test
};

struct ModelResult {
  std::string path, filename, model_type;  // model_type: "gemma4 1.1B Q4_0"
  uint64_t file_bytes = 0, model_size = 0, n_params = 0;
  uint64_t gen_bytes_per_token = 0;
  int32_t n_threads = 0, n_batch = 0, n_ubatch = 0, n_ctx = 0;
  std::string type_k, type_v;
  std::vector<TestResult> tests;
  uint64_t rss_before = 0;     // VmRSS before loading the model
  uint64_t peak_rss = 0;       // VmHWM over load + all tests (process-wide unless reset worked)
  bool peak_reset = false;     // VmHWM was reset before this model
  uint64_t plan_total = 0, plan_weights = 0, plan_kv = 0, plan_compute = 0, plan_output = 0;
  std::string mmproj_note, draft_note, acceptance;  // acceptance empty without a drafter
  bool has_spec = false;       // spec (and the tests "tgN/greedy", "tgN/draft-mtp") are filled
  SpecBench spec;
  const TestResult* find(bool gen) const;        // first pp-only (gen=false) / tg-only test
  const TestResult* find_test(const std::string& name) const;  // by TestSpec::name()
};

using Progress = std::function<void(const std::string&)>;
ModelResult run_bench(const BenchConfig& cfg, const Progress& progress = {});
class Runner;
// Called by run_bench with a drafter, after the plain tests, on the loaded runner.
void run_spec_tests(Runner& runner, const BenchConfig& cfg, ModelResult& r, const Progress& progress);

// Reports. llama-bench's markdown table (model, size, params, backend, threads, [ub, type_k,
// type_v when not default], test, t/s as "mean ± sd"); the summary/leaderboard (one row per
// model, ranked by generation t/s when several); csv and json with every field.
std::string format_markdown(const std::vector<ModelResult>& rs);
std::string format_leaderboard(const std::vector<ModelResult>& rs);
std::string format_csv(const std::vector<ModelResult>& rs);
std::string format_json(const std::vector<ModelResult>& rs);
// Bar chart of tokens/s per model, one panel per test kind (pp, tg), with ± sd whiskers.
std::string svg_chart(const std::vector<ModelResult>& rs);

struct MemCheckConfig {
  std::string model_path;
  int64_t n_ctx = 4096;   // total cells over all sequences (as -c of serve)
  int32_t n_seq = 1;
  int32_t n_batch = 2048, n_ubatch = 512;
  std::string type_k = "f16", type_v = "f16";
  int32_t n_threads = 0;
  uint32_t seed = 1234;
};

struct MemCheckResult {
  int64_t n_ctx = 0, n_ctx_seq = 0;
  int32_t n_seq = 0, n_ubatch = 0;
  std::string type_k, type_v;
  uint64_t plan_weights = 0, plan_kv = 0, plan_compute = 0, plan_output = 0, plan_total = 0;
  uint64_t kv_bytes = 0;         // KvCache::bytes() of the cache the engine's config creates
  uint64_t logits_bytes = 0;     // output buffer allocated (n_seq rows of n_vocab floats)
  MemStatus start;               // after the header is parsed (the planner's input), before loading
  MemStatus loaded;              // model bound, KV cache and logits allocated (KV still untouched)
  MemStatus touched;             // + every weight page read
  MemStatus end;                 // + every KV cell written, a full micro-batch and a decode step
  uint64_t header_rss = 0;       // RSS growth of opening + parsing the GGUF header
  uint64_t tokenizer_rss = 0;    // RSS growth of building the tokenizer afterwards (not planned)
  double seconds = 0;
  uint64_t growth() const { return end.rss - start.rss; }
  // Anonymous growth not explained by the KV cache and the logits: the compute buffers.
  int64_t compute_measured() const {
    return int64_t(end.rss_anon) - int64_t(start.rss_anon) - int64_t(kv_bytes) - int64_t(logits_bytes);
  }
};
MemCheckResult run_mem_check(const MemCheckConfig& cfg, const Progress& progress = {});
std::string mem_check_json(const MemCheckResult& r);
std::string mem_check_text(const MemCheckResult& r);

}  // namespace fitserve::engine
