// tokenizer/gemma4_test.cpp — Gemma 4 specifics against golden data: chat prompts tokenized with
// specials (reference chat goldens), BOS handling and detokenization of the greedy golden, EOG
// set, control vs user-defined rendering, parse_special on/off.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"
#include "core/testdata.h"
#include "tokenizer/tokenizer.h"

namespace fitserve::tokenizer {
namespace {

const std::string kVocab = "vocab/ggml-vocab-gemma-4.gguf";
const std::string kModel = "models/gemma4-full-vocab-Q8_0.gguf";

// One load per test binary run (the vocab is 262k tokens).
const Tokenizer* load(const std::string& rel) {
  static std::map<std::string, std::optional<Tokenizer>> cache;
  auto it = cache.find(rel);
  if (it == cache.end()) {
    const std::string p = core::test::testdata(rel);
    std::optional<Tokenizer> t;
    if (core::test::exists(p)) t.emplace(Tokenizer::from_file(p));
    it = cache.emplace(rel, std::move(t)).first;
  }
  return it->second ? &*it->second : nullptr;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

#define NEED(tok, rel)                                                            \
  const Tokenizer* tok = load(rel);                                               \
  if (!tok) GTEST_SKIP() << "missing " << core::test::testdata(rel)

TEST(Gemma4, Metadata) {
  NEED(tok, kVocab);
  EXPECT_EQ(tok->model(), Model::Gemma4);
  EXPECT_EQ(tok->n_vocab(), 262144);
  EXPECT_EQ(tok->bos(), 2);
  EXPECT_EQ(tok->eos(), 1);
  EXPECT_EQ(tok->pad(), 0);
  EXPECT_EQ(tok->find_token("<bos>"), 2);
  EXPECT_EQ(tok->find_token("<turn|>"), 106);
  EXPECT_EQ(tok->find_token("no such token text"), -1);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_FALSE(tok->add_eos());
  EXPECT_EQ(tok->eot(), 106);
  // EOG = <eos>, <turn|>, <|tool_response>; <|tool_response> is forced to CONTROL.
  EXPECT_TRUE(tok->is_eog(1));
  EXPECT_TRUE(tok->is_eog(106));
  EXPECT_TRUE(tok->is_eog(50));
  EXPECT_FALSE(tok->is_eog(105));
  EXPECT_FALSE(tok->is_eog(2));
  EXPECT_EQ(tok->eog_tokens().size(), 3u);
  EXPECT_TRUE(tok->is_control(50));
  EXPECT_EQ(tok->token_type(48), TokenType::UserDefined);  // <|tool_call>
  EXPECT_EQ(tok->token_type(105), TokenType::Control);     // <|turn>
  EXPECT_TRUE(tok->is_byte(tok->find_token("<0x0A>")));
}

TEST(Gemma4, Rendering) {
  NEED(tok, kVocab);
  EXPECT_EQ(tok->token_to_piece(106, false), "");  // control: only with special
  EXPECT_EQ(tok->token_to_piece(106, true), "<turn|>");
  EXPECT_EQ(tok->token_to_piece(50, false), "");   // EOG forced to control
  EXPECT_EQ(tok->token_to_piece(48, false), "<|tool_call>");  // user-defined: always
  EXPECT_EQ(tok->token_to_piece(100, false), "<|channel>");
  EXPECT_EQ(tok->token_to_piece(26352, false), " Hello");  // "▁Hello"
  EXPECT_EQ(tok->token_to_piece(tok->find_token("<0xF0>"), false), "\xF0");
  EXPECT_THROW(tok->token_to_piece(-1, false), core::Error);
  EXPECT_THROW(tok->token_to_piece(262144, false), core::Error);
}

TEST(Gemma4, SpecialsAndBos) {
  NEED(tok, kVocab);
  // From the reference vectors: "Hello world" -> 9259 1902.
  EXPECT_EQ(tok->tokenize("Hello world", true, false), (std::vector<int32_t>{2, 9259, 1902}));
  EXPECT_EQ(tok->tokenize("", true, false), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok->tokenize("", false, false), (std::vector<int32_t>{}));
  // Control strings in user text stay text unless parse_special.
  const auto plain = tok->tokenize("<|turn>user\n", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 105), 0);
  EXPECT_EQ(tok->detokenize(plain, false), "<|turn>user\n");
  const auto parsed = tok->tokenize("<|turn>user\n", false, true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed[0], 105);
  std::vector<int32_t> rest(parsed.begin() + 1, parsed.end());
  EXPECT_EQ(rest, tok->tokenize("user\n", false, false));
  // User-defined tokens are matched even without parse_special, like the reference.
  const auto call = tok->tokenize("a<|tool_call>b", false, false);
  EXPECT_EQ(std::count(call.begin(), call.end(), 48), 1);
}

TEST(Gemma4, ChatGoldens) {
  const std::string path = core::test::testdata("golden/gemma4-full-vocab-Q8_0.chat.json");
  if (!core::test::exists(path)) GTEST_SKIP() << "missing " << path;
  NEED(tok, kModel);
  const auto gold = read_json(path);
  ASSERT_GE(gold["cases"].size(), 8u);
  for (const auto& c : gold["cases"]) {
    const std::string prompt = c["prompt"];
    const auto expected = c["tokens"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok->tokenize(prompt, true, true), expected) << c["name"];
    // Rendering every token's text back (specials included) gives BOS + the prompt.
    EXPECT_EQ(tok->detokenize(expected, true), "<bos>" + prompt) << c["name"];
  }
}

TEST(Gemma4, GreedyGolden) {
  const std::string path = core::test::testdata("golden/gemma4-full-vocab-Q8_0.greedy.json");
  if (!core::test::exists(path)) GTEST_SKIP() << "missing " << path;
  NEED(tok, kModel);
  const auto g = read_json(path);
  const auto prompt = g["prompt_tokens"].get<std::vector<int32_t>>();
  EXPECT_EQ(tok->tokenize(g["prompt_text"].get<std::string>(), g["tokenize_add_special"].get<bool>(), false), prompt);
  EXPECT_EQ(tok->detokenize(prompt, true), g["prompt_detok_unparse_special"].get<std::string>());
  const auto gen = g["generated"].get<std::vector<int32_t>>();
  EXPECT_EQ(tok->detokenize(gen, true), g["generated_detok_unparse_special"].get<std::string>());
  const auto eog = g["generated_is_eog"].get<std::vector<bool>>();
  ASSERT_EQ(eog.size(), gen.size());
  for (size_t i = 0; i < gen.size(); ++i) EXPECT_EQ(tok->is_eog(gen[i]), eog[i]) << i;
}

TEST(Gemma4, ModelVocabEqualsVocabFile) {
  NEED(a, kVocab);
  NEED(b, kModel);
  ASSERT_EQ(a->n_vocab(), b->n_vocab());
  for (int32_t id = 0; id < a->n_vocab(); id += 997) EXPECT_EQ(a->token_text(id), b->token_text(id)) << id;
}

}  // namespace
}  // namespace fitserve::tokenizer
