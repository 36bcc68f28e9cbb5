// ops/attention.cpp — tiled online-softmax attention over typed K/V rows (see attention.h).
//
// A task owns one KV head, a chunk of query rows (all G = n_head/n_head_kv query heads of that
// KV head, M = G·rows query vectors) and a key range. Keys are visited in position order in tiles
// of up to T present cells: the tile's K rows are converted to f32 once and scored against all M
// queries, masked, folded into the running max / denominator, then the V rows are converted and
// accumulated. Split key ranges write (max, denominator, accumulator) partials that the caller
// merges.
#include "ops/attention.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstring>
#include <vector>
#include <limits>
#include <string>

#include "core/error.h"
#include "ops/vec.h"
#include "quant/quant.h"

namespace fitserve::ops {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void load_row(quant::Type t, const uint8_t* src, float* dst, int d, const VecKernels& vk, int stored = 0) {
  if (stored > d) {  // zero-padded row: convert the whole blocks, keep the first d values
    thread_local std::vector<float> tmp;
    tmp.resize(static_cast<size_t>(stored));
    quant::dequantize_row(t, src, tmp.data(), stored);
    std::memcpy(dst, tmp.data(), sizeof(float) * static_cast<size_t>(d));
    return;
  }
  switch (t) {
    case quant::Type::F32: std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(d)); break;
    case quant::Type::F16: vk.f16_to_f32(reinterpret_cast<const uint16_t*>(src), dst, d); break;
    case quant::Type::BF16: vk.bf16_to_f32(reinterpret_cast<const uint16_t*>(src), dst, d); break;
    case quant::Type::Q8_0: vk.q8_0_to_f32(src, dst, d); break;
    case quant::Type::Q4_0: vk.q4_0_to_f32(src, dst, d); break;
    default: quant::dequantize_row(t, src, dst, d); break;
  }
}

// Visible key interval [lo, hi) of a query at position pq (before clamping to what exists).
struct Interval {
  int64_t lo, hi;
};
Interval visible(int32_t pq, const AttnMask& m) {
  int64_t lo = m.window > 0 ? int64_t{pq} - m.window + 1 : INT64_MIN;
  int64_t hi = m.causal ? int64_t{pq} + 1 : INT64_MAX;
  if (pq >= m.span_begin && pq < m.span_end) hi = std::max<int64_t>(hi, m.span_end);
  return {lo, hi};
}

struct Plan {
  int G, dk, dv, T, Qc, n_chunks, n_units, S;
  int64_t n_q;
  int64_t range_lo, range_hi;  // positions that can exist in the view
  size_t q_stride, out_stride;
  int max_m() const { return G * Qc; }
  // floats of per-thread scratch
  size_t thread_floats() const {
    const size_t M = static_cast<size_t>(max_m());
    return M * dk + static_cast<size_t>(T) * dk + static_cast<size_t>(T) * dv + 2 * M * T + M * dv + 2 * M + 2 * T;
  }
  size_t partial_floats() const { return static_cast<size_t>(max_m()) * (dv + 2); }
};

// Key range [lo, hi) of chunk c (union of its queries' intervals, clamped to the view).
Interval chunk_range(const Plan& pl, const int32_t* q_pos, int c, const AttnMask& mask) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  const int64_t r0 = int64_t{c} * pl.Qc, r1 = std::min<int64_t>(pl.n_q, r0 + pl.Qc);
  for (int64_t r = r0; r < r1; ++r) {
    const Interval iv = visible(q_pos[r], mask);
    lo = std::min(lo, iv.lo);
    hi = std::max(hi, iv.hi);
  }
  lo = std::max(lo, pl.range_lo);
  hi = std::min(hi, pl.range_hi);
  return {lo, std::max(lo, hi)};
}

