// model/gemma4.cpp — the Gemma 4 text model (GGUF arch "gemma4"; spec gemma4-text.md §2–§8).
// Per layer l (SWA or full, each type with its own head dim, KV heads and RoPE):
//   h = rms(x)·attn_norm; q = rope(rms_head(Wq h)·q_norm); own KV: kr = Wk h, vr = Wv h or kr
//   (K=V layers), k = rope(rms_head(kr)·k_norm), v = rms_head(vr) (no weight) → cache;
//   shared-KV layers read the cache of src(l). a = softmax(q·k + mask)·v (scale 1.0);
//   r = x + rms(Wo a)·post_attention_norm;
//   f = dense GeGLU MLP on rms(r)·ffn_norm; MoE layers: rms(f)·post_ffw_norm_1 + rms(E)·post_ffw_norm_2
//   with E the routed experts on rms(r)·pre_ffw_norm_2; y = r + rms(f)·post_ffw_norm;
//   PLE: y += rms(Wproj (gelu(Wgate y) ⊙ P[l]))·post_norm; y *= layer_output_scale.
// Head: logits = cap·tanh(Wout (rms(x)·output_norm) / cap).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "kv/attention.h"
#include "model/arch.h"
#include "model/gemma4.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "quant/quant.h"

namespace fitserve::model {
namespace {

using core::Error;

struct Layer {
  bool swa = false, own_kv = true, moe = false;
  int n_head = 0, n_head_kv = 0, hd = 0, n_ff = 0;
  int kv_src = -1;  // layer whose cache this layer reads (itself when own_kv)
  std::vector<float> attn_norm, q_norm, k_norm, post_attn_norm, ffn_norm, post_ffw_norm;
  Weight wq, wk, wv, wo, wg, wu, wd;
  float sq = 1, sk = 1, sv = 1, so = 1, sg = 1, su = 1, sd = 1;  // optional scalar matmul scales
  // MoE
  int n_used = 0, n_ff_exp = 0;
  Weight router, gate_up_exps, gate_exps, up_exps, down_exps;
  std::vector<float> router_scale, pre_ffw_norm_2, post_ffw_norm_1, post_ffw_norm_2;
  std::vector<float> down_exps_scale, gate_exps_scale, up_exps_scale;
  // PLE
  Weight inp_gate, proj;
  std::vector<float> post_norm;
  float out_scale = 1.0f;
  bool has_out_scale = false;
};

// A Weight covering rows [r0, r0 + n) of w.
Weight rows_of(const Weight& w, int64_t r0, int64_t n) {
  Weight s = w;
  s.data = w.data + static_cast<size_t>(r0) * w.row_bytes;
  s.rows = n;
  return s;
}

float scalar_or_one(const WeightBinder& b, const std::string& name) {
  auto v = b.vec(name, 1, false);
  return v.empty() ? 1.0f : v[0];
}

class Gemma4Model final : public Model {
 public:
  explicit Gemma4Model(const gguf::File& f) : f_(f) { load(); }

  const ModelInfo& info() const override { return hp_; }

  kv::CacheConfig kv_config(int32_t n_ctx, int32_t n_seq, quant::Type tk, quant::Type tv, int32_t n_ubatch) const override {
    kv::CacheConfig c;
    c.n_seq = n_seq;
    c.n_ctx = n_ctx;
    c.type_k = tk;
    c.type_v = tv;
    c.n_batch = n_ubatch;
    for (const auto& L : layers_) {
      kv::LayerSpec s;
      s.n_head_kv = L.n_head_kv;
      s.head_dim_k = s.head_dim_v = L.hd;
      if (!L.own_kv) {
        s.kind = kv::LayerKind::Shared;
        s.shared_with = L.kv_src;
        if (L.swa) s.window = n_swa_;
      } else if (L.swa) {
        s.kind = kv::LayerKind::Sliding;
        s.window = n_swa_;
      } else {
        s.kind = kv::LayerKind::Full;
      }
      c.layers.push_back(s);
    }
    return c;
  }

  void forward(const Batch& batch, kv::KvCache& cache, core::ThreadPool& pool, float* logits, float* hidden) override;

  void set_tap(TapFn t) { tap_ = std::move(t); }

  Gemma4DrafterTarget drafter_target() const {
    Gemma4DrafterTarget d;
    d.tok_embd = tok_embd_;
    d.n_embd = hp_.n_embd;
    d.n_vocab = hp_.n_vocab;
    const int n = hp_.n_layer;
    if (n < 2) throw Error("model", f_.path() + ": a target for an MTP assistant needs at least 2 layers");
    auto describe = [&](int l) {
      const Layer& L = layers_[static_cast<size_t>(l)];
      return Gemma4CacheLayer{l, L.swa, L.n_head_kv, L.hd, L.swa ? n_swa_ : 0};
    };
    d.swa = describe(n - 2);
    d.full = describe(n - 1);
    return d;
  }

