// tokenizer/load.cpp — building a Tokenizer from GGUF `tokenizer.*` metadata.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/impl.h"
#include "tokenizer/utf8.h"

namespace fitserve::tokenizer {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 "▁"

[[noreturn]] void fail(const gguf::File& f, const std::string& what, const std::string& hint = {}) {
  throw core::Error("tokenizer", f.path() + ": " + what, hint);
}

const gguf::Value* array_of(const gguf::File& f, std::string_view key, bool strings, uint64_t n) {
  const gguf::Value* v = f.find(key);
  if (!v) return nullptr;
  if (!v->is_array()) fail(f, std::string(key) + " must be an array");
  if (strings && v->elem_type != gguf::ValueType::STRING) fail(f, std::string(key) + " must be a string array");
  if (!strings && (v->elem_type == gguf::ValueType::STRING || v->elem_type == gguf::ValueType::ARRAY || !v->raw))
    fail(f, std::string(key) + " must be a numeric array");
  if (n && v->count != n)
    fail(f, std::string(key) + " has " + std::to_string(v->count) + " entries, expected " + std::to_string(n));
  return v;
}

int32_t token_id_key(const gguf::File& f, std::string_view key, int32_t n_vocab, int32_t def) {
  const gguf::Value* v = f.find(key);
  if (!v) return def;
  if (!v->is_integer()) fail(f, std::string(key) + " must be an integer");
  // Out-of-range ids (some converters write -1 or a bogus id) mean "none".
  if (v->i < 0 || v->i >= n_vocab) return -1;
  return static_cast<int32_t>(v->i);
}

bool bool_key(const gguf::File& f, std::string_view key, bool def) {
  const gguf::Value* v = f.find(key);
  return v ? v->as_bool(key) : def;
}

}  // namespace

