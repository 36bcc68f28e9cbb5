// kv/kv_cache.h — the per-sequence KV cache of a transformer, typed (f32/f16/bf16/q8_0/q4_0).
// Offers: kv::LayerSpec / kv::CacheConfig (per layer: full context, sliding-window ring, or shared
// with an earlier layer; K and V element types; sequences; context), kv::KvCache with
//   - sizing without allocating (cells(), layer_bytes(), total_bytes(): the memory planner's
//     formula),
//   - position bookkeeping per sequence: reserve() positions of a new ubatch (append-only, checks
//     the sliding-window ring can hold them), write() K/V rows of one layer, remove() a position
//     range (speculative rollback), clear(), copy_prefix() (prompt-cache reuse), pos_max(),
//   - view(layer, seq): the ops::KvView that ops::attention reads (kv/attention.h wraps it).
// Memory layout per storage layer: [seq][kv head][cell][row of head_dim elements], zero-filled.
// Sliding layers hold window + n_batch cells (rounded up to swa_pad, at most n_ctx) as a ring:
// position p lives in cell p % cells, so their memory does not grow with the context.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ops/attention.h"
#include "quant/types.h"

namespace fitserve::kv {

// A head row of head_dim elements is stored as stored_dim(t, head_dim) elements: rounded up to
// the type's block (zero padding) when a quantized type's block is longer than the head
// (e.g. q8_0 with head_dim 8); head_row_bytes is its size in bytes.
int stored_dim(quant::Type t, int head_dim);
size_t head_row_bytes(quant::Type t, int head_dim);

enum class LayerKind {
  Full,     // n_ctx cells per sequence; sees the whole prefix
  Sliding,  // ring of window + n_batch cells; a query at p sees keys p − window < pos <= p
  Shared,   // no storage: reads the cache of layer `shared_with` (Gemma 3n/4 trailing layers)
};

struct LayerSpec {
  LayerKind kind = LayerKind::Full;
  int n_head_kv = 0;
  int head_dim_k = 0, head_dim_v = 0;  // multiples of the K / V type's block size (32 for q*_0)
  int32_t window = 0;                  // Sliding only: n_swa (> 0)
  int shared_with = -1;                // Shared only: an earlier layer that has storage
};

struct CacheConfig {
  std::vector<LayerSpec> layers;
  quant::Type type_k = quant::Type::F16;
  quant::Type type_v = quant::Type::F16;
  int n_seq = 1;          // sequences (slots); each has its own cells
  int32_t n_ctx = 0;      // positions per sequence: valid positions are [0, n_ctx)
  int32_t n_batch = 512;  // most tokens one reserve() may add to a sequence
  int32_t swa_pad = 256;  // ring cell count is rounded up to a multiple of this
  bool swa_full = false;  // give sliding layers n_ctx cells (no ring)
};

class KvCache {
 public:
  // Validates the config (throws core::Error("kv", ...)) and allocates zero-filled storage
  // (throws core::Error("oom", ...) if that fails).
  explicit KvCache(CacheConfig cfg);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // ---- sizing (no allocation; what the memory planner uses) ----
  // Cells per sequence of a layer: n_ctx (Full, or Sliding with swa_full),
  // min(n_ctx, round_up(window + n_batch, swa_pad)) (Sliding), 0 (Shared).
  static int64_t cells(const CacheConfig& cfg, int layer);
  // n_seq · cells · (row_bytes(type_k, n_head_kv·head_dim_k) + row_bytes(type_v, n_head_kv·head_dim_v))
  static size_t layer_bytes(const CacheConfig& cfg, int layer);
  static size_t total_bytes(const CacheConfig& cfg);  // Σ layer_bytes (bookkeeping not included)
  // Throws core::Error("kv") naming the first problem; called by the constructor.
  static void validate(const CacheConfig& cfg);

  const CacheConfig& config() const { return cfg_; }
  int n_layers() const { return static_cast<int>(cfg_.layers.size()); }
  int source_layer(int layer) const;  // the layer whose storage `layer` uses (itself unless Shared)
  int32_t window(int layer) const;    // sliding window of `layer` (0 = full attention)
  size_t bytes() const { return bytes_; }

  // ---- sequences ----
  // Declares positions [pos0, pos0 + n) of `seq` for the next ubatch (before any write()).
  // Requires pos0 > pos_max(seq) (append-only; use remove() first to rewrite), pos0 + n <= n_ctx,
  // n <= n_batch, and that every ring can hold them without evicting a position that a query of
  // this or a later ubatch still sees. Throws core::Error("kv") and changes nothing otherwise.
  void reserve(int seq, int32_t pos0, int32_t n);
  // Stores n rows of K and V (f32, n_head_kv·head_dim floats each; strides in floats, 0 = dense)
  // for positions [pos0, pos0 + n) of `seq` in layer `layer` (which must have storage). The
  // positions must have been reserved.
  void write(int layer, int seq, int32_t pos0, int32_t n, const float* k, size_t k_stride,
             const float* v, size_t v_stride);
  // Forgets positions [p0, p1) of seq (p1 < 0: to the end). Data stays but is never read again.
  void remove(int seq, int32_t p0, int32_t p1 = -1);
  void clear(int seq);
  void clear();
  // dst := the positions [0, n) of src (data and bookkeeping). src != dst.
  void copy_prefix(int src, int dst, int32_t n);
  int32_t pos_max(int seq) const;  // largest present position, -1 if empty
  // Is position pos of seq present in every layer (not removed, not evicted from a ring)?
  bool contains(int seq, int32_t pos) const;
  // Smallest query position whose whole window is still present in every ring of seq. It is
  // also the earliest position seq can be rolled back to (remove(seq, p) then reserve(seq, p, ..)
  // succeeds iff p >= min_query_pos(seq)); a reused prompt prefix shorter than that must be
  // processed again from scratch (clear(seq)). 0 when nothing was evicted.
  int32_t min_query_pos(int seq) const;

  // The attention kernel's view of layer `layer` (resolving Shared) for one sequence.
  ops::KvView view(int layer, int seq) const;

 private:
  struct Group;  // layers with the same cell geometry share position bookkeeping
  struct Storage;
  void check_seq(int seq) const;
  void recompute_pos_max(int seq);

  CacheConfig cfg_;
  std::vector<int> source_;    // per layer: storage layer index
  std::vector<int> group_of_;  // per storage layer: group index (-1 for Shared)
  std::vector<Group> groups_;
  std::vector<std::unique_ptr<Storage>> storage_;  // per layer (null for Shared)
  std::vector<int32_t> pos_max_;                   // per sequence
  size_t bytes_ = 0;
};

}  // namespace fitserve::kv