// One task: KV head kvh, query chunk c, keys [a, b). Results either normalized into `out` or,
// when `partial` is set, as [M maxima][M denominators][M × dv accumulators].
void run_task(const Plan& pl, const KvView& kv, const float* q, const int32_t* q_pos, float* out,
              const AttnParams& p, int kvh, int c, int64_t a, int64_t b, float* work,
              float* partial, const VecKernels& vk) {
  const int G = pl.G, dk = pl.dk, dv = pl.dv, T = pl.T;
  const int64_t r0 = int64_t{c} * pl.Qc;
  const int nr = static_cast<int>(std::min<int64_t>(pl.n_q, r0 + pl.Qc) - r0);
  const int M = G * nr;
  float* Q = work;                                  // [M][dk], pre-scaled
  float* Kt = Q + static_cast<size_t>(pl.max_m()) * dk;  // [T][dk]
  float* Vt = Kt + static_cast<size_t>(T) * dk;          // [T][dv]
  float* Sc = Vt + static_cast<size_t>(T) * dv;          // [M][T] scores
  float* P = Sc + static_cast<size_t>(pl.max_m()) * T;   // [M][T] probabilities
  float* acc = P + static_cast<size_t>(pl.max_m()) * T;  // [M][dv]
  float* mx = acc + static_cast<size_t>(pl.max_m()) * dv;
  float* den = mx + pl.max_m();
  int32_t* tpos = reinterpret_cast<int32_t*>(den + pl.max_m());
  int32_t* tcell = tpos + T;

  for (int i = 0; i < nr; ++i)
    for (int j = 0; j < G; ++j)
      vk.scale(q + (r0 + i) * pl.q_stride + static_cast<size_t>(kvh * G + j) * dk, p.scale,
               Q + static_cast<size_t>(i * G + j) * dk, dk);
  std::fill(acc, acc + static_cast<size_t>(M) * dv, 0.0f);
  std::fill(mx, mx + M, kNegInf);
  std::fill(den, den + M, 0.0f);
  Interval iv[64];  // per query row of the chunk (Qc <= 64)
  for (int i = 0; i < nr; ++i) iv[i] = visible(q_pos[r0 + i], p.mask);

  const uint8_t* kbase = kv.k + static_cast<size_t>(kvh) * kv.k_head_stride;
  const uint8_t* vbase = kv.v + static_cast<size_t>(kvh) * kv.v_head_stride;
  const int64_t C = kv.n_cells;
  int64_t pos = a;
  while (pos < b) {
    int nt = 0;  // gather up to T present keys
    for (; pos < b && nt < T; ++pos) {
      const int64_t cell = kv.ring ? pos % C : pos;
      if (kv.cell_pos[cell] != pos) continue;
      tpos[nt] = static_cast<int32_t>(pos);
      tcell[nt] = static_cast<int32_t>(cell);
      ++nt;
    }
    if (nt == 0) break;
    for (int t = 0; t < nt; ++t) load_row(kv.type_k, kbase + tcell[t] * kv.k_row_stride, Kt + t * dk, dk, vk, kv.stored_dim_k);
    vk.dot_tile(Q, dk, M, Kt, dk, nt, dk, Sc, T);
    bool any = false;
    for (int i = 0; i < nr; ++i) {
      for (int j = 0; j < G; ++j) {
        const int m = i * G + j;
        float* s = Sc + static_cast<size_t>(m) * T;
        float* pr = P + static_cast<size_t>(m) * T;
        if (p.softcap > 0) vk.softcap(s, p.softcap, s, nt);
        for (int t = 0; t < nt; ++t)
          if (tpos[t] < iv[i].lo || tpos[t] >= iv[i].hi) s[t] = kNegInf;
        const float tm = vk.max(s, nt);
        if (tm == kNegInf) {  // nothing visible for this query in this tile
          std::fill(pr, pr + nt, 0.0f);
          continue;
        }
        any = true;
        const float mnew = std::max(mx[m], tm);
        if (mnew != mx[m]) {
          const float alpha = std::exp(mx[m] - mnew);  // 0 on the first visible tile
          den[m] *= alpha;
          vk.scale(acc + static_cast<size_t>(m) * dv, alpha, acc + static_cast<size_t>(m) * dv, dv);
          mx[m] = mnew;
        }
        den[m] += vk.exp_sum(s, mnew, pr, nt);
      }
    }
    if (!any) continue;
    for (int t = 0; t < nt; ++t) load_row(kv.type_v, vbase + tcell[t] * kv.v_row_stride, Vt + t * dv, dv, vk, kv.stored_dim_v);
    vk.acc_tile(P, T, M, Vt, dv, nt, dv, acc, dv);
  }

  if (partial) {
    std::memcpy(partial, mx, sizeof(float) * M);
    std::memcpy(partial + pl.max_m(), den, sizeof(float) * M);
    std::memcpy(partial + 2 * pl.max_m(), acc, sizeof(float) * M * dv);
    return;
  }
  for (int i = 0; i < nr; ++i)
    for (int j = 0; j < G; ++j) {
      const int m = i * G + j;
      float* o = out + (r0 + i) * pl.out_stride + static_cast<size_t>(kvh * G + j) * dv;
      vk.scale(acc + static_cast<size_t>(m) * dv, den[m] > 0 ? 1.0f / den[m] : 0.0f, o, dv);
    }
}

void check_shapes(const KvView& kv, int n_head, int64_t n_q) {
  auto fail = [](const std::string& what) { throw core::Error("ops", "attention: " + what); };
  if (kv.n_head_kv <= 0 || kv.head_dim_k <= 0 || kv.head_dim_v <= 0) fail("empty KV view");
  if (n_head <= 0 || n_head % kv.n_head_kv != 0)
    fail("n_head " + std::to_string(n_head) + " is not a multiple of n_head_kv " + std::to_string(kv.n_head_kv));
  if (n_q < 0) fail("negative query count");
  if (n_head / kv.n_head_kv > 64) fail("more than 64 query heads per KV head");
  if (kv.n_cells < 0 || (kv.n_cells > 0 && !kv.cell_pos)) fail("KV view without cell positions");
  if (kv.pos_max >= 0 && !kv.ring && kv.pos_max >= kv.n_cells) fail("pos_max beyond the cells");
}

}  // namespace

