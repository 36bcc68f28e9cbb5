// model/synth.cpp — random-weight Gemma 4 GGUF writer with real model dimensions.
#include "model/synth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/testdata.h"
#include "gguf/gguf.h"
#include "quant/fp16.h"

namespace fitserve::model {

using quant::Type;

namespace {

SynthPreset base(std::string name, int L, int E, int H, int kv_swa, int kv_full, int period, int window, int n_ff,
                 int64_t ctx) {
  SynthPreset p;
  p.name = std::move(name);
  p.n_layer = L;
  p.n_embd = E;
  p.n_head = H;
  p.kv_swa = kv_swa;
  p.kv_full = kv_full;
  p.period = period;
  p.window = window;
  p.n_ff = n_ff;
  p.ctx = ctx;
  return p;
}

// ---- fast deterministic random numbers (xoshiro256**, seeded by splitmix64) ----
uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed) {
    for (auto& v : s) v = splitmix(seed);
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
  void bytes(uint8_t* p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t v = next();
      std::memcpy(p + i, &v, 8);
    }
    if (i < n) {
      uint64_t v = next();
      std::memcpy(p + i, &v, n - i);
    }
  }
  float uniform(float a) { return (static_cast<float>(next() >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * a; }
};

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void put_f16(uint8_t* p, float v) {
  uint16_t h = quant::fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

constexpr float kStd = 0.02f;                  // target weight standard deviation
constexpr float kUniformA = kStd * 1.7320508f; // uniform(-a, a) has std a / sqrt(3)

// Fills `n` bytes of tensor data (a whole number of blocks) for type t, from rng.
void fill_blocks(Type t, uint8_t* p, size_t n, Rng& r) {
  const auto& ti = quant::type_info(t);
  const size_t bs = ti.bytes, nb = n / bs;
  switch (t) {
    case Type::F32:
      for (size_t i = 0; i < n / 4; ++i) {
        float v = r.uniform(kUniformA);
        std::memcpy(p + 4 * i, &v, 4);
      }
      return;
    case Type::F16:
      for (size_t i = 0; i < n / 2; ++i) put_f16(p + 2 * i, r.uniform(kUniformA));
      return;
    default: break;
  }
  r.bytes(p, n);
  // Scales: std of a uniform level is sqrt((L^2 - 1) / 12) for L levels.
  switch (t) {
    case Type::Q8_0: {  // int8 uniform in [-128, 127]: std ~ 73.9
      const float d = kStd / 73.9f;
      for (size_t b = 0; b < nb; ++b) put_f16(p + b * bs, d);
      return;
    }
    case Type::Q4_0: {  // q - 8, q in 0..15: std 4.61
      const float d = kStd / 4.61f;
      for (size_t b = 0; b < nb; ++b) put_f16(p + b * bs, d);
      return;
    }
    case Type::Q5_0: {  // q - 16, q in 0..31: std 9.23
      const float d = kStd / 9.23f;
      for (size_t b = 0; b < nb; ++b) put_f16(p + b * bs, d);
      return;
    }
    case Type::Q4_K: {
      // x = d*sc*q - dmin*m with m = sc and dmin = 7.5 d: x = d*sc*(q - 7.5), centred; sc in 32..63.
      const float d = kStd / (48.0f * 4.61f);
      for (size_t b = 0; b < nb; ++b) {
        uint8_t* blk = p + b * bs;
        put_f16(blk, d);
        put_f16(blk + 2, 7.5f * d);
        uint8_t* S = blk + 4;
        uint8_t sc[8];
        uint64_t rv = r.next();
        for (int j = 0; j < 8; ++j) sc[j] = static_cast<uint8_t>(32 + ((rv >> (5 * j)) & 31));
        for (int j = 0; j < 4; ++j) {
          S[j] = sc[j];
          S[j + 4] = sc[j];
        }
        for (int j = 4; j < 8; ++j) {
          S[j + 4] = static_cast<uint8_t>((sc[j] & 15) | ((sc[j] & 15) << 4));
          S[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
          S[j] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
        }
      }
      return;
    }
    case Type::Q6_K: {  // x = d*scale*(q - 32), q in 0..63 (std 18.5), scale in 4..11 (rms 7.84)
      const float d = kStd / (7.84f * 18.47f);
      for (size_t b = 0; b < nb; ++b) {
        uint8_t* blk = p + b * bs;
        for (int s = 0; s < 16; ++s) blk[192 + s] = static_cast<uint8_t>(4 + (blk[192 + s] & 7));
        put_f16(blk + 208, d);
      }
      return;
    }
    default:
      throw core::Error("usage", std::string("synth cannot generate ") + quant::type_name(t) + " blocks");
  }
}

void fill_tensor(const SynthTensor& t, uint8_t* dst, size_t n, uint64_t seed, int threads) {
  if (t.fill == SynthTensor::Fill::Ones) {
    const float one = 1.0f;
    for (size_t i = 0; i < n / 4; ++i) std::memcpy(dst + 4 * i, &one, 4);
    return;
  }
  if (t.fill == SynthTensor::Fill::RopeFreqs) {
    // Proportional RoPE (partial rotary factor 0.25): 1.0 for the first d_full/8 entries, 1e30 after.
    const size_t cnt = n / 4, rotated = static_cast<size_t>(t.ne[0]) / 4;
    for (size_t i = 0; i < cnt; ++i) {
      float v = i < rotated ? 1.0f : 1e30f;
      std::memcpy(dst + 4 * i, &v, 4);
    }
    return;
  }
  // Chunks of whole blocks, each with its own stream: same bytes for any thread count.
  const size_t bs = quant::type_info(t.type).bytes;
  const size_t chunk = std::max<size_t>(bs, (size_t(4) << 20) / bs * bs);
  const size_t n_chunks = (n + chunk - 1) / chunk;
  const uint64_t tseed = seed ^ hash_name(t.name);
  auto work = [&](size_t first, size_t step) {
    for (size_t c = first; c < n_chunks; c += step) {
      size_t off = c * chunk, len = std::min(chunk, n - off);
      Rng r(tseed + 0x632BE59BD9B4E019ull * (c + 1));
      fill_blocks(t.type, dst + off, len, r);
    }
  };
  int nt = static_cast<int>(std::min<size_t>(n_chunks, static_cast<size_t>(std::max(threads, 1))));
  if (nt <= 1) {
    work(0, 1);
    return;
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < nt; ++i) pool.emplace_back(work, static_cast<size_t>(i), static_cast<size_t>(nt));
  for (auto& th : pool) th.join();
}

// Type for a matrix of row length ne0 when `want` is requested (llama-quantize's fallbacks).
Type pick(Type want, int64_t ne0) {
  const auto& ti = quant::type_info(want);
  if (ne0 % ti.block == 0) return want;
  if (want == Type::Q4_K && ne0 % 32 == 0) return Type::Q5_0;
  if (want == Type::Q6_K && ne0 % 32 == 0) return Type::Q8_0;
  return Type::F16;
}

uint32_t file_type_of(Type t) {
  switch (t) {
    case Type::Q4_0: return 2;   // MOSTLY_Q4_0
    case Type::Q8_0: return 7;   // MOSTLY_Q8_0
    case Type::Q4_K: return 15;  // MOSTLY_Q4_K_M (closest ftype)
    default: return 0;
  }
}

}  // namespace

const std::vector<std::string>& synth_preset_names() {
  static const std::vector<std::string> n = {"gemma4-1b", "e2b", "e4b", "12b", "26b-a4b", "31b"};
  return n;
}

SynthPreset synth_preset(const std::string& name_in) {
  std::string name = name_in.rfind("gemma4-", 0) == 0 && name_in != "gemma4-1b" ? name_in.substr(7) : name_in;
  if (name == "1b") name = "gemma4-1b";
  SynthPreset p;
  if (name == "gemma4-1b") {
    p = base("gemma4-1b", 18, 1536, 8, 4, 1, 6, 512, 6144, 32768);
    p.k_eq_v = true;
  } else if (name == "e2b") {
    p = base("e2b", 35, 1536, 8, 1, 1, 5, 512, 6144, 131072);
    p.n_ff_wide = 12288;
    p.shared_kv = 20;
    p.n_pl = 256;
    p.kv_array = false;
  } else if (name == "e4b") {
    p = base("e4b", 42, 2560, 8, 2, 2, 6, 512, 10240, 131072);
    p.shared_kv = 18;
    p.n_pl = 256;
    p.kv_array = false;
  } else if (name == "12b") {
    p = base("12b", 48, 3840, 16, 8, 1, 6, 1024, 15360, 262144);
    p.k_eq_v = true;
  } else if (name == "26b-a4b" || name == "26b") {
    p = base("26b-a4b", 30, 2816, 16, 8, 2, 6, 1024, 2112, 262144);
    p.k_eq_v = true;
    p.n_expert = 128;
    p.n_expert_used = 8;
    p.n_ff_exp = 704;
  } else if (name == "31b") {
    p = base("31b", 60, 5376, 32, 16, 4, 6, 1024, 21504, 262144);
    p.k_eq_v = true;
  } else if (name == "tiny") {  // for tests: every kind of tensor, a few hundred KB
    p = base("tiny", 6, 256, 4, 2, 1, 6, 16, 128, 8192);  // the dense test model's shape
    p.d_swa = 32;
    p.d_full = 64;
    p.k_eq_v = true;
  } else {
    std::string list;
    for (auto& n : synth_preset_names()) list += (list.empty() ? "" : ", ") + n;
    throw core::Error("usage", "unknown synth preset '" + name_in + "'", "use one of " + list);
  }
  return p;
}

SynthPreset with_layers(SynthPreset p, int n_layer) {
  if (n_layer < 1 || n_layer > 512) throw core::Error("usage", "--layers must be in [1, 512]");
  if (p.shared_kv > 0) {
    int s = static_cast<int>(std::lround(double(p.shared_kv) * n_layer / p.n_layer));
    p.n_layer = n_layer;
    // Shared layers read layers n_kv_start-1 (full) and n_kv_start-2 (SWA): keep that valid.
    for (; s > 0; --s) {
      int start = n_layer - s;
      if (start >= 2 && p.is_full(start - 1) && !p.is_full(start - 2)) break;
    }
    p.shared_kv = s;
  }
  p.n_layer = n_layer;
  return p;
}

std::vector<SynthTensor> synth_tensors(const SynthPreset& p, Type type, int64_t n_vocab) {
  if (type != Type::Q4_0 && type != Type::Q8_0 && type != Type::Q4_K)
    throw core::Error("usage", std::string("synth --type ") + quant::type_name(type) + " is not supported",
                      "use q4_0, q8_0 or q4_k");
  std::vector<SynthTensor> v;
  const Type emb = type == Type::Q8_0 ? Type::Q8_0 : Type::Q6_K;
  const int64_t E = p.n_embd, L = p.n_layer;
  auto mat = [&](std::string name, Type want, std::vector<int64_t> ne) {
    v.push_back({std::move(name), pick(want, ne[0]), std::move(ne), SynthTensor::Fill::Weight});
  };
  auto f32 = [&](std::string name, std::vector<int64_t> ne, SynthTensor::Fill f = SynthTensor::Fill::Ones) {
    v.push_back({std::move(name), Type::F32, std::move(ne), f});
  };
  mat("token_embd.weight", emb, {E, n_vocab});
  if (p.n_pl > 0) {
    mat("per_layer_token_embd.weight", type, {p.n_pl * L, n_vocab});
    v.push_back({"per_layer_model_proj.weight", Type::F16, {E, p.n_pl * L}, SynthTensor::Fill::Weight});
    f32("per_layer_proj_norm.weight", {p.n_pl});
  }
  f32("output_norm.weight", {E});
  f32("rope_freqs.weight", {p.d_full / 2}, SynthTensor::Fill::RopeFreqs);
  const Type kv_type = p.n_expert >= 8 && type != Type::Q8_0 ? Type::Q8_0 : type;  // llama-quantize, >= 8 experts
  for (int l = 0; l < L; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const bool full = p.is_full(l);
    const int64_t d = full ? p.d_full : p.d_swa, hkv = full ? p.kv_full : p.kv_swa, ff = p.ff(l);
    f32(b + "attn_norm.weight", {E});
    mat(b + "attn_q.weight", type, {E, p.n_head * d});
    mat(b + "attn_k.weight", kv_type, {E, hkv * d});
    if (!(full && p.k_eq_v)) mat(b + "attn_v.weight", kv_type, {E, hkv * d});
    f32(b + "attn_k_norm.weight", {d});
    mat(b + "attn_output.weight", type, {p.n_head * d, E});
    f32(b + "attn_q_norm.weight", {d});
    f32(b + "post_attention_norm.weight", {E});
    f32(b + "layer_output_scale.weight", {1});
    f32(b + "ffn_norm.weight", {E});
    mat(b + "ffn_gate.weight", type, {E, ff});
    mat(b + "ffn_up.weight", type, {E, ff});
    mat(b + "ffn_down.weight", type, {ff, E});
    f32(b + "post_ffw_norm.weight", {E});
    if (p.n_expert > 0) {
      f32(b + "ffn_gate_inp.weight", {E, p.n_expert}, SynthTensor::Fill::Weight);
      f32(b + "ffn_gate_inp.scale", {E});
      f32(b + "pre_ffw_norm_2.weight", {E});
      f32(b + "post_ffw_norm_1.weight", {E});
      f32(b + "post_ffw_norm_2.weight", {E});
      mat(b + "ffn_gate_up_exps.weight", type, {E, 2 * int64_t(p.n_ff_exp), p.n_expert});
      mat(b + "ffn_down_exps.weight", type, {p.n_ff_exp, E, p.n_expert});
      f32(b + "ffn_down_exps.scale", {p.n_expert});
    }
    if (p.n_pl > 0) {
      mat(b + "inp_gate.weight", type, {E, p.n_pl});
      mat(b + "proj.weight", type, {p.n_pl, E});
      f32(b + "post_norm.weight", {E});
    }
  }
  return v;
}

std::string default_vocab_path() { return core::test::testdata("vocab/ggml-vocab-gemma-4.gguf"); }

SynthResult write_synth_model(const SynthPreset& p, const SynthOptions& opt, const std::string& path) {
  auto t0 = std::chrono::steady_clock::now();
  gguf::Writer w;
  const std::string a = "gemma4.";
  w.set_string("general.architecture", "gemma4");
  w.set_string("general.type", "model");
  w.set_string("general.name", "fitserve-synth-" + p.name);
  w.set_string("general.description",
               "random weights (not trained) written by fitserve synth with the dimensions of Gemma 4 " + p.name +
                   ", for benchmarks and memory planning");
  w.set_u32(a + "block_count", p.n_layer);
  w.set_u32(a + "context_length", static_cast<uint32_t>(p.ctx));
  w.set_u32(a + "embedding_length", p.n_embd);
  if (p.n_ff_wide) {
    std::vector<int32_t> ff;
    for (int l = 0; l < p.n_layer; ++l) ff.push_back(p.ff(l));
    w.set_array_i32(a + "feed_forward_length", ff);
  } else {
    w.set_u32(a + "feed_forward_length", p.n_ff);
  }
  w.set_u32(a + "attention.head_count", p.n_head);
  if (p.kv_array) {
    std::vector<int32_t> kv;
    for (int l = 0; l < p.n_layer; ++l) kv.push_back(p.is_full(l) ? p.kv_full : p.kv_swa);
    w.set_array_i32(a + "attention.head_count_kv", kv);
  } else {
    w.set_u32(a + "attention.head_count_kv", p.kv_swa);
  }
  w.set_f32(a + "rope.freq_base", 1e6f);
  w.set_f32(a + "rope.freq_base_swa", 1e4f);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
  if (p.n_expert > 0) {
    w.set_u32(a + "expert_count", p.n_expert);
    w.set_u32(a + "expert_used_count", p.n_expert_used);
  }
  w.set_u32(a + "attention.key_length", p.d_full);
  w.set_u32(a + "attention.value_length", p.d_full);
  w.set_u32("general.file_type", file_type_of(opt.type));
  w.set_f32(a + "final_logit_softcapping", 30.0f);
  w.set_u32(a + "attention.sliding_window", p.window);
  w.set_u32(a + "attention.shared_kv_layers", p.shared_kv);
  w.set_u32(a + "embedding_length_per_layer_input", p.n_pl);
  std::vector<bool> pat;
  for (int l = 0; l < p.n_layer; ++l) pat.push_back(!p.is_full(l));
  w.set_array_bool(a + "attention.sliding_window_pattern", pat);
  w.set_u32(a + "attention.key_length_swa", p.d_swa);
  w.set_u32(a + "attention.value_length_swa", p.d_swa);
  if (p.n_expert > 0) w.set_u32(a + "expert_feed_forward_length", p.n_ff_exp);
  w.set_u32(a + "rope.dimension_count", p.d_full);
  w.set_u32(a + "rope.dimension_count_swa", p.d_swa);
  w.set_u32("general.quantization_version", 2);

  int64_t n_vocab = opt.n_vocab_none;
  std::optional<gguf::File> vocab;
  if (!opt.vocab_path.empty()) {
    if (!core::test::exists(opt.vocab_path))
      throw core::Error("io", "synth: vocabulary GGUF " + opt.vocab_path + " not found",
                        "pass --vocab FILE (a GGUF with the Gemma 4 tokenizer, e.g. ggml-vocab-gemma-4.gguf from the "
                        "shared test data) or --vocab none for a 256-token model without tokenizer");
    vocab.emplace(gguf::File::open(opt.vocab_path));
    const gguf::Value* toks = vocab->find("tokenizer.ggml.tokens");
    if (!toks || !toks->is_array() || toks->count == 0)
      throw core::Error("io", "synth: " + opt.vocab_path + " has no tokenizer.ggml.tokens");
    n_vocab = static_cast<int64_t>(toks->count);
    for (const auto& kv : vocab->metadata())
      if (kv.key.rfind("tokenizer.", 0) == 0) w.set_value(kv.key, kv.value);
  } else {
    w.set_string("tokenizer.ggml.model", "none");
    w.set_u32(a + "vocab_size", static_cast<uint32_t>(n_vocab));
  }

  SynthResult res;
  res.n_vocab = n_vocab;
  const int threads = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  for (const SynthTensor& t : synth_tensors(p, opt.type, n_vocab)) {
    int64_t n = 1;
    for (auto d : t.ne) n *= d;
    res.n_params += n;
    res.n_tensors += 1;
    SynthTensor copy = t;
    const uint64_t seed = opt.seed;
    w.add_tensor_fill(t.name, t.type, t.ne, [copy, seed, threads](uint8_t* dst, size_t nbytes) {
      fill_tensor(copy, dst, nbytes, seed, threads);
    });
  }
  w.write_file(path);
  res.file_bytes = gguf::File::open(path).file_size();
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace fitserve::model
