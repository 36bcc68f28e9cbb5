// cli/cli_test.cpp — the `fitserve` binary end to end: inspect, dump, quantize, run, logits,
// and that every bad input is a one-line error with exit status 1 (never a signal).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <dirent.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/test_exec.h"
#include "core/testdata.h"

namespace {

namespace t = fitserve::core::test;
using nlohmann::json;

using Res = fitserve::cli::test::CmdResult;
std::string slurp(const std::string& p) { return fitserve::core::read_file(p); }
Res fs(const std::string& args) { return fitserve::cli::test::run_fitserve(args); }

std::string q(const std::string& s) { return "'" + s + "'"; }
const std::string kStories = t::repo_data("stories260K.gguf");

void expect_error(const Res& r, const std::string& needle) {
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_FALSE(r.signaled);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

}  // namespace

TEST(Cli, InspectJsonStories) {
  Res r = fs("inspect --json " + q(kStories));
  ASSERT_EQ(r.rc, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["tensors"].size(), 48u);
  EXPECT_EQ(j["n_params"].get<int64_t>() * 4, j["n_bytes"].get<int64_t>());  // all F32
  EXPECT_EQ(j["metadata"]["llama.block_count"], 5);
  EXPECT_TRUE(j["metadata"].contains("tokenizer.ggml.tokens"));
  auto& t0 = j["tensors"][0];
  for (auto k : {"name", "type", "shape", "offset", "bytes"}) EXPECT_TRUE(t0.contains(k)) << k;
}

TEST(Cli, InspectTextAndV1Refusal) {
  Res r = fs("inspect " + q(kStories));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:  llama"), std::string::npos);
  EXPECT_NE(r.out.find("tokenizer:     model llama"), std::string::npos) << r.out;
  Res v1 = fs("inspect " + q(t::repo_data("stories260K-ggufv1.gguf")));
  expect_error(v1, "GGUF version 1 is no longer supported");
  expect_error(fs("inspect /nonexistent.gguf"), "cannot open");
  expect_error(fs("inspect --bogus x"), "unknown option");
}

TEST(Cli, InspectEveryGgufUnderShared) {
  std::string root = t::testdata_root() + "/..";
  if (!t::exists(root + "/testdata")) GTEST_SKIP() << "no shared data at " << root;
  std::vector<std::string> files;
  std::function<void(const std::string&)> walk = [&](const std::string& d) {
    DIR* dir = opendir(d.c_str());
    if (!dir) return;
    while (dirent* e = readdir(dir)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      std::string p = d + "/" + n;
      if (e->d_type == DT_DIR) walk(p);
      else if (n.size() > 5 && n.substr(n.size() - 5) == ".gguf") files.push_back(p);
    }
    closedir(dir);
  };
  walk(root);
  ASSERT_GT(files.size(), 20u);
  for (auto& f : files) {
    Res r = fs("inspect --json " + q(f));
    if (f.find("ggufv1") != std::string::npos) {
      EXPECT_EQ(r.rc, 1) << f;
      continue;
    }
    EXPECT_EQ(r.rc, 0) << f << ": " << r.err;
    if (r.rc == 0) EXPECT_NO_THROW(json::parse(r.out)) << f;
  }
}

TEST(Cli, DumpMatchesFileBytes) {
  Res r = fs("dump " + q(kStories) + " blk.0.attn_norm.weight --f32");
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.out.size(), 64u * 4);
  Res txt = fs("dump " + q(kStories) + " blk.0.attn_norm.weight");
  ASSERT_EQ(txt.rc, 0);
  float first;
  std::memcpy(&first, r.out.data(), 4);
  EXPECT_NEAR(std::stof(txt.out.substr(0, txt.out.find(' '))), first, 1e-6);
  expect_error(fs("dump " + q(kStories) + " no.such.tensor"), "no tensor named");
}

TEST(Cli, RunGreedyPrintsGoldenContinuation) {
  json g = json::parse(slurp(t::repo_data("stories260K.once.json")));
  // The golden prompt is its first n_prompt tokens; they decode to "Once upon a time".
  Res r = fs("run -m " + q(kStories) + " -p 'Once upon a time' -n 64 --temp 0 -t 2");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "Once upon a time" + g["continuation_text"].get<std::string>() + "\n");
  EXPECT_NE(r.err.find("generation:"), std::string::npos);
  // Same with a q8_0 V cache... and with bf16 K/V.
  Res b = fs("run -m " + q(kStories) + " -p 'Once upon a time' -n 64 --temp 0 -ctk bf16 -ctv bf16");
  ASSERT_EQ(b.rc, 0) << b.err;
  EXPECT_EQ(b.out, r.out);
}

