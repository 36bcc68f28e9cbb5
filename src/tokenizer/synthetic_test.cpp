// tokenizer/synthetic_test.cpp — hand-built vocabularies whose answers can be worked out on
// paper: merge-rank order, SentencePiece score order, byte fallback, space prefix, user-defined
// vs control tokens, add_bos/add_eos; and the loader's errors on broken metadata.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/merge_engine.h"
#include "tokenizer/tokenizer.h"

namespace fitserve::tokenizer {
namespace {

const std::string kMark = "\xE2\x96\x81";

struct VocabSpec {
  std::string model;
  std::vector<std::string> tokens;
  std::vector<int32_t> types;  // empty = all normal
  std::vector<float> scores;   // empty = none
  std::vector<std::string> merges;
  std::string pre;
  int bos = -1, eos = -1;
  int add_bos = -1, add_eos = -1;  // -1: key absent
};

gguf::File make_file(const VocabSpec& v, bool with_model = true) {
  gguf::Writer w;
  w.set_string("general.architecture", "test");
  if (with_model) w.set_string("tokenizer.ggml.model", v.model);
  w.set_array_string("tokenizer.ggml.tokens", v.tokens);
  if (!v.types.empty()) w.set_array_i32("tokenizer.ggml.token_type", v.types);
  if (!v.scores.empty()) w.set_array_f32("tokenizer.ggml.scores", v.scores);
  if (!v.merges.empty()) w.set_array_string("tokenizer.ggml.merges", v.merges);
  if (!v.pre.empty()) w.set_string("tokenizer.ggml.pre", v.pre);
  if (v.bos >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos));
  if (v.eos >= 0) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos));
  if (v.add_bos >= 0) w.set_bool("tokenizer.ggml.add_bos_token", v.add_bos != 0);
  if (v.add_eos >= 0) w.set_bool("tokenizer.ggml.add_eos_token", v.add_eos != 0);
  return gguf::File::parse(core::MappedFile::from_bytes(w.to_bytes(), "synthetic.gguf"));
}

Tokenizer make(const VocabSpec& v) { return Tokenizer::from_gguf(make_file(v)); }

using Ids = std::vector<int32_t>;

TEST(SyntheticBpe, MergeRankOrder) {
  // tokens: 0 a, 1 b, 2 c, 3 ab, 4 bc, 5 abc
  VocabSpec v{"gemma4", {"a", "b", "c", "ab", "bc", "abc"}};
  v.merges = {"b c", "a b", "a bc"};  // "bc" first, then "a"+"bc"
  EXPECT_EQ(make(v).tokenize("abc", false, false), (Ids{5}));
  v.merges = {"a b", "b c", "a bc"};  // "ab" first; "ab"+"c" is no merge
  EXPECT_EQ(make(v).tokenize("abc", false, false), (Ids{3, 2}));
  // Equal pairs: the leftmost merges first: "bbb" -> "bb" + "b".
  VocabSpec w{"gemma4", {"b", "bb"}};
  w.merges = {"b b"};
  EXPECT_EQ(make(w).tokenize("bbb", false, false), (Ids{1, 0}));
  EXPECT_EQ(make(w).tokenize("bbbb", false, false), (Ids{1, 1}));
}

TEST(SyntheticBpe, Gemma4SpacesNewlinesBytes) {
  // 0 <pad> 1 <eos> 2 <bos> 3 ▁ 4 a 5 ▁a 6 \n 7 \n\n 8 <0xC3> 9 <0xA9> 10 <|x>(user-defined) 11 <c>(control)
  VocabSpec v{"gemma4", {"<pad>", "<eos>", "<bos>", kMark, "a", kMark + "a", "\n", "\n\n", "<0xC3>", "<0xA9>",
                         "<|x>", "<c>"}};
  v.types = {3, 3, 3, 1, 1, 1, 1, 1, 6, 6, 4, 3};
  v.merges = {kMark + " a", "\n \n"};
  v.bos = 2;
  v.eos = 1;
  v.add_bos = 0;  // gemma4 forces add_bos anyway
  const Tokenizer t = make(v);
  EXPECT_TRUE(t.add_bos());
  EXPECT_EQ(t.tokenize(" a a", false, false), (Ids{5, 5}));
  EXPECT_EQ(t.tokenize("a\n\n\na", false, false), (Ids{4, 7, 6, 4}));
  EXPECT_EQ(t.tokenize("\xC3\xA9", false, false), (Ids{8, 9}));  // é is not a token: bytes
  EXPECT_EQ(t.tokenize("a", true, false), (Ids{2, 4}));
  EXPECT_EQ(t.tokenize("a<|x>a", false, false), (Ids{4, 10, 4}));
  EXPECT_EQ(t.tokenize("a<c>a", false, true), (Ids{4, 11, 4}));
  EXPECT_EQ(t.detokenize(Ids{2, 5, 8, 9, 10, 11}, false), " a\xC3\xA9<|x>");
  EXPECT_EQ(t.detokenize(Ids{2, 5, 8, 9, 10, 11}, true), "<bos> a\xC3\xA9<|x><c>");
}

