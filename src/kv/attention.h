// kv/attention.h — attention of a batch of query rows of one sequence over one layer's KV cache.
// Offers: kv::attention(pool, cache, layer, seq, q, ..., params, scratch): ops::attention over
// cache.view(layer, seq), with the layer's sliding window filled in (params.mask.window is
// overwritten: the layer's window for sliding layers and their sharers, 0 for full layers).
// Causality and the bidirectional span stay the caller's choice (Gemma 4 image batches set a
// span on sliding layers only). Throws core::Error("kv") if a query's window reaches positions
// the ring already overwrote (queries must belong to the latest ubatch or later).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/thread_pool.h"
#include "kv/kv_cache.h"
#include "ops/attention.h"
#include "ops/scratch.h"

namespace fitserve::kv {

void attention(core::ThreadPool& pool, const KvCache& cache, int layer, int seq, const float* q,
               size_t q_stride, const int32_t* q_pos, int64_t n_q, int n_head, float* out,
               size_t out_stride, ops::AttnParams params, ops::Scratch& scratch);

}  // namespace fitserve::kv
