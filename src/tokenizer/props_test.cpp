// tokenizer/props_test.cpp — property tests on random text for every vocab: no crash, ids in
// range, detokenize(tokenize(s)) == s where the vocab allows it, invalid UTF-8 handled (byte
// tokens or U+FFFD), word cache on/off give identical ids, streaming == whole detokenization.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "core/testdata.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace fitserve::tokenizer {
namespace {

struct VocabRef {
  const char* name;
  bool in_repo;
};

std::string vocab_path(const VocabRef& v) {
  const std::string file = std::string("ggml-vocab-") + v.name + ".gguf";
  return v.in_repo ? core::test::repo_data("vocab/" + file) : core::test::testdata("vocab/" + file);
}

Tokenizer* load(const VocabRef& v) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  const std::string p = vocab_path(v);
  auto it = cache.find(p);
  if (it == cache.end()) {
    std::unique_ptr<Tokenizer> t;
    if (core::test::exists(p)) t = std::make_unique<Tokenizer>(Tokenizer::from_file(p));
    it = cache.emplace(p, std::move(t)).first;
  }
  return it->second.get();
}

// Random valid UTF-8 drawn from pools that stress the tokenizers.
std::string random_text(std::mt19937& rng, size_t max_chars) {
  static const std::vector<uint32_t> pool = {
      ' ', ' ', ' ', ' ', '\n', '\n', '\t', '\r', 'a', 'e', 't', 'o', 'n', 'H', 'Z', '0', '3', '9', '.', ',', '\'',
      '!', '?', '-', '_', '(', ')', '{', '}', '<', '>', '|', '"', '/', '\\', '#', '=', 0xE9, 0xDF, 0xC4, 0xBD,
      0x0438, 0x0411, 0x05D0, 0x0627, 0x0915, 0x0E01, 0x1780, 0x17B6, 0x3042, 0x4E2D, 0x6587, 0xAC00, 0x0301,
      0x200D, 0xFE0F, 0x2014, 0x2192, 0xFF5E, 0x1F600, 0x1F999, 0x1F680, 0x10348, 0xE000};
  std::uniform_int_distribution<size_t> len_d(0, max_chars);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::uniform_int_distribution<uint32_t> any_bmp(0x20, 0xFFFD), any_sup(0x10000, 0x10FFFF), mode(0, 9);
  std::string s;
  const size_t n = len_d(rng);
  for (size_t i = 0; i < n; ++i) {
    uint32_t cp;
    const uint32_t m = mode(rng);
    if (m < 8) cp = pool[pick(rng)];
    else if (m == 8) cp = any_bmp(rng);
    else cp = any_sup(rng);
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
    utf8_encode(cp, s);
  }
  return s;
}

std::string random_bytes(std::mt19937& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len_d(0, max_len);
  std::uniform_int_distribution<int> byte(0, 255), mode(0, 3);
  std::string s;
  const size_t n = len_d(rng);
  for (size_t i = 0; i < n; ++i) s.push_back(mode(rng) == 0 ? ' ' : static_cast<char>(byte(rng)));
  return s;
}

// What detokenize(tokenize(s)) must give back.
std::string expected_round_trip(const Tokenizer& tok, const std::string& s) {
  if (tok.model() == Model::Gpt2) return sanitize_utf8(s);
  std::string e = s;  // "▁" marks spaces in these vocabs: a literal one comes back as ' '
  for (size_t p = e.find("\xE2\x96\x81"); p != std::string::npos; p = e.find("\xE2\x96\x81", p)) e.replace(p, 3, " ");
  return e;
}

class Props : public ::testing::TestWithParam<VocabRef> {
 protected:
  Tokenizer* tok = nullptr;
  void SetUp() override {
    tok = load(GetParam());
    if (!tok) GTEST_SKIP() << "missing " << vocab_path(GetParam());
  }
};

void check_ids(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab()) << id;
}

TEST_P(Props, RandomUtf8RoundTrip) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 400; ++i) {
    const std::string s = random_text(rng, i < 350 ? 40 : 400);
    for (bool add_special : {false, true}) {
      const auto ids = tok->tokenize(s, add_special, false);
      check_ids(*tok, ids);
      if (add_special && tok->add_bos() && tok->bos() >= 0) {
        ASSERT_FALSE(ids.empty());
        EXPECT_EQ(ids[0], tok->bos());
      }
      EXPECT_EQ(tok->detokenize(ids, false), expected_round_trip(*tok, s)) << "text: " << s;
    }
  }
}

TEST_P(Props, InvalidUtf8NeverFails) {
  std::mt19937 rng(99);
  for (int i = 0; i < 400; ++i) {
    const std::string s = random_bytes(rng, 64);
    std::vector<int32_t> ids;
    ASSERT_NO_THROW(ids = tok->tokenize(s, true, true));
    check_ids(*tok, ids);
    const auto plain = tok->tokenize(s, false, false);
    // Byte-fallback vocabs keep the bytes; byte-level BPE gets U+FFFD for invalid bytes.
    EXPECT_EQ(tok->detokenize(plain, false), expected_round_trip(*tok, s));
  }
}