 private:
  void load();
  void load_layer(const WeightBinder& b, int l);
  void embed(const Batch& batch, core::ThreadPool& pool, int64_t T);
  void ffn_dense(const Layer& L, core::ThreadPool& pool, int64_t T, float* out);
  void ffn_moe(const Layer& L, int l, core::ThreadPool& pool, int64_t T, float* out);
  void mm(core::ThreadPool& pool, const Weight& w, int64_t n_rows, int64_t k, const float* x, int64_t T, float* y, float s = 1.0f) {
    ops::matmul(pool, w.type, w.data, w.row_bytes, n_rows, k, x, T, y, scratch_);
    if (s != 1.0f) ops::scale(y, s, y, n_rows * T);
  }
  void tap(const std::string& name, const float* d, int64_t rows, int64_t cols) const {
    if (tap_) tap_(name, d, rows, cols);
  }

  const gguf::File& f_;
  ModelInfo hp_;
  float eps_ = 1e-6f, softcap_ = 30.0f;
  int32_t n_swa_ = 0, n_pl_ = 0, n_expert_ = 0, n_kv_start_ = 0;
  bool causal_ = true;
  ops::RopeParams rope_swa_, rope_full_;
  std::vector<float> rope_freqs_;
  Weight tok_embd_, output_, ple_tok_, ple_proj_;
  std::vector<float> output_norm_, ple_proj_norm_;
  float output_scale_ = 1.0f;
  std::vector<Layer> layers_;
  int64_t max_q_ = 0, max_kv_ = 0, max_ff_ = 0, max_ff_exp_ = 0;
  TapFn tap_;

