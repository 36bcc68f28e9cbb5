// plan/headers.h — what the memory planner needs to know about a GGUF, read from its header only.
// Offers:
//   plan::ModelHeaders          kind (text model, mmproj, MTP assistant), per-layer attention
//                               shape (SWA or full, heads, KV heads, head dims, own KV or shared
//                               and from which layer), widths, vocabulary, experts, weight bytes
//                               by tensor type; the parsed gguf::File(s) stay alive inside.
//   plan::read_headers(file)    from an opened (possibly header-only) gguf::File
//   plan::open_headers(p, &st)  path or http(s) URL; split models (-00001-of-0000N.gguf) are
//                               read part by part and their weights summed
// Supports arch gemma4, gemma4-assistant, llama (and llama-like archs with the usual keys), and
// clip (mmproj). Missing or inconsistent hparams throw core::Error("model", ...) naming the key.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "plan/http.h"
#include "quant/types.h"

namespace fitserve::plan {

enum class ModelKind { Text, Mmproj, Assistant };
const char* kind_name(ModelKind k);

struct LayerShape {
  bool swa = false;       // sliding-window layer
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t d_k = 0, d_v = 0;
  int64_t n_ff = 0;
  bool owns_kv = true;    // false: reads the cache of layer kv_source (shared-KV layers, assistants)
  int kv_source = -1;     // own index when owns_kv; -1 for the assistant (target's cache)
  int64_t k_width() const { return n_head_kv * d_k; }
  int64_t v_width() const { return n_head_kv * d_v; }
};

struct TypeTotal {
  uint64_t bytes = 0;
  int64_t tensors = 0;
  int64_t params = 0;
};

struct MmprojShape {
  std::string projector;        // clip.vision.projector_type ("gemma4v", "gemma4uv", ...)
  bool has_vision = false, has_audio = false;
  int64_t n_embd_vision = 0;    // ne1 of mm.input_projection.weight (0 = absent)
  int64_t n_embd_audio = 0;     // ne1 of mm.a.input_projection.weight (0 = absent)
  int64_t projection_dim = 0;   // clip.vision.projection_dim (informative)
  int64_t width = 0, n_ff = 0, n_layer = 0, n_head = 0, patch = 0, pool = 3;
  uint64_t audio_bytes = 0;     // a.* / mm.a.* tensors (not loaded for vision)
};

struct ModelHeaders {
  std::string source;           // path or URL of the (first) file
  std::string arch;             // general.architecture
  std::string name;             // general.name or the file name
  ModelKind kind = ModelKind::Text;
  std::vector<std::shared_ptr<const gguf::File>> files;  // one per split part
  FetchStats fetch;             // summed over parts

  // text / assistant
  int64_t n_layer = 0, n_embd = 0, n_ctx_train = 0, n_vocab = 0;
  int64_t n_swa = 0;            // sliding window (0 = none)
  int64_t n_shared_kv = 0;      // trailing layers without their own cache
  int64_t n_embd_per_layer = 0; // Gemma PLE width
  int64_t n_expert = 0, n_expert_used = 0, n_ff_exp = 0;
  int64_t n_embd_out = 0;       // assistant: target width it expects (embedding_length_out)
  bool tied_embeddings = false; // no output.weight
  std::vector<LayerShape> layers;

  MmprojShape mm;               // kind == Mmproj

  // weights (all parts): every tensor's nbytes; for an mmproj only the vision tensors count
  uint64_t weight_bytes = 0;
  int64_t n_params = 0;
  std::map<quant::Type, TypeTotal> by_type;
  uint64_t header_bytes = 0;    // metadata + tensor infos of the first part
  uint64_t file_bytes = 0;      // all parts

  const gguf::File& file() const { return *files.front(); }
  bool has_swa() const;
  int64_t max_head_dim() const;
  int64_t max_n_ff() const;
  int64_t max_n_head() const;
  int64_t max_n_head_kv() const;
};

ModelHeaders read_headers(std::shared_ptr<const gguf::File> file, const std::string& source = {});
ModelHeaders open_headers(const std::string& path_or_url);

}  // namespace fitserve::plan
