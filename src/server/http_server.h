// server/http_server.h — the HTTP front: cpp-httplib routes for every endpoint, API-key check
// (constant time, all endpoints but /health), CORS, body-size and JSON-nesting limits, OpenAI
// style errors for everything (404, 413, bad JSON...), SSE streaming with keep-alive comments
// and cancellation when the client goes away, and a graceful drain for SIGINT/SIGTERM.
// Offers: HttpServer (bind, run, drain_and_stop), api_key_ok(), SignalWatcher.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/state.h"

namespace fitserve::server {

// Constant-time comparison of `given` against every key (time does not depend on where or
// whether they differ).
bool api_key_ok(const std::string& given, const std::vector<std::string>& keys);
// The key a request carries: "Authorization: Bearer <k>" (prefix optional) or "X-Api-Key: <k>".
std::string request_api_key(const std::string& authorization, const std::string& x_api_key);

class HttpServer {
 public:
  // `n_threads` HTTP workers (each streaming client holds one while it streams).
  HttpServer(ServerState& st, int n_threads);
  ~HttpServer();
  // Binds host:port (port 0 = any free port); returns the port. Throws core::Error("io").
  int bind();
  // Serves until stop(); blocking. Call bind() first.
  void run();
  // Refuses new generation requests, waits up to `timeout_ms` for in-flight ones (streams
  // included) to finish, then stops listening, which makes run() return.
  void drain_and_stop(int timeout_ms);
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocks SIGINT/SIGTERM (and the watcher's wake-up signal) in the calling thread, so that threads
// started afterwards inherit the mask. Call first thing in main/serve.
void block_shutdown_signals();

// A thread that waits for SIGINT/SIGTERM and calls `on_signal` once; a second signal calls
// `on_force`. The destructor stops the thread and waits for `on_signal` to return.
class SignalWatcher {
 public:
  SignalWatcher(std::function<void(int)> on_signal, std::function<void(int)> on_force);
  ~SignalWatcher();

 private:
  std::thread thread_, drain_;
  std::atomic<bool> stop_{false};
};

}  // namespace fitserve::server
