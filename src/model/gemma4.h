// model/gemma4.h — Gemma 4 specifics beyond the Model interface (make_gemma4 is in arch.h).
// Offers: a tensor tap for debugging a forward pass against the reference's per-layer dumps
// (golden/*.teacher.dump: "inp_scaled", "inp_per_layer", "l_out-N", "ffn_moe_logits-N",
// "ffn_moe_weights_norm-N", "result_norm"), called with every row of the batch, row-major
// [rows][cols]. set_gemma4_tap returns false if the model is not a Gemma 4 model.
// Also: gemma4_drafter_target(m), what an MTP assistant (gemma4_assistant.h) reads from its target:
// the target's input embedding table and, for its sliding and full layers, the target cache layer
// (n_layer − 2 / n_layer − 1, spec gemma4-mtp.md §5; the KV cache resolves shared layers) with
// that layer's KV-head count, head dim and window.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "model/model.h"
#include "model/weights.h"

namespace fitserve::model {

using TapFn = std::function<void(const std::string& name, const float* data, int64_t rows, int64_t cols)>;
bool set_gemma4_tap(Model& m, TapFn tap);

struct Gemma4CacheLayer {
  int layer = -1;  // target layer index (pass to kv::attention / KvCache::view)
  bool swa = false;
  int n_head_kv = 0, head_dim = 0;
  int32_t window = 0;  // sliding window (0 for a full layer)
};
struct Gemma4DrafterTarget {
  Weight tok_embd;  // {n_embd, n_vocab}: the input embedding table (scaled by sqrt(n_embd) on use)
  int32_t n_embd = 0, n_vocab = 0;
  Gemma4CacheLayer swa, full;  // layers n_layer − 2 and n_layer − 1
};
// Throws core::Error("model") if m is not a Gemma 4 text model or has fewer than 2 layers.
Gemma4DrafterTarget gemma4_drafter_target(const Model& m);

}  // namespace fitserve::model
