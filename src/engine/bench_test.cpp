// engine/bench_test.cpp — statistics, memory probes, bytes-per-token, a real run on a tiny model,
// and the reports (markdown, leaderboard order, csv quoting, json fields, svg bars).
#include "engine/bench.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"
#include "core/testdata.h"
#include "gguf/gguf.h"

namespace fitserve::engine {
namespace {

TEST(Bench, MeanAndSampleStandardDeviation) {
  MeanSd a = mean_sd({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_DOUBLE_EQ(a.mean, 5.0);
  EXPECT_NEAR(a.sd, std::sqrt(32.0 / 7.0), 1e-12);  // n − 1 denominator
  MeanSd one = mean_sd({3.5});
  EXPECT_DOUBLE_EQ(one.mean, 3.5);
  EXPECT_EQ(one.sd, 0.0);
  EXPECT_EQ(mean_sd({}).mean, 0.0);
}

TEST(Bench, RssGrowsByTheBytesWrittenAndPeakResets) {
  if (std::getenv("FITSERVE_UNDER_ASAN"))
    GTEST_SKIP() << "AddressSanitizer's allocator keeps freed blocks resident (quarantine) and adds shadow "
                    "memory, so RSS accounting is not comparable under it";
  const size_t n = 64u << 20;
  MemStatus a = read_mem_status();
  ASSERT_GT(a.rss, 0u);
  ASSERT_GE(a.hwm, a.rss);
  auto* p = static_cast<char*>(std::malloc(n));
  ASSERT_NE(p, nullptr);
  MemStatus b = read_mem_status();  // allocated, untouched: not resident
  std::memset(p, 1, n);
  MemStatus c = read_mem_status();
  EXPECT_LT(double(b.rss) - double(a.rss), 8.0 * 1048576);
  EXPECT_NEAR(double(c.rss_anon) - double(b.rss_anon), double(n), 4.0 * 1048576);
  volatile char sink = p[n / 2];
  (void)sink;
  std::free(p);
  MemStatus d = read_mem_status();
  EXPECT_GE(double(d.hwm), double(c.rss) - 1048576.0);  // the peak remembers the freed block (counters lag a little)
  if (reset_peak_rss()) {
    EXPECT_LT(double(read_mem_status().hwm), double(c.rss) - 32.0 * 1048576);
  }
}

TEST(Bench, BytesPerGeneratedTokenCountsTheHeadOnceAndOneEmbeddingRow) {
  gguf::File f = gguf::File::open(core::test::testdata("models/gemma4-dense-Q8_0.gguf"));
  const bool tied = f.tensor("output.weight") == nullptr;
  uint64_t expect = 0;
  for (const auto& t : f.tensors()) {
    if (t.n_dims < 2) continue;
    if (t.name == "token_embd.weight") expect += t.row_bytes() + (tied ? t.nbytes : 0);
    else expect += t.nbytes;
  }
  EXPECT_EQ(gen_bytes_per_token(f), expect);
  EXPECT_LT(gen_bytes_per_token(f), f.total_tensor_bytes() + f.tensor("token_embd.weight")->nbytes);
}

TEST(Bench, RunsPromptAndGenerationTestsOnATinyModel) {
  BenchConfig cfg;
  cfg.model_path = core::test::testdata("models/gemma4-dense-Q8_0.gguf");
  cfg.tests = {TestSpec{16, 0}, TestSpec{0, 8}};
  cfg.reps = 2;
  cfg.n_threads = 1;
  ModelResult r = run_bench(cfg);
  ASSERT_EQ(r.tests.size(), 2u);
  EXPECT_EQ(r.tests[0].test.name(), "pp16");
  EXPECT_EQ(r.tests[1].test.name(), "tg8");
  for (const auto& t : r.tests) {
    ASSERT_EQ(t.ns.size(), 2u);
    ASSERT_EQ(t.ts.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_GT(t.ns[i], 0);
      EXPECT_NEAR(t.ts[i], double(t.test.n_prompt + t.test.n_gen) * 1e9 / t.ns[i], 1e-6 * t.ts[i]);
    }
    EXPECT_NEAR(t.t_ts.mean, (t.ts[0] + t.ts[1]) / 2, 1e-9 * t.t_ts.mean);
  }
  EXPECT_EQ(r.n_ctx, 256);  // 16 tokens, padded to the plan's cell step
  EXPECT_GT(r.plan_weights, 0u);
  EXPECT_EQ(r.plan_weights, r.model_size);
  EXPECT_EQ(r.plan_total, r.plan_weights + r.plan_kv + r.plan_compute + r.plan_output);
  EXPECT_GE(r.peak_rss, r.rss_before);
  EXPECT_TRUE(r.acceptance.empty());
  EXPECT_NE(r.model_type.find("gemma4"), std::string::npos);
}

// With a drafter the first tg test is repeated as greedy generation without and with it
// (bench_spec.cpp); the acceptance fields reach every report.
TEST(Bench, DrafterRunsTheSpeculativeTgTest) {
  BenchConfig cfg;
  cfg.model_path = core::test::testdata("models/gemma4-dense-Q8_0.gguf");
  cfg.draft_path = core::test::testdata("models/gemma4-dense-assistant-Q8_0.gguf");
  if (!core::test::exists(cfg.model_path) || !core::test::exists(cfg.draft_path)) GTEST_SKIP() << "test data not found: " << cfg.draft_path;
  cfg.tests = {TestSpec{4, 0}, TestSpec{0, 12}};
  cfg.reps = 2;
  cfg.n_threads = 1;
  cfg.draft_n_max = 2;
  ModelResult r = run_bench(cfg);
  EXPECT_GT(r.plan_weights, r.model_size);  // the drafter's weights are in the plan
  ASSERT_TRUE(r.has_spec);
  EXPECT_EQ(r.spec.n_gen, 12);
  EXPECT_EQ(r.spec.n_max, 2);
  EXPECT_EQ(r.spec.n_prompt, 16);  // no tokenizer: BOS + 15 seeded ids
  EXPECT_GT(r.spec.drafted, 0);
  EXPECT_LE(r.spec.accepted, r.spec.drafted);
  EXPECT_LE(r.spec.drafted, 2 * r.spec.verif_steps);
  EXPECT_EQ(r.spec.rate_at.size(), 2u);
  const TestResult* a = r.find_test("tg12/greedy");
  const TestResult* b = r.find_test("tg12/draft-mtp");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->ts.size(), 2u);
  EXPECT_EQ(b->ts.size(), 2u);
  EXPECT_GT(b->t_ts.mean, 0);
  EXPECT_EQ(r.find(true)->test.name(), "tg12");  // the plain tests stay first
  EXPECT_NE(r.acceptance.find("% (mean len"), std::string::npos) << r.acceptance;
  const std::string lb = format_leaderboard({r});
  EXPECT_NE(lb.find("draft acceptance"), std::string::npos);
  EXPECT_NE(lb.find(r.acceptance), std::string::npos);
  EXPECT_NE(format_markdown({r}).find("tg12/draft-mtp"), std::string::npos);
  const auto j = nlohmann::json::parse(format_json({r}));
  ASSERT_EQ(j.size(), 4u);
  for (const auto& row : j) {
    EXPECT_TRUE(row["draft_acceptance"].is_number());
    EXPECT_DOUBLE_EQ(row["draft_mean_accept_len"].get<double>(), r.spec.mean_len());
    EXPECT_EQ(row["draft_n_max"], 2);
    EXPECT_DOUBLE_EQ(row["tg_ts_draft"].get<double>(), b->t_ts.mean);
    EXPECT_DOUBLE_EQ(row["tg_ts_greedy"].get<double>(), a->t_ts.mean);
  }
  const std::string csv = format_csv({r});
  EXPECT_NE(csv.find("draft_acceptance,draft_mean_accept_len,draft_n_max,tg_ts_greedy,tg_ts_draft"), std::string::npos);
  EXPECT_NE(csv.find("tg12/draft-mtp"), std::string::npos);
  // Without a tg test there is nothing to speculate on.
  cfg.tests = {TestSpec{4, 0}};
  ModelResult p = run_bench(cfg);
  EXPECT_FALSE(p.has_spec);
  EXPECT_EQ(p.acceptance, "n/a (no tg test)");
}

TEST(Bench, MmprojIsCheckedAndCountedButNotRun) {
  BenchConfig cfg;
  cfg.model_path = core::test::testdata("vision/models/gemma4-vis-text-e64.gguf");
  cfg.mmproj_path = core::test::testdata("vision/models/mmproj-gemma4v-e64.gguf");
  cfg.tests = {TestSpec{4, 0}};
  cfg.reps = 1;
  cfg.n_threads = 1;
  ModelResult r = run_bench(cfg);
  EXPECT_GT(r.plan_weights, r.model_size);
  EXPECT_NE(r.mmproj_note.find("not loaded"), std::string::npos);
  EXPECT_TRUE(r.acceptance.empty());
  cfg.mmproj_path = core::test::testdata("vision/models/mmproj-gemma4v-e96-WRONG.gguf");
  try {
    run_bench(cfg);
    FAIL() << "a mismatched mmproj must be refused";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("n_embd=96"), std::string::npos) << e.what();
  }
}

ModelResult fake(const std::string& name, double pp, double tg) {
  ModelResult r;
  r.path = "/m/" + name;
  r.filename = name;
  r.model_type = "gemma4 1.1B Q4_0";
  r.model_size = 700ull << 20;
  r.file_bytes = 701ull << 20;
  r.n_params = 1094000000;
  r.n_threads = 2;
  r.n_batch = 2048;
  r.n_ubatch = 512;
  r.type_k = r.type_v = "f16";
  r.gen_bytes_per_token = 500000000;
  r.peak_rss = 800ull << 20;
  r.plan_total = 780ull << 20;
  TestResult a;
  a.test = {512, 0};
  a.ts = {pp - 1, pp + 1};
  a.ns = {1e9, 1e9};
  a.t_ts = mean_sd(a.ts);
  a.t_ns = mean_sd(a.ns);
  TestResult b = a;
  b.test = {0, 128};
  b.ts = {tg, tg};
  b.t_ts = mean_sd(b.ts);
  r.tests = {a, b};
  return r;
}

TEST(Bench, MarkdownHasTheLlamaBenchColumns) {
  std::string md = format_markdown({fake("a.gguf", 100, 20)});
  EXPECT_NE(md.find("| model "), std::string::npos);
  for (const char* c : {"size", "params", "backend", "threads", "test", "t/s"}) EXPECT_NE(md.find(c), std::string::npos) << c;
  EXPECT_NE(md.find("pp512"), std::string::npos);
  EXPECT_NE(md.find("100.00 ± 1.41"), std::string::npos);
  EXPECT_NE(md.find("20.00 ± 0.00"), std::string::npos);
  EXPECT_NE(md.find("700.00 MiB"), std::string::npos);
  EXPECT_NE(md.find("1.09 B"), std::string::npos);
  EXPECT_EQ(md.find("type_k"), std::string::npos);  // defaults are not shown
}

TEST(Bench, LeaderboardRanksByGenerationSpeed) {
  std::string lb = format_leaderboard({fake("slow.gguf", 300, 10), fake("fast.gguf", 100, 30)});
  size_t fast = lb.find("fast.gguf"), slow = lb.find("slow.gguf");
  ASSERT_NE(fast, std::string::npos);
  ASSERT_NE(slow, std::string::npos);
  EXPECT_LT(fast, slow);
  EXPECT_NE(lb.find("15.0"), std::string::npos);  // 30 t/s x 0.5 GB per token
  EXPECT_NE(lb.find("800.00 MiB"), std::string::npos);
  EXPECT_NE(lb.find("780.00 MiB"), std::string::npos);
}

TEST(Bench, CsvQuotesAndJsonCarriesSamples) {
  ModelResult r = fake("we\"ird,name.gguf", 100, 20);
  r.path = r.filename;
  std::string csv = format_csv({r});
  EXPECT_NE(csv.find("\"we\"\"ird,name.gguf\""), std::string::npos);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);  // header + 2 tests
  auto j = nlohmann::json::parse(format_json({r}));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["n_prompt"], 512);
  EXPECT_EQ(j[0]["samples_ts"].size(), 2u);
  EXPECT_DOUBLE_EQ(j[1]["avg_ts"].get<double>(), 20.0);
  EXPECT_EQ(j[1]["gen_bytes_per_token"], 500000000);
}

TEST(Bench, SvgHasOneBarPerModelAndTestScaledToTheValue) {
  std::string svg = svg_chart({fake("a<b.gguf", 100, 20), fake("c.gguf", 50, 40)});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("a&lt;b.gguf"), std::string::npos);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  // Bars: <rect x=".." y=".." width="46" height="H" ...>; per panel the taller bar is the faster model.
  std::regex bar("<rect x=\"\\d+\" y=\"[0-9.]+\" width=\"46\" height=\"([0-9.]+)\"");
  std::vector<double> h;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), bar); it != std::sregex_iterator(); ++it) h.push_back(std::stod((*it)[1]));
  ASSERT_EQ(h.size(), 4u);                 // 2 panels x 2 models
  EXPECT_NEAR(h[0] / h[1], 100.0 / 50.0, 0.02);  // pp512 panel
  EXPECT_NEAR(h[2] / h[3], 20.0 / 40.0, 0.02);   // tg128 panel
  EXPECT_NE(svg.find("pp512 (tokens/s)"), std::string::npos);
  EXPECT_NE(svg.find("tg128 (tokens/s)"), std::string::npos);
}

}  // namespace
}  // namespace fitserve::engine
