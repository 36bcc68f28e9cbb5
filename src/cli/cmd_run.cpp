// cli/cmd_run.cpp — `fitserve run`: generate text from a prompt on the terminal.
// `fitserve logits`: one teacher-forced pass, top-k log-probs per position as JSON.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/args.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/text.h"
#include "engine/engine.h"
#include "engine/runner.h"
#include "sampling/sampler.h"

namespace fitserve::cli {
namespace {

const std::vector<FlagSpec> kRunFlags = {
    {{"-m", "--model"}, true, "model GGUF file (required)"},
    {{"-p", "--prompt"}, true, "prompt text"},
    {{"-f", "--file"}, true, "read the prompt from a file"},
    {{"-n", "--n-predict"}, true, "tokens to generate (default 128; -1 = until end of text or context)"},
    {{"-c", "--ctx-size"}, true, "context size in tokens (default 2048; 0 or auto = the largest that fits --mem-cap)"},
    {{"--mem-cap"}, true, "memory cap (e.g. 20G, 16GiB): refuse configurations that do not fit"},
    {{"--mmproj"}, true, "vision projector GGUF (checked against the model)"},
    {{"-md", "--model-draft"}, true, "draft / MTP assistant GGUF (checked against the model)"},
    {{"-t", "--threads"}, true, "threads (default: physical cores)"},
    {{"-b", "--batch-size"}, true, "logical batch size (default 2048)"},
    {{"-ub", "--ubatch-size"}, true, "physical batch size (default 512)"},
    {{"-ctk", "--cache-type-k"}, true, "KV cache type for K: f32 f16 bf16 q8_0 q4_0 (default f16)"},
    {{"-ctv", "--cache-type-v"}, true, "KV cache type for V (default f16)"},
    {{"--temp"}, true, "temperature (default 0.8; 0 = greedy)"},
    {{"--top-k"}, true, "top-k (default 40; 0 = off)"},
    {{"--top-p"}, true, "top-p (default 0.95; 1 = off)"},
    {{"--min-p"}, true, "min-p (default 0.05; 0 = off)"},
    {{"--repeat-penalty"}, true, "repetition penalty (default 1.0 = off)"},
    {{"--repeat-last-n"}, true, "tokens considered for penalties (default 64)"},
    {{"--frequency-penalty"}, true, "frequency penalty (default 0)"},
    {{"--presence-penalty"}, true, "presence penalty (default 0)"},
    {{"-s", "--seed"}, true, "RNG seed (default: random)"},
    {{"--ignore-eos"}, false, "keep generating past end-of-text tokens"},
    {{"--no-bos"}, false, "do not add the BOS token"},
};

sampling::SamplingParams sampling_from(const Args& a) {
  sampling::SamplingParams p;
  p.temperature = float(a.get_float("--temp", p.temperature));
  p.top_k = int32_t(a.get_int("--top-k", p.top_k));
  p.top_p = float(a.get_float("--top-p", p.top_p));
  p.min_p = float(a.get_float("--min-p", p.min_p));
  p.repeat_penalty = float(a.get_float("--repeat-penalty", p.repeat_penalty));
  p.repeat_last_n = int32_t(a.get_int("--repeat-last-n", p.repeat_last_n));
  p.frequency_penalty = float(a.get_float("--frequency-penalty", p.frequency_penalty));
  p.presence_penalty = float(a.get_float("--presence-penalty", p.presence_penalty));
  if (a.has("-s")) p.seed = uint64_t(a.get_int("-s", 0));
  return p;
}


int cmd_run(int argc, char** argv) {
  Args a(argc, argv, kRunFlags, "run");
  if (a.help()) {
    std::fprintf(stderr, "usage: fitserve run -m MODEL -p PROMPT [options]\n%s", a.usage().c_str());
    return 0;
  }
  if (!a.has("-m")) throw core::Error("usage", "run: -m MODEL is required", "see `fitserve run --help`");
  std::string prompt = a.has("-f") ? core::read_file(a.get("-f")) : a.get("-p");
  int64_t n_predict = a.get_int("-n", 128);
  if (n_predict < -1) throw core::Error("usage", "run: -n must be >= -1 (got " + std::to_string(n_predict) + ")");
  engine::EngineOptions eo;
  eo.model_path = a.get("-m");
  eo.n_ctx = a.get("-c") == "auto" ? 0 : int32_t(a.get_int("-c", 2048));
  if (a.has("--mem-cap")) eo.mem_cap = parse_bytes(a.get("--mem-cap"));
  eo.mmproj_path = a.get("--mmproj");
  eo.draft_path = a.get("-md");
  if (eo.n_ctx < 0) throw core::Error("usage", "run: -c must be >= 0");
  eo.n_threads = int32_t(a.get_int("-t", 0));
  eo.n_batch = int32_t(a.get_int("-b", 2048));
  eo.n_ubatch = int32_t(a.get_int("-ub", 512));
  eo.type_k = a.get("-ctk", "f16");
  eo.type_v = a.get("-ctv", "f16");
  engine::parse_kv_type(eo.type_k, "-ctk");
  engine::parse_kv_type(eo.type_v, "-ctv");
  auto t_load = std::chrono::steady_clock::now();
  auto eng = engine::Engine::create(eo);
  double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();
  const auto& tok = eng->tokenizer();
  engine::Request req;
  req.prompt = tok.tokenize(prompt, !a.has("--no-bos"), false);
  if (req.prompt.empty()) {
    if (tok.bos() < 0) throw core::Error("usage", "run: the prompt is empty and the model has no BOS token");
    req.prompt.push_back(tok.bos());
  }
  req.sampling = sampling_from(a);
  req.n_predict = int32_t(n_predict);
  req.ignore_eos = a.has("--ignore-eos");
  req.cache_prompt = false;
  if (int64_t(req.prompt.size()) >= eng->info().n_ctx_slot)
    throw core::Error("usage", "run: the prompt has " + std::to_string(req.prompt.size()) + " tokens, the context is " +
                                   std::to_string(eng->info().n_ctx_slot),
                      "use a larger -c or a shorter prompt");
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
  auto res = eng->generate(std::move(req), [](const engine::TokenEvent& ev) {
    if (!ev.text.empty()) {
      std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  std::printf("\n");
  eng->shutdown();
  if (res.finish_reason == "error") throw core::Error("engine", res.error);
  const auto& t = res.timings;
  std::fprintf(stderr, "\nload: %.1f ms\nprompt: %d tokens in %.1f ms (%.2f t/s)\ngeneration: %d tokens in %.1f ms (%.2f t/s), finish: %s\n",
               load_ms, t.prompt_n, t.prompt_ms, t.prompt_ms > 0 ? 1000.0 * t.prompt_n / t.prompt_ms : 0.0, t.predicted_n,
               t.predicted_ms, t.predicted_ms > 0 ? 1000.0 * t.predicted_n / t.predicted_ms : 0.0, res.finish_reason.c_str());
  return 0;
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::string tokstr = s;
  for (auto& c : tokstr)
    if (c == ',' || c == '[' || c == ']') c = ' ';
  std::istringstream is(tokstr);
  std::string w;
  while (is >> w) {
    char* end = nullptr;
    long v = std::strtol(w.c_str(), &end, 10);
    if (*end || v < 0 || v > INT32_MAX) throw core::Error("usage", "bad token id '" + w + "'");
    ids.push_back(int32_t(v));
  }
  return ids;
}

int cmd_logits(int argc, char** argv) {
  Args a(argc, argv,
         {{{"-m", "--model"}, true, "model GGUF file (required)"},
          {{"--tokens"}, true, "token ids, space or comma separated"},
          {{"-p", "--prompt"}, true, "prompt text (tokenized with BOS)"},
          {{"--top-k"}, true, "log-probs per position (default 20)"},
          {{"--json"}, false, "JSON output (the golden-file schema; the default)"},
          {{"-c", "--ctx-size"}, true, "context size (default: number of tokens)"},
          {{"-t", "--threads"}, true, "threads"},
          {{"-ub", "--ubatch-size"}, true, "physical batch size (default 512)"},
          {{"-ctk", "--cache-type-k"}, true, "KV cache type for K (default f16)"},
          {{"-ctv", "--cache-type-v"}, true, "KV cache type for V (default f16)"}},
         "logits");
  if (a.help()) {
    std::fprintf(stderr, "usage: fitserve logits -m MODEL (--tokens \"ids\" | -p PROMPT) [--top-k K] --json\n%s", a.usage().c_str());
    return 0;
  }
  if (!a.has("-m")) throw core::Error("usage", "logits: -m MODEL is required");
  if (a.has("--tokens") == a.has("-p")) throw core::Error("usage", "logits: give exactly one of --tokens or -p");
  engine::RunnerOptions ro;
  ro.model_path = a.get("-m");
  ro.n_threads = int32_t(a.get_int("-t", 0));
  ro.n_ubatch = int32_t(a.get_int("-ub", 512));
  ro.type_k = a.get("-ctk", "f16");
  ro.type_v = a.get("-ctv", "f16");
  std::vector<int32_t> toks;
  if (a.has("--tokens")) toks = parse_ids(a.get("--tokens"));
  ro.n_ctx = int32_t(a.get_int("-c", 0));
  if (ro.n_ctx <= 0) ro.n_ctx = std::max<int32_t>(16, int32_t(toks.size()) + 1);
  if (a.has("-p")) ro.n_ctx = std::max<int32_t>(ro.n_ctx, 4096);
  engine::Runner r(ro);
  if (a.has("-p")) {
    if (!r.tokenizer()) throw core::Error("usage", "logits: the model has no tokenizer; use --tokens");
    toks = r.tokenizer()->tokenize(a.get("-p"), true, false);
  }
  if (toks.empty()) throw core::Error("usage", "logits: no tokens given");
  for (auto t : toks)
    if (t >= r.n_vocab()) throw core::Error("usage", "logits: token id " + std::to_string(t) + " is outside the vocabulary (" + std::to_string(r.n_vocab()) + ")");
  int32_t k = int32_t(a.get_int("--top-k", 20));
  if (k < 1) throw core::Error("usage", "logits: --top-k must be >= 1");
  auto logits = r.eval(toks, true);
  nlohmann::json j;
  j["model"] = ro.model_path;
  j["n_vocab"] = r.n_vocab();
  j["tokens"] = toks;
  nlohmann::json pos = nlohmann::json::array();
  for (size_t i = 0; i < toks.size(); ++i) {
    float lse = 0;
    auto top = sampling::log_softmax_top(logits.data() + i * size_t(r.n_vocab()), r.n_vocab(), k, &lse);
    nlohmann::json t = nlohmann::json::array();
    for (auto& [id, lp] : top) t.push_back({id, lp});
    pos.push_back({{"pos", i}, {"token", toks[i]}, {"lse", lse}, {"top", t}});
  }
  j["positions"] = pos;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace
FITSERVE_COMMAND("run", "generate text from a prompt", cmd_run);
FITSERVE_COMMAND("logits", "teacher-forced top-k log-probs per position as JSON", cmd_logits);
}  // namespace fitserve::cli
