// tokenizer/utf8.h — small UTF-8 helpers used by the tokenizers and by streaming output.
// Offers: utf8_len(lead byte), utf8_decode (one code point, with validity), utf8_encode,
// is_valid_utf8, sanitize_utf8 (invalid bytes -> U+FFFD), utf8_complete_prefix (how many
// leading bytes of a buffer form whole characters; used to hold back an unfinished sequence).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fitserve::tokenizer {

// Length of a UTF-8 sequence from its lead byte by the high nibble (1 for stray continuation
// bytes), the rule SentencePiece-style tokenizers use to cut text into characters.
inline size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes one strictly valid code point at s[pos]. On success returns true, sets cp and len.
// On failure (truncated, overlong, surrogate, > U+10FFFF, stray byte) returns false, len = 1.
bool utf8_decode(std::string_view s, size_t pos, uint32_t& cp, size_t& len);

// Appends the UTF-8 encoding of cp (cp must be <= 0x10FFFF).
void utf8_encode(uint32_t cp, std::string& out);

bool is_valid_utf8(std::string_view s);

// Copy of s where every byte that is not part of a valid sequence becomes U+FFFD.
std::string sanitize_utf8(std::string_view s);

// Streaming support. Returns how many leading bytes of s may be emitted now: everything up to
// a trailing sequence that is a valid but unfinished prefix of a character (at most 3 bytes).
size_t utf8_complete_prefix(std::string_view s);

}  // namespace fitserve::tokenizer
