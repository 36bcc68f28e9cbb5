// model/synth.h — random-weight Gemma 4 GGUFs with the real dimensions of a model size, for
// benchmarks and memory planning without multi-GB downloads (`fitserve synth`).
// Offers:
//   model::SynthPreset / synth_preset(name)   shapes of gemma4-1b (bench shape), e2b, e4b, 12b,
//                                             26b-a4b, 31b (spec gemma4-text §9); "tiny" for tests
//   model::with_layers(p, n)                  same shape with n layers (pattern kept, last full)
//   model::synth_tensors(p, type)             the tensor list (names, types, shapes) of real
//                                             Gemma 4 GGUFs: tied embeddings, F32 norms, K=V full
//                                             layers without attn_v, PLE, MoE, shared-KV layers
//   model::write_synth_model(p, opt, path)    writes it: metadata + tokenizer copied from a vocab
//                                             GGUF (or tokenizer "none"), quantized blocks drawn
//                                             directly from a fast PRNG with sane f16 scales
//                                             (weights ~ N(0, 0.02)-sized), norms 1.0
// Types: q4_0 (matrices Q4_0, embedding Q6_K), q8_0 (all Q8_0), q4_k (matrices Q4_K, embedding
// Q6_K); rows not a multiple of 256 fall back to Q5_0 (Q4_K) / Q8_0 (Q6_K), as llama-quantize does.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "quant/types.h"

namespace fitserve::model {

struct SynthPreset {
  std::string name;
  int n_layer = 0;
  int n_embd = 0;
  int n_head = 0;
  int kv_swa = 0, kv_full = 0;   // KV heads on SWA / full layers
  int d_swa = 256, d_full = 512; // head dims
  int period = 6;                // layer l is full iff (l + 1) % period == 0 (and the last layer)
  int window = 1024;
  int n_ff = 0;
  int n_ff_wide = 0;             // E2B double-wide MLP on shared-KV layers (0 = none)
  int shared_kv = 0;             // trailing layers without their own KV
  int n_pl = 0;                  // per-layer embedding width (0 = none)
  int n_expert = 0, n_expert_used = 0, n_ff_exp = 0;
  bool k_eq_v = false;           // full layers have no attn_v
  bool kv_array = true;          // write head_count_kv as a per-layer array
  int64_t ctx = 131072;
  bool is_full(int l) const { return l == n_layer - 1 || (l + 1) % period == 0; }
  int ff(int l) const { return n_ff_wide && l >= n_layer - shared_kv ? n_ff_wide : n_ff; }
};

const std::vector<std::string>& synth_preset_names();  // public presets (not "tiny")
SynthPreset synth_preset(const std::string& name);     // "gemma4-e2b" and "e2b" both accepted
SynthPreset with_layers(SynthPreset p, int n_layer);

struct SynthTensor {
  std::string name;
  quant::Type type;
  std::vector<int64_t> ne;
  enum class Fill { Weight, Ones, RopeFreqs } fill = Fill::Weight;
};
std::vector<SynthTensor> synth_tensors(const SynthPreset& p, quant::Type type, int64_t n_vocab);

struct SynthOptions {
  quant::Type type = quant::Type::Q4_0;  // Q4_0, Q8_0 or Q4_K
  std::string vocab_path;                // GGUF whose tokenizer.* keys are copied; empty = "none"
  int64_t n_vocab_none = 256;            // vocabulary when there is no tokenizer
  uint64_t seed = 1;
  int threads = 0;                       // 0 = hardware concurrency
};

struct SynthResult {
  uint64_t file_bytes = 0;
  int64_t n_tensors = 0, n_params = 0, n_vocab = 0;
  double seconds = 0;
};

SynthResult write_synth_model(const SynthPreset& p, const SynthOptions& opt, const std::string& path);

// <source>/../shared/testdata/vocab/ggml-vocab-gemma-4.gguf, or $FITSERVE_TESTDATA/vocab/...
std::string default_vocab_path();

}  // namespace fitserve::model
