// tokenizer/pretokenize.h — regex pre-tokenization for byte-level BPE vocabularies, and the
// GPT-2 byte <-> printable-character mapping.
// Offers: PreKind + pre_kind_from_name(tokenizer.ggml.pre), RegexSplitter (PCRE2, Unicode
// categories; several expressions applied one after another like the reference), and
// byte_to_unicode(b) / unicode_to_byte(cp).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fitserve::tokenizer {

enum class PreKind { Default, Gpt2, Llama3, Qwen2 };

// Maps a `tokenizer.ggml.pre` value to a pre-tokenizer; empty name -> Default.
// Throws core::Error("tokenizer") for names it does not know.
PreKind pre_kind_from_name(std::string_view name);
const char* pre_kind_name(PreKind k);

class RegexSplitter {
 public:
  explicit RegexSplitter(PreKind kind);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Splits valid UTF-8 `text` into pieces (offset, length) that cover it completely, in order.
  void split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// GPT-2 byte-level alphabet: every byte maps to one printable code point.
uint32_t byte_to_unicode(uint8_t b);
int unicode_to_byte(uint32_t cp);  // -1 when cp is not in the alphabet

}  // namespace fitserve::tokenizer
