// tokenizer/utf8_test.cpp — UTF-8 helpers and the streaming decoder on known sequences.
#include <gtest/gtest.h>

#include "core/testdata.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace fitserve::tokenizer {
namespace {

TEST(Utf8, DecodeValidity) {
  uint32_t cp;
  size_t len;
  EXPECT_TRUE(utf8_decode("\xF0\x9F\xA6\x99", 0, cp, len));
  EXPECT_EQ(cp, 0x1F999u);
  EXPECT_EQ(len, 4u);
  EXPECT_FALSE(utf8_decode("\xC0\xAF", 0, cp, len));      // overlong
  EXPECT_FALSE(utf8_decode("\xED\xA0\x80", 0, cp, len));  // surrogate
  EXPECT_FALSE(utf8_decode("\xF4\x90\x80\x80", 0, cp, len));  // > U+10FFFF
  EXPECT_FALSE(utf8_decode("\xE2\x96", 0, cp, len));      // truncated
  EXPECT_EQ(len, 1u);
  EXPECT_TRUE(is_valid_utf8("h\xC3\xA9llo \xE2\x96\x81"));
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_EQ(sanitize_utf8("a\xFF" "b\xE2\x96"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
  std::string e;
  utf8_encode(0x2581, e);
  EXPECT_EQ(e, "\xE2\x96\x81");
}

TEST(Utf8, CompletePrefix) {
  EXPECT_EQ(utf8_complete_prefix("abc"), 3u);
  EXPECT_EQ(utf8_complete_prefix("ab\xF0"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\xF0\x9F"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\xF0\x9F\xA6"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\xF0\x9F\xA6\x99"), 6u);
  EXPECT_EQ(utf8_complete_prefix("ab\xE0\x80"), 4u);  // E0 80 can never complete: do not hold
  EXPECT_EQ(utf8_complete_prefix("ab\x80"), 3u);      // stray continuation byte: do not hold
  EXPECT_EQ(utf8_complete_prefix("\xC3"), 0u);
}

TEST(StreamDecoder, HoldsSplitEmoji) {
  const std::string path = core::test::testdata("vocab/ggml-vocab-gemma-4.gguf");
  if (!core::test::exists(path)) GTEST_SKIP() << "missing " << path;
  const Tokenizer tok = Tokenizer::from_file(path);
  // Reference ids of " this is 🦙.cpp": the llama emoji is four byte tokens.
  const std::vector<int32_t> ids = {672, 563, 236743, 478, 397, 404, 391, 236761, 12362};
  StreamDecoder dec(tok);
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(dec.push(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{" this", " is", " ", "", "", "", "\xF0\x9F\xA6\x99", ".", "cpp"}));
  EXPECT_EQ(dec.flush(), "");
  // An unfinished character at the end comes out as U+FFFD on flush.
  dec.reset();
  EXPECT_EQ(dec.push(478), "");
  EXPECT_EQ(dec.push(397), "");
  EXPECT_EQ(dec.pending_bytes(), 2u);
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  // A byte that cannot continue is replaced at once, the rest goes on.
  dec.reset();
  EXPECT_EQ(dec.push(478), "");
  EXPECT_EQ(dec.push(672), "\xEF\xBF\xBD this");
  // Control tokens render only when asked.
  StreamDecoder with_special(tok, true);
  EXPECT_EQ(with_special.push(106), "<turn|>");
  EXPECT_EQ(dec.push(106), "");
}

}  // namespace
}  // namespace fitserve::tokenizer
