// libFuzzer target: tokenizing any bytes never fails, ids stay in range, the round trip holds
// where the vocab allows it, and streaming detokenization only emits valid UTF-8. A first byte
// of 0xFF instead feeds the rest to the GGUF reader + tokenizer loader, which may only throw
// core::Error.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/testdata.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

using namespace fitserve;

namespace {

std::vector<std::unique_ptr<tokenizer::Tokenizer>>& vocabs() {
  static std::vector<std::unique_ptr<tokenizer::Tokenizer>> v = [] {
    std::vector<std::unique_ptr<tokenizer::Tokenizer>> out;
    for (const std::string p : {core::test::repo_data("vocab/ggml-vocab-llama-spm.gguf"),
                                core::test::repo_data("vocab/ggml-vocab-gpt-2.gguf"),
                                core::test::testdata("vocab/ggml-vocab-gemma-4.gguf"),
                                core::test::testdata("vocab/ggml-vocab-llama-bpe.gguf")})
      if (core::test::exists(p)) out.push_back(std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_file(p)));
    return out;
  }();
  return v;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] == 0xFF) {
    std::vector<uint8_t> bytes(data + 1, data + size);
    try {
      auto f = gguf::File::parse(core::MappedFile::from_bytes(std::move(bytes), "fuzz.gguf"));
      auto t = tokenizer::Tokenizer::from_gguf(f);
      (void)t.tokenize("Hello world \xF0\x9F\xA6\x99 <s>\n\n", true, true);
    } catch (const core::Error&) {
    }
    return 0;
  }
  auto& vs = vocabs();
  if (vs.empty()) return 0;
  const uint8_t mode = data[0];
  tokenizer::Tokenizer& tok = *vs[mode % vs.size()];
  const bool add_special = mode & 0x10, parse_special = mode & 0x20;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto ids = tok.tokenize(text, add_special, parse_special);
  for (int32_t id : ids) check(id >= 0 && id < tok.n_vocab());
  if (!parse_special) {
    // Round trip: byte-level BPE sees invalid bytes as U+FFFD; "▁" vocabs turn a literal U+2581
    // into a space. User-defined tokens render as their text, so they round-trip too.
    std::string expect = tok.model() == tokenizer::Model::Gpt2 ? tokenizer::sanitize_utf8(text) : text;
    if (tok.model() != tokenizer::Model::Gpt2)
      for (size_t p = expect.find("\xE2\x96\x81"); p != std::string::npos; p = expect.find("\xE2\x96\x81", p))
        expect.replace(p, 3, " ");
    check(tok.detokenize(ids, false) == expect);
  }
  tokenizer::StreamDecoder dec(tok, mode & 0x40);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string piece = dec.push(id);
    check(tokenizer::is_valid_utf8(piece));
    streamed += piece;
  }
  streamed += dec.flush();
  check(streamed == tokenizer::sanitize_utf8(tok.detokenize(ids, mode & 0x40)));
  return 0;
}
