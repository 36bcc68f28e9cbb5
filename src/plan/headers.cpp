// plan/headers.cpp — hparams and weight totals from GGUF headers (text, assistant, mmproj).
#include "plan/headers.h"

#include <algorithm>
#include <regex>

#include "core/error.h"

namespace fitserve::plan {

const char* kind_name(ModelKind k) {
  switch (k) {
    case ModelKind::Text: return "text model";
    case ModelKind::Mmproj: return "mmproj";
    case ModelKind::Assistant: return "MTP assistant";
  }
  return "?";
}

bool ModelHeaders::has_swa() const {
  return std::any_of(layers.begin(), layers.end(), [](const LayerShape& l) { return l.swa; });
}
int64_t ModelHeaders::max_head_dim() const {
  int64_t m = 0;
  for (auto& l : layers) m = std::max({m, l.d_k, l.d_v});
  return m;
}
int64_t ModelHeaders::max_n_ff() const {
  int64_t m = 0;
  for (auto& l : layers) m = std::max(m, l.n_ff);
  return m;
}
int64_t ModelHeaders::max_n_head() const {
  int64_t m = 0;
  for (auto& l : layers) m = std::max(m, l.n_head);
  return m;
}
int64_t ModelHeaders::max_n_head_kv() const {
  int64_t m = 0;
  for (auto& l : layers) m = std::max(m, l.n_head_kv);
  return m;
}

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 24;    // sanity bound for widths and counts
constexpr int64_t kMaxSmall = int64_t(1) << 16;  // heads, head dims, experts, PLE width

std::string base_name(const std::string& s) {
  auto p = s.find_last_of('/');
  return p == std::string::npos ? s : s.substr(p + 1);
}

class Keys {
 public:
  Keys(const gguf::File& f, std::string arch) : f_(f), arch_(std::move(arch)) {}
  std::string k(const std::string& suffix) const { return arch_ + "." + suffix; }

