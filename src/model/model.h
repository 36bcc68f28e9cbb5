// model/model.h — a loaded language model and its forward pass over a batch.
// Offers: Batch (token ids or embedding rows, with positions, sequence ids, output flags and
// optional bidirectional spans), Model (info(), kv layout, forward()), load_model(file, opts)
// choosing the architecture by general.architecture (llama, gemma4), and the load-time checks
// (missing tensors, wrong shapes, unsupported architecture) as core::Error with a hint.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "kv/kv_cache.h"

namespace fitserve::model {

struct Batch {
  std::vector<int32_t> tokens;   // one id per row (ignored for rows fed from `embd`)
  const float* embd = nullptr;   // optional: rows x n_embd input embeddings instead of tokens
  std::vector<int32_t> pos;
  std::vector<int32_t> seq;
  std::vector<uint8_t> output;   // 1 = return logits for this row
  struct Span { int32_t seq, begin, end; };  // positions [begin, end) attend bidirectionally (SWA layers)
  std::vector<Span> bidir;

  size_t size() const { return pos.size(); }
  size_t n_outputs() const;
  void clear();
  void add(int32_t token, int32_t pos, int32_t seq, bool want_logits);
};

struct ModelInfo {
  std::string architecture, name;
  int32_t n_vocab = 0, n_embd = 0, n_layer = 0, n_ctx_train = 0;
  int32_t n_swa = 0;             // sliding window (0 = none)
  uint64_t n_params = 0, n_bytes = 0;
};

struct LoadOptions {
  int32_t n_threads = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
  // The KV-cache layout this model needs for the given run settings.
  virtual kv::CacheConfig kv_config(int32_t n_ctx_per_seq, int32_t n_seq, quant::Type type_k,
                                    quant::Type type_v, int32_t n_ubatch) const = 0;
  // Runs the batch through the model, writing K/V into `cache`. logits receives n_outputs rows of
  // n_vocab floats in batch order; hidden (optional) the post-final-norm rows of the outputs.
  virtual void forward(const Batch& batch, kv::KvCache& cache, core::ThreadPool& pool, float* logits,
                       float* hidden = nullptr) = 0;
};

// Contiguous rows of one sequence with consecutive positions (the unit of cache writes and
// attention). Throws core::Error("request") if a batch breaks that shape.
struct SeqRun {
  int32_t seq, pos0;
  int64_t start, n;
};
std::vector<SeqRun> seq_runs(const Batch& b);
// Declares every run's positions in the cache (KvCache::reserve), before the layers write.
void reserve_runs(const std::vector<SeqRun>& runs, kv::KvCache& cache);

// The file must outlive the model (weights are read from its mapping).
std::unique_ptr<Model> load_model(const gguf::File& file, const LoadOptions& opt = {});

}  // namespace fitserve::model