  // work buffers (grow-only)
  ops::RopeTable tab_swa_, tab_full_;
  ops::Scratch scratch_;
  std::vector<float> x_, n_, q_, k_, v_, att_, o_, g_, u_, f_buf_, ple_, pg_, pl_;
  std::vector<float> mz_, mlog_, mu_, macc_, mx_, mg_, mup_, md_;
};

// ---- loading --------------------------------------------------------------------------------

void Gemma4Model::load() {
  const gguf::File& f = f_;
  const std::string a = "gemma4.";
  WeightBinder b(f);
  auto fail = [&](const std::string& msg, const std::string& hint = "the file is corrupt or not a Gemma 4 conversion") {
    throw Error("model", f.path() + ": " + msg, hint);
  };
  hp_.architecture = "gemma4";
  hp_.name = f.get_string("general.name").value_or("");
  hp_.n_ctx_train = static_cast<int32_t>(int_key(f, a + "context_length", {}, 1, 1 << 30));
  hp_.n_embd = static_cast<int32_t>(int_key(f, a + "embedding_length", {}, 1, 1 << 20));
  hp_.n_layer = static_cast<int32_t>(int_key(f, a + "block_count", {}, 1, 512));
  const int n_layer = hp_.n_layer;
  const int64_t E = hp_.n_embd;

  const auto n_head = per_layer_ints(f, a + "attention.head_count", n_layer, std::nullopt);
  auto n_head_kv = per_layer_ints(f, a + "attention.head_count_kv", n_layer, -1);
  const auto n_ff = per_layer_ints(f, a + "feed_forward_length", n_layer, std::nullopt);
  const int hd_full = static_cast<int>(int_key(f, a + "attention.key_length", n_head[0] > 0 ? E / n_head[0] : 0, 1, 1 << 16));
  const int hd_full_v = static_cast<int>(int_key(f, a + "attention.value_length", hd_full, 1, 1 << 16));
  const int hd_swa = static_cast<int>(int_key(f, a + "attention.key_length_swa", {}, 1, 1 << 16));
  const int hd_swa_v = static_cast<int>(int_key(f, a + "attention.value_length_swa", hd_swa, 1, 1 << 16));
  if (hd_full != hd_full_v || hd_swa != hd_swa_v)
    fail("key and value head dims differ (full " + std::to_string(hd_full) + "/" + std::to_string(hd_full_v) + ", sliding " +
             std::to_string(hd_swa) + "/" + std::to_string(hd_swa_v) + ")",
         "Gemma 4 requires equal K and V head dims");
  const int rot_full = static_cast<int>(int_key(f, a + "rope.dimension_count", hd_full, 2, hd_full));
  const int rot_swa = static_cast<int>(int_key(f, a + "rope.dimension_count_swa", rot_full, 2, hd_swa));
  if (hd_full < 1 || rot_full < 2 || rot_full > hd_full || rot_full % 2 || rot_swa < 2 || rot_swa > hd_swa || rot_swa % 2)
    fail("bad head dims / rope dimension counts (full head " + std::to_string(hd_full) + ", rotated " + std::to_string(rot_full) +
         "; sliding head " + std::to_string(hd_swa) + ", rotated " + std::to_string(rot_swa) + ")");
  eps_ = float_key(f, a + "attention.layer_norm_rms_epsilon", std::nullopt);
  if (!(eps_ >= 0.0f) || !std::isfinite(eps_)) fail("attention.layer_norm_rms_epsilon is not a finite non-negative number");
  n_swa_ = static_cast<int32_t>(int_key(f, a + "attention.sliding_window", {}, 1, 1 << 30));
  hp_.n_swa = n_swa_;
  const int shared = static_cast<int>(int_key(f, a + "attention.shared_kv_layers", 0, 0, n_layer - 1));
  n_pl_ = static_cast<int32_t>(int_key(f, a + "embedding_length_per_layer_input", {}, 0, 1 << 16));
  softcap_ = float_key(f, a + "final_logit_softcapping", 30.0f);
  if (!(softcap_ >= 0.0f) || !std::isfinite(softcap_)) fail("final_logit_softcapping must be finite and >= 0");
  n_expert_ = static_cast<int32_t>(int_key(f, a + "expert_count", 0, 0, 1 << 16));
  const auto n_used = per_layer_ints(f, a + "expert_used_count", n_layer, 0);
  const auto n_ff_exp = per_layer_ints(f, a + "expert_feed_forward_length", n_layer, 0);
  causal_ = f.get_bool(a + "attention.causal").value_or(true);

  // RoPE: NEOX; freq_scale 1 unless a linear scaling is given.
  float freq_scale = 1.0f;
  if (auto t = f.get_string(a + "rope.scaling.type"); t && *t != "none" && *t != "linear")
    fail("unsupported rope.scaling.type '" + *t + "'", "Gemma 4 uses no RoPE scaling");
  if (auto s = f.get_float(a + "rope.scaling.factor"); s && *s > 0) freq_scale = 1.0f / static_cast<float>(*s);
  if (auto s = f.get_float(a + "rope.scale_linear"); s && *s > 0) freq_scale = 1.0f / static_cast<float>(*s);
  rope_swa_ = ops::RopeParams{ops::RopeMode::Neox, rot_swa, float_key(f, a + "rope.freq_base_swa", 10000.0f), freq_scale, nullptr};
  rope_full_ = ops::RopeParams{ops::RopeMode::Neox, rot_full, float_key(f, a + "rope.freq_base", 10000.0f), freq_scale, nullptr};
  if (!(rope_swa_.freq_base > 0) || !(rope_full_.freq_base > 0)) fail("rope.freq_base must be positive");

  // Layer pattern: a per-layer array (a scalar is rejected, as by the reference).
  const gguf::Value* pat = f.find(a + "attention.sliding_window_pattern");
  if (!pat) fail("required metadata key 'gemma4.attention.sliding_window_pattern' is missing");
  if (!pat->is_array()) fail("'gemma4.attention.sliding_window_pattern' must be a per-layer array, not a scalar");
  if (pat->count != static_cast<uint64_t>(n_layer))
    fail("'gemma4.attention.sliding_window_pattern' has " + std::to_string(pat->count) + " entries, expected one per layer (" +
         std::to_string(n_layer) + ")");

  n_kv_start_ = n_layer - shared;
  layers_.resize(static_cast<size_t>(n_layer));
  for (int l = 0; l < n_layer; ++l) {
    Layer& L = layers_[l];
    L.swa = pat->int_at(static_cast<uint64_t>(l)) != 0;
    L.n_head = n_head[l];
    L.n_head_kv = n_head_kv[l] < 0 ? n_head[l] : n_head_kv[l];
    L.hd = L.swa ? hd_swa : hd_full;
    L.n_ff = n_ff[l];
    if (L.n_head < 1 || L.n_head_kv < 1 || L.n_head % L.n_head_kv)
      fail("layer " + std::to_string(l) + ": head_count " + std::to_string(L.n_head) + " is not a positive multiple of head_count_kv " +
           std::to_string(L.n_head_kv));
    if (L.n_ff < 1) fail("layer " + std::to_string(l) + ": feed_forward_length must be positive");
    L.own_kv = l < n_kv_start_;
    L.kv_src = l;
    L.n_used = n_used[l];
    L.n_ff_exp = n_ff_exp[l];
  }
  if (shared > 0) {
    if (n_kv_start_ < 2) fail("attention.shared_kv_layers leaves fewer than 2 layers with their own KV");
    const int src_swa = n_kv_start_ - 2, src_full = n_kv_start_ - 1;
    for (int l = n_kv_start_; l < n_layer; ++l) {
      Layer& L = layers_[l];
      L.kv_src = L.swa ? src_swa : src_full;
      const Layer& S = layers_[L.kv_src];
      if (S.swa != L.swa)
        fail("shared-KV layer " + std::to_string(l) + " (" + (L.swa ? "sliding" : "full") + ") would read layer " + std::to_string(L.kv_src) +
             ", which is " + (S.swa ? "sliding" : "full"),
             "the layers before the shared ones must end with a sliding and a full layer");
      if (S.n_head_kv != L.n_head_kv)
        fail("shared-KV layer " + std::to_string(l) + " has " + std::to_string(L.n_head_kv) + " KV heads but its source layer " +
             std::to_string(L.kv_src) + " has " + std::to_string(S.n_head_kv));
    }
  }

  // Global tensors.
  tok_embd_ = b.get("token_embd.weight", {E, -1});
  hp_.n_vocab = static_cast<int32_t>(tok_embd_.rows);
  if (tok_embd_.t->ne[2] != 1 || hp_.n_vocab < 1) fail("token_embd.weight must be 2-D");
  output_ = b.opt("output.weight", {E, hp_.n_vocab});
  if (!output_) output_ = tok_embd_;
  output_scale_ = scalar_or_one(b, "output.scale");
  output_norm_ = b.vec("output_norm.weight", E);
  if (b.file().tensor("rope_freqs.weight")) {
    rope_freqs_ = b.vec("rope_freqs.weight", rot_full / 2);
    for (float v : rope_freqs_)
      if (!(v > 0.0f)) fail("rope_freqs.weight has a non-positive entry");
    rope_full_.freq_factors = rope_freqs_.data();
  }
  if (n_pl_ > 0) {
    const int64_t P = int64_t(n_pl_) * n_layer;
    ple_tok_ = b.get("per_layer_token_embd.weight", {P, hp_.n_vocab});
    ple_proj_ = b.get("per_layer_model_proj.weight", {E, P});
    ple_proj_norm_ = b.vec("per_layer_proj_norm.weight", n_pl_);
  }
  for (int l = 0; l < n_layer; ++l) load_layer(b, l);

  for (const auto& L : layers_) {
    max_q_ = std::max<int64_t>(max_q_, int64_t(L.n_head) * L.hd);
    max_kv_ = std::max<int64_t>(max_kv_, int64_t(L.n_head_kv) * L.hd);
    max_ff_ = std::max<int64_t>(max_ff_, L.n_ff);
    max_ff_exp_ = std::max<int64_t>(max_ff_exp_, L.n_ff_exp);
  }
  hp_.n_params = static_cast<uint64_t>(f.total_params());
  hp_.n_bytes = f.total_tensor_bytes();
}

void Gemma4Model::load_layer(const WeightBinder& b, int l) {
  Layer& L = layers_[l];
  const std::string p = "blk." + std::to_string(l) + ".";
  const int64_t E = hp_.n_embd, d = L.hd, Dq = int64_t(L.n_head) * d, Dkv = int64_t(L.n_head_kv) * d;
  auto fail = [&](const std::string& msg) {
    throw Error("model", f_.path() + ": layer " + std::to_string(l) + ": " + msg, "the file is corrupt or not a Gemma 4 conversion");
  };
  L.attn_norm = b.vec(p + "attn_norm.weight", E);
  if (Weight qkv = b.opt(p + "attn_qkv.weight", {E, Dq + 2 * Dkv})) {
    L.wq = rows_of(qkv, 0, Dq);
    if (L.own_kv) {
      L.wk = rows_of(qkv, Dq, Dkv);
      L.wv = rows_of(qkv, Dq + Dkv, Dkv);
    }
    L.sq = L.sk = L.sv = scalar_or_one(b, p + "attn_qkv.scale");
  } else {
    L.wq = b.get(p + "attn_q.weight", {E, Dq});
    L.sq = scalar_or_one(b, p + "attn_q.scale");
    if (L.own_kv) {
      L.wk = b.get(p + "attn_k.weight", {E, Dkv});
      L.wv = b.opt(p + "attn_v.weight", {E, Dkv});  // absent: V = raw K projection
      L.sk = scalar_or_one(b, p + "attn_k.scale");
      L.sv = L.wv ? scalar_or_one(b, p + "attn_v.scale") : L.sk;
    }
  }
  L.q_norm = b.vec(p + "attn_q_norm.weight", d);
  if (L.own_kv) L.k_norm = b.vec(p + "attn_k_norm.weight", d);
  L.wo = b.get(p + "attn_output.weight", {Dq, E});
  L.so = scalar_or_one(b, p + "attn_output.scale");
  L.post_attn_norm = b.vec(p + "post_attention_norm.weight", E);
  L.ffn_norm = b.vec(p + "ffn_norm.weight", E);
  L.wg = b.get(p + "ffn_gate.weight", {E, L.n_ff});
  L.wu = b.get(p + "ffn_up.weight", {E, L.n_ff});
  L.wd = b.get(p + "ffn_down.weight", {L.n_ff, E});
  L.sg = scalar_or_one(b, p + "ffn_gate.scale");
  L.su = scalar_or_one(b, p + "ffn_up.scale");
  L.sd = scalar_or_one(b, p + "ffn_down.scale");
  L.post_ffw_norm = b.vec(p + "post_ffw_norm.weight", E);
  if (auto s = b.vec(p + "layer_output_scale.weight", 1, false); !s.empty()) {
    L.out_scale = s[0];
    L.has_out_scale = true;
  }
  if (n_pl_ > 0) {
    L.inp_gate = b.get(p + "inp_gate.weight", {E, n_pl_});
    L.proj = b.get(p + "proj.weight", {n_pl_, E});
    L.post_norm = b.vec(p + "post_norm.weight", E);
  }
  // MoE: a layer is MoE iff it has a router.
  if (b.file().tensor(p + "ffn_gate_inp.weight")) {
    const int64_t X = n_expert_, F = L.n_ff_exp;
    if (X < 1) fail("has a router (ffn_gate_inp) but expert_count is 0");
    if (L.n_used < 1 || L.n_used > X)
      fail("expert_used_count " + std::to_string(L.n_used) + " is not in [1, expert_count " + std::to_string(X) + "]");
    if (F < 1) fail("expert_feed_forward_length must be positive in MoE layers");
    L.moe = true;
    L.router = b.get(p + "ffn_gate_inp.weight", {E, X});
    L.router_scale = b.vec(p + "ffn_gate_inp.scale", E);
    L.pre_ffw_norm_2 = b.vec(p + "pre_ffw_norm_2.weight", E);
    L.post_ffw_norm_1 = b.vec(p + "post_ffw_norm_1.weight", E);
    L.post_ffw_norm_2 = b.vec(p + "post_ffw_norm_2.weight", E);
    L.gate_up_exps = b.opt(p + "ffn_gate_up_exps.weight", {E, 2 * F, X});
    if (!L.gate_up_exps) {
      L.gate_exps = b.get(p + "ffn_gate_exps.weight", {E, F, X});
      L.up_exps = b.get(p + "ffn_up_exps.weight", {E, F, X});
      L.gate_exps_scale = b.vec(p + "ffn_gate_exps.scale", X, false);
      L.up_exps_scale = b.vec(p + "ffn_up_exps.scale", X, false);
    }
    L.down_exps = b.get(p + "ffn_down_exps.weight", {F, E, X});
    L.down_exps_scale = b.vec(p + "ffn_down_exps.scale", X, false);
  }
}

// ---- forward --------------------------------------------------------------------------------

// Input rows x0 (scaled token embeddings or given embedding rows) and the PLE inputs.
void Gemma4Model::embed(const Batch& batch, core::ThreadPool& pool, int64_t T) {
  const int64_t E = hp_.n_embd;
  const float s = std::sqrt(static_cast<float>(E));
  for (int64_t t = 0; t < T; ++t) {
    float* x = x_.data() + t * E;
    if (batch.embd) {
      std::memcpy(x, batch.embd + t * E, sizeof(float) * static_cast<size_t>(E));
      for (int64_t i = 0; i < E; ++i)
        if (!std::isfinite(x[i])) throw Error("request", "embedding row " + std::to_string(t) + " contains a non-finite value");
    } else {
      const int32_t id = batch.tokens[static_cast<size_t>(t)];
      if (id < 0 || id >= hp_.n_vocab)
        throw Error("request", "token id " + std::to_string(id) + " is out of range [0, " + std::to_string(hp_.n_vocab) + ")");
      quant::dequantize_row(tok_embd_.type, tok_embd_.data + static_cast<size_t>(id) * tok_embd_.row_bytes, x, E);
      ops::scale(x, s, x, E);
    }
  }
  tap("inp_scaled", x_.data(), T, E);
  if (n_pl_ <= 0) return;
  // P[t][l] = (rms(proj·x0 / sqrt(E))·proj_norm + ple_tok[id][l]·sqrt(n_pl)) / sqrt(2)
  const int64_t NL = hp_.n_layer, P = NL * n_pl_;
  ple_.resize(static_cast<size_t>(T * P));
  pg_.resize(static_cast<size_t>(P));
  mm(pool, ple_proj_, P, E, x_.data(), T, ple_.data(), 1.0f / std::sqrt(static_cast<float>(E)));
  ops::rms_norm_rows(ple_.data(), n_pl_, ple_.data(), n_pl_, T * NL, n_pl_, eps_, ple_proj_norm_.data());
  const float sp = std::sqrt(static_cast<float>(n_pl_)), inv_sqrt2 = 1.0f / std::sqrt(2.0f);
  for (int64_t t = 0; t < T; ++t) {
    // Embedding rows (images) use row 0 of the table, as the reference does.
    const int32_t id = batch.embd ? 0 : batch.tokens[static_cast<size_t>(t)];
    quant::dequantize_row(ple_tok_.type, ple_tok_.data + static_cast<size_t>(id) * ple_tok_.row_bytes, pg_.data(), P);
    float* row = ple_.data() + t * P;
    ops::axpy(sp, pg_.data(), row, P);
    ops::scale(row, inv_sqrt2, row, P);
  }
  tap("inp_per_layer", ple_.data(), T, P);
}

void Gemma4Model::ffn_dense(const Layer& L, core::ThreadPool& pool, int64_t T, float* out) {
  const int64_t E = hp_.n_embd, F = L.n_ff;
  mm(pool, L.wg, F, E, n_.data(), T, g_.data(), L.sg);
  mm(pool, L.wu, F, E, n_.data(), T, u_.data(), L.su);
  ops::geglu(g_.data(), u_.data(), g_.data(), T * F);
  mm(pool, L.wd, E, F, g_.data(), T, out, L.sd);
}

// Routed experts of layer l on the post-attention residual x_ (T rows); result into out.
void Gemma4Model::ffn_moe(const Layer& L, int l, core::ThreadPool& pool, int64_t T, float* out) {
  const int64_t E = hp_.n_embd, X = n_expert_, F = L.n_ff_exp, K = L.n_used;
  mz_.resize(static_cast<size_t>(T * E));
  mlog_.resize(static_cast<size_t>(T * X));
  // Router: softmax(W_r (rms(r)/sqrt(E) ⊙ scale)) over all experts.
  ops::rms_norm_rows(pool, x_.data(), E, mz_.data(), E, T, E, eps_, L.router_scale.data());
  ops::scale(mz_.data(), 1.0f / std::sqrt(static_cast<float>(E)), mz_.data(), T * E);
  mm(pool, L.router, X, E, mz_.data(), T, mlog_.data());
  tap("ffn_moe_logits-" + std::to_string(l), mlog_.data(), T, X);
  // Top-k per token, weights renormalised over the chosen experts.
  std::vector<int32_t> sel(static_cast<size_t>(T * K));
  std::vector<float> wsel(static_cast<size_t>(T * K));
  std::vector<int32_t> order(static_cast<size_t>(X));
  std::vector<float> prob(static_cast<size_t>(X));
  for (int64_t t = 0; t < T; ++t) {
    ops::softmax(mlog_.data() + t * X, prob.data(), X);
    for (int32_t e = 0; e < X; ++e) order[static_cast<size_t>(e)] = e;
    std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int32_t a, int32_t b) {
      return prob[static_cast<size_t>(a)] > prob[static_cast<size_t>(b)] || (prob[static_cast<size_t>(a)] == prob[static_cast<size_t>(b)] && a < b);
    });
    float sum = 0;
    for (int64_t j = 0; j < K; ++j) sum += prob[static_cast<size_t>(order[static_cast<size_t>(j)])];
    sum = std::max(sum, 6.103515625e-5f);
    for (int64_t j = 0; j < K; ++j) {
      const int32_t e = order[static_cast<size_t>(j)];
      sel[static_cast<size_t>(t * K + j)] = e;
      wsel[static_cast<size_t>(t * K + j)] = prob[static_cast<size_t>(e)] / sum;
    }
  }
  tap("ffn_moe_weights_norm-" + std::to_string(l), wsel.data(), T, K);
  // Expert input u = rms(r)·pre_ffw_norm_2; each expert runs on the tokens that chose it.
  mu_.resize(static_cast<size_t>(T * E));
  ops::rms_norm_rows(pool, x_.data(), E, mu_.data(), E, T, E, eps_, L.pre_ffw_norm_2.data());
  macc_.assign(static_cast<size_t>(T * E), 0.0f);
  mx_.resize(static_cast<size_t>(T * E));
  mg_.resize(static_cast<size_t>(T * F));
  mup_.resize(static_cast<size_t>(T * F));
  md_.resize(static_cast<size_t>(T * E));
  std::vector<int64_t> tok;
  std::vector<float> wt;
  for (int32_t e = 0; e < X; ++e) {
    tok.clear();
    wt.clear();
    for (int64_t i = 0; i < T * K; ++i)
      if (sel[static_cast<size_t>(i)] == e) {
        tok.push_back(i / K);
        wt.push_back(wsel[static_cast<size_t>(i)]);
      }
    if (tok.empty()) continue;
    const int64_t n = static_cast<int64_t>(tok.size());
    for (int64_t j = 0; j < n; ++j)
      std::memcpy(mx_.data() + j * E, mu_.data() + tok[static_cast<size_t>(j)] * E, sizeof(float) * static_cast<size_t>(E));
    if (L.gate_up_exps) {
      mm(pool, rows_of(L.gate_up_exps, int64_t(e) * 2 * F, F), F, E, mx_.data(), n, mg_.data());
      mm(pool, rows_of(L.gate_up_exps, int64_t(e) * 2 * F + F, F), F, E, mx_.data(), n, mup_.data());
    } else {
      mm(pool, rows_of(L.gate_exps, int64_t(e) * F, F), F, E, mx_.data(), n, mg_.data(),
         L.gate_exps_scale.empty() ? 1.0f : L.gate_exps_scale[static_cast<size_t>(e)]);
      mm(pool, rows_of(L.up_exps, int64_t(e) * F, F), F, E, mx_.data(), n, mup_.data(),
         L.up_exps_scale.empty() ? 1.0f : L.up_exps_scale[static_cast<size_t>(e)]);
    }
    ops::geglu(mg_.data(), mup_.data(), mg_.data(), n * F);
    mm(pool, rows_of(L.down_exps, int64_t(e) * E, E), E, F, mg_.data(), n, md_.data());
    const float ds = L.down_exps_scale.empty() ? 1.0f : L.down_exps_scale[static_cast<size_t>(e)];
    for (int64_t j = 0; j < n; ++j)
      ops::axpy(wt[static_cast<size_t>(j)] * ds, md_.data() + j * E, macc_.data() + tok[static_cast<size_t>(j)] * E, E);
  }
  ops::rms_norm_rows(pool, macc_.data(), E, out, E, T, E, eps_, L.post_ffw_norm_2.data());
}

