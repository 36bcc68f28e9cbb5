// tokenizer/pretokenize.cpp — PCRE2-based pre-tokenizers and the byte-level alphabet.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>

#include <array>

#include "core/error.h"

namespace fitserve::tokenizer {

namespace {

// The split expressions of the supported `tokenizer.ggml.pre` families (format facts of those
// tokenizers). Each list is applied in order: every expression re-splits the pieces of the
// previous one, keeping both the matches and the text between them.
const std::vector<const char*>& patterns(PreKind k) {
  static const std::vector<const char*> kGpt2 = {
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"};
  static const std::vector<const char*> kDefault = {
      "[\\p{P}\\$\\+<=>\\^~\\|]+",
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
      "\\p{N}+",
      "[0-9][0-9][0-9]",
  };
  static const std::vector<const char*> kLlama3 = {
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
      "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"};
  static const std::vector<const char*> kQwen2 = {
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
      "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"};
  switch (k) {
    case PreKind::Gpt2: return kGpt2;
    case PreKind::Llama3: return kLlama3;
    case PreKind::Qwen2: return kQwen2;
    case PreKind::Default: break;
  }
  return kDefault;
}

}  // namespace

PreKind pre_kind_from_name(std::string_view n) {
  if (n.empty() || n == "default") return PreKind::Default;
  if (n == "gpt-2" || n == "gpt2" || n == "phi-2" || n == "phi-3" || n == "phi3") return PreKind::Gpt2;
  if (n == "llama3" || n == "llama-v3" || n == "llama-bpe") return PreKind::Llama3;
  if (n == "qwen2") return PreKind::Qwen2;
  throw core::Error("tokenizer", "unknown pre-tokenizer '" + std::string(n) + "' (tokenizer.ggml.pre)",
                    "supported: default, gpt-2, phi-2, phi-3, llama3, llama-bpe, qwen2");
}

const char* pre_kind_name(PreKind k) {
  switch (k) {
    case PreKind::Gpt2: return "gpt-2";
    case PreKind::Llama3: return "llama3";
    case PreKind::Qwen2: return "qwen2";
    case PreKind::Default: break;
  }
  return "default";
}

struct RegexSplitter::Impl {
  std::vector<pcre2_code*> codes;
  bool jit = false;
  ~Impl() {
    for (auto* c : codes) pcre2_code_free(c);
  }
};

RegexSplitter::RegexSplitter(PreKind kind) : impl_(std::make_unique<Impl>()) {
  for (const char* pat : patterns(kind)) {
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat), PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw core::Error("tokenizer", std::string("pre-tokenizer regex does not compile: ") +
                                         reinterpret_cast<char*>(msg));
    }
    impl_->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    impl_->codes.push_back(code);
  }
}

RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::split(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& out) const {
  out.clear();
  if (text.empty()) return;
  std::vector<std::pair<uint32_t, uint32_t>> cur{{0u, static_cast<uint32_t>(text.size())}}, next;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  for (pcre2_code* code : impl_->codes) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    if (!md) throw core::Error("oom", "pcre2 match data");
    next.clear();
    for (auto [off, len] : cur) {
      // Match inside [off, off+len): pass the piece end as the subject length; lookarounds then
      // see the piece boundary as the end of the text, like splitting each piece on its own.
      size_t pos = off;
      const size_t end = static_cast<size_t>(off) + len;
      while (pos < end) {
        const int rc = impl_->jit
                           ? pcre2_jit_match(code, subject + off, len, pos - off, PCRE2_NO_UTF_CHECK, md, nullptr)
                           : pcre2_match(code, subject + off, len, pos - off, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc < 0) break;  // no more matches (or a match error: keep the rest whole)
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t ms = off + ov[0], me = off + ov[1];
        if (me == ms) {  // empty match: step over one character
          size_t step = 1;
          while (ms + step < end && (static_cast<uint8_t>(text[ms + step]) & 0xC0) == 0x80) ++step;
          if (ms > pos) next.emplace_back(static_cast<uint32_t>(pos), static_cast<uint32_t>(ms - pos));
          next.emplace_back(static_cast<uint32_t>(ms), static_cast<uint32_t>(step));
          pos = ms + step;
          continue;
        }
        if (ms > pos) next.emplace_back(static_cast<uint32_t>(pos), static_cast<uint32_t>(ms - pos));
        next.emplace_back(static_cast<uint32_t>(ms), static_cast<uint32_t>(me - ms));
        pos = me;
      }
      if (pos < end) next.emplace_back(static_cast<uint32_t>(pos), static_cast<uint32_t>(end - pos));
    }
    pcre2_match_data_free(md);
    cur.swap(next);
  }
  out = std::move(cur);
}

namespace {
struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> from_cp{};
  ByteMap() {
    from_cp.fill(-1);
    uint32_t extra = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : extra++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}
}  // namespace

uint32_t byte_to_unicode(uint8_t b) { return byte_map().to_cp[b]; }
int unicode_to_byte(uint32_t cp) { return cp < 324 ? byte_map().from_cp[cp] : -1; }

}  // namespace fitserve::tokenizer
