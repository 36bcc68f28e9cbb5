// tokenizer/tokenizer.h — text <-> token ids for GGUF vocabularies.
// Offers:
//   Tokenizer::from_gguf(file) / from_file(path)  build from the `tokenizer.*` metadata; the
//       tokenizer owns compact copies, so the gguf::File may be dropped afterwards.
//       Models: "gemma4" (BPE over raw UTF-8 with "▁" spaces, newline-run splitting, byte
//       fallback), "llama" (SentencePiece: scores + <0xNN> byte fallback), "gpt2" (byte-level
//       BPE; pre-tokenizer from tokenizer.ggml.pre: default, gpt-2, llama3/llama-bpe, qwen2, phi-*).
//   tokenize(text, add_special, parse_special)  add_special adds BOS/EOS as the vocab asks;
//       parse_special turns CONTROL token strings in the text into their ids. USER_DEFINED
//       tokens (e.g. Gemma 4's <|tool_call>) are matched always, like the reference.
//       Invalid UTF-8 never throws: byte-fallback vocabs keep the raw bytes as byte tokens,
//       byte-level BPE replaces them with U+FFFD.
//   token_to_piece(id, special) / detokenize(ids, special)  CONTROL/UNKNOWN tokens render
//       only with special=true; USER_DEFINED always render. detokenize drops the one space a
//       SentencePiece vocab prefixes to the text.
//   StreamDecoder  incremental detokenization that only ever returns whole UTF-8 characters.
//   Accessors: n_vocab, bos/eos/eot/unk/pad, is_eog, is_control, token_type, find_token ...
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fitserve::gguf {
class File;
}

namespace fitserve::tokenizer {

enum class Model { Gemma4, Llama, Gpt2 };
const char* model_name(Model m);

// tokenizer.ggml.token_type values.
enum class TokenType : uint8_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

class Tokenizer {
 public:
  static Tokenizer from_gguf(const gguf::File& file);
  static Tokenizer from_file(const std::string& gguf_path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> tokenize(std::string_view text, bool add_special, bool parse_special) const;
  // Same, appending to `out` (reuses its capacity).
  void tokenize_into(std::string_view text, bool add_special, bool parse_special,
                     std::vector<int32_t>& out) const;

  // Raw bytes of one token (may be a partial UTF-8 sequence for byte tokens). Out-of-range ids
  // throw core::Error("tokenizer").
  std::string token_to_piece(int32_t id, bool special) const;
  void append_piece(int32_t id, bool special, std::string& out) const;
  // Concatenated pieces; for vocabs that prefix a space, the leading one is removed again.
  std::string detokenize(std::span<const int32_t> ids, bool special) const;

  Model model() const;
  const std::string& pre_tokenizer() const;  // tokenizer.ggml.pre as stored ("" if absent)
  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when the vocab has none
  int32_t eos() const;
  int32_t eot() const;
  int32_t unk() const;
  int32_t pad() const;
  bool add_bos() const;
  bool add_eos() const;
  bool add_space_prefix() const;
  bool is_eog(int32_t id) const;
  bool is_control(int32_t id) const;  // CONTROL (EOG tokens are forced to CONTROL)
  bool is_byte(int32_t id) const;
  TokenType token_type(int32_t id) const;
  std::string_view token_text(int32_t id) const;  // as stored in the vocab
  float token_score(int32_t id) const;
  int32_t find_token(std::string_view text) const;  // -1 when absent
  const std::vector<int32_t>& eog_tokens() const;
  size_t n_merges() const;
  // Speed knobs (on by default; the ids are identical either way, tests compare both):
  // words -> ids are memoized per thread; gemma4/llama cut their text before every "▁" that no
  // token spans instead of merging whole lines (gemma4) or whole texts (llama) at once.
  void set_word_cache(bool on);
  void set_word_splitting(bool on);

  struct Impl;  // opaque; defined in tokenizer/impl.h for the module's own files

 private:
  Tokenizer();
  friend class StreamDecoder;
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of token ids into text pieces that are always whole UTF-8 characters:
// bytes of an unfinished character are held until it completes; bytes that can never form
// a character become U+FFFD. The Tokenizer must outlive the decoder.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool special = false);
  std::string push(int32_t id);  // newly completed text (may be empty)
  std::string flush();           // whatever is held, unfinished bytes as U+FFFD
  void reset();
  size_t pending_bytes() const { return held_.size(); }

 private:
  std::string take_complete();
  const Tokenizer* tok_;
  bool special_;
  bool at_start_ = true;
  std::string held_;
};

}  // namespace fitserve::tokenizer
