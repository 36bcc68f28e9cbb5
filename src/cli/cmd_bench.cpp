// cli/cmd_bench.cpp — `fitserve bench`: llama-bench-style prompt/generation speed, peak memory and
// the plan's total per model; a leaderboard and an SVG chart for several models; --mem-check
// compares the process's measured memory with the plan.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "engine/bench.h"
#include "engine/runner.h"

namespace fitserve::cli {
namespace {

const char* kUsage =
    "usage: fitserve bench -m MODEL [-m MODEL2 ...] [-p 512] [-n 128] [-r 3] [-t N] [-ctk T] [-ctv T]\n"
    "                      [-b N] [-ub N] [-o md|json|csv] [--mmproj F] [-md F] [--plot FILE.svg]\n"
    "                      [--no-warmup] [--seed N] [--spec-draft-n-max N] [--spec-draft-n-min N]\n"
    "                      [--spec-draft-p-min P]\n"
    "       fitserve bench --mem-check -m MODEL [-c N] [-np N] [-ub N] [-ctk T] [-ctv T] [-t N] [-o md|json]\n"
    "\n"
    "Measures prompt processing (pp N: N random tokens, logits of the last only) and generation\n"
    "(tg N: N single-token steps) in tokens/s, as mean ± sample sd over -r repetitions after one\n"
    "warmup, the KV cache cleared before each. Also reports the peak RSS (VmHWM) next to the memory\n"
    "plan's total for the same settings. Several -m (or a comma list) give a leaderboard.\n"
    "  -m FILE[,FILE]   model(s); repeatable\n"
    "  -p N[,N]         prompt lengths (default 512; 0 = no pp test)\n"
    "  -n N[,N]         generation lengths (default 128; 0 = no tg test)\n"
    "  -r N             repetitions (default 3)\n"
    "  -t N[,N]         threads (default: physical cores)\n"
    "  -ctk/-ctv T      KV cache types: f32 f16 bf16 q8_0 q4_0 (default f16)\n"
    "  -b/-ub N         logical / physical batch (default 2048 / 512)\n"
    "  -o FMT           md (default), json or csv\n"
    "  --mmproj F       vision projector: checked and counted in the plan (vision is not run yet)\n"
    "  -md F            Gemma 4 MTP assistant (drafter): the first tg N test is repeated as greedy\n"
    "                   generation from a prompt (a fixed sentence, or BOS + 15 seeded ids without a\n"
    "                   tokenizer), timed without (tgN/greedy) and with the drafter (tgN/draft-mtp);\n"
    "                   reports the acceptance rate, mean acceptance length and per-position rates\n"
    "  --spec-draft-n-max/-n-min/-p-min   drafting limits (default 3 / 0 / 0.0; aliases --draft-max,\n"
    "                   --draft-min, --draft-p-min)\n"
    "  --plot FILE.svg  bar chart of tokens/s per model\n"
    "  --mem-check      load the model as the engine does, touch every weight, fill every KV cell,\n"
    "                   run a full micro-batch and a decode step per sequence, and compare the RSS\n"
    "                   growth with the plan (-c total context, default 4096; -np sequences)\n";

int64_t parse_int(const std::string& opt, const std::string& v, int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < lo || x > hi)
    throw core::Error("usage", opt + ": invalid value '" + v + "' (expected an integer in [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "])");
  return x;
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  size_t a = 0;
  while (true) {
    size_t b = v.find(',', a);
    std::string item = v.substr(a, b == std::string::npos ? std::string::npos : b - a);
    if (!item.empty()) out.push_back(item);
    if (b == std::string::npos) break;
    a = b + 1;
  }
  return out;
}

std::vector<int64_t> int_list(const std::string& opt, const std::string& v, int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  for (const auto& s : split_list(v)) out.push_back(parse_int(opt, s, lo, hi));
  if (out.empty()) throw core::Error("usage", opt + ": empty list");
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.close();
  if (!f) throw core::Error("io", path + ": cannot write");
}

