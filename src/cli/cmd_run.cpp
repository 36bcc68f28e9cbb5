// cli/cmd_run.cpp — `fitserve run`: generate text from a prompt on the terminal.
// With -md (a Gemma 4 MTP assistant) or --tokens, generation runs on one sequence through
// engine::generate (speculative with the drafter; acceptance statistics on stderr); otherwise
// through the Engine's scheduler.
// `fitserve logits`: one teacher-forced pass, top-k log-probs per position as JSON.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/args.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/text.h"
#include "engine/engine.h"
#include "engine/runner.h"
#include "engine/speculative.h"
#include "plan/compat.h"
#include "plan/headers.h"
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
    {{"-md", "--model-draft", "--spec-draft-model"}, true, "Gemma 4 MTP assistant GGUF: speculative decoding"},
    {{"--spec-type"}, true, "speculative decoding type: draft-mtp (the only one; implied by -md)"},
    {{"--spec-draft-n-max", "--draft-max", "--draft-n"}, true, "most tokens drafted per step (default 3)"},
    {{"--spec-draft-n-min", "--draft-min"}, true, "drop drafts shorter than this (default 0)"},
    {{"--spec-draft-p-min", "--draft-p-min"}, true, "stop drafting below this top-candidate probability (default 0.0)"},
    {{"--tokens"}, true, "prompt as token ids (space or comma separated; output as ids without a tokenizer)"},
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


std::vector<int32_t> parse_ids(const std::string& s);
int run_single(const Args& a);