TEST(Cli, RunBadInputs) {
  expect_error(fs("run -m " + q(kStories) + " -p hi -n -2"), "-n must be >= -1");
  expect_error(fs("run -m " + q(kStories) + " -p hi -ctk q7_0"), "unknown KV cache type");
  std::string long_prompt(3000, 'a');
  for (size_t i = 1; i < long_prompt.size(); i += 2) long_prompt[i] = ' ';
  expect_error(fs("run -m " + q(kStories) + " -c 64 -p '" + long_prompt + "'"), "context");
  expect_error(fs("run -p hi"), "-m MODEL is required");
  expect_error(fs("run -m " + q(kStories) + " -p hi --tmep 1"), "did you mean --temp");
  std::string vis = t::testdata("vision/models/mmproj-gemma4v-e64.gguf");
  if (t::exists(vis)) expect_error(fs("run -m " + q(vis) + " -p hi"), "mmproj");
  // A model of an unsupported architecture, made by requantizing then patching is overkill: the
  // model test covers that; here a non-GGUF file.
  expect_error(fs("run -m " + q(t::repo_data("stories260K.once.json")) + " -p hi"), "bad magic");
}

TEST(Cli, LogitsMatchesGoldenSchema) {
  json g = json::parse(slurp(t::repo_data("stories260K.once.json")));
  std::string ids;
  for (auto& x : g["tokens"]) ids += std::to_string(x.get<int>()) + " ";
  Res r = fs("logits -m " + q(kStories) + " --tokens '" + ids + "' --top-k 20 --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["positions"].size(), g["positions"].size());
  double md = 0;
  for (size_t i = 0; i < g["positions"].size(); ++i) {
    EXPECT_EQ(j["positions"][i]["top"][0][0], g["positions"][i]["top"][0][0]) << i;
    md = std::max(md, std::fabs(j["positions"][i]["top"][0][1].get<double>() - g["positions"][i]["top"][0][1].get<double>()));
  }
  EXPECT_LE(md, 2e-3);
  expect_error(fs("logits -m " + q(kStories) + " --tokens '1 99999'"), "outside the vocabulary");
}

TEST(Cli, QuantizeThenRun) {
  std::string out = ::testing::TempDir() + "/s-q8.gguf";
  Res r = fs("quantize " + q(kStories) + " " + q(out) + " q8_0");
  ASSERT_EQ(r.rc, 0) << r.err;
  Res i = fs("inspect --json " + q(out));
  ASSERT_EQ(i.rc, 0);
  json j = json::parse(i.out);
  EXPECT_TRUE(j["bytes_by_type"].contains("Q8_0"));
  Res run = fs("run -m " + q(out) + " -p 'Once upon a time' -n 16 --temp 0");
  EXPECT_EQ(run.rc, 0) << run.err;
  EXPECT_EQ(run.out.rfind("Once upon a time, there was", 0), 0u) << run.out;
  std::remove(out.c_str());
  expect_error(fs("quantize " + q(kStories) + " /tmp/x.gguf q9_9"), "unsupported target type");
}

TEST(Cli, PerplexityAndKlAgainstBase) {
  json g = json::parse(slurp(t::repo_data("stories260K.greedy.json")));
  std::string text = g["text"].get<std::string>();
  std::string tf = ::testing::TempDir() + "/ppl.txt", base = ::testing::TempDir() + "/ppl.kl";
  std::string q8 = ::testing::TempDir() + "/ppl-q8.gguf", q4 = ::testing::TempDir() + "/ppl-q4.gguf";
  { std::ofstream(tf) << text << text; }
  Res r = fs("perplexity -m " + q(kStories) + " -f " + q(tf) + " -c 64 --save-kl-base " + q(base));
  ASSERT_EQ(r.rc, 0) << r.err;
  // The model wrote this text itself (greedy), so its perplexity is low.
  double ppl = std::stod(r.out.substr(r.out.find("perplexity: ") + 12));
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 3.0);
  // Against itself: KL 0, same top-1 everywhere.
  Res self = fs("perplexity -m " + q(kStories) + " -f " + q(tf) + " -c 64 --kl-base " + q(base));
  ASSERT_EQ(self.rc, 0) << self.err;
  EXPECT_NE(self.out.find("kl-divergence: mean 0.0000"), std::string::npos) << self.out;
  EXPECT_NE(self.out.find("same top-1: 100.00%"), std::string::npos) << self.out;
  // A Q8_0 copy is closer to the base than a Q4_0 copy.
  ASSERT_EQ(fs("quantize " + q(kStories) + " " + q(q8) + " q8_0").rc, 0);
  ASSERT_EQ(fs("quantize " + q(kStories) + " " + q(q4) + " q4_0").rc, 0);
  auto kl_of = [&](const std::string& m) {
    Res k = fs("perplexity -m " + q(m) + " -f " + q(tf) + " -c 64 --kl-base " + q(base));
    EXPECT_EQ(k.rc, 0) << k.err;
    auto p = k.out.find("kl-divergence: mean ");
    return p == std::string::npos ? 1e9 : std::stod(k.out.substr(p + 20));
  };
  double k8 = kl_of(q8), k4 = kl_of(q4);
  EXPECT_LT(k8, k4);
  EXPECT_LT(k8, 0.01);
  // A base from another setting is refused with the reason.
  expect_error(fs("perplexity -m " + q(kStories) + " -f " + q(tf) + " -c 32 --kl-base " + q(base)), "positions");
  expect_error(fs("perplexity -m " + q(kStories) + " -f /nonexistent.txt"), "cannot open");
  for (auto& f : {tf, base, q8, q4}) std::remove(f.c_str());
}
