// cli/cmd_serve.cpp — `fitserve serve`: the OpenAI-compatible HTTP server (llama-server drop-in).
// Starts listening at once (answering 503 "Loading model" until the model is loaded), then
// serves until SIGINT/SIGTERM, drains in-flight requests and exits 0.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "engine/engine.h"
#include "server/flags.h"
#include "server/http_server.h"
#include "server/state.h"

namespace {

int cmd_serve(int argc, char** argv) {
  using namespace fitserve;
  std::vector<std::string> args(argv + 1, argv + argc);
  server::ParsedArgs parsed = server::parse_serve_args(args);
  if (parsed.help) {
    std::fputs(server::serve_help().c_str(), stdout);
    return 0;
  }
  server::ServeConfig cfg = std::move(parsed.config);

  server::block_shutdown_signals();  // before any thread starts
  server::ServerState st(cfg.server);
  int n_threads = cfg.server.threads_http > 0 ? cfg.server.threads_http
                                              : std::max(32, 4 * cfg.engine.n_parallel + 16);
  server::HttpServer http(st, n_threads);
  int port = http.bind();
  std::thread http_thread([&] { http.run(); });
  const int drain_ms = 30000;
  server::SignalWatcher signals(
      [&](int sig) {
        std::fprintf(stderr, "fitserve: signal %d: finishing in-flight requests, then exiting\n", sig);
        http.drain_and_stop(drain_ms);
      },
      [](int) {
        std::fprintf(stderr, "fitserve: second signal: exiting now\n");
        std::_Exit(1);
      });

  std::fprintf(stderr, "fitserve: loading %s\n", cfg.engine.model_path.c_str());
  std::unique_ptr<engine::Engine> eng;
  try {
    eng = engine::Engine::create(cfg.engine);
    st.attach(*eng);
  } catch (...) {
    http.stop();
    http_thread.join();
    throw;
  }
  const auto& info = eng->info();
  std::fprintf(stderr,
               "fitserve: model %s loaded (%d slots x %d tokens); listening on http://%s:%d\n",
               st.card.id.c_str(), info.n_parallel, info.n_ctx_slot, cfg.server.host.c_str(), port);
  if (!cfg.engine.draft_path.empty())
    std::fprintf(stderr, "fitserve: speculative decoding (draft-mtp) with %s: n-max %d, n-min %d, p-min %.2f\n",
                 cfg.engine.draft_path.c_str(), cfg.engine.spec.n_max, cfg.engine.spec.n_min, cfg.engine.spec.p_min);
  http_thread.join();  // returns after drain_and_stop (signal) or a fatal listen error
  eng->shutdown(drain_ms);
  std::fprintf(stderr, "fitserve: stopped\n");
  return 0;
}

}  // namespace

FITSERVE_COMMAND("serve", "OpenAI-compatible HTTP server (llama-server flags)", cmd_serve);
