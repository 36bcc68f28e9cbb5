// tokenizer/impl.h — the data behind a Tokenizer (internal to the module; shared by load.cpp,
// tokenize.cpp and detokenize.cpp).
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/tables.h"
#include "tokenizer/tokenizer.h"

namespace fitserve::tokenizer {

struct Tokenizer::Impl {
  Model model = Model::Llama;
  std::string pre;                 // tokenizer.ggml.pre as stored
  PreKind pre_kind = PreKind::Default;
  std::unique_ptr<RegexSplitter> splitter;  // gpt2 only

  int32_t n_vocab = 0;
  SymbolTable syms;                // [0, n_vocab) = tokens, then extra BPE symbols
  std::vector<TokenType> types;    // effective types (EOG forced to Control)
  std::vector<float> scores;       // empty when the vocab has none
  std::vector<uint8_t> eog_flag;
  std::vector<int32_t> eog;
  MergeTable merges;

  int32_t bos = -1, eos = -1, eot = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = false, ignore_merges = false;

  std::array<int32_t, 256> byte_tok{};  // id of <0xXX>, -1 if absent
  std::array<int32_t, 256> byte_sym{};  // symbol id of the 1-char text of byte b (gpt2: mapped char)
  std::array<uint8_t, 256> byte_enc_len{};  // gpt2: UTF-8 length of the mapped char
  std::array<std::array<char, 2>, 256> byte_enc{};  // gpt2: UTF-8 bytes of the mapped char

  std::vector<int32_t> cp_sym;     // gemma4/llama: symbol id of each BMP code point's text, or -1
  std::vector<int32_t> specials;   // CONTROL/USER_DEFINED/UNKNOWN with text, longest first
  std::vector<uint32_t> space_joiners;  // gemma4: chars that some token has right before "▁"

  uint64_t serial = 0;   // identifies this tokenizer to the per-thread word caches (never 0)
  bool use_cache = true;
  bool split_words = true;

  bool valid(int32_t id) const { return id >= 0 && id < n_vocab; }
  TokenType type(int32_t id) const { return types[id]; }
};

}  // namespace fitserve::tokenizer