TEST(SyntheticSpm, ScoreOrderAndSpacePrefix) {
  // 0 <unk> 1 <s> 2 </s> 3 ▁ 4 a 5 b 6 ab 7 ▁a 8 ▁ab 9..: bytes for 'x'
  VocabSpec v{"llama", {"<unk>", "<s>", "</s>", kMark, "a", "b", "ab", kMark + "a", kMark + "ab", "<0x78>"}};
  v.types = {2, 3, 3, 1, 1, 1, 1, 1, 1, 6};
  v.scores = {0, 0, 0, -1, -1, -1, -2, -3, -4, 0};
  v.bos = 1;
  v.eos = 2;
  const Tokenizer t = make(v);
  EXPECT_TRUE(t.add_bos());
  EXPECT_TRUE(t.add_space_prefix());
  // "▁ab": pairs ▁a (-3) and ab (-2): "ab" wins, then ▁ + ab = ▁ab (-4).
  EXPECT_EQ(t.tokenize("ab", false, false), (Ids{8}));
  EXPECT_EQ(t.tokenize("ab", true, false), (Ids{1, 8}));
  EXPECT_EQ(t.tokenize("x", false, false), (Ids{3, 9}));  // x only as a byte token
  EXPECT_EQ(t.detokenize(Ids{1, 8}, false), "ab");       // the prefix space is dropped again
  EXPECT_EQ(t.detokenize(t.tokenize(" ab", true, false), false), " ab");
  // After a special token the next text gets a space prefix too.
  EXPECT_EQ(t.tokenize("ab</s>ab", false, true), (Ids{8, 2, 8}));
  EXPECT_EQ(t.detokenize(Ids{8, 2, 8}, true), "ab</s>ab");
  // Without "▁ab" the score order shows: "ab" (-2) beats "▁a" (-3) ...
  v.tokens[8] = "zz";
  EXPECT_EQ(make(v).tokenize("ab", false, false), (Ids{3, 6}));
  // ... and with the scores swapped "▁a" wins.
  v.scores = {0, 0, 0, -1, -1, -1, -3, -2, -4, 0};
  EXPECT_EQ(make(v).tokenize("ab", false, false), (Ids{7, 5}));
  v.add_eos = 1;
  EXPECT_EQ(make(v).tokenize("ab", true, false), (Ids{1, 7, 5, 2}));
}

TEST(SyntheticGpt2, ByteLevelAndPre) {
  // GPT-2 alphabet: ' ' is "Ġ" (U+0120).
  const std::string G = "\xC4\xA0";
  VocabSpec v{"gpt2", {"a", "b", G, G + "a", "ab", G + "ab", "<|end|>"}};
  v.types = {1, 1, 1, 1, 1, 1, 3};
  v.merges = {"a b", G + " ab"};
  v.pre = "gpt-2";
  const Tokenizer t = make(v);
  EXPECT_EQ(t.tokenize("ab ab", false, false), (Ids{4, 5}));
  EXPECT_EQ(t.detokenize(Ids{4, 5}, false), "ab ab");
  EXPECT_EQ(t.tokenize("ab<|end|>", false, true), (Ids{4, 6}));
  EXPECT_FALSE(t.add_bos());
}

