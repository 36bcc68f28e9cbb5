// cli/cmd_perplexity.cpp — `fitserve perplexity -m MODEL -f TEXT [-c 512] [--kl-base F]
// [--save-kl-base F]`: perplexity over a text (chunks of c tokens, the second half of each chunk
// scored, BOS first), and the KL divergence of this model's distributions against a base run
// saved earlier (e.g. a Q8_0 file as the base for a QAT Q4_0 one).
// KL base file: "FSKL" u32 version=1, u32 n_vocab, u32 n_positions, then per position n_vocab
// float16 log-probabilities.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cli/args.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/text.h"
#include "engine/runner.h"
#include "quant/fp16.h"

namespace fitserve::cli {
namespace {


void log_softmax(const float* x, int n, std::vector<double>& out) {
  double mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max<double>(mx, x[i]);
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
  double lse = mx + std::log(s);
  out.resize(size_t(n));
  for (int i = 0; i < n; ++i) out[i] = double(x[i]) - lse;
}

int cmd_perplexity(int argc, char** argv) {
  Args a(argc, argv,
         {{{"-m", "--model"}, true, "model GGUF file (required)"},
          {{"-f", "--file"}, true, "text file (required)"},
          {{"-c", "--ctx-size"}, true, "chunk size in tokens (default 512)"},
          {{"--chunks"}, true, "at most this many chunks (default: all)"},
          {{"-t", "--threads"}, true, "threads"},
          {{"-ub", "--ubatch-size"}, true, "physical batch size (default 512)"},
          {{"-ctk", "--cache-type-k"}, true, "KV cache type for K (default f16)"},
          {{"-ctv", "--cache-type-v"}, true, "KV cache type for V (default f16)"},
          {{"--kl-base"}, true, "compare against a saved base run: KL divergence, top-1 agreement"},
          {{"--save-kl-base"}, true, "save this run's distributions as a KL base"}},
         "perplexity");
  if (a.help()) {
    std::fprintf(stderr, "usage: fitserve perplexity -m MODEL -f TEXT [-c 512] [--kl-base F] [--save-kl-base F]\n%s", a.usage().c_str());
    return 0;
  }
  if (!a.has("-m") || !a.has("-f")) throw core::Error("usage", "perplexity: -m MODEL and -f TEXT are required");
  engine::RunnerOptions ro;
  ro.model_path = a.get("-m");
  ro.n_ctx = int32_t(a.get_int("-c", 512));
  if (ro.n_ctx < 8) throw core::Error("usage", "perplexity: -c must be >= 8");
  ro.n_threads = int32_t(a.get_int("-t", 0));
  ro.n_ubatch = int32_t(a.get_int("-ub", 512));
  ro.type_k = a.get("-ctk", "f16");
  ro.type_v = a.get("-ctv", "f16");
  engine::Runner r(ro);
  if (!r.tokenizer()) throw core::Error("usage", "perplexity: the model has no tokenizer");
  const auto& tok = *r.tokenizer();
  std::string text = core::read_file(a.get("-f"));
  auto toks = tok.tokenize(text, false, false);
  const int32_t n_ctx = ro.n_ctx, nv = r.n_vocab();
  int64_t n_chunks = int64_t(toks.size()) / n_ctx;
  if (a.has("--chunks")) n_chunks = std::min<int64_t>(n_chunks, a.get_int("--chunks", n_chunks));
  if (n_chunks < 1)
    throw core::Error("usage", "perplexity: the text has " + std::to_string(toks.size()) + " tokens, fewer than one chunk of " + std::to_string(n_ctx),
                      "use a longer text or a smaller -c");
  const int32_t first = n_ctx / 2;
  const uint32_t n_scored = uint32_t(n_chunks) * uint32_t(n_ctx - 1 - first);

  FILE* base = nullptr;
  if (a.has("--kl-base")) {
    base = std::fopen(a.get("--kl-base").c_str(), "rb");
    if (!base) throw core::Error("io", a.get("--kl-base") + ": cannot open");
    char magic[4];
    uint32_t hdr[3];
    if (std::fread(magic, 1, 4, base) != 4 || std::memcmp(magic, "FSKL", 4) || std::fread(hdr, 4, 3, base) != 3 || hdr[0] != 1)
      throw core::Error("io", a.get("--kl-base") + ": not a fitserve KL base file");
    if (hdr[1] != uint32_t(nv) || hdr[2] != n_scored)
      throw core::Error("usage", a.get("--kl-base") + ": base has vocab " + std::to_string(hdr[1]) + " and " + std::to_string(hdr[2]) +
                                     " positions; this run has " + std::to_string(nv) + " and " + std::to_string(n_scored),
                        "use the same text, -c and --chunks, and a model with the same vocabulary");
  }
  FILE* save = nullptr;
  if (a.has("--save-kl-base")) {
    save = std::fopen(a.get("--save-kl-base").c_str(), "wb");
    if (!save) throw core::Error("io", a.get("--save-kl-base") + ": cannot create");
    uint32_t hdr[3] = {1, uint32_t(nv), n_scored};
    std::fwrite("FSKL", 1, 4, save);
    std::fwrite(hdr, 4, 3, save);
  }
  double nll = 0, kl_sum = 0;
  int64_t n = 0, same_top = 0;
  std::vector<double> lp, lpb(static_cast<size_t>(nv));
  std::vector<uint16_t> h(static_cast<size_t>(nv));
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(toks.begin() + c * n_ctx, toks.begin() + (c + 1) * n_ctx);
    if (tok.bos() >= 0) chunk[0] = tok.bos();
    r.reset();
    auto logits = r.eval(chunk, true);
    for (int32_t i = first; i < n_ctx - 1; ++i) {
      log_softmax(logits.data() + size_t(i) * nv, nv, lp);
      nll -= lp[size_t(chunk[i + 1])];
      ++n;
      if (save) {
        for (int v = 0; v < nv; ++v) h[v] = quant::fp32_to_fp16(float(lp[v]));
        std::fwrite(h.data(), 2, h.size(), save);
      }
      if (base) {
        if (std::fread(h.data(), 2, h.size(), base) != h.size()) throw core::Error("io", "KL base file is truncated");
        double kl = 0;
        int arg_b = 0, arg_t = 0;
        for (int v = 0; v < nv; ++v) {
          lpb[v] = quant::fp16_to_fp32(h[v]);
          if (lpb[v] > lpb[arg_b]) arg_b = v;
          if (lp[v] > lp[arg_t]) arg_t = v;
          if (std::isfinite(lpb[v])) kl += std::exp(lpb[v]) * (lpb[v] - lp[v]);
        }
        kl_sum += kl;
        same_top += arg_b == arg_t;
      }
    }
    std::fprintf(stderr, "[%lld/%lld] ppl so far %.4f\n", (long long)(c + 1), (long long)n_chunks, std::exp(nll / double(n)));
  }
  if (save) std::fclose(save);
  if (base) std::fclose(base);
  std::printf("perplexity: %.4f over %lld tokens (%lld chunks of %d)\n", std::exp(nll / double(n)), (long long)n, (long long)n_chunks, n_ctx);
  if (base)
    std::printf("kl-divergence: mean %.6f, same top-1: %.2f%%\n", kl_sum / double(n), 100.0 * double(same_top) / double(n));
  return 0;
}

}  // namespace
FITSERVE_COMMAND("perplexity", "perplexity over a text file, and KL divergence against a saved base", cmd_perplexity);
}  // namespace fitserve::cli
