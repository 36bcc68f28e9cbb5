// bench/tokenize_bench.cpp — tokenizer speed: vocabulary load time and MB/s on ~10 MB of mixed
// text, one thread. The text: the shared specs (English prose, Markdown, code, JSON, tables) and
// the reference vocab cases (multilingual text, emoji, digits, whitespace runs), repeated up to
// the target size. Repetition favours the per-thread word cache; --no-cache gives the worst case
// (every word merged from scratch).
// Usage: tokenize_bench [VOCAB.gguf] [--mb N] [--text FILE] [--reps R] [--no-cache]
// Default vocab: $FITSERVE_TESTDATA/vocab/ggml-vocab-gemma-4.gguf.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/testdata.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

using namespace fitserve;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

static std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

static std::string build_corpus(size_t target) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(core::test::shared("spec"), ec))
    if (e.path().extension() == ".md") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  files.push_back(core::test::shared("README.md"));
  files.push_back(core::test::shared("DESIGN.md"));
  files.push_back(core::test::testdata("vocab/ggml-vocab-gemma-4.gguf.inp"));
  std::vector<std::string> parts;
  for (const auto& f : files) {
    std::string s = read_all(f);
    if (!s.empty()) parts.push_back(std::move(s));
  }
  if (parts.empty()) parts.emplace_back("Hello world! Привет мир 你好世界 🦙 3.14159\n\tint x = 0;\n");
  std::string out;
  out.reserve(target + (1 << 20));
  for (size_t i = 0; out.size() < target; ++i) out += parts[i % parts.size()];
  out.resize(target);
  // Do not end inside a UTF-8 character.
  while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
  if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
  return out;
}

int main(int argc, char** argv) {
  std::string vocab = core::test::testdata("vocab/ggml-vocab-gemma-4.gguf");
  std::string text_file;
  double mb = 10.0;
  int reps = 3;
  bool cache = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--mb") && i + 1 < argc) mb = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--text") && i + 1 < argc) text_file = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--no-cache")) cache = false;
    else vocab = argv[i];
  }
  if (!core::test::exists(vocab)) {
    std::fprintf(stderr, "tokenize_bench: vocab not found: %s\n", vocab.c_str());
    return 1;
  }

  // Load time, best of 5: GGUF open + parse + tokenizer build, and the build alone.
  double best_total = 1e30, best_build = 1e30;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    gguf::File f = gguf::File::open(vocab);
    const auto t1 = Clock::now();
    tokenizer::Tokenizer t = tokenizer::Tokenizer::from_gguf(f);
    best_build = std::min(best_build, ms_since(t1));
    best_total = std::min(best_total, ms_since(t0));
  }
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_file(vocab);
  tok.set_word_cache(cache);
  std::printf("vocab: %s (model %s, %d tokens, %zu merges)\n", vocab.c_str(), tokenizer::model_name(tok.model()),
              tok.n_vocab(), tok.n_merges());
  std::printf("load: %.1f ms (gguf open+parse + tokenizer build), build alone %.1f ms (best of 5)\n", best_total,
              best_build);

  const std::string text = text_file.empty() ? build_corpus(static_cast<size_t>(mb * 1e6)) : read_all(text_file);
  std::vector<int32_t> ids;
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    ids.clear();
    const auto t0 = Clock::now();
    tok.tokenize_into(text, false, false, ids);
    best = std::min(best, ms_since(t0));
  }
  std::printf("tokenize (word cache %s): %.2f MB -> %zu tokens in %.1f ms (best of %d): %.1f MB/s, %.2f bytes/token\n",
              cache ? "on" : "off", static_cast<double>(text.size()) / 1e6, ids.size(), best, reps,
              static_cast<double>(text.size()) / 1e6 / (best / 1e3),
              static_cast<double>(text.size()) / static_cast<double>(std::max<size_t>(ids.size(), 1)));

  const auto t0 = Clock::now();
  const std::string back = tok.detokenize(ids, false);
  const double dms = ms_since(t0);
  // A literal U+2581 in the input comes back as a space when the vocab marks spaces with it.
  std::string expect = text;
  if (tok.model() != tokenizer::Model::Gpt2)
    for (size_t p = expect.find("\xE2\x96\x81"); p != std::string::npos; p = expect.find("\xE2\x96\x81", p))
      expect.replace(p, 3, " ");
  const bool same = back == expect;
  std::printf("detokenize: %.1f ms (%.1f MB/s), round trip %s\n", dms,
              static_cast<double>(back.size()) / 1e6 / (dms / 1e3), same ? "exact" : "DIFFERS");
  return same ? 0 : 2;
}
