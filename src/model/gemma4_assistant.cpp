// model/gemma4_assistant.cpp — the Gemma 4 MTP assistant (spec gemma4-mtp.md §2–§5).
// One draft step per row (token t, target hidden h, position p):
//   x = target.token_embd[t]·sqrt(n_embd_out); u = W_pre [x, h];
//   per layer: q = rope(rms_head(Wq rms(u)·attn_norm)·q_norm); a = attention of q over the
//   target's cache layer (n_layer−2 for sliding, n_layer−1 for full; scale 1, causal + window);
//   r = u + rms(Wo a)·post_attention_norm; u = (r + rms(GeGLU MLP(rms(r)·ffn_norm))·post_ffw_norm)
//   · layer_output_scale;
//   z = rms(u)·output_norm; logits = token_embd(own) · z (no softcap); h_next = W_post z.
#include "model/gemma4_assistant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "kv/attention.h"
#include "model/gemma4.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "quant/quant.h"

namespace fitserve::model {

using core::Error;

namespace {

struct ALayer {
  bool swa = false;
  int n_head = 0, n_head_kv = 0, hd = 0, n_ff = 0;
  Gemma4CacheLayer src;  // the target cache layer this layer reads
  std::vector<float> attn_norm, q_norm, post_attn_norm, ffn_norm, post_ffw_norm;
  Weight wq, wo, wg, wu, wd;
  float out_scale = 1.0f;
};

const char* kHint = "take the -assistant GGUF made for this model (same repository and size)";

}  // namespace

struct Gemma4Assistant::Impl {
  const gguf::File& f;
  Gemma4DrafterTarget tgt;
  AssistantInfo info;
  float eps = 1e-6f;
  ops::RopeParams rope_swa, rope_full;
  std::vector<float> rope_freqs, output_norm;
  Weight tok_embd, pre, post;
  std::vector<ALayer> layers;
  int64_t max_q = 0, max_ff = 0;
  // work buffers (grow-only)
  ops::RopeTable tab_swa, tab_full;
  ops::Scratch scratch;
  std::vector<float> c, u, n, q, att, o, g, up, z;

  Impl(const gguf::File& file, const Model& target) : f(file), tgt(gemma4_drafter_target(target)) { load(); }

  [[noreturn]] void fail(const std::string& msg, const std::string& hint = "the file is corrupt or not a gemma4-assistant conversion") const {
    throw Error("model", f.path() + ": " + msg, hint);
  }

