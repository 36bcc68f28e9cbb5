// tokenizer/tokenize.cpp — text -> ids: special-token partition, then the model's algorithm.
//
// gemma4: spaces become "▁", the text is cut into runs of '\n' and runs of other characters,
//   and each run is BPE-merged by merge rank over its UTF-8 characters; symbols left that are
//   not tokens become <0xXX> byte tokens. For speed a run is further cut before every "▁" that
//   follows a character no token has directly before "▁" (load.cpp collects those): no merge
//   result can span such a cut, so merging the parts separately gives the same ids.
// llama (SentencePiece): spaces become "▁" (plus one leading "▁" at the start and after special
//   tokens when add_space_prefix), adjacent symbols whose concatenation is a token merge, highest
//   score first; unknown characters become byte tokens. Cut into pieces like gemma4 runs.
// gpt2: invalid UTF-8 -> U+FFFD, regex pre-tokenization, bytes mapped to the GPT-2 alphabet,
//   BPE by merge rank (llama3: a piece that is a whole token is taken as is).
#include <cstring>

#include "core/error.h"
#include "tokenizer/impl.h"
#include "tokenizer/merge_engine.h"
#include "tokenizer/utf8.h"
#include "tokenizer/word_cache.h"

namespace fitserve::tokenizer {

namespace {

constexpr char kMark[] = "\xE2\x96\x81";  // "▁"

struct Fragment {
  uint32_t off, len;
  int32_t token;  // >= 0: a special token; -1: raw text
};

struct Scratch {
  MergeWork work;
  std::string buf, enc;
  std::vector<Fragment> frags, next;
  std::vector<std::pair<uint32_t, uint32_t>> pieces;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

inline bool is_mark(std::string_view s, size_t p) {
  return p + 3 <= s.size() && s[p] == kMark[0] && s[p + 1] == kMark[1] && s[p + 2] == kMark[2];
}

// Length of the character at s[p] (strictly valid sequences; anything else is one byte).
inline size_t char_len(std::string_view s, size_t p) {
  const auto b = static_cast<uint8_t>(s[p]);
  if (b < 0x80) return 1;
  uint32_t cp;
  size_t len;
  utf8_decode(s, p, cp, len);
  return len;
}

// Higher SentencePiece score merges first: map the float to a key where smaller is better.
inline uint32_t score_key(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t ordered = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // ascending with f
  return ~ordered;
}

void push_bytes(const Tokenizer::Impl& m, std::string_view bytes, std::vector<int32_t>& out) {
  for (char c : bytes) {
    const int32_t id = m.byte_tok[static_cast<uint8_t>(c)];
    if (id >= 0) out.push_back(id);
    else if (m.unk >= 0) out.push_back(m.unk);
  }
}

// Initial symbols: one per character of `word` (a byte that starts no valid character is
// a character of its own).
void init_chars(const Tokenizer::Impl& m, std::string_view word, MergeWork& w) {
  w.clear();
  for (size_t p = 0; p < word.size();) {
    const auto b = static_cast<uint8_t>(word[p]);
    int32_t id;
    size_t len = 1;
    uint32_t cp;
    if (b < 0x80 || !utf8_decode(word, p, cp, len)) id = m.byte_sym[b];
    else if (cp < 0x10000 && !m.cp_sym.empty()) id = m.cp_sym[cp];
    else id = m.syms.find(word.substr(p, len));
    w.push_symbol(id, static_cast<uint32_t>(p), static_cast<uint32_t>(len));
    p += len;
  }
}

void merge_by_rank(const Tokenizer::Impl& m, MergeWork& w) {
  run_merges(w, [&](const Symbol& l, const Symbol& r, uint32_t& prio, int32_t& result) {
    if (l.id < 0 || r.id < 0) return false;
    int32_t rank;
    if (!m.merges.find(l.id, r.id, rank, result)) return false;
    prio = static_cast<uint32_t>(rank);
    return true;
  });
}

// One gemma4 word: rank BPE, byte fallback.
void gemma4_word(const Tokenizer::Impl& m, std::string_view word, std::vector<int32_t>& out, MergeWork& w) {
  if (word.empty()) return;
  if (word.size() == 1) {
    const int32_t id = m.byte_sym[static_cast<uint8_t>(word[0])];
    if (m.valid(id)) out.push_back(id);
    else push_bytes(m, word, out);
    return;
  }
  WordCache* cache = m.use_cache && word.size() <= WordCache::kMaxWord ? &WordCache::for_thread(m.serial) : nullptr;
  uint64_t h = 0;
  if (cache) {
    h = hash_bytes(word.data(), word.size());
    if (cache->get(word, h, out)) return;
  }
  const size_t before = out.size();
  init_chars(m, word, w);
  merge_by_rank(m, w);
  for (int32_t i = 0; i >= 0; i = w.syms[i].next) {
    const Symbol& s = w.syms[i];
    if (m.valid(s.id)) out.push_back(s.id);
    else push_bytes(m, word.substr(s.start, s.len), out);
  }
  if (cache) cache->put(word, h, out.data() + before, out.size() - before);
}

bool is_joiner(const Tokenizer::Impl& m, std::string_view s, size_t p) {
  if (m.space_joiners.empty()) return false;
  uint32_t cp;
  size_t len;
  const uint32_t key = utf8_decode(s, p, cp, len) ? cp : 0xFFFFFFFFu;
  for (uint32_t j : m.space_joiners)
    if (j == key) return true;
  return false;
}

// Calls word_fn on the pieces of `run` (text without '\n', spaces already "▁"): cut before
// every "▁" that follows a character other than "▁" which no token has right before "▁".
template <class WordFn>
void for_each_word(const Tokenizer::Impl& m, std::string_view run, WordFn&& word_fn) {
  size_t seg = 0, p = 0, prev = 0;
  bool prev_mark = false;
  const size_t e = run.size();
  if (m.split_words) {
    while (p < e) {
      if (is_mark(run, p)) {
        if (p > seg && !prev_mark && !is_joiner(m, run, prev)) {
          word_fn(run.substr(seg, p - seg));
          seg = p;
        }
        prev_mark = true;
        prev = p;
        p += 3;
      } else {
        prev_mark = false;
        prev = p;
        p += char_len(run, p);
      }
    }
  }
  word_fn(run.substr(seg));
}

void escape_spaces(std::string_view text, bool prefix, std::string& buf) {
  buf.clear();
  buf.reserve(text.size() + text.size() / 2 + 3);
  if (prefix) buf.append(kMark, 3);
  for (char c : text) {
    if (c == ' ') buf.append(kMark, 3);
    else buf.push_back(c);
  }
}

void gemma4_fragment(const Tokenizer::Impl& m, std::string_view text, std::vector<int32_t>& out, Scratch& sc) {
  escape_spaces(text, false, sc.buf);
  const std::string_view s = sc.buf;
  const size_t n = s.size();
  auto word = [&](std::string_view w) { gemma4_word(m, w, out, sc.work); };
  size_t i = 0;
  while (i < n) {
    if (s[i] == '\n') {
      size_t j = i;
      while (j < n && s[j] == '\n') ++j;
      word(s.substr(i, j - i));
      i = j;
      continue;
    }
    size_t e = s.find('\n', i);
    if (e == std::string_view::npos) e = n;
    for_each_word(m, s.substr(i, e - i), word);
    i = e;
  }
}

// One SentencePiece piece: merge adjacent symbols whose concatenation is a token, best score
// first; leftover characters become byte tokens.
void spm_word(const Tokenizer::Impl& m, std::string_view word, std::vector<int32_t>& out, MergeWork& w) {
  if (word.empty()) return;
  WordCache* cache = m.use_cache && word.size() <= WordCache::kMaxWord ? &WordCache::for_thread(m.serial) : nullptr;
  uint64_t h = 0;
  if (cache) {
    h = hash_bytes(word.data(), word.size());
    if (cache->get(word, h, out)) return;
  }
  const size_t before = out.size();
  init_chars(m, word, w);
  run_merges(w, [&](const Symbol& l, const Symbol& r, uint32_t& prio, int32_t& result) {
    const int32_t id = m.syms.find(word.substr(l.start, l.len + r.len));
    if (!m.valid(id)) return false;
    prio = score_key(m.scores.empty() ? 0.0f : m.scores[id]);
    result = id;
    return true;
  });
  for (int32_t i = 0; i >= 0; i = w.syms[i].next) {
    const Symbol& s = w.syms[i];
    if (m.valid(s.id)) out.push_back(s.id);
    else push_bytes(m, word.substr(s.start, s.len), out);
  }
  if (cache) cache->put(word, h, out.data() + before, out.size() - before);
}

// The pieces of one text fragment (cut like gemma4 runs: no token spans a cut, so merging the
// pieces one by one gives the same ids as merging the whole fragment).
void spm_fragment(const Tokenizer::Impl& m, std::string_view text, bool space_prefix, std::vector<int32_t>& out,
                  Scratch& sc) {
  escape_spaces(text, space_prefix, sc.buf);
  for_each_word(m, sc.buf, [&](std::string_view w) { spm_word(m, w, out, sc.work); });
}

void gpt2_word(const Tokenizer::Impl& m, std::string_view raw, std::vector<int32_t>& out, Scratch& sc);

void gpt2_fragment(const Tokenizer::Impl& m, std::string_view text, std::vector<int32_t>& out, Scratch& sc) {
  std::string clean;
  if (!is_valid_utf8(text)) {
    clean = sanitize_utf8(text);
    text = clean;
  }
  m.splitter->split(text, sc.pieces);
  for (auto [off, len] : sc.pieces) {
    const std::string_view raw = text.substr(off, len);
    WordCache* cache = m.use_cache && len <= WordCache::kMaxWord ? &WordCache::for_thread(m.serial) : nullptr;
    uint64_t h = 0;
    if (cache) {
      h = hash_bytes(raw.data(), raw.size());
      if (cache->get(raw, h, out)) continue;
    }
    const size_t before = out.size();
    gpt2_word(m, raw, out, sc);
    if (cache) cache->put(raw, h, out.data() + before, out.size() - before);
  }
}

void gpt2_word(const Tokenizer::Impl& m, std::string_view raw, std::vector<int32_t>& out, Scratch& sc) {
  std::string& enc = sc.enc;
  MergeWork& w = sc.work;
  enc.clear();
  w.clear();
  for (char c : raw) {
    const auto b = static_cast<uint8_t>(c);
    const auto start = static_cast<uint32_t>(enc.size());
    enc.append(m.byte_enc[b].data(), m.byte_enc_len[b]);
    w.push_symbol(m.byte_sym[b], start, m.byte_enc_len[b]);
  }
  if (m.ignore_merges) {
    const int32_t id = m.syms.find(enc);
    if (m.valid(id)) {
      out.push_back(id);
      return;
    }
  }
  merge_by_rank(m, w);
  for (int32_t i = 0; i >= 0; i = w.syms[i].next) {
    const Symbol& s = w.syms[i];
    if (m.valid(s.id)) {
      out.push_back(s.id);
      continue;
    }
    // Not a token: keep whichever single bytes of it are tokens (the reference's fallback).
    for (uint32_t k = 0; k < s.len; ++k) {
      const int32_t id = m.syms.find(std::string_view(enc).substr(s.start + k, 1));
      if (m.valid(id)) out.push_back(id);
    }
  }
}

}  // namespace

std::vector<int32_t> Tokenizer::tokenize(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  tokenize_into(text, add_special, parse_special, out);
  return out;
}

void Tokenizer::tokenize_into(std::string_view text, bool add_special, bool parse_special,
                              std::vector<int32_t>& out) const {
  const Impl& m = *impl_;
  Scratch& sc = scratch();
  if (text.size() >= (1ull << 32) - 16)
    throw core::Error("tokenizer", "text too long to tokenize (" + std::to_string(text.size()) + " bytes)");

  // 1. Cut special-token strings out of the text (longest first, each over all raw pieces).
  auto& frags = sc.frags;
  auto& next = sc.next;
  frags.clear();
  if (!text.empty()) frags.push_back(Fragment{0, static_cast<uint32_t>(text.size()), -1});
  for (int32_t id : m.specials) {
    if (!parse_special && m.types[id] != TokenType::UserDefined) continue;
    const std::string_view tt = m.syms.text(id);
    bool hit_any = false;
    for (const Fragment& fr : frags) {
      if (fr.token < 0 && fr.len >= tt.size() && text.substr(fr.off, fr.len).find(tt) != std::string_view::npos) {
        hit_any = true;
        break;
      }
    }
    if (!hit_any) continue;
    next.clear();
    for (const Fragment& fr : frags) {
      if (fr.token >= 0 || fr.len < tt.size()) {
        next.push_back(fr);
        continue;
      }
      const std::string_view piece = text.substr(fr.off, fr.len);
      size_t pos = 0;
      for (size_t hit = piece.find(tt); hit != std::string_view::npos; hit = piece.find(tt, pos)) {
        if (hit > pos) next.push_back(Fragment{fr.off + static_cast<uint32_t>(pos), static_cast<uint32_t>(hit - pos), -1});
        next.push_back(Fragment{fr.off + static_cast<uint32_t>(hit), static_cast<uint32_t>(tt.size()), id});
        pos = hit + tt.size();
      }
      if (pos < fr.len) next.push_back(Fragment{fr.off + static_cast<uint32_t>(pos), fr.len - static_cast<uint32_t>(pos), -1});
    }
    frags.swap(next);
  }

  // 2. BOS, the pieces, EOS.
  if (add_special && m.add_bos && m.bos >= 0) out.push_back(m.bos);
  bool prev_special = true;  // SentencePiece: a space prefix at the start and after specials
  for (const Fragment& fr : frags) {
    if (fr.token >= 0) {
      out.push_back(fr.token);
      prev_special = true;
      continue;
    }
    const std::string_view piece = text.substr(fr.off, fr.len);
    switch (m.model) {
      case Model::Gemma4: gemma4_fragment(m, piece, out, sc); break;
      case Model::Llama: spm_fragment(m, piece, m.add_space_prefix && prev_special, out, sc); break;
      case Model::Gpt2: gpt2_fragment(m, piece, out, sc); break;
    }
    prev_special = false;
  }
  if (add_special && m.add_eos && m.eos >= 0) out.push_back(m.eos);
  // Per-thread buffers keep their capacity between calls, but not that of a huge text.
  if (sc.buf.capacity() > (size_t{8} << 20)) std::string().swap(sc.buf);
  if (sc.frags.capacity() > (size_t{1} << 16)) {
    std::vector<Fragment>().swap(sc.frags);
    std::vector<Fragment>().swap(sc.next);
  }
  if (sc.pieces.capacity() > (size_t{1} << 20)) std::vector<std::pair<uint32_t, uint32_t>>().swap(sc.pieces);
}

}  // namespace fitserve::tokenizer