TEST(Loader, Errors) {
  VocabSpec v{"gemma4", {"a", "b", "ab"}};
  v.merges = {"a b"};
  auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const core::Error& e) {
      EXPECT_EQ(e.code(), "tokenizer");
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message([&] { Tokenizer::from_gguf(make_file(v, false)); }).find("no tokenizer metadata"),
            std::string::npos);
  VocabSpec bad = v;
  bad.model = "wordpiece";
  EXPECT_NE(message([&] { make(bad); }).find("unknown tokenizer model 'wordpiece'"), std::string::npos);
  bad = v;
  bad.merges.clear();
  EXPECT_NE(message([&] { make(bad); }).find("merges is missing"), std::string::npos);
  bad = v;
  bad.merges = {"ab"};
  EXPECT_NE(message([&] { make(bad); }).find("no space separator"), std::string::npos);
  bad = v;
  bad.types = {1, 1};
  EXPECT_NE(message([&] { make(bad); }).find("token_type has 2 entries"), std::string::npos);
  bad = v;
  bad.model = "gpt2";
  bad.pre = "no-such-pre";
  EXPECT_NE(message([&] { make(bad); }).find("unknown pre-tokenizer 'no-such-pre'"), std::string::npos);
  bad = v;
  bad.tokens.clear();
  EXPECT_NE(message([&] { make(bad); }).find("tokens is missing or empty"), std::string::npos);
  // Out-of-range special ids are ignored, not trusted.
  VocabSpec odd = v;
  odd.bos = 77;
  EXPECT_EQ(make(odd).bos(), -1);
  // Merges naming texts the vocab lacks still work (as extra symbols) and fall back cleanly.
  VocabSpec extra{"gemma4", {"a", "b", "c", "abc", "<0x61>", "<0x62>"}};
  extra.types = {1, 1, 1, 1, 6, 6};
  extra.merges = {"a b", "ab c"};  // "ab" is no token
  EXPECT_EQ(make(extra).tokenize("abc", false, false), (Ids{3}));
  EXPECT_EQ(make(extra).tokenize("ab", false, false), (Ids{4, 5}));  // "ab" not a token: bytes
}

// run_merges_small and run_merges_heap must agree with a naive "best pair, leftmost" loop.
TEST(MergeEngine, SmallHeapAndNaiveAgree) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> sym(0, 5), rank_d(0, 1000), len_d(2, 40);
  // Random pair table over ids 0..5 producing ids 6.. (results then merge further).
  std::map<std::pair<int, int>, std::pair<int, int>> table;
  int next_id = 6;
  for (int k = 0; k < 60; ++k) {
    const int l = std::uniform_int_distribution<int>(0, next_id - 1)(rng);
    const int r = std::uniform_int_distribution<int>(0, next_id - 1)(rng);
    if (!table.count({l, r})) table[{l, r}] = {rank_d(rng), next_id++};
  }
  auto pair_fn = [&](const Symbol& l, const Symbol& r, uint32_t& prio, int32_t& result) {
    auto it = table.find({l.id, r.id});
    if (it == table.end()) return false;
    prio = static_cast<uint32_t>(it->second.first);
    result = it->second.second;
    return true;
  };
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<int> seq(static_cast<size_t>(len_d(rng)));
    for (int& s : seq) s = sym(rng);
    // naive
    std::vector<int> naive = seq;
    while (true) {
      int best = -1, best_rank = 0, best_res = 0;
      for (size_t i = 0; i + 1 < naive.size(); ++i) {
        auto it = table.find({naive[i], naive[i + 1]});
        if (it != table.end() && (best < 0 || it->second.first < best_rank)) {
          best = static_cast<int>(i);
          best_rank = it->second.first;
          best_res = it->second.second;
        }
      }
      if (best < 0) break;
      naive[best] = best_res;
      naive.erase(naive.begin() + best + 1);
    }
    for (int mode = 0; mode < 2; ++mode) {
      if (mode == 0 && seq.size() > kSmallWord) continue;
      MergeWork w;
      for (size_t i = 0; i < seq.size(); ++i) w.push_symbol(seq[i], static_cast<uint32_t>(i), 1);
      if (mode == 0) run_merges_small(w, pair_fn);
      else run_merges_heap(w, pair_fn);
      std::vector<int> got;
      for (int32_t i = 0; i >= 0; i = w.syms[i].next) got.push_back(w.syms[i].id);
      EXPECT_EQ(got, naive) << "mode " << mode;
    }
  }
}

}  // namespace
}  // namespace fitserve::tokenizer
