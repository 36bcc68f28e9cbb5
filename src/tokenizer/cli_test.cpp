// tokenizer/cli_test.cpp — `fitserve tokenize --cases` reproduces the reference .out files and
// `fitserve detokenize` inverts it; CLI errors exit 1 with "error: ...". Skips when the
// fitserve binary has not been built.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "core/testdata.h"
#include "tokenizer/cases.h"

namespace fitserve::tokenizer {
namespace {

#ifdef FITSERVE_BIN
const std::string kBin = FITSERVE_BIN;
#else
const std::string kBin;
#endif

struct Result {
  int rc;
  std::string out;
};

Result run(const std::string& args) {
  const std::string cmd = kBin + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  Result r{-1, {}};
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

#define NEED_BIN()                                                        \
  if (kBin.empty() || !core::test::exists(kBin)) GTEST_SKIP() << "fitserve binary not built: " << kBin

TEST(Cli, CasesReproduceReference) {
  NEED_BIN();
  int checked = 0;
  for (const char* name : {"gemma-4", "llama-spm", "phi-3", "gpt-2", "llama-bpe", "qwen2"}) {
    std::string path = core::test::repo_data(std::string("vocab/ggml-vocab-") + name + ".gguf");
    if (!core::test::exists(path)) path = core::test::testdata(std::string("vocab/ggml-vocab-") + name + ".gguf");
    if (!core::test::exists(path)) continue;
    const Result r = run("tokenize -m '" + path + "' --cases '" + path + ".inp'");
    ASSERT_EQ(r.rc, 0) << r.out;
    std::istringstream got(r.out), want(read_all(path + ".out"));
    std::string g, w;
    size_t lines = 0;
    while (std::getline(want, w)) {
      ASSERT_TRUE(static_cast<bool>(std::getline(got, g))) << name << ": output ends early";
      EXPECT_EQ(parse_ids(g), parse_ids(w)) << name << " line " << lines;
      ++lines;
    }
    EXPECT_FALSE(static_cast<bool>(std::getline(got, g))) << name << ": extra output";
    EXPECT_GT(lines, 40u);
    ++checked;
  }
  EXPECT_GE(checked, 3);  // the repo's own vocabs at least
}

TEST(Cli, TokenizeDetokenize) {
  NEED_BIN();
  const std::string v = core::test::repo_data("vocab/ggml-vocab-llama-spm.gguf");
  // Reference ids of "Hello world" in this vocab (from the .out vectors: " 15043 3186").
  Result r = run("tokenize -m '" + v + "' --text 'Hello world' --add-special");
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "1 15043 3186\n");
  r = run("detokenize -m '" + v + "' --ids '1 15043 3186'");
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "Hello world\n");
  r = run("detokenize -m '" + v + "' --ids '1 15043 3186' --special");
  EXPECT_EQ(r.out, "<s>Hello world\n");
  r = run("tokenize -m '" + v + "' --text 'Hello' --pieces");
  EXPECT_EQ(r.out, "15043\t Hello\n");
}

TEST(Cli, Errors) {
  NEED_BIN();
  Result r = run("tokenize --text hi");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("error: tokenize: missing -m"), std::string::npos) << r.out;
  r = run("tokenize -m '" + core::test::repo_data("quant-golden.gguf") + "' --text hi");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("no tokenizer metadata"), std::string::npos) << r.out;
  r = run("tokenize -m '" + core::test::repo_data("vocab/ggml-vocab-gpt-2.gguf") + "'");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("exactly one of"), std::string::npos) << r.out;
  r = run("detokenize -m '" + core::test::repo_data("vocab/ggml-vocab-gpt-2.gguf") + "' --ids '1 x'");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("error: "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fitserve::tokenizer