void Gemma4Model::forward(const Batch& batch, kv::KvCache& cache, core::ThreadPool& pool, float* logits, float* hidden) {
  const int64_t T = static_cast<int64_t>(batch.size());
  const auto runs = seq_runs(batch);  // validates field lengths and sequence contiguity
  if (T == 0) return;
  if (cache.n_layers() != hp_.n_layer)
    throw Error("request", "KV cache has " + std::to_string(cache.n_layers()) + " layers, the model " + std::to_string(hp_.n_layer),
                "create the cache from this model's kv_config()");
  for (int64_t t = 0; t < T; ++t)
    if (batch.pos[static_cast<size_t>(t)] < 0) throw Error("request", "negative position in batch");
  for (const auto& s : batch.bidir)
    if (s.begin < 0 || s.end < s.begin) throw Error("request", "malformed bidirectional span");
  const int64_t E = hp_.n_embd;
  x_.resize(static_cast<size_t>(T * E));
  n_.resize(x_.size());
  o_.resize(x_.size());
  f_buf_.resize(x_.size());
  q_.resize(static_cast<size_t>(T * max_q_));
  att_.resize(q_.size());
  k_.resize(static_cast<size_t>(T * max_kv_));
  v_.resize(k_.size());
  g_.resize(static_cast<size_t>(T * max_ff_));
  u_.resize(g_.size());

  embed(batch, pool, T);
  reserve_runs(runs, cache);
  tab_swa_.build(rope_swa_, batch.pos.data(), T);
  tab_full_.build(rope_full_, batch.pos.data(), T);

  // Attention units: the runs, split where a bidirectional span starts or ends (SWA layers let
  // queries inside a span see the whole span).
  struct Unit {
    int32_t seq;
    int64_t start, n;
    int32_t span_begin, span_end;
  };
  std::vector<Unit> units;
  for (const auto& r : runs) {
    for (int64_t i = 0; i < r.n;) {
      const int32_t p = r.pos0 + static_cast<int32_t>(i);
      const Batch::Span* sp = nullptr;
      for (const auto& s : batch.bidir)
        if (s.seq == r.seq && p >= s.begin && p < s.end) sp = &s;
      int64_t j = i + 1;
      for (; j < r.n; ++j) {
        const int32_t pj = r.pos0 + static_cast<int32_t>(j);
        const Batch::Span* sj = nullptr;
        for (const auto& s : batch.bidir)
          if (s.seq == r.seq && pj >= s.begin && pj < s.end) sj = &s;
        if (sj != sp) break;
      }
      units.push_back(Unit{r.seq, r.start + i, j - i, sp ? sp->begin : 0, sp ? sp->end : 0});
      i = j;
    }
  }

  int64_t n_out = 0;
  for (int64_t t = 0; t < T; ++t) n_out += batch.output[static_cast<size_t>(t)] != 0;
  int64_t R = T;  // rows still computed (all but the last layer's FFN: every row)
  bool pruned = false;
  for (int l = 0; l < hp_.n_layer; ++l) {
    const Layer& L = layers_[l];
    const int d = L.hd, H = L.n_head, Hkv = L.n_head_kv;
    const int64_t Dq = int64_t(H) * d, Dkv = int64_t(Hkv) * d;
    const ops::RopeTable& tab = L.swa ? tab_swa_ : tab_full_;
    // Attention block.
    ops::rms_norm_rows(pool, x_.data(), E, n_.data(), E, T, E, eps_, L.attn_norm.data());
    mm(pool, L.wq, Dq, E, n_.data(), T, q_.data(), L.sq);
    ops::rms_norm_rows(pool, q_.data(), d, q_.data(), d, T * H, d, eps_, L.q_norm.data());
    ops::rope(q_.data(), T, H, d, 0, tab);
    if (L.own_kv) {
      mm(pool, L.wk, Dkv, E, n_.data(), T, k_.data(), L.sk);
      if (L.wv) mm(pool, L.wv, Dkv, E, n_.data(), T, v_.data(), L.sv);
      else std::copy(k_.begin(), k_.begin() + T * Dkv, v_.begin());  // K=V: the raw K projection
      ops::rms_norm_rows(pool, v_.data(), d, v_.data(), d, T * Hkv, d, eps_, nullptr);
      ops::rms_norm_rows(pool, k_.data(), d, k_.data(), d, T * Hkv, d, eps_, L.k_norm.data());
      ops::rope(k_.data(), T, Hkv, d, 0, tab);
      for (const auto& r : runs)
        cache.write(l, r.seq, r.pos0, static_cast<int32_t>(r.n), k_.data() + r.start * Dkv, 0, v_.data() + r.start * Dkv, 0);
    }
    if (l == hp_.n_layer - 1 && n_out == 0 && !tap_) break;  // K/V stored; nothing else is needed
    for (const auto& u : units) {
      ops::AttnParams ap;  // scale 1.0, no softcap; the window comes from the cache layer
      ap.scale = 1.0f;
      ap.mask.causal = causal_;
      if (L.swa) {  // image spans are bidirectional on sliding layers only
        ap.mask.span_begin = u.span_begin;
        ap.mask.span_end = u.span_end;
      }
      kv::attention(pool, cache, l, u.seq, q_.data() + u.start * Dq, 0, batch.pos.data() + u.start, u.n, H,
                    att_.data() + u.start * Dq, 0, ap, scratch_);
    }
    // Last layer: only the rows that want output go on (pure optimisation; skipped with a tap).
    if (l == hp_.n_layer - 1 && !tap_ && n_out < T) {
      const int64_t P = int64_t(hp_.n_layer) * n_pl_;
      int64_t j = 0;
      for (int64_t t = 0; t < T; ++t) {
        if (!batch.output[static_cast<size_t>(t)]) continue;
        if (j != t) {
          std::memmove(att_.data() + j * Dq, att_.data() + t * Dq, sizeof(float) * static_cast<size_t>(Dq));
          std::memmove(x_.data() + j * E, x_.data() + t * E, sizeof(float) * static_cast<size_t>(E));
          if (P) std::memmove(ple_.data() + j * P, ple_.data() + t * P, sizeof(float) * static_cast<size_t>(P));
        }
        ++j;
      }
      R = n_out;
      pruned = true;
    }
    mm(pool, L.wo, E, Dq, att_.data(), R, o_.data(), L.so);
    ops::rms_norm_rows(pool, o_.data(), E, o_.data(), E, R, E, eps_, L.post_attn_norm.data());
    ops::add(x_.data(), o_.data(), x_.data(), R * E);
    // FFN block.
    ops::rms_norm_rows(pool, x_.data(), E, n_.data(), E, R, E, eps_, L.ffn_norm.data());
    ffn_dense(L, pool, R, f_buf_.data());
    if (L.moe) {
      ops::rms_norm_rows(pool, f_buf_.data(), E, f_buf_.data(), E, R, E, eps_, L.post_ffw_norm_1.data());
      ffn_moe(L, l, pool, R, o_.data());
      ops::add(f_buf_.data(), o_.data(), f_buf_.data(), R * E);
    }
    ops::rms_norm_rows(pool, f_buf_.data(), E, f_buf_.data(), E, R, E, eps_, L.post_ffw_norm.data());
    ops::add(x_.data(), f_buf_.data(), x_.data(), R * E);
    // Per-layer embedding branch.
    if (n_pl_ > 0) {
      const int64_t NP = n_pl_, P = int64_t(hp_.n_layer) * NP;
      pl_.resize(static_cast<size_t>(R * NP));
      mm(pool, L.inp_gate, NP, E, x_.data(), R, pl_.data());
      ops::gelu_tanh(pl_.data(), pl_.data(), R * NP);
      for (int64_t t = 0; t < R; ++t) ops::mul(pl_.data() + t * NP, ple_.data() + t * P + int64_t(l) * NP, pl_.data() + t * NP, NP);
      mm(pool, L.proj, E, NP, pl_.data(), R, o_.data());
      ops::rms_norm_rows(pool, o_.data(), E, o_.data(), E, R, E, eps_, L.post_norm.data());
      ops::add(x_.data(), o_.data(), x_.data(), R * E);
    }
    if (L.has_out_scale) ops::scale(x_.data(), L.out_scale, x_.data(), R * E);
    if (tap_) tap("l_out-" + std::to_string(l), x_.data(), R, E);
  }

  // Head: final norm of the rows that want output (of all rows too, for the tap).
  if (tap_) {
    ops::rms_norm_rows(pool, x_.data(), E, n_.data(), E, T, E, eps_, output_norm_.data());
    tap("result_norm", n_.data(), T, E);
  }
  if (pruned) {
    ops::rms_norm_rows(pool, x_.data(), E, n_.data(), E, n_out, E, eps_, output_norm_.data());
  } else {
    for (int64_t t = 0, j = 0; t < T; ++t)
      if (batch.output[static_cast<size_t>(t)]) ops::rms_norm(x_.data() + t * E, n_.data() + (j++) * E, E, eps_, output_norm_.data());
  }
  if (n_out == 0) return;
  if (hidden) std::copy(n_.begin(), n_.begin() + n_out * E, hidden);
  if (!logits) return;
  const int64_t V = hp_.n_vocab;
  mm(pool, output_, V, E, n_.data(), n_out, logits, output_scale_);
  if (softcap_ > 0.0f) ops::softcap(logits, logits, n_out * V, softcap_);
}

}  // namespace

std::unique_ptr<Model> make_gemma4(const gguf::File& f) { return std::make_unique<Gemma4Model>(f); }

Gemma4DrafterTarget gemma4_drafter_target(const Model& m) {
  const auto* g = dynamic_cast<const Gemma4Model*>(&m);
  if (!g)
    throw Error("model", "an MTP assistant needs a Gemma 4 target, not '" + m.info().architecture + "'",
                "pass the gemma4 text model with -m and its -assistant GGUF with -md");
  return g->drafter_target();
}

bool set_gemma4_tap(Model& m, TapFn tap) {
  auto* g = dynamic_cast<Gemma4Model*>(&m);
  if (!g) return false;
  g->set_tap(std::move(tap));
  return true;
}

}  // namespace fitserve::model