TEST_P(Props, WordCacheDoesNotChangeIds) {
  std::mt19937 rng(7);
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back(random_text(rng, 60));
  std::vector<std::vector<int32_t>> with;
  tok->set_word_cache(true);
  for (int pass = 0; pass < 2; ++pass)  // second pass is served from the cache
    for (const auto& t : texts) with.push_back(tok->tokenize(t, false, false));
  tok->set_word_cache(false);
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto without = tok->tokenize(texts[i], false, false);
    EXPECT_EQ(with[i], without) << texts[i];
    EXPECT_EQ(with[texts.size() + i], without) << texts[i];
  }
  tok->set_word_cache(true);
}

TEST_P(Props, ConcurrentCallsAgree) {
  std::mt19937 rng(3);
  std::vector<std::string> texts;
  for (int i = 0; i < 120; ++i) texts.push_back(random_text(rng, 80));
  std::vector<std::vector<int32_t>> want;
  for (const auto& t : texts) want.push_back(tok->tokenize(t, true, true));
  std::vector<int> bad(4, 0);
  std::vector<std::thread> th;
  for (int k = 0; k < 4; ++k)
    th.emplace_back([&, k] {
      for (int rep = 0; rep < 3; ++rep)
        for (size_t i = 0; i < texts.size(); ++i)
          if (tok->tokenize(texts[(i + k * 31) % texts.size()], true, true) != want[(i + k * 31) % texts.size()])
            ++bad[k];
    });
  for (auto& t : th) t.join();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(bad[k], 0) << "thread " << k;
}

TEST_P(Props, WordSplittingDoesNotChangeIds) {
  std::mt19937 rng(17);
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back(random_text(rng, i < 150 ? 60 : 300));
  tok->set_word_cache(false);
  for (const auto& t : texts) {
    tok->set_word_splitting(true);
    const auto split = tok->tokenize(t, true, false);
    tok->set_word_splitting(false);
    EXPECT_EQ(split, tok->tokenize(t, true, false)) << t;
  }
  tok->set_word_splitting(true);
  tok->set_word_cache(true);
}

TEST(Gemma4Split, SplittingLinesDoesNotChangeIds) {
  Tokenizer* tok = load(VocabRef{"gemma-4", false});
  if (!tok) GTEST_SKIP() << "missing " << vocab_path(VocabRef{"gemma-4", false});
  std::mt19937 rng(11);
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) texts.push_back(random_text(rng, i < 250 ? 60 : 300));
  // '>' is the one character the vocab joins to a following "▁" ("> </" is a token).
  texts.push_back("<a> </a>  <b>  </b> x> </ y>  </ >> </</ a ></");
  tok->set_word_cache(false);
  for (const auto& t : texts) {
    tok->set_word_splitting(true);
    const auto split = tok->tokenize(t, false, false);
    tok->set_word_splitting(false);
    EXPECT_EQ(split, tok->tokenize(t, false, false)) << t;
  }
  tok->set_word_splitting(true);
  tok->set_word_cache(true);
  // The joined token must survive the splitting: "a> </b" -> a, ">▁</", b.
  const int32_t joined = tok->find_token(">\xE2\x96\x81</");
  ASSERT_GE(joined, 0);
  EXPECT_EQ(tok->tokenize("a> </b", false, false),
            (std::vector<int32_t>{tok->find_token("a"), joined, tok->find_token("b")}));
}

TEST_P(Props, StreamingEqualsWhole) {
  std::mt19937 rng(42);
  for (int i = 0; i < 200; ++i) {
    const std::string s = random_text(rng, 60);
    const auto ids = tok->tokenize(s, true, false);
    for (bool special : {false, true}) {
      StreamDecoder dec(*tok, special);
      std::string streamed;
      for (int32_t id : ids) {
        const std::string piece = dec.push(id);
        EXPECT_TRUE(is_valid_utf8(piece));
        streamed += piece;
      }
      streamed += dec.flush();
      EXPECT_EQ(streamed, tok->detokenize(ids, special));
    }
  }
  // Arbitrary id sequences (lots of lone byte tokens): output stays valid UTF-8 and equals the
  // whole detokenization with invalid bytes replaced.
  std::uniform_int_distribution<int32_t> any(0, tok->n_vocab() - 1);
  std::vector<int32_t> bytes;
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    if (int32_t id = tok->find_token(buf); id >= 0) bytes.push_back(id);
  }
  std::uniform_int_distribution<size_t> pick(0, bytes.empty() ? 0 : bytes.size() - 1);
  for (int i = 0; i < 200; ++i) {
    std::vector<int32_t> ids;
    for (int k = 0; k < 12; ++k) ids.push_back(bytes.empty() || k % 3 == 0 ? any(rng) : bytes[pick(rng)]);
    StreamDecoder dec(*tok);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string piece = dec.push(id);
      EXPECT_TRUE(is_valid_utf8(piece));
      streamed += piece;
    }
    const std::string rest = dec.flush();
    EXPECT_TRUE(is_valid_utf8(rest));
    streamed += rest;
    EXPECT_EQ(streamed, sanitize_utf8(tok->detokenize(ids, false)));
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, Props,
                         ::testing::Values(VocabRef{"gemma-4", false}, VocabRef{"llama-spm", true},
                                           VocabRef{"phi-3", true}, VocabRef{"gpt-2", true},
                                           VocabRef{"llama-bpe", false}, VocabRef{"qwen2", false}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace fitserve::tokenizer
