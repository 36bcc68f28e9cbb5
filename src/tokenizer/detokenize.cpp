// tokenizer/detokenize.cpp — ids -> text (whole and streaming) and the Tokenizer accessors.
#include "core/error.h"
#include "tokenizer/impl.h"
#include "tokenizer/utf8.h"

namespace fitserve::tokenizer {

namespace {

// "<0xAB>" -> 0xAB, or -1.
int byte_value(std::string_view t) {
  if (t.size() != 6 || t[0] != '<' || t[1] != '0' || t[2] != 'x' || t[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

// "▁" -> ' '
void append_unescaped(std::string_view t, std::string& out) {
  size_t i = 0;
  while (i < t.size()) {
    const size_t p = t.find("\xE2\x96\x81", i);
    if (p == std::string_view::npos) {
      out.append(t.substr(i));
      return;
    }
    out.append(t.substr(i, p - i));
    out.push_back(' ');
    i = p + 3;
  }
}

// GPT-2 alphabet -> bytes; characters outside the alphabet are kept as they are.
void append_byte_decoded(std::string_view t, std::string& out) {
  size_t i = 0;
  while (i < t.size()) {
    uint32_t cp;
    size_t len;
    if (utf8_decode(t, i, cp, len)) {
      const int b = unicode_to_byte(cp);
      if (b >= 0) out.push_back(static_cast<char>(b));
      else out.append(t.substr(i, len));
    } else {
      out.push_back(t[i]);
    }
    i += len;
  }
}

bool is_special_type(TokenType t) {
  return t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown;
}

}  // namespace

void Tokenizer::append_piece(int32_t id, bool special, std::string& out) const {
  const Impl& m = *impl_;
  if (!m.valid(id))
    throw core::Error("tokenizer", "token id " + std::to_string(id) + " out of range [0, " +
                                       std::to_string(m.n_vocab) + ")");
  const std::string_view t = m.syms.text(id);
  switch (m.types[id]) {
    case TokenType::UserDefined:
      out.append(t);
      return;
    case TokenType::Control:
    case TokenType::Unknown:
    case TokenType::Unused:
    case TokenType::Undefined:
      if (special) out.append(t);
      return;
    case TokenType::Byte: {
      const int b = byte_value(t);
      if (b >= 0) out.push_back(static_cast<char>(b));
      else out.append(t);
      return;
    }
    case TokenType::Normal:
      break;
  }
  if (m.model == Model::Gpt2) append_byte_decoded(t, out);
  else append_unescaped(t, out);
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
  std::string s;
  append_piece(id, special, s);
  return s;
}

std::string Tokenizer::detokenize(std::span<const int32_t> ids, bool special) const {
  const Impl& m = *impl_;
  std::string out;
  bool strip_next = m.add_space_prefix;  // the tokenizer put a space after the start / specials
  for (int32_t id : ids) {
    const size_t before = out.size();
    append_piece(id, special, out);
    if (strip_next && m.types[id] == TokenType::Normal && out.size() > before && out[before] == ' ')
      out.erase(before, 1);
    strip_next = m.add_space_prefix && is_special_type(m.types[id]);
  }
  return out;
}

Model Tokenizer::model() const { return impl_->model; }
const std::string& Tokenizer::pre_tokenizer() const { return impl_->pre; }
int32_t Tokenizer::n_vocab() const { return impl_->n_vocab; }
int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
int32_t Tokenizer::eot() const { return impl_->eot; }
int32_t Tokenizer::unk() const { return impl_->unk; }
int32_t Tokenizer::pad() const { return impl_->pad; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
bool Tokenizer::add_space_prefix() const { return impl_->add_space_prefix; }
bool Tokenizer::is_eog(int32_t id) const { return impl_->valid(id) && impl_->eog_flag[id]; }
bool Tokenizer::is_control(int32_t id) const { return impl_->valid(id) && impl_->types[id] == TokenType::Control; }
bool Tokenizer::is_byte(int32_t id) const { return impl_->valid(id) && impl_->types[id] == TokenType::Byte; }
TokenType Tokenizer::token_type(int32_t id) const {
  return impl_->valid(id) ? impl_->types[id] : TokenType::Undefined;
}
std::string_view Tokenizer::token_text(int32_t id) const {
  return impl_->valid(id) ? impl_->syms.text(id) : std::string_view{};
}
float Tokenizer::token_score(int32_t id) const {
  return impl_->valid(id) && !impl_->scores.empty() ? impl_->scores[id] : 0.0f;
}
int32_t Tokenizer::find_token(std::string_view text) const {
  const int32_t id = impl_->syms.find(text);
  return impl_->valid(id) ? id : -1;
}
const std::vector<int32_t>& Tokenizer::eog_tokens() const { return impl_->eog; }
size_t Tokenizer::n_merges() const { return impl_->merges.size(); }
void Tokenizer::set_word_cache(bool on) { impl_->use_cache = on; }
void Tokenizer::set_word_splitting(bool on) { impl_->split_words = on; }

// ---- StreamDecoder ----

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool special)
    : tok_(&tok), special_(special), at_start_(tok.add_space_prefix()) {}

void StreamDecoder::reset() {
  at_start_ = tok_->add_space_prefix();
  held_.clear();
}

std::string StreamDecoder::take_complete() {
  const size_t n = utf8_complete_prefix(held_);
  std::string ready = sanitize_utf8(std::string_view(held_).substr(0, n));
  held_.erase(0, n);
  return ready;
}

std::string StreamDecoder::push(int32_t id) {
  const Tokenizer::Impl& m = *tok_->impl_;
  const size_t before = held_.size();
  tok_->append_piece(id, special_, held_);
  if (at_start_ && m.types[id] == TokenType::Normal && held_.size() > before && held_[before] == ' ')
    held_.erase(before, 1);
  at_start_ = m.add_space_prefix && is_special_type(m.types[id]);
  return take_complete();
}

std::string StreamDecoder::flush() {
  std::string rest = sanitize_utf8(held_);
  held_.clear();
  return rest;
}

}  // namespace fitserve::tokenizer
