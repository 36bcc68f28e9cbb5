// ops/attention.h — multi-head attention over typed key/value rows with an online softmax.
// Offers: ops::KvView (where one sequence's K/V rows live: element types f32/f16/bf16/q8_0/q4_0/
// any dequantizable type, per-head and per-cell strides, the position held by each cell, plain
// or ring addressing), ops::AttnMask (causal, sliding window, bidirectional span),
// ops::AttnParams (scale, logit softcap, mask) and attention(), which computes for every query
// row r and head h:  out[r][h] = Σ_j softmax_j(s_j) · v_j,  s_j = softcap(scale · q[r][h]·k_j)
// over the visible keys j of KV head h / (n_head / n_head_kv) (GQA). kv/attention.h wraps it for
// the KV cache; the vision encoder can use it directly on f32 rows (ring = false, causal = false).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/thread_pool.h"
#include "ops/scratch.h"
#include "quant/types.h"

namespace fitserve::ops {

struct KvView {
  quant::Type type_k = quant::Type::F16, type_v = quant::Type::F16;
  int n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
  // Elements stored per head row (>= head_dim; larger when rows are zero-padded to whole quant
  // blocks). 0 = same as the head dim.
  int stored_dim_k = 0, stored_dim_v = 0;
  // Row of KV head h in cell c: k + h·k_head_stride + c·k_row_stride (bytes); same for v.
  const uint8_t* k = nullptr;
  size_t k_head_stride = 0, k_row_stride = 0;
  const uint8_t* v = nullptr;
  size_t v_head_stride = 0, v_row_stride = 0;
  // Position held by each cell (< 0: empty). Plain addressing: cell c can only hold position c.
  // Ring addressing: position p lives in cell p % n_cells.
  const int32_t* cell_pos = nullptr;
  int64_t n_cells = 0;
  bool ring = false;
  int32_t pos_max = -1;  // largest position present (bounds the key scan)
};

// Key at position pk is visible to a query at position pq iff it is present and
//   (pk <= pq, or !causal, or both pq and pk lie in [span_begin, span_end))
//   and (window == 0 or pq − pk < window).
// So a sliding-window query sees itself and the window−1 previous positions (Gemma's rule).
struct AttnMask {
  bool causal = true;
  int32_t window = 0;
  int32_t span_begin = 0, span_end = 0;  // bidirectional span (e.g. one image's tokens)
};

struct AttnParams {
  float scale = 1.0f;    // Gemma 4: 1.0; most models 1/sqrt(head_dim)
  float softcap = 0.0f;  // > 0: s = softcap · tanh(s / softcap), applied after the scale
  AttnMask mask;
};

// q: n_q rows, row r at q + r·q_stride holding n_head heads of head_dim_k floats (q_stride 0 =
// n_head·head_dim_k); q_pos[r] its position. out: row r at out + r·out_stride with n_head heads
// of head_dim_v floats (0 = n_head·head_dim_v). Rows with no visible key get zeros.
// Work is split over (KV head × query chunk) and, when that gives too few tasks (decode), over
// key ranges whose partial softmax states are merged. The split depends on the shapes only:
// results are bit-identical for every thread count. Throws core::Error("ops") on bad shapes.
void attention(core::ThreadPool& pool, const KvView& kv, const float* q, size_t q_stride,
               const int32_t* q_pos, int64_t n_q, int n_head, float* out, size_t out_stride,
               const AttnParams& p, Scratch& scratch);

}  // namespace fitserve::ops
