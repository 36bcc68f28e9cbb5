// gen_profile — where the time of one generated token goes (no instrumentation of the engine).
// 1. The whole token: median time of single-token Runner::eval steps (as `fitserve bench` tg).
// 2. Its matrix-vector products alone: every weight matrix a token reads (file order = forward
//    order; the tied embedding table once, as the output head) through ops::matmul with one
//    activation column on the same thread pool, timed one by one, median over --reps passes.
//    Each pass streams all weights from memory, as generation does.
// 3. The thread pool's dispatch cost (an empty run()) times the number of parallel regions.
// The remainder (1 − 2) is attention, norms, RoPE, embedding lookup, softcap and glue.
// 4. The machine's read bandwidth, probed in the same process by the same threads (each streams
//    its half of a 1 GiB buffer) right before every pass of 1 and 2, so each pass is compared with
//    the bandwidth of that moment (on the shared VM it changes from minute to minute); also with
//    a software prefetch 4 KB ahead, which reads more on the test VM (the GEMV kernels do it).
// 5. Each weight type's compute ceiling: GEMV of one thread over <= 1 MB of rows kept in L2.
// Usage: gen_profile -m MODEL [-t 2] [-n 64] [--reps 8]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/bench.h"
#include "engine/runner.h"
#include "ops/ops.h"
#include "ops/scratch.h"
#include "quant/dot.h"
#include "read_probe.h"

using namespace fitserve;
using Clock = std::chrono::steady_clock;

namespace {

using fitserve::bench::median;

std::string group_of(const std::string& name) {
  if (name == "token_embd.weight" || name == "output.weight") return "output head";
  if (name.find("attn_") != std::string::npos) return "attention projections";
  if (name.find("ffn_") != std::string::npos) return "feed-forward";
  return "other matrices";
}

// GB/s of the pool's threads each reading its slice of buf once (median of 5); pf: with the
// software prefetch.
double probe(core::ThreadPool& pool, const uint8_t* buf, size_t bytes, bool pf = false) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  std::vector<double> g;
  uint64_t sink = 0;
  for (int r = 0; r < 5; ++r) {
    auto t0 = Clock::now();
    pool.run([&](int ith, int nth) {
      const size_t slice = (bytes / size_t(nth)) & ~size_t(255);
      const uint8_t* p = buf + slice * size_t(ith);
      const uint64_t s = !avx512 ? bench::read_sum_plain(p, slice) : pf ? bench::read_sum_avx512<4096>(p, slice) : bench::read_sum_avx512<0>(p, slice);
      if (s == 42) sink += 1;
    });
    g.push_back(double(bytes) / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
  }
  return median(g) + double(sink);
}

struct Mat {
  const gguf::TensorInfo* t;
  std::string group;
  std::vector<double> ms;
};

}  // namespace

