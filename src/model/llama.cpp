// model/llama.cpp — the llama-family forward pass (llama, llama2.c conversions, ...).
// x = embd[id]; per layer: x += Wo·attn(rope(Wq·n), rope(Wk·n), Wv·n), n = rmsnorm(x)·w;
// x += Wd·(silu(Wg·m)·(Wu·m)), m = rmsnorm(x)·w2; logits = Wout·(rmsnorm(x)·wn).
#include <cmath>

#include "core/error.h"
#include "model/arch.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace fitserve::model {
namespace {

struct Layer {
  std::vector<float> attn_norm, ffn_norm;
  Weight wq, wk, wv, wo, wg, wu, wd;
};

class LlamaModel final : public Model {
 public:
  explicit LlamaModel(const gguf::File& f) : f_(f) {
    const std::string a = f.architecture();
    WeightBinder b(f);
    hp_.n_layer = static_cast<int32_t>(int_key(f, a + ".block_count", {}, 1, 4096));
    hp_.n_embd = static_cast<int32_t>(int_key(f, a + ".embedding_length", {}, 1, 1 << 20));
    n_head_ = static_cast<int32_t>(int_key(f, a + ".attention.head_count", {}, 1, 4096));
    n_head_kv_ = static_cast<int32_t>(int_key(f, a + ".attention.head_count_kv", n_head_, 1, 4096));
    if (hp_.n_embd % n_head_ || n_head_ % n_head_kv_)
      throw core::Error("model", f.path() + ": n_embd must be a multiple of n_head, and n_head of n_head_kv");
    head_dim_ = static_cast<int32_t>(int_key(f, a + ".attention.key_length", hp_.n_embd / n_head_, 1, 1 << 16));
    n_ff_ = static_cast<int32_t>(int_key(f, a + ".feed_forward_length", {}, 1, 1 << 22));
    eps_ = float_key(f, a + ".attention.layer_norm_rms_epsilon", 1e-5f);
    rope_.mode = ops::RopeMode::Normal;
    rope_.n_rot = static_cast<int>(int_key(f, a + ".rope.dimension_count", head_dim_, 2, head_dim_));
    rope_.freq_base = float_key(f, a + ".rope.freq_base", 10000.0f);
    if (auto s = f.get_float(a + ".rope.scale_linear"); s && *s > 0) rope_.freq_scale = 1.0f / float(*s);
    hp_.n_ctx_train = static_cast<int32_t>(int_key(f, a + ".context_length", 2048, 1, 1 << 30));
    const int64_t E = hp_.n_embd, Dq = int64_t(n_head_) * head_dim_, Dkv = int64_t(n_head_kv_) * head_dim_;
    tok_embd_ = b.get("token_embd.weight", {E, -1});
    hp_.n_vocab = static_cast<int32_t>(tok_embd_.rows);
    output_ = b.opt("output.weight", {E, hp_.n_vocab});
    if (!output_) output_ = tok_embd_;
    output_norm_ = b.vec("output_norm.weight", E);
    layers_.resize(static_cast<size_t>(hp_.n_layer));
    for (int l = 0; l < hp_.n_layer; ++l) {
      auto& L = layers_[l];
      std::string p = "blk." + std::to_string(l) + ".";
      L.attn_norm = b.vec(p + "attn_norm.weight", E);
      L.ffn_norm = b.vec(p + "ffn_norm.weight", E);
      L.wq = b.get(p + "attn_q.weight", {E, Dq});
      L.wk = b.get(p + "attn_k.weight", {E, Dkv});
      L.wv = b.get(p + "attn_v.weight", {E, Dkv});
      L.wo = b.get(p + "attn_output.weight", {Dq, E});
      L.wg = b.get(p + "ffn_gate.weight", {E, n_ff_});
      L.wu = b.get(p + "ffn_up.weight", {E, n_ff_});
      L.wd = b.get(p + "ffn_down.weight", {n_ff_, E});
    }
    hp_.architecture = a;
    hp_.name = f.get_string("general.name").value_or("");
    hp_.n_params = static_cast<uint64_t>(f.total_params());
    hp_.n_bytes = f.total_tensor_bytes();
  }

  const ModelInfo& info() const override { return hp_; }

  kv::CacheConfig kv_config(int32_t n_ctx, int32_t n_seq, quant::Type tk, quant::Type tv, int32_t n_ubatch) const override {
    kv::CacheConfig c;
    c.n_seq = n_seq;
    c.n_ctx = n_ctx;
    c.type_k = tk;
    c.type_v = tv;
    c.n_batch = n_ubatch;
    for (int l = 0; l < hp_.n_layer; ++l) {
      kv::LayerSpec s;
      s.kind = kv::LayerKind::Full;
      s.n_head_kv = n_head_kv_;
      s.head_dim_k = s.head_dim_v = head_dim_;
      c.layers.push_back(s);
    }
    return c;
  }