void attention(core::ThreadPool& pool, const KvView& kv, const float* q, size_t q_stride,
               const int32_t* q_pos, int64_t n_q, int n_head, float* out, size_t out_stride,
               const AttnParams& p, Scratch& scratch) {
  check_shapes(kv, n_head, n_q);
  if (n_q == 0) return;
  const VecKernels& vk = vec_kernels();
  Plan pl{};
  pl.G = n_head / kv.n_head_kv;
  pl.dk = kv.head_dim_k;
  pl.dv = kv.head_dim_v;
  pl.T = pl.dk > 256 ? 16 : 32;
  pl.Qc = static_cast<int>(std::min<int64_t>(n_q, std::max(1, 32 / pl.G)));
  pl.n_q = n_q;
  pl.n_chunks = static_cast<int>((n_q + pl.Qc - 1) / pl.Qc);
  pl.n_units = pl.n_chunks * kv.n_head_kv;
  pl.q_stride = q_stride ? q_stride : static_cast<size_t>(n_head) * pl.dk;
  pl.out_stride = out_stride ? out_stride : static_cast<size_t>(n_head) * pl.dv;
  pl.range_hi = kv.pos_max + 1;
  pl.range_lo = kv.ring ? std::max<int64_t>(0, pl.range_hi - kv.n_cells) : 0;
  if (!kv.ring) pl.range_hi = std::min<int64_t>(pl.range_hi, kv.n_cells);

  // Split key ranges when (KV head × chunk) units are too few to keep threads busy (decode): up to
  // ~32 tasks of >= 256 keys. Like everything else in the plan this depends on the shapes only,
  // so results are bit-identical for every thread count.
  const int nth = pool.size();
  int64_t longest = 0;
  for (int c = 0; c < pl.n_chunks; ++c) {
    const Interval r = chunk_range(pl, q_pos, c, p.mask);
    longest = std::max(longest, r.hi - r.lo);
  }
  pl.S = 1;
  if (pl.n_units < 32) {
    const int want = (32 + pl.n_units - 1) / pl.n_units;
    pl.S = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(want, longest / 256)));
  }
  const int n_tasks = pl.n_units * pl.S;
  float* partials = pl.S > 1 ? static_cast<float*>(scratch.shared(
                                   sizeof(float) * pl.partial_floats() * n_tasks, 1))
                             : nullptr;
  const size_t work_bytes = sizeof(float) * pl.thread_floats();
  const int used = std::min(nth, n_tasks);
  scratch.reserve_threads(nth);

  // Heaviest chunks (latest positions under a causal mask) first.
  auto task = [&](int t, float* work) {
    const int s = t % pl.S, unit = t / pl.S;
    const int c = pl.n_chunks - 1 - unit / kv.n_head_kv, kvh = unit % kv.n_head_kv;
    const Interval r = chunk_range(pl, q_pos, c, p.mask);
    const int64_t len = r.hi - r.lo;
    const int64_t a = r.lo + len * s / pl.S, b = r.lo + len * (s + 1) / pl.S;
    run_task(pl, kv, q, q_pos, out, p, kvh, c, a, b, work,
             partials ? partials + pl.partial_floats() * t : nullptr, vk);
  };
  if (used <= 1) {
    float* work = static_cast<float*>(scratch.per_thread(0, work_bytes));
    for (int t = 0; t < n_tasks; ++t) task(t, work);
  } else {
    std::atomic<int> next{0};
    pool.run([&](int ith, int) {
      float* work = nullptr;
      for (int t; (t = next.fetch_add(1, std::memory_order_relaxed)) < n_tasks;) {
        if (!work) work = static_cast<float*>(scratch.per_thread(ith, work_bytes));
        task(t, work);
      }
    });
  }
  if (!partials) return;

  // Merge split partial states: O = Σ_s e^{m_s − m} acc_s / Σ_s e^{m_s − m} l_s.
  const int Mx = pl.max_m();
  for (int unit = 0; unit < pl.n_units; ++unit) {
    const int c = pl.n_chunks - 1 - unit / kv.n_head_kv, kvh = unit % kv.n_head_kv;
    const int64_t r0 = int64_t{c} * pl.Qc;
    const int nr = static_cast<int>(std::min<int64_t>(n_q, r0 + pl.Qc) - r0);
    for (int m = 0; m < pl.G * nr; ++m) {
      const int i = m / pl.G, j = m % pl.G;
      float* o = out + (r0 + i) * pl.out_stride + static_cast<size_t>(kvh * pl.G + j) * pl.dv;
      float gmax = kNegInf;
      for (int s = 0; s < pl.S; ++s) gmax = std::max(gmax, partials[pl.partial_floats() * (unit * pl.S + s) + m]);
      std::fill(o, o + pl.dv, 0.0f);
      if (gmax == kNegInf) continue;
      float den = 0;
      for (int s = 0; s < pl.S; ++s) {
        const float* part = partials + pl.partial_floats() * (unit * pl.S + s);
        if (part[m] == kNegInf) continue;
        const float w = std::exp(part[m] - gmax);
        den += w * part[Mx + m];
        vk.axpy(w, part + 2 * Mx + static_cast<size_t>(m) * pl.dv, o, pl.dv);
      }
      vk.scale(o, 1.0f / den, o, pl.dv);
    }
  }
}

}  // namespace fitserve::ops