int main(int argc, char** argv) try {
  std::string model;
  int threads = 2, n_tok = 64, reps = 8;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw core::Error("usage", a + " needs a value");
      return argv[++i];
    };
    if (a == "-m") model = next();
    else if (a == "-t") threads = std::atoi(next().c_str());
    else if (a == "-n") n_tok = std::atoi(next().c_str());
    else if (a == "--reps") reps = std::atoi(next().c_str());
    else throw core::Error("usage", "usage: gen_profile -m MODEL [-t 2] [-n 64] [--reps 8]");
  }
  if (model.empty() || threads < 1 || n_tok < 2 || reps < 1) throw core::Error("usage", "usage: gen_profile -m MODEL [-t 2] [-n 64] [--reps 8]");

  engine::RunnerOptions ro;
  ro.model_path = model;
  ro.n_ctx = 128;  // positions stay within what a tg128 test sees (the cache restarts when full)
  ro.n_threads = threads;
  engine::Runner runner(ro);
  core::ThreadPool& pool = runner.pool();
  const gguf::File& f = runner.file();

  // Matrices of one token (2).
  const bool tied = f.tensor("output.weight") == nullptr;
  std::vector<Mat> mats;
  for (const auto& t : f.tensors()) {
    if (t.n_dims < 2 || t.name == "per_layer_token_embd.weight") continue;
    if (t.name == "token_embd.weight" && !tied) continue;
    if (t.name.find("_exps") != std::string::npos) continue;  // MoE experts: not profiled here
    mats.push_back(Mat{&t, group_of(t.name), {}});
  }
  std::sort(mats.begin(), mats.end(), [](const Mat& a, const Mat& b) {  // head last
    return (a.group == "output head") < (b.group == "output head");
  });
  uint64_t mat_bytes = 0;
  int64_t kmax = 0, rmax = 0;
  for (const auto& m : mats) {
    kmax = std::max(kmax, m.t->ne[0]);
    rmax = std::max(rmax, m.t->n_rows());
    mat_bytes += m.t->nbytes;
  }
  std::mt19937 rng(7);
  std::vector<float> x(static_cast<size_t>(kmax)), y(static_cast<size_t>(rmax));
  std::normal_distribution<float> nd(0, 1);
  for (auto& v : x) v = nd(rng);
  ops::Scratch scratch;
  const size_t probe_bytes = size_t(1) << 30;
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, probe_bytes));
  if (!buf) throw core::Error("oom", "cannot allocate the 1 GiB probe buffer");
  for (size_t i = 0; i < probe_bytes; i += 8) {
    uint64_t v = i * 0x9E3779B97F4A7C15ull;
    std::memcpy(buf + i, &v, 8);
  }

  // Passes: probe, whole tokens (1), probe, matrix pass (2). The first pass warms up.
  std::uniform_int_distribution<int32_t> pick(0, runner.n_vocab() - 1);
  std::vector<double> tok_ms, tok_frac, mm_frac, bw_all, pf_all, mm_frac_pf;
  const uint64_t token_bytes = engine::gen_bytes_per_token(f);
  const int per_pass = std::max(2, n_tok / reps);
  for (int r = 0; r < reps + 1; ++r) {
    double bw = probe(pool, buf, probe_bytes);
    std::vector<double> ms;
    for (int i = 0; i < per_pass; ++i) {
      if (runner.n_past() + 1 > runner.n_ctx()) runner.reset();
      auto t0 = Clock::now();
      runner.eval({pick(rng)}, false);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    double bw2 = probe(pool, buf, probe_bytes);
    const double pf2 = probe(pool, buf, probe_bytes, true);
    double mm_ms = 0;
    for (auto& m : mats) {
      auto t0 = Clock::now();
      ops::matmul(pool, m.t->type, m.t->data, m.t->row_bytes(), m.t->n_rows(), m.t->ne[0], x.data(), 1, y.data(), scratch);
      double d = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      mm_ms += d;
      if (r > 0) m.ms.push_back(d);
    }
    if (r == 0) continue;
    const double t = median(ms);
    tok_ms.insert(tok_ms.end(), ms.begin(), ms.end());
    tok_frac.push_back(double(token_bytes) / t / 1e6 / bw);
    mm_frac.push_back(double(mat_bytes) / mm_ms / 1e6 / bw2);
    mm_frac_pf.push_back(double(mat_bytes) / mm_ms / 1e6 / pf2);
    pf_all.push_back(pf2);
    bw_all.push_back(bw);
    bw_all.push_back(bw2);
  }
  std::free(buf);
  const double token_ms = median(tok_ms);

  // 3. Dispatch cost.
  std::vector<double> disp;
  for (int i = 0; i < 2000; ++i) {
    auto t0 = Clock::now();
    pool.run([](int, int) {});
    disp.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  const double dispatch_us = median(disp);

  struct Agg {
    double ms = 0;
    uint64_t bytes = 0;
    int n = 0;
  };
  std::map<std::string, Agg> by_group, by_type;
  Agg all;
  for (const auto& m : mats) {
    const double ms = median(m.ms);
    for (Agg* a : {&by_group[m.group], &by_type[quant::type_name(m.t->type)], &all}) {
      a->ms += ms;
      a->bytes += m.t->nbytes;
      a->n += 1;
    }
  }
  std::printf("model %s, %d threads, median of %zu tokens / %d passes\n\n", model.c_str(), pool.size(), tok_ms.size(), reps);
  std::printf("| part | matrices | MB read | ms/token | share of token | GB/s |\n|---|---:|---:|---:|---:|---:|\n");
  auto row = [&](const std::string& name, const Agg& a) {
    std::printf("| %s | %d | %.1f | %.2f | %.1f%% | %.1f |\n", name.c_str(), a.n, a.bytes / 1e6, a.ms, 100 * a.ms / token_ms,
                a.ms > 0 ? a.bytes / 1e6 / a.ms : 0.0);
  };
  for (auto& [k, a] : by_group) row(k, a);
  for (auto& [k, a] : by_type) row("type " + k, a);
  row("all matrix-vector products", all);
  const double rest = token_ms - all.ms;
  std::printf("| rest: attention, norms, RoPE, glue | | | %.2f | %.1f%% | |\n", rest, 100 * rest / token_ms);
  std::printf("| whole token (Runner::eval) | | %.1f | %.2f | 100%% | %.1f |\n\n", engine::gen_bytes_per_token(f) / 1e6, token_ms,
              engine::gen_bytes_per_token(f) / 1e6 / token_ms);
  std::printf("thread-pool dispatch: %.2f us per empty run(); %zu matmuls per token -> %.2f ms\n", dispatch_us, mats.size(),
              dispatch_us * double(mats.size()) / 1000);
  std::vector<double> sorted = bw_all;
  std::sort(sorted.begin(), sorted.end());
  std::printf("read bandwidth probed in-process around each pass: median %.1f GB/s (range %.1f-%.1f)\n", median(bw_all), sorted.front(),
              sorted.back());
  std::printf("each pass against the probe just before it (median over passes): whole tokens %.0f%% of the bound, "
              "matrix-vector products alone %.0f%%\n",
              100 * median(tok_frac), 100 * median(mm_frac));
  std::printf("the same probe with a software prefetch 4 KB ahead (membw --prefetch 4096): median %.1f GB/s; "
              "matrix-vector products alone %.0f%% of it\n",
              median(pf_all), 100 * median(mm_frac_pf));
  // 5. Compute ceiling: one thread, each weight type's first matrix cut to <= 1 MB of rows (stays
  //    in L2), repeated: GB/s when memory is not the limit.
  std::printf("compute ceiling (1 thread, <= 1 MB of one matrix repeated from L2; x%d threads):", pool.size());
  std::map<std::string, bool> seen;
  for (const auto& m : mats) {
    const char* tn = quant::type_name(m.t->type);
    if (seen[tn]) continue;
    seen[tn] = true;
    const size_t rb = m.t->row_bytes();
    const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(m.t->n_rows(), int64_t((1u << 20) / rb)));
    std::vector<uint8_t> act(quant::act_row_bytes(m.t->type, m.t->ne[0]));
    quant::quantize_act_row(m.t->type, x.data(), act.data(), m.t->ne[0]);
    std::vector<double> g;
    for (int r = 0; r < 200; ++r) {
      auto t0 = Clock::now();
      quant::gemm(m.t->type, m.t->ne[0], m.t->data, rb, rows, act.data(), act.size(), 1, y.data(), 1);
      g.push_back(double(rows) * double(rb) / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
    }
    std::printf(" %s %.1f GB/s (%s)", tn, median(g), m.t->name.c_str());
  }
  std::printf("\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