int cmd_run(int argc, char** argv) {
  Args a(argc, argv, kRunFlags, "run");
  if (a.help()) {
    std::fprintf(stderr, "usage: fitserve run -m MODEL -p PROMPT [options]\n"
                         "       fitserve run -m MODEL -md ASSISTANT -p PROMPT [--spec-draft-n-max N] [options]\n%s",
                 a.usage().c_str());
    return 0;
  }
  if (!a.has("-m")) throw core::Error("usage", "run: -m MODEL is required", "see `fitserve run --help`");
  if (a.has("--spec-type") && a.get("--spec-type") != "draft-mtp")
    throw core::Error("usage", "run: --spec-type '" + a.get("--spec-type") + "' is not supported",
                      "fitserve implements draft-mtp (a Gemma 4 MTP assistant given with -md)");
  if (a.has("--spec-type") && !a.has("-md"))
    throw core::Error("usage", "run: --spec-type draft-mtp needs the assistant GGUF with -md");
  if (a.has("-md") || a.has("--tokens")) return run_single(a);
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

// One sequence on a Runner, speculative when -md is given.
int run_single(const Args& a) {
  if (a.has("-p") + a.has("-f") + a.has("--tokens") != 1)
    throw core::Error("usage", "run: give exactly one of -p, -f or --tokens");
  int64_t n_predict = a.get_int("-n", 128);
  if (n_predict < -1) throw core::Error("usage", "run: -n must be >= -1 (got " + std::to_string(n_predict) + ")");
  engine::SpecParams sp;
  sp.n_max = int32_t(a.get_int("--spec-draft-n-max", sp.n_max));
  sp.n_min = int32_t(a.get_int("--spec-draft-n-min", sp.n_min));
  sp.p_min = float(a.get_float("--spec-draft-p-min", sp.p_min));
  if (sp.n_max < 0 || sp.n_max > 64) throw core::Error("usage", "run: --spec-draft-n-max must be in [0, 64]");
  if (sp.n_min < 0) throw core::Error("usage", "run: --spec-draft-n-min must be >= 0");
  if (!(sp.p_min >= 0 && sp.p_min <= 1)) throw core::Error("usage", "run: --spec-draft-p-min must be in [0, 1]");
  const std::string draft = a.get("-md");
  // The plan first, as the engine does: companion checks, -c auto, --mem-cap.
  plan::RunSettings rs;
  rs.n_ctx = a.get("-c") == "auto" ? 0 : a.get_int("-c", 2048);
  if (rs.n_ctx < 0) throw core::Error("usage", "run: -c must be >= 0");
  rs.n_batch = a.get_int("-b", 2048);
  rs.n_ubatch = std::min(a.get_int("-ub", 512), rs.n_batch);
  rs.type_k = engine::parse_kv_type(a.get("-ctk", "f16"), "-ctk");
  rs.type_v = engine::parse_kv_type(a.get("-ctv", "f16"), "-ctv");
  rs.n_draft = draft.empty() ? 0 : sp.n_max;
  {
    plan::ModelHeaders th = plan::open_headers(a.get("-m"));
    std::optional<plan::ModelHeaders> mh, dh;
    if (a.has("--mmproj")) mh = plan::open_headers(a.get("--mmproj"));
    if (!draft.empty()) dh = plan::open_headers(draft);
    auto fit = plan::check_and_fit(plan::ModelSet{&th, mh ? &*mh : nullptr, dh ? &*dh : nullptr}, rs,
                                   a.has("--mem-cap") ? parse_bytes(a.get("--mem-cap")) : 0);
    rs.n_ctx = fit.plan.settings.n_ctx;
  }
  engine::RunnerOptions ro;
  ro.model_path = a.get("-m");
  ro.n_ctx = int32_t(std::min<int64_t>(rs.n_ctx, INT32_MAX));
  ro.n_threads = int32_t(a.get_int("-t", 0));
  ro.n_ubatch = int32_t(rs.n_ubatch);
  ro.type_k = a.get("-ctk", "f16");
  ro.type_v = a.get("-ctv", "f16");
  auto t_load = std::chrono::steady_clock::now();
  engine::Runner r(ro);
  std::unique_ptr<engine::Drafter> drafter;
  if (!draft.empty()) drafter = std::make_unique<engine::Drafter>(draft, r);
  double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();
  const tokenizer::Tokenizer* tok = r.tokenizer();
  std::vector<int32_t> prompt;
  if (a.has("--tokens")) {
    prompt = parse_ids(a.get("--tokens"));
    for (auto t : prompt)
      if (t >= r.n_vocab()) throw core::Error("usage", "run: token id " + std::to_string(t) + " is outside the vocabulary (" + std::to_string(r.n_vocab()) + ")");
  } else {
    if (!tok) throw core::Error("usage", "run: the model has no tokenizer", "give the prompt as ids with --tokens");
    const std::string text = a.has("-f") ? core::read_file(a.get("-f")) : a.get("-p");
    prompt = tok->tokenize(text, !a.has("--no-bos"), false);
    if (prompt.empty() && tok->bos() >= 0) prompt.push_back(tok->bos());
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  if (prompt.empty()) throw core::Error("usage", "run: the prompt is empty");
  sampling::Sampler sampler(sampling_from(a), r.n_vocab());
  std::unique_ptr<tokenizer::StreamDecoder> dec;
  if (tok && !a.has("--tokens")) dec = std::make_unique<tokenizer::StreamDecoder>(*tok);
  const bool ignore_eos = a.has("--ignore-eos");
  std::string finish = "length";
  bool first = true;
  auto on_token = [&](int32_t t) {
    if (tok && !ignore_eos && tok->is_eog(t)) {
      finish = "stop";
      return false;
    }
    if (dec) {
      std::string piece = dec->push(t);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
    } else {
      std::printf(first ? "%d" : " %d", t);
    }
    first = false;
    std::fflush(stdout);
    return true;
  };
  engine::SpecStats st;
  engine::GenTimings tm;
  auto out = engine::generate(r, drafter.get(), prompt, int32_t(n_predict), sampler, sp, on_token, &st, &tm);
  if (dec) {
    std::string rest = dec->flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
  }
  if (finish != "stop" && n_predict < 0) finish = "context";
  std::printf("\n");
  std::fprintf(stderr, "\nload: %.1f ms\nprompt: %d tokens in %.1f ms (%.2f t/s)\ngeneration: %d tokens in %.1f ms (%.2f t/s), finish: %s\n",
               load_ms, tm.prompt_n, tm.prompt_ms, tm.prompt_ms > 0 ? 1000.0 * tm.prompt_n / tm.prompt_ms : 0.0, tm.gen_n, tm.gen_ms,
               tm.gen_ms > 0 ? 1000.0 * tm.gen_n / tm.gen_ms : 0.0, finish.c_str());
  if (drafter)
    std::fprintf(stderr, "speculative (draft-mtp, n-max %d, n-min %d, p-min %.2f): %s; draft %.1f ms, verify %.1f ms\n", sp.n_max, sp.n_min,
                 double(sp.p_min), st.str().c_str(), st.draft_ms, st.verify_ms);
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
