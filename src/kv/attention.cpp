// kv/attention.cpp — the KV-cache wrapper around ops::attention.
#include "kv/attention.h"

#include <string>

#include "core/error.h"

namespace fitserve::kv {

void attention(core::ThreadPool& pool, const KvCache& cache, int layer, int seq, const float* q,
               size_t q_stride, const int32_t* q_pos, int64_t n_q, int n_head, float* out,
               size_t out_stride, ops::AttnParams params, ops::Scratch& scratch) {
  const ops::KvView view = cache.view(layer, seq);
  params.mask.window = cache.window(layer);
  if (params.mask.window > 0) {
    const int32_t min_ok = cache.min_query_pos(seq);
    for (int64_t r = 0; r < n_q; ++r)
      if (q_pos[r] < min_ok)
        throw core::Error("kv", "query position " + std::to_string(q_pos[r]) + " of sequence " +
                                    std::to_string(seq) + " needs keys the sliding-window cache already dropped");
  }
  ops::attention(pool, view, q, q_stride, q_pos, n_q, n_head, out, out_stride, params, scratch);
}

}  // namespace fitserve::kv
