// gemv_bench — GEMV (n_cols = 1) of a model's weight matrices (mmap'd, as generation reads them)
// under three row splits on the thread pool, passes interleaved so the shared VM's changing
// bandwidth hits all alike; each pass after a read-bandwidth probe (plain AVX-512 loads).
//   mode 0: the old ops::matmul split, ~128 chunks of 16k rows to whichever thread is free
//   mode 1: static contiguous halves
//   mode 2: contiguous shares with stealing at the end (ops::matmul's GEMV split since 5cd73b8)
// --hot: one thread, each layer-0 matrix cut to <= 256 KB of rows, repeated from L2 (the kernels'
// compute ceiling). Prints GB/s per part (attn, ffn, head), median and best over --reps passes.
// Usage: gemv_bench -m MODEL [-t 2] [--reps 6] [--modes 012] [--hot]
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "quant/dot.h"
#include "read_probe.h"

using namespace fitserve;
using Clock = std::chrono::steady_clock;

namespace {

using fitserve::bench::median;

std::string group_of(const std::string& name) {
  if (name == "token_embd.weight" || name == "output.weight") return "head";
  if (name.find("attn_") != std::string::npos) return "attn";
  if (name.find("ffn_") != std::string::npos) return "ffn";
  return "other";
}

double probe(core::ThreadPool& pool, const uint8_t* buf, size_t bytes) {
  std::vector<double> g;
  uint64_t sink = 0;
  for (int r = 0; r < 3; ++r) {
    auto t0 = Clock::now();
    pool.run([&](int ith, int nth) {
      const size_t slice = (bytes / size_t(nth)) & ~size_t(255);
      if (bench::read_sum_avx512<0>(buf + slice * size_t(ith), slice) == 42) sink += 1;
    });
    g.push_back(double(bytes) / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
  }
  return median(g) + double(sink);
}

struct Mat {
  const gguf::TensorInfo* t;
  std::string group;
};

int64_t round_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }
int64_t ceil_div(int64_t x, int64_t a) { return (x + a - 1) / a; }

// The three splits of the header (mode 2 as ops::matmul does it for 2 threads: chunks of n/32).
void gemv(core::ThreadPool& pool, int mode, const gguf::TensorInfo& t, const uint8_t* A, float* Y) {
  const int64_t n = t.n_rows(), k = t.ne[0];
  const size_t ws = t.row_bytes();
  const uint8_t* W = t.data;
  auto run = [&](int64_t r0, int64_t r1) {
    if (r1 > r0) quant::gemm(t.type, k, W + ws * r0, ws, r1 - r0, A, 0, 1, Y + r0, 1);
  };
  if (mode == 0) {
    const int64_t rc = std::max<int64_t>(16, round_up(ceil_div(n, 128), 16));
    const int64_t nt = ceil_div(n, rc);
    std::atomic<int64_t> next{0};
    pool.run([&](int, int) {
      for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < nt;) run(i * rc, std::min(n, i * rc + rc));
    });
  } else if (mode == 1) {
    pool.run([&](int ith, int nth) {
      const int64_t b = round_up(n * ith / nth, 16), e = ith + 1 == nth ? n : round_up(n * (ith + 1) / nth, 16);
      run(b, e);
    });
  } else {
    struct alignas(64) Part {
      std::atomic<int64_t> next;
      int64_t end;
    };
    const int nth = pool.size();
    Part parts[8];
    const int64_t chunk = std::max<int64_t>(16, round_up(ceil_div(n, 32), 16));
    for (int i = 0; i < nth; ++i) {
      parts[i].next = round_up(n * i / nth, 16);
      parts[i].end = i + 1 == nth ? n : round_up(n * (i + 1) / nth, 16);
    }
    pool.run([&](int ith, int nth2) {
      for (int o = 0; o < nth2; ++o) {
        Part& p = parts[(ith + o) % nth2];
        for (;;) {
          const int64_t b = p.next.fetch_add(chunk, std::memory_order_relaxed);
          if (b >= p.end) break;
          run(b, std::min(p.end, b + chunk));
        }
      }
    });
  }
}

}  // namespace

