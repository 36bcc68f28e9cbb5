// plan/plan.h — the memory plan: bytes of every buffer a configuration needs, from GGUF headers.
// Offers:
//   plan::RunSettings                 -c, -np, unified KV, -b/-ub, -ctk/-ctv, swa_full, drafts, images
//   plan::kv_layer_layout(m, s)       per-layer KV cache: cells, streams, K/V row widths and bytes
//                                     (spec gguf-and-quants §9: SWA layers sized to the window,
//                                     shared-KV layers and the MTP assistant own nothing)
//   plan::compute_buffers(m, s, kv)   scratch buffers of one forward pass (named, in bytes)
//   plan::make_plan(models, s)        every component (weights by type, mmproj, drafter, KV,
//                                     compute, output) and the total; the engine allocates this
//   plan::max_context(models, s, b)   largest n_ctx whose plan total fits in b bytes (binary search)
//   plan::fit(models, s, cap, margin) resolve -c auto under a cap, or throw core::Error("oom")
//                                     "does not fit: ... needs X more" (same text everywhere)
//   plan::parse_size("20G"), format_bytes(), default_margin(cap)
// Flash-attention-style attention is assumed (no score matrix, V not transposed).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plan/headers.h"
#include "quant/types.h"

namespace fitserve::plan {

struct RunSettings {
  int64_t n_ctx = 0;            // total cells over all sequences; 0 = auto (n_ctx_train x n_seq, or
                                // the largest that fits the cap)
  int64_t n_seq = 1;            // parallel sequences (slots, -np)
  bool kv_unified = false;      // one cell pool shared by all sequences (else one stream each)
  int64_t n_batch = 2048;
  int64_t n_ubatch = 512;
  quant::Type type_k = quant::Type::F16;
  quant::Type type_v = quant::Type::F16;
  bool swa_full = false;        // SWA layers get full-size caches
  int64_t n_draft = 3;          // tokens drafted per step when a drafter is used
  int64_t n_outputs_max = 0;    // logit rows; 0 = n_seq x (1 + n_draft with a drafter)
  int64_t image_max_tokens = 1120;  // largest image (tokens) the mmproj compute is sized for
};

// Validates the settings (types allowed for a cache, positive sizes); throws core::Error("usage").
void check_settings(const RunSettings& s);

struct KvLayer {
  int layer = 0;
  bool swa = false;
  bool owns = true;
  int source = -1;              // layer whose cache this layer reads (itself when it owns one)
  int64_t cells = 0;            // per stream
  int64_t k_width = 0, v_width = 0;  // elements per cell (n_head_kv x head dim)
  uint64_t k_row = 0, v_row = 0;     // bytes per cell
  uint64_t bytes = 0;           // n_stream x cells x (k_row + v_row); 0 when not owned
};

struct KvLayout {
  int64_t n_ctx = 0;            // padded total
  int64_t n_ctx_seq = 0;        // cells a sequence can use
  int64_t n_stream = 1;
  int64_t cells_full = 0, cells_swa = 0;
  quant::Type type_k = quant::Type::F16, type_v = quant::Type::F16;
  std::vector<KvLayer> layers;
  uint64_t bytes_full = 0, bytes_swa = 0;
  int n_full = 0, n_swa = 0, n_shared = 0;  // layers owning a full / SWA cache, layers owning none
  uint64_t total() const { return bytes_full + bytes_swa; }
};

KvLayout kv_layer_layout(const ModelHeaders& m, const RunSettings& s);

// Scratch of one forward pass over n_tokens rows (f32 activations unless noted).
struct ComputeBuffers {
  int64_t n_tokens = 0;
  uint64_t hidden = 0;      // residual, normed input, branch output: 3 x n_tok x n_embd
  uint64_t attention = 0;   // q, k, v, attention output rows
  uint64_t ffn = 0;         // gate and up rows (product in place)
  uint64_t moe = 0;         // router logits, routed gate/up rows, expert outputs
  uint64_t ple = 0;         // per-layer embedding inputs (Gemma E models)
  uint64_t quant_work = 0;  // activations converted for the weight type (<= 2 bytes per value)
  uint64_t masks = 0;       // KQ mask buffers: 0 (our attention masks on the fly)
  uint64_t other = 0;       // model-specific extra (assistant input/output rows, image pixels)
  uint64_t total() const { return hidden + attention + ffn + moe + ple + quant_work + masks + other; }
};

ComputeBuffers compute_buffers(const ModelHeaders& m, const RunSettings& s, const KvLayout& kv);
// mmproj encode of one image of s.image_max_tokens tokens.
ComputeBuffers mmproj_compute(const ModelHeaders& mm, const RunSettings& s, int64_t n_embd_text);

struct ModelSet {
  const ModelHeaders* text = nullptr;
  const ModelHeaders* mmproj = nullptr;
  const ModelHeaders* draft = nullptr;  // MTP assistant or a classic draft model
};

struct Component {
  std::string key;      // stable id: "weights", "weights.Q4_0", "mmproj", "kv.full", ...
  std::string label;    // table text
  uint64_t bytes = 0;
  int depth = 0;        // 1 = detail row of the row above (not added to the total again)
};

struct Plan {
  RunSettings settings;          // as resolved (n_ctx padded, n_outputs_max filled)
  KvLayout kv;                   // text model
  KvLayout draft_kv;             // classic draft model (empty for an assistant)
  ComputeBuffers compute, draft_compute, mmproj_compute;
  uint64_t weights_text = 0, weights_mmproj = 0, weights_draft = 0;
  uint64_t kv_bytes = 0, compute_bytes = 0, output_bytes = 0;
  uint64_t total = 0;
  std::vector<Component> components;
};

Plan make_plan(const ModelSet& models, const RunSettings& s);
inline Plan make_plan(const ModelHeaders& text, const RunSettings& s) { return make_plan(ModelSet{&text}, s); }

// Context granularity: n_ctx is padded to 256 cells per stream.
int64_t ctx_step(const RunSettings& s);
// Upper bound for n_ctx: n_ctx_train x n_seq (or 1M cells when unknown).
int64_t ctx_limit(const ModelSet& models, const RunSettings& s);
// Largest n_ctx (multiple of ctx_step, <= ctx_limit) whose plan total is <= budget; 0 if none.
int64_t max_context(const ModelSet& models, RunSettings s, uint64_t budget);

uint64_t default_margin(uint64_t cap);  // 1 GiB, or cap/8 for caps under 8 GiB

struct FitResult {
  Plan plan;
  uint64_t cap = 0, margin = 0;
  int64_t max_ctx = 0;           // largest context that fits (0: nothing fits)
  bool auto_ctx = false;         // n_ctx was chosen by the planner
};
// cap == 0: no cap (n_ctx auto = ctx_limit). Otherwise resolves n_ctx == 0 to the largest that
// fits and throws core::Error("oom", "does not fit: ...") when the configuration cannot fit.
FitResult fit(const ModelSet& models, RunSettings s, uint64_t cap, std::optional<uint64_t> margin = {});
// The message fit() throws, for a plan that exceeds budget = cap - margin.
std::string does_not_fit_message(const Plan& p, uint64_t cap, uint64_t margin);

// "20G", "20GiB" (binary), "20GB" (10^9), "512M", "1.5T", "123456" (bytes).
uint64_t parse_size(const std::string& s);
std::string format_bytes(uint64_t b);  // "12.70 GiB", "838.0 MiB", "512 B"

}  // namespace fitserve::plan