  int64_t checked(int64_t v, const std::string& key, int64_t lo, int64_t hi) const {
    if (v < lo || v > hi)
      throw core::Error("model", f_.path() + ": " + key + " = " + std::to_string(v) + " is out of range [" +
                                     std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
  }
  int64_t req(const std::string& suffix, int64_t lo = 1, int64_t hi = kMaxDim) const {
    std::string key = k(suffix);
    auto v = f_.get_int(key);
    if (!v) throw core::Error("model", f_.path() + ": missing metadata key " + key,
                              "is this a complete " + arch_ + " GGUF?");
    return checked(*v, key, lo, hi);
  }
  int64_t opt(const std::string& suffix, int64_t def, int64_t lo = 0, int64_t hi = kMaxDim) const {
    std::string key = k(suffix);
    auto v = f_.get_int(key);
    return v ? checked(*v, key, lo, hi) : def;
  }
  // Scalar (broadcast) or per-layer array of integers.
  std::vector<int64_t> per_layer(const std::string& suffix, int64_t n_layer, int64_t def, bool required,
                                 int64_t lo = 0, int64_t hi = kMaxDim) const {
    std::string key = k(suffix);
    const gguf::Value* v = f_.find(key);
    if (!v) {
      if (required) throw core::Error("model", f_.path() + ": missing metadata key " + key);
      return std::vector<int64_t>(static_cast<size_t>(n_layer), def);
    }
    std::vector<int64_t> out;
    if (v->is_array()) {
      if (v->count != static_cast<uint64_t>(n_layer))
        throw core::Error("model", f_.path() + ": " + key + " has " + std::to_string(v->count) +
                                       " entries but block_count is " + std::to_string(n_layer));
      if (v->elem_type == gguf::ValueType::STRING || v->elem_type == gguf::ValueType::F32 ||
          v->elem_type == gguf::ValueType::F64)
        throw core::Error("model", f_.path() + ": " + key + " must be an integer array");
      for (uint64_t i = 0; i < v->count; ++i) out.push_back(checked(v->int_at(i), key, lo, hi));
    } else {
      out.assign(static_cast<size_t>(n_layer), checked(v->as_int(key), key, lo, hi));
    }
    return out;
  }

 private:
  const gguf::File& f_;
  std::string arch_;
};

void add_weights(ModelHeaders& h, const gguf::File& f) {
  for (const auto& t : f.tensors()) {
    bool audio = h.kind == ModelKind::Mmproj && (t.name.rfind("a.", 0) == 0 || t.name.rfind("mm.a.", 0) == 0);
    if (audio) {
      h.mm.audio_bytes += t.nbytes;
      continue;
    }
    auto& tt = h.by_type[t.type];
    tt.bytes += t.nbytes;
    tt.tensors += 1;
    tt.params += t.n_elements();
    h.weight_bytes += t.nbytes;
    h.n_params += t.n_elements();
  }
  h.file_bytes += f.file_size();
}

void read_mmproj(ModelHeaders& h, const gguf::File& f) {
  auto& m = h.mm;
  if (auto s = f.get_string("clip.projector_type")) m.projector = *s;
  else if (auto s2 = f.get_string("clip.vision.projector_type")) m.projector = *s2;
  m.has_vision = f.get_bool("clip.has_vision_encoder").value_or(false);
  m.has_audio = f.get_bool("clip.has_audio_encoder").value_or(false);
  if (const auto* t = f.tensor("mm.input_projection.weight")) m.n_embd_vision = t->ne[1];
  if (const auto* t = f.tensor("mm.a.input_projection.weight")) m.n_embd_audio = t->ne[1];
  Keys k(f, "clip.vision");
  m.projection_dim = k.opt("projection_dim", 0);
  m.width = k.opt("embedding_length", 0);
  m.n_ff = k.opt("feed_forward_length", 0);
  m.n_layer = k.opt("block_count", 0, 0, 4096);
  m.n_head = k.opt("attention.head_count", 0, 0, kMaxSmall);
  m.patch = k.opt("patch_size", 16, 1, 4096);
  m.pool = k.opt("projector.scale_factor", 3, 1, 64);
  if (!m.has_vision && !m.has_audio && m.n_embd_vision == 0 && m.n_embd_audio == 0)
    throw core::Error("model", f.path() + ": clip file with neither a vision nor an audio encoder",
                      "this does not look like an mmproj file");
  h.n_embd = m.n_embd_vision ? m.n_embd_vision : m.n_embd_audio;
}

void read_text(ModelHeaders& h, const gguf::File& f) {
  Keys k(f, h.arch);
  const bool gemma4 = h.arch == "gemma4" || h.kind == ModelKind::Assistant;
  h.n_layer = k.req("block_count", 1, 4096);
  h.n_embd = k.req("embedding_length");
  h.n_ctx_train = k.opt("context_length", 0, 0, int64_t(1) << 32);
  const int64_t L = h.n_layer;
  auto n_head = k.per_layer("attention.head_count", L, 0, true, 1, kMaxSmall);
  auto n_head_kv = k.per_layer("attention.head_count_kv", L, -1, false, 0, kMaxSmall);
  auto n_ff = k.per_layer("feed_forward_length", L, 0, false);
  int64_t dk_full = k.opt("attention.key_length", std::min(kMaxSmall, h.n_embd / n_head[0]), 0, kMaxSmall);
  int64_t dv_full = k.opt("attention.value_length", dk_full, 0, kMaxSmall);
  int64_t dk_swa = k.opt("attention.key_length_swa", dk_full, 0, kMaxSmall);
  int64_t dv_swa = k.opt("attention.value_length_swa", dk_swa, 0, kMaxSmall);
  h.n_swa = k.opt("attention.sliding_window", 0, 0, int64_t(1) << 32);

  std::vector<bool> swa(static_cast<size_t>(L), false);
  if (const gguf::Value* p = f.find(k.k("attention.sliding_window_pattern"))) {
    if (p->is_array()) {
      if (p->count != static_cast<uint64_t>(L))
        throw core::Error("model", f.path() + ": " + k.k("attention.sliding_window_pattern") + " has " +
                                       std::to_string(p->count) + " entries but block_count is " + std::to_string(L));
      for (int64_t l = 0; l < L; ++l) swa[l] = p->int_at(static_cast<uint64_t>(l)) != 0;
    } else if (gemma4) {
      throw core::Error("model", f.path() + ": " + k.k("attention.sliding_window_pattern") +
                                     " must be a per-layer array for " + h.arch);
    } else {  // Gemma 3 style: every n-th layer is full
      int64_t n = p->as_int(k.k("attention.sliding_window_pattern"));
      for (int64_t l = 0; l < L; ++l) swa[l] = n > 0 && (l % n) < n - 1;
    }
  } else if (gemma4) {
    throw core::Error("model", f.path() + ": missing metadata key " + k.k("attention.sliding_window_pattern"));
  }
  if (h.n_swa == 0) std::fill(swa.begin(), swa.end(), false);

  h.n_shared_kv = h.kind == ModelKind::Assistant ? 0 : k.opt("attention.shared_kv_layers", 0, 0, L);
  const int64_t n_kv_start = L - h.n_shared_kv;
  h.layers.resize(static_cast<size_t>(L));
  for (int64_t l = 0; l < L; ++l) {
    auto& s = h.layers[l];
    s.swa = swa[l];
    s.n_head = n_head[l];
    s.n_head_kv = n_head_kv[l] < 0 ? n_head[l] : n_head_kv[l];
    s.d_k = s.swa ? dk_swa : dk_full;
    s.d_v = s.swa ? dv_swa : dv_full;
    s.n_ff = n_ff[l];
    if (s.n_head_kv > 0 && s.n_head % s.n_head_kv != 0)
      throw core::Error("model", f.path() + ": layer " + std::to_string(l) + " has " + std::to_string(s.n_head) +
                                     " heads, not a multiple of its " + std::to_string(s.n_head_kv) + " KV heads");
    if (h.kind == ModelKind::Assistant) {
      s.owns_kv = false;
      s.kv_source = -1;
    } else if (l >= n_kv_start) {
      s.owns_kv = false;
      s.kv_source = static_cast<int>(s.swa ? n_kv_start - 2 : n_kv_start - 1);
    } else {
      s.owns_kv = s.n_head_kv > 0;
      s.kv_source = static_cast<int>(l);
    }
  }
  if (h.n_shared_kv > 0) {
    if (n_kv_start < 2)
      throw core::Error("model", f.path() + ": shared_kv_layers = " + std::to_string(h.n_shared_kv) +
                                     " leaves fewer than 2 layers with their own KV cache");
    for (int64_t l = n_kv_start; l < L; ++l) {
      const auto& s = h.layers[l];
      const auto& src = h.layers[s.kv_source];
      if (src.swa != s.swa || !src.owns_kv || src.k_width() != s.k_width() || src.v_width() != s.v_width())
        throw core::Error("model", f.path() + ": shared-KV layer " + std::to_string(l) + " (" +
                                       (s.swa ? "SWA" : "full") + ") would read layer " + std::to_string(s.kv_source) +
                                       " whose cache has a different kind or shape");
    }
  }

  h.n_embd_per_layer = k.opt("embedding_length_per_layer_input", 0, 0, kMaxSmall);
  h.n_expert = k.opt("expert_count", 0, 0, kMaxSmall);
  h.n_expert_used = k.per_layer("expert_used_count", L, 0, false, 0, kMaxSmall)[0];
  h.n_ff_exp = k.per_layer("expert_feed_forward_length", L, 0, false)[0];
  if (h.kind == ModelKind::Assistant) {
    h.n_embd_out = k.opt("embedding_length_out", 0);
    if (h.n_embd_out == 0)
      throw core::Error("model", f.path() + ": missing metadata key " + k.k("embedding_length_out"),
                        "an MTP assistant must say which target width it was trained for");
  }
  // Vocabulary: explicit key, else the token list, else the embedding table.
  if (auto v = f.get_int(k.k("vocab_size"))) h.n_vocab = k.checked(*v, k.k("vocab_size"), 1, int64_t(1) << 31);
  else if (const auto* t = f.find("tokenizer.ggml.tokens"); t && t->is_array()) h.n_vocab = static_cast<int64_t>(t->count);
  else if (const auto* te = f.tensor("token_embd.weight")) h.n_vocab = te->ne[1];
  h.tied_embeddings = f.tensor("output.weight") == nullptr;
}

}  // namespace

ModelHeaders read_headers(std::shared_ptr<const gguf::File> file, const std::string& source) {
  if (!file) throw core::Error("model", "read_headers: no file");
  ModelHeaders h;
  const gguf::File& f = *file;
  h.source = source.empty() ? f.path() : source;
  h.arch = f.architecture();
  if (h.arch.empty())
    throw core::Error("model", f.path() + ": no general.architecture key", "this is not a model GGUF");
  h.name = f.get_string("general.name").value_or(base_name(h.source));
  if (h.arch == "clip") h.kind = ModelKind::Mmproj;
  else if (h.arch == "gemma4-assistant" || h.arch == "gemma4_assistant") h.kind = ModelKind::Assistant;
  h.header_bytes = f.header_bytes();
  h.files.push_back(std::move(file));
  if (h.kind == ModelKind::Mmproj) read_mmproj(h, f);
  else read_text(h, f);
  add_weights(h, f);
  return h;
}

ModelHeaders open_headers(const std::string& path_or_url) {
  FetchStats st;
  auto first = std::make_shared<const gguf::File>(open_header(path_or_url, &st));
  ModelHeaders h = read_headers(first, path_or_url);
  h.fetch = st;
  // Split models: "<prefix>-00001-of-00003.gguf"; the first part holds the metadata.
  auto count = first->get_int("split.count");
  if (count && *count > 1) {
    if (*count > 99999) throw core::Error("model", path_or_url + ": split.count " + std::to_string(*count) + " is out of range");
    static const std::regex re(R"((.*)-(\d{5})-of-(\d{5})\.gguf$)");
    std::smatch m;
    char tail[64];
    std::snprintf(tail, sizeof tail, "-00001-of-%05lld.gguf", static_cast<long long>(*count));
    if (!std::regex_match(path_or_url, m, re) || std::stoll(m[3].str()) != *count || std::stoll(m[2].str()) != 1)
      throw core::Error("model", path_or_url + ": part of a " + std::to_string(*count) + "-part split model",
                        std::string("pass the first part, named <name>") + tail);
    for (int64_t i = 2; i <= *count; ++i) {
      char part[64];
      std::snprintf(part, sizeof part, "-%05lld-of-%05lld.gguf", static_cast<long long>(i), static_cast<long long>(*count));
      FetchStats ps;
      auto f = std::make_shared<const gguf::File>(open_header(m[1].str() + part, &ps));
      add_weights(h, *f);
      h.files.push_back(std::move(f));
      h.fetch.bytes_fetched += ps.bytes_fetched;
      h.fetch.requests += ps.requests;
      h.fetch.file_size += ps.file_size;
      h.fetch.ms += ps.ms;
    }
  }
  return h;
}

}  // namespace fitserve::plan