int main(int argc, char** argv) try {
  std::string model;
  int reps = 6, threads = 2;
  bool hot = false;
  std::vector<int> modes = {0, 1, 2};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-m" && i + 1 < argc) model = argv[++i];
    else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (a == "-t" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--hot") hot = true;
  }
  gguf::File f = gguf::File::open(model);
  const bool tied = f.tensor("output.weight") == nullptr;
  std::vector<Mat> mats;
  int64_t kmax = 0, rmax = 0;
  for (const auto& t : f.tensors()) {
    if (t.n_dims < 2 || t.name == "per_layer_token_embd.weight") continue;
    if (t.name == "token_embd.weight" && !tied) continue;
    mats.push_back(Mat{&t, group_of(t.name)});
    kmax = std::max(kmax, t.ne[0]);
    rmax = std::max(rmax, t.n_rows());
  }
  // touch all weights once
  uint64_t s = 0;
  for (auto& m : mats)
    for (size_t i = 0; i < m.t->nbytes; i += 4096) s += m.t->data[i];
  core::ThreadPool pool(threads);
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> x(size_t(kmax) * 2), y(size_t(rmax) + 64);
  for (auto& v : x) v = nd(rng);
  std::vector<uint8_t> act(size_t(kmax) * 2 + 4096);
  const size_t pb = size_t(1) << 30;
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, pb));
  for (size_t i = 0; i < pb; i += 8) {
    uint64_t v = i * 0x9E3779B97F4A7C15ull;
    std::memcpy(buf + i, &v, 8);
  }
  std::map<std::pair<int, std::string>, std::vector<double>> ms;  // (mode, group) -> per-pass ms
  std::map<std::string, double> bytes;
  for (auto& m : mats) bytes[m.group] += double(m.t->nbytes);
  std::vector<double> bws;
  for (int r = 0; r <= reps; ++r) {
    bws.push_back(probe(pool, buf, pb));
    for (int mode : modes) {
      std::map<std::string, double> g;
      for (auto& m : mats) {
        auto t0 = Clock::now();
        quant::quantize_act_row(m.t->type, x.data(), act.data(), m.t->ne[0]);
        gemv(pool, mode, *m.t, act.data(), y.data());
        g[m.group] += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      }
      if (r == 0) continue;
      double tot = 0;
      const int key = mode;
      for (auto& [k, v] : g) {
        ms[{key, k}].push_back(v);
        tot += v;
      }
      ms[{key, "all"}].push_back(tot);
    }
  }
  // compute ceiling: one thread, the first 256 KB of rows of each layer-0 matrix, repeated from L2
  if (hot) {
    std::printf("hot:");
    for (auto& m : mats) {
      if (m.t->name.rfind("blk.0.", 0) != 0 || m.group == "other") continue;
      const int64_t rows = std::min<int64_t>(m.t->n_rows(), int64_t(1 << 18) / int64_t(m.t->row_bytes())) / 16 * 16;
      quant::quantize_act_row(m.t->type, x.data(), act.data(), m.t->ne[0]);
      std::vector<double> g;
      for (int r = 0; r < 100; ++r) {
        auto t0 = Clock::now();
        quant::gemm(m.t->type, m.t->ne[0], m.t->data, m.t->row_bytes(), rows, act.data(), 0, 1, y.data(), 1);
        g.push_back(double(rows) * double(m.t->row_bytes()) / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
      }
      std::sort(g.begin(), g.end());
      std::printf(" %s %.1f", m.t->name.c_str() + 6, g[g.size() * 3 / 4]);
    }
    std::printf(" GB/s (1 thread, L2)\n");
  }
  bytes["all"] = 0;
  for (auto& m : mats) bytes["all"] += double(m.t->nbytes);
  std::printf("probe median %.1f GB/s (min %.1f max %.1f)\n", median(bws), *std::min_element(bws.begin(), bws.end()),
              *std::max_element(bws.begin(), bws.end()));
  auto best = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  for (int mode : modes) {
    const int key = mode;
    std::printf("mode %d: median", mode);
    for (auto& [k, b] : bytes) std::printf(" %s %.1f", k.c_str(), b / 1e6 / median(ms[{key, k}]));
    std::printf(" | best");
    for (auto& [k, b] : bytes) std::printf(" %s %.1f", k.c_str(), b / 1e6 / best(ms[{key, k}]));
    std::printf("\n");
  }
  return int(s & 0);
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
