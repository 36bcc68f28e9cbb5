// server/state.h — what every endpoint handler shares, and what a handler returns.
// Offers: ServerState (options, the engine once loaded, model card, chat formatter, metrics,
// per-slot last params, in-flight counter, draining flag), Reply (status + JSON body, or a
// StreamSource for chunked SSE), StreamSource (pulls the next bytes of a stream; destroying it
// cancels the unfinished engine work).
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "server/chat_bridge.h"
#include "server/metrics.h"
#include "server/options.h"
#include "server/responses.h"

namespace fitserve::server {

class StreamSource {
 public:
  virtual ~StreamSource() = default;
  // Appends the next bytes to `out`, waiting up to `wait` for them (nothing appended on
  // timeout). Returns false once the stream is complete (`out` then holds its last bytes).
  virtual bool next(std::string& out, std::chrono::milliseconds wait) = 0;
  // Seconds of silence after which the HTTP layer sends a ":" keep-alive comment (<= 0: never).
  virtual int ping_interval_s() const { return 30; }
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::unique_ptr<StreamSource> stream;  // set: body is ignored, content is streamed (SSE)

  static Reply json_body(const nlohmann::json& j, int status = 200) {
    Reply r;
    r.status = status;
    r.body = dump(j);
    return r;
  }
};

struct ServerState {
  explicit ServerState(ServerOptions o) : opt(std::move(o)) {}
  ServerOptions opt;
  engine::Engine* engine = nullptr;   // set once loaded (see ready)
  std::atomic<bool> ready{false};
  ModelCard card;
  std::unique_ptr<ChatBridge> chat;
  MetricsCollector metrics;
  std::mutex slots_mu;
  std::vector<nlohmann::json> slot_params;  // last request's settings per slot (null = none)
  std::atomic<int> active{0};               // engine requests in flight
  std::atomic<bool> draining{false};
  int64_t start_unix = 0;

  // Called once the engine is loaded: builds the model card and the chat formatter.
  void attach(engine::Engine& eng);
  int n_slots() const { return engine ? engine->info().n_parallel : 1; }
};

}  // namespace fitserve::server