  void forward(const Batch& batch, kv::KvCache& cache, core::ThreadPool& pool, float* logits, float* hidden) override {
    const int64_t T = static_cast<int64_t>(batch.size());
    const int64_t E = hp_.n_embd, Dq = int64_t(n_head_) * head_dim_, Dkv = int64_t(n_head_kv_) * head_dim_;
    x_.resize(static_cast<size_t>(T * E));
    n_.resize(x_.size());
    q_.resize(static_cast<size_t>(T * Dq));
    k_.resize(static_cast<size_t>(T * Dkv));
    v_.resize(k_.size());
    att_.resize(q_.size());
    g_.resize(static_cast<size_t>(T * n_ff_));
    u_.resize(g_.size());
    // Embeddings.
    for (int64_t t = 0; t < T; ++t) {
      if (batch.embd) {
        std::copy(batch.embd + t * E, batch.embd + (t + 1) * E, x_.data() + t * E);
      } else {
        int32_t id = batch.tokens[static_cast<size_t>(t)];
        if (id < 0 || id >= hp_.n_vocab) throw core::Error("request", "token id " + std::to_string(id) + " out of range");
        quant::dequantize_row(tok_embd_.type, tok_embd_.data + size_t(id) * tok_embd_.row_bytes, x_.data() + t * E, E);
      }
    }
    rope_table_.build(rope_, batch.pos.data(), T);
    const auto runs = seq_runs(batch);
    reserve_runs(runs, cache);
    for (int l = 0; l < hp_.n_layer; ++l) {
      const auto& L = layers_[l];
      ops::rms_norm_rows(pool, x_.data(), E, n_.data(), E, T, E, eps_, L.attn_norm.data());
      ops::matmul(pool, L.wq.type, L.wq.data, L.wq.row_bytes, Dq, E, n_.data(), T, q_.data(), scratch_);
      ops::matmul(pool, L.wk.type, L.wk.data, L.wk.row_bytes, Dkv, E, n_.data(), T, k_.data(), scratch_);
      ops::matmul(pool, L.wv.type, L.wv.data, L.wv.row_bytes, Dkv, E, n_.data(), T, v_.data(), scratch_);
      ops::rope(q_.data(), T, n_head_, head_dim_, 0, rope_table_);
      ops::rope(k_.data(), T, n_head_kv_, head_dim_, 0, rope_table_);
      ops::AttnParams ap;
      ap.scale = 1.0f / std::sqrt(float(head_dim_));
      for (const auto& r : runs) {
        cache.write(l, r.seq, r.pos0, static_cast<int32_t>(r.n), k_.data() + r.start * Dkv, 0, v_.data() + r.start * Dkv, 0);
        ops::attention(pool, cache.view(l, r.seq), q_.data() + r.start * Dq, 0, batch.pos.data() + r.start, r.n, n_head_,
                       att_.data() + r.start * Dq, 0, ap, scratch_);
      }
      ops::matmul(pool, L.wo.type, L.wo.data, L.wo.row_bytes, E, Dq, att_.data(), T, n_.data(), scratch_);
      ops::add(x_.data(), n_.data(), x_.data(), T * E);
      ops::rms_norm_rows(pool, x_.data(), E, n_.data(), E, T, E, eps_, L.ffn_norm.data());
      ops::matmul(pool, L.wg.type, L.wg.data, L.wg.row_bytes, n_ff_, E, n_.data(), T, g_.data(), scratch_);
      ops::matmul(pool, L.wu.type, L.wu.data, L.wu.row_bytes, n_ff_, E, n_.data(), T, u_.data(), scratch_);
      ops::swiglu(g_.data(), u_.data(), g_.data(), T * n_ff_);
      ops::matmul(pool, L.wd.type, L.wd.data, L.wd.row_bytes, E, n_ff_, g_.data(), T, n_.data(), scratch_);
      ops::add(x_.data(), n_.data(), x_.data(), T * E);
    }
    // Output rows only.
    int64_t n_out = 0;
    for (int64_t t = 0; t < T; ++t)
      if (batch.output[static_cast<size_t>(t)]) {
        ops::rms_norm(x_.data() + t * E, n_.data() + n_out * E, E, eps_, output_norm_.data());
        ++n_out;
      }
    if (hidden) std::copy(n_.begin(), n_.begin() + n_out * E, hidden);
    if (n_out)
      ops::matmul(pool, output_.type, output_.data, output_.row_bytes, hp_.n_vocab, E, n_.data(), n_out, logits, scratch_);
  }

 private:
  const gguf::File& f_;
  ModelInfo hp_;
  int32_t n_head_ = 0, n_head_kv_ = 0, head_dim_ = 0, n_ff_ = 0;
  float eps_ = 1e-5f;
  ops::RopeParams rope_;
  ops::RopeTable rope_table_;
  Weight tok_embd_, output_;
  std::vector<float> output_norm_;
  std::vector<Layer> layers_;
  std::vector<float> x_, n_, q_, k_, v_, att_, g_, u_;
  ops::Scratch scratch_;
};

}  // namespace

std::unique_ptr<Model> make_llama(const gguf::File& f) { return std::make_unique<LlamaModel>(f); }

}  // namespace fitserve::model
