// tokenizer/vectors_test.cpp — the reference .inp/.out vectors for every supported vocab,
// plus the detokenize(tokenize(s)) == s round trip on the same cases.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/testdata.h"
#include "tokenizer/cases.h"
#include "tokenizer/tokenizer.h"

namespace fitserve::tokenizer {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct VocabCase {
  const char* name;  // file stem
  bool in_repo;      // tests/data/vocab/ (small) or ../shared/testdata/vocab/ (large)
  Model model;
};

std::string vocab_path(const VocabCase& c) {
  const std::string file = std::string("ggml-vocab-") + c.name + ".gguf";
  return c.in_repo ? core::test::repo_data("vocab/" + file) : core::test::testdata("vocab/" + file);
}

class Vectors : public ::testing::TestWithParam<VocabCase> {};

TEST_P(Vectors, MatchReference) {
  const VocabCase& vc = GetParam();
  const std::string path = vocab_path(vc);
  if (!core::test::exists(path) || !core::test::exists(path + ".inp") || !core::test::exists(path + ".out"))
    GTEST_SKIP() << "missing " << path << " (+ .inp/.out)";
  const Tokenizer tok = Tokenizer::from_file(path);
  EXPECT_EQ(tok.model(), vc.model);
  const auto cases = split_cases(read_all(path + ".inp"));
  std::vector<std::string> lines;
  {
    std::istringstream out(read_all(path + ".out"));
    std::string line;
    while (std::getline(out, line)) lines.push_back(line);
  }
  ASSERT_GT(cases.size(), 40u);
  ASSERT_EQ(cases.size(), lines.size()) << "cases in .inp vs lines in .out";
  size_t ok = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto expected = parse_ids(lines[i]);
    const auto got = tok.tokenize(cases[i], /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(got, expected) << "case " << i << ": '" << cases[i] << "'";
    if (got == expected) ++ok;
    EXPECT_EQ(tok.detokenize(got, false), cases[i]) << "round trip, case " << i;
  }
  EXPECT_EQ(ok, cases.size());
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, Vectors,
                         ::testing::Values(VocabCase{"gemma-4", false, Model::Gemma4},
                                           VocabCase{"llama-spm", true, Model::Llama},
                                           VocabCase{"phi-3", true, Model::Llama},
                                           VocabCase{"gpt-2", true, Model::Gpt2},
                                           VocabCase{"llama-bpe", false, Model::Gpt2},
                                           VocabCase{"qwen2", false, Model::Gpt2}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(Cases, SplitFormat) {
  EXPECT_EQ(split_cases("a\n__ggml_vocab_test__\n\n__ggml_vocab_test__\nb"),
            (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_cases("a\n__ggml_vocab_test__\n\n\n__ggml_vocab_test__\n"),
            (std::vector<std::string>{"a", "\n"}));
  EXPECT_EQ(split_cases(""), std::vector<std::string>{});
  EXPECT_EQ(parse_ids(" 1 22  333"), (std::vector<int32_t>{1, 22, 333}));
  EXPECT_EQ(parse_ids(""), std::vector<int32_t>{});
  EXPECT_THROW(parse_ids("1 x 2"), core::Error);
}

}  // namespace
}  // namespace fitserve::tokenizer
