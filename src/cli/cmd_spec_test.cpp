// cli/cmd_spec_test.cpp — speculative decoding from the command line, end to end on the tiny
// dense pair (gemma4-dense + its MTP assistant, no tokenizer: prompts as --tokens): `run -md`
// prints the same tokens as `run` and acceptance statistics; `bench -md` reports acceptance and
// tg t/s with and without the drafter in md/json/csv; wrong drafters exit 1 with a clear error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/test_exec.h"
#include "core/testdata.h"
#include "gguf/gguf.h"

namespace {

namespace t = fitserve::core::test;
using Res = fitserve::cli::test::CmdResult;
Res fs(const std::string& args) { return fitserve::cli::test::run_fitserve(args); }
std::string q(const std::string& s) { return "'" + s + "'"; }
std::string model(const std::string& stem) { return t::testdata("models/" + stem + ".gguf"); }

#define REQUIRE_PAIR()                                                                                   \
  do {                                                                                                   \
    if (!t::exists(model("gemma4-dense-Q8_0")) || !t::exists(model("gemma4-dense-assistant-Q8_0")))      \
      GTEST_SKIP() << "test data not found: " << model("gemma4-dense{,-assistant}-Q8_0");                \
  } while (0)

void expect_error(const Res& r, const std::string& needle) {
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_FALSE(r.signaled);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

const std::string kTokens = "--tokens '2 158 97 19 228 246'";

std::string pair_args() { return "-m " + q(model("gemma4-dense-F16")) + " -md " + q(model("gemma4-dense-assistant-F16")); }

TEST(CliSpec, RunWithDrafterPrintsThePlainTokensAndStatistics) {
  REQUIRE_PAIR();
  Res plain = fs("run -m " + q(model("gemma4-dense-F16")) + " " + kTokens + " -n 24 --temp 0 -t 1");
  ASSERT_EQ(plain.rc, 0) << plain.err;
  EXPECT_EQ(plain.err.find("speculative"), std::string::npos);
  for (std::string extra : {"", "--spec-draft-n-max 5", "--draft-max 1 --spec-type draft-mtp", "--spec-draft-p-min 0.5 --draft-min 2"}) {
    Res r = fs("run " + pair_args() + " " + kTokens + " -n 24 --temp 0 -t 1 " + extra);
    ASSERT_EQ(r.rc, 0) << extra << ": " << r.err;
    EXPECT_EQ(r.out, plain.out) << extra;
    EXPECT_NE(r.err.find("speculative (draft-mtp"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("mean acceptance length"), std::string::npos) << r.err;
  }
  Res r5 = fs("run " + pair_args() + " " + kTokens + " -n 24 --temp 0 -t 1 --spec-draft-n-max 5");
  EXPECT_NE(r5.err.find("n-max 5"), std::string::npos) << r5.err;
  // Seeded sampling: the same tokens with and without the drafter.
  Res s1 = fs("run -m " + q(model("gemma4-dense-F16")) + " " + kTokens + " -n 24 --temp 0.9 -s 5 -t 1");
  Res s2 = fs("run " + pair_args() + " " + kTokens + " -n 24 --temp 0.9 -s 5 -t 1");
  ASSERT_EQ(s1.rc, 0) << s1.err;
  EXPECT_EQ(s1.out, s2.out);
}

TEST(CliSpec, BenchWithDrafterReportsAcceptance) {
  REQUIRE_PAIR();
  const std::string pair = "-m " + q(model("gemma4-dense-Q8_0")) + " -md " + q(model("gemma4-dense-assistant-Q8_0"));
  Res md = fs("bench " + pair + " -p 8 -n 16 -r 1 -t 1 --spec-draft-n-max 2");
  ASSERT_EQ(md.rc, 0) << md.err;
  EXPECT_NE(md.out.find("tg16/greedy"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("tg16/draft-mtp"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("draft acceptance"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("(mean len "), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("n-max 2"), std::string::npos) << md.out;
  Res js = fs("bench " + pair + " -p 0 -n 16 -r 1 -t 1 -o json --draft-max 3");
  ASSERT_EQ(js.rc, 0) << js.err;
  const auto j = nlohmann::json::parse(js.out);
  ASSERT_EQ(j.size(), 3u);  // tg16, tg16/greedy, tg16/draft-mtp
  EXPECT_EQ(j[2]["test"], "tg16/draft-mtp");
  for (const auto& row : j) {
    EXPECT_TRUE(row["draft_acceptance"].is_number()) << row.dump();
    EXPECT_GE(row["draft_mean_accept_len"].get<double>(), 1.0);
    EXPECT_EQ(row["draft_n_max"], 3);
    EXPECT_GT(row["tg_ts_draft"].get<double>(), 0);
    EXPECT_GT(row["tg_ts_greedy"].get<double>(), 0);
  }
  Res csv = fs("bench " + pair + " -p 0 -n 8 -r 1 -t 1 -o csv");
  ASSERT_EQ(csv.rc, 0) << csv.err;
  EXPECT_NE(csv.out.find("draft_acceptance,draft_mean_accept_len"), std::string::npos) << csv.out;
}

std::string write_wrong_assistant() {
  auto f = fitserve::gguf::File::open(model("gemma4-dense-assistant-Q8_0"));
  fitserve::gguf::Writer w;
  for (const auto& kv : f.metadata())
    if (kv.key != "general.alignment") w.set_value(kv.key, kv.value);
  w.set_u32("gemma4-assistant.embedding_length_out", 512);
  for (const auto& ti : f.tensors())
    w.add_tensor(ti.name, ti.type, std::vector<int64_t>(ti.ne, ti.ne + std::max(1, ti.n_dims)), ti.data, ti.nbytes);
  const std::string path = (std::filesystem::temp_directory_path() / ("fitserve_cli_wrong_mtp_" + std::to_string(::getpid()) + ".gguf")).string();
  w.write_file(path);
  return path;
}

TEST(CliSpec, WrongDraftersAndOptionsAreRefused) {
  REQUIRE_PAIR();
  const std::string target = "-m " + q(model("gemma4-dense-Q8_0"));
  const std::string wrong = write_wrong_assistant();
  expect_error(fs("run " + target + " -md " + q(wrong) + " " + kTokens + " -n 4"), "n_embd=512");
  expect_error(fs("bench " + target + " -md " + q(wrong) + " -p 0 -n 4 -r 1"), "n_embd=512");
  std::filesystem::remove(wrong);
  // A text model is not an assistant.
  expect_error(fs("run " + target + " -md " + q(model("gemma4-dense-F16")) + " " + kTokens + " -n 4"), "cannot be used as a drafter");
  expect_error(fs("bench " + target + " -md " + q(model("gemma4-dense-F16")) + " -p 0 -n 4 -r 1"), "cannot be used as a drafter");
  // An assistant is not a target.
  expect_error(fs("run -m " + q(model("gemma4-dense-assistant-Q8_0")) + " " + kTokens + " -n 4"), "MTP assistant");
  const std::string pair = target + " -md " + q(model("gemma4-dense-assistant-Q8_0"));
  expect_error(fs("run " + pair + " " + kTokens + " --spec-type ngram-simple"), "not supported");
  expect_error(fs("run " + pair + " " + kTokens + " --spec-draft-n-max -1"), "n-max");
  expect_error(fs("run " + pair + " " + kTokens + " --spec-draft-p-min 2"), "p-min");
  expect_error(fs("run " + pair + " -p hello"), "no tokenizer");
  expect_error(fs("bench " + pair + " -p 0 -n 4 --spec-draft-n-max x"), "spec-draft-n-max");
}

}  // namespace