  void load();
  void mm(core::ThreadPool& pool, const Weight& w, int64_t n_rows, int64_t k, const float* x, int64_t T, float* y) {
    ops::matmul(pool, w.type, w.data, w.row_bytes, n_rows, k, x, T, y, scratch);
  }
};

void Gemma4Assistant::Impl::load() {
  const std::string a = "gemma4-assistant.";
  if (f.architecture() != "gemma4-assistant")
    fail("general.architecture is '" + f.architecture() + "', not 'gemma4-assistant': not an MTP assistant",
         "-md takes the Gemma 4 MTP drafter (an '-assistant' GGUF)");
  WeightBinder b(f);
  info.name = f.get_string("general.name").value_or("");
  const int64_t E = int_key(f, a + "embedding_length", {}, 1, 1 << 20);
  if (!f.find(a + "embedding_length_out"))
    fail("required metadata key 'gemma4-assistant.embedding_length_out' (the target's hidden size) is missing");
  const int64_t Eo = int_key(f, a + "embedding_length_out", {}, 1, 1 << 20);
  if (Eo == E) fail("embedding_length_out equals embedding_length (" + std::to_string(E) + "): not a valid assistant");
  const int n_block = static_cast<int>(int_key(f, a + "block_count", {}, 1, 512));
  const int n_layer = static_cast<int>(int_key(f, a + "nextn_predict_layers", n_block, 1, n_block));
  info.n_embd = static_cast<int32_t>(E);
  info.n_embd_out = static_cast<int32_t>(Eo);
  info.n_layer = n_layer;

  // Against the target (§5): widths first, they say "wrong model" most clearly.
  if (Eo != tgt.n_embd)
    throw Error("model",
                f.path() + ": this MTP assistant expects a target with n_embd=" + std::to_string(Eo) +
                    " (embedding_length_out) but the target has n_embd=" + std::to_string(tgt.n_embd) +
                    "; it belongs to a different model",
                kHint);

  const auto n_head = per_layer_ints(f, a + "attention.head_count", n_block, std::nullopt);
  const auto n_head_kv = per_layer_ints(f, a + "attention.head_count_kv", n_block, -1);
  const auto n_ff = per_layer_ints(f, a + "feed_forward_length", n_block, std::nullopt);
  const int hd_full = static_cast<int>(int_key(f, a + "attention.key_length", {}, 1, 1 << 16));
  const int hd_full_v = static_cast<int>(int_key(f, a + "attention.value_length", hd_full, 1, 1 << 16));
  const int hd_swa = static_cast<int>(int_key(f, a + "attention.key_length_swa", {}, 1, 1 << 16));
  const int hd_swa_v = static_cast<int>(int_key(f, a + "attention.value_length_swa", hd_swa, 1, 1 << 16));
  if (hd_full != hd_full_v || hd_swa != hd_swa_v) fail("key and value head dims differ", "Gemma 4 requires equal K and V head dims");
  const int rot_full = static_cast<int>(int_key(f, a + "rope.dimension_count", hd_full, 2, hd_full));
  const int rot_swa = static_cast<int>(int_key(f, a + "rope.dimension_count_swa", rot_full, 2, hd_swa));
  if (rot_full % 2 || rot_swa % 2) fail("rope dimension counts must be even");
  eps = float_key(f, a + "attention.layer_norm_rms_epsilon", std::nullopt);
  if (!(eps >= 0.0f) || !std::isfinite(eps)) fail("attention.layer_norm_rms_epsilon is not a finite non-negative number");
  const int64_t n_swa = int_key(f, a + "attention.sliding_window", {}, 1, 1 << 30);
  rope_swa = ops::RopeParams{ops::RopeMode::Neox, rot_swa, float_key(f, a + "rope.freq_base_swa", 10000.0f), 1.0f, nullptr};
  rope_full = ops::RopeParams{ops::RopeMode::Neox, rot_full, float_key(f, a + "rope.freq_base", 10000.0f), 1.0f, nullptr};
  if (!(rope_swa.freq_base > 0) || !(rope_full.freq_base > 0)) fail("rope.freq_base must be positive");

  const gguf::Value* pat = f.find(a + "attention.sliding_window_pattern");
  if (!pat) fail("required metadata key 'gemma4-assistant.attention.sliding_window_pattern' is missing");
  if (!pat->is_array() || pat->count < static_cast<uint64_t>(n_layer))
    fail("'gemma4-assistant.attention.sliding_window_pattern' must be an array with one entry per layer");

  layers.resize(static_cast<size_t>(n_layer));
  for (int l = 0; l < n_layer; ++l) {
    ALayer& L = layers[static_cast<size_t>(l)];
    L.swa = pat->int_at(static_cast<uint64_t>(l)) != 0;
    L.n_head = n_head[static_cast<size_t>(l)];
    L.n_head_kv = n_head_kv[static_cast<size_t>(l)] < 0 ? L.n_head : n_head_kv[static_cast<size_t>(l)];
    L.hd = L.swa ? hd_swa : hd_full;
    L.n_ff = n_ff[static_cast<size_t>(l)];
    L.src = L.swa ? tgt.swa : tgt.full;
    const std::string kind = L.swa ? "sliding" : "full";
    if (L.n_head < 1 || L.n_head_kv < 1 || L.n_head % L.n_head_kv)
      fail("layer " + std::to_string(l) + ": head_count " + std::to_string(L.n_head) + " is not a positive multiple of head_count_kv " +
           std::to_string(L.n_head_kv));
    if (L.n_ff < 1) fail("layer " + std::to_string(l) + ": feed_forward_length must be positive");
    if (L.src.swa != L.swa)
      throw Error("model",
                  f.path() + ": assistant layer " + std::to_string(l) + " (" + kind + ") reads target layer " + std::to_string(L.src.layer) +
                      ", which is " + (L.src.swa ? "sliding" : "full") + ": the target's last two layers must be sliding then full",
                  kHint);
    if (L.n_head_kv != L.src.n_head_kv || L.hd != L.src.head_dim)
      throw Error("model",
                  f.path() + ": assistant layer " + std::to_string(l) + " (" + kind + ") has " + std::to_string(L.n_head_kv) +
                      " KV heads of dim " + std::to_string(L.hd) + " but the target cache layer " + std::to_string(L.src.layer) +
                      " it reads has " + std::to_string(L.src.n_head_kv) + " of dim " + std::to_string(L.src.head_dim),
                  kHint);
    if (L.swa && n_swa != L.src.window)
      throw Error("model",
                  f.path() + ": assistant sliding window " + std::to_string(n_swa) + " differs from the target's " +
                      std::to_string(L.src.window),
                  kHint);
  }

  // Tensors (§3).
  tok_embd = b.get("token_embd.weight", {E, -1});
  info.n_vocab = static_cast<int32_t>(tok_embd.rows);
  if (tok_embd.t->ne[2] != 1) fail("token_embd.weight must be 2-D");
  if (info.n_vocab != tgt.n_vocab)
    throw Error("model",
                f.path() + ": the assistant's vocabulary has " + std::to_string(info.n_vocab) + " tokens, the target's " +
                    std::to_string(tgt.n_vocab),
                kHint);
  output_norm = b.vec("output_norm.weight", E);
  pre = b.get("nextn.pre_projection.weight", {2 * Eo, E});
  post = b.get("nextn.post_projection.weight", {E, Eo});
  if (f.tensor("rope_freqs.weight")) {
    rope_freqs = b.vec("rope_freqs.weight", rot_full / 2);
    for (float v : rope_freqs)
      if (!(v > 0.0f)) fail("rope_freqs.weight has a non-positive entry");
    rope_full.freq_factors = rope_freqs.data();
  }
  for (int l = 0; l < n_layer; ++l) {
    ALayer& L = layers[static_cast<size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    const int64_t Dq = int64_t(L.n_head) * L.hd;
    L.attn_norm = b.vec(p + "attn_norm.weight", E);
    L.wq = b.get(p + "attn_q.weight", {E, Dq});
    L.q_norm = b.vec(p + "attn_q_norm.weight", L.hd);
    L.wo = b.get(p + "attn_output.weight", {Dq, E});
    L.post_attn_norm = b.vec(p + "post_attention_norm.weight", E);
    L.ffn_norm = b.vec(p + "ffn_norm.weight", E);
    L.wg = b.get(p + "ffn_gate.weight", {E, L.n_ff});
    L.wu = b.get(p + "ffn_up.weight", {E, L.n_ff});
    L.wd = b.get(p + "ffn_down.weight", {L.n_ff, E});
    L.post_ffw_norm = b.vec(p + "post_ffw_norm.weight", E);
    L.out_scale = b.vec(p + "layer_output_scale.weight", 1)[0];
    max_q = std::max<int64_t>(max_q, Dq);
    max_ff = std::max<int64_t>(max_ff, L.n_ff);
  }
  info.n_params = static_cast<uint64_t>(f.total_params());
  info.n_bytes = f.total_tensor_bytes();
}

Gemma4Assistant::Gemma4Assistant(const gguf::File& f, const Model& target) : impl_(std::make_unique<Impl>(f, target)) {}
Gemma4Assistant::~Gemma4Assistant() = default;
const AssistantInfo& Gemma4Assistant::info() const { return impl_->info; }

void Gemma4Assistant::step(int64_t T, const int32_t* tokens, const float* h, const int32_t* pos, const int32_t* seq,
                           const kv::KvCache& cache, core::ThreadPool& pool, float* logits, float* h_next) {
  Impl& m = *impl_;
  if (T <= 0) return;
  const int64_t E = m.info.n_embd, Eo = m.info.n_embd_out, V = m.info.n_vocab;
  for (const ALayer& L : m.layers) {  // the cache must be the target's (same geometry as at load)
    if (L.src.layer >= cache.n_layers())
      throw Error("request", "the KV cache given to the assistant has " + std::to_string(cache.n_layers()) + " layers",
                  "pass the target model's own cache");
    const kv::LayerSpec& s = cache.config().layers[static_cast<size_t>(L.src.layer)];
    if (s.n_head_kv != L.n_head_kv || s.head_dim_k != L.hd || s.head_dim_v != L.hd)
      throw Error("request", "the KV cache given to the assistant does not have the target's layout", "pass the target model's own cache");
  }
  // Input: c = [target.token_embd[t]·sqrt(Eo), h]; u = W_pre c.
  m.c.resize(static_cast<size_t>(T * 2 * Eo));
  const float s = std::sqrt(static_cast<float>(Eo));
  const Weight& te = m.tgt.tok_embd;
  for (int64_t t = 0; t < T; ++t) {
    const int32_t id = tokens[t];
    if (id < 0 || id >= m.tgt.n_vocab)
      throw Error("request", "token id " + std::to_string(id) + " is out of range [0, " + std::to_string(m.tgt.n_vocab) + ")");
    if (pos[t] < 0) throw Error("request", "negative position");
    float* row = m.c.data() + t * 2 * Eo;
    quant::dequantize_row(te.type, te.data + static_cast<size_t>(id) * te.row_bytes, row, Eo);
    ops::scale(row, s, row, Eo);
    std::memcpy(row + Eo, h + t * Eo, sizeof(float) * static_cast<size_t>(Eo));
  }
  m.u.resize(static_cast<size_t>(T * E));
  m.n.resize(m.u.size());
  m.o.resize(m.u.size());
  m.z.resize(m.u.size());
  m.q.resize(static_cast<size_t>(T * m.max_q));
  m.att.resize(m.q.size());
  m.g.resize(static_cast<size_t>(T * m.max_ff));
  m.up.resize(m.g.size());
  m.mm(pool, m.pre, E, 2 * Eo, m.c.data(), T, m.u.data());
  m.tab_swa.build(m.rope_swa, pos, T);
  m.tab_full.build(m.rope_full, pos, T);

  for (const ALayer& L : m.layers) {
    const int d = L.hd, H = L.n_head;
    const int64_t Dq = int64_t(H) * d;
    ops::rms_norm_rows(pool, m.u.data(), E, m.n.data(), E, T, E, m.eps, L.attn_norm.data());
    m.mm(pool, L.wq, Dq, E, m.n.data(), T, m.q.data());
    ops::rms_norm_rows(pool, m.q.data(), d, m.q.data(), d, T * H, d, m.eps, L.q_norm.data());
    ops::rope(m.q.data(), T, H, d, 0, L.swa ? m.tab_swa : m.tab_full);
    for (int64_t t = 0; t < T; ++t) {
      ops::AttnParams ap;  // scale 1.0, causal; kv::attention fills in the layer's window
      ap.scale = 1.0f;
      kv::attention(pool, cache, L.src.layer, seq[t], m.q.data() + t * Dq, 0, pos + t, 1, H, m.att.data() + t * Dq, 0, ap, m.scratch);
    }
    m.mm(pool, L.wo, E, Dq, m.att.data(), T, m.o.data());
    ops::rms_norm_rows(pool, m.o.data(), E, m.o.data(), E, T, E, m.eps, L.post_attn_norm.data());
    ops::add(m.u.data(), m.o.data(), m.u.data(), T * E);
    ops::rms_norm_rows(pool, m.u.data(), E, m.n.data(), E, T, E, m.eps, L.ffn_norm.data());
    const int64_t F = L.n_ff;
    m.mm(pool, L.wg, F, E, m.n.data(), T, m.g.data());
    m.mm(pool, L.wu, F, E, m.n.data(), T, m.up.data());
    ops::geglu(m.g.data(), m.up.data(), m.g.data(), T * F);
    m.mm(pool, L.wd, E, F, m.g.data(), T, m.o.data());
    ops::rms_norm_rows(pool, m.o.data(), E, m.o.data(), E, T, E, m.eps, L.post_ffw_norm.data());
    ops::add(m.u.data(), m.o.data(), m.u.data(), T * E);
    ops::scale(m.u.data(), L.out_scale, m.u.data(), T * E);
  }
  ops::rms_norm_rows(pool, m.u.data(), E, m.z.data(), E, T, E, m.eps, m.output_norm.data());
  if (logits) m.mm(pool, m.tok_embd, V, E, m.z.data(), T, logits);
  if (h_next) m.mm(pool, m.post, Eo, E, m.z.data(), T, h_next);
}

}  // namespace fitserve::model
