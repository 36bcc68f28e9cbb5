// bench/serve_throughput.cpp — aggregate generation throughput of continuous batching: N clients
// submit at once (each its own prompt, greedy, ignore_eos, the same token budget) to one Engine
// with N slots; prints tokens/s for N = 1, 2, 4, 8 (or --clients list). Drives the engine
// directly, as the server does per request (no HTTP).
// usage: serve_throughput [-m model.gguf] [--tokens 128] [--threads T] [--clients 1,2,4,8]
//   (default model: tests/data/stories260K.gguf; use `fitserve synth` for a real-sized one)
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/testdata.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

using namespace fitserve;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string model = core::test::repo_data("stories260K.gguf");
  int tokens = 128, threads = 0;
  std::vector<int> clients = {1, 2, 4, 8};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (a == "-m" || a == "--model") model = val();
    else if (a == "--tokens") tokens = std::atoi(val().c_str());
    else if (a == "--threads" || a == "-t") threads = std::atoi(val().c_str());
    else if (a == "--clients") {
      clients.clear();
      std::stringstream ss(val());
      std::string x;
      while (std::getline(ss, x, ',')) clients.push_back(std::atoi(x.c_str()));
    } else {
      std::fprintf(stderr, "usage: %s [-m model.gguf] [--tokens N] [--threads T] [--clients 1,2,4,8]\n", argv[0]);
      return 2;
    }
  }
  int max_n = 1;
  for (int n : clients) max_n = std::max(max_n, n);
  if (tokens < 1 || max_n < 1 || max_n > 256) {
    std::fprintf(stderr, "bad --tokens or --clients\n");
    return 2;
  }
  try {
    engine::EngineOptions o;
    o.model_path = model;
    o.n_parallel = max_n;
    o.n_threads = threads;
    o.n_ctx = max_n * (tokens + 64);
    auto eng = engine::Engine::create(o);
    const auto& tok = eng->tokenizer();
    std::printf("model %s, %d tokens per client, %d slots x %d context\n", model.c_str(), tokens,
                eng->info().n_parallel, eng->info().n_ctx_slot);
    std::printf("%8s %10s %10s %14s %16s\n", "clients", "tokens", "seconds", "aggregate t/s", "per-client t/s");
    for (int n : clients) {
      std::mutex mu;
      std::condition_variable cv;
      int done = 0;
      int64_t produced = 0;
      auto t0 = Clock::now();
      for (int c = 0; c < n; ++c) {
        engine::Request r;
        r.prompt = tok.tokenize("Once upon a time, client " + std::to_string(c) + " said", true, true);
        r.sampling.temperature = 0;
        r.n_predict = tokens;
        r.ignore_eos = true;
        r.cache_prompt = false;
        eng->submit(std::move(r), {}, [&](const engine::Result& res) {
          std::lock_guard<std::mutex> lock(mu);
          produced += static_cast<int64_t>(res.tokens.size());
          ++done;
          cv.notify_all();
        });
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done == n; });
      double s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::printf("%8d %10lld %10.3f %14.1f %16.1f\n", n, static_cast<long long>(produced), s, produced / s,
                  produced / s / n);
    }
    eng->shutdown(0);
  } catch (const core::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