int cmd_bench(int argc, char** argv) {
  std::vector<std::string> models;
  std::vector<int64_t> n_prompt = {512}, n_gen = {128}, threads = {0};
  engine::BenchConfig base;
  std::string out_fmt = "md", plot;
  bool mem_check = false;
  int64_t n_ctx = 4096, n_seq = 1;
  for (int i = 1; i < argc; ++i) {
    std::string o = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw core::Error("usage", o + " needs a value", "see `fitserve bench --help`");
      return argv[++i];
    };
    if (o == "-h" || o == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (o == "-m" || o == "--model") {
      for (auto& m : split_list(val())) models.push_back(m);
    } else if (o == "-p" || o == "--n-prompt") n_prompt = int_list(o, val(), 0, 1 << 20);
    else if (o == "-n" || o == "--n-gen") n_gen = int_list(o, val(), 0, 1 << 20);
    else if (o == "-r" || o == "--repetitions") base.reps = int(parse_int(o, val(), 1, 1000));
    else if (o == "-t" || o == "--threads") threads = int_list(o, val(), 1, 1024);
    else if (o == "-ctk" || o == "--cache-type-k") base.type_k = val();
    else if (o == "-ctv" || o == "--cache-type-v") base.type_v = val();
    else if (o == "-b" || o == "--batch-size") base.n_batch = int32_t(parse_int(o, val(), 1, 1 << 20));
    else if (o == "-ub" || o == "--ubatch-size") base.n_ubatch = int32_t(parse_int(o, val(), 1, 1 << 20));
    else if (o == "-o" || o == "--output") {
      out_fmt = val();
      if (out_fmt != "md" && out_fmt != "json" && out_fmt != "csv")
        throw core::Error("usage", "bench: unknown output format '" + out_fmt + "'", "use md, json or csv");
    } else if (o == "--mmproj") base.mmproj_path = val();
    else if (o == "-md" || o == "--model-draft" || o == "--spec-draft-model") base.draft_path = val();
    else if (o == "--spec-draft-n-max" || o == "--draft-max" || o == "--draft-n") base.draft_n_max = int32_t(parse_int(o, val(), 0, 64));
    else if (o == "--spec-draft-n-min" || o == "--draft-min") base.draft_n_min = int32_t(parse_int(o, val(), 0, 64));
    else if (o == "--spec-draft-p-min" || o == "--draft-p-min") {
      const std::string v = val();
      char* end = nullptr;
      const double p = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(p >= 0 && p <= 1)) throw core::Error("usage", o + ": invalid value '" + v + "' (expected a number in [0, 1])");
      base.draft_p_min = float(p);
    } else if (o == "--spec-type") {
      if (val() != "draft-mtp")
        throw core::Error("usage", "bench: --spec-type '" + std::string(argv[i]) + "' is not supported", "fitserve implements draft-mtp (-md)");
    }
    else if (o == "--plot") plot = val();
    else if (o == "--no-warmup") base.warmup = false;
    else if (o == "--seed") base.seed = uint32_t(parse_int(o, val(), 0, UINT32_MAX));
    else if (o == "--mem-check") mem_check = true;
    else if (o == "-c" || o == "--ctx-size") n_ctx = parse_int(o, val(), 1, int64_t(1) << 31);
    else if (o == "-np" || o == "--parallel") n_seq = parse_int(o, val(), 1, 256);
    else throw core::Error("usage", "bench: unknown option '" + o + "'", "see `fitserve bench --help`");
  }
  if (models.empty()) throw core::Error("usage", "bench: -m MODEL is required", "see `fitserve bench --help`");
  engine::parse_kv_type(base.type_k, "-ctk");
  engine::parse_kv_type(base.type_v, "-ctv");
  auto progress = [](const std::string& s) {
    std::fprintf(stderr, "bench: %s\n", s.c_str());
    std::fflush(stderr);
  };

  if (mem_check) {
    if (models.size() != 1) throw core::Error("usage", "bench --mem-check takes one model");
    if (out_fmt == "csv") throw core::Error("usage", "bench --mem-check: use -o md or -o json");
    engine::MemCheckConfig mc;
    mc.model_path = models[0];
    mc.n_ctx = n_ctx;
    mc.n_seq = int32_t(n_seq);
    mc.n_batch = base.n_batch;
    mc.n_ubatch = base.n_ubatch;
    mc.type_k = base.type_k;
    mc.type_v = base.type_v;
    mc.n_threads = int32_t(threads.front());
    mc.seed = base.seed;
    auto r = engine::run_mem_check(mc, progress);
    std::fputs((out_fmt == "json" ? engine::mem_check_json(r) : engine::mem_check_text(r)).c_str(), stdout);
    return 0;
  }

  for (int64_t p : n_prompt)
    if (p > 0) base.tests.push_back(engine::TestSpec{int32_t(p), 0});
  for (int64_t n : n_gen)
    if (n > 0) base.tests.push_back(engine::TestSpec{0, int32_t(n)});
  if (base.tests.empty()) throw core::Error("usage", "bench: nothing to run (-p 0 and -n 0)");

  std::vector<engine::ModelResult> results;
  for (const auto& m : models)
    for (int64_t t : threads) {
      engine::BenchConfig cfg = base;
      cfg.model_path = m;
      cfg.n_threads = int32_t(t);
      results.push_back(engine::run_bench(cfg, progress));
    }

  if (out_fmt == "json") {
    std::fputs(engine::format_json(results).c_str(), stdout);
  } else if (out_fmt == "csv") {
    std::fputs(engine::format_csv(results).c_str(), stdout);
  } else {
    std::string o = engine::format_markdown(results);
    o += "\n";
    o += results.size() > 1 ? "leaderboard (ranked by generation speed):\n\n" : "summary:\n\n";
    o += engine::format_leaderboard(results);
    o += "\npeak RSS: VmHWM of this process over loading and the tests";
    o += results.front().peak_reset ? " (reset before each model)" : " (process-wide; reset was refused)";
    o += "; plan total: weights + KV cache (-c " + std::to_string(results.front().n_ctx) + ") + compute + output.\n";
    o += "gen GB/s: weight bytes read per generated token x tg t/s.\n";
    for (const auto& r : results) {
      if (!r.mmproj_note.empty()) o += r.filename + ": mmproj " + r.mmproj_note + "\n";
      if (!r.draft_note.empty()) o += r.filename + ": drafter " + r.draft_note + "\n";
    }
    std::fputs(o.c_str(), stdout);
  }
  if (!plot.empty()) {
    write_file(plot, engine::svg_chart(results));
    std::fprintf(stderr, "bench: wrote %s\n", plot.c_str());
  }
  return 0;
}

}  // namespace

FITSERVE_COMMAND("bench", "prompt/generation speed, peak memory and plan accuracy (llama-bench style)", cmd_bench);

}  // namespace fitserve::cli
