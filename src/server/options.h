// server/options.h — configuration of the HTTP server (what `fitserve serve` flags set).
// Offers: ServerOptions (listen address, auth keys, aliases, limits, endpoint switches, request
// defaults) and ServeConfig (ServerOptions + engine::EngineOptions), filled by server/flags.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "sampling/sampler.h"

namespace fitserve::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> api_keys;        // empty = no auth
  std::vector<std::string> aliases;         // --alias a,b (id = first in sorted order)
  std::vector<std::string> tags;            // --tags (listed in /v1/models)
  bool metrics = true;                      // GET /metrics
  bool slots = true;                        // GET /slots
  int timeout_s = 600;                      // socket read/write timeout
  int threads_http = 0;                     // 0 = auto (enough for every slot plus queued clients)
  size_t max_body_bytes = 16u << 20;        // request body limit
  int max_json_depth = 64;                  // nesting limit of request JSON
  int sse_ping_s = 30;                      // keep-alive comment after this much silence (<=0 off)
  std::string chat_template;                // --chat-template-file contents ("" = the GGUF's)
  nlohmann::json chat_template_kwargs = nlohmann::json::object();  // server-wide defaults
  bool enable_thinking = true;              // --reasoning on|off (reference default: on)
  std::string reasoning_format = "deepseek";
  sampling::SamplingParams sampling;        // request defaults (--temp, --top-k, ...)
  int32_t n_predict = -1;                   // -n: default and cap of generated tokens
  bool verbose = false;
};

struct ServeConfig {
  engine::EngineOptions engine;
  ServerOptions server;
  std::string spec_type;  // --spec-type (only "draft-mtp"; needs -md)
};

}  // namespace fitserve::server
