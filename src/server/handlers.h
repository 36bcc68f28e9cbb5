// server/handlers.h — one function per endpoint: (ServerState, parsed body) -> Reply.
// Offers: the read-only endpoints (health, models, props, slots, metrics), tokenize /
// detokenize / apply-template, and the generating ones (chat completions, OpenAI completions,
// native /completion), which stream SSE when asked. Every invalid request throws HttpError;
// the HTTP layer (http_server.h) turns it into an OpenAI-style error body.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "server/state.h"

namespace fitserve::server {

Reply handle_health(ServerState& st);
Reply handle_models(ServerState& st);
Reply handle_props(ServerState& st);
Reply handle_slots(ServerState& st, bool fail_on_no_slot);
Reply handle_metrics(ServerState& st);
Reply handle_tokenize(ServerState& st, const nlohmann::json& body);
Reply handle_detokenize(ServerState& st, const nlohmann::json& body);
Reply handle_apply_template(ServerState& st, const nlohmann::json& body);

Reply handle_chat_completions(ServerState& st, const nlohmann::json& body);
Reply handle_completions(ServerState& st, const nlohmann::json& body);        // /v1/completions
Reply handle_native_completion(ServerState& st, const nlohmann::json& body);  // /completion

// Shared by the generating handlers: tokens of a completion prompt (BOS added when the vocab
// wants one and the prompt starts with text).
std::vector<int32_t> tokenize_prompt(const engine::Engine& eng, const Prompt& p, bool add_special);
// 400 exceed_context_size_error when the prompt cannot fit a slot.
void check_context(const engine::Engine& eng, size_t n_prompt);
// The generation settings echoed by /completion and /slots.
nlohmann::json generation_settings(const GenOptions& g);

}  // namespace fitserve::server
