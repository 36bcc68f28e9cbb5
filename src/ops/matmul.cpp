// ops/matmul.cpp — threaded matmul over quant::gemm: quantize the activations once, then hand
// tile-aligned blocks of output rows × columns to whichever thread is free.
#include <algorithm>
#include <atomic>
#include <string>

#include "core/error.h"
#include "ops/ops.h"
#include "quant/dot.h"

namespace fitserve::ops {

namespace {

constexpr int64_t kRowAlign = 16;  // row chunks start at multiples of the widest weight tile
constexpr int64_t kColChunk = 64;

int64_t round_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }
int64_t ceil_div(int64_t x, int64_t a) { return (x + a - 1) / a; }

// GEMV: thread t streams its own contiguous share of the rows, [n·t/nth, n·(t+1)/nth) rounded to
// 16 rows (so no two threads write one 64-byte line of the output), in ascending chunks claimed from
// the share's front; a thread whose share is done takes chunks from the front of the next ones. One
// ascending stream per thread is what the kernels' software prefetch and the hardware prefetchers
// handle best: handing out ~128 small chunks to whichever thread is free (the GEMM split below) made
// each thread's reads jump around and cost ~10-40 % of the GEMV bandwidth on the 2-core test VM.
// Each row's result does not depend on the range it is computed in, so the split (which depends on
// the thread count) does not change the output.
constexpr int kMaxShares = 64;

template <class F>
void gemv_shares(core::ThreadPool& pool, int64_t n_rows, F&& run_rows) {
  struct alignas(64) Share {
    std::atomic<int64_t> next;
    int64_t end;
  };
  const int nth = pool.size();
  Share shares[kMaxShares];
  for (int t = 0; t < nth; ++t) {
    shares[t].next.store(std::min(n_rows, round_up(n_rows * t / nth, kRowAlign)), std::memory_order_relaxed);
    shares[t].end = std::min(n_rows, round_up(n_rows * (t + 1) / nth, kRowAlign));
  }
  const int64_t chunk = std::max(kRowAlign, round_up(ceil_div(n_rows, 16 * int64_t{nth}), kRowAlign));
  pool.run([&](int ith, int n) {
    for (int o = 0; o < n; ++o) {
      Share& s = shares[(ith + o) % n];
      for (int64_t b; (b = s.next.fetch_add(chunk, std::memory_order_relaxed)) < s.end;)
        run_rows(b, std::min(s.end, b + chunk));
    }
  });
}

}  // namespace

void matmul(core::ThreadPool& pool, quant::Type wtype, const void* W, size_t w_stride,
            int64_t n_rows, int64_t k, const float* X, int64_t n_cols, float* Y, Scratch& scratch,
            size_t x_stride, size_t y_stride) {
  if (n_rows <= 0 || n_cols <= 0) return;
  if (!quant::gemm_supported(wtype))
    throw core::Error("ops", std::string("matmul: no kernel for weight type ") + quant::type_name(wtype));
  const size_t xs = x_stride ? x_stride : static_cast<size_t>(k);
  const size_t ys = y_stride ? y_stride : static_cast<size_t>(n_rows);
  const size_t ab = quant::act_row_bytes(wtype, k);
  uint8_t* A = static_cast<uint8_t*>(scratch.shared(ab * static_cast<size_t>(n_cols), 0));
  const uint8_t* Wb = static_cast<const uint8_t*>(W);

  // GEMM: the split depends on the shape only, never on the thread count, so every thread count
  // gives bit-identical results whatever the kernels' internal tiling. Row chunks are multiples of
  // 16 (the widest weight tile), ~32 of them (each call re-stages its activation columns) times
  // column chunks of 64. GEMV (n_cols = 1): see gemv_shares.
  const int nth = pool.size();
  const int64_t rc = std::max(kRowAlign, round_up(ceil_div(n_rows, 32), kRowAlign));
  const int64_t n_rc = ceil_div(n_rows, rc);
  const int64_t cc = std::min<int64_t>(n_cols, kColChunk);
  const int64_t n_tasks = n_rc * ceil_div(n_cols, cc);

  auto quantize = [&](int64_t j) { quant::quantize_act_row(wtype, X + j * xs, A + ab * j, k); };
  auto task = [&](int64_t t) {
    const int64_t r0 = (t % n_rc) * rc, c0 = (t / n_rc) * cc;
    const int64_t nr = std::min(rc, n_rows - r0), nc = std::min(cc, n_cols - c0);
    quant::gemm(wtype, k, Wb + w_stride * r0, w_stride, nr, A + ab * c0, ab, nc, Y + ys * c0 + r0, ys);
  };
  if (n_cols == 1 && nth <= kMaxShares) {
    quantize(0);
    if (nth == 1 || n_rows <= kRowAlign)
      quant::gemm(wtype, k, Wb, w_stride, n_rows, A, ab, 1, Y, ys);
    else
      gemv_shares(pool, n_rows, [&](int64_t r0, int64_t r1) {
        quant::gemm(wtype, k, Wb + w_stride * r0, w_stride, r1 - r0, A, ab, 1, Y + r0, ys);
      });
    return;
  }
  if (nth == 1 || (n_tasks == 1 && n_cols == 1)) {
    for (int64_t j = 0; j < n_cols; ++j) quantize(j);
    for (int64_t t = 0; t < n_tasks; ++t) task(t);
    return;
  }
  // Quantize the activations (a single row is not worth a dispatch), then the gemm tasks.
  if (n_cols < 4) {
    for (int64_t j = 0; j < n_cols; ++j) quantize(j);
  } else {
    pool.parallel_for_range(n_cols, 1, [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) quantize(j);
    });
  }
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < n_tasks;) task(t);
  });
}

}  // namespace fitserve::ops
