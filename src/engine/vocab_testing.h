// engine/vocab_testing.h — for tests: the tiny Gemma 4 test models (shared/testdata/models/
// gemma4-dense*.gguf) have no vocabulary, and the Engine (serve) needs one.
// Offers: write_with_vocab(src) → path of a copy in the temp dir (the caller removes it) with a
// synthetic 256-token SPM vocabulary: 0 <pad>, 1 <eos> (EOG), 2 <bos>, 3 <unk>, i "[i]" (so a
// token's text names it and a stop string "[17]" matches only token 17); no BOS added.
#pragma once
#include <string>
#include <vector>

#include "model/variant_testing.h"

namespace fitserve::engine::testing {

inline std::string write_with_vocab(const std::string& src) {
  return model::testing::write_variant(src, "vocab", [](gguf::Writer& w) {
    std::vector<std::string> toks = {"<pad>", "<eos>", "<bos>", "<unk>"};
    std::vector<int32_t> types = {3, 3, 3, 2};  // control, control, control, unknown
    for (int i = 4; i < 256; ++i) {
      toks.push_back("[" + std::to_string(i) + "]");
      types.push_back(1);
    }
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_array_string("tokenizer.ggml.tokens", toks);
    w.set_array_i32("tokenizer.ggml.token_type", types);
    w.set_array_f32("tokenizer.ggml.scores", std::vector<float>(256, 0.0f));
    w.set_u32("tokenizer.ggml.bos_token_id", 2);
    w.set_u32("tokenizer.ggml.eos_token_id", 1);
    w.set_u32("tokenizer.ggml.unknown_token_id", 3);
    w.set_bool("tokenizer.ggml.add_bos_token", false);
  });
}

}  // namespace fitserve::engine::testing