const char* model_name(Model m) {
  switch (m) {
    case Model::Gemma4: return "gemma4";
    case Model::Gpt2: return "gpt2";
    case Model::Llama: break;
  }
  return "llama";
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_file(const std::string& path) { return from_gguf(gguf::File::open(path)); }

Tokenizer Tokenizer::from_gguf(const gguf::File& f) {
  Tokenizer t;
  Impl& m = *t.impl_;
  static std::atomic<uint64_t> next_serial{1};
  m.serial = next_serial.fetch_add(1);

  const gguf::Value* model_v = f.find("tokenizer.ggml.model");
  if (!model_v)
    fail(f, "no tokenizer metadata (tokenizer.ggml.model is missing)",
         "use a GGUF that embeds its vocabulary (tokenizer.ggml.*)");
  const std::string_view model = model_v->as_string("tokenizer.ggml.model");
  if (model == "gemma4") m.model = Model::Gemma4;
  else if (model == "llama") m.model = Model::Llama;
  else if (model == "gpt2") m.model = Model::Gpt2;
  else fail(f, "unknown tokenizer model '" + std::string(model) + "' (tokenizer.ggml.model)",
            "supported: gemma4, llama, gpt2");

  const gguf::Value* toks = array_of(f, "tokenizer.ggml.tokens", true, 0);
  if (!toks || toks->count == 0) fail(f, "tokenizer.ggml.tokens is missing or empty");
  if (toks->count > (1u << 30)) fail(f, "tokenizer.ggml.tokens is too large");
  const auto n = static_cast<int32_t>(toks->count);
  m.n_vocab = n;

  // Token texts into one arena.
  size_t total = 0;
  for (const auto& s : toks->strs) total += s.size();
  if (total >= (1ull << 32)) fail(f, "tokenizer.ggml.tokens text is too large");
  m.syms.reserve(toks->strs.size() + 16, total + 64);
  for (const auto& s : toks->strs) m.syms.append(s);
  m.syms.build_index();

  // Types and scores.
  m.types.assign(n, TokenType::Normal);
  if (const gguf::Value* tt = array_of(f, "tokenizer.ggml.token_type", false, toks->count)) {
    for (int32_t i = 0; i < n; ++i) {
      const int64_t v = tt->int_at(i);
      m.types[i] = (v >= 0 && v <= 6) ? static_cast<TokenType>(v) : TokenType::Undefined;
    }
  }
  if (const gguf::Value* sc = array_of(f, "tokenizer.ggml.scores", false, toks->count)) {
    m.scores.resize(n);
    if (sc->elem_type == gguf::ValueType::F32) {
      std::memcpy(m.scores.data(), sc->raw, sizeof(float) * static_cast<size_t>(n));
    } else {
      for (int32_t i = 0; i < n; ++i) m.scores[i] = static_cast<float>(sc->float_at(i));
    }
  }

  // Pre-tokenizer.
  if (const gguf::Value* pre = f.find("tokenizer.ggml.pre")) m.pre = std::string(pre->as_string("tokenizer.ggml.pre"));
  if (m.model == Model::Gpt2) {
    m.pre_kind = pre_kind_from_name(m.pre);
    m.splitter = std::make_unique<RegexSplitter>(m.pre_kind);
    m.ignore_merges = m.pre_kind == PreKind::Llama3;
  }

  // Merges (BPE models): "left right", rank = position.
  if (m.model != Model::Llama) {
    const gguf::Value* mv = array_of(f, "tokenizer.ggml.merges", true, 0);
    if (!mv) fail(f, "tokenizer.ggml.merges is missing (needed by the " + std::string(model) + " tokenizer)");
    const auto& strs = mv->strs;
    const size_t nm = strs.size();
    m.merges.init(nm, static_cast<size_t>(n) + 3 * nm);
    // Resolve "a b" -> ids of a, b and a+b, software-pipelined: the hash slots of merge k + D
    // are prefetched while merge k is looked up (the tables are far larger than the caches).
    constexpr size_t D = 8;
    struct Pending {
      std::string_view a, b;
      std::string joined;
      uint64_t ha, hb, hj;
    };
    std::vector<Pending> ring(D);
    auto prepare = [&](size_t k) {
      const std::string_view s = strs[k];
      const size_t sp = s.size() > 1 ? s.find(' ', 1) : std::string_view::npos;
      if (sp == std::string_view::npos)
        fail(f, "tokenizer.ggml.merges entry " + std::to_string(k) + " has no space separator");
      Pending& p = ring[k % D];
      p.a = s.substr(0, sp);
      p.b = s.substr(sp + 1);
      p.joined.assign(p.a);
      p.joined.append(p.b);
      p.ha = hash_bytes(p.a.data(), p.a.size());
      p.hb = hash_bytes(p.b.data(), p.b.size());
      p.hj = hash_bytes(p.joined.data(), p.joined.size());
      m.syms.prefetch(p.ha);
      m.syms.prefetch(p.hb);
      m.syms.prefetch(p.hj);
    };
    auto sym_of = [&](std::string_view s, uint64_t h) {
      int32_t id = m.syms.find_hashed(s, h);
      if (id < 0) id = m.syms.add_indexed(s);  // a symbol merges name but the vocab lacks
      return id;
    };
    std::vector<std::array<int32_t, 3>> triples(nm);
    for (size_t k = 0; k < std::min(D, nm); ++k) prepare(k);
    for (size_t k = 0; k < nm; ++k) {
      const Pending& p = ring[k % D];
      triples[k] = {sym_of(p.a, p.ha), sym_of(p.b, p.hb), sym_of(p.joined, p.hj)};
      if (k + D < nm) prepare(k + D);
    }
    for (size_t k = 0; k < nm; ++k) {
      if (k + D < nm) m.merges.prefetch(triples[k + D][0], triples[k + D][1]);
      m.merges.insert(triples[k][0], triples[k][1], static_cast<int32_t>(k), triples[k][2]);
    }
  }

  // Special ids and flags.
  const bool spm = m.model == Model::Llama;
  m.bos = token_id_key(f, "tokenizer.ggml.bos_token_id", n, spm && n > 1 ? 1 : -1);
  m.eos = token_id_key(f, "tokenizer.ggml.eos_token_id", n, spm && n > 2 ? 2 : -1);
  m.unk = token_id_key(f, "tokenizer.ggml.unknown_token_id", n, spm ? 0 : -1);
  m.pad = token_id_key(f, "tokenizer.ggml.padding_token_id", n, -1);
  m.eot = token_id_key(f, "tokenizer.ggml.eot_token_id", n, -1);
  const int32_t eom = token_id_key(f, "tokenizer.ggml.eom_token_id", n, -1);
  const bool bos_default = spm || m.model == Model::Gemma4 || m.pre_kind == PreKind::Llama3;
  m.add_bos = bool_key(f, "tokenizer.ggml.add_bos_token", bos_default);
  if (m.model == Model::Gemma4) m.add_bos = true;  // forced, like the reference
  m.add_eos = bool_key(f, "tokenizer.ggml.add_eos_token", false);
  m.add_space_prefix = bool_key(f, "tokenizer.ggml.add_space_prefix", spm);
  if (m.model != Model::Llama) m.add_space_prefix = false;

  if (m.eot < 0) {
    for (const char* s : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<turn|>", "<|endoftext|>"}) {
      const int32_t id = m.syms.find(s);
      if (m.valid(id)) {
        m.eot = id;
        break;
      }
    }
  }

  // End-of-generation set; EOG tokens are forced to CONTROL so they render as nothing.
  m.eog_flag.assign(n, 0);
  auto add_eog = [&](int32_t id) {
    if (!m.valid(id) || m.eog_flag[id]) return;
    m.eog_flag[id] = 1;
    m.eog.push_back(id);
  };
  add_eog(m.eos);
  add_eog(m.eot);
  add_eog(eom);
  for (const char* s : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
                        "<EOT>", "<|end_of_text|>", "<turn|>"}) {
    const int32_t id = m.syms.find(s);
    if (m.valid(id)) add_eog(id);
  }
  if (m.model == Model::Gemma4) {
    const int32_t tr = m.syms.find("<|tool_response>");
    if (m.valid(tr)) {
      add_eog(tr);
      const int32_t es = m.syms.find("</s>");
      if (m.valid(es) && m.eog_flag[es] && es != m.eos) {
        m.eog_flag[es] = 0;
        m.eog.erase(std::remove(m.eog.begin(), m.eog.end(), es), m.eog.end());
      }
    }
  }
  for (int32_t id : m.eog)
    if (m.types[id] == TokenType::UserDefined || m.types[id] == TokenType::Normal) m.types[id] = TokenType::Control;

  // Byte tokens <0xXX>.
  m.byte_tok.fill(-1);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    const int32_t id = m.syms.find(buf);
    if (m.valid(id)) m.byte_tok[b] = id;
  }
  // Single-byte symbols (initial BPE/SPM symbols for ASCII; gpt2: the mapped alphabet).
  for (int b = 0; b < 256; ++b) {
    if (m.model == Model::Gpt2) {
      std::string enc;
      utf8_encode(byte_to_unicode(static_cast<uint8_t>(b)), enc);
      m.byte_enc_len[b] = static_cast<uint8_t>(enc.size());
      m.byte_enc[b] = {enc[0], enc.size() > 1 ? enc[1] : '\0'};
      m.byte_sym[b] = m.syms.find(enc);
    } else {
      const char c = static_cast<char>(b);
      m.byte_sym[b] = m.syms.find(std::string_view(&c, 1));
    }
  }

  // Direct symbol ids of single BMP characters (the initial symbols of gemma4/llama words).
  if (m.model != Model::Gpt2) {
    m.cp_sym.assign(0x10000, -1);
    for (int32_t id = 0; id < m.syms.size(); ++id) {
      const std::string_view s = m.syms.text(id);
      if (s.size() < 2 || s.size() > 3) continue;
      uint32_t cp;
      size_t len;
      if (utf8_decode(s, 0, cp, len) && len == s.size() && cp < 0x10000) m.cp_sym[cp] = id;
    }
  }

  // Tokens matched in raw text before the model runs: longest first, then lowest id.
  for (int32_t id = 0; id < n; ++id) {
    const TokenType ty = m.types[id];
    if ((ty == TokenType::Control || ty == TokenType::UserDefined || ty == TokenType::Unknown) &&
        !m.syms.text(id).empty())
      m.specials.push_back(id);
  }
  std::stable_sort(m.specials.begin(), m.specials.end(), [&](int32_t a, int32_t b) {
    return m.syms.text(a).size() > m.syms.text(b).size();
  });

  // gemma4/llama: characters that some token carries directly before "▁". Everywhere else a
  // "▁" that follows another character starts a piece no merge can cross (see tokenize.cpp).
  if (m.model != Model::Gpt2) {
    for (int32_t id = 0; id < m.syms.size(); ++id) {  // extra BPE symbols included
      const std::string_view s = m.syms.text(id);
      for (size_t p = s.find(kSpaceMark, 1); p != std::string_view::npos; p = s.find(kSpaceMark, p + 1)) {
        size_t q = p - 1;
        while (q > 0 && (static_cast<uint8_t>(s[q]) & 0xC0) == 0x80) --q;
        if (s.substr(q, p - q) == kSpaceMark) continue;
        uint32_t cp;
        size_t len;
        const uint32_t key = utf8_decode(s, q, cp, len) ? cp : 0xFFFFFFFFu;
        if (std::find(m.space_joiners.begin(), m.space_joiners.end(), key) == m.space_joiners.end())
          m.space_joiners.push_back(key);
      }
    }
  }
  return t;
}

}  // namespace fitserve::tokenizer
