// tests/plan_accuracy_test.cpp — the memory plan against the memory the process really holds.
// Gemma 4 models with real widths and the full 262144-token vocabulary but few layers (gemma4-1b
// cut to 6 layers, ~460 MB; e2b cut to 8, ~860 MB) are synthesized into a temporary directory
// (removed afterwards), and for several settings
// (-c, -np, -ub, -ctk/-ctv) `fitserve bench --mem-check -o json` runs in its own process:
// after the GGUF header is parsed (the planner's input) it records VmRSS, then loads the model as
// the engine does (KV cache of n_ctx/np cells per sequence, one logits row per sequence), reads
// every weight page (mmap'd file pages count in RSS once touched), writes every KV cell (calloc'd
// pages count once written), runs a full micro-batch and a decode step per sequence over the full
// caches (the compute buffers reach their largest size), and records VmRSS again.
// Checked: KvCache::bytes() == the plan's KV bytes exactly, and the RSS growth is within 3% of
// the plan's total (weights + KV + compute + output).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string run(const std::string& cmd, const std::string& err_file, int* rc) {
  std::string full = cmd + " 2>" + err_file;
  FILE* p = popen(full.c_str(), "r");
  if (!p) {
    *rc = -1;
    return {};
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class PlanAccuracy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = (fs::temp_directory_path() / "fitserve-plan-accuracy-XXXXXX").string();
    if (mkdtemp(tmpl.data())) dir_ = tmpl;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  // Synthesizes `preset` cut to `layers` layers once per test run; "" after a failure (reported).
  static std::string model(const std::string& preset, int layers) {
    if (std::getenv("FITSERVE_UNDER_ASAN") || dir_.empty()) return {};  // check() skips / fails first
    std::string path = dir_ + "/" + preset + "-l" + std::to_string(layers) + "-q4_0.gguf";
    if (fs::exists(path)) return path;
    int rc = 0;
    std::string out = run(std::string(FITSERVE_BIN) + " synth --preset " + preset + " --layers " + std::to_string(layers) +
                              " --type q4_0 -o " + path,
                          dir_ + "/synth.err", &rc);
    EXPECT_EQ(rc, 0) << "synth failed: " << out << slurp(dir_ + "/synth.err");
    return rc == 0 ? path : std::string();
  }

  void check(const std::string& model_path, const std::string& flags) {
    if (std::getenv("FITSERVE_UNDER_ASAN"))
      GTEST_SKIP() << "AddressSanitizer adds shadow memory and keeps freed blocks resident: RSS is not comparable with the plan";
    ASSERT_FALSE(dir_.empty()) << "no temporary directory";
    ASSERT_FALSE(model_path.empty());
    int rc = 0;
    std::string err = dir_ + "/check.err";
    std::string out = run(std::string(FITSERVE_BIN) + " bench --mem-check -m " + model_path + " -t 2 " + flags + " -o json", err, &rc);
    ASSERT_EQ(rc, 0) << out << slurp(err);
    nlohmann::json j = nlohmann::json::parse(out);
    const auto& plan = j["plan"];
    const auto& m = j["measured"];
    auto mib = [](const nlohmann::json& v) { return v.get<double>() / 1048576; };
    const double total = plan["total"].get<double>(), growth = m["rss_growth"].get<double>();
    const double diff = growth / total - 1.0;
    char line[1024];
    std::snprintf(line, sizeof line,
                  "%s %s\n  plan: weights %.1f MiB, KV %.2f MiB, compute %.2f MiB, output %.2f MiB, total %.1f MiB\n"
                  "  measured: KV %.2f MiB, weight pages %.1f MiB, anonymous beyond KV+logits (compute) %.2f MiB, "
                  "RSS growth %.1f MiB (%+.2f%% vs plan)\n  not planned: header %.1f MiB, tokenizer %.1f MiB",
                  fs::path(model_path).filename().c_str(), flags.c_str(), mib(plan["weights"]), mib(plan["kv"]),
                  mib(plan["compute"]), mib(plan["output"]), total / 1048576, mib(m["kv_bytes"]), mib(m["weights_rss_file"]),
                  mib(m["compute_and_other_anon"]), growth / 1048576, 100 * diff, mib(m["header_rss"]), mib(m["tokenizer_rss"]));
    std::printf("[figures] %s\n", line);
    std::fflush(stdout);
    EXPECT_EQ(m["kv_bytes"].get<uint64_t>(), plan["kv"].get<uint64_t>()) << "KV cache bytes differ from the plan\n" << line;
    EXPECT_LE(std::fabs(diff), 0.03) << "RSS growth is not within 3% of the plan's total\n" << line;
    // The weights are all resident once touched (file pages), within a page per tensor.
    EXPECT_NEAR(m["weights_rss_file"].get<double>(), plan["weights"].get<double>(), 0.01 * plan["weights"].get<double>()) << line;
  }

  static std::string dir_;
};

std::string PlanAccuracy::dir_;

// gemma4-1b shape, 6 layers: 5 sliding-window (4 KV heads x 256) + 1 full (1 KV head x 512, K=V).
TEST_F(PlanAccuracy, DefaultF16Cache) { check(model("gemma4-1b", 6), "-c 4096 -ub 512"); }
TEST_F(PlanAccuracy, Q8CacheLongContextSmallUbatch) { check(model("gemma4-1b", 6), "-c 16384 -ub 256 -ctk q8_0 -ctv q8_0"); }
TEST_F(PlanAccuracy, TwoSequences) { check(model("gemma4-1b", 6), "-c 8192 -np 2 -ub 512"); }
TEST_F(PlanAccuracy, FourSequencesQ4Cache) { check(model("gemma4-1b", 6), "-c 8192 -np 4 -ub 128 -ctk q4_0 -ctv q4_0"); }
TEST_F(PlanAccuracy, MixedCacheTypesLargeContext) { check(model("gemma4-1b", 6), "-c 65536 -ub 512 -ctk f16 -ctv q8_0"); }
// e2b shape, 8 layers: per-layer embeddings and 3 shared-KV layers (no cache of their own).
TEST_F(PlanAccuracy, SharedKvAndPerLayerEmbeddings) { check(model("e2b", 8), "-c 8192 -np 2 -ub 512"); }

}  // namespace
